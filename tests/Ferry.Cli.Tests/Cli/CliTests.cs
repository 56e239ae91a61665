using Ferry.Tests.TestSupport;

namespace Ferry.Tests.Cli;

public class CliTests
{
    private static (int Code, string Out, string Err) Run(params string[] args) => RunWith(null, null, args);

    private static (int Code, string Out, string Err) RunWith(Func<Stream>? stdin, Func<Stream>? stdout, params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = Ferry.Cli.Program.Run(args, o, e, stdin, stdout).GetAwaiter().GetResult();
        return (code, o.ToString(), e.ToString());
    }

    private static string Sample => Corpus.Path("samples/ferry-sample.tar");

    [Fact]
    public void CopyContractWithFormat()
    {
        using var dir = new TempDir();
        var (code, output, err) = Run("copy", Sample, dir.Path("out.tar"), "--format", "oci-archive");
        Assert.True(code == 0, err);
        Assert.Equal("", output); // the summary is a message: stderr
        Assert.Contains("sha256:22345e9880a282682f584f0617c4fcf05603e73d5c36fe4f57c7743342691632", err);
        Assert.Equal("oci-archive", F.Open(dir.Path("out.tar")).Format);
    }

    [Fact]
    public void TheVerifiedLayerCacheSparesTheSecondInflateAndNoCacheTurnsItOff()
    {
        // The run's cache is the test process's own (IsolatedCache); these layers are in no other test.
        using var dir = new TempDir();
        string src = dir.Path("src.tar");
        var img = ImageBuilder.Image(4711, 2, "gzip", "docker.io/library/cache:1");
        ImageBuilder.WriteOciLayout(src, [img]);
        string Layer(int i) => img.Layers[i].Digest;

        var first = Run("copy", src, dir.Path("a.tar"), "-v");
        Assert.True(first.Code == 0, first.Err);
        Assert.Contains($"ferry: layer {Layer(0)}: diff_id checked now (inflated)", first.Err, StringComparison.Ordinal);
        Assert.Contains("ferry: diff_ids: 2 layer(s) checked now, 0 by the verified-layer cache", first.Err, StringComparison.Ordinal);

        var second = Run("copy", src, dir.Path("b.tar"), "-v");
        Assert.True(second.Code == 0, second.Err);
        Assert.Contains($"ferry: layer {Layer(1)}: diff_id known from the verified-layer cache (not inflated)", second.Err, StringComparison.Ordinal);
        Assert.Contains("ferry: diff_ids: 0 layer(s) checked now, 2 by the verified-layer cache", second.Err, StringComparison.Ordinal);
        Assert.Equal(File.ReadAllBytes(dir.Path("a.tar")), File.ReadAllBytes(dir.Path("b.tar")));

        var off = Run("copy", src, dir.Path("c.tar"), "--no-cache", "--json");
        Assert.True(off.Code == 0, off.Err);
        using var doc = System.Text.Json.JsonDocument.Parse(off.Out);
        var checks = doc.RootElement.GetProperty("images")[0].GetProperty("blobs").EnumerateArray()
            .ToDictionary(b => b.GetProperty("digest").GetString()!, b => b.TryGetProperty("diffIdCheck", out var c) ? c.GetString() : null);
        Assert.Equal("inflated", checks[Layer(0)]);
        Assert.Equal("inflated", checks[Layer(1)]);
        Assert.Null(checks[img.ImageId]);

        var quiet = Run("copy", src, dir.Path("d.tar"), "--json");
        Assert.Contains("\"diffIdCheck\":\"cache\"", quiet.Out.Replace(" ", "", StringComparison.Ordinal), StringComparison.Ordinal);
        // Without -v nothing is said about it.
        Assert.DoesNotContain("diff_id", Run("copy", src, dir.Path("e.tar")).Err, StringComparison.Ordinal);
    }

    [Fact]
    public void AtNSelectsAnImageAndIsNeverAResponseFile()
    {
        using var dir = new TempDir();
        string multi = dir.Path("multi.tar");
        ImageBuilder.WriteDockerArchive(multi, [ImageBuilder.Image(601, 1, "none", "docker.io/library/first:1"), ImageBuilder.Image(602, 1, "none", "docker.io/library/second:1")]);
        var r = Run("copy", multi, dir.Path("two.tar"), "--image", "@1", "-q");
        Assert.True(r.Code == 0, r.Err);
        var only = Assert.Single(F.Open(dir.Path("two.tar")).Images);
        Assert.Equal("docker.io/library/second:1", only.Names[0].ToString());
    }

    [Fact]
    public void ConvertIsAnAlias()
    {
        using var dir = new TempDir();
        Assert.Equal(0, Run("convert", Sample, dir.Path("out.tar"), "-q").Code);
        Assert.Equal("portable", F.Open(dir.Path("out.tar")).Format);
    }

    [Fact]
    public void StdinToStdoutCarriesOnlyTheArchive()
    {
        using var dir = new TempDir();
        using var outFile = File.Create(dir.Path("out.tar"));
        var (code, output, err) = RunWith(() => File.OpenRead(Sample), () => outFile, "copy", "-", "-");
        outFile.Dispose();
        Assert.True(code == 0, err);
        Assert.Equal("", output);
        Assert.Contains("Copied 1 image", err);
        Assert.Equal(F.Summary(Sample), F.Summary(dir.Path("out.tar")));
    }

