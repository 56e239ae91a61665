using Ferry.Transports;
using Ferry.Copy;
using Ferry.Tests.TestSupport;

namespace Ferry.Tests.Copy;

public class CopyTests
{
    private static readonly TestImage App = ImageBuilder.Image(1, 2, "none", "docker.io/library/app:1.0", "docker.io/library/app:latest");
    private static readonly TestImage Other = ImageBuilder.Image([App.Layers[0], ImageBuilder.Layer(77)], 2, "quay.io/x/other:2");

    private static string DockerArchive(TempDir dir, params TestImage[] images)
    {
        string p = dir.Path("src.tar");
        ImageBuilder.WriteDockerArchive(p, images.Length == 0 ? [App, Other] : images, new ImageBuilder.DockerStyle { SymlinkLayers = true });
        return p;
    }

    [Fact]
    public void PortableHasBothIndexSetsAndBlobsOnce()
    {
        using var dir = new TempDir();
        F.Copy(DockerArchive(dir), dir.Path("out.tar"));
        var files = ImageBuilder.ReadTar(dir.Path("out.tar"));
        Assert.Contains("oci-layout", files.Keys);
        Assert.Contains("index.json", files.Keys);
        Assert.Contains("manifest.json", files.Keys);
        Assert.Contains("repositories", files.Keys);
        // 3 distinct layers (one shared), 2 configs, 2 manifests.
        Assert.Equal(7, files.Keys.Count(k => k.StartsWith("blobs/sha256/", StringComparison.Ordinal)));
        Assert.Equal(App.Config, files["blobs/sha256/" + App.ImageId[7..]]);
        string manifest = System.Text.Encoding.UTF8.GetString(files["manifest.json"]);
        Assert.Contains("\"RepoTags\":[\"docker.io/library/app:1.0\",\"docker.io/library/app:latest\"]", manifest);
        Assert.Contains("\"Config\":\"blobs/sha256/" + App.ImageId[7..] + "\"", manifest);
        string index = System.Text.Encoding.UTF8.GetString(files["index.json"]);
        Assert.Contains("\"io.containerd.image.name\":\"quay.io/x/other:2\",\"org.opencontainers.image.ref.name\":\"quay.io/x/other:2\"", index);
    }

    [Theory]
    [InlineData(OutputFormat.Portable)]
    [InlineData(OutputFormat.DockerArchive)]
    [InlineData(OutputFormat.OciArchive)]
    [InlineData(OutputFormat.Oci)]
    public void EveryFormatKeepsImageIdsDiffIdsAndNames(OutputFormat format)
    {
        using var dir = new TempDir();
        string src = DockerArchive(dir);
        string dst = dir.Path(format == OutputFormat.Oci ? "out" : "out.tar");
        F.Copy(src, dst, format);
        Assert.Equal(F.Summary(src), F.Summary(dst));
        F.AssertValid(dst);
    }

    [Theory]
    [InlineData(OutputFormat.Portable)]
    [InlineData(OutputFormat.DockerArchive)]
    [InlineData(OutputFormat.OciArchive)]
    public void TwoRunsAreByteIdentical(OutputFormat format)
    {
        using var dir = new TempDir();
        string src = DockerArchive(dir);
        F.Copy(src, dir.Path("a.tar"), format, CompressMode.Gzip);
        F.Copy(src, dir.Path("b.tar"), format, CompressMode.Gzip);
        Assert.Equal(File.ReadAllBytes(dir.Path("a.tar")), File.ReadAllBytes(dir.Path("b.tar")));
    }

    /// <summary>
    /// A file is written blob by blob at offsets computed up front, several at once; standard output and split parts
    /// are written in order. All three must be the same bytes (layers over the 1 MiB copy chunk included).
    /// </summary>
    [Theory]
    [InlineData(OutputFormat.Portable, CompressMode.Keep)]
    [InlineData(OutputFormat.DockerArchive, CompressMode.Keep)]
    [InlineData(OutputFormat.OciArchive, CompressMode.Gzip)]
    public async Task FileWrittenAtOffsetsIsTheStreamedBytes(OutputFormat format, CompressMode compress)
    {
        using var dir = new TempDir();
        var big = ImageBuilder.Image([ImageBuilder.Layer(31, files: 6, maxSize: 900_000), ImageBuilder.Layer(32), ImageBuilder.Layer(33, files: 4, maxSize: 700_000)], 9, "docker.io/library/big:1");
        string src = DockerArchive(dir, big, App, Other);
        var stdout = new MemoryStream();
        foreach (var (dst, transport) in new[] { (dir.Path("file.tar"), new TransportOptions { Archive = new ArchiveOptions { Format = format } }), ("-", new TransportOptions { Archive = new ArchiveOptions { Format = format, Stdout = () => stdout } }), (dir.Path("split.tar"), new TransportOptions { Archive = new ArchiveOptions { Format = format, SplitSize = 1_000_000 } }) })
            await ImageCopier.CopyAsync(F.Ref(src), F.Ref(dst), new CopyOptions { Compress = compress, Destination = transport });
        byte[] file = File.ReadAllBytes(dir.Path("file.tar"));
        Assert.True(file.Length > 3_000_000, $"only {file.Length} bytes");
        Assert.Equal(stdout.ToArray(), file);
        var parts = Directory.GetFiles(dir.Root, "split.tar.0*").Order(StringComparer.Ordinal).SelectMany(File.ReadAllBytes).ToArray();
        Assert.Equal(file, parts);
        F.AssertValid(dir.Path("file.tar"));
    }

