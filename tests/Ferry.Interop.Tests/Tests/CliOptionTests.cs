using System.Formats.Tar;
using Ferry.Interop.Tests.Fixture;
using Ferry.Interop.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Ferry.Interop.Tests.Tests;

/// <summary>The copy options (--image, --tag, DEST:NAME, --compress) and the exit codes, on real tool-made archives.</summary>
[Collection(InteropCollection.Name)]
public sealed class CliOptionTests(InteropFixture fixture, ITestOutputHelper output) : InteropTest(fixture, output)
{

    [InteropFact(Tool.Docker, Tool.Podman)]
    public void Image_selector_copies_only_that_image()
    {
        var src = _fx.Source(_run, Sources.DockerMulti);
        string other = ImageNames.Normalize(InteropFixture.DockerOther);
        var want = src.Images.Single(i => i.Names.Contains(other, StringComparer.Ordinal));
        string y = Path.Combine(_fx.Scratch("image-selector"), "y.tar");
        _run.MustFerry("copy", src.Path, y, "--image", InteropFixture.DockerOther);

        var checks = new Checks(_log);
        LoaderChecks.DockerLoad(_fx, _run, checks, y, [want]);
        LoaderChecks.PodmanLoad(_fx, _run, checks, y, Sources.Portable, [want]);
        checks.ThrowIfAny($"ferry copy --image {InteropFixture.DockerOther}");
    }

    [InteropFact(Tool.Docker, Tool.Podman)]
    public void Tag_option_adds_a_name_docker_and_podman_load()
    {
        const string extra = "example.com/ferry/renamed:7";
        var src = _fx.Source(_run, Sources.DockerOne);
        var image = src.Images.Single();
        var want = image with { Names = ImageNames.NormalizeAll([.. image.Names, extra]) };
        string y = Path.Combine(_fx.Scratch("tag"), "y.tar");
        _run.MustFerry("copy", src.Path, y, "--tag", extra);

        var checks = new Checks(_log);
        LoaderChecks.DockerLoad(_fx, _run, checks, y, [want]);
        LoaderChecks.PodmanLoad(_fx, _run, checks, y, Sources.Portable, [want]);
        checks.ThrowIfAny($"ferry copy --tag {extra}");
    }

    [InteropFact(Tool.Docker, Tool.Skopeo)]
    public void Destination_name_renames_the_image()
    {
        var src = _fx.Source(_run, Sources.DockerOne);
        var image = src.Images.Single();
        string y = Path.Combine(_fx.Scratch("dest-name"), "y.tar");
        _run.MustFerry("copy", src.Path, $"docker-archive:{y}:renamed:3");

        var want = image with { Names = [ImageNames.Normalize("renamed:3")] };
        var checks = new Checks(_log);
        LoaderChecks.DockerLoad(_fx, _run, checks, y, [want]);
        LoaderChecks.SkopeoRead(_fx, _run, checks, y, Sources.DockerArchive, [want]);
        checks.ThrowIfAny("ferry copy SRC docker-archive:y.tar:renamed:3");
    }

    /// <summary>--compress rewrites layers but keeps the config, so the image ID and diff_ids stay; loaders accept the result.</summary>
    [InteropTheory(Tool.Docker, Tool.Podman, Tool.Skopeo, Tool.Umoci)]
    [InlineData(Sources.DockerOne, "gzip", Sources.Portable, "gzip")]
    [InlineData(Sources.DockerOne, "zstd", Sources.OciArchive, "zstd")]
    [InlineData(Sources.SkopeoGzip, "none", Sources.DockerArchive, "none")]
    [InlineData(Sources.SkopeoZstd, "gzip", Sources.Oci, "gzip")]
    public void Compress_option_changes_layers_but_keeps_ids(string source, string compress, string format, string expectedCompression)
    {
        var src = _fx.Source(_run, source);
        string y = Path.Combine(_fx.Scratch($"compress-{compress}"), format == Sources.Oci ? "y" : "y.tar");
        _run.MustFerry("copy", src.Path, y, "--format", format, "--compress", compress);

        var checks = new Checks(_log);
        checks.Equal(0, _run.Ferry("verify", y).ExitCode, "ferry verify exit code");
        var inspect = _run.MustFerry("inspect", y, "--json");
        using (var doc = JsonUtil.Parse(inspect.Stdout, "ferry inspect --json"))
        {
            foreach (var m in doc.RootElement.Prop("images").Items().SelectMany(i => i.Prop("manifests").Items()))
            {
                string id = m.Str("imageId") ?? "";
                checks.True(src.Images.Any(i => i.Id == id), $"image ID {id} of the output is not the source's");
                foreach (var l in m.Prop("layers").Items())
                    checks.Equal(expectedCompression, l.Str("compression"), $"compression of layer {l.Str("digest")}");
            }
        }
        switch (format)
        {
            case Sources.Portable:
                LoaderChecks.DockerLoad(_fx, _run, checks, y, src.Images);
                LoaderChecks.PodmanLoad(_fx, _run, checks, y, format, src.Images);
                break;
            case Sources.DockerArchive:
                LoaderChecks.DockerLoad(_fx, _run, checks, y, src.Images);
                LoaderChecks.SkopeoRead(_fx, _run, checks, y, format, src.Images);
                break;
            case Sources.OciArchive:
                LoaderChecks.PodmanLoad(_fx, _run, checks, y, format, src.Images);
                LoaderChecks.SkopeoRead(_fx, _run, checks, y, format, src.Images);
                break;
            default:
                LoaderChecks.UmociUnpack(_fx, _run, checks, y, src.Images);
                LoaderChecks.PodmanLoad(_fx, _run, checks, y, format, src.Images);
                break;
        }
        checks.ThrowIfAny($"ferry copy {source} --format {format} --compress {compress}");
    }

