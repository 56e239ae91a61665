using System.Text.Json;
using Ferry.Digests;

namespace Ferry.Model;

/// <summary>An image manifest (OCI or Docker schema 2) with its exact bytes.</summary>
public sealed class ImageManifest
{
    private ImageManifest(byte[] raw, string mediaType, Descriptor config, IReadOnlyList<Descriptor> layers, Descriptor? subject, string? artifactType)
    {
        Raw = raw;
        MediaType = mediaType;
        Config = config;
        Layers = layers;
        Subject = subject;
        ArtifactType = artifactType;
        Digest = Digest.Sha256Of(raw);
    }

    /// <summary>The manifest this one refers to (OCI 1.1 <c>subject</c>: a signature, an SBOM, an attestation of it).</summary>
    public Descriptor? Subject { get; }

    /// <summary>The manifest's <c>artifactType</c> (OCI 1.1), when it has one.</summary>
    public string? ArtifactType { get; }

    /// <summary>
    /// Whether this is an image one can run: its config is an image config (OCI or Docker). Anything else (a Helm
    /// chart, an SBOM, a signature bundle, <c>application/vnd.oci.empty.v1+json</c> configs) is an artifact.
    /// </summary>
    public bool IsRunnableImage => ArtifactType is null && Config.MediaType is MediaTypes.OciConfig or MediaTypes.DockerConfig;

    /// <summary>The exact bytes; never re-serialised.</summary>
    public byte[] Raw { get; }
    /// <summary>The SHA-256 of the exact bytes.</summary>
    public Digest Digest { get; }
    /// <summary>The manifest's media type (from its own field, else from the descriptor that pointed to it).</summary>
    public string MediaType { get; }
    /// <summary>The config descriptor.</summary>
    public Descriptor Config { get; }
    /// <summary>The layer descriptors, in order.</summary>
    public IReadOnlyList<Descriptor> Layers { get; }

    /// <summary>Parses manifest bytes. <paramref name="declaredMediaType"/> is the media type of the descriptor that referenced it.</summary>
    public static ImageManifest Parse(byte[] raw, string? declaredMediaType, string what)
    {
        using var doc = Json.Parse(raw, what);
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
            throw new ArchiveFormatException($"{what}: manifest is not a JSON object");
        string? own = Json.OptString(root, "mediaType");
        string mediaType = own ?? (declaredMediaType is MediaTypes.OciDescriptor or "" or null ? MediaTypes.OciManifest : declaredMediaType);
        if (MediaTypes.IsSchema1(mediaType) || (root.TryGetProperty("schemaVersion", out var sv) && sv.ValueKind == JsonValueKind.Number && sv.TryGetInt32(out int version) && version == 1))
            throw new ArchiveFormatException($"{what}: Docker schema 1 manifests are not supported");
        if (!MediaTypes.IsImageManifest(mediaType))
            throw new ArchiveFormatException($"{what}: media type '{mediaType}' is not an image manifest");
        if (Json.OptObject(root, "config") is not JsonElement cfg)
            throw new ArchiveFormatException($"{what}: manifest has no \"config\" descriptor");
        var config = Descriptor.FromJson(cfg, what + " config");
        var layers = new List<Descriptor>();
        if (Json.OptArray(root, "layers") is JsonElement arr)
        {
            int i = 0;
            foreach (var l in arr.EnumerateArray())
                layers.Add(Descriptor.FromJson(l, $"{what} layer {i++}"));
        }
        Descriptor? subject = Json.OptObject(root, "subject") is JsonElement sub ? Descriptor.FromJson(sub, what + " subject") : null;
        return new ImageManifest(raw, mediaType, config, layers, subject, Json.OptString(root, "artifactType"));
    }