    [Fact]
    public void OciToPortableToOciKeepsManifestDigests()
    {
        using var dir = new TempDir();
        var gz = ImageBuilder.Image(5, 3, "gzip", "docker.io/library/gz:1");
        ImageBuilder.WriteOciLayout(dir.Path("oci.tar"), [gz], containerdNames: false);
        F.Copy(dir.Path("oci.tar"), dir.Path("p.tar"));
        F.Copy(dir.Path("p.tar"), "oci-archive:" + dir.Path("back.tar"));
        using var s = F.Open(dir.Path("back.tar"));
        Assert.Equal(gz.ManifestDigest, s.Images.Single().Key.ToString());
        var files = ImageBuilder.ReadTar(dir.Path("back.tar"));
        Assert.Equal(gz.OciManifest(), files["blobs/sha256/" + gz.ManifestDigest[7..]]);
    }

    [Fact]
    public void ZstdLayersBecomeGzipForDockerLoadableOutputs()
    {
        using var dir = new TempDir();
        var z = ImageBuilder.Image(6, 2, "zstd", "docker.io/library/z:1");
        ImageBuilder.WriteOciLayout(dir.Path("z.tar"), [z]);
        var log = new List<string>();
        F.Copy(dir.Path("z.tar"), dir.Path("p.tar"), log: log);
        Assert.Contains(log, l => l.Contains("recompressed as gzip", StringComparison.Ordinal));
        using var s = F.Open(dir.Path("p.tar"));
        var img = s.Images.Single().SelectImage(null)!.Image;
        Assert.All(img.Layers, l => Assert.Equal(Ferry.Compression.CompressionKind.Gzip, l.ActualCompression));
        Assert.Equal(z.ImageId, img.ImageId.ToString());
        Assert.Equal(z.Layers.Select(l => l.DiffId), img.Layers.Select(l => l.DiffId!.Value.ToString()));
        F.AssertValid(F.Verify(s));
    }

    [Fact]
    public void ZstdIsKeptInOciArchiveOutput()
    {
        using var dir = new TempDir();
        var z = ImageBuilder.Image(6, 2, "zstd", "docker.io/library/z:1");
        ImageBuilder.WriteOciLayout(dir.Path("z.tar"), [z]);
        F.Copy(dir.Path("z.tar"), "oci-archive:" + dir.Path("o.tar"));
        Assert.Equal(z.OciManifest(), ImageBuilder.ReadTar(dir.Path("o.tar"))["blobs/sha256/" + z.ManifestDigest[7..]]);
    }

    /// <summary>skopeo finds <c>oci:DIR:myname:2</c> by ref.name as typed: Ferry writes it so (containerd's annotation keeps the full name).</summary>
    [Theory]
    [InlineData("myname:2", "docker.io/library/myname:2")]
    [InlineData("quay.io/x/y:3", "quay.io/x/y:3")]
    public void ANameGivenToAnOciDestinationIsWrittenAsTyped(string name, string full)
    {
        using var dir = new TempDir();
        F.Copy(DockerArchive(dir), "oci:" + dir.Path("layout") + ":" + name, images: ["docker.io/library/app:1.0"]);
        string index = File.ReadAllText(Path.Combine(dir.Path("layout"), "index.json"));
        Assert.Contains($"\"org.opencontainers.image.ref.name\":\"{name}\"", index, StringComparison.Ordinal);
        Assert.Contains($"\"io.containerd.image.name\":\"{full}\"", index, StringComparison.Ordinal);
        using var back = F.OpenRef("oci:" + dir.Path("layout") + ":" + name);
        Assert.Equal(App.ImageId, Assert.Single(back.Images).SelectImage(null)!.Image.ImageId.ToString());
    }

