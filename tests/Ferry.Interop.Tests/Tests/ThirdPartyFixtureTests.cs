using Ferry.Interop.Tests.Fixture;
using Ferry.Interop.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Ferry.Interop.Tests.Tests;

/// <summary>
/// Archives written by other tools and eras (docker 25 save, bazel rules_docker, legacy pre-1.10 saves, docker 1.13):
/// docker 20.10 loads each original; ferry's portable conversion must load in docker, podman and containerd with the
/// image IDs, diff_ids and names docker gave the original (podman rejects some of the originals: the conversion fixes that).
/// </summary>
[Collection(InteropCollection.Name)]
public sealed class ThirdPartyFixtureTests(InteropFixture fixture, ITestOutputHelper output) : InteropTest(fixture, output)
{

    [InteropTheory(Tool.Docker, Tool.Podman, Tool.Containerd)]
    [InlineData("moby-emptylayer-legacy/emptyLayer.tar")]
    [InlineData("gcr-hello-world-v25/hello-world-v25.tar")]
    [InlineData("gcr-test-link/test_link.tar")]
    [InlineData("gcr-no-manifest/no_manifest.tar")]
    [InlineData("gcr-test-image-1/test_image_1.tar")]
    [InlineData("cimage-almostempty/almostempty.tar")]
    public void Portable_conversion_loads_everywhere_with_the_ids_docker_gives_the_original(string fixture)
    {
        string original = Corpus.Find(fixture, _log);
        var expected = ExpectedFromDockerLoad(original);
        _log.Line("docker's view of the original:\n" + string.Join("\n", expected.Select(e => "  " + e)));

        string portable = Path.Combine(_fx.Scratch("third-party"), Path.GetFileNameWithoutExtension(fixture) + ".portable.tar");
        _run.MustFerry("copy", original, portable);
        var checks = new Checks(_log);
        checks.Equal(0, _run.Ferry("verify", portable).ExitCode, "ferry verify exit code");
        LoaderChecks.DockerLoad(_fx, _run, checks, portable, expected);
        LoaderChecks.PodmanLoad(_fx, _run, checks, portable, Sources.Portable, expected);
        LoaderChecks.ContainerdImport(_fx, _run, checks, portable, expected);
        checks.ThrowIfAny($"ferry's portable conversion of {fixture}");
    }

    /// <summary>
    /// Loads <paramref name="archive"/> into an emptied docker and records the images it reports ("Loaded image: NAME",
    /// "Loaded image ID: ID"); the legacy loader prints nothing, so then every new tagged image counts.
    /// </summary>
    private List<ExpectedImage> ExpectedFromDockerLoad(string archive)
    {
        _fx.WipeDocker(_run);
        var load = _run.Must(Tool.Docker, ["load", "-i", archive]);
        var loadedIds = LoaderChecks.Lines(load.Stdout, "Loaded image ID: ").ToList();
        var references = LoaderChecks.Lines(load.Stdout, "Loaded image: ").Concat(loadedIds).ToList();
        if (references.Count == 0)
        {
            var keep = _fx.DockerKeep(_run);
            references = [.. Engines.ListIds(_run, Tool.Docker).Where(i => !keep.Contains(i)).Order(StringComparer.Ordinal)];
        }
        var byId = new Dictionary<string, ExpectedImage>(StringComparer.Ordinal);
        foreach (var reference in references)
        {
            var state = Engines.DockerInspect(_run, reference) ?? throw new InteropException($"docker cannot inspect {reference} after loading {archive}");
            bool untaggedLoad = loadedIds.Contains(reference, StringComparer.Ordinal) && state.Names.Count == 0;
            if (state.Names.Count > 0 || untaggedLoad)
                byId[state.Id] = new ExpectedImage(state.Id, state.Names, state.DiffIds);
        }
        if (byId.Count == 0)
            throw new InteropException($"docker load of {archive} created no tagged image and printed no image ID");
        return [.. byId.Values];
    }
}
