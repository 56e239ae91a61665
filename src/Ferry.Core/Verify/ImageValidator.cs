using Ferry.Compression;
using Ferry.Digests;
using Ferry.Model;
using Ferry.Transports;

namespace Ferry.Verify;

public enum Severity
{
    Warning,
    Error,
}

/// <summary>One problem found by <see cref="ImageValidator"/>: what it is about (entry and digest) and what is wrong.</summary>
public sealed record Finding(Severity Severity, string Subject, string Message)
{
    public override string ToString() =>
        $"{(Severity == Severity.Error ? "error" : "warning")}: {(Subject.Length == 0 || Message.StartsWith(Subject, StringComparison.Ordinal) ? "" : Subject + ": ")}{Message}";
}

/// <summary>The result of verifying a source: every finding, not just the first.</summary>
public sealed record ValidationReport(string Source, string? Format, IReadOnlyList<Finding> Findings, int ImagesChecked, int BlobsChecked)
{
    public bool Ok => !Findings.Any(f => f.Severity == Severity.Error);

    public byte[] ToJson() => Json.Write(w =>
    {
        w.WriteStartObject();
        w.WriteString("source", Source);
        w.WriteString("format", Format);
        w.WriteBoolean("ok", Ok);
        w.WriteNumber("images", ImagesChecked);
        w.WriteNumber("blobs", BlobsChecked);
        w.WriteStartArray("findings");
        foreach (var f in Findings)
        {
            w.WriteStartObject();
            w.WriteString("severity", f.Severity == Severity.Error ? "error" : "warning");
            w.WriteString("subject", f.Subject);
            w.WriteString("message", f.Message);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }, indented: true);
}

/// <summary>
/// Verifies a source: re-hashes every blob against its digest and size, checks every layer's uncompressed digest
/// against the config's diff_id, that media types match the bytes, and that references resolve. Reports all findings.
/// </summary>
public static class ImageValidator
{
    /// <summary>Opens and verifies <paramref name="reference"/>; a source that cannot even be opened yields one error finding.</summary>
    public static ValidationReport Verify(ImageReference reference, Func<Stream>? stdin = null)
    {
        ArchiveSource source;
        try
        {
            source = ArchiveSource.Open(reference, stdin);
        }
        catch (FerryException e) when (e is not UsageException)
        {
            return new ValidationReport(reference.Path, null, [new Finding(Severity.Error, reference.Path, e.Message)], 0, 0);
        }
        using (source)
            return Verify(source);
    }

    public static ValidationReport Verify(ArchiveSource source)
    {
        var findings = source.Warnings.Select(w => new Finding(Severity.Warning, "", w)).ToList();
        var checkedBlobs = new HashSet<Digest>();
        int images = 0;
        foreach (var image in source.Images)
        {
            if (image.Names.Count == 0 && image.RefNames.Count == 0)
                findings.Add(new Finding(Severity.Warning, image.Key.ToString(), "image has no name"));
            Walk(image.Root, findings, checkedBlobs, ref images);
        }
        return new ValidationReport(source.DisplayName, source.Format, findings, images, checkedBlobs.Count);
    }

    private static void Walk(ManifestNode node, List<Finding> findings, HashSet<Digest> seen, ref int images)
    {
        switch (node)
        {
            case IndexNode idx:
                CheckBlob(idx.Location, idx.Descriptor!.Digest, idx.Descriptor.Size, "index", findings, seen);
                foreach (var c in idx.Children)
                    Walk(c, findings, seen, ref images);
                break;
            case OpaqueNode o when o.Location is null:
                findings.Add(new Finding(Severity.Warning, o.Descriptor!.Digest.ToString(), $"referenced {o.Descriptor.MediaType} is not in the archive (allowed by the OCI layout spec; it cannot be copied)"));
                break;
            case OpaqueNode o:
                if (!string.IsNullOrEmpty(o.Descriptor!.MediaType) && !MediaTypes.IsLayer(o.Descriptor.MediaType))
                    findings.Add(new Finding(Severity.Warning, o.Descriptor.Digest.ToString(), $"unknown media type '{o.Descriptor.MediaType}'; copied as an opaque blob"));
                CheckBlob(o.Location!, o.Descriptor.Digest, o.Descriptor.Size, "blob", findings, seen);
                break;
            case ImageNode img:
                images++;
                CheckImage(img.Image, findings, seen);
                break;
        }
    }

