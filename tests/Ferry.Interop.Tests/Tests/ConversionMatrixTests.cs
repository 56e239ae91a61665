using Ferry.Interop.Tests.Fixture;
using Ferry.Interop.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Ferry.Interop.Tests.Tests;

/// <summary>
/// Every source archive (made by docker, podman, skopeo, containerd) × every output format: ferry converts it, the
/// result verifies, and every loader that accepts the format loads it with the source's image IDs, diff_ids and names.
/// The conversion of a (source, format) pair is made once and shared by the loader tests.
/// </summary>
[Collection(InteropCollection.Name)]
public sealed class ConversionMatrixTests(InteropFixture fixture, ITestOutputHelper output) : InteropTest(fixture, output)
{

    public static TheoryData<string, string> AllFormats => Pairs(Sources.Formats);

    public static TheoryData<string, string> DockerFormats => Pairs([Sources.Portable, Sources.DockerArchive]);

    public static TheoryData<string, string> ContainerdFormats => Pairs([Sources.Portable, Sources.DockerArchive, Sources.OciArchive]);

    /// <summary>umoci selects images by ref name only, so the untagged source is left out.</summary>
    public static TheoryData<string> UmociSources => [.. Sources.All.Where(s => s != Sources.DockerUntagged)];

    private static TheoryData<string, string> Pairs(IReadOnlyList<string> formats)
    {
        var data = new TheoryData<string, string>();
        foreach (var s in Sources.All)
        {
            foreach (var f in formats)
                data.Add(s, f);
        }
        return data;
    }

    [InteropTheory(Tool.Docker, Tool.Podman, Tool.Skopeo, Tool.Containerd)]
    [MemberData(nameof(AllFormats))]
    public void Ferry_copy_verifies_and_keeps_ids_names_diffids(string source, string format)
    {
        var src = _fx.Source(_run, source);
        string output = _fx.Output(_run, source, format);
        var checks = new Checks(_log);

        var verify = _run.Ferry("verify", output);
        checks.Equal(0, verify.ExitCode, $"`ferry verify {output}` exit code");

        var outImages = FerryImages(checks, output);
        var srcImages = FerryImages(checks, src.Path);
        foreach (var e in LoaderChecks.ById(src.Images))
        {
            if (!checks.True(outImages.TryGetValue(e.Id, out var got), $"ferry inspect of the output has no image {e.Id}"))
                continue;
            checks.Set(e.Names, got!.Names, $"names of {e.Id} in the output");
            checks.Sequence(e.DiffIds, got.DiffIds, $"diff_ids of {e.Id} in the output");
            if (!srcImages.TryGetValue(e.Id, out var from))
            {
                checks.Fail($"ferry inspect of the source has no image {e.Id} (the producer reported it)");
                continue;
            }
            bool zstdIn = from.Compressions.Contains("zstd", StringComparer.Ordinal);
            if (format is Sources.Portable or Sources.DockerArchive)
            {
                checks.True(!got.Compressions.Contains("zstd", StringComparer.Ordinal),
                    $"{format} output of {e.Id} has zstd layers, which docker before 23.0 cannot load: [{string.Join(", ", got.Compressions)}]");
            }
            if (!zstdIn || format is Sources.OciArchive or Sources.Oci)
            {
                // --compress keep: the layer bytes are kept, so the layer digests too.
                checks.Sequence(from.LayerDigests, got.LayerDigests, $"layer digests of {e.Id} (--compress keep must keep layer bytes)");
            }
        }
        checks.Set(LoaderChecks.ById(src.Images).Select(i => i.Id), outImages.Keys, "image IDs in the output");
        checks.ThrowIfAny($"ferry copy {source} --format {format}");
    }

    [InteropTheory(Tool.Docker, Tool.Podman, Tool.Skopeo, Tool.Containerd)]
    [MemberData(nameof(DockerFormats))]
    public void Docker_load(string source, string format)
    {
        var src = _fx.Source(_run, source);
        string output = _fx.Output(_run, source, format);
        var checks = new Checks(_log);
        LoaderChecks.DockerLoad(_fx, _run, checks, output, src.Images);
        checks.ThrowIfAny($"docker load of ferry's {format} conversion of {source}");
    }

    /// <summary>Docker 26, classic store: loads portable and docker-archive outputs with names and config-digest IDs (as 20.10).</summary>
    [InteropTheory(Tool.Docker, Tool.Podman, Tool.Skopeo, Tool.Containerd, Tool.Docker26)]
    [MemberData(nameof(DockerFormats))]
    public void Docker26_classic_store_load(string source, string format)
    {
        var src = _fx.Source(_run, source);
        string output = _fx.Output(_run, source, format);
        var checks = new Checks(_log);
        LoaderChecks.DockerLoad(_fx, _run, checks, Tool.Docker26, output, src.Images);
        checks.ThrowIfAny($"docker 26 (classic store) load of ferry's {format} conversion of {source}");
    }

