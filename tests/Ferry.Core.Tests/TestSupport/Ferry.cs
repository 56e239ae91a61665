using Ferry.Copy;
using Ferry.Transports;
using Ferry.Transports.Files;
using Ferry.Verify;

namespace Ferry.Tests.TestSupport;

/// <summary>Short calls into the library for tests (blocking on its asynchronous API is fine here: xunit has no synchronisation context).</summary>
public static class F
{
    public static ImageReference Ref(string text) => TransportRegistry.Default.Parse(text);

    public static IReadOnlyList<CopiedImage> Copy(string src, string dst, OutputFormat? format = null, CompressMode compress = CompressMode.Keep,
        string[]? images = null, string[]? tags = null, List<string>? log = null) =>
        CopyResult(src, dst, format, compress, images, tags, log).Images;

    public static CopyResult CopyResult(string src, string dst, OutputFormat? format = null, CompressMode compress = CompressMode.Keep,
        string[]? images = null, string[]? tags = null, List<string>? log = null)
    {
        var options = new CopyOptions
        {
            Compress = compress,
            Images = images ?? [],
            Tags = tags ?? [],
            Log = log is null ? null : m => { lock (log) log.Add(m); },
            Destination = new TransportOptions { Archive = new ArchiveOptions { Format = format } },
        };
        return ImageCopier.CopyAsync(Ref(src), Ref(dst), options).GetAwaiter().GetResult();
    }

    /// <summary>Opens an archive or layout (or anything a plain path names).</summary>
    internal static ArchiveSource Open(string path) => OpenRef(path);

    internal static ArchiveSource OpenRef(string reference, Func<Stream>? stdin = null)
    {
        var r = (ArchiveReference)Ref(reference);
        return (ArchiveSource)r.Transport.OpenSourceAsync(r, new TransportOptions { Archive = new ArchiveOptions { Stdin = stdin } }).AsTask().GetAwaiter().GetResult();
    }

    /// <summary>Opens any reference (a registry, a daemon too) as a source that closes synchronously.</summary>
    public static SyncSource OpenAny(string reference)
    {
        var r = Ref(reference);
        return new SyncSource(r.Transport.OpenSourceAsync(r, new TransportOptions()).AsTask().GetAwaiter().GetResult());
    }

    /// <summary>An opened source closed by Dispose.</summary>
    public sealed class SyncSource(IImageSource inner) : IDisposable
    {
        public IReadOnlyList<Ferry.Images.NamedImage> Images => inner.Images;
        public void Dispose() => inner.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    public static ValidationReport Verify(string reference) => ImageValidator.VerifyAsync(Ref(reference), new TransportOptions()).GetAwaiter().GetResult();

    public static ValidationReport Verify(IImageSource source) => ImageValidator.VerifyAsync(source).GetAwaiter().GetResult();

    /// <summary>Flips one byte in the middle of an archive entry's data (a corrupted blob).</summary>
    internal static void FlipByteOf(string archive, string entry)
    {
        long at;
        using (var index = Ferry.Archive.TarIndex.Open(archive, archive))
        {
            var e = index.Find(entry) ?? throw new Xunit.Sdk.XunitException(entry + " not found");
            at = e.DataOffset + e.Length / 2;
        }
        using var fs = new FileStream(archive, FileMode.Open, FileAccess.ReadWrite);
        fs.Position = at;
        int b = fs.ReadByte();
        fs.Position = at;
        fs.WriteByte((byte)(b ^ 0x40));
    }

    /// <summary>Asserts that the validator finds nothing wrong, showing its findings when it does.</summary>
    public static void AssertValid(string reference) => AssertValid(Verify(reference), reference);

    /// <summary>Asserts that a report has no errors, showing its findings when it has.</summary>
    public static void AssertValid(ValidationReport report, string? what = null) =>
        Assert.True(report.Ok, $"{what ?? report.Source}: {string.Join("; ", report.Findings)}");

    /// <summary>name → (image ID, diff_ids) for every image name of a source, plus untagged images under their ID.</summary>
    public static SortedDictionary<string, string> Summary(string path)
    {
        using var s = Open(path);
        var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var i in s.Images)
        {
            var img = i.SelectImage(null)!.Image;
            string value = img.ImageId + " " + string.Join(",", img.Layers.Select(l => l.DiffId));
            foreach (var n in i.Names)
                result[n.ToString()] = value;
            if (i.Names.Count == 0)
                result["<untagged " + img.ImageId + ">"] = value;
        }
        return result;
    }
}