    [InteropFact(Tool.Docker)]
    public void Exit_codes_on_real_archives()
    {
        var src = _fx.Source(_run, Sources.DockerOne);
        string dir = _fx.Scratch("exit-codes");
        var checks = new Checks(_log);

        void Expect(int code, string what, params string[] args)
        {
            var r = _run.Ferry(args);
            checks.Equal(code, r.ExitCode, $"exit code of `ferry {Proc.Quote(args)}` ({what})");
        }

        string corrupt = Path.Combine(dir, "corrupt-layer.tar");
        FlipByteInLargestLayer(src.Path, corrupt);
        string truncated = Path.Combine(dir, "truncated.tar");
        using (var input = File.OpenRead(src.Path))
        using (var output = File.Create(truncated))
        {
            var buf = new byte[input.Length / 2];
            input.ReadExactly(buf);
            output.Write(buf);
        }

        Expect(0, "ok", "copy", src.Path, Path.Combine(dir, "ok.tar"));
        Expect(0, "ok", "verify", src.Path);
        Expect(4, "a layer's bytes do not match its digest", "copy", corrupt, Path.Combine(dir, "from-corrupt.tar"));
        checks.True(!File.Exists(Path.Combine(dir, "from-corrupt.tar")), "a failed copy left its output file behind");
        Expect(1, "verify finds the corrupt layer", "verify", corrupt);
        Expect(3, "truncated archive", "copy", truncated, Path.Combine(dir, "from-truncated.tar"));
        Expect(5, "no such image", "copy", src.Path, Path.Combine(dir, "none.tar"), "--image", "no-such-image:1");
        Expect(5, "no such source", "copy", Path.Combine(dir, "does-not-exist.tar"), Path.Combine(dir, "x.tar"));
        Expect(6, "output directory does not exist", "copy", src.Path, Path.Combine(dir, "no-such-dir", "x.tar"));
        Expect(6, "output is the input", "copy", Path.Combine(dir, "ok.tar"), Path.Combine(dir, "ok.tar"));
        Expect(2, "bad usage", "copy", src.Path);
        Expect(2, "unknown format", "copy", src.Path, Path.Combine(dir, "x.tar"), "--format", "zip");

        // Sanity: docker itself rejects the corrupted archive too (so the corruption is real).
        _fx.WipeDocker(_run);
        var load = _run.Docker("load", "-i", corrupt);
        checks.True(!load.Ok, "docker load accepted the corrupted archive");
        checks.ThrowIfAny("ferry exit codes");
    }

    /// <summary>Copies a tar, flipping one byte in the middle of its largest layer.tar member.</summary>
    private static void FlipByteInLargestLayer(string from, string to)
    {
        string? largest = null;
        long size = -1;
        using (var fs = File.OpenRead(from))
        using (var reader = new TarReader(fs))
        {
            while (reader.GetNextEntry() is { } e)
            {
                if ((e.EntryType is TarEntryType.RegularFile or TarEntryType.V7RegularFile) && e.Length > size)
                {
                    largest = e.Name;
                    size = e.Length;
                }
            }
        }
        using var input = File.OpenRead(from);
        using var tarIn = new TarReader(input);
        using var output = File.Create(to);
        using var tarOut = new TarWriter(output, leaveOpen: false);
        while (tarIn.GetNextEntry(copyData: true) is { } e)
        {
            if (e.Name == largest && e.DataStream is { } data)
            {
                var bytes = new byte[e.Length];
                data.ReadExactly(bytes);
                bytes[bytes.Length / 2] ^= 0xFF;
                e.DataStream = new MemoryStream(bytes);
            }
            tarOut.WriteEntry(e);
        }
    }
}
