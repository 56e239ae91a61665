using System.Text.Json;
using Ferry.Compression;
using Ferry.Digests;
using Ferry.Model;

using Ferry.Images;
using Ferry.Transports.Archive;

namespace Ferry.Transports.OciLayout;

/// <summary>Reads an OCI image layout (archive or directory): <c>oci-layout</c>, <c>index.json</c>, <c>blobs/</c>.</summary>
internal static class OciLayoutReader
{
    /// <summary>The deepest nesting of indexes accepted.</summary>
    public const int MaxIndexDepth = 8;

    public const string ContainerdNameAnnotation = Layout.OciIndexFiles.ContainerdNameAnnotation;
    public const string RefNameAnnotation = Layout.OciIndexFiles.RefNameAnnotation;

    /// <summary>Whether the store has an index.json that lists at least one manifest.</summary>
    public static bool HasImages(IEntryStore store)
    {
        var loc = store.Find("index.json");
        if (loc is null)
            return false;
        var index = ImageIndex.Parse(loc.ReadDocument(null, null, "index.json"), MediaTypes.OciIndex, $"{store.DisplayName}: index.json");
        return index.Manifests.Count > 0;
    }

    public static List<NamedImage> Read(IEntryStore store, List<string> warnings)
    {
        string where = store.DisplayName;
        var layout = store.Find("oci-layout");
        if (layout is null)
        {
            warnings.Add($"{where}: no oci-layout file");
        }
        else
        {
            using var doc = Json.Parse(layout.ReadDocument(null, null, "oci-layout"), $"{where}: oci-layout");
            string? version = Json.OptString(doc.RootElement, "imageLayoutVersion");
            if (version is null || !(version == "1" || version.StartsWith("1.", StringComparison.Ordinal)))
                throw new ArchiveFormatException($"{where}: oci-layout: unsupported imageLayoutVersion '{Digest.Describe(version)}' (want 1.x)");
        }
        var indexLoc = store.Find("index.json") ?? throw new ArchiveFormatException($"{where}: no index.json");
        var index = ImageIndex.Parse(indexLoc.ReadDocument(null, null, "index.json"), MediaTypes.OciIndex, $"{where}: index.json");
        var byKey = new Dictionary<Digest, NamedImage>();
        var result = new List<NamedImage>();
        var cache = new Dictionary<Digest, ManifestNode>();
        for (int i = 0; i < index.Manifests.Count; i++)
        {
            var d = index.Manifests[i];
            var node = LoadNode(store, d, $"index.json manifests[{i}]", 0, [], cache);
            if (!byKey.TryGetValue(d.Digest, out var image))
            {
                image = new NamedImage { Root = node };
                byKey[d.Digest] = image;
                result.Add(image);
            }
            AddNames(image, d.Annotations, warnings, where);
        }
        return result;
    }

    /// <summary>Reads every naming convention: containerd's full name, podman's full ref.name, and a bare-tag ref.name.</summary>
    internal static void AddNames(NamedImage image, IReadOnlyDictionary<string, string>? annotations, List<string> warnings, string where)
    {
        if (annotations is null)
            return;
        annotations.TryGetValue(ContainerdNameAnnotation, out string? full);
        annotations.TryGetValue(RefNameAnnotation, out string? refName);
        ImageName? name = null;
        if (full is not null)
        {
            if (ImageName.TryParse(full, out var n, out var err))
                name = n!.WithDefaultTag();
            else
                warnings.Add($"{where}: index.json: ignoring invalid {ContainerdNameAnnotation} '{Digest.Describe(full)}': {err}");
        }
        if (name is null && refName is not null && (refName.Contains('/', StringComparison.Ordinal) || refName.Contains(':', StringComparison.Ordinal)))
        {
            if (ImageName.TryParse(refName, out var n, out _))
                name = n!.WithDefaultTag();
        }
        if (name is not null)
        {
            image.AddName(name);
        }
        else if (refName is not null)
        {
            image.AddRefName(refName);
        }
    }