    private static void CheckImage(SourceImage image, List<Finding> findings, HashSet<Digest> seen)
    {
        CheckBlob(image.ConfigLocation, image.ConfigDescriptor.Digest, image.ConfigDescriptor.Size, "config", findings, seen);
        if (image.Manifest is { } m && seen.Add(m.Digest))
        {
            foreach (var l in m.Layers.Where(l => !MediaTypes.IsLayer(l.MediaType)))
                findings.Add(new Finding(Severity.Warning, l.Digest.ToString(), $"manifest {m.Digest}: unknown layer media type '{l.MediaType}'"));
        }
        foreach (var layer in image.Layers)
        {
            var d = layer.Descriptor;
            string subject = layer.Location is null ? d.Digest.ToString() : $"{layer.Location.EntryName} ({d.Digest})";
            if (layer.Location is null)
            {
                findings.Add(new Finding(MediaTypes.IsForeign(d.MediaType) ? Severity.Warning : Severity.Error, subject, "layer is not in the archive"));
                continue;
            }
            if (MediaTypes.IsLayer(d.MediaType) && MediaTypes.LayerCompression(d.MediaType) != layer.ActualCompression && image.Manifest is not null)
                findings.Add(new Finding(Severity.Warning, subject, $"media type '{d.MediaType}' does not match the bytes, which are {Compressions.Name(layer.ActualCompression)}"));
            if (!seen.Add(d.Digest))
                continue;
            try
            {
                using var raw = layer.Location.OpenVerified(d.Digest, d.Size, "layer");
                using var plain = BoundedDecompression.Open(raw, layer.ActualCompression, $"layer {d.Digest}");
                using var diff = new VerifyingStream(plain, "layer (uncompressed)", null, null, leaveOpen: true);
                if (ScanLayerEntries(diff) is { } odd)
                    findings.Add(new Finding(Severity.Warning, subject, odd));
                var actualDiff = diff.Drain();
                raw.Drain();
                if (layer.DiffId is Digest want && actualDiff != want)
                    findings.Add(new Finding(Severity.Error, subject, $"uncompressed content hashes to {actualDiff}, but the config's diff_id is {want}"));
            }
            catch (Exception e) when (e is DigestMismatchException or ArchiveFormatException)
            {
                findings.Add(new Finding(Severity.Error, subject, e.Message));
            }
            catch (Exception e) when (e is InvalidDataException or IOException or ZstdSharp.ZstdException)
            {
                findings.Add(new Finding(Severity.Error, subject, $"cannot decompress ({Compressions.Name(layer.ActualCompression)}): {e.Message}"));
            }
        }
    }

    /// <summary>
    /// Reads a layer's tar headers (the stream keeps hashing underneath) and describes entries that would escape the
    /// root when extracted: absolute names, <c>..</c> components, links pointing out. Layers are opaque to Ferry and are
    /// copied untouched; the loaders sanitise such entries, so these are warnings.
    /// </summary>
    private static string? ScanLayerEntries(Stream uncompressed)
    {
        var odd = new List<string>();
        int count = 0;
        try
        {
            using var reader = new System.Formats.Tar.TarReader(uncompressed, leaveOpen: true);
            while (reader.GetNextEntry(copyData: false) is { } e)
            {
                count++;
                if (Escapes(e.Name) || (e.EntryType is System.Formats.Tar.TarEntryType.HardLink && Escapes(e.LinkName)))
                    odd.Add(Digest.Describe(e.Name));
            }
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or FormatException or OverflowException or NotSupportedException or ArgumentException)
        {
            return count == 0 ? null : $"layer is not a well-formed tar after {count} entries: {e.Message}";
        }
        return odd.Count == 0 ? null
            : $"layer holds {odd.Count} entr{(odd.Count == 1 ? "y" : "ies")} whose names escape the root when extracted ({string.Join(", ", odd.Take(5))}); copied untouched";

        static bool Escapes(string name) => name.StartsWith('/') || name.Split('/').Contains("..");
    }

    private static void CheckBlob(BlobLocation location, Digest digest, long size, string kind, List<Finding> findings, HashSet<Digest> seen)
    {
        if (!seen.Add(digest))
            return;
        try
        {
            using var v = location.OpenVerified(digest, size, kind);
            v.Drain();
        }
        catch (DigestMismatchException e)
        {
            findings.Add(new Finding(Severity.Error, $"{location.EntryName} ({digest})", e.Message));
        }
    }
}