    /// <summary>
    /// Builds a new OCI manifest in the field order docker and containers/image write
    /// (<c>schemaVersion, mediaType, config, layers[, annotations]</c>), compact, no trailing newline.
    /// </summary>
    public static ImageManifest CreateOci(Descriptor config, IReadOnlyList<Descriptor> layers, IReadOnlyDictionary<string, string>? annotations = null)
    {
        byte[] raw = Json.Write(w =>
        {
            w.WriteStartObject();
            w.WriteNumber("schemaVersion", 2);
            w.WriteString("mediaType", MediaTypes.OciManifest);
            w.WritePropertyName("config");
            config.WriteTo(w);
            w.WriteStartArray("layers");
            foreach (var l in layers)
                l.WriteTo(w);
            w.WriteEndArray();
            if (annotations is { Count: > 0 })
            {
                w.WriteStartObject("annotations");
                foreach (var kv in annotations.OrderBy(k => k.Key, StringComparer.Ordinal))
                    w.WriteString(kv.Key, kv.Value);
                w.WriteEndObject();
            }
            w.WriteEndObject();
        });
        return Parse(raw, MediaTypes.OciManifest, "generated manifest");
    }

    /// <summary>The annotations of the manifest itself.</summary>
    public IReadOnlyDictionary<string, string>? ReadAnnotations()
    {
        using var doc = Json.Parse(Raw, "manifest");
        return Json.OptStringMap(doc.RootElement, "annotations");
    }

    /// <summary>A descriptor of this manifest.</summary>
    public Descriptor ToDescriptor() => new(MediaType, Digest, Raw.LongLength);
}

/// <summary>An image index (OCI index or Docker manifest list) with its exact bytes.</summary>
public sealed class ImageIndex
{
    private ImageIndex(byte[] raw, string mediaType, IReadOnlyList<Descriptor> manifests)
    {
        Raw = raw;
        MediaType = mediaType;
        Manifests = manifests;
        Digest = Digest.Sha256Of(raw);
    }

    /// <summary>The exact bytes; never re-serialised.</summary>
    public byte[] Raw { get; }
    /// <summary>The SHA-256 of the exact bytes.</summary>
    public Digest Digest { get; }
    /// <summary>The index's media type (its own field, else the referring descriptor's, else OCI).</summary>
    public string MediaType { get; }
    /// <summary>The descriptors it lists, in order.</summary>
    public IReadOnlyList<Descriptor> Manifests { get; }

    /// <summary>Parses index bytes; <paramref name="declaredMediaType"/> is the media type of the descriptor that referenced it, <paramref name="what"/> names it in errors.</summary>
    public static ImageIndex Parse(byte[] raw, string? declaredMediaType, string what)
    {
        using var doc = Json.Parse(raw, what);
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
            throw new ArchiveFormatException($"{what}: index is not a JSON object");
        string mediaType = Json.OptString(root, "mediaType") ?? declaredMediaType ?? MediaTypes.OciIndex;
        if (mediaType is MediaTypes.OciDescriptor or "")
            mediaType = MediaTypes.OciIndex;
        var list = new List<Descriptor>();
        if (root.TryGetProperty("manifests", out var m))
        {
            if (m.ValueKind == JsonValueKind.Array)
            {
                int i = 0;
                foreach (var d in m.EnumerateArray())
                    list.Add(Descriptor.FromJson(d, $"{what} manifests[{i++}]"));
            }
            else if (m.ValueKind != JsonValueKind.Null)
            {
                throw new ArchiveFormatException($"{what}: \"manifests\" is not an array");
            }
        }
        return new ImageIndex(raw, mediaType, list);
    }

    /// <summary>Builds an OCI index (used for <c>index.json</c>).</summary>
    public static byte[] CreateOci(IEnumerable<Descriptor> manifests) => CreateOci(manifests, null);

    /// <summary>Builds an OCI index with annotations of its own.</summary>
    public static byte[] CreateOci(IEnumerable<Descriptor> manifests, IReadOnlyDictionary<string, string>? annotations)
    {
        return Json.Write(w =>
        {
            w.WriteStartObject();
            w.WriteNumber("schemaVersion", 2);
            w.WriteString("mediaType", MediaTypes.OciIndex);
            w.WriteStartArray("manifests");
            foreach (var d in manifests)
                d.WriteTo(w);
            w.WriteEndArray();
            if (annotations is { Count: > 0 })
            {
                w.WriteStartObject("annotations");
                foreach (var kv in annotations.OrderBy(k => k.Key, StringComparer.Ordinal))
                    w.WriteString(kv.Key, kv.Value);
                w.WriteEndObject();
            }
            w.WriteEndObject();
        });
    }

    /// <summary>A descriptor of this index.</summary>
    public Descriptor ToDescriptor() => new(MediaType, Digest, Raw.LongLength);
}
