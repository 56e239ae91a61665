using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Ferry.Tests.TestSupport;

namespace Ferry.Tests.Hostile;

/// <summary>
/// Login and credential helpers as docker has them, held to what a shared host needs: a password goes to the helper
/// the auth file names (never also in clear into the file), an auth file that is a link is written through and one
/// that is not an object is left alone, and a helper is bounded: what it prints is never echoed, one that prints too
/// much, hangs, or leaves a child holding its output is ended (with what it started), also when Ferry is stopped.
/// </summary>
[Collection(HostilePeerCollection.Name)]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class CredentialHelperTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = Ferry.Cli.Program.Run(args, o, e).GetAwaiter().GetResult();
        return (code, o.ToString(), e.ToString());
    }

    /// <summary>A helper script <c>docker-credential-NAME</c> in a bin directory of the test's own, put first on PATH for the run.</summary>
    private string Helper(string name, string script)
    {
        string bin = _dir.Path("bin");
        Directory.CreateDirectory(bin);
        string path = Path.Combine(bin, "docker-credential-" + name);
        File.WriteAllText(path, "#!/bin/sh\n" + script);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return bin;
    }

    private static T WithPath<T>(string bin, Func<T> body)
    {
        string? path = Environment.GetEnvironmentVariable("PATH");
        try
        {
            Environment.SetEnvironmentVariable("PATH", bin + ":" + path);
            return body();
        }
        finally
        {
            Environment.SetEnvironmentVariable("PATH", path);
        }
    }

    /// <summary>A file-backed store helper (store/get/erase), logging each verb and what it was given.</summary>
    private string StoreHelper() => Helper("teststore", """
        d="$(dirname "$0")"
        input="$(cat)"
        echo "$1 $input" >> "$d/log"
        case "$1" in
          store) printf '%s' "$input" > "$d/stored" ;;
          get) if [ -s "$d/stored" ]; then cat "$d/stored"; else echo "credentials not found in native keychain"; exit 1; fi ;;
          erase) if [ -s "$d/stored" ]; then rm "$d/stored"; else echo "credentials not found in native keychain"; exit 1; fi ;;
        esac
        """);

    private string Archive()
    {
        string p = _dir.Path("a.tar");
        ImageBuilder.WriteDockerArchive(p, [ImageBuilder.Image(96, 1, "gzip", "docker.io/library/a:1")]);
        return p;
    }

    [Fact]
    public void LoginStoresThroughTheHelperTheAuthFileNamesAndLogoutErases()
    {
        using var reg = new FakeRegistry("user:s3cret");
        string bin = StoreHelper();
        string auth = _dir.Path("config.json");
        File.WriteAllText(auth, "{\"credsStore\":\"teststore\",\"other\":1}");
        var login = WithPath(bin, () => Run("login", reg.Address, "-u", "user", "-p", "s3cret", "--authfile", auth));
        Assert.True(login.Code == 0, login.Err);
        Assert.Contains("docker-credential-teststore", login.Err, StringComparison.Ordinal);
        string file = File.ReadAllText(auth);
        Assert.DoesNotContain(Convert.ToBase64String(Encoding.UTF8.GetBytes("user:s3cret")), file, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret", file, StringComparison.Ordinal);
        using (var doc = JsonDocument.Parse(file))
        {
            Assert.Equal(1, doc.RootElement.GetProperty("other").GetInt32());
            Assert.Equal(JsonValueKind.Object, doc.RootElement.GetProperty("auths").GetProperty(reg.Address).ValueKind);
            Assert.False(doc.RootElement.GetProperty("auths").GetProperty(reg.Address).TryGetProperty("auth", out _));
        }
        using (var stored = JsonDocument.Parse(File.ReadAllText(Path.Combine(bin, "stored"))))
        {
            Assert.Equal(reg.Address, stored.RootElement.GetProperty("ServerURL").GetString());
            Assert.Equal("s3cret", stored.RootElement.GetProperty("Secret").GetString());
        }
        // the helper's credentials are what the next push uses
        var push = WithPath(bin, () => Run("push", Archive(), reg.Address, "--authfile", auth, "-q"));
        Assert.True(push.Code == 0, push.Err);
        var logout = WithPath(bin, () => Run("logout", reg.Address, "--authfile", auth));
        Assert.True(logout.Code == 0, logout.Err);
        Assert.False(File.Exists(Path.Combine(bin, "stored")));
        Assert.Contains($"erase {reg.Address}", File.ReadAllText(Path.Combine(bin, "log")), StringComparison.Ordinal);
        using (var doc = JsonDocument.Parse(File.ReadAllText(auth)))
            Assert.False(doc.RootElement.GetProperty("auths").TryGetProperty(reg.Address, out _));
    }

    [Fact]
    public void ACredHelpersEntryWinsOverTheFile()
    {
        using var reg = new FakeRegistry("user:s3cret");
        string bin = StoreHelper();
        string auth = _dir.Path("auth.json");
        File.WriteAllText(auth, $"{{\"credHelpers\":{{\"{reg.Address}\":\"teststore\"}}}}");
        var login = WithPath(bin, () => Run("login", reg.Address, "-u", "user", "-p", "s3cret", "--authfile", auth, "--json"));
        Assert.True(login.Code == 0, login.Err);
        using var json = JsonDocument.Parse(login.Out);
        Assert.Equal("teststore", json.RootElement.GetProperty("credentialHelper").GetString());
        Assert.DoesNotContain("s3cret", File.ReadAllText(auth), StringComparison.Ordinal);
    }

    [Fact]
    public void AnAuthFileThatIsALinkIsWrittenThrough()
    {
        using var reg = new FakeRegistry("user:s3cret");
        Directory.CreateDirectory(_dir.Path("dotfiles"));
        string real = _dir.Path("dotfiles/config.json");
        File.WriteAllText(real, "{\"keep\":true}");
        string link = _dir.Path("config.json");
        File.CreateSymbolicLink(link, real);
        Assert.Equal(0, Run("login", reg.Address, "-u", "user", "-p", "s3cret", "--authfile", link).Code);
        Assert.Equal(real, new FileInfo(link).LinkTarget);
        using var doc = JsonDocument.Parse(File.ReadAllText(real));
        Assert.True(doc.RootElement.GetProperty("keep").GetBoolean());
        Assert.True(doc.RootElement.GetProperty("auths").TryGetProperty(reg.Address, out _));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(real));
    }

    [Theory]
    [InlineData("[1,2,3]")]
    [InlineData("\"text\"")]
    [InlineData("{\"auths\":[1]}")]
    public void AnAuthFileThatIsNoObjectIsNotOverwritten(string content)
    {
        using var reg = new FakeRegistry("user:s3cret");
        string auth = _dir.Path("auth.json");
        File.WriteAllText(auth, content);
        var r = Run("login", reg.Address, "-u", "user", "-p", "s3cret", "--authfile", auth);
        Assert.Equal(6, r.Code);
        Assert.Single(r.Err.Trim().Split('\n'));
        Assert.Contains("not overwritten", r.Err, StringComparison.Ordinal);
        Assert.Equal(content, File.ReadAllText(auth));
    }

    private (int Code, string Out, string Err, TimeSpan Took) PushWithHelper(string script, string timeout = "4s")
    {
        using var reg = new FakeRegistry("user:s3cret");
        string bin = Helper("bad", script);
        string auth = _dir.Path("helper.json");
        File.WriteAllText(auth, $"{{\"credHelpers\":{{\"{reg.Address}\":\"bad\"}}}}");
        string archive = Archive();
        var sw = Stopwatch.StartNew();
        var r = WithPath(bin, () => Run("push", archive, reg.Address, "--authfile", auth, "--timeout", timeout, "-q"));
        return (r.Code, r.Out, r.Err, sw.Elapsed);
    }

    [Fact]
    public void WhatAFailingHelperPrintsIsNeverEchoed()
    {
        var r = PushWithHelper("echo 'boom: vault sealed, token S3cretPassw0rd-xyz'\necho 'more S3cretPassw0rd-xyz' >&2\nexit 3\n");
        Assert.Equal(1, r.Code);
        Assert.DoesNotContain("S3cretPassw0rd", r.Err, StringComparison.Ordinal);
        Assert.Contains("docker-credential-bad get failed (exit 3", r.Err, StringComparison.Ordinal);
        Assert.Single(r.Err.Trim().Split('\n'));
    }

    [Fact]
    public void AHelperPrintingWithoutEndIsStoppedAtOnce()
    {
        var r = PushWithHelper("exec yes 'S3cretPassw0rd'\n", timeout: "60s");
        Assert.Equal(1, r.Code);
        Assert.Contains("printed more than 64 KiB (ended it)", r.Err, StringComparison.Ordinal);
        Assert.DoesNotContain("S3cretPassw0rd", r.Err, StringComparison.Ordinal);
        Assert.True(r.Took < TimeSpan.FromSeconds(20), $"took {r.Took}");
    }

    /// <summary>Whether a process whose pid a helper wrote to <paramref name="file"/> is still alive.</summary>
    private static bool Alive(string file)
    {
        for (int i = 0; i < 50 && !File.Exists(file); i++)
            Thread.Sleep(100);
        int pid = int.Parse(File.ReadAllText(file).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        for (int i = 0; i < 30; i++)
        {
            if (!File.Exists($"/proc/{pid}/stat") || File.ReadAllText($"/proc/{pid}/stat").Split(") ")[1].StartsWith('Z'))
                return false;
            Thread.Sleep(100);
        }
        return true;
    }

    [Fact]
    public void AHangingHelperIsEndedWithWhatItStarted()
    {
        string pids = _dir.Path("pids");
        Directory.CreateDirectory(pids);
        var r = PushWithHelper($"sleep 300 &\necho $! > {pids}/child\necho $$ > {pids}/self\nwait\n", timeout: "2s");
        Assert.Equal(1, r.Code);
        Assert.Contains("docker-credential-bad get: no answer within 2 s (ended it)", r.Err, StringComparison.Ordinal);
        Assert.False(Alive(Path.Combine(pids, "self")), "the helper still runs");
        Assert.False(Alive(Path.Combine(pids, "child")), "what the helper started still runs");
    }

    [Fact]
    public void AHelperThatLeavesItsOutputOpenIsToldAndItsChildEnded()
    {
        string pids = _dir.Path("pids");
        Directory.CreateDirectory(pids);
        var r = PushWithHelper($"sleep 300 &\necho $! > {pids}/child\necho '{{\"Username\":\"user\",\"Secret\":\"s3cret\"}}'\nexit 0\n", timeout: "30s");
        Assert.Equal(1, r.Code);
        Assert.True(r.Err.Contains("exited, but a program it started kept its output open (ended them)", StringComparison.Ordinal), r.Err);
        Assert.True(r.Took < TimeSpan.FromSeconds(15), $"took {r.Took}");
        Assert.False(Alive(Path.Combine(pids, "child")), "what the helper started still runs");
    }

    [Fact]
    public void AHelperRunningWhenFerryIsStoppedIsEndedToo()
    {
        using var reg = new FakeRegistry("user:s3cret");
        string pids = _dir.Path("pids");
        Directory.CreateDirectory(pids);
        string bin = Helper("slow", $"echo $$ > {pids}/self\nsleep 300\n");
        string auth = _dir.Path("helper.json");
        File.WriteAllText(auth, $"{{\"credHelpers\":{{\"{reg.Address}\":\"slow\"}}}}");
        string tmp = _dir.Path("tmp");
        Directory.CreateDirectory(tmp);
        string? path = Environment.GetEnvironmentVariable("PATH");
        Process p;
        try
        {
            Environment.SetEnvironmentVariable("PATH", bin + ":" + path);
            p = FerryProcess.Start(tmp, "push", Archive(), reg.Address, "--authfile", auth, "-q");
        }
        finally
        {
            Environment.SetEnvironmentVariable("PATH", path);
        }
        using (p)
        {
            for (int i = 0; i < 100 && !File.Exists(Path.Combine(pids, "self")); i++)
                Thread.Sleep(100);
            Assert.True(File.Exists(Path.Combine(pids, "self")), "the helper never ran");
            FerryProcess.Signal(p, "TERM");
            Assert.True(p.WaitForExit(15_000), "ferry did not stop");
            Assert.Equal(130, p.ExitCode);
        }
        Assert.False(Alive(Path.Combine(pids, "self")), "the helper outlived ferry");
    }
}
