using System.Text;
using Ferry.Images;
using Ferry.Tests.TestSupport;
using static Ferry.Tests.TestSupport.CliRun;

namespace Ferry.Tests.Referrers;

/// <summary>
/// Signatures, attestations, SBOMs and other artifacts travel with their images through archives and registries,
/// byte for byte; a signed manifest is never changed silently; platform subsets are honest.
/// </summary>
public sealed class ReferrerTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static readonly TestImage App = ImageBuilder.Image(101, 2, "gzip", "docker.io/library/signed:1");

    /// <summary>An archive of a signed image with an SBOM, as other tools lay them out: the signature under its cosign tag, the SBOM as an unnamed entry with a subject.</summary>
    private (string Path, ImageBuilder.TestArtifact Sig, ImageBuilder.TestArtifact Sbom) Signed()
    {
        var sig = ImageBuilder.CosignSignature(App.ManifestDigest);
        var sbom = ImageBuilder.Sbom(App.ManifestDigest, App.OciManifest().Length);
        string p = _dir.Path("signed.tar");
        ImageBuilder.WriteOciWithArtifacts(p, App, "docker.io/library/signed:1", [(sig, $"sha256-{App.ManifestDigest[7..]}.sig"), (sbom, null)]);
        return (p, sig, sbom);
    }

    private static List<(string Kind, string Digest, string Subject)> Referrers(string reference)
    {
        using var s = F.OpenAny(reference);
        return [.. s.Images.SelectMany(i => i.Referrers).Select(r => (r.Name, r.Artifact.Manifest.Digest.ToString(), r.Subject.ToString()))];
    }

    [Fact]
    public void OtherToolsConventionsAreReadAsReferrers()
    {
        var (p, sig, sbom) = Signed();
        using var s = F.Open(p);
        var image = Assert.Single(s.Images);
        Assert.Equal([("sig", sig.Digest), ("application/spdx+json", sbom.Digest)], image.Referrers.Select(r => (r.Name, r.Artifact.Manifest.Digest.ToString())));
        Assert.All(image.Referrers, r => Assert.Equal(App.ManifestDigest, r.Subject.ToString()));
        Assert.Equal("a key", image.Referrers[0].SignedBy);
        F.AssertValid(p);
    }

    [Theory]
    [InlineData("oci-archive:")]
    [InlineData("")]
    [InlineData("oci:")]
    public void ReferrersTravelThroughArchivesByteForByte(string transport)
    {
        var (p, sig, sbom) = Signed();
        string dest = transport + _dir.Path(transport == "oci:" ? "out" : "out.tar");
        Ok(Run("copy", p, dest, "-q"));
        Assert.Equal(Referrers(p), Referrers(dest));
        Assert.True(F.Verify(dest).Ok, string.Join("\n", F.Verify(dest).Findings));
        // Each referrer's entry says what it refers to; in a directory the cosign tag is also its ref.name (as oc-mirror
        // and regclient find it), in an archive no referrer is named (loaders would import a named one as an image).
        string index = transport == "oci:" ? File.ReadAllText(_dir.Path("out/index.json")) : Encoding.UTF8.GetString(ImageBuilder.ReadTar(_dir.Path("out.tar"))["index.json"]);
        Assert.Contains($"\"io.ferry.referrer.subject\":\"{App.ManifestDigest}\"", index, StringComparison.Ordinal);
        Assert.Contains("\"io.ferry.referrer.kind\":\"sig\"", index, StringComparison.Ordinal);
        Assert.Contains("\"artifactType\":\"application/spdx+json\"", index, StringComparison.Ordinal);
        Assert.Equal(transport == "oci:", index.Contains($"\"org.opencontainers.image.ref.name\":\"sha256-{App.ManifestDigest[7..]}.sig\"", StringComparison.Ordinal));
        Assert.Equal(1, index.Split("org.opencontainers.image.ref.name").Length - 1 - (transport == "oci:" ? 1 : 0));
        // And a copy of the copy is the same archive.
        if (transport != "oci:")
        {
            Ok(Run("copy", dest, transport + _dir.Path("again.tar"), "-q"));
            Assert.Equal(File.ReadAllBytes(_dir.Path("out.tar")), File.ReadAllBytes(_dir.Path("again.tar")));
        }
    }

    [Fact]
    public void DockerArchiveSaysItLeavesReferrersOut()
    {
        var (p, _, _) = Signed();
        var r = Run("copy", p, "docker-archive:" + _dir.Path("d.tar"));
        Ok(r);
        Assert.Contains("referrer(s) (signatures, attestations, SBOMs) are left out", r.Err, StringComparison.Ordinal);
        Assert.Empty(Referrers(_dir.Path("d.tar")));
    }

    [Fact]
    public void ExcludeAndSelectReferrers()
    {
        var (p, sig, _) = Signed();
        Ok(Run("copy", p, _dir.Path("none.tar"), "--exclude-referrers", "-q"));
        Assert.Empty(Referrers(_dir.Path("none.tar")));
        Ok(Run("copy", p, _dir.Path("sig.tar"), "--referrers", "sig", "-q"));
        Assert.Equal([("sig", sig.Digest, App.ManifestDigest)], Referrers(_dir.Path("sig.tar")));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void PushWritesSignaturesUnderTheirTagAndReferrersBesideTheImage(bool referrersApi)
    {
        var (p, sig, sbom) = Signed();
        using var reg = new FakeRegistry(referrersApi: referrersApi);
        Ok(Run("push", p, reg.Address + "/mirror", "-q"));
        string repo = "mirror/library/signed";
        Assert.Equal(App.ManifestDigest, reg.Resolve(repo, "1"));
        Assert.Equal(sig.Digest, reg.Resolve(repo, $"sha256-{App.ManifestDigest[7..]}.sig"));
        var fallback = reg.Manifest(repo, $"sha256-{App.ManifestDigest[7..]}");
        if (referrersApi)
        {
            Assert.Null(fallback); // the registry indexes subjects itself
        }
        else
        {
            Assert.NotNull(fallback);
            Assert.Contains(sbom.Digest, Encoding.UTF8.GetString(fallback), StringComparison.Ordinal);
            Assert.Contains("\"artifactType\":\"application/spdx+json\"", Encoding.UTF8.GetString(fallback), StringComparison.Ordinal);
        }
        // Pulled back (through the API or the fallback tag), the referrers are there with the same digests.
        string back = _dir.Path("back.tar");
        Ok(Run("pull", $"{reg.Address}/{repo}:1", "-o", back, "-q"));
        Assert.Equal(Referrers(p).Select(x => x.Digest).Order(), Referrers(back).Select(x => x.Digest).Order());
        F.AssertValid(back);
        var verify = Run("verify", $"docker://{reg.Address}/{repo}:1");
        Ok(verify);
    }

    [Fact]
    public void ASignedManifestIsNeverRewrittenSilently()
    {
        var (p, sig, _) = Signed();
        var r = Run("copy", p, _dir.Path("z.tar"), "--format", "oci-archive", "--compress", "zstd");
        Assert.Equal(2, r.Code);
        Assert.Contains($"is signed (signature {sig.Digest})", r.Err, StringComparison.Ordinal);
        Assert.Contains("--remove-signatures", r.Err, StringComparison.Ordinal);
        Assert.False(File.Exists(_dir.Path("z.tar")));
        var removed = Run("copy", p, _dir.Path("z.tar"), "--format", "oci-archive", "--compress", "zstd", "--remove-signatures");
        Ok(removed);
        Assert.DoesNotContain(Referrers(_dir.Path("z.tar")), x => x.Kind == "sig");
        // The SBOM referred to the old manifest: it is left out too, said on stderr.
        Assert.Empty(Referrers(_dir.Path("z.tar")));
        Assert.Contains("left out: the manifest it refers to changed", removed.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void ArtifactsThatAreNotImagesAreCarriedAndInspected()
    {
        var chart = ImageBuilder.Chart();
        var files = new List<(string, byte[]?, string?, System.Formats.Tar.TarEntryType)>
        {
            ("oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}"u8.ToArray(), null, System.Formats.Tar.TarEntryType.RegularFile),
        };
        foreach (var (_, b) in chart.Blobs)
            files.Add(("blobs/sha256/" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(b)), b, null, System.Formats.Tar.TarEntryType.RegularFile));
        files.Add(("blobs/sha256/" + chart.Digest[7..], chart.Manifest, null, System.Formats.Tar.TarEntryType.RegularFile));
        files.Add(("index.json", Encoding.UTF8.GetBytes($"{{\"schemaVersion\":2,\"manifests\":[{{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"{chart.Digest}\",\"size\":{chart.Manifest.Length},\"annotations\":{{\"io.containerd.image.name\":\"registry.local/charts/demo:1.0.0\",\"org.opencontainers.image.ref.name\":\"registry.local/charts/demo:1.0.0\"}}}}]}}"), null, System.Formats.Tar.TarEntryType.RegularFile));
        string p = _dir.Path("chart.tar");
        ImageBuilder.WriteTar(p, files);
        var inspect = Run("inspect", p, "--json");
        Ok(inspect);
        Assert.Contains("\"kind\": \"artifact\"", inspect.Out, StringComparison.Ordinal);
        Assert.Contains("\"artifactType\": \"application/vnd.cncf.helm.config.v1+json\"", inspect.Out, StringComparison.Ordinal);
        Ok(Run("inspect", p));
        F.AssertValid(p);
        using var reg = new FakeRegistry();
        Ok(Run("copy", p, $"docker://{reg.Address}/charts/demo:1.0.0", "-q"));
        Assert.Equal(chart.Digest, reg.Resolve("charts/demo", "1.0.0"));
        Ok(Run("copy", $"docker://{reg.Address}/charts/demo:1.0.0", "oci-archive:" + _dir.Path("back.tar"), "-q"));
        using (var back = F.Open(_dir.Path("back.tar")))
            Assert.Equal(chart.Digest, Assert.IsType<ArtifactNode>(Assert.Single(back.Images).Root).Manifest.Digest.ToString());
        var portable = Run("copy", p, _dir.Path("p.tar"));
        Ok(portable);
        Assert.Contains("is an artifact", portable.Err, StringComparison.Ordinal);
        Assert.Equal("[]", Encoding.UTF8.GetString(ImageBuilder.ReadTar(_dir.Path("p.tar"))["manifest.json"]));
        // docker-archive keeps no manifests: an archive of artifacts only has nothing to write there
        var docker = Run("copy", p, "docker-archive:" + _dir.Path("d.tar"));
        Assert.Equal(5, docker.Code);
        Assert.Contains("is an artifact (application/vnd.cncf.helm.config.v1+json), not an image", docker.Err, StringComparison.Ordinal);
        Assert.Single(docker.Err.Trim().Split('\n'));
        Assert.False(File.Exists(_dir.Path("d.tar")));
    }

    // ---------------------------------------------------------------- platforms

    private static readonly TestImage Amd = ImageBuilder.ImageFor([ImageBuilder.Layer(1110, compression: "gzip")], 111, "amd64", "docker.io/library/multi:1");
    private static readonly TestImage Arm = ImageBuilder.ImageFor([ImageBuilder.Layer(1120, compression: "gzip")], 112, "arm64", "docker.io/library/multi:1");

    private (string Path, string IndexDigest) Multi(bool signIndex = false, bool signChildren = false)
    {
        var index = ImageBuilder.Index([Amd, Arm]);
        string p = _dir.Path("multi.tar");
        var extras = signIndex ? new List<(ImageBuilder.TestArtifact, string?)> { (ImageBuilder.CosignSignature(index.Digest), $"sha256-{index.Digest[7..]}.sig") } : [];
        if (signChildren)
            extras.AddRange(new[] { Amd, Arm }.Select(c => (ImageBuilder.CosignSignature(c.ManifestDigest), (string?)$"sha256-{c.ManifestDigest[7..]}.sig")));
        ImageBuilder.WriteOciWithArtifacts(p, Amd, "docker.io/library/multi:1", extras, index, [Amd, Arm]);
        return (p, index.Digest);
    }

    private static string RootDigest(string path)
    {
        using var s = F.Open(path);
        return Assert.Single(s.Images).Key.ToString();
    }

    [Fact]
    public void OnePlatformIsThatPlatformsManifest()
    {
        var (p, _) = Multi();
        Ok(Run("copy", p, "oci-archive:" + _dir.Path("arm.tar"), "--platform", "linux/arm64", "-q"));
        Assert.Equal(Arm.ManifestDigest, RootDigest(_dir.Path("arm.tar")));
        F.AssertValid(_dir.Path("arm.tar"));
    }

    [Fact]
    public void KeepIndexKeepsTheDigestSparse()
    {
        var (p, index) = Multi();
        var r = Run("copy", p, "oci-archive:" + _dir.Path("sparse.tar"), "--platform", "linux/arm64", "--keep-index");
        Ok(r);
        Assert.Equal(index, RootDigest(_dir.Path("sparse.tar")));
        var verify = F.Verify(_dir.Path("sparse.tar"));
        Assert.True(verify.Ok);
        Assert.Contains(verify.Findings, f => f.Message.Contains("sparse index: 1 of 2 children present (linux/amd64 absent)", StringComparison.Ordinal));
        var inspect = Run("inspect", _dir.Path("sparse.tar"), "--details");
        Assert.Contains("linux/amd64 (absent)", inspect.Out, StringComparison.Ordinal);
        Assert.Contains("\"present\": false", Run("inspect", _dir.Path("sparse.tar"), "--json").Out, StringComparison.Ordinal);
    }

    [Fact]
    public void SeveralPlatformsOfThreeMakeANewIndexAndSayBothDigests()
    {
        var s390 = ImageBuilder.ImageFor([ImageBuilder.Layer(1130, compression: "gzip")], 113, "s390x", "docker.io/library/multi:1");
        var index = ImageBuilder.Index([Amd, Arm, s390]);
        string p = _dir.Path("three.tar");
        ImageBuilder.WriteOciWithArtifacts(p, Amd, "docker.io/library/multi:1", [], index, [Amd, Arm, s390]);
        var r = Run("copy", p, "oci-archive:" + _dir.Path("two.tar"), "--platform", "linux/amd64,linux/arm64");
        Ok(r);
        string fresh = RootDigest(_dir.Path("two.tar"));
        Assert.NotEqual(index.Digest, fresh);
        Assert.Contains(index.Digest, r.Err, StringComparison.Ordinal);
        Assert.Contains(fresh, r.Err, StringComparison.Ordinal);
        using var s = F.Open(_dir.Path("two.tar"));
        Assert.Equal([Amd.ImageId, Arm.ImageId], s.Images.Single().Images().Select(i => i.Image.ImageId.ToString()));
    }

    [Fact]
    public void ASignedIndexIsNotSubsetSilently()
    {
        var (p, index) = Multi(signIndex: true);
        var r = Run("copy", p, "oci-archive:" + _dir.Path("x.tar"), "--platform", "linux/arm64");
        Assert.Equal(2, r.Code);
        Assert.Contains($"{index} is signed", r.Err, StringComparison.Ordinal);
        Ok(Run("copy", p, "oci-archive:" + _dir.Path("kept.tar"), "--platform", "linux/arm64", "--keep-index", "-q"));
        Assert.Equal(index, RootDigest(_dir.Path("kept.tar")));
        Assert.Single(Referrers(_dir.Path("kept.tar")));
        Ok(Run("copy", p, "oci-archive:" + _dir.Path("removed.tar"), "--platform", "linux/arm64", "--remove-signatures", "-q"));
        Assert.Empty(Referrers(_dir.Path("removed.tar")));
    }

    [Fact]
    public void OneSignedPlatformOfASignedIndexCarriesItsOwnSignature()
    {
        var (p, index) = Multi(signIndex: true, signChildren: true);
        var r = Run("copy", p, "oci-archive:" + _dir.Path("arm.tar"), "--platform", "linux/arm64");
        Ok(r);
        Assert.Contains($"the index's signature stays with index {index[7..19]}", r.Err, StringComparison.Ordinal);
        Assert.Equal(Arm.ManifestDigest, RootDigest(_dir.Path("arm.tar")));
        // Only arm64's own signature travels; amd64's went with amd64.
        Assert.Equal([("sig", Arm.ManifestDigest)], Referrers(_dir.Path("arm.tar")).Select(x => (x.Kind, x.Subject)));
        // Two platforms of the signed index would make a new index: refused.
        var both = Run("copy", p, "oci-archive:" + _dir.Path("new.tar"), "--platform", "linux/arm64,linux/amd64,linux/s390x");
        Assert.Equal(0, both.Code); // every child chosen: the original index, signature and all
        Assert.Equal(index, RootDigest(_dir.Path("new.tar")));
        Assert.Equal(3, Referrers(_dir.Path("new.tar")).Count);
    }
}
