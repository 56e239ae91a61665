using System.Text;
using System.Text.Json;
using Ferry.Digests;
using Ferry.Model;
using Ferry.Trust;

namespace Ferry.Tests.Trust;

/// <summary>
/// Real signatures other projects test with, verified offline: sigstore-go's public-good provenance bundle and its
/// otherName SAN bundle, cosign's OCI attestation bundle, and containers/image's cosign <c>.sig</c> signatures (key,
/// key + Rekor, Fulcio + Rekor) under containers-policy.json requirements, with their negative cases. Read from the
/// same fixture directory as the conformance cases (<see cref="SigstoreConformanceTests.Root"/>); skipped without it.
/// </summary>
public sealed class RealVectorTests
{
    private static string Fixture(string relative) => Path.Combine(SigstoreConformanceTests.Root()!, relative);

    private static TrustedRoot Root(string relative) => TrustedRoot.Load(Fixture(relative));

    /// <summary>The sha256 of the first subject of a DSSE bundle's statement (the artifact such a bundle is checked against).</summary>
    private static BlobArtifact SubjectOf(byte[] bundle)
    {
        using var doc = JsonDocument.Parse(bundle);
        byte[] payload = Convert.FromBase64String(doc.RootElement.GetProperty("dsseEnvelope").GetProperty("payload").GetString()!);
        using var st = JsonDocument.Parse(payload);
        var digests = st.RootElement.GetProperty("subject")[0].GetProperty("digest");
        return digests.TryGetProperty("sha256", out var sha256)
            ? BlobArtifact.FromDigest("sha256:" + sha256.GetString())
            : BlobArtifact.FromDigest("sha512:" + digests.GetProperty("sha512").GetString()); // npm's provenance names sha512
    }

    [RealVectorFact]
    public void SigstoreGoPublicGoodProvenance()
    {
        byte[] bundle = File.ReadAllBytes(Fixture("sigstore-go/bundles/sigstore.js@2.0.0-provenance.sigstore.json"));
        var terms = new CosignTerms
        {
            Identities = [new CertificateIdentity(null, "^https://github.com/sigstore/sigstore-js/", "https://token.actions.githubusercontent.com", null)],
            TrustedRoot = Root("sigstore-go/trusted-roots/public-good.json"),
        };
        var v = BlobVerifier.VerifyBundle(bundle, SubjectOf(bundle), terms);
        Assert.True(v.Verified, v.Reason);
        Assert.Equal("https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main", v.Signer);
        Assert.Equal("https://slsa.dev/provenance/v1", v.PredicateType);
        Assert.Equal(31821305, v.LogIndex); // the global index the SET signs, not the shard's proof index
        var wrong = new CosignTerms { Identities = [new CertificateIdentity("BadSANValue", null, "https://token.actions.githubusercontent.com", null)], TrustedRoot = terms.TrustedRoot };
        Assert.False(BlobVerifier.VerifyBundle(bundle, SubjectOf(bundle), wrong).Verified);
        Assert.False(BlobVerifier.VerifyBundle(bundle, BlobArtifact.FromDigest("sha256:" + new string('1', 64)), terms).Verified);
    }

    [RealVectorFact]
    public void SigstoreGoOtherNameSan()
    {
        byte[] bundle = File.ReadAllBytes(Fixture("sigstore-go/bundles/othername.sigstore.json"));
        var digest = BlobArtifact.FromDigest("sha256:bc103b4a84971ef6459b294a2b98568a2bfb72cded09d4acd1e16366a401f95b");
        CosignTerms Terms(string san) => new()
        {
            Identities = [new CertificateIdentity(san, null, "http://oidc.local:8080", null)],
            TrustedRoot = Root("sigstore-go/trusted-roots/scaffolding.json"),
            IgnoreSct = true, // as sigstore-go's test: log and integrated time, no SCT threshold
        };
        var v = BlobVerifier.VerifyBundle(bundle, digest, Terms("foo!oidc.local"));
        Assert.True(v.Verified, v.Reason);
        Assert.Equal("foo!oidc.local", v.Signer);
        Assert.False(BlobVerifier.VerifyBundle(bundle, digest, Terms("foo@oidc.local")).Verified);
    }