    private static ManifestNode LoadNode(IEntryStore store, Descriptor d, string what, int depth, HashSet<Digest> path, Dictionary<Digest, ManifestNode> cache)
    {
        if (depth > MaxIndexDepth)
            throw new ArchiveFormatException($"{store.DisplayName}: {what}: indexes nested deeper than {MaxIndexDepth}");
        if (path.Contains(d.Digest))
            throw new ArchiveFormatException($"{store.DisplayName}: {what}: index cycle through {d.Digest}");
        var loc = store.FindBlob(d.Digest);
        if (loc is null)
            return new OpaqueNode { Descriptor = d };
        if (MediaTypes.IsLayer(d.MediaType) || d.Size > Json.MaxDocumentBytes)
            return new OpaqueNode { Descriptor = d, Blob = loc };
        string label = $"{store.DisplayName}: {what} {d.Digest}";
        // An index listed many times (a DAG) is read once.
        if (cache.TryGetValue(d.Digest, out var known) && known is IndexNode done)
            return new IndexNode { Descriptor = d, Index = done.Index, Children = done.Children, Blob = done.Blob };
        byte[] raw = loc.ReadDocument(d.Digest, d.Size, label);
        string kind = Classify(raw, d.MediaType, label);
        if (MediaTypes.IsIndex(kind))
        {
            var index = ImageIndex.Parse(raw, kind, label);
            path.Add(d.Digest);
            var children = new List<ManifestNode>();
            for (int i = 0; i < index.Manifests.Count; i++)
                children.Add(LoadNode(store, index.Manifests[i], $"{d.Digest} manifests[{i}]", depth + 1, path, cache));
            path.Remove(d.Digest);
            var node = new IndexNode { Descriptor = d, Index = index, Children = children, Blob = loc };
            cache[d.Digest] = node;
            return node;
        }
        if (MediaTypes.IsImageManifest(kind))
        {
            if (!cache.TryGetValue(d.Digest, out var cached))
            {
                var manifest = ImageManifest.Parse(raw, kind, label);
                cached = new ImageNode { Descriptor = d, Image = LoadImage(store, manifest, label) };
                cache[d.Digest] = cached;
            }
            return new ImageNode { Descriptor = d, Image = ((ImageNode)cached).Image };
        }
        return new OpaqueNode { Descriptor = d, Blob = loc };
    }

    /// <summary>Decides whether a document is an index or a manifest: its own mediaType, else the descriptor's, else its shape.</summary>
    private static string Classify(byte[] raw, string declared, string what)
    {
        using var doc = Json.Parse(raw, what);
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
            throw new ArchiveFormatException($"{what}: not a JSON object");
        string? own = Json.OptString(root, "mediaType");
        if (own is not null && (MediaTypes.IsIndex(own) || MediaTypes.IsImageManifest(own) || MediaTypes.IsSchema1(own)))
            return own;
        if (MediaTypes.IsIndex(declared) || MediaTypes.IsImageManifest(declared))
            return declared;
        if (root.TryGetProperty("manifests", out _))
            return MediaTypes.OciIndex;
        if (root.TryGetProperty("config", out _) && root.TryGetProperty("layers", out _))
            return MediaTypes.OciManifest;
        return own ?? declared;
    }

    private static SourceImage LoadImage(IEntryStore store, ImageManifest manifest, string what)
    {
        var cfgLoc = store.FindBlob(manifest.Config.Digest)
            ?? throw new ArchiveFormatException($"{what}: config blob {manifest.Config.Digest} is missing");
        var cfgBytes = cfgLoc.ReadDocument(manifest.Config.Digest, manifest.Config.Size, $"{store.DisplayName}: config {manifest.Config.Digest}");
        var config = ImageConfig.Parse(cfgBytes, $"{store.DisplayName}: config {manifest.Config.Digest}");
        var layers = new List<SourceLayer>();
        for (int i = 0; i < manifest.Layers.Count; i++)
        {
            var l = manifest.Layers[i];
            var loc = store.FindBlob(l.Digest);
            if (loc is null && !MediaTypes.IsForeign(l.MediaType))
                throw new ArchiveFormatException($"{what}: layer {i} blob {l.Digest} is missing");
            var actual = loc is null ? MediaTypes.LayerCompression(l.MediaType) : Compressions.Sniff(loc.Head(Compressions.SniffLength));
            Digest? diffId = i < config.DiffIds.Count ? config.DiffIds[i] : null;
            layers.Add(new SourceLayer(l, diffId, actual, loc));
        }
        if (config.DiffIds.Count != manifest.Layers.Count)
            throw new ArchiveFormatException($"{what}: config has {config.DiffIds.Count} diff_ids but the manifest has {manifest.Layers.Count} layers");
        return new SourceImage
        {
            Config = config,
            ConfigDescriptor = manifest.Config,
            ConfigBlob = cfgLoc,
            Manifest = manifest,
            Layers = layers,
        };
    }
}
