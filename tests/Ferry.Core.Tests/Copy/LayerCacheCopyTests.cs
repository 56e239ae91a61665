using Ferry.Caching;
using Ferry.Copy;
using Ferry.Digests;
using Ferry.Transports;
using Ferry.Tests.TestSupport;

namespace Ferry.Tests.Copy;

/// <summary>
/// The verified-layer cache as a copy uses it: a layer inflated and matched once is not inflated again, yet a cache can
/// never let through bytes that do not hash to the layer's digest, nor a layer whose config says another diff_id.
/// </summary>
public sealed class LayerCacheCopyTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private string CacheDir => _dir.Path("cache");

    private CopyResult Copy(string src, string dst, bool useCache = true, CompressMode compress = CompressMode.Keep, OutputFormat format = OutputFormat.Portable) =>
        ImageCopier.CopyAsync(F.Ref(src), F.Ref(dst), new CopyOptions
        {
            UseLayerCache = useCache,
            LayerCacheDirectory = CacheDir,
            Compress = compress,
            Destination = new TransportOptions { Archive = new ArchiveOptions { Format = format } },
        }).GetAwaiter().GetResult();

    private static List<LayerCheck> Checks(CopyResult r, TestImage image) =>
        image.Layers.Select(l => r.Images.SelectMany(i => i.Blobs).First(b => b.Digest.ToString() == l.Digest).Check).ToList();

    private string Layout(string name, params TestImage[] images)
    {
        string p = _dir.Path(name);
        ImageBuilder.WriteOciLayout(p, images);
        return p;
    }

    private List<(Digest Compressed, string MediaType, Digest DiffId, long LastUsed)> CachedPairs() =>
        [.. new VerifiedLayerCache(CacheDir).Snapshot()];

    [Theory]
    [InlineData("gzip", OutputFormat.Portable)]
    [InlineData("gzip", OutputFormat.DockerArchive)]
    [InlineData("zstd", OutputFormat.OciArchive)]
    public void ALayerInflatedOnceIsTrustedByTheNextCopyAndTheOutputIsTheSame(string compression, OutputFormat format)
    {
        var img = ImageBuilder.Image(3, 2, compression, "docker.io/library/cached:1");
        string src = Layout("src.tar", img);

        var first = Copy(src, _dir.Path("a.tar"), format: format);
        Assert.Equal([LayerCheck.Inflated, LayerCheck.Inflated], Checks(first, img));
        var pairs = CachedPairs();
        Assert.Equal(img.Layers.Select(l => (l.Digest, l.DiffId)).Order(), pairs.Select(p => (p.Compressed.ToString(), p.DiffId.ToString())).Order());
        Assert.All(pairs, p => Assert.Equal(img.Layers[0].OciMediaType, p.MediaType));

        var second = Copy(src, _dir.Path("b.tar"), format: format);
        Assert.Equal([LayerCheck.Cached, LayerCheck.Cached], Checks(second, img));
        Assert.Equal(File.ReadAllBytes(_dir.Path("a.tar")), File.ReadAllBytes(_dir.Path("b.tar")));
        F.AssertValid(_dir.Path("b.tar"));
        // The config is never "checked" by the cache, only layers.
        Assert.All(second.Images.SelectMany(i => i.Blobs).Where(b => b.Digest.ToString() == img.ImageId), b => Assert.Equal(LayerCheck.None, b.Check));
    }

    [Fact]
    public void UncompressedLayersAreNeitherInflatedNorCached()
    {
        var img = ImageBuilder.Image(4, 1, "none", "docker.io/library/plain:1");
        var r = Copy(Layout("src.tar", img), _dir.Path("a.tar"));
        Assert.Equal([LayerCheck.None], Checks(r, img));
        Assert.Empty(CachedPairs());
    }

    [Fact]
    public void ACachedPairCountsOnlyWhenItIsTheConfigsDiffId()
    {
        // An honest image teaches the cache the true pair of a gzip layer...
        var good = ImageBuilder.Layer(91, compression: "gzip");
        Copy(Layout("good.tar", ImageBuilder.Image([good], 91, "docker.io/library/good:1")), _dir.Path("a.tar"));
        Assert.Single(CachedPairs());
        // ...and an image whose config claims another diff_id for the same bytes is still inflated, and refused.
        var other = ImageBuilder.Layer(92);
        string lie = Layout("lie.tar", ImageBuilder.Image([new TestLayer(other.Tar, good.Blob, "gzip")], 92, "docker.io/library/lie:1"));
        var e = Assert.Throws<DigestMismatchException>(() => Copy(lie, _dir.Path("b.tar")));
        Assert.Contains("diff_id", e.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(_dir.Path("b.tar")));
    }

    [Fact]
    public void AForgedPairThatDiffersFromTheConfigIsInflatedAndReplaced()
    {
        var img = ImageBuilder.Image(5, 1, "gzip", "docker.io/library/forged:1");
        var layer = img.Layers[0];
        var forged = Digest.Sha256Of("not the layer"u8);
        using (var cache = new VerifiedLayerCache(CacheDir))
            cache.Record(Digest.Parse(layer.Digest), layer.OciMediaType, forged);
        Assert.Equal(forged, CachedPairs().Single().DiffId);

        var r = Copy(Layout("src.tar", img), _dir.Path("a.tar"));
        Assert.Equal([LayerCheck.Inflated], Checks(r, img));
        Assert.Equal(layer.DiffId, CachedPairs().Single().DiffId.ToString());
    }

    [Fact]
    public void BytesThatDoNotHashToTheLayerDigestFailOnACacheHit()
    {
        var img = ImageBuilder.Image(6, 1, "gzip", "docker.io/library/flip:1");
        string src = Layout("src.tar", img);
        Copy(src, _dir.Path("a.tar"));
        F.FlipByteOf(src, "blobs/sha256/" + img.Layers[0].Digest[7..]);
        Assert.Throws<DigestMismatchException>(() => Copy(src, _dir.Path("b.tar")));
        Assert.False(File.Exists(_dir.Path("b.tar")));
    }

    [Theory]
    [InlineData(CompressMode.Zstd)]
    [InlineData(CompressMode.None)]
    public void ARecompressionThatInflatedTheLayerTeachesTheCache(CompressMode compress)
    {
        var img = ImageBuilder.Image(7, 2, "gzip", "docker.io/library/recompressed:1");
        string src = Layout("src.tar", img);
        var r = Copy(src, _dir.Path("a.tar"), compress: compress);
        Assert.All(r.Images.SelectMany(i => i.Blobs).Where(b => b.Digest.ToString() != img.ImageId), b => Assert.Equal(LayerCheck.Inflated, b.Check));
        Assert.Equal(2, CachedPairs().Count);
        Assert.Equal([LayerCheck.Cached, LayerCheck.Cached], Checks(Copy(src, _dir.Path("b.tar")), img));
    }

    [Fact]
    public void TheLibraryUsesNoCacheUnlessAsked()
    {
        var img = ImageBuilder.Image(8, 1, "gzip", "docker.io/library/nocache:1");
        string src = Layout("src.tar", img);
        Assert.Equal([LayerCheck.Inflated], Checks(Copy(src, _dir.Path("a.tar"), useCache: false), img));
        Assert.False(Directory.Exists(CacheDir));
        Copy(src, _dir.Path("b.tar"));
        Assert.Equal([LayerCheck.Inflated], Checks(Copy(src, _dir.Path("c.tar"), useCache: false), img));
        Assert.Equal([LayerCheck.Cached], Checks(Copy(src, _dir.Path("d.tar")), img));
    }

    [Fact]
    public async Task NotCheckingDiffIdsNeitherInflatesNorTeachesTheCache()
    {
        var img = ImageBuilder.Image(9, 1, "gzip", "docker.io/library/noverify:1");
        var r = await ImageCopier.CopyAsync(F.Ref(Layout("src.tar", img)), F.Ref(_dir.Path("a.tar")),
            new CopyOptions { UseLayerCache = true, LayerCacheDirectory = CacheDir, VerifyDiffIds = false });
        Assert.Equal([LayerCheck.None], Checks(r, img));
        Assert.Empty(CachedPairs());
    }

    [Fact]
    public async Task ACacheThatIsASymlinkIsNotUsedAndTheCopyStillChecks()
    {
        if (OperatingSystem.IsWindows())
            return;
        Directory.CreateDirectory(CacheDir);
        File.WriteAllText(_dir.Path("elsewhere"), "");
        File.CreateSymbolicLink(Path.Combine(CacheDir, VerifiedLayerCache.FileName), _dir.Path("elsewhere"));
        var img = ImageBuilder.Image(10, 1, "gzip", "docker.io/library/linked:1");
        var log = new List<string>();
        var r = await ImageCopier.CopyAsync(F.Ref(Layout("src.tar", img)), F.Ref(_dir.Path("a.tar")),
            new CopyOptions { UseLayerCache = true, LayerCacheDirectory = CacheDir, Log = log.Add });
        Assert.Equal([LayerCheck.Inflated], Checks(r, img));
        Assert.Single(log, m => m.StartsWith("warning: ", StringComparison.Ordinal) && m.Contains("cache", StringComparison.Ordinal));
        Assert.Equal("", File.ReadAllText(_dir.Path("elsewhere")));
    }
}