    [Fact]
    public void GzippedArchiveOnStdinIsRead()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.Path("s.tar.gz"), ImageBuilder.Compress(File.ReadAllBytes(Sample), "gzip"));
        var (code, output, _) = RunWith(() => File.OpenRead(dir.Path("s.tar.gz")), null, "inspect", "-");
        Assert.Equal(0, code);
        Assert.Contains("gzip-compressed", output);
        Assert.Contains("ferry-sample:1.0", output);
    }

    [Fact]
    public void InspectJsonIsStable()
    {
        var (code, output, _) = Run("inspect", "--json", Sample);
        Assert.Equal(0, code);
        using var doc = System.Text.Json.JsonDocument.Parse(output);
        var img = doc.RootElement.GetProperty("images")[0];
        Assert.Equal("docker.io/library/ferry-sample:1.0", img.GetProperty("names")[0].GetString());
        var m = img.GetProperty("manifests")[0];
        Assert.Equal("sha256:22345e9880a282682f584f0617c4fcf05603e73d5c36fe4f57c7743342691632", m.GetProperty("imageId").GetString());
        Assert.Equal(2, m.GetProperty("layers").GetArrayLength());
        Assert.Equal("none", m.GetProperty("layers")[0].GetProperty("compression").GetString());
        Assert.Equal(["/bin/cat", "/hello.txt"], m.GetProperty("cmd").EnumerateArray().Select(x => x.GetString()));
    }

    [Fact]
    public void InspectHumanShowsLayersTable()
    {
        var (code, output, _) = Run("inspect", Sample, "--details");
        Assert.Equal(0, code);
        Assert.Contains("DIFF_ID", output);
        Assert.Contains("FERRY_SAMPLE=1", output);
    }

    [Fact]
    public void VerifyOkAndFailedExitCodes()
    {
        Assert.Equal(0, Run("verify", Sample).Code);
        using var dir = new TempDir();
        File.Copy(Sample, dir.Path("bad.tar"));
        F.FlipByteOf(dir.Path("bad.tar"), "22345e9880a282682f584f0617c4fcf05603e73d5c36fe4f57c7743342691632.json");
        // A config docker-archive reading needs is checked as it is opened: that is the table's exit code, 4.
        var (code, _, err) = Run("verify", dir.Path("bad.tar"));
        Assert.Equal(4, code);
        Assert.StartsWith($"ferry: {dir.Path("bad.tar")}: config '22345e9880a282682f584f0617c4fcf05603e73d5c36fe4f57c7743342691632.json' hashes to sha256:", err, StringComparison.Ordinal);
        // A layer is checked by the walk: a finding of the report, exit 1.
        File.Copy(Sample, dir.Path("layer.tar"));
        F.FlipByteOf(dir.Path("layer.tar"), "5e6ad3b5dcff3c779fd6e59bbfdbcdded98cabd10b6ed72e74ef57de8c316f97/layer.tar");
        var layer = Run("verify", dir.Path("layer.tar"));
        Assert.Equal(1, layer.Code);
        Assert.Contains("ferry: error: 5e6ad3b5dcff3c779fd6e59bbfdbcdded98cabd10b6ed72e74ef57de8c316f97/layer.tar", layer.Err, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(2, "copy", "only-one-arg")]
    [InlineData(2, "copy", "a", "b", "--format", "zip")]
    [InlineData(2, "frobnicate")]
    [InlineData(5, "inspect", "/nonexistent/archive.tar")]
    [InlineData(2, "copy", "docker://", "y.tar")]
    public void ExitCodes(int expected, params string[] args)
    {
        var (code, _, err) = Run(args);
        Assert.Equal(expected, code);
        Assert.StartsWith("ferry: ", err, StringComparison.Ordinal);
    }

    [Fact]
    public void InvalidArchiveIsExitCode3WithOneLine()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.Path("junk.tar"), new byte[] { 1, 2, 3, 4, 5 });
        var (code, _, err) = Run("copy", dir.Path("junk.tar"), dir.Path("o.tar"));
        Assert.Equal(3, code);
        Assert.Single(err.Trim().Split('\n'));
        Assert.Contains("junk.tar", err);
        Assert.Equal(["junk.tar"], dir.Listing());
    }

    [Fact]
    public void ZipIsRecognised()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.Path("x.zip"), [(byte)'P', (byte)'K', 3, 4, .. new byte[600]]);
        var (code, _, err) = Run("inspect", dir.Path("x.zip"));
        Assert.Equal(3, code);
        Assert.Contains("zip file", err);
    }

    [Fact]
    public void EmptyFileIsRecognised()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.Path("e.tar"), []);
        var (code, _, err) = Run("inspect", dir.Path("e.tar"));
        Assert.Equal(3, code);
        Assert.Contains("empty file", err);
    }

    [Fact]
    public void NoStackTraceWithoutDebug()
    {
        var (_, _, err) = Run("inspect", Corpus.Path("gcr-null-manifest/null_manifest.tar"));
        Assert.DoesNotContain("   at ", err);
        var (_, _, errDebug) = Run("inspect", Corpus.Path("gcr-null-manifest/null_manifest.tar"), "--debug");
        Assert.Contains("   at ", errDebug);
    }
}
