using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Ferry.Tests.TestSupport;
using static Ferry.Tests.TestSupport.CliRun;

namespace Ferry.Tests.Referrers;

/// <summary>
/// `ferry verify --key`: cosign signatures checked against a public key as cosign does with a key file; who signed, as
/// a keyless certificate says; a manifest in two images keeps each image's own signature; a push adds to the
/// signatures already under a cosign tag instead of replacing them; a referrer of nothing does not stop a push.
/// </summary>
public sealed class SignatureTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly ECDsa _other = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public void Dispose()
    {
        _key.Dispose();
        _other.Dispose();
        _dir.Dispose();
    }

    private string PublicKey(ECDsa key, string name)
    {
        string path = _dir.Path(name);
        File.WriteAllText(path, key.ExportSubjectPublicKeyInfoPem());
        return path;
    }

    private static readonly TestImage App = ImageBuilder.Image(201, 2, "gzip", "docker.io/library/app:1");
    private static readonly TestImage Amd = ImageBuilder.ImageFor([ImageBuilder.Layer(2110, compression: "gzip")], 211, "amd64", "docker.io/library/multi:1");
    private static readonly TestImage Arm = ImageBuilder.ImageFor([ImageBuilder.Layer(2120, compression: "gzip")], 212, "arm64", "docker.io/library/multi:1");

    private static string Tag(string digest, string suffix = "sig") => $"sha256-{digest[7..]}.{suffix}";

    [Fact]
    public void VerifyWithAKeyChecksTheSignatureAndWhatItSigns()
    {
        string p = _dir.Path("signed.tar");
        var sig = ImageBuilder.CosignSignature(App.ManifestDigest, key: _key);
        ImageBuilder.WriteOciWithArtifacts(p, App, "docker.io/library/app:1", [(sig, Tag(App.ManifestDigest))]);
        var ok = Run("verify", p, "--key", PublicKey(_key, "cosign.pub"));
        Assert.True(ok.Code == 0, ok.Err);
        Assert.Contains($"signed: app:1: {App.ManifestDigest} with {_dir.Path("cosign.pub")} (signature {sig.Digest})", ok.Out, StringComparison.Ordinal);
        Assert.Contains($"\"subject\": \"{App.ManifestDigest}\"", Run("verify", p, "--key", _dir.Path("cosign.pub"), "--json").Out, StringComparison.Ordinal);

        // Another key: not signed, and the signature there is named as one no given key verifies.
        var other = Run("verify", p, "--key", PublicKey(_other, "other.pub"));
        Assert.Equal(1, other.Code);
        Assert.Contains($"not signed with {_dir.Path("other.pub")}", other.Err, StringComparison.Ordinal);
        Assert.Contains($"signature {sig.Digest}: of {App.ManifestDigest}: no given key verifies it", other.Out, StringComparison.Ordinal);
        // Either of two keys will do.
        Assert.Equal(0, Run("verify", p, "--key", _dir.Path("other.pub"), "--key", _dir.Path("cosign.pub")).Code);
        // Without --key, digests only: fine.
        Assert.Equal(0, Run("verify", p).Code);
    }

    [Fact]
    public void ASignatureOverAnotherDigestOrWithAlteredBytesDoesNotCount()
    {
        // A genuine signature whose payload names another image, stored as this one's.
        string p = _dir.Path("elsewhere.tar");
        var sig = ImageBuilder.CosignSignature(App.ManifestDigest, key: _key, payloadDigest: Amd.ManifestDigest);
        ImageBuilder.WriteOciWithArtifacts(p, App, "docker.io/library/app:1", [(sig, Tag(App.ManifestDigest))]);
        var r = Run("verify", p, "--key", PublicKey(_key, "cosign.pub"));
        Assert.Equal(1, r.Code);
        Assert.Contains($"signs {Amd.ManifestDigest}, not its subject {App.ManifestDigest}", r.Err, StringComparison.Ordinal);

        // A signature made over other bytes.
        var forged = ImageBuilder.CosignSignature(App.ManifestDigest, key: _other);
        string q = _dir.Path("forged.tar");
        ImageBuilder.WriteOciWithArtifacts(q, App, "docker.io/library/app:1", [(forged, Tag(App.ManifestDigest))]);
        Assert.Equal(1, Run("verify", q, "--key", _dir.Path("cosign.pub")).Code);
    }

    [Fact]
    public void AnIndexIsSignedByItsOwnSignatureOrElseByEveryPlatformsSignature()
    {
        var index = ImageBuilder.Index([Amd, Arm]);
        string key = PublicKey(_key, "cosign.pub");
        string Write(string name, params (ImageBuilder.TestArtifact, string?)[] extras)
        {
            string p = _dir.Path(name);
            ImageBuilder.WriteOciWithArtifacts(p, Amd, "docker.io/library/multi:1", extras, index, [Amd, Arm]);
            return p;
        }
        var amdSig = (ImageBuilder.CosignSignature(Amd.ManifestDigest, key: _key), (string?)Tag(Amd.ManifestDigest));
        var armSig = (ImageBuilder.CosignSignature(Arm.ManifestDigest, key: _key), (string?)Tag(Arm.ManifestDigest));
        var indexSig = (ImageBuilder.CosignSignature(index.Digest, key: _key), (string?)Tag(index.Digest));
        var badIndexSig = (ImageBuilder.CosignSignature(index.Digest, key: _other), (string?)Tag(index.Digest));

        Assert.Equal(0, Run("verify", Write("index.tar", indexSig), "--key", key).Code);
        // As signers that sign only per-platform manifests do: every platform signed is enough.
        Assert.Equal(0, Run("verify", Write("platforms.tar", amdSig, armSig), "--key", key).Code);
        var one = Run("verify", Write("one.tar", amdSig), "--key", key);
        Assert.Equal(1, one.Code);
        Assert.Contains("or each of its platforms' manifests", one.Err, StringComparison.Ordinal);
        // An index signature none of whose layers verify is not made up for by the platforms' (cosign verify of the index would fail).
        Assert.Equal(1, Run("verify", Write("badindex.tar", badIndexSig, amdSig, armSig), "--key", key).Code);
    }

    [Fact]
    public void AKeyThatIsNotAPublicKeyIsAUsageError()
    {
        string p = _dir.Path("signed.tar");
        ImageBuilder.WriteOciWithArtifacts(p, App, "docker.io/library/app:1", [(ImageBuilder.CosignSignature(App.ManifestDigest, key: _key), Tag(App.ManifestDigest))]);
        File.WriteAllText(_dir.Path("cosign.key"), _key.ExportPkcs8PrivateKeyPem());
        var r = Run("verify", p, "--key", _dir.Path("cosign.key"));
        Assert.Equal(2, r.Code);
        Assert.Equal($"ferry: {_dir.Path("cosign.key")}: not a PEM public key (want -----BEGIN PUBLIC KEY-----, as cosign generate-key-pair writes cosign.pub)", r.Err.Trim());
        Assert.Equal(2, Run("verify", p, "--key", _dir.Path("missing.pub")).Code);
        var rsa = RSA.Create(2048);
        File.WriteAllText(_dir.Path("rsa.pub"), rsa.ExportSubjectPublicKeyInfoPem());
        Assert.Equal(1, Run("verify", p, "--key", _dir.Path("rsa.pub")).Code); // a usable key that signed nothing
    }

    [Theory]
    [InlineData("email", "release@example.org")]
    [InlineData("uri", "https://github.com/example/app/.github/workflows/release.yml@refs/heads/main")]
    public void AKeylessSignatureSaysWhoSignedFromItsCertificate(string kind, string identity)
    {
        using var certKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var req = new CertificateRequest("", certKey, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        if (kind == "email")
            san.AddEmailAddress(identity);
        else
            san.AddUri(new Uri(identity));
        req.CertificateExtensions.Add(san.Build());
        using var cert = req.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddMinutes(10));
        string pem = cert.ExportCertificatePem();
        string p = _dir.Path("keyless.tar");
        ImageBuilder.WriteOciWithArtifacts(p, App, "docker.io/library/app:1", [(ImageBuilder.CosignSignature(App.ManifestDigest, key: certKey, certificate: pem), Tag(App.ManifestDigest))]);
        using var s = F.OpenAny(p);
        Assert.Equal(identity, Assert.Single(Assert.Single(s.Images).Referrers).SignedBy);
        Assert.Contains($"signed by {identity}", Run("inspect", p, "--details").Out, StringComparison.Ordinal);
    }

    /// <summary>
    /// An index (app:1) and one of its platforms under another name (solo:1), each with its own signature of that
    /// platform (each from its repository's sha256-HEX.sig): each keeps its own through an archive and a push.
    /// </summary>
    [Fact]
    public void AManifestInTwoImagesKeepsEachImagesOwnSignature()
    {
        var index = ImageBuilder.Index([Amd, Arm]);
        var indexSig = ImageBuilder.CosignSignature(index.Digest, key: _key);
        var appArmSig = ImageBuilder.CosignSignature(Arm.ManifestDigest, "docker.io/library/multi", key: _key);
        var soloArmSig = ImageBuilder.CosignSignature(Arm.ManifestDigest, "docker.io/library/solo", key: _other);
        using var origin = new FakeRegistry();
        string a = _dir.Path("a.tar"), b = _dir.Path("b.tar");
        ImageBuilder.WriteOciWithArtifacts(a, Amd, "docker.io/library/multi:1", [(indexSig, Tag(index.Digest)), (appArmSig, Tag(Arm.ManifestDigest))], index, [Amd, Arm]);
        ImageBuilder.WriteOciWithArtifacts(b, Arm, "docker.io/library/solo:1", [(soloArmSig, Tag(Arm.ManifestDigest))]);
        Assert.Equal(0, Run("push", a, origin.Address, "-q").Code);
        Assert.Equal(0, Run("push", b, origin.Address, "-q").Code);

        string both = _dir.Path("both.tar");
        var pull = Run("pull", $"{origin.Address}/library/multi:1", $"{origin.Address}/library/solo:1", "-o", both, "--format", "oci-archive", "-q");
        Assert.True(pull.Code == 0, pull.Err);
        foreach (var path in new[] { both, _dir.Path("portable.tar") })
        {
            if (path != both)
                Assert.Equal(0, Run("copy", both, path, "-q").Code);
            using var s = F.Open(path);
            var multi = s.Images.Single(i => i.Label.EndsWith("multi:1", StringComparison.Ordinal));
            var solo = s.Images.Single(i => i.Label.EndsWith("solo:1", StringComparison.Ordinal));
            Assert.Equal(new[] { indexSig.Digest, appArmSig.Digest }.Order(StringComparer.Ordinal), multi.Referrers.Select(r => r.Artifact.Manifest.Digest.ToString()).Order(StringComparer.Ordinal));
            Assert.Equal([soloArmSig.Digest], solo.Referrers.Select(r => r.Artifact.Manifest.Digest.ToString()));
            Assert.EndsWith("/library/solo:1", Assert.Single(solo.Names).ToString(), StringComparison.Ordinal);
        }
        using var target = new FakeRegistry();
        var push = Run("push", _dir.Path("portable.tar"), target.Address + "/m", "-q");
        Assert.True(push.Code == 0, push.Err);
        Assert.Equal(appArmSig.Digest, target.Resolve("m/library/multi", Tag(Arm.ManifestDigest)));
        Assert.Equal(soloArmSig.Digest, target.Resolve("m/library/solo", Tag(Arm.ManifestDigest)));
    }

    [Fact]
    public void APushAddsToTheSignaturesAlreadyUnderACosignTag()
    {
        // The far side signed the image itself; the carried signature is added, the site's kept.
        var site = ImageBuilder.CosignSignature(App.ManifestDigest, key: _other);
        var carried = ImageBuilder.CosignSignature(App.ManifestDigest, key: _key);
        string first = _dir.Path("site.tar"), second = _dir.Path("carried.tar");
        ImageBuilder.WriteOciWithArtifacts(first, App, "docker.io/library/app:1", [(site, Tag(App.ManifestDigest))]);
        ImageBuilder.WriteOciWithArtifacts(second, App, "docker.io/library/app:1", [(carried, Tag(App.ManifestDigest))]);
        using var reg = new FakeRegistry();
        Assert.Equal(0, Run("push", first, reg.Address, "-q").Code);
        var r = Run("push", second, reg.Address);
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("already held signatures; the carried ones were added to them (1 added)", r.Err, StringComparison.Ordinal);
        string merged = Encoding.UTF8.GetString(reg.Manifest("library/app", Tag(App.ManifestDigest))!);
        string SignatureOf(ImageBuilder.TestArtifact a) => System.Text.Json.JsonDocument.Parse(a.Manifest).RootElement.GetProperty("layers")[0].GetProperty("annotations").GetProperty("dev.cosignproject.cosign/signature").GetString()!;
        Assert.Contains(SignatureOf(site), merged, StringComparison.Ordinal);
        Assert.Contains(SignatureOf(carried), merged, StringComparison.Ordinal);
        // Both keys verify it there now; a third push of the same adds nothing.
        Assert.Equal(0, Run("verify", $"docker://{reg.Address}/library/app:1", "--key", PublicKey(_key, "k.pub")).Code);
        Assert.Equal(0, Run("verify", $"docker://{reg.Address}/library/app:1", "--key", PublicKey(_other, "o.pub")).Code);
        var again = Run("push", second, reg.Address);
        Assert.Equal(0, again.Code);
        Assert.DoesNotContain("already held", again.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void AReferrerOfSomethingNotInTheSourceIsKeptInArchivesAndLeftOutOfAPush()
    {
        var sig = ImageBuilder.CosignSignature(Amd.ManifestDigest, key: _key);
        string p = _dir.Path("orphan.tar");
        ImageBuilder.WriteOciWithArtifacts(p, App, "docker.io/library/app:1", [(sig, Tag(Amd.ManifestDigest))]);
        var copy = Run("copy", p, "oci-archive:" + _dir.Path("kept.tar"));
        Assert.Equal(0, copy.Code);
        Assert.Contains("which is not in the source; kept as an artifact of its own", copy.Err, StringComparison.Ordinal);
        using (var s = F.Open(_dir.Path("kept.tar")))
            Assert.Contains(s.Images, i => i.Key.ToString() == sig.Digest);
        using var reg = new FakeRegistry();
        var push = Run("push", p, reg.Address);
        Assert.True(push.Code == 0, push.Err);
        Assert.Contains($"note: sig {sig.Digest} left out: what it refers to ({Amd.ManifestDigest}) is not in", push.Err, StringComparison.Ordinal);
        Assert.Equal(App.ManifestDigest, reg.Resolve("library/app", "1"));
    }
}