    /// <summary>As docker takes it: any prefix of an image ID that picks one image; a prefix that picks several says so.</summary>
    [Fact]
    public void AShortImageIdPrefixSelectsWhenItIsUnique()
    {
        using var dir = new TempDir();
        var images = Enumerable.Range(0, 20).Select(i => ImageBuilder.Image(900 + i, 1, "none", $"docker.io/library/p{i}:1")).ToList();
        ImageBuilder.WriteDockerArchive(dir.Path("many.tar"), images);
        var ids = images.Select(i => i.ImageId[7..]).ToList();
        int unique = Enumerable.Range(0, ids.Count).First(i => ids.Count(x => x[0] == ids[i][0]) == 1 || ids.Count(x => x[..2] == ids[i][..2]) == 1);
        string prefix = ids.Count(x => x[0] == ids[unique][0]) == 1 ? ids[unique][..1] : ids[unique][..2];
        F.Copy(dir.Path("many.tar"), dir.Path("one.tar"), images: [prefix]);
        Assert.Equal(images[unique].ImageId, Assert.Single(F.Open(dir.Path("one.tar")).Images).SelectImage(null)!.Image.ImageId.ToString());
        var shared = ids.GroupBy(x => x[0]).First(g => g.Count() > 1).Key.ToString();
        var e = Assert.Throws<UsageException>(() => F.Copy(dir.Path("many.tar"), dir.Path("two.tar"), images: [shared]));
        Assert.Contains($"'{shared}' is the start of the ID of", e.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(dir.Path("two.tar")));
    }

    /// <summary>podman 4 refuses an oci-archive whose index.json lists one image twice (one entry per name): said, with the ways out.</summary>
    [Fact]
    public void AnOciArchiveOfAnImageWithSeveralNamesSaysPodmanRefusesIt()
    {
        using var dir = new TempDir();
        var log = new List<string>();
        F.Copy(DockerArchive(dir), dir.Path("o.tar"), OutputFormat.OciArchive, log: log);
        Assert.Contains(log, l => l.StartsWith("note: " + dir.Path("o.tar") + ": app:1.0 has several names, one index.json entry each: podman load refuses such an oci-archive", StringComparison.Ordinal));
        log.Clear();
        F.Copy(DockerArchive(dir), dir.Path("p.tar"), log: log);
        Assert.DoesNotContain(log, l => l.Contains("several names", StringComparison.Ordinal));
    }

    /// <summary>Options that would change nothing are said on stderr, not taken silently.</summary>
    [Fact]
    public async Task OptionsThatDoNothingAreSaid()
    {
        using var dir = new TempDir();
        string src = DockerArchive(dir);
        var log = new List<string>();
        await ImageCopier.CopyAsync(F.Ref(src), F.Ref(dir.Path("a.tar")), new CopyOptions { CompressionLevel = 5, Platforms = [Ferry.Model.Platform.Parse("linux/arm64")], Log = log.Add });
        Assert.Contains(log, l => l.StartsWith("warning: --compress-level 5 did nothing", StringComparison.Ordinal));
        Assert.Contains(log, l => l.Contains("is a single-platform image (linux/amd64), not one of linux/arm64", StringComparison.Ordinal));
        log.Clear();
        await ImageCopier.CopyAsync(F.Ref(src), F.Ref(dir.Path("b.tar")), new CopyOptions { Compress = CompressMode.Gzip, CompressionLevel = 5, GzipCodec = Ferry.Compression.GzipCodec.ZlibNg, Log = log.Add });
        Assert.DoesNotContain(log, l => l.Contains("did nothing", StringComparison.Ordinal));
    }