    [RealVectorFact]
    public void SigstoreGoTwoSignatureEnvelopeIsRefused()
    {
        byte[] bundle = File.ReadAllBytes(Fixture("sigstore-go/bundles/dsse-2sigs.sigstore.json"));
        var terms = new CosignTerms { Identities = [new CertificateIdentity(null, ".*", null, ".*")], TrustedRoot = Root("sigstore-go/trusted-roots/public-good.json") };
        var v = BlobVerifier.VerifyBundle(bundle, BlobArtifact.FromDigest("sha256:" + new string('0', 64)), terms);
        Assert.False(v.Verified); // it also carries its root, which is refused first
        Assert.True(v.Reason!.Contains("not one", StringComparison.Ordinal) || v.Reason.Contains("root certificate", StringComparison.Ordinal), v.Reason);
    }

    [RealVectorFact]
    public void CosignOciAttestationBundle()
    {
        byte[] bundle = File.ReadAllBytes(Fixture("cosign/oci-attestation.sigstore.json"));
        var terms = new CosignTerms { Identities = [new CertificateIdentity(null, ".*", null, ".*")], TrustedRoot = Root("cosign/trusted_root_pgi.json") };
        var v = BlobVerifier.VerifyBundle(bundle, SubjectOf(bundle), terms);
        Assert.True(v.Verified, v.Reason);
        Assert.NotNull(v.PredicateType);
    }

