using System.Security.Cryptography;
using Ferry.Tests.TestSupport;
using static Ferry.Tests.TestSupport.CliRun;

namespace Ferry.Tests.Archive;

/// <summary>
/// <c>--split SIZE</c> writes PATH.000, PATH.001, … and PATH.sha256 (sha256sum -c compatible); every reader takes the
/// first part, any part, the .sha256 file or the bare name, and reads the parts as one archive; a missing or corrupt
/// part is named.
/// </summary>
public sealed class SplitArchiveTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private string Source()
    {
        string p = _dir.Path("src.tar");
        ImageBuilder.WriteDockerArchive(p, [ImageBuilder.Image(7, 3, "none", "docker.io/library/split:1"), ImageBuilder.Image(8, 2, "none", "docker.io/library/other:2")]);
        return p;
    }

    private string[] Parts(string name) =>
        [.. Directory.GetFiles(_dir.Path(""), Path.GetFileName(name) + ".*").Where(f => !f.EndsWith(".sha256", StringComparison.Ordinal)).Order(StringComparer.Ordinal)];

    [Fact]
    public void PartsJoinedByCatAreTheUnsplitArchive()
    {
        string src = Source();
        Ok(Run("copy", src, _dir.Path("full.tar"), "-q"));
        Ok(Run("copy", src, _dir.Path("s.tar"), "--split", "5K", "-q"));
        var parts = Parts(_dir.Path("s.tar"));
        byte[] full = File.ReadAllBytes(_dir.Path("full.tar"));
        Assert.Equal((full.Length + 5119) / 5120, parts.Length);
        Assert.All(parts[..^1], p => Assert.Equal(5120, new FileInfo(p).Length));
        Assert.Equal(full, parts.SelectMany(File.ReadAllBytes).ToArray());
        Assert.False(File.Exists(_dir.Path("s.tar")));
        // sha256sum -c format: "HEX  NAME", names relative to the .sha256 file
        var lines = File.ReadAllLines(_dir.Path("s.tar.sha256"));
        Assert.Equal(parts.Length, lines.Length);
        for (int i = 0; i < parts.Length; i++)
            Assert.Equal($"{Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(parts[i])))}  {Path.GetFileName(parts[i])}", lines[i]);
        Assert.Empty(Directory.GetFiles(_dir.Path(""), "*.tmp"));
    }

    [Theory]
    [InlineData("s.tar.000")]
    [InlineData("s.tar.002")]
    [InlineData("s.tar.sha256")]
    [InlineData("s.tar")]
    public void EveryReaderTakesAnyNameOfTheSplitArchive(string name)
    {
        string src = Source();
        Ok(Run("copy", src, _dir.Path("s.tar"), "--split", "4K", "-q"));
        Ok(Run("copy", src, "oci-archive:" + _dir.Path("direct.tar"), "-q"));
        Ok(Run("copy", _dir.Path(name), "oci-archive:" + _dir.Path("via-parts.tar"), "-q"));
        Assert.Equal(File.ReadAllBytes(_dir.Path("direct.tar")), File.ReadAllBytes(_dir.Path("via-parts.tar")));
        var verify = Run("verify", _dir.Path(name));
        Ok(verify);
        var inspect = Run("inspect", _dir.Path(name), "--json");
        Ok(inspect);
        Assert.Contains("docker.io/library/split:1", inspect.Out, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void AMissingPartIsNamed(bool withChecksums)
    {
        Ok(Run("copy", Source(), _dir.Path("s.tar"), "--split", "4K", "-q"));
        if (!withChecksums)
            File.Delete(_dir.Path("s.tar.sha256"));
        File.Delete(_dir.Path("s.tar.001"));
        var r = Run("copy", _dir.Path("s.tar.000"), _dir.Path("out.tar"));
        Assert.Equal(3, r.Code);
        Assert.Contains("s.tar.001: missing part", r.Err, StringComparison.Ordinal);
        Assert.Single(r.Err.Trim().Split('\n'));
        Assert.False(File.Exists(_dir.Path("out.tar")));
    }

    [Fact]
    public void ACorruptPartIsNamedByVerifyAndCopyStops()
    {
        Ok(Run("copy", Source(), _dir.Path("s.tar"), "--split", "4K", "-q"));
        var parts = Parts(_dir.Path("s.tar"));
        // flip a byte in the middle of a layer's data (not a tar header): the last-but-one part
        string victim = parts[^2];
        byte[] b = File.ReadAllBytes(victim);
        b[b.Length - 100] ^= 0xff;
        File.WriteAllBytes(victim, b);
        var verify = Run("verify", _dir.Path("s.tar.sha256"));
        Assert.Equal(1, verify.Code);
        Assert.Contains($"{Path.GetFileName(victim)}: part does not match its sha256 in", verify.Err, StringComparison.Ordinal);
        Assert.DoesNotContain(Path.GetFileName(parts[0]) + ": part", verify.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void ASmallerSplitOverALargerOneLeavesNoStaleParts()
    {
        string src = Source();
        Ok(Run("copy", src, _dir.Path("s.tar"), "--split", "2K", "-q"));
        int many = Parts(_dir.Path("s.tar")).Length;
        Ok(Run("copy", src, _dir.Path("s.tar"), "--split", "1M", "-q"));
        Assert.True(many > 1);
        Assert.Single(Parts(_dir.Path("s.tar")));
        Ok(Run("verify", _dir.Path("s.tar")));
    }

    [Fact]
    public void AFailedCopyLeavesNoParts()
    {
        string src = Source();
        // corrupt a layer of the source: the copy fails after parts were begun
        Ok(Run("copy", src, "oci-archive:" + _dir.Path("oci.tar"), "-q"));
        byte[] b = File.ReadAllBytes(_dir.Path("oci.tar"));
        int at = b.Length / 2;
        b[at] ^= 0xff;
        File.WriteAllBytes(_dir.Path("bad.tar"), b);
        var r = Run("copy", _dir.Path("bad.tar"), _dir.Path("s.tar"), "--split", "2K");
        Assert.NotEqual(0, r.Code);
        Assert.Empty(Directory.GetFiles(_dir.Path(""), "s.tar*"));
        Assert.Empty(Directory.GetFiles(_dir.Path(""), ".s.tar*"));
    }

    [Theory]
    [InlineData("-")]
    [InlineData("oci:DIR")]
    public void SplitIsForArchiveFiles(string dest)
    {
        var r = Run("copy", Source(), dest.Replace("DIR", _dir.Path("layout"), StringComparison.Ordinal), "--split", "4K");
        Assert.Equal(2, r.Code);
        Assert.Contains("--split writes archive files in parts", r.Err, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("4G", 4L << 30)]
    [InlineData("4095M", 4095L << 20)]
    [InlineData("4700MB", 4_700_000_000L)]
    [InlineData("512KiB", 512L << 10)]
    [InlineData("1000", 1000L)]
    public void SizesFollowCoreutils(string text, long bytes) =>
        Assert.Equal(bytes, Ferry.Cli.Commands.SizeOption.Parse(text, "--split"));

    [Theory]
    [InlineData("0")]
    [InlineData("4X")]
    [InlineData("-1G")]
    [InlineData("1.5G")]
    public void BadSizesAreUsageErrors(string text)
    {
        var r = Run("copy", Source(), _dir.Path("s.tar"), "--split", text);
        Assert.Equal(2, r.Code);
        Assert.Contains("--split", r.Err, StringComparison.Ordinal);
    }
}
