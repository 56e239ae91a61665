using System.Diagnostics;
using Ferry.Interop.Tests.Fixture;
using Ferry.Interop.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Ferry.Interop.Tests.Tests;

/// <summary>
/// The docker-daemon bridge (issue 5) against the real docker 20.10 daemon that .ci/run starts, and against podman's
/// Docker-compatible service on a temp socket: `ferry load` of every kind of archive, `ferry save`, and
/// `ferry copy docker-daemon:…`. Before each load the images are removed, so docker must really apply every layer.
/// </summary>
[Collection(InteropCollection.Name)]
public sealed class DaemonTests(InteropFixture fixture, ITestOutputHelper output) : InteropTest(fixture, output)
{

    public static TheoryData<string> LoadSources => new() { Sources.PodmanOci, Sources.SkopeoZstd, Sources.CtrExport, Sources.DockerMulti, Sources.PodmanMulti, Sources.SkopeoDir };

    /// <summary>`ferry load X` into docker 20.10 gives every image with its names, ID and diff_ids, whatever X's format.</summary>
    [InteropTheory(Tool.Docker, Tool.Podman, Tool.Skopeo, Tool.Containerd)]
    [MemberData(nameof(LoadSources))]
    public void Ferry_load_into_docker(string key)
    {
        var src = _fx.Source(_run, key);
        var checks = new Checks(_log);
        _fx.WipeDocker(_run);
        var r = _run.Ferry("load", src.Path, "--progress", "none");
        if (checks.True(r.Ok, $"ferry load {src.Path} failed: {LoaderChecks.Short(r)}"))
        {
            var printed = LoaderChecks.Lines(r.Stderr, "Loaded image: ").Select(ImageNames.Normalize).ToList();
            foreach (var e in LoaderChecks.ById(src.Images))
            {
                if (e.Names.Count == 0)
                {
                    LoaderChecks.Compare(checks, "docker", e.Id, e, Engines.DockerInspect(_run, e.Id), compareNames: false);
                    continue;
                }
                foreach (var n in e.Names)
                {
                    checks.True(printed.Contains(n, StringComparer.Ordinal), $"ferry load did not print 'Loaded image: {n}'");
                    LoaderChecks.Compare(checks, "docker", n, e, Engines.DockerInspect(_run, n), compareNames: true);
                }
            }
        }
        checks.ThrowIfAny($"ferry load {key} into docker");
    }

