using System.Diagnostics;
using Ferry.Tests.TestSupport;

namespace Ferry.Tests.Cli;

/// <summary>
/// Shell completion: <c>ferry __complete WORDS…</c> answers from the command tree (commands, options, the values an
/// option accepts, transport prefixes, paths), and the bash script offers exactly that in a real bash.
/// </summary>
public class CompletionTests
{
    private static string[] Complete(params string[] words)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = Ferry.Cli.Program.Run(["__complete", .. words], o, e).GetAwaiter().GetResult();
        Assert.True(code == 0, e.ToString());
        Assert.Equal("", e.ToString());
        return o.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToArray();
    }

    [Fact]
    public void CommandsComeFromTheTree()
    {
        Assert.Equal(["completion", "convert", "copy"], Complete("co"));
        var all = Complete("");
        Assert.Contains("verify", all);
        Assert.Contains("help", all);
        Assert.DoesNotContain("__complete", all);
        Assert.Equal(["verify", "verify-blob"], Complete("help", "ve"));
        Assert.Equal(["completion", "convert", "copy"], Complete("--debug", "co"));
    }

    [Fact]
    public void OptionsAreTheCommandsOwn()
    {
        Assert.Equal(["--compress", "--compress-level"], Complete("copy", "--comp"));
        var serve = Complete("serve", "-");
        Assert.Contains("--listen", serve);
        Assert.Contains("--progress", serve);
        Assert.Contains("--debug", serve);
        Assert.DoesNotContain("--compress", serve);
    }

    [Fact]
    public void AnOptionsValueIsOneItAccepts()
    {
        Assert.Equal(["gzip", "keep", "none", "zstd"], Complete("copy", "--compress", ""));
        Assert.Equal(["oci", "oci-archive"], Complete("copy", "in.tar", "--format", "o"));
        Assert.Equal(["plain"], Complete("verify", "x.tar", "--progress", "p"));
        Assert.Equal(["bash", "fish", "pwsh", "zsh"], Complete("completion", ""));
        Assert.Empty(Complete("copy", "--tag", ""));       // a name: nothing to guess
        Assert.Empty(Complete("serve", "--listen", "1"));
    }

    [Fact]
    public void ReferencesAreTransportPrefixesOrPathsAfterAFilesPrefix()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.Path("layout"));
        File.WriteAllText(dir.Path("app.tar"), "");
        File.WriteAllText(dir.Path("apple.tar"), "");
        File.WriteAllText(dir.Path(".hidden.tar"), "");
        string d = dir.Path("x")[..^1]; // the directory, with its slash
        Assert.Equal(["docker-archive:", "docker-daemon:", "docker://"], Complete("copy", "doc"));
        Assert.Equal([d + "app.tar", d + "apple.tar"], Complete("copy", d + "ap"));
        Assert.Equal([d + "app.tar", d + "apple.tar", d + "layout/"], Complete("inspect", d));
        Assert.Equal([d + ".hidden.tar"], Complete("inspect", d + "."));
        Assert.Equal(["oci:" + d + "layout/"], Complete("copy", "x.tar", "oci:" + d + "l"));
        Assert.Equal(["docker-archive:" + d + "app.tar"], Complete("copy", "docker-archive:" + d + "app."));
        Assert.Empty(Complete("copy", "docker-archive:" + d + "app.tar:na"));
        Assert.Empty(Complete("copy", "docker://reg"));
        Assert.Equal([d + "apple.tar"], Complete("pull", "r/x:1", "-o", d + "appl"));
        Assert.Empty(Complete("copy", "x.tar", "--image", d));
    }

    [Fact]
    public void TheTransportsWhosePathsCompleteAreTransportsTheLibraryKnows()
    {
        Assert.All(Ferry.Cli.Completion.FileTransports, t => Assert.Contains(t, Ferry.Cli.Completion.Prefixes));
        Assert.Contains("docker://", Complete("copy", "docker:"));
    }

    [Fact]
    public void PathOptionsAreRealOptionsThatTakePaths()
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var cmd in new[] { "copy", "verify", "pull", "push", "serve", "login", "save" })
            names.UnionWith(Complete(cmd, "-"));
        Assert.All(Ferry.Cli.Completion.PathOptions, o => Assert.Contains(o, names));
    }

    [Fact]
    public void EachShellHasAScriptAndAnUnknownShellIsAUsageError()
    {
        foreach (var shell in Ferry.Cli.Completion.Shells)
        {
            var r = CliRun.Run("completion", shell);
            CliRun.Ok(r);
            Assert.Contains("ferry __complete", r.Out);
            Assert.Equal("", r.Err);
        }
        var bad = CliRun.Run("completion", "tcsh");
        Assert.Equal(2, bad.Code);
        Assert.Contains("tcsh", bad.Err);
        Assert.Contains("ferry completion", CliRun.Run("help", "completion").Out);
    }

    /// <summary>Runs the bash script's function on a command line, as bash does on TAB, and returns what it offers.</summary>
    private static List<string> Bash(string line)
    {
        using var dir = new TempDir();
        string bin = dir.Path("bin");
        Directory.CreateDirectory(bin);
        string wrapper = Path.Combine(bin, "ferry");
        File.WriteAllText(wrapper, $"#!/bin/sh\nexec '{FerryProcess.Dotnet}' '{FerryProcess.FerryDll}' \"$@\"\n");
        if (OperatingSystem.IsWindows())
            throw new PlatformNotSupportedException("the bash completion test runs on Unix");
        File.SetUnixFileMode(wrapper, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        string script = dir.Path("ferry.bash");
        File.WriteAllText(script, CliRun.Run("completion", "bash").Out);
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("--norc");
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add($"source '{script}'; COMP_LINE=\"$1\"; COMP_POINT=${{#COMP_LINE}}; COMP_WORDBREAKS=$' \\t\\n\"\\'><=;|&(:'; _ferry_complete; printf '%s\\n' \"${{COMPREPLY[@]}}\"");
        psi.ArgumentList.Add("bash");
        psi.ArgumentList.Add(line);
        psi.Environment["PATH"] = bin + ":" + Environment.GetEnvironmentVariable("PATH");
        using var p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd();
        string err = p.StandardError.ReadToEnd();
        Assert.True(p.WaitForExit(60_000), "bash did not finish");
        Assert.True(p.ExitCode == 0, err);
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList();
    }

    [Fact]
    public void BashOffersWhatFerryAnswersAndOnlyWhatFollowsTheLastColon()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.Path("app.tar"), "");
        Assert.Equal(["copy"], Bash("ferry cop"));
        Assert.Equal(["gzip", "keep", "none", "zstd"], Bash("ferry copy in.tar out.tar --compress "));
        Assert.Equal([dir.Path("app.tar")], Bash($"ferry copy {dir.Path("ap")}"));
        // bash treats "docker-archive:" as a word of its own: the reply is the part after the colon.
        Assert.Equal([dir.Path("app.tar")], Bash($"ferry copy x.tar docker-archive:{dir.Path("ap")}"));
        Assert.Equal(["//"], Bash("ferry copy docker:"));
    }
}
