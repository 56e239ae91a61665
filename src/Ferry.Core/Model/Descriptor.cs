using System.Text.Json;
using Ferry.Digests;

namespace Ferry.Model;

/// <summary>An OCI content descriptor: what a blob is, its digest and its size.</summary>
public sealed record Descriptor(string MediaType, Digest Digest, long Size)
{
    /// <summary>The descriptor's annotations (in index.json: the image names).</summary>
    public IReadOnlyDictionary<string, string>? Annotations { get; init; }
    /// <summary>The platform an index entry is for.</summary>
    public Platform? Platform { get; init; }
    /// <summary>Where a non-distributable layer can be downloaded.</summary>
    public IReadOnlyList<string>? Urls { get; init; }
    /// <summary>The artifact type of an OCI 1.1 artifact manifest.</summary>
    public string? ArtifactType { get; init; }

    /// <summary>Parses a descriptor object; <paramref name="what"/> names it in errors.</summary>
    public static Descriptor FromJson(JsonElement e, string what)
    {
        if (e.ValueKind != JsonValueKind.Object)
            throw new ArchiveFormatException($"{what}: descriptor is not a JSON object");
        string mediaType = Json.OptString(e, "mediaType") ?? "";
        string digestText = Json.ReqString(e, "digest", what);
        if (!Digest.TryParse(digestText, out var digest))
            throw new ArchiveFormatException($"{what}: invalid digest '{Digest.Describe(digestText)}'");
        if (!e.TryGetProperty("size", out var sizeEl) || sizeEl.ValueKind != JsonValueKind.Number || !sizeEl.TryGetInt64(out long size) || size < 0)
            throw new ArchiveFormatException($"{what}: missing or invalid \"size\" for {digest}");
        return new Descriptor(mediaType, digest, size)
        {
            Annotations = Json.OptStringMap(e, "annotations"),
            Platform = Json.OptObject(e, "platform") is JsonElement p ? Platform.FromJson(p) : null,
            Urls = Json.OptStringArray(e, "urls"),
            ArtifactType = Json.OptString(e, "artifactType"),
        };
    }

    /// <summary>Writes this descriptor in the field order Go's image-spec structs use.</summary>
    public void WriteTo(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("mediaType", MediaType);
        w.WriteString("digest", Digest.ToString());
        w.WriteNumber("size", Size);
        if (Urls is { Count: > 0 })
        {
            w.WriteStartArray("urls");
            foreach (var u in Urls)
                w.WriteStringValue(u);
            w.WriteEndArray();
        }
        if (Annotations is { Count: > 0 })
        {
            w.WriteStartObject("annotations");
            foreach (var kv in Annotations.OrderBy(k => k.Key, StringComparer.Ordinal))
                w.WriteString(kv.Key, kv.Value);
            w.WriteEndObject();
        }
        if (Platform is { } p)
        {
            w.WriteStartObject("platform");
            w.WriteString("architecture", p.Architecture);
            w.WriteString("os", p.Os);
            if (p.OsVersion is not null)
                w.WriteString("os.version", p.OsVersion);
            if (p.OsFeatures is { Count: > 0 } features)
            {
                w.WriteStartArray("os.features");
                foreach (var f in features)
                    w.WriteStringValue(f);
                w.WriteEndArray();
            }
            if (p.Variant is not null)
                w.WriteString("variant", p.Variant);
            w.WriteEndObject();
        }
        if (ArtifactType is not null)
            w.WriteString("artifactType", ArtifactType);
        w.WriteEndObject();
    }
}
