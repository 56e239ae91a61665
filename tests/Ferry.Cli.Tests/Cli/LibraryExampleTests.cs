using Ferry.Copy;
using Ferry.Tests.TestSupport;
using Ferry.Transports;
using Ferry.Verify;

namespace Ferry.Tests.Cli;

/// <summary>The README's library example, run against the in-process registry and Engine API (so it cannot rot).</summary>
public sealed class LibraryExampleTests
{
    [Fact]
    public async Task ReadmeLibraryExampleWorks()
    {
        using var dir = new TempDir();
        using var engine = new FakeDockerEngine(containerdStore: false);
        using var registry = new FakeRegistry("user:password");
        string archive = dir.Path("app.tar");
        ImageBuilder.WriteDockerArchive(archive, [ImageBuilder.Image(71, 2, "gzip", "docker.io/library/app:1")]);
        await ImageCopier.CopyAsync(archive, "docker-daemon:", new CopyOptions { Destination = new TransportOptions { Daemon = new DaemonOptions { Host = engine.Host } } });

        var result = await ImageCopier.CopyAsync("docker-daemon:app:1", $"docker://{registry.Address}/app:1", new CopyOptions
        {
            Source = new TransportOptions { Daemon = new DaemonOptions { Host = engine.Host } },
            Destination = new TransportOptions { Registry = new() { Credentials = "user:password" } },
        });
        var image = Assert.Single(result.Images);
        Assert.Equal([$"{registry.Address}/app:1"], image.References);
        Assert.Equal(registry.Resolve("app", "1"), image.ManifestDigest.ToString());

        await ImageCopier.CopyAsync(archive, "oci-archive:" + dir.Path("app.oci.tar"), new CopyOptions());
        var reference = TransportRegistry.Default.Parse("oci-archive:" + dir.Path("app.oci.tar"));
        await using (var source = await reference.Transport.OpenSourceAsync(reference, new TransportOptions()))
            Assert.Equal("app:1", Assert.Single(source.Images).Label);

        var report = await ImageValidator.VerifyAsync(TransportRegistry.Default.Parse($"docker://{registry.Address}/app:1"),
            new TransportOptions { Registry = new() { Credentials = "user:password" } });
        Assert.True(report.Ok, string.Join("\n", report.Findings));
    }

    /// <summary>
    /// samples/LibraryExample builds against the packed Ferry.Core package (not the project: only what the package
    /// ships, public API, README and XML docs) and runs: list, copy with IProgress, verify.
    /// </summary>
    [Fact]
    public void PackedLibraryBuildsAndRunsTheSample()
    {
        string repo = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(repo, "Ferry.slnx")))
            repo = Path.GetDirectoryName(repo.TrimEnd('/')) ?? throw new InvalidOperationException("no Ferry.slnx above the test assembly");
        string configuration = AppContext.BaseDirectory.Contains("/Release/", StringComparison.Ordinal) ? "Release" : "Debug";
        using var dir = new TempDir();
        string version = $"0.0.0-test.{DateTime.UtcNow:yyyyMMddHHmmssfff}";
        Dotnet(repo, "pack", "src/Ferry.Core", "-c", configuration, "--no-build", "-o", dir.Path("feed"), $"-p:Version={version}", "-p:PackageVersion=" + version);
        string nupkg = Path.Combine(dir.Path("feed"), $"Ferry.Core.{version}.nupkg");
        Assert.True(File.Exists(nupkg), string.Join(", ", Directory.GetFiles(dir.Path("feed"))));
        Assert.True(File.Exists(Path.ChangeExtension(nupkg, ".snupkg")), "no symbols package");
        using (var zip = System.IO.Compression.ZipFile.OpenRead(nupkg))
        {
            var entries = zip.Entries.Select(e => e.FullName).ToList();
            Assert.Contains("README.md", entries);
            Assert.Contains("lib/net10.0/Ferry.Core.dll", entries);
            Assert.Contains("lib/net10.0/Ferry.Core.xml", entries);
        }
        Dotnet(repo, "build", "samples/LibraryExample", "-c", "Release", "--artifacts-path", dir.Path("artifacts"),
            $"-p:FerryCoreVersion={version}", $"-p:RestoreAdditionalProjectSources={dir.Path("feed")}");
        string dll = Directory.GetFiles(dir.Path("artifacts"), "LibraryExample.dll", SearchOption.AllDirectories).Single(f => f.Contains("/bin/", StringComparison.Ordinal));
        var run = Dotnet(repo, dll, Corpus.Path("samples/ferry-sample.tar"), dir.Path("out.tar"));
        Assert.Contains("ferry-sample:1.0  sha256:", run, StringComparison.Ordinal);
        Assert.Contains("copied 1 image(s) to", run, StringComparison.Ordinal);
        Assert.Contains("verified: 1 image(s)", run, StringComparison.Ordinal);
        Assert.Equal(F.Summary(Corpus.Path("samples/ferry-sample.tar")), F.Summary(dir.Path("out.tar")));
    }

    private static string Dotnet(string workingDirectory, params string[] args)
    {
        var psi = new System.Diagnostics.ProcessStartInfo(FerryProcess.Dotnet) { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        using var p = System.Diagnostics.Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(TimeSpan.FromMinutes(5)), $"dotnet {string.Join(' ', args)} did not finish");
        Assert.True(p.ExitCode == 0, $"dotnet {string.Join(' ', args)}: exit {p.ExitCode}\n{stdout}\n{stderr.Result}");
        return stdout;
    }
}
