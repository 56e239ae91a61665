using System.Diagnostics;
using Ferry.Tests.TestSupport;

namespace Ferry.Tests.Cli;

/// <summary>
/// `ferry` as a real child process, as a user or a CI job runs it: signals while it waits on a pipe that stays open,
/// `kill -9` and the next run, a terminal on stdin. (In-process tests cannot see exit codes of a dying process.)
/// </summary>
[Collection(Hostile.HostilePeerCollection.Name)]
public sealed class ProcessTests : IDisposable
{
    private readonly TempDir _dir = new();

    public ProcessTests()
    {
        Directory.CreateDirectory(Tmp);
    }

    public void Dispose() => _dir.Dispose();

    private string Tmp => _dir.Path("tmp");

    private static string Dotnet => FerryProcess.Dotnet;

    private static string FerryDll => FerryProcess.FerryDll;

    private Process Start(params string[] args) => FerryProcess.Start(Tmp, args);

    private static void Signal(Process p, string signal) => FerryProcess.Signal(p, signal);

    /// <summary>Waits until ferry has made its temp file (so it is past start-up and blocked on stdin).</summary>
    private static void WaitFor(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!condition() && DateTime.UtcNow < deadline)
            Thread.Sleep(50);
        Assert.True(condition(), "ferry did not get that far within 30 s");
    }

    private string[] Left() => [.. Directory.EnumerateFileSystemEntries(_dir.Root, "*", SearchOption.AllDirectories).Select(p => Path.GetRelativePath(_dir.Root, p)).Order(StringComparer.Ordinal)];

    [Theory]
    [InlineData("TERM", "copy")]
    [InlineData("INT", "copy")]
    [InlineData("TERM", "verify")]
    [InlineData("INT", "inspect")]
    public void SignalWhileWaitingOnAnOpenPipeExits130AndLeavesNothing(string signal, string verb)
    {
        string[] args = verb == "copy" ? ["copy", "-", _dir.Path("out.tar")] : [verb, "-"];
        using var p = Start(args);
        // Half an archive, then the pipe stays open: ferry is spooling stdin, blocked in a read.
        p.StandardInput.BaseStream.Write(File.ReadAllBytes(Corpus.Path("samples/ferry-sample.tar")).AsSpan(0, 1 << 20));
        p.StandardInput.BaseStream.Flush();
        WaitFor(() => Directory.EnumerateFiles(Tmp).Any());
        var sw = Stopwatch.StartNew();
        Signal(p, signal);
        Assert.True(p.WaitForExit(10_000), "ferry did not exit within 10 s of the signal");
        Assert.Equal(130, p.ExitCode);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(5), $"took {sw.Elapsed} to stop");
        Assert.Contains("interrupted", p.StandardError.ReadToEnd(), StringComparison.Ordinal);
        Assert.Equal(["tmp"], Left());
    }

    [Fact]
    public void KillNineLeavesTempFilesThatTheNextRunRemoves()
    {
        using (var p = Start("copy", "-", _dir.Path("out.tar")))
        {
            p.StandardInput.BaseStream.Write(File.ReadAllBytes(Corpus.Path("samples/ferry-sample.tar")).AsSpan(0, 1 << 20));
            p.StandardInput.BaseStream.Flush();
            WaitFor(() => Directory.EnumerateFiles(Tmp).Any() && Directory.EnumerateFiles(_dir.Root).Any());
            Signal(p, "KILL");
            p.WaitForExit(10_000);
        }
        Assert.Contains(Left(), n => n.StartsWith(".out.tar.ferry-", StringComparison.Ordinal));
        Assert.Contains(Left(), n => n.StartsWith("tmp/ferry-spool-", StringComparison.Ordinal));
        // The next run that writes beside them (and spools in the same TMPDIR) removes them.
        using var again = Start("copy", "-", _dir.Path("out.tar"), "-q");
        again.StandardInput.BaseStream.Write(File.ReadAllBytes(Corpus.Path("samples/ferry-sample.tar")));
        again.StandardInput.Close();
        Assert.True(again.WaitForExit(60_000));
        Assert.True(again.ExitCode == 0, again.StandardError.ReadToEnd());
        Assert.Equal(["out.tar", "tmp"], Left());
    }

    [Fact]
    public void TerminalOnStdinIsRefusedAtOnce()
    {
        if (!File.Exists("/usr/bin/script"))
            return; // util-linux's script gives the child a terminal; without it there is nothing to test with
        var psi = new ProcessStartInfo("/usr/bin/script")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "-qec", $"'{Dotnet}' '{FerryDll}' load --host unix:///nonexistent.sock", "/dev/null" })
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        Assert.True(p.WaitForExit(30_000), "ferry waited on the terminal");
        string output = p.StandardOutput.ReadToEnd();
        Assert.Contains("refusing to read an archive from a terminal", output, StringComparison.Ordinal);
        Assert.Equal(2, p.ExitCode);
    }
}
