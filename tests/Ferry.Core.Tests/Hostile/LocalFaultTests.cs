using System.Text;
using Ferry.Tests.TestSupport;

namespace Ferry.Tests.Hostile;

/// <summary>
/// Faults on this machine and in what the user gives: the input reached through another path, an existing
/// destination's mode, a layer its config contradicts, credentials from helpers, stdin and `ferry login`.
/// </summary>
[Collection(HostilePeerCollection.Name)]
public sealed class LocalFaultTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static (int Code, string Out, string Err) Run(string[] args, string? stdin = null)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        Func<Stream>? input = stdin is null ? null : () => new MemoryStream(Encoding.UTF8.GetBytes(stdin));
        int code = Ferry.Cli.Program.Run(args, o, e, input).GetAwaiter().GetResult();
        return (code, o.ToString(), e.ToString());
    }

    private string Sample()
    {
        string p = _dir.Path("real/in.tar");
        Directory.CreateDirectory(_dir.Path("real"));
        File.Copy(Corpus.Path("samples/ferry-sample.tar"), p);
        return p;
    }

    [Fact]
    public void TheInputIsNotOverwrittenThroughASymlinkedDirectory()
    {
        string input = Sample();
        Directory.CreateSymbolicLink(_dir.Path("alias"), _dir.Path("real"));
        byte[] before = File.ReadAllBytes(input);
        var r = Run(["copy", input, _dir.Path("alias/in.tar")]);
        Assert.Equal(6, r.Code);
        Assert.Contains("refusing to overwrite the input", r.Err, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(input));
        Assert.Equal(["in.tar"], Directory.EnumerateFileSystemEntries(_dir.Path("real")).Select(f => Path.GetFileName(f)!).ToArray());
    }

    [Fact]
    public void TheInputIsNotOverwrittenThroughProcSelfCwd()
    {
        string input = Sample();
        string viaProc = "/proc/self/cwd/" + Path.GetRelativePath(Environment.CurrentDirectory, input);
        if (!File.Exists(viaProc))
            return; // no /proc (not Linux)
        var r = Run(["copy", input, viaProc]);
        Assert.Equal(6, r.Code);
        Assert.Contains("refusing to overwrite the input", r.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void OverwritingKeepsTheDestinationsMode()
    {
        if (OperatingSystem.IsWindows())
            return;
        string input = Sample();
        string dest = _dir.Path("out.tar");
        File.WriteAllText(dest, "old");
        File.SetUnixFileMode(dest, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        Assert.Equal(0, Run(["copy", input, dest, "-q"]).Code);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(dest));
    }

    /// <summary>An OCI archive whose gzip layer is not what its config's diff_id says.</summary>
    private string Contradicted(string compression)
    {
        var good = ImageBuilder.Layer(91, compression: compression);
        var other = ImageBuilder.Layer(92, compression: "none");
        // The config claims the other layer's diff_id.
        var img = ImageBuilder.Image([new TestLayer(other.Tar, good.Blob, compression)], 91, "docker.io/library/lie:1");
        string p = _dir.Path($"lie-{compression}.tar");
        ImageBuilder.WriteOciLayout(p, [img]);
        return p;
    }

    [Theory]
    [InlineData("gzip", "docker-archive")]
    [InlineData("gzip", "oci-archive")]
    [InlineData("zstd", "oci-archive")]
    [InlineData("none", "portable")]
    public void CopyChecksDiffIdsBeforeAnythingIsWritten(string compression, string format)
    {
        string src = Contradicted(compression);
        string dest = _dir.Path("out.tar");
        var r = Run(["copy", src, dest, "--format", format]);
        Assert.Equal(4, r.Code);
        Assert.Contains("diff_id", r.Err, StringComparison.Ordinal);
        Assert.Single(r.Err.Trim().Split('\n'));
        Assert.False(File.Exists(dest));
        Assert.DoesNotContain(_dir.Listing(), n => n.Contains(".ferry-", StringComparison.Ordinal));
        // Asked not to check, it copies the layer untouched.
        Assert.Equal(0, Run(["copy", src, dest, "--format", format, "--no-verify-diff-ids", "-q"]).Code);
    }

    [Fact]
    public void LoginWritesTheAuthFileWithMode0600AndCopiesUseIt()
    {
        using var reg = new FakeRegistry("user:s3cret");
        string auth = _dir.Path("auth.json");
        File.WriteAllText(auth, "{\"auths\":{},\"other\":{\"kept\":true}}");
        var wrong = Run(["login", reg.Address, "-u", "user", "--password-stdin", "--authfile", auth], "nope\n");
        Assert.Equal(1, wrong.Code);
        Assert.DoesNotContain(reg.Address, File.ReadAllText(auth), StringComparison.Ordinal);
        var ok = Run(["login", reg.Address, "-u", "user", "--password-stdin", "--authfile", auth], "s3cret\n");
        Assert.True(ok.Code == 0, ok.Err);
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(auth));
        Assert.Contains("\"kept\": true", File.ReadAllText(auth), StringComparison.Ordinal);
        string archive = _dir.Path("a.tar");
        ImageBuilder.WriteDockerArchive(archive, [ImageBuilder.Image(93, 1, "gzip", "docker.io/library/a:1")]);
        Assert.Equal(0, Run(["push", archive, reg.Address, "--authfile", auth, "-q"]).Code);
        Assert.Equal(0, Run(["logout", reg.Address, "--authfile", auth]).Code);
        Assert.Equal(1, Run(["push", archive, reg.Address, "--authfile", auth, "-q"]).Code);
    }

    [Fact]
    public void PasswordStdinCompletesCreds()
    {
        using var reg = new FakeRegistry("user:s3cret");
        string archive = _dir.Path("a.tar");
        ImageBuilder.WriteDockerArchive(archive, [ImageBuilder.Image(94, 1, "gzip", "docker.io/library/a:1")]);
        var r = Run(["push", archive, reg.Address, "--creds", "user", "--password-stdin", "-q"], "s3cret\n");
        Assert.True(r.Code == 0, r.Err);
        Assert.Equal(2, Run(["push", archive, reg.Address, "--password-stdin"], "x\n").Code);
    }

    [Fact]
    public void CredentialHelperOfTheDockerConfigIsAsked()
    {
        if (OperatingSystem.IsWindows())
            return;
        using var reg = new FakeRegistry("user:s3cret");
        string bin = _dir.Path("bin");
        Directory.CreateDirectory(bin);
        string helper = Path.Combine(bin, "docker-credential-ferrytest");
        File.WriteAllText(helper, "#!/bin/sh\nread server\necho \"$server\" >> \"$(dirname \"$0\")/asked\"\necho '{\"ServerURL\":\"'\"$server\"'\",\"Username\":\"user\",\"Secret\":\"s3cret\"}'\n");
        File.SetUnixFileMode(helper, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        string config = _dir.Path("docker");
        Directory.CreateDirectory(config);
        File.WriteAllText(Path.Combine(config, "config.json"), $"{{\"credHelpers\":{{\"{reg.Address}\":\"ferrytest\"}}}}");
        string archive = _dir.Path("a.tar");
        ImageBuilder.WriteDockerArchive(archive, [ImageBuilder.Image(95, 1, "gzip", "docker.io/library/a:1")]);
        string? path = Environment.GetEnvironmentVariable("PATH");
        string? dockerConfig = Environment.GetEnvironmentVariable("DOCKER_CONFIG");
        try
        {
            Environment.SetEnvironmentVariable("PATH", bin + ":" + path);
            Environment.SetEnvironmentVariable("DOCKER_CONFIG", config);
            var r = Run(["push", archive, reg.Address, "-q"]);
            Assert.True(r.Code == 0, r.Err);
        }
        finally
        {
            Environment.SetEnvironmentVariable("PATH", path);
            Environment.SetEnvironmentVariable("DOCKER_CONFIG", dockerConfig);
        }
        Assert.Equal(reg.Address, File.ReadAllText(Path.Combine(bin, "asked")).Trim().Split('\n')[0]);
    }
}
