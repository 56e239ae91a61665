using Ferry.Interop.Tests.Fixture;
using Ferry.Interop.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Ferry.Interop.Tests.Tests;

/// <summary>The named scenarios of the issue's "Done when" list.</summary>
[Collection(InteropCollection.Name)]
public sealed class ScenarioTests(InteropFixture fixture, ITestOutputHelper output) : InteropTest(fixture, output)
{
    private const string LegacyName = "matthughes/library-centos:6-2015.03.20";
    private const string LegacyRelative = "moby-emptylayer-legacy/emptyLayer.tar";

    /// <summary>(a) podman's oci-archive of docker.io/library/ubuntu:20.04 → `ferry copy x.tar y.tar` → docker load says ubuntu:20.04, same ID as podman's.</summary>
    [InteropFact(Tool.Podman, Tool.Docker)]
    public void A_podman_oci_archive_of_ubuntu_loads_in_docker_with_name_and_podman_id()
    {
        var src = _fx.Source(_run, Sources.PodmanOci);
        var podmanImage = src.Images.Single();
        string y = Path.Combine(_fx.Scratch("scenario-a"), "y.tar");
        _run.MustFerry("copy", src.Path, y);

        var checks = new Checks(_log);
        _fx.WipeDocker(_run);
        var load = _run.Docker("load", "-i", y);
        if (checks.True(load.Ok, $"docker load -i y.tar failed: {LoaderChecks.Short(load)}"))
        {
            checks.True(load.Stdout.Split('\n').Select(l => l.Trim()).Contains("Loaded image: ubuntu:20.04", StringComparer.Ordinal),
                $"docker load printed '{load.Stdout.Trim()}', not 'Loaded image: ubuntu:20.04'");
            var state = Engines.DockerInspect(_run, "ubuntu:20.04");
            LoaderChecks.Compare(checks, "docker", "ubuntu:20.04", podmanImage, state, compareNames: true);
        }
        checks.ThrowIfAny("scenario (a): podman oci-archive ubuntu:20.04 → ferry copy → docker load");
    }

    /// <summary>(b) docker's save → `ferry copy --format oci-archive` → podman load keeps the name and the ID.</summary>
    [InteropFact(Tool.Docker, Tool.Podman)]
    public void B_docker_save_to_oci_archive_loads_in_podman_with_name_and_id()
    {
        var src = _fx.Source(_run, Sources.DockerOne);
        var image = src.Images.Single();
        string name = image.Names.Single();
        string y = Path.Combine(_fx.Scratch("scenario-b"), "y.tar");
        _run.MustFerry("copy", "--format", "oci-archive", src.Path, y);

        var checks = new Checks(_log);
        _fx.WipePodman(_run);
        var load = _run.Podman("load", "-i", y);
        if (checks.True(load.Ok, $"podman load -i y.tar failed: {LoaderChecks.Short(load)}"))
        {
            checks.True(LoaderChecks.Lines(load.Stdout, "Loaded image: ").Contains(name, StringComparer.Ordinal),
                $"podman load printed '{load.Stdout.Trim()}', not 'Loaded image: {name}'");
            LoaderChecks.Compare(checks, "podman", name, image, Engines.PodmanInspect(_run, name), compareNames: true);
        }
        checks.ThrowIfAny("scenario (b): docker save → ferry copy --format oci-archive → podman load");
    }

    /// <summary>
    /// (c) the legacy (pre-1.10) moby fixture: docker's ID for it equals ferry inspect's imageId, and ferry's portable
    /// conversion loads in docker with that ID.
    /// </summary>
    [InteropFact(Tool.Docker)]
    public void C_legacy_emptylayer_fixture_has_dockers_id_and_portable_loads_with_it()
    {
        string legacy = Corpus.Find(LegacyRelative, _log);
        var checks = new Checks(_log);

        _fx.WipeDocker(_run);
        _run.Must(Tool.Docker, ["load", "-i", legacy]); // the legacy loader prints nothing
        var original = Engines.DockerInspect(_run, LegacyName)
            ?? throw new InteropException($"docker load of {legacy} did not create {LegacyName}");

        var inspect = _run.MustFerry("inspect", legacy, "--json");
        using (var doc = JsonUtil.Parse(inspect.Stdout, "ferry inspect --json"))
        {
            var images = doc.RootElement.Prop("images").Items().ToList();
            checks.Equal(1, images.Count, "images in ferry inspect of the legacy fixture");
            var ids = images.SelectMany(i => i.Prop("manifests").Items()).Select(m => m.Str("imageId")).ToList();
            checks.Equal(original.Id, ids.FirstOrDefault(), "ferry inspect imageId vs docker's image ID");
            var names = images.SelectMany(i => i.Prop("names").Strings()).Select(ImageNames.Normalize).ToList();
            checks.True(names.Contains(ImageNames.Normalize(LegacyName), StringComparer.Ordinal), $"ferry inspect names [{string.Join(", ", names)}] lack {LegacyName}");
        }

        string portable = Path.Combine(_fx.Scratch("scenario-c"), "legacy-portable.tar");
        _run.MustFerry("copy", legacy, portable);
        var verify = _run.Ferry("verify", portable);
        checks.Equal(0, verify.ExitCode, "ferry verify of the portable conversion");
        var expected = new ExpectedImage(original.Id, [ImageNames.Normalize(LegacyName)], original.DiffIds);
        LoaderChecks.DockerLoad(_fx, _run, checks, portable, [expected]);
        checks.ThrowIfAny($"scenario (c): legacy fixture {legacy}");
    }

