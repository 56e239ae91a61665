using Ferry.Transports;
using System.Text;
using System.Text.Json;
using Ferry.Copy;

namespace Ferry.Cli.Rendering;

/// <summary>The human summary of a copy: what was pushed, loaded, or written where.</summary>
internal static class Summary
{
    public static void Write(TextWriter w, CopyResult result, bool verbose = false)
    {
        if (verbose)
            Checks(w, result);
        if (result.DestinationFormat == "registry")
        {
            foreach (var i in result.Images)
            {
                foreach (var r in i.References)
                {
                    // Each reference its own blobs: uploaded to the first repository, mounted into the next.
                    var blobs = i.BlobsAt(r);
                    int up = blobs.Count(b => b.Action == BlobAction.Written), mounted = blobs.Count(b => b.Action == BlobAction.Mounted), there = blobs.Count(b => b.Action == BlobAction.Present);
                    w.WriteLine($"Pushed {(r.Contains('@', StringComparison.Ordinal) ? r : $"{r}@{i.ManifestDigest}")} ({up} blob{(up == 1 ? "" : "s")} uploaded, {mounted} mounted, {there} already there)");
                }
            }
            return;
        }
        if (result.DestinationFormat.StartsWith("docker-daemon", StringComparison.Ordinal))
        {
            foreach (var l in result.Messages)
                w.WriteLine(l.StartsWith("sha256:", StringComparison.Ordinal) ? "Loaded image ID: " + l : "Loaded image: " + l);
            return;
        }
        var images = result.Images;
        w.WriteLine($"Copied {images.Count} image{(images.Count == 1 ? "" : "s")} from {result.Source} ({result.SourceFormat}) to {result.Destination} ({result.DestinationFormat})");
        foreach (var i in images)
            w.WriteLine($"  {i.ImageId}  {(i.Names.Count == 0 ? "<untagged>" : string.Join(", ", i.Names))}");
        var omitted = images.SelectMany(i => i.Blobs).Where(b => b.Action == BlobAction.Omitted).DistinctBy(b => b.Digest).ToList();
        if (omitted.Count > 0)
            w.WriteLine($"  incremental: {omitted.Count} layer{(omitted.Count == 1 ? "" : "s")} ({Size(omitted.Sum(b => b.Size))}) left out, shipped before");
    }

    /// <summary>With -v: how each layer was checked against its diff_id (now, or by the verified-layer cache).</summary>
    private static void Checks(TextWriter w, CopyResult result)
    {
        var layers = result.Images.SelectMany(i => i.Blobs).Where(b => b.Check != LayerCheck.None).DistinctBy(b => b.Digest).ToList();
        foreach (var b in layers)
            w.WriteLine($"ferry: layer {b.Digest}: diff_id {(b.Check == LayerCheck.Cached ? "known from the verified-layer cache (not inflated)" : "checked now (inflated)")}");
        if (layers.Count > 0)
            w.WriteLine($"ferry: diff_ids: {layers.Count(b => b.Check == LayerCheck.Inflated)} layer(s) checked now, {layers.Count(b => b.Check == LayerCheck.Cached)} by the verified-layer cache");
    }

    private static string Size(long bytes) => bytes >= 1 << 20 ? $"{bytes / 1048576.0:F1} MiB" : $"{bytes / 1024.0:F1} KiB";
}

/// <summary>The stable JSON forms the commands print.</summary>
internal static class JsonOut
{
    public static string Write(Action<Utf8JsonWriter> body)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            body(w);
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    /// <summary>One document of docs/json.md: an object that starts with <c>"schemaVersion": 1</c>, then <paramref name="fields"/>.</summary>
    public static string Document(Action<Utf8JsonWriter> fields) => Write(w =>
    {
        w.WriteStartObject();
        w.WriteNumber("schemaVersion", 1);
        fields(w);
        w.WriteEndObject();
    });

    /// <summary>A copy (copy, load, save, pull, push): source, destination, and per image its names, digests, references and blobs.</summary>
    public static string Copy(CopyResult r) => Document(w =>
    {
        w.WriteString("source", r.Source);
        w.WriteString("sourceFormat", r.SourceFormat);
        w.WriteString("destination", r.Destination);
        w.WriteString("destinationFormat", r.DestinationFormat);
        w.WriteStartArray("images");
        foreach (var i in r.Images)
        {
            w.WriteStartObject();
            Strings(w, "names", i.Names);
            w.WriteString("imageId", i.ImageId.ToString());
            w.WriteString("digest", i.ManifestDigest?.ToString());
            Strings(w, "references", i.References);
            // Per reference what its blobs cost there (a push to two repositories: uploaded to one, mounted into the other).
            w.WriteStartArray("perReference");
            foreach (var r in i.References)
            {
                var blobs = i.BlobsAt(r);
                w.WriteStartObject();
                w.WriteString("reference", r);
                w.WriteNumber("written", blobs.Count(b => b.Action == BlobAction.Written));
                w.WriteNumber("mounted", blobs.Count(b => b.Action == BlobAction.Mounted));
                w.WriteNumber("existed", blobs.Count(b => b.Action == BlobAction.Present));
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteString("destinationImageId", i.DestinationId?.ToString());
            w.WriteNumber("written", i.Blobs.Count(b => b.Action == BlobAction.Written));
            w.WriteNumber("mounted", i.Blobs.Count(b => b.Action == BlobAction.Mounted));
            w.WriteNumber("existed", i.Blobs.Count(b => b.Action == BlobAction.Present));
            w.WriteNumber("omitted", i.Blobs.Count(b => b.Action == BlobAction.Omitted));
            w.WriteStartArray("blobs");
            foreach (var b in i.Blobs)
            {
                w.WriteStartObject();
                w.WriteString("digest", b.Digest.ToString());
                w.WriteNumber("size", b.Size);
                w.WriteString("mediaType", b.MediaType);
                w.WriteString("action", b.Action switch { BlobAction.Written => "written", BlobAction.Mounted => "mounted", BlobAction.Omitted => "omitted", _ => "existed" });
                if (b.Check != LayerCheck.None)
                    w.WriteString("diffIdCheck", b.Check == LayerCheck.Cached ? "cache" : "inflated");
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndArray();
        Strings(w, "messages", r.Messages);
    });

    public static void Strings(Utf8JsonWriter w, string name, IEnumerable<string> values)
    {
        w.WriteStartArray(name);
        foreach (var v in values)
            w.WriteStringValue(v);
        w.WriteEndArray();
    }
}