    [Fact]
    public void VerifyWarnsThatOldDockerCannotLoadZstdInAPortableArchive()
    {
        using var dir = new TempDir();
        var z = ImageBuilder.Image(6, 2, "zstd", "docker.io/library/z:1");
        ImageBuilder.WriteOciLayout(dir.Path("z.tar"), [z]);
        F.Copy(dir.Path("z.tar"), dir.Path("p.tar"), compress: CompressMode.Zstd);
        var report = F.Verify(dir.Path("p.tar"));
        Assert.True(report.Ok);
        Assert.Contains(report.Findings, f => f.Severity == Ferry.Verify.Severity.Warning && f.Message.Contains("docker before 23.0 cannot load this portable archive", StringComparison.Ordinal));
        Assert.DoesNotContain(F.Verify(dir.Path("z.tar")).Findings, f => f.Message.Contains("docker before 23.0", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(CompressMode.Gzip, Ferry.Compression.CompressionKind.Gzip)]
    [InlineData(CompressMode.Zstd, Ferry.Compression.CompressionKind.Zstd)]
    [InlineData(CompressMode.None, Ferry.Compression.CompressionKind.None)]
    public void CompressOptionRewritesLayersAndKeepsConfig(CompressMode mode, Ferry.Compression.CompressionKind expected)
    {
        using var dir = new TempDir();
        var g = ImageBuilder.Image(8, 2, "gzip", "docker.io/library/g:1");
        ImageBuilder.WriteOciLayout(dir.Path("g.tar"), [g]);
        F.Copy(dir.Path("g.tar"), dir.Path("o.tar"), OutputFormat.OciArchive, mode);
        using var s = F.Open(dir.Path("o.tar"));
        var img = s.Images.Single().SelectImage(null)!.Image;
        Assert.All(img.Layers, l => Assert.Equal(expected, l.ActualCompression));
        Assert.All(img.Layers, l => Assert.Equal(expected, Ferry.Model.MediaTypes.LayerCompression(l.Descriptor.MediaType)));
        Assert.Equal(g.ImageId, img.ImageId.ToString());
        F.AssertValid(F.Verify(s));
    }

    [Fact]
    public void ImageSelectionAndTags()
    {
        using var dir = new TempDir();
        string src = DockerArchive(dir);
        F.Copy(src, dir.Path("o.tar"), OutputFormat.DockerArchive, images: ["quay.io/x/other:2"], tags: ["mine:3"]);
        var summary = F.Summary(dir.Path("o.tar"));
        Assert.Equal(["docker.io/library/mine:3", "quay.io/x/other:2"], summary.Keys);
    }

    [Fact]
    public void DestinationNameRenames()
    {
        using var dir = new TempDir();
        string src = DockerArchive(dir, App);
        F.Copy(src, "docker-archive:" + dir.Path("o.tar") + ":renamed:9");
        Assert.Equal(["docker.io/library/renamed:9"], F.Summary(dir.Path("o.tar")).Keys);
    }

    [Fact]
    public void TagWithSeveralImagesIsAUsageError()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<UsageException>(() => F.Copy(DockerArchive(dir), dir.Path("o.tar"), tags: ["x:1"]));
        Assert.Contains("exactly one image", e.Message);
        Assert.Equal(["src.tar"], dir.Listing());
    }

    [Fact]
    public void UnknownImageIsNotFound()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<ImageNotFoundException>(() => F.Copy(DockerArchive(dir), dir.Path("o.tar"), images: ["nope:1"]));
        Assert.Contains("nope:1", e.Message);
    }

    [Fact]
    public void UntaggedImagesGetNullRepoTags()
    {
        using var dir = new TempDir();
        var u = ImageBuilder.Image(9, 1);
        ImageBuilder.WriteOciLayout(dir.Path("u.tar"), [u]);
        F.Copy(dir.Path("u.tar"), dir.Path("o.tar"), OutputFormat.DockerArchive);
        Assert.Contains("\"RepoTags\":null", System.Text.Encoding.UTF8.GetString(ImageBuilder.ReadTar(dir.Path("o.tar"))["manifest.json"]));
    }

    [Fact]
    public void CorruptLayerFailsAndLeavesNothing()
    {
        using var dir = new TempDir();
        string src = DockerArchive(dir, App);
        F.FlipByteOf(src, App.Layers[1].Digest[7..] + ".tar");
        File.WriteAllText(dir.Path("o.tar"), "previous");
        var e = Assert.Throws<DigestMismatchException>(() => F.Copy(src, dir.Path("o.tar")));
        Assert.Contains(App.Layers[1].Digest, e.Message);
        Assert.Equal(["o.tar", "src.tar"], dir.Listing());
        Assert.Equal("previous", File.ReadAllText(dir.Path("o.tar")));
    }

    [Fact]
    public void RefusesToOverwriteTheInput()
    {
        using var dir = new TempDir();
        string src = DockerArchive(dir, App);
        byte[] before = File.ReadAllBytes(src);
        Assert.Throws<OutputException>(() => F.Copy(src, src));
        Assert.Equal(before, File.ReadAllBytes(src));
    }

    [Fact]
    public void OciDirectoryOutputRefusesNonEmptyDirectory()
    {
        using var dir = new TempDir();
        string src = DockerArchive(dir, App);
        Directory.CreateDirectory(dir.Path("d"));
        File.WriteAllText(dir.Path("d/x"), "x");
        Assert.Throws<OutputException>(() => F.Copy(src, "oci:" + dir.Path("d")));
    }

    [Fact]
    public void HybridInputWithDockerManifestReadsAsPortable()
    {
        using var dir = new TempDir();
        ImageBuilder.WriteOciLayout(dir.Path("h.tar"), [App], withDockerManifest: true);
        using var s = F.Open(dir.Path("h.tar"));
        Assert.Equal("portable", s.Format);
        Assert.Equal(["docker.io/library/app:1.0", "docker.io/library/app:latest"], s.Images.Single().Names.Select(n => n.ToString()));
    }
}