    /// <summary>The README's "no" for oci-archive in docker's classic store, checked on 20.10 and 26.</summary>
    [InteropTheory(Tool.Docker, Tool.Podman, Tool.Skopeo, Tool.Containerd, Tool.Docker26)]
    [InlineData(Sources.DockerOne, Tool.Docker)]
    [InlineData(Sources.PodmanOci, Tool.Docker26)]
    [InlineData(Sources.DockerMulti, Tool.Docker26)]
    public void Docker_classic_store_refuses_oci_archive(string source, string tool)
    {
        string output = _fx.Output(_run, source, Sources.OciArchive);
        var checks = new Checks(_log);
        LoaderChecks.DockerClassicRefusesOciArchive(_fx, _run, checks, tool, output);
        checks.ThrowIfAny($"{tool} load of ferry's oci-archive conversion of {source}");
    }

    /// <summary>Docker 26, containerd image store: loads portable, docker-archive and oci-archive outputs; the image ID is the index.json entry's digest (kept from the source).</summary>
    [InteropTheory(Tool.Docker, Tool.Podman, Tool.Skopeo, Tool.Containerd, Tool.Docker26Containerd)]
    [MemberData(nameof(ContainerdFormats))]
    public void Docker26_containerd_store_load(string source, string format)
    {
        var src = _fx.Source(_run, source);
        string output = _fx.Output(_run, source, format);
        var checks = new Checks(_log);
        LoaderChecks.DockerLoad(_fx, _run, checks, Tool.Docker26Containerd, output, src.Images);
        checks.ThrowIfAny($"docker 26 (containerd image store) load of ferry's {format} conversion of {source}");
    }

    [InteropTheory(Tool.Docker, Tool.Podman, Tool.Skopeo, Tool.Containerd)]
    [MemberData(nameof(AllFormats))]
    public void Podman_load(string source, string format)
    {
        var src = _fx.Source(_run, source);
        string output = _fx.Output(_run, source, format);
        var checks = new Checks(_log);
        LoaderChecks.PodmanLoad(_fx, _run, checks, output, format, src.Images);
        checks.ThrowIfAny($"podman load of ferry's {format} conversion of {source}");
    }

    [InteropTheory(Tool.Docker, Tool.Podman, Tool.Skopeo, Tool.Containerd)]
    [MemberData(nameof(AllFormats))]
    public void Skopeo_reads(string source, string format)
    {
        var src = _fx.Source(_run, source);
        string output = _fx.Output(_run, source, format);
        var checks = new Checks(_log);
        LoaderChecks.SkopeoRead(_fx, _run, checks, output, format, src.Images);
        checks.ThrowIfAny($"skopeo reading ferry's {format} conversion of {source}");
    }

    [InteropTheory(Tool.Docker, Tool.Podman, Tool.Skopeo, Tool.Containerd)]
    [MemberData(nameof(ContainerdFormats))]
    public void Containerd_import(string source, string format)
    {
        var src = _fx.Source(_run, source);
        string output = _fx.Output(_run, source, format);
        var checks = new Checks(_log);
        LoaderChecks.ContainerdImport(_fx, _run, checks, output, src.Images);
        checks.ThrowIfAny($"ctr images import of ferry's {format} conversion of {source}");
    }

    [InteropTheory(Tool.Docker, Tool.Podman, Tool.Skopeo, Tool.Containerd, Tool.Umoci)]
    [MemberData(nameof(UmociSources))]
    public void Umoci_unpacks_oci_layout(string source)
    {
        var src = _fx.Source(_run, source);
        string output = _fx.Output(_run, source, Sources.Oci);
        var checks = new Checks(_log);
        LoaderChecks.UmociUnpack(_fx, _run, checks, output, src.Images);
        checks.ThrowIfAny($"umoci reading ferry's oci conversion of {source}");
    }

    /// <summary>One image as `ferry inspect --json` describes it, merged by image ID.</summary>
    private sealed record FerryImage(List<string> Names, IReadOnlyList<string> DiffIds, IReadOnlyList<string> LayerDigests, IReadOnlyList<string> Compressions);

    private Dictionary<string, FerryImage> FerryImages(Checks checks, string path)
    {
        var result = new Dictionary<string, FerryImage>(StringComparer.Ordinal);
        var r = _run.Ferry("inspect", path, "--json");
        if (!checks.Equal(0, r.ExitCode, $"`ferry inspect {path} --json` exit code"))
            return result;
        using var doc = JsonUtil.Parse(r.Stdout, "ferry inspect --json");
        foreach (var image in doc.RootElement.Prop("images").Items())
        {
            var names = ImageNames.NormalizeAll(image.Prop("names").Strings());
            foreach (var m in image.Prop("manifests").Items())
            {
                string id = m.Str("imageId") ?? "";
                var layers = m.Prop("layers").Items().ToList();
                if (!result.TryGetValue(id, out var fi))
                {
                    fi = new FerryImage([], [.. layers.Select(l => l.Str("diffId") ?? "-")], [.. layers.Select(l => l.Str("digest") ?? "-")],
                        [.. layers.Select(l => l.Str("compression") ?? "-")]);
                    result[id] = fi;
                }
                fi.Names.AddRange(names.Where(n => !fi.Names.Contains(n, StringComparer.Ordinal)));
            }
        }
        return result;
    }
}
