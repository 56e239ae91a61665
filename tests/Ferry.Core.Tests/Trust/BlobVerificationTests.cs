using System.Security.Cryptography;
using System.Text;
using Ferry.Trust;
using Ferry.Tests.TestSupport;

namespace Ferry.Tests.Trust;

/// <summary>
/// Keyless and key verification of bundles against a private sigstore (<see cref="TestSigstore"/>): the good case, and
/// each way it must fail — tampered artifact, wrong identity, wrong issuer, expired at integrated time, unknown log
/// key, unknown CA, unknown CT key, another key — through the library and through <c>ferry verify-blob</c>.
/// </summary>
public sealed class BlobVerificationTests : IDisposable
{
    private readonly TestSigstore _s = new();
    private readonly TempDir _dir = new();
    private static readonly byte[] Artifact = Encoding.UTF8.GetBytes("the artifact\n");

    public void Dispose()
    {
        _s.Dispose();
        _dir.Dispose();
    }

    private CosignTerms Keyless(string identity = TestSigstore.Email, string issuer = TestSigstore.Issuer, byte[]? root = null, bool regex = false) => new()
    {
        Identities = [regex ? new CertificateIdentity(null, identity, null, issuer) : new CertificateIdentity(identity, null, issuer, null)],
        TrustedRoot = TrustedRoot.Parse(root ?? _s.TrustedRootJson(), "trusted_root.json"),
    };

    private static SignatureVerdict Verify(string bundle, CosignTerms terms, byte[]? artifact = null) =>
        BlobVerifier.VerifyBundle(Encoding.UTF8.GetBytes(bundle), BlobArtifact.FromBytes(artifact ?? Artifact), terms);

    [Fact]
    public void AGoodKeylessBundleVerifiesAndNamesWhatWasChecked()
    {
        var (leaf, key) = _s.Leaf();
        var v = Verify(_s.MessageBundle(Artifact, leaf, key), Keyless());
        Assert.True(v.Verified, v.Reason);
        Assert.Equal(TestSigstore.Email, v.Signer);
        Assert.Equal(TestSigstore.Issuer, v.Issuer);
        Assert.Equal(7, v.LogIndex);
        Assert.Equal(TestSigstore.Now, v.IntegratedTime);
        Assert.Contains(v.Checks, c => c.StartsWith("SET of log entry 7", StringComparison.Ordinal));
        Assert.Contains(v.Checks, c => c.StartsWith("SCT from CT log", StringComparison.Ordinal));
        Assert.Contains(v.Checks, c => c.StartsWith("certificate chain to", StringComparison.Ordinal));
        // By digest too, and with the regular-expression terms (unanchored, as cosign's).
        Assert.True(BlobVerifier.VerifyBundle(Encoding.UTF8.GetBytes(_s.MessageBundle(Artifact, leaf, key)), BlobArtifact.FromDigest("sha256:" + Convert.ToHexStringLower(SHA256.HashData(Artifact))), Keyless()).Verified);
        Assert.True(Verify(_s.MessageBundle(Artifact, leaf, key), Keyless("example\\.test", "issuer", regex: true)).Verified);
        // v0.3 (leaf alone) with an inclusion proof and checkpoint.
        var v3 = Verify(_s.MessageBundle(Artifact, leaf, key, version: "0.3", proof: true), Keyless());
        Assert.True(v3.Verified, v3.Reason);
        Assert.Contains(v3.Checks, c => c.StartsWith("inclusion proof of log entry 7", StringComparison.Ordinal));
    }

