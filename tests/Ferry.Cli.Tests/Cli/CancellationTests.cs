using Ferry.Copy;
using Ferry.Tests.TestSupport;
using Ferry.Transports;
using Ferry.Progress;

namespace Ferry.Tests.Cli;

/// <summary>
/// Cancellation in the middle of a copy (what SIGINT and SIGTERM do: `ferry` turns both into this cancellation and
/// exits 130) leaves no temp file and no output, and an existing destination untouched.
/// </summary>
public class CancellationTests
{
    private sealed class CancelAfter(CancellationTokenSource cts, long bytes) : ICopyProgress
    {
        private long _seen;
        public void Started(string item, long totalBytes) { }
        public void Finished(string item) { }

        public void Advanced(string item, long n)
        {
            if (Interlocked.Add(ref _seen, n) >= bytes)
                cts.Cancel();
        }
    }

    [Theory]
    [InlineData(CompressMode.Keep, OutputFormat.Portable)]
    [InlineData(CompressMode.Gzip, OutputFormat.OciArchive)]
    [InlineData(CompressMode.Zstd, OutputFormat.Oci)]
    public void CancelMidCopyLeavesNothing(CompressMode compress, OutputFormat format)
    {
        using var dir = new TempDir();
        var layers = Enumerable.Range(0, 3).Select(i => ImageBuilder.Layer(i, files: 8, maxSize: 1 << 20)).ToList();
        ImageBuilder.WriteDockerArchive(dir.Path("in.tar"), [ImageBuilder.Image(layers, 1, "docker.io/library/c:1")]);
        string dest = format == OutputFormat.Oci ? dir.Path("out") : dir.Path("out.tar");
        if (format != OutputFormat.Oci)
            File.WriteAllText(dest, "previous");
        using var cts = new CancellationTokenSource();
        var options = new CopyOptions { Destination = new TransportOptions { Archive = new ArchiveOptions { Format = format } }, Compress = compress, Progress = new CancelAfter(cts, 1 << 20), Parallelism = 1 };
        Assert.ThrowsAny<OperationCanceledException>(() =>
            ImageCopier.CopyAsync(F.Ref(dir.Path("in.tar")), F.Ref(dest), options, cts.Token).GetAwaiter().GetResult());
        Assert.Equal(format == OutputFormat.Oci ? ["in.tar"] : ["in.tar", "out.tar"], dir.Listing());
        if (format != OutputFormat.Oci)
            Assert.Equal("previous", File.ReadAllText(dest));
    }
}
