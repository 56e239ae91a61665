using System.Text.RegularExpressions;
using Ferry.Interop.Tests.Fixture;
using Ferry.Interop.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Ferry.Interop.Tests.Tests;

/// <summary>
/// What a release ships, built as the README says: the NativeAOT publish is the one <c>ferry</c> file, which runs the
/// main job and says its version and commit; the packed dotnet tool installs and does the same. (Slow: a NativeAOT
/// publish takes minutes, so it is here and not in the unit tests. Built under its own artifacts path, so it never
/// races a build of the tests.)
/// </summary>
[Collection(InteropCollection.Name)]
public sealed class ReleaseArtefactTests(InteropFixture fixture, ITestOutputHelper output) : InteropTest(fixture, output)
{
    private static readonly Regex Version = new(@"^(?<version>\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?)\+(?<commit>[0-9a-f]{7,40})$");

    private static string Repo
    {
        get
        {
            string dir = AppContext.BaseDirectory;
            while (!File.Exists(Path.Combine(dir, "Ferry.slnx")))
                dir = Path.GetDirectoryName(dir.TrimEnd('/')) ?? throw new InteropException("no Ferry.slnx above the test assembly");
            return dir;
        }
    }

    private ProcResult Dotnet(params string[] args) =>
        Runner.Ensure(_run.Raw("/bin/sh", ["-c", $"cd {Proc.QuoteWord(Repo)} && {Proc.QuoteWord(FerryCli.DotnetHost)} {Proc.Quote(args)}"], TimeSpan.FromMinutes(15), display: "dotnet " + Proc.Quote(args)));

    /// <summary>The commit the tree is at, when it is a git checkout (CI's clean clone is).</summary>
    private string? Head()
    {
        var r = _run.Raw("git", ["-C", Repo, "rev-parse", "HEAD"]);
        return r.Ok ? r.Stdout.Trim() : null;
    }

    private void RunsTheMainJob(Checks checks, string ferry, string dir, string what)
    {
        string y = Path.Combine(dir, "sample.portable.tar");
        var copy = _run.Raw(ferry, ["copy", Path.Combine(Repo, "samples", "ferry-sample.tar"), y]);
        checks.Equal(0, copy.ExitCode, $"{what}: ferry copy of the sample");
        var verify = _run.Raw(ferry, ["verify", y]);
        checks.True(verify.Ok && verify.Stdout.Contains(": OK (portable", StringComparison.Ordinal), $"{what}: ferry verify says OK: {verify.Stdout.Trim()}");
    }

    private void SaysItsVersion(Checks checks, string ferry, string? version, string what)
    {
        var r = _run.Raw(ferry, ["--version"]);
        var m = Version.Match(r.Stdout.Trim());
        checks.True(r.Ok && m.Success, $"{what}: --version prints VERSION+COMMIT: '{r.Stdout.Trim()}'");
        if (m.Success && Head() is { } head)
            checks.Equal(head, m.Groups["commit"].Value, $"{what}: the commit --version names");
        if (m.Success && version is not null)
            checks.Equal(version, m.Groups["version"].Value, $"{what}: the version --version names");
    }

    [InteropFact(Tool.Clang)]
    public void NativeAot_publish_is_one_ferry_file_that_runs_and_says_its_version()
    {
        string dir = _fx.Scratch("release-aot");
        string outDir = Path.Combine(dir, "out");
        Dotnet("publish", "src/Ferry.Cli", "-c", "Release", "-r", "linux-x64", "-p:PublishAot=true", "-o", outDir, "--artifacts-path", Path.Combine(dir, "artifacts"));

        var checks = new Checks(_log);
        var files = Directory.GetFileSystemEntries(outDir).Select(Path.GetFileName).ToList();
        checks.Sequence(["ferry"], files!, "the publish folder holds only the ferry binary");
        string ferry = Path.Combine(outDir, "ferry");
        var kind = _run.Raw("/bin/sh", ["-c", $"head -c 4 {Proc.QuoteWord(ferry)} | od -An -c"]);
        checks.True(kind.Stdout.Contains('E', StringComparison.Ordinal) && kind.Stdout.Contains('L', StringComparison.Ordinal), "ferry is a native (ELF) executable");
        SaysItsVersion(checks, ferry, null, "NativeAOT ferry");
        RunsTheMainJob(checks, ferry, dir, "NativeAOT ferry");
        checks.ThrowIfAny("the NativeAOT release");
    }

    [InteropFact]
    public void Packed_dotnet_tool_installs_and_runs()
    {
        string dir = _fx.Scratch("release-tool");
        string version = $"0.0.0-test.{DateTime.UtcNow:yyyyMMddHHmmss}";
        string feed = Path.Combine(dir, "feed");
        Dotnet("pack", "src/Ferry.Cli", "-c", "Release", "-o", feed, "--artifacts-path", Path.Combine(dir, "artifacts"), $"-p:Version={version}");
        string tools = Path.Combine(dir, "tools");
        Dotnet("tool", "install", "Ferry.Cli", "--tool-path", tools, "--add-source", feed, "--version", version);

        var checks = new Checks(_log);
        string ferry = Path.Combine(tools, "ferry");
        checks.True(File.Exists(ferry), "dotnet tool install puts a ferry command in the tool path");
        SaysItsVersion(checks, ferry, version, "the dotnet tool");
        RunsTheMainJob(checks, ferry, dir, "the dotnet tool");
        checks.ThrowIfAny("the dotnet tool");
    }
}
