using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Ferry.Model;
using Ferry.Tests.TestSupport;
using Ferry.Trust;
using static Ferry.Tests.TestSupport.ImageBuilder;

namespace Ferry.Tests.Trust;

/// <summary>
/// <see cref="ImageVerifier"/> with containers-policy.json and cosign's terms over images read from an archive with
/// their signatures: cosign's <c>.sig</c> (key and keyless, with certificate, chain and SET annotations), <c>.att</c>
/// attestations, and cosign v3's bundle referrers; scopes chosen by the source name, most specific first.
/// </summary>
public sealed class ImageVerificationTests : IDisposable
{
    private const string Name = "registry.example.test/team/app:1";
    private const string Repository = "registry.example.test/team/app";
    private readonly TestSigstore _s = new();
    private readonly TempDir _dir = new();
    private static readonly TestImage App = Image(261, 1, "gzip", Name);

    public void Dispose()
    {
        _s.Dispose();
        _dir.Dispose();
    }

    private static string Sha(byte[] b) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(b));

    /// <summary>A manifest with an empty config and one layer carrying <paramref name="annotations"/> (cosign's tag form), or a bundle referrer.</summary>
    private static TestArtifact Artifact(string layerType, byte[] layer, Dictionary<string, string>? annotations = null, string? artifactType = null, bool subject = false)
    {
        byte[] config = "{}"u8.ToArray();
        var layerDesc = new Dictionary<string, object> { ["mediaType"] = layerType, ["digest"] = Sha(layer), ["size"] = layer.Length };
        if (annotations is not null)
            layerDesc["annotations"] = annotations;
        var manifest = new Dictionary<string, object>
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = "application/vnd.oci.image.manifest.v1+json",
            ["config"] = new Dictionary<string, object> { ["mediaType"] = "application/vnd.oci.empty.v1+json", ["digest"] = Sha(config), ["size"] = config.Length },
            ["layers"] = new[] { layerDesc },
        };
        if (artifactType is not null)
            manifest["artifactType"] = artifactType;
        if (subject)
            manifest["subject"] = new Dictionary<string, object> { ["mediaType"] = "application/vnd.oci.image.manifest.v1+json", ["digest"] = App.ManifestDigest, ["size"] = App.OciManifest().Length };
        return new TestArtifact(JsonSerializer.SerializeToUtf8Bytes(manifest), [("application/vnd.oci.empty.v1+json", config), (layerType, layer)]);
    }

    private static byte[] Payload(string reference, string digest) =>
        Encoding.UTF8.GetBytes($"{{\"critical\":{{\"identity\":{{\"docker-reference\":\"{reference}\"}},\"image\":{{\"docker-manifest-digest\":\"{digest}\"}},\"type\":\"cosign container image signature\"}},\"optional\":null}}");

    /// <summary>A keyless cosign signature: the certificate, chain and SET annotations as cosign 2 writes them.</summary>
    private TestArtifact KeylessSignature(string reference = Repository, string? identity = null)
    {
        var (leaf, key) = _s.Leaf(identity ?? TestSigstore.Email);
        byte[] payload = Payload(reference, App.ManifestDigest);
        byte[] sig = key.SignData(payload, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
        byte[] body = TestSigstore.HashedRekord(sig, TestSigstore.Pem(leaf), SHA256.HashData(payload));
        return Artifact(MediaTypes.CosignSignature, payload, new()
        {
            ["dev.cosignproject.cosign/signature"] = Convert.ToBase64String(sig),
            ["dev.sigstore.cosign/certificate"] = TestSigstore.Pem(leaf),
            ["dev.sigstore.cosign/chain"] = TestSigstore.Pem(_s.Intermediate) + TestSigstore.Pem(_s.Root),
            ["dev.sigstore.cosign/bundle"] = _s.SetAnnotation(body, TestSigstore.Now.ToUnixTimeSeconds(), 42),
        });
    }

    private string Write(params (TestArtifact Artifact, string? RefName)[] extras)
    {
        string path = _dir.Path(Guid.NewGuid().ToString("N") + ".tar");
        WriteOciWithArtifacts(path, App, Name, extras);
        return path;
    }

    private static string Tag(string suffix) => $"sha256-{App.ManifestDigest[7..]}.{suffix}";

    private static ImageVerdict Verify(string archive, TrustPolicy policy)
    {
        using var source = F.Open(archive);
        return ImageVerifier.VerifyAsync(source.Images[0], policy).GetAwaiter().GetResult();
    }

    private CosignTerms Keyless(string? attestationType = null) => new()
    {
        Identities = [new CertificateIdentity(TestSigstore.Email, null, TestSigstore.Issuer, null)],
        TrustedRoot = TrustedRoot.Parse(_s.TrustedRootJson(), "trusted_root.json"),
        AttestationType = attestationType,
    };

    private string PolicyFile(string json)
    {
        string path = _dir.Path(Guid.NewGuid().ToString("N") + ".json");
        File.WriteAllText(path, json);
        return path;
    }

    private string FulcioPolicy(string signedIdentity)
    {
        string ca = _dir.Path("fulcio.pem");
        File.WriteAllText(ca, TestSigstore.Pem(_s.Root));
        string rekor = _dir.Path("rekor.pub");
        File.WriteAllText(rekor, _s.RekorKey.ExportSubjectPublicKeyInfoPem());
        return "{\"default\":[{\"type\":\"reject\"}],\"transports\":{\"docker\":{\"registry.example.test/team\":[{\"type\":\"sigstoreSigned\","
            + $"\"fulcio\":{{\"caPath\":\"{ca}\",\"oidcIssuer\":\"{TestSigstore.Issuer}\",\"subjectEmail\":\"{TestSigstore.Email}\"}},"
            + $"\"rekorPublicKeyPath\":\"{rekor}\",\"signedIdentity\":{signedIdentity}" + "}]}}}";
    }

    [Fact]
    public void AKeylessCosignSignatureIsAcceptedByCosignTermsAndByAFulcioPolicy()
    {
        var sig = KeylessSignature();
        string archive = Write((sig, Tag("sig")));
        var v = Verify(archive, TrustPolicy.FromCosignTerms(Keyless()));
        Assert.True(v.Accepted, v.Reason);
        Assert.Equal("cosign", v.Scope);
        Assert.Equal(TestSigstore.Email, v.Signer);
        Assert.Equal(TestSigstore.Issuer, v.Issuer);
        Assert.Equal(42, v.LogIndex);
        Assert.Equal(TestSigstore.Now, v.IntegratedTime);
        Assert.Equal(sig.Digest, v.Signatures.Single().Source.ToString());

        // containers-policy.json: fulcio + Rekor key; cosign's payload names the repository only, so matchRepository
        // (or exactRepository) accepts it and the default matchRepoDigestOrExact does not, for a tagged name.
        var byRepo = Verify(archive, TrustPolicy.Load(PolicyFile(FulcioPolicy("{\"type\":\"matchRepository\"}"))));
        Assert.True(byRepo.Accepted, byRepo.Reason);
        Assert.Equal("docker:registry.example.test/team", byRepo.Scope);
        Assert.True(Verify(archive, TrustPolicy.Load(PolicyFile(FulcioPolicy($"{{\"type\":\"exactRepository\",\"dockerRepository\":\"{Repository}\"}}")))).Accepted);
        var exact = Verify(archive, TrustPolicy.Load(PolicyFile(FulcioPolicy("{\"type\":\"matchRepoDigestOrExact\"}"))));
        Assert.False(exact.Accepted);
        Assert.Contains($"signature for identity {Repository} is not accepted", exact.Reason, StringComparison.Ordinal);
        Assert.StartsWith($"{Name}: rejected by docker:registry.example.test/team: none of the 1 signature(s) was accepted", exact.Line, StringComparison.Ordinal);
    }

    [Fact]
    public void SignaturesOfAnotherSignerOrNoneAreRejectedNamingTheScope()
    {
        string archive = Write((KeylessSignature(identity: "mallory@example.test"), Tag("sig")));
        var v = Verify(archive, TrustPolicy.FromCosignTerms(Keyless()));
        Assert.False(v.Accepted);
        Assert.Contains("none of the 1 signature(s) was accepted", v.Reason, StringComparison.Ordinal);
        Assert.Contains("mallory@example.test", v.Reason, StringComparison.Ordinal);

        string unsigned = Write();
        var u = Verify(unsigned, TrustPolicy.FromCosignTerms(Keyless()));
        Assert.False(u.Accepted);
        Assert.Equal($"{Name}: rejected by cosign: a signature was required, but none exists for {App.ManifestDigest}", u.Line);
    }

    [Fact]
    public void AKeyPolicyChecksTheKeyAndTheSignedIdentity()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        string pub = _dir.Path("cosign.pub");
        File.WriteAllText(pub, key.ExportSubjectPublicKeyInfoPem());
        string otherPub = _dir.Path("other.pub");
        File.WriteAllText(otherPub, other.ExportSubjectPublicKeyInfoPem());
        // skopeo's sigstore signatures name the exact reference: the default identity rule accepts them.
        string archive = Write((CosignSignature(App.ManifestDigest, reference: Name, key: key), Tag("sig")));
        string Policy(string keyPath) => "{\"default\":[{\"type\":\"insecureAcceptAnything\"}],\"transports\":{\"docker\":{\"registry.example.test\":[{\"type\":\"sigstoreSigned\",\"keyPath\":\"" + keyPath + "\"}]}}}";
        var ok = Verify(archive, TrustPolicy.Load(PolicyFile(Policy(pub))));
        Assert.True(ok.Accepted, ok.Reason);
        Assert.Equal("docker:registry.example.test", ok.Scope);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(key.ExportSubjectPublicKeyInfo())), ok.KeyId);
        var bad = Verify(archive, TrustPolicy.Load(PolicyFile(Policy(otherPub))));
        Assert.False(bad.Accepted);
        Assert.Contains("does not verify with " + otherPub, bad.Reason, StringComparison.Ordinal);
        // The same key through cosign's terms.
        using var vk = VerificationKey.FromFile(pub);
        Assert.True(Verify(archive, TrustPolicy.FromCosignTerms(new CosignTerms { Keys = [vk] })).Accepted);
    }

    [Fact]
    public void ScopesAreChosenMostSpecificFirst()
    {
        var p = TrustPolicy.Parse(Encoding.UTF8.GetBytes("""
            {"default":[{"type":"reject"}],"transports":{"docker":{
              "":[{"type":"insecureAcceptAnything"}],
              "*.example.test":[{"type":"reject"}],
              "registry.example.test":[{"type":"insecureAcceptAnything"}],
              "registry.example.test/team":[{"type":"reject"}],
              "registry.example.test/team/app:1":[{"type":"insecureAcceptAnything"}]},
              "docker-daemon":{"":[{"type":"insecureAcceptAnything"}]}}}
            """), "policy.json");
        Assert.Equal("docker:registry.example.test/team/app:1", p.Match(ImageName.Parse("registry.example.test/team/app:1")).Scope);
        Assert.Equal("docker:registry.example.test/team", p.Match(ImageName.Parse("registry.example.test/team/app:2")).Scope);
        Assert.Equal("docker:registry.example.test", p.Match(ImageName.Parse("registry.example.test/other/app:1")).Scope);
        Assert.Equal("docker:*.example.test", p.Match(ImageName.Parse("mirror.example.test/x:1")).Scope);
        Assert.Equal("docker:\"\"", p.Match(ImageName.Parse("alpine:3")).Scope);
        Assert.Equal("docker:\"\"", p.Match(null).Scope);
        Assert.Equal("reject", p.Match(ImageName.Parse("registry.example.test/team/x:1")).Requirement);
        var noDefault = TrustPolicy.Parse("""{"default":[{"type":"reject"}]}"""u8.ToArray(), "p.json");
        Assert.Equal("default", noDefault.Match(ImageName.Parse("alpine:3")).Scope);
    }

    [Theory]
    [InlineData("""{"transports":{}}""", "\"default\" is missing")]
    [InlineData("""{"default":[{"type":"reject"}],"extra":1}""", "unknown field \"extra\"")]
    [InlineData("""{"default":[]}""", "an empty list of requirements")]
    [InlineData("""{"default":[{"type":"sigstoreSigned"}]}""", "exactly one of keyPath")]
    [InlineData("""{"default":[{"type":"sigstoreSigned","keyData":"!!"}]}""", "not base64")]
    [InlineData("""{"default":[{"type":"sigstoreSigned","keyPath":"/k","fulcio":{}}]}""", "exactly one of keyPath")]
    [InlineData("""{"default":[{"type":"whatever"}]}""", "unknown requirement type")]
    [InlineData("""{"default":[{"type":"reject","keyPath":"x"}]}""", "unknown field \"keyPath\"")]
    [InlineData("""{"default":[{"type":"sigstoreSigned","fulcio":{"caData":"","oidcIssuer":"i","subjectEmail":"e"}}]}""", "no CA certificate")]
    public void PolicyErrorsNameWhereTheyAre(string json, string expected)
    {
        var e = Assert.Throws<UsageException>(() => TrustPolicy.Parse(Encoding.UTF8.GetBytes(json), "policy.json"));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.StartsWith("policy.json: ", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AKeyThatCannotBeReadRejectsOnlyTheImagesOfItsScope()
    {
        var p = TrustPolicy.Parse("""
            {"default":[{"type":"insecureAcceptAnything"}],"transports":{"docker":{
              "registry.example.test/team":[{"type":"sigstoreSigned","keyPath":"/nonexistent/cosign.pub"}],
              "registry.example.test/other":[{"type":"sigstoreSigned","keyData":"bm9uc2Vuc2U="}],
              "registry.example.test/pki":[{"type":"sigstoreSigned","pki":{}}]}}}
            """u8.ToArray(), "policy.json");
        Assert.Equal(3, p.Problems.Count);
        string archive = Write((KeylessSignature(), Tag("sig")));
        var v = Verify(archive, p);
        Assert.False(v.Accepted);
        Assert.Contains("cannot be applied: /nonexistent/cosign.pub: cannot read the public key", v.Reason, StringComparison.Ordinal);
        Assert.Equal("default", p.Match(ImageName.Parse("quay.io/x/y:1")).Scope);
    }

    [Fact]
    public void CosignV3BundleReferrersCountForCosignTermsNotForPolicyJson()
    {
        var (leaf, key) = _s.Leaf();
        byte[] statement = TestSigstore.Statement(App.ManifestDigest[7..], Attestations.CosignSignPredicate, "{}");
        byte[] bundle = Encoding.UTF8.GetBytes(_s.DsseBundle(statement, leaf, key));
        const string type = "application/vnd.dev.sigstore.bundle.v0.3+json";
        var referrer = Artifact(type, bundle, artifactType: type, subject: true);
        string archive = Write((referrer, null));
        var v = Verify(archive, TrustPolicy.FromCosignTerms(Keyless()));
        Assert.True(v.Accepted, v.Reason);
        Assert.Equal(9, v.LogIndex);
        Assert.Equal("sigstore bundle v0.3", v.Signatures.Single().Form);
        // policy.json's sigstoreSigned reads .sig signatures only, as containers/image does.
        Assert.Contains("none exists", Verify(archive, TrustPolicy.Load(PolicyFile(FulcioPolicy("{\"type\":\"matchRepository\"}")))).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AttestationsAreSelectedByTypeAndTheirPredicateIsRead()
    {
        var (leaf, key) = _s.Leaf();
        byte[] statement = TestSigstore.Statement(App.ManifestDigest[7..]);
        byte[] sig = key.SignData(DsseEnvelope.Pae("application/vnd.in-toto+json", statement), HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
        byte[] envelope = Encoding.UTF8.GetBytes($"{{\"payloadType\":\"application/vnd.in-toto+json\",\"payload\":\"{Convert.ToBase64String(statement)}\",\"signatures\":[{{\"keyid\":\"\",\"sig\":\"{Convert.ToBase64String(sig)}\"}}]}}");
        byte[] body = TestSigstore.DsseBody(sig, TestSigstore.Pem(leaf), statement);
        var att = Artifact("application/vnd.dsse.envelope.v1+json", envelope, new()
        {
            ["dev.cosignproject.cosign/signature"] = "",
            ["dev.sigstore.cosign/certificate"] = TestSigstore.Pem(leaf),
            ["dev.sigstore.cosign/bundle"] = _s.SetAnnotation(body, TestSigstore.Now.ToUnixTimeSeconds(), 43),
        });
        string archive = Write((att, Tag("att")));
        var v = Verify(archive, TrustPolicy.FromCosignTerms(Keyless("slsaprovenance1")));
        Assert.True(v.Accepted, v.Reason);
        Assert.Equal(43, v.LogIndex);
        var spdx = Verify(archive, TrustPolicy.FromCosignTerms(Keyless("spdx")));
        Assert.False(spdx.Accepted);
        Assert.Contains("not 'https://spdx.dev/Document'", spdx.Reason, StringComparison.Ordinal);
        // An attestation is not a signature.
        Assert.False(Verify(archive, TrustPolicy.FromCosignTerms(Keyless())).Accepted);
        using var source = F.Open(archive);
        var found = await ImageVerifier.AttestationsAsync(source.Images[0], "https://slsa.dev/provenance/v1", Keyless());
        var one = Assert.Single(found);
        Assert.True(one.Verified, one.Reason);
        Assert.Contains("https://example.test/build", one.Predicate, StringComparison.Ordinal);
        Assert.Empty(await ImageVerifier.AttestationsAsync(source.Images[0], "cyclonedx", null));
    }
}
