using System.Security.Cryptography;
using System.Text;
using Ferry.Images;
using Ferry.Model;
using Ferry.Tests.TestSupport;
using static Ferry.Tests.TestSupport.CliRun;

namespace Ferry.Tests.Copy;

/// <summary>
/// <c>--platform</c> finds platforms wherever an index lists them — in indexes nested in indexes too, as containerd
/// exports multi-platform images — and compares them as containerd does (<c>arm64</c> ≡ <c>arm64/v8</c>, <c>arm</c> ≡
/// <c>arm/v7</c>, <c>amd64</c> ≡ <c>amd64/v1</c>, the closest variant it runs when the exact one is missing).
/// </summary>
public sealed class PlatformTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static readonly TestImage Amd = ImageBuilder.ImageFor([ImageBuilder.Layer(2110, compression: "gzip")], 211, "amd64", "docker.io/library/nested:1");
    private static readonly TestImage Arm = ImageBuilder.ImageFor([ImageBuilder.Layer(2120, compression: "gzip")], 212, "arm64", "docker.io/library/nested:1");
    private static readonly TestImage S390 = ImageBuilder.ImageFor([ImageBuilder.Layer(2130, compression: "gzip")], 213, "s390x", "docker.io/library/nested:1");

    private static string Sha(byte[] b) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(b));

    private static string Entry(TestImage i, string platform) =>
        $"{{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"{i.ManifestDigest}\",\"size\":{i.OciManifest().Length},\"platform\":{platform}}}";

    private static byte[] IndexOf(IEnumerable<string> entries) =>
        Encoding.UTF8.GetBytes($"{{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":[{string.Join(",", entries)}]}}");

    /// <summary>
    /// What <c>ctr export</c> writes for a multi-platform image: index.json → an index → an index → the manifests
    /// (arm64 as <c>linux/arm64/v8</c>); the inner entry has no platform. Returns the outer and inner index digests.
    /// </summary>
    private static (string Outer, string Inner) WriteNested(string path, bool withS390 = false)
    {
        var children = new List<(TestImage Image, string Platform)>
        {
            (Amd, "{\"architecture\":\"amd64\",\"os\":\"linux\"}"),
            (Arm, "{\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":\"v8\"}"),
        };
        if (withS390)
            children.Add((S390, "{\"architecture\":\"s390x\",\"os\":\"linux\"}"));
        byte[] inner = IndexOf(children.Select(c => Entry(c.Image, c.Platform)));
        byte[] outer = IndexOf([$"{{\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"digest\":\"{Sha(inner)}\",\"size\":{inner.Length}}}"]);
        var files = new List<(string, byte[]?, string?, System.Formats.Tar.TarEntryType)>
        {
            ("oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}"u8.ToArray(), null, System.Formats.Tar.TarEntryType.RegularFile),
        };
        var seen = new HashSet<string>();
        void Blob(byte[] b)
        {
            if (seen.Add(Sha(b)))
                files.Add(("blobs/sha256/" + Sha(b)[7..], b, null, System.Formats.Tar.TarEntryType.RegularFile));
        }
        foreach (var (img, _) in children)
        {
            foreach (var l in img.Layers)
                Blob(l.Blob);
            Blob(img.Config);
            Blob(img.OciManifest());
        }
        Blob(inner);
        Blob(outer);
        files.Add(("index.json", Encoding.UTF8.GetBytes($"{{\"schemaVersion\":2,\"manifests\":[{{\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"digest\":\"{Sha(outer)}\",\"size\":{outer.Length},\"annotations\":{{\"io.containerd.image.name\":\"docker.io/library/nested:1\",\"org.opencontainers.image.ref.name\":\"1\"}}}}]}}"), null, System.Formats.Tar.TarEntryType.RegularFile));
        ImageBuilder.WriteTar(path, files);
        return (Sha(outer), Sha(inner));
    }

    private static ManifestNode Root(string path)
    {
        using var s = F.Open(path);
        return Assert.Single(s.Images).Root;
    }

    [Theory]
    [InlineData("linux/arm64")]
    [InlineData("linux/arm64/v8")]
    [InlineData("linux/aarch64")]
    public void OnePlatformOfANestedIndexIsThatPlatformsManifest(string platform)
    {
        string src = _dir.Path("nested.tar");
        WriteNested(src);
        var r = Run("copy", src, _dir.Path("out.tar"), "--platform", platform, "-q");
        Ok(r);
        var root = Assert.IsType<ImageNode>(Root(_dir.Path("out.tar")));
        Assert.Equal(Arm.ManifestDigest, root.Image.Manifest!.Digest.ToString());
        F.AssertValid(_dir.Path("out.tar"));
    }

    [Fact]
    public void EveryPlatformOfANestedIndexKeepsItWhole()
    {
        string src = _dir.Path("nested.tar");
        var (outer, _) = WriteNested(src);
        Ok(Run("copy", src, "oci-archive:" + _dir.Path("out.tar"), "--platform", "linux/amd64,linux/arm64", "-q"));
        Assert.Equal(outer, Assert.IsType<IndexNode>(Root(_dir.Path("out.tar"))).Index.Digest.ToString());
    }

    [Fact]
    public void TwoPlatformsOfThreeRewriteTheNestedIndexAndItsParent()
    {
        string src = _dir.Path("nested.tar");
        var (outer, inner) = WriteNested(src, withS390: true);
        var r = Run("copy", src, "oci-archive:" + _dir.Path("out.tar"), "--platform", "linux/amd64,linux/arm64/v8");
        Ok(r);
        var root = Assert.IsType<IndexNode>(Root(_dir.Path("out.tar")));
        Assert.NotEqual(outer, root.Index.Digest.ToString());
        var nested = Assert.IsType<IndexNode>(Assert.Single(root.Children));
        Assert.NotEqual(inner, nested.Index.Digest.ToString());
        Assert.Equal([Amd.ManifestDigest, Arm.ManifestDigest], nested.Children.Select(c => ((ImageNode)c).Image.Manifest!.Digest.ToString()));
        Assert.Contains($"index {outer} subset to linux/amd64, linux/arm64/v8: new index {root.Index.Digest}", r.Err, StringComparison.Ordinal);
        F.AssertValid(_dir.Path("out.tar"));
    }

    [Fact]
    public void KeepIndexOfANestedIndexLeavesTheOthersAbsent()
    {
        string src = _dir.Path("nested.tar");
        var (outer, _) = WriteNested(src);
        var r = Run("copy", src, "oci-archive:" + _dir.Path("out.tar"), "--platform", "linux/arm64", "--keep-index");
        Ok(r);
        Assert.Contains("sparse: linux/amd64 absent", r.Err, StringComparison.Ordinal);
        var root = Assert.IsType<IndexNode>(Root(_dir.Path("out.tar")));
        Assert.Equal(outer, root.Index.Digest.ToString());
        var verify = F.Verify(_dir.Path("out.tar"));
        Assert.True(verify.Ok, string.Join("\n", verify.Findings));
    }

    [Fact]
    public void AMissingPlatformListsWhatTheNestedIndexHas()
    {
        string src = _dir.Path("nested.tar");
        WriteNested(src);
        var r = Run("copy", src, _dir.Path("out.tar"), "--platform", "linux/ppc64le");
        Assert.Equal(5, r.Code);
        Assert.Equal($"ferry: {src}: nested:1: none of the platforms linux/ppc64le is in its index (has: linux/amd64, linux/arm64/v8)\n", r.Err);
    }

    [Theory]
    [InlineData("linux/arm64", "linux/arm64/v8", 0)]
    [InlineData("linux/arm64/v8", "linux/arm64", 0)]
    [InlineData("linux/aarch64", "linux/arm64", 0)]
    [InlineData("linux/arm", "linux/arm/v7", 0)]
    [InlineData("linux/arm/v7", "linux/arm", 0)]
    [InlineData("linux/armhf", "linux/arm/v7", 0)]
    [InlineData("linux/arm/v7", "linux/arm/v6", 1)]
    [InlineData("linux/amd64", "linux/amd64/v1", 0)]
    [InlineData("linux/x86_64", "linux/amd64", 0)]
    [InlineData("linux/amd64/v3", "linux/amd64/v2", 1)]
    [InlineData("linux/amd64/v3", "linux/amd64", 2)]
    [InlineData("linux/arm64/v8.2", "linux/arm64/v8.1", 1)]
    [InlineData("linux/arm64/v9", "linux/arm64/v8.5", 1)]
    [InlineData("linux/amd64", "linux/amd64/v3", 1)] // a wanted platform without a variant takes any, last
    [InlineData("windows(10.0.17763)/amd64", "windows(10.0.17763.5820)/amd64", 0)]
    [InlineData("linux(+gpu+sse4)/amd64", "linux(+sse4)/amd64", 0)]
    public void PlatformsAreComparedAsContainerdDoes(string wanted, string candidate, int rank) =>
        Assert.Equal(rank, Platform.Parse(wanted).Rank(Platform.Parse(candidate)));

    [Theory]
    [InlineData("linux/amd64", "linux/386")]
    [InlineData("linux/arm64", "linux/arm/v7")]
    [InlineData("linux/amd64/v2", "linux/amd64/v3")]
    [InlineData("linux/arm/v6", "linux/arm/v7")]
    [InlineData("windows(10.0.17763)/amd64", "windows(10.0.20348.1)/amd64")]
    [InlineData("linux/amd64", "linux(+gpu)/amd64")]
    public void PlatformsThatDoNotServeAreNotMatched(string wanted, string candidate) =>
        Assert.Null(Platform.Parse(wanted).Rank(Platform.Parse(candidate)));

    [Fact]
    public void TheClosestVariantIsTakenWhenTheExactOneIsMissing()
    {
        var v2 = ImageBuilder.ImageFor([ImageBuilder.Layer(2140, compression: "gzip")], 214, "amd64", "docker.io/library/levels:1");
        var v4 = ImageBuilder.ImageFor([ImageBuilder.Layer(2150, compression: "gzip")], 215, "amd64", "docker.io/library/levels:1");
        byte[] index = IndexOf([Entry(v2, "{\"architecture\":\"amd64\",\"os\":\"linux\",\"variant\":\"v2\"}"), Entry(v4, "{\"architecture\":\"amd64\",\"os\":\"linux\",\"variant\":\"v4\"}")]);
        string src = _dir.Path("levels.tar");
        ImageBuilder.WriteOciWithArtifacts(src, v2, "docker.io/library/levels:1", [], (index, Sha(index)), [v2, v4]);
        Ok(Run("copy", src, _dir.Path("out.tar"), "--platform", "linux/amd64/v3", "-q"));
        Assert.Equal(v2.ManifestDigest, Assert.IsType<ImageNode>(Root(_dir.Path("out.tar"))).Image.Manifest!.Digest.ToString());
    }

    [Fact]
    public void OsVersionAndFeaturesRoundTrip()
    {
        var p = Platform.Parse("windows(10.0.17763.5820+win32k)/amd64");
        Assert.Equal(("windows", "amd64", "10.0.17763.5820"), (p.Os, p.Architecture, p.OsVersion));
        Assert.Equal(["win32k"], p.OsFeatures!);
        Assert.Equal(p, Platform.Parse(p.ToString()));
    }
}