    /// <summary>A containers/image <c>dir:</c> fixture: the manifest digest and its first signature as cosign stored it.</summary>
    private static (Digest Manifest, SignedMaterial? Material, byte[] Payload, string? Problem) DirImage(string dir)
    {
        var manifest = Digest.Sha256Of(File.ReadAllBytes(Fixture($"containers-image/{dir}/manifest.json")));
        byte[] raw = File.ReadAllBytes(Fixture($"containers-image/{dir}/signature-1"));
        // "\0sigstore-json\n" then {mimeType, payload, annotations}.
        int nl = Array.IndexOf(raw, (byte)'\n');
        using var doc = JsonDocument.Parse(raw.AsMemory(nl + 1));
        byte[] payload = Convert.FromBase64String(doc.RootElement.GetProperty("payload").GetString()!);
        var annotations = doc.RootElement.GetProperty("annotations").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!, StringComparer.Ordinal);
        if (doc.RootElement.GetProperty("mimeType").GetString() != MediaTypes.CosignSignature)
            return (manifest, null, payload, "not a simple signing payload");
        try
        {
            return (manifest, SignedMaterial.ParseCosignLayer(payload, annotations, attestation: false, dir), payload, null);
        }
        catch (TrustFormatException e)
        {
            return (manifest, null, payload, e.Message);
        }
    }

    /// <summary>Applies the first requirement of <paramref name="policy"/>'s scope for <paramref name="name"/> to a dir: fixture, as ImageVerifier does.</summary>
    private static string? Evaluate(string policy, string dir, string name)
    {
        var p = TrustPolicy.Parse(Encoding.UTF8.GetBytes(policy), "policy.json");
        var image = ImageName.Parse(name);
        var requirement = p.Match(image).Requirements[0];
        if (requirement.Problem is not null)
            return requirement.Problem;
        var (manifest, material, payload, problem) = DirImage(dir);
        if (material is null)
            return problem;
        var v = SignatureChecker.Verify(material, BlobArtifact.OfDigest(manifest), requirement.Signature!);
        if (!v.Verified)
            return v.Reason;
        return requirement.Identity!.Check(image, SignatureChecker.SimpleSigning(payload).Reference);
    }

    private static string Json(string s) => JsonSerializer.Serialize(s);

    private static string KeyPolicy(string keys, string? rekor = null, string identity = "matchRepository") =>
        $"{{\"default\":[{{\"type\":\"sigstoreSigned\",\"keyPaths\":[{keys}]{(rekor is null ? "" : $",\"rekorPublicKeyPath\":{Json(rekor)}")},\"signedIdentity\":{{\"type\":\"{identity}\"}}}}]}}";

    [RealVectorFact]
    public void ContainersImageCosignSignatures()
    {
        string keys = $"{Json(Fixture("containers-image/cosign.pub"))},{Json(Fixture("containers-image/cosign2.pub"))}";
        string rekor = Fixture("containers-image/rekor.pub");
        Assert.Null(Evaluate(KeyPolicy(keys), "dir-img-cosign-valid", "192.168.64.2:5000/cosign-signed-single-sample:latest"));
        Assert.Null(Evaluate(KeyPolicy(keys, rekor), "dir-img-cosign-key-rekor-valid", "192.168.64.2:5000/cosign-signed/key-1:latest"));
        // A Rekor key is given: the SET is required, and this signature has none.
        Assert.Contains("no transparency log entry", Evaluate(KeyPolicy(keys, rekor), "dir-img-cosign-valid", "192.168.64.2:5000/cosign-signed-single-sample:latest"), StringComparison.Ordinal);
        // Another Rekor key: the SET does not verify.
        Assert.NotNull(Evaluate(KeyPolicy(keys, Fixture("containers-image/cosign.pub")), "dir-img-cosign-key-rekor-valid", "192.168.64.2:5000/cosign-signed/key-1:latest"));
        // cosign's payload names the repository: matchRepoDigestOrExact refuses it for a tagged name.
        Assert.Contains("is not accepted", Evaluate(KeyPolicy(keys, identity: "matchRepoDigestOrExact"), "dir-img-cosign-valid", "192.168.64.2:5000/cosign-signed-single-sample:latest"), StringComparison.Ordinal);
        Assert.Contains("is not accepted", Evaluate(KeyPolicy(keys), "dir-img-cosign-valid", "192.168.64.2:5000/another:latest"), StringComparison.Ordinal);
        // The signature names another manifest; the manifest was changed; an attachment that is no signature.
        Assert.Contains("not sha256:", Evaluate(KeyPolicy(keys), "dir-img-cosign-manifest-digest-error", "192.168.64.2:5000/cosign-signed-single-sample:latest"), StringComparison.Ordinal);
        Assert.NotNull(Evaluate(KeyPolicy(keys), "dir-img-cosign-modified-manifest", "192.168.64.2:5000/cosign-signed-single-sample:latest"));
        Assert.NotNull(Evaluate(KeyPolicy(keys), "dir-img-cosign-other-attachment", "192.168.64.2:5000/cosign-signed-single-sample:latest"));

        string fulcio = $"{{\"default\":[{{\"type\":\"sigstoreSigned\",\"fulcio\":{{\"caPath\":{Json(Fixture("containers-image/fulcio_v1.crt.pem"))},\"oidcIssuer\":\"https://github.com/login/oauth\",\"subjectEmail\":\"mitr@redhat.com\"}},\"rekorPublicKeyPath\":{Json(rekor)},\"signedIdentity\":{{\"type\":\"matchRepository\"}}}}]}}";
        Assert.Null(Evaluate(fulcio, "dir-img-cosign-fulcio-rekor-valid", "192.168.64.2:5000/cosign-signed/fulcio-rekor-1:latest"));
        Assert.Contains("matches none of", Evaluate(fulcio.Replace("mitr@redhat.com", "someone@redhat.com", StringComparison.Ordinal), "dir-img-cosign-fulcio-rekor-valid", "192.168.64.2:5000/cosign-signed/fulcio-rekor-1:latest"), StringComparison.Ordinal);
        // A key-signed image under a Fulcio requirement.
        Assert.NotNull(Evaluate(fulcio, "dir-img-cosign-key-rekor-valid", "192.168.64.2:5000/cosign-signed/key-1:latest"));
    }

    [RealVectorFact]
    public void ContainersImagePolicyFixtureParses()
    {
        var p = TrustPolicy.Load(Fixture("containers-image/policy.json"));
        Assert.Equal("docker:example.com/playground", p.Match(ImageName.Parse("example.com/playground/app:1")).Scope);
        Assert.Equal(PolicyRequirementType.InsecureAcceptAnything, p.Match(ImageName.Parse("example.com/playground/app:1")).Requirements[0].Type);
        Assert.Equal("default", p.Match(ImageName.Parse("quay.io/x/y:1")).Scope);
        // Its sigstoreSigned examples name keys that are not there ("nonsense", /keys/public-key): problems, not errors.
        Assert.NotEmpty(p.Problems);
    }
}

/// <summary>A fact skipped when the third-party fixtures are not there.</summary>
public sealed class RealVectorFactAttribute : FactAttribute
{
    public RealVectorFactAttribute()
    {
        if (SigstoreConformanceTests.Root() is not { } root || !Directory.Exists(Path.Combine(root, "containers-image")))
            Skip = "third-party sigstore fixtures absent: set FERRY_SIGSTORE_CONFORMANCE (see tests/Ferry.Core.Tests/Trust/CONFORMANCE.md)";
    }
}
