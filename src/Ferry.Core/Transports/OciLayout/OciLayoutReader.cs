using System.Text.Json;
using Ferry.Compression;
using Ferry.Digests;
using Ferry.Model;

using Ferry.Images;
using Ferry.Transports.Files;

namespace Ferry.Transports.OciLayout;

/// <summary>Reads an OCI image layout (archive or directory): <c>oci-layout</c>, <c>index.json</c>, <c>blobs/</c>.</summary>
internal static partial class OciLayoutReader
{
    /// <summary>The deepest nesting of indexes accepted.</summary>
    public const int MaxIndexDepth = 8;

    public const string ContainerdNameAnnotation = OciIndexFiles.ContainerdNameAnnotation;
    public const string RefNameAnnotation = OciIndexFiles.RefNameAnnotation;

    /// <summary>Whether the store has an index.json that lists at least one manifest.</summary>
    public static bool HasImages(IEntryStore store)
    {
        var loc = store.Find("index.json");
        if (loc is null)
            return false;
        var index = ImageIndex.Parse(loc.ReadDocument(null, null, "index.json"), MediaTypes.OciIndex, $"{store.DisplayName}: index.json");
        return index.Manifests.Count > 0;
    }

    public static List<NamedImage> Read(IEntryStore store, List<string> warnings, ReferrerSelection? referrers = null)
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
        var found = new List<(Referrer Referrer, Digest? Owner)>();
        for (int i = 0; i < index.Manifests.Count; i++)
        {
            var d = index.Manifests[i];
            string what = $"index.json manifests[{i}]";
            // Entries that are referrers (Ferry's, the tag schema's, a referrers fallback index, an OCI 1.1 subject) are not images.
            if (ReferrerOf(store, d, what, warnings, cache) is { } refs)
            {
                Digest? owner = d.Annotations?.GetValueOrDefault(ReferrerImageAnnotation) is string o && Digest.TryParse(o, out var od) ? od : null;
                found.AddRange(refs.Select(r => (r, owner)));
                continue;
            }
            var node = LoadNode(store, d, what, 0, [], cache);
            if (!byKey.TryGetValue(d.Digest, out var image))
            {
                image = new NamedImage { Root = node };
                byKey[d.Digest] = image;
                result.Add(image);
            }
            AddNames(image, d.Annotations, warnings, where);
        }
        Attach(result, found, referrers ?? ReferrerSelection.All, warnings, where);
        return result;
    }

    /// <summary>Ferry's annotations on an index.json entry that is a referrer: the digest it refers to, and how.</summary>
    public const string ReferrerSubjectAnnotation = "io.ferry.referrer.subject";
    public const string ReferrerKindAnnotation = "io.ferry.referrer.kind";

    /// <summary>Ferry's annotation naming the image (its root digest) a referrer came with, when one manifest is in several images.</summary>
    public const string ReferrerImageAnnotation = "io.ferry.referrer.image";

    [System.Text.RegularExpressions.GeneratedRegex("^(sha256|sha512)-([0-9a-f]{64}|[0-9a-f]{128})(?:\\.(sig|att|sbom))?$", System.Text.RegularExpressions.RegexOptions.CultureInvariant)]
    private static partial System.Text.RegularExpressions.Regex TagSchema();

    /// <summary>Parses a cosign tag-schema name (<c>sha256-HEX.sig</c>) or a referrers fallback tag (<c>sha256-HEX</c>).</summary>
    internal static bool TryParseTagSchema(string? name, out Digest subject, out ReferrerKind? kind)
    {
        subject = default;
        kind = null;
        if (name is null || TagSchema().Match(name) is not { Success: true } m || !Digest.TryParse($"{m.Groups[1].Value}:{m.Groups[2].Value}", out subject))
            return false;
        kind = m.Groups[3].Value switch { "sig" => ReferrerKind.Signature, "att" => ReferrerKind.Attestation, "sbom" => ReferrerKind.Sbom, _ => null };
        return true;
    }

    /// <summary>The referrers an index.json entry holds, or null when it is an image entry.</summary>
    private static List<Referrer>? ReferrerOf(IEntryStore store, Descriptor d, string what, List<string> warnings, Dictionary<Digest, ManifestNode> cache)
    {
        var a = d.Annotations;
        string? refName = a?.GetValueOrDefault(RefNameAnnotation);
        if (a?.GetValueOrDefault(ReferrerSubjectAnnotation) is string s && Digest.TryParse(s, out var subject))
        {
            var kind = a.GetValueOrDefault(ReferrerKindAnnotation) switch { "sig" => ReferrerKind.Signature, "att" => ReferrerKind.Attestation, "sbom" => ReferrerKind.Sbom, _ => ReferrerKind.Referrer };
            return LoadArtifact(store, d, what, warnings) is { } art ? [new Referrer(subject, art, kind)] : [];
        }
        if (a?.ContainsKey(ContainerdNameAnnotation) == true)
            return null;
        if (TryParseTagSchema(refName, out var tagSubject, out var tagKind))
        {
            if (tagKind is { } k)
                return LoadArtifact(store, d, what, warnings) is { } art ? [new Referrer(tagSubject, art, k)] : [];
            // sha256-HEX: the referrers fallback index of that digest; its manifests are the referrers.
            if (MediaTypes.IsIndex(d.MediaType) && store.FindBlob(d.Digest) is { } loc)
            {
                var fallback = ImageIndex.Parse(loc.ReadDocument(d.Digest, d.Size, what), d.MediaType, $"{store.DisplayName}: {what}");
                var list = new List<Referrer>();
                foreach (var r in fallback.Manifests)
                {
                    if (LoadArtifact(store, r, $"{what} {r.Digest}", warnings) is { } art)
                        list.Add(new Referrer(tagSubject, art, ReferrerKind.Referrer));
                }
                return list;
            }
        }
        // An unnamed manifest with a subject (as oras stores them).
        if (refName is null && MediaTypes.IsImageManifest(d.MediaType) && store.FindBlob(d.Digest) is { } mloc && d.Size <= Json.MaxDocumentBytes)
        {
            var m = ImageManifest.Parse(mloc.ReadDocument(d.Digest, d.Size, what), d.MediaType, $"{store.DisplayName}: {what}");
            if (m.Subject is { } sub)
                return LoadArtifact(store, d, what, warnings) is { } art ? [new Referrer(sub.Digest, art, ReferrerKind.Referrer)] : [];
        }
        return null;
    }

    /// <summary>A manifest as an artifact: its bytes and its blobs as they are (an absent blob is allowed, and reported by verify).</summary>
    internal static ArtifactNode? LoadArtifact(IEntryStore store, Descriptor d, string what, List<string> warnings)
    {
        var loc = store.FindBlob(d.Digest);
        if (loc is null)
        {
            warnings.Add($"{store.DisplayName}: {what}: referrer {d.Digest} is listed but not in the archive");
            return null;
        }
        string label = $"{store.DisplayName}: {what} {d.Digest}";
        var manifest = ImageManifest.Parse(loc.ReadDocument(d.Digest, d.Size, label), d.MediaType, label);
        return new ArtifactNode
        {
            Descriptor = d,
            Manifest = manifest,
            Blob = loc,
            Blobs = [.. manifest.Layers.Prepend(manifest.Config).Select(b => (b, (BlobSource?)store.FindBlob(b.Digest)))],
        };
    }

    /// <summary>
    /// Gives each referrer to the images whose graph holds its subject (or holds the referrer it refers to), subjects
    /// first: to the image its entry names (<see cref="ReferrerImageAnnotation"/>) when there is one, else to every
    /// image holding the subject (one manifest can be in several images: an index, and one of its platforms under
    /// another name).
    /// </summary>
    internal static void Attach(List<NamedImage> images, List<(Referrer Referrer, Digest? Owner)> found, ReferrerSelection selection, List<string> warnings, string where)
    {
        var holders = new Dictionary<Digest, List<NamedImage>>();
        void Hold(Digest d, NamedImage image)
        {
            if (!holders.TryGetValue(d, out var list))
                holders[d] = list = [];
            if (!list.Contains(image))
                list.Add(image);
        }
        foreach (var image in images)
        {
            foreach (var d in image.ManifestDigests())
                Hold(d, image);
        }
        var pending = found.Where(f => selection.Includes(f.Referrer)).ToList();
        bool progress = true;
        while (pending.Count > 0 && progress)
        {
            progress = false;
            foreach (var f in pending.ToList())
            {
                if (!holders.TryGetValue(f.Referrer.Subject, out var candidates))
                    continue;
                var owners = f.Owner is { } o && candidates.Where(i => i.Key == o).ToList() is { Count: > 0 } named ? named : candidates;
                foreach (var image in owners.ToList())
                {
                    image.AddReferrer(f.Referrer);
                    Hold(f.Referrer.Artifact.Manifest.Digest, image);
                }
                pending.Remove(f);
                progress = true;
            }
        }
        foreach (var r in pending.Select(f => f.Referrer).DistinctBy(r => r.Artifact.Manifest.Digest))
        {
            // Its subject is not here: keep it, as an artifact of its own, so nothing is lost.
            warnings.Add($"{where}: {r.Name} {r.Artifact.Manifest.Digest} refers to {r.Subject}, which is not in the source; kept as an artifact of its own");
            var alone = new NamedImage { Root = r.Artifact, OrphanOf = r };
            images.Add(alone);
        }
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
            {
                string problem = $"{ContainerdNameAnnotation} '{Digest.Describe(full)}' is not a valid reference ({err}): docker and podman refuse it";
                image.NameProblemList.Add(problem);
                warnings.Add($"{where}: index.json: {problem}; the name is ignored");
            }
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
                cached = manifest.IsRunnableImage
                    ? new ImageNode { Descriptor = d, Image = LoadImage(store, manifest, label) }
                    : new ArtifactNode { Descriptor = d, Manifest = manifest, Blob = loc, Blobs = [.. manifest.Layers.Prepend(manifest.Config).Select(b => (b, (BlobSource?)store.FindBlob(b.Digest)))] };
                cache[d.Digest] = cached;
            }
            return cached.WithDescriptor(d);
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
            if (loc is null && !MediaTypes.IsForeign(l.MediaType) && !store.ExpectedElsewhere(l.Digest))
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