    /// <summary>`ferry save` output (portable) loads in podman with docker's ID, and skopeo reads it.</summary>
    [InteropFact(Tool.Docker, Tool.Podman, Tool.Skopeo)]
    public void Ferry_save_loads_in_podman_and_skopeo()
    {
        var src = _fx.Source(_run, Sources.DockerOne);
        var image = src.Images.Single();
        string name = image.Names.Single();
        _fx.WipeDocker(_run);
        _run.MustDocker("load", "-i", src.Path);
        string saved = Path.Combine(_fx.Scratch("daemon-save"), "saved.tar");
        _run.MustFerry("save", name, "-o", saved);
        var checks = new Checks(_log);
        _fx.WipePodman(_run);
        var load = _run.Podman("load", "-i", saved);
        if (checks.True(load.Ok, $"podman load of ferry save output failed: {LoaderChecks.Short(load)}"))
            LoaderChecks.Compare(checks, "podman", name, image, Engines.PodmanInspect(_run, name), compareNames: true);
        var config = _run.Skopeo("inspect", "--raw", "--config", $"oci-archive:{saved}:{name}");
        if (checks.True(config.Ok, $"skopeo inspect of ferry save output failed: {LoaderChecks.Short(config)}"))
            checks.Equal(image.Id, "sha256:" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(config.Stdout))), "sha256 of the config skopeo reads");
        checks.ThrowIfAny("ferry save → podman load, skopeo inspect");
    }

    /// <summary>`ferry copy docker-daemon:NAME oci-archive:x.tar` keeps the config bytes: the image ID is docker's.</summary>
    [InteropFact(Tool.Docker)]
    public void Copy_from_docker_daemon_keeps_config_bytes()
    {
        var src = _fx.Source(_run, Sources.DockerOne);
        var image = src.Images.Single();
        _fx.WipeDocker(_run);
        _run.MustDocker("load", "-i", src.Path);
        string x = Path.Combine(_fx.Scratch("daemon-copy"), "x.tar");
        _run.MustFerry("copy", "docker-daemon:" + image.Names.Single(), "oci-archive:" + x);
        var inspect = _run.MustFerry("inspect", "--json", x);
        var checks = new Checks(_log);
        checks.True(inspect.Stdout.Contains($"\"imageId\": \"{image.Id}\"", StringComparison.Ordinal), $"ferry inspect of the copy does not show image ID {image.Id}");
        checks.True(_run.Ferry("verify", x).Ok, "ferry verify of the copy failed");
        checks.ThrowIfAny("ferry copy docker-daemon:NAME oci-archive:x.tar");
    }

    /// <summary>The daemon's address is reported in every error: unreachable, image not found.</summary>
    [InteropFact(Tool.Docker)]
    public void Daemon_errors_are_one_line_naming_the_address()
    {
        var checks = new Checks(_log);
        var unreachable = _run.Ferry("load", Corpus.Find("gcr-test-image-1/test_image_1.tar", _log), "--host", "unix:///nonexistent/docker.sock");
        checks.True(unreachable.ExitCode == 1 && unreachable.Stderr.Contains("unix:///nonexistent/docker.sock", StringComparison.Ordinal),
            $"unreachable daemon: exit {unreachable.ExitCode}, {unreachable.Stderr}");
        var missing = _run.Ferry("save", "ferry-interop/does-not-exist:1", "-o", Path.Combine(_fx.Scratch("daemon-missing"), "x.tar"));
        checks.True(missing.ExitCode == 5 && missing.Stderr.Contains(Tool.DockerHost!, StringComparison.Ordinal),
            $"missing image: exit {missing.ExitCode}, {missing.Stderr}");
        checks.True(!File.Exists(Path.Combine(_fx.Scratch("daemon-missing"), "x.tar")), "ferry save of a missing image left a file");
        checks.ThrowIfAny("daemon errors");
    }

    /// <summary>podman's Docker-compatible service on a temp socket takes `ferry load --host` too.</summary>
    [InteropFact(Tool.Podman, Tool.Skopeo)]
    public void Ferry_load_into_podman_service()
    {
        var src = _fx.Source(_run, Sources.SkopeoZstd);
        string dir = _fx.Scratch("podman-service");
        string socket = Path.Combine(dir, "podman.sock");
        var (file, prefix) = Tool.Command(Tool.Podman);
        var psi = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in prefix)
            psi.ArgumentList.Add(a);
        foreach (var a in new[] { "system", "service", "--time=0", "unix://" + socket })
            psi.ArgumentList.Add(a);
        using var service = Process.Start(psi)!;
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (!File.Exists(socket) && DateTime.UtcNow < deadline && !service.HasExited)
                Thread.Sleep(100);
            if (!File.Exists(socket))
                throw new InteropException($"podman system service did not create {socket}: {(service.HasExited ? service.StandardError.ReadToEnd() : "timeout")}");
            _fx.WipePodman(_run);
            var r = _run.Ferry("load", src.Path, "--host", "unix://" + socket, "--progress", "none");
            var checks = new Checks(_log);
            if (checks.True(r.Ok, $"ferry load into podman's service failed: {LoaderChecks.Short(r)}"))
            {
                foreach (var e in LoaderChecks.ById(src.Images))
                {
                    foreach (var n in e.Names)
                        LoaderChecks.Compare(checks, "podman", n, e, Engines.PodmanInspect(_run, n), compareNames: false);
                }
            }
            checks.ThrowIfAny("ferry load into podman system service");
        }
        finally
        {
            try
            {
                service.Kill(entireProcessTree: true);
                service.WaitForExit(10_000);
            }
            catch (InvalidOperationException)
            {
            }
        }
    }
}