    [Fact]
    public void EachBrokenLinkFailsWithItsReason()
    {
        var (leaf, key) = _s.Leaf();
        string good = _s.MessageBundle(Artifact, leaf, key);
        Assert.Contains("not the artifact's", Verify(good, Keyless(), Encoding.UTF8.GetBytes("another artifact")).Reason, StringComparison.Ordinal);
        Assert.Contains("matches none of", Verify(good, Keyless("someone@else.test")).Reason, StringComparison.Ordinal);
        Assert.Contains("matches none of", Verify(good, Keyless(issuer: "https://other-issuer.test")).Reason, StringComparison.Ordinal);
        // The log entry integrated an hour after the ten-minute certificate expired.
        Assert.Equal("integrated time outside certificate validity", Verify(_s.MessageBundle(Artifact, leaf, key, integratedTime: TestSigstore.Now.AddHours(1).ToUnixTimeSeconds()), Keyless()).Reason);
        // A SET by a log the trust root does not know.
        using var otherLog = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        Assert.Contains("a log the trust root does not know", Verify(_s.MessageBundle(Artifact, leaf, key, rekorKey: otherLog), Keyless()).Reason, StringComparison.Ordinal);
        // A trust root without the log, the CA or the CT log.
        Assert.Contains("no verified time", Verify(good, Keyless(root: _s.TrustedRootJson(rekor: false))).Reason, StringComparison.Ordinal);
        Assert.Contains("no certificate authority of the trust root", Verify(good, Keyless(root: _s.TrustedRootJson(ca: false))).Reason, StringComparison.Ordinal);
        Assert.Contains("no SCT is from a CT log of the trust root", Verify(good, Keyless(root: _s.TrustedRootJson(ct: false))).Reason, StringComparison.Ordinal);
        // ... unless the SCT is waived, as cosign's --insecure-ignore-sct.
        var noSct = Keyless(root: _s.TrustedRootJson(ct: false));
        Assert.True(Verify(good, new CosignTerms { Identities = noSct.Identities, TrustedRoot = noSct.TrustedRoot, IgnoreSct = true }).Verified);
        // A certificate from another CA, an SCT from another CT key, a certificate without an SCT.
        using var other = new TestSigstore("other");
        var (foreign, foreignKey) = other.Leaf();
        Assert.False(Verify(_s.MessageBundle(Artifact, foreign, foreignKey), Keyless()).Verified);
        using var otherCt = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var (badSct, badSctKey) = _s.Leaf(ctKey: otherCt);
        Assert.Contains("no SCT", Verify(_s.MessageBundle(Artifact, badSct, badSctKey), Keyless()).Reason, StringComparison.Ordinal);
        var (noSctLeaf, noSctKey) = _s.Leaf(sct: false);
        Assert.Contains("no embedded SCT", Verify(_s.MessageBundle(Artifact, noSctLeaf, noSctKey), Keyless()).Reason, StringComparison.Ordinal);
        // A signature by another key than the certificate's, logged as it is.
        using var stranger = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        byte[] strangeSig = stranger.SignData(Artifact, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
        Assert.False(Verify(_s.MessageBundle(Artifact, leaf, key, signatureOverride: strangeSig), Keyless()).Verified);
        // The log entry records another digest.
        Assert.Contains("another digest", Verify(_s.MessageBundle(Artifact, leaf, key, bodyDigestOverride: new byte[32]), Keyless()).Reason, StringComparison.Ordinal);
        // Tampered JSON is a verdict, not an exception.
        Assert.False(Verify("{\"mediaType\":", Keyless()).Verified);
    }

    [Fact]
    public void ABundleSignedWithAKeyVerifiesWithThatKeyOnly()
    {
        using var signer = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        byte[] sig = signer.SignData(Artifact, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
        string bundle = $"{{\"mediaType\":\"application/vnd.dev.sigstore.bundle.v0.3+json\",\"verificationMaterial\":{{\"publicKey\":{{\"hint\":\"x\"}}}},\"messageSignature\":{{\"messageDigest\":{{\"algorithm\":\"SHA2_256\",\"digest\":\"{Convert.ToBase64String(SHA256.HashData(Artifact))}\"}},\"signature\":\"{Convert.ToBase64String(sig)}\"}}}}";
        using var good = VerificationKey.FromPem(signer.ExportSubjectPublicKeyInfoPem(), "cosign.pub");
        using var bad = VerificationKey.FromPem(other.ExportSubjectPublicKeyInfoPem(), "other.pub");
        var v = Verify(bundle, new CosignTerms { Keys = [good] });
        Assert.True(v.Verified, v.Reason);
        Assert.Equal(good.KeyId, v.KeyId);
        Assert.Contains("does not verify with other.pub", Verify(bundle, new CosignTerms { Keys = [bad] }).Reason, StringComparison.Ordinal);
        // Any one of several keys will do; the verdict names the one that verified.
        Assert.Equal(good.KeyId, Verify(bundle, new CosignTerms { Keys = [bad, good] }).KeyId);
        Assert.Contains("no given key verifies", Verify(bundle, new CosignTerms { Keys = [bad, bad] }).Reason, StringComparison.Ordinal);
        // A keyless bundle is not accepted for a key, nor a key bundle for an identity.
        var (leaf, key) = _s.Leaf();
        Assert.Contains("not a key", Verify(_s.MessageBundle(Artifact, leaf, key), new CosignTerms { Keys = [good] }).Reason, StringComparison.Ordinal);
        Assert.Contains("not a certificate", Verify(bundle, Keyless()).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Ed25519KeysVerifyThroughBouncyCastle()
    {
        // RFC 8032 §7.1 test 2: the public key and the signature of the one-byte message 0x72.
        byte[] pub = Convert.FromHexString("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c");
        byte[] sig = Convert.FromHexString("92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00");
        byte[] spki = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00, .. pub];
        string pem = "-----BEGIN PUBLIC KEY-----\n" + Convert.ToBase64String(spki) + "\n-----END PUBLIC KEY-----\n";
        using var key = VerificationKey.FromPem(pem, "ed25519.pub");
        Assert.Equal("ed25519", key.Algorithm);
        Assert.True(key.Verifies([0x72], sig));
        Assert.False(key.Verifies([0x73], sig));
    }

    [Fact]
    public void ARekorV2CheckpointSignedWithEd25519Verifies()
    {
        // A log2025-style log: Ed25519 key, checkpoint origin = the log's host, key hint per C2SP signed-note.
        var gen = new Org.BouncyCastle.Crypto.Generators.Ed25519KeyPairGenerator();
        gen.Init(new Org.BouncyCastle.Crypto.Parameters.Ed25519KeyGenerationParameters(new Org.BouncyCastle.Security.SecureRandom()));
        var pair = gen.GenerateKeyPair();
        byte[] pub = ((Org.BouncyCastle.Crypto.Parameters.Ed25519PublicKeyParameters)pair.Public).GetEncoded();
        byte[] spki = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00, .. pub];
        using var key = VerificationKey.FromSubjectPublicKeyInfo(spki, "log key");
        var log = new LogInstance("https://log2025.example.test", "log2025.example.test", SHA256.HashData(spki), key, null, TimeRange.Always, null, "PKIX_ED25519");
        byte[] body = "{\"apiVersion\":\"0.0.2\",\"kind\":\"hashedrekord\"}"u8.ToArray();
        var leaves = new List<byte[]> { TransparencyLog.LeafHash("other"u8), TransparencyLog.LeafHash(body), TransparencyLog.LeafHash("third"u8) };
        byte[] root = MerkleRoot(leaves);
        string Note(string origin) => $"{origin}\n3\n{Convert.ToBase64String(root)}\n";
        string Signed(string origin, string name)
        {
            var signer = new Org.BouncyCastle.Crypto.Signers.Ed25519Signer();
            signer.Init(true, pair.Private);
            byte[] note = Encoding.UTF8.GetBytes(Note(origin));
            signer.BlockUpdate(note, 0, note.Length);
            byte[] sig = signer.GenerateSignature();
            byte[] hint = SHA256.HashData([.. Encoding.UTF8.GetBytes(name), 0x0A, 0x01, .. pub])[..4];
            return Note(origin) + $"\n\u2014 witness.example.test AAAAAAAA\n\u2014 {name} {Convert.ToBase64String([.. hint, .. sig])}\n";
        }
        TlogEntry Entry(string checkpoint) => new(1, log.LogId, "hashedrekord", "0.0.2", 0, null, new InclusionProof(1, root, 3, Path(leaves, 1), checkpoint), body);
        Assert.True(TransparencyLog.VerifyInclusion(Entry(Signed("log2025.example.test", "log2025.example.test")), log, out string why), why);
        Assert.False(TransparencyLog.VerifyInclusion(Entry(Signed("other.example.test", "other.example.test")), log, out why));
        Assert.Contains("origin", why, StringComparison.Ordinal);
        Assert.False(TransparencyLog.VerifyInclusion(Entry(Signed("log2025.example.test", "log2025.example.test").Replace("\n3\n", "\n4\n", StringComparison.Ordinal)), log, out _));
    }

    [Fact]
    public void DssePreAuthenticationEncodingIsTheSpecsVector()
    {
        // secure-systems-lab/dsse protocol.md.
        Assert.Equal("DSSEv1 29 http://example.com/HelloWorld 11 hello world", Encoding.UTF8.GetString(DsseEnvelope.Pae("http://example.com/HelloWorld", "hello world"u8)));
    }

    [Fact]
    public void ADsseStatementMustNameTheArtifact()
    {
        var (leaf, key) = _s.Leaf();
        string hex = Convert.ToHexStringLower(SHA256.HashData(Artifact));
        var v = Verify(_s.DsseBundle(TestSigstore.Statement(hex), leaf, key), Keyless());
        Assert.True(v.Verified, v.Reason);
        Assert.Equal("https://slsa.dev/provenance/v1", v.PredicateType);
        Assert.Contains("buildType", v.Predicate, StringComparison.Ordinal);
        Assert.Contains("do not name", Verify(_s.DsseBundle(TestSigstore.Statement(new string('0', 64)), leaf, key), Keyless()).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void MerkleInclusionProofsOfEveryLeafOfSmallTreesVerify()
    {
        for (int size = 1; size <= 17; size++)
        {
            var leaves = Enumerable.Range(0, size).Select(i => TransparencyLog.LeafHash([(byte)i, (byte)size])).ToList();
            byte[] root = MerkleRoot(leaves);
            for (int i = 0; i < size; i++)
            {
                var path = Path(leaves, i);
                Assert.Equal(root, TransparencyLog.RootFromInclusionProof(i, size, leaves[i], path));
                if (path.Count > 0)
                    Assert.NotEqual(root, TransparencyLog.RootFromInclusionProof(i, size, leaves[(i + 1) % size], path));
            }
            Assert.Null(TransparencyLog.RootFromInclusionProof(size, size, leaves[0], []));
        }
    }

    // RFC 6962 §2.1: MTH and PATH, by their definitions.
    private static byte[] MerkleRoot(List<byte[]> leaves)
    {
        if (leaves.Count == 1)
            return leaves[0];
        int k = Split(leaves.Count);
        return Node(MerkleRoot([.. leaves.Take(k)]), MerkleRoot([.. leaves.Skip(k)]));
    }

    private static List<byte[]> Path(List<byte[]> leaves, int m)
    {
        if (leaves.Count == 1)
            return [];
        int k = Split(leaves.Count);
        return m < k ? [.. Path([.. leaves.Take(k)], m), MerkleRoot([.. leaves.Skip(k)])] : [.. Path([.. leaves.Skip(k)], m - k), MerkleRoot([.. leaves.Take(k)])];
    }

    private static int Split(int n)
    {
        int k = 1;
        while (k * 2 < n)
            k *= 2;
        return k;
    }

    private static byte[] Node(byte[] l, byte[] r) => SHA256.HashData([1, .. l, .. r]);

    [Fact]
    public void VerifyBlobExitsZeroOrOneAndPrintsJson()
    {
        var (leaf, key) = _s.Leaf();
        File.WriteAllBytes(_dir.Path("artifact"), Artifact);
        File.WriteAllText(_dir.Path("bundle.json"), _s.MessageBundle(Artifact, leaf, key));
        File.WriteAllBytes(_dir.Path("trusted_root.json"), _s.TrustedRootJson());
        string[] common = ["verify-blob", "--bundle", _dir.Path("bundle.json"), "--trusted-root", _dir.Path("trusted_root.json"), "--certificate-oidc-issuer", TestSigstore.Issuer];
        var ok = CliRun.Run([.. common, "--certificate-identity", TestSigstore.Email, _dir.Path("artifact")]);
        Assert.True(ok.Code == 0, ok.Err);
        Assert.Contains($"Verified OK: {_dir.Path("artifact")}: signed by {TestSigstore.Email}", ok.Out, StringComparison.Ordinal);
        var json = CliRun.Run([.. common, "--certificate-identity", TestSigstore.Email, "--json", "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Artifact))]);
        Assert.Equal(0, json.Code);
        using var doc = System.Text.Json.JsonDocument.Parse(json.Out);
        Assert.True(doc.RootElement.GetProperty("verified").GetBoolean());
        Assert.Equal(7, doc.RootElement.GetProperty("logIndex").GetInt64());
        Assert.Equal(TestSigstore.Issuer, doc.RootElement.GetProperty("issuer").GetString());
        var wrong = CliRun.Run([.. common, "--certificate-identity", "mallory@example.test", _dir.Path("artifact")]);
        Assert.Equal(1, wrong.Code);
        Assert.StartsWith($"ferry: verify-blob: {_dir.Path("artifact")}: not verified: the certificate's identity", wrong.Err, StringComparison.Ordinal);
        // A command line that says too little or too much is a usage error.
        Assert.Equal(2, CliRun.Run("verify-blob", "--bundle", _dir.Path("bundle.json"), _dir.Path("artifact")).Code);
        Assert.Equal(2, CliRun.Run([.. common, "--certificate-identity", TestSigstore.Email, "--key", _dir.Path("artifact"), _dir.Path("artifact")]).Code);
        Assert.Equal(2, CliRun.Run("verify-blob", "--bundle", _dir.Path("bundle.json"), "--certificate-identity", "x", "--certificate-oidc-issuer", "y", _dir.Path("artifact")).Code);
    }
}