    /// <summary>(d) `cat x.tar | ferry copy - - &gt; y.tar` (a real pipe, ferry as a child process) gives a tar docker loads.</summary>
    [InteropFact(Tool.Docker)]
    public void D_stdin_to_stdout_pipe_gives_a_tar_docker_loads()
    {
        var src = _fx.Source(_run, Sources.DockerMulti);
        string y = Path.Combine(_fx.Scratch("scenario-d"), "y.tar");
        string script = $"cat {Proc.QuoteWord(src.Path)} | {FerryCli.ShellCommand("copy - -")} > {Proc.QuoteWord(y)}";
        var r = _run.Raw("/bin/sh", ["-c", script], display: "sh -c " + Proc.QuoteWord(script));

        var checks = new Checks(_log);
        checks.Equal(0, r.ExitCode, "exit code of `cat x.tar | ferry copy - - > y.tar`");
        checks.True(File.Exists(y) && new FileInfo(y).Length > 0, "y.tar is empty");
        checks.True(r.Stderr.Contains("Copied 2 images", StringComparison.Ordinal), "ferry's summary (on stderr when writing to stdout) does not say 'Copied 2 images'");
        if (checks.Count == 0)
        {
            var verify = _run.Ferry("verify", y);
            checks.Equal(0, verify.ExitCode, "ferry verify y.tar");
            LoaderChecks.DockerLoad(_fx, _run, checks, y, src.Images);
        }
        checks.ThrowIfAny("scenario (d): cat x.tar | ferry copy - - > y.tar; docker load -i y.tar");
    }

    /// <summary>(e) ferry copy of docker's save twice (a second apart) gives byte-identical output, in every format.</summary>
    [InteropTheory(Tool.Docker)]
    [InlineData(Sources.Portable)]
    [InlineData(Sources.DockerArchive)]
    [InlineData(Sources.OciArchive)]
    [InlineData(Sources.Oci)]
    public void E_copying_docker_save_twice_is_byte_identical(string format)
    {
        var src = _fx.Source(_run, Sources.DockerMulti);
        string dir = _fx.Scratch("scenario-e-" + format);
        string first = Path.Combine(dir, "first");
        string second = Path.Combine(dir, "second");
        _run.MustFerry("copy", "--format", format, src.Path, first);
        Thread.Sleep(TimeSpan.FromSeconds(1.1)); // a clock-dependent field would now differ
        _run.MustFerry("copy", "--format", format, src.Path, second);

        var checks = new Checks(_log);
        if (Directory.Exists(first))
        {
            var a = Tree(first);
            var b = Tree(second);
            checks.Sequence(a.Keys, b.Keys, "files of the two OCI layouts");
            foreach (var (rel, hash) in a)
                checks.Equal(hash, b.GetValueOrDefault(rel), $"sha256 of {rel}");
        }
        else
        {
            string h1 = JsonUtil.Sha256(File.ReadAllBytes(first));
            string h2 = JsonUtil.Sha256(File.ReadAllBytes(second));
            _log.Line($"sha256 first={h1} second={h2}");
            checks.Equal(h1, h2, "sha256 of the two outputs");
        }
        checks.ThrowIfAny($"scenario (e): ferry copy --format {format} twice");
    }

    /// <summary>(f) skopeo's zstd oci-archive → portable → docker 20.10 loads it (ferry turns the zstd layers into gzip).</summary>
    [InteropFact(Tool.Docker, Tool.Skopeo)]
    public void F_zstd_oci_archive_to_portable_loads_in_docker_20_10()
    {
        var src = _fx.Source(_run, Sources.SkopeoZstd);
        string y = Path.Combine(_fx.Scratch("scenario-f"), "y.tar");
        _run.MustFerry("copy", src.Path, y);

        var checks = new Checks(_log);
        var inspect = _run.MustFerry("inspect", y, "--json");
        using (var doc = JsonUtil.Parse(inspect.Stdout, "ferry inspect --json"))
        {
            var layers = doc.RootElement.Prop("images").Items().SelectMany(i => i.Prop("manifests").Items())
                .SelectMany(m => m.Prop("layers").Items()).ToList();
            checks.True(layers.Count > 0, "no layers in ferry inspect of the output");
            foreach (var l in layers)
            {
                checks.Equal("gzip", l.Str("compression"), $"compression of layer {l.Str("digest")}");
                checks.True(l.Str("mediaType")?.Contains("zstd", StringComparison.Ordinal) != true, $"layer {l.Str("digest")} still has media type {l.Str("mediaType")}");
            }
        }
        LoaderChecks.DockerLoad(_fx, _run, checks, y, src.Images);
        checks.ThrowIfAny("scenario (f): skopeo zstd oci-archive → ferry copy (portable) → docker load");
    }

    private static SortedDictionary<string, string> Tree(string dir)
    {
        var map = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var f in Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories))
            map[Path.GetRelativePath(dir, f)] = JsonUtil.Sha256(File.ReadAllBytes(f));
        return map;
    }
}
