using System.Formats.Asn1;
using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;

namespace Ferry.Tests.Trust;

/// <summary>
/// A private sigstore, in-process with .NET crypto: a Fulcio-like CA (root and intermediate) issuing short-lived leaf
/// certificates with Fulcio's extensions and an embedded SCT from a test CT log key, a Rekor-like log key that signs
/// SETs and checkpoints, and the trusted_root.json that trusts them. What real cosign/skopeo interop will later use
/// with a private CA playing Fulcio; here it makes the good, tampered, wrong-identity, expired and unknown-key cases.
/// </summary>
public sealed class TestSigstore : IDisposable
{
    public const string Issuer = "https://issuer.test";
    public const string Email = "signer@example.test";
    public const string RekorUrl = "https://rekor.test";

    /// <summary>A fixed "now": signatures are made at this time.</summary>
    public static readonly DateTimeOffset Now = new(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);

    public ECDsa RootKey { get; } = ECDsa.Create(ECCurve.NamedCurves.nistP384);
    public ECDsa IntermediateKey { get; } = ECDsa.Create(ECCurve.NamedCurves.nistP384);
    public ECDsa CtKey { get; } = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    public ECDsa RekorKey { get; } = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    public X509Certificate2 Root { get; }
    public X509Certificate2 Intermediate { get; }

    private long _serial = 1000;

    public TestSigstore(string name = "test")
    {
        var rootReq = new CertificateRequest($"CN={name}-root, O=ferry.test", RootKey, HashAlgorithmName.SHA384);
        rootReq.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 1, true));
        rootReq.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        rootReq.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(rootReq.PublicKey, false));
        Root = rootReq.CreateSelfSigned(Now.AddYears(-2), Now.AddYears(8));
        var intReq = new CertificateRequest($"CN={name}-intermediate, O=ferry.test", IntermediateKey, HashAlgorithmName.SHA384);
        intReq.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        intReq.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        intReq.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.3")], false));
        intReq.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(intReq.PublicKey, false));
        intReq.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(Root, true, false));
        using var intPub = intReq.Create(Root, Now.AddYears(-1), Now.AddYears(5), [1, 2, 3, 4]);
        Intermediate = intPub.CopyWithPrivateKey(IntermediateKey);
    }

    public void Dispose()
    {
        RootKey.Dispose();
        IntermediateKey.Dispose();
        CtKey.Dispose();
        RekorKey.Dispose();
        Root.Dispose();
        Intermediate.Dispose();
    }

    public static byte[] Spki(AsymmetricAlgorithm key) => key.ExportSubjectPublicKeyInfo();

    public static byte[] KeyId(AsymmetricAlgorithm key) => SHA256.HashData(Spki(key));

    /// <summary>The trusted_root.json trusting this CA, CT log and Rekor key (each optional, to make "unknown" cases).</summary>
    public byte[] TrustedRootJson(bool ca = true, bool ct = true, bool rekor = true, DateTimeOffset? rekorStart = null, bool intermediate = true)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("mediaType", "application/vnd.dev.sigstore.trustedroot+json;version=0.1");
            w.WriteStartArray("tlogs");
            if (rekor)
                Log(w, RekorUrl, RekorKey, rekorStart ?? Now.AddYears(-1));
            w.WriteEndArray();
            w.WriteStartArray("certificateAuthorities");
            if (ca)
            {
                w.WriteStartObject();
                w.WriteStartObject("subject");
                w.WriteString("organization", "ferry.test");
                w.WriteString("commonName", "test");
                w.WriteEndObject();
                w.WriteString("uri", "https://fulcio.test");
                w.WriteStartObject("certChain");
                w.WriteStartArray("certificates");
                foreach (var c in intermediate ? new[] { Intermediate, Root } : [Root])
                {
                    w.WriteStartObject();
                    w.WriteString("rawBytes", Convert.ToBase64String(c.RawData));
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
                w.WriteStartObject("validFor");
                w.WriteString("start", Iso(Now.AddYears(-2)));
                w.WriteEndObject();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("ctlogs");
            if (ct)
                Log(w, "https://ctfe.test", CtKey, Now.AddYears(-1));
            w.WriteEndArray();
            w.WriteStartArray("timestampAuthorities");
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return ms.ToArray();
    }

    private static void Log(Utf8JsonWriter w, string url, ECDsa key, DateTimeOffset start)
    {
        w.WriteStartObject();
        w.WriteString("baseUrl", url);
        w.WriteString("hashAlgorithm", "SHA2_256");
        w.WriteStartObject("publicKey");
        w.WriteString("rawBytes", Convert.ToBase64String(Spki(key)));
        w.WriteString("keyDetails", "PKIX_ECDSA_P256_SHA_256");
        w.WriteStartObject("validFor");
        w.WriteString("start", Iso(start));
        w.WriteEndObject();
        w.WriteEndObject();
        w.WriteStartObject("logId");
        w.WriteString("keyId", Convert.ToBase64String(KeyId(key)));
        w.WriteEndObject();
        w.WriteEndObject();
    }

    public static string Iso(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    /// <summary>
    /// A Fulcio-like leaf: empty subject, one critical SAN (e-mail or URI), digitalSignature, code signing, the issuer in
    /// extensions .1.1 and .1.8, and (unless <paramref name="sct"/> is false) an embedded SCT signed by
    /// <paramref name="ctKey"/> (default: this CT log's key). Valid for ten minutes from <paramref name="notBefore"/>.
    /// </summary>
    public (X509Certificate2 Leaf, ECDsa Key) Leaf(string identity = Email, string issuer = Issuer, DateTimeOffset? notBefore = null, bool sct = true, ECDsa? ctKey = null, X509Certificate2? by = null, string? caIssuersUrl = null)
    {
        var signingKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var from = notBefore ?? Now.AddMinutes(-1);
        var issuerCert = by ?? Intermediate;
        byte[] serial = BitConverter.GetBytes(Interlocked.Increment(ref _serial));
        CertificateRequest Request()
        {
            var req = new CertificateRequest(new X500DistinguishedName(""), signingKey, HashAlgorithmName.SHA256);
            req.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
            req.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.3")], false));
            var san = new SubjectAlternativeNameBuilder();
            if (identity.Contains("://", StringComparison.Ordinal))
                san.AddUri(new Uri(identity));
            else
                san.AddEmailAddress(identity);
            var sanExt = san.Build(critical: true);
            req.CertificateExtensions.Add(sanExt);
            req.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(issuerCert, true, false));
            if (caIssuersUrl is not null)
                req.CertificateExtensions.Add(new X509AuthorityInformationAccessExtension(null, [caIssuersUrl]));
            req.CertificateExtensions.Add(new X509Extension("1.3.6.1.4.1.57264.1.1", Encoding.UTF8.GetBytes(issuer), false));
            var w = new AsnWriter(AsnEncodingRules.DER);
            w.WriteCharacterString(UniversalTagNumber.UTF8String, issuer);
            req.CertificateExtensions.Add(new X509Extension("1.3.6.1.4.1.57264.1.8", w.Encode(), false));
            return req;
        }
        using var pre = Request().Create(issuerCert, from, from.AddMinutes(10), serial);
        var final = Request();
        if (sct)
            final.CertificateExtensions.Add(new X509Extension("1.3.6.1.4.1.11129.2.4.2", SctExtension(pre, issuerCert, ctKey ?? CtKey, from.AddSeconds(1)), false));
        using var cert = final.Create(issuerCert, from, from.AddMinutes(10), serial);
        return (X509CertificateLoader.LoadCertificate(cert.RawData), signingKey);
    }

    /// <summary>An SCT list extension value over the precertificate's TBS (RFC 6962 §3.2), signed by <paramref name="ctKey"/>.</summary>
    private static byte[] SctExtension(X509Certificate2 pre, X509Certificate2 issuer, ECDsa ctKey, DateTimeOffset when)
    {
        var certReader = new AsnReader(pre.RawData, AsnEncodingRules.DER).ReadSequence();
        byte[] tbs = certReader.ReadEncodedValue().ToArray();
        ulong ts = (ulong)when.ToUnixTimeMilliseconds();
        var signed = new List<byte> { 0, 0 };
        for (int i = 7; i >= 0; i--)
            signed.Add((byte)(ts >> (8 * i)));
        signed.AddRange([0, 1]);
        signed.AddRange(SHA256.HashData(issuer.PublicKey.ExportSubjectPublicKeyInfo()));
        signed.AddRange([(byte)(tbs.Length >> 16), (byte)(tbs.Length >> 8), (byte)tbs.Length]);
        signed.AddRange(tbs);
        signed.AddRange([0, 0]);
        byte[] sig = ctKey.SignData([.. signed], HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
        var sct = new List<byte> { 0 };
        sct.AddRange(KeyId(ctKey));
        for (int i = 7; i >= 0; i--)
            sct.Add((byte)(ts >> (8 * i)));
        sct.AddRange([0, 0, 4, 3, (byte)(sig.Length >> 8), (byte)sig.Length]);
        sct.AddRange(sig);
        var list = new List<byte> { (byte)((sct.Count + 2) >> 8), (byte)(sct.Count + 2), (byte)(sct.Count >> 8), (byte)sct.Count };
        list.AddRange(sct);
        var w = new AsnWriter(AsnEncodingRules.DER);
        w.WriteOctetString([.. list]);
        return w.Encode();
    }

    public static string Pem(X509Certificate2 c) => c.ExportCertificatePem() + "\n";

    /// <summary>A hashedrekord 0.0.1 body, as Rekor canonicalizes it.</summary>
    public static byte[] HashedRekord(byte[] signature, string verifierPem, byte[] sha256) => Encoding.UTF8.GetBytes(
        $"{{\"apiVersion\":\"0.0.1\",\"kind\":\"hashedrekord\",\"spec\":{{\"data\":{{\"hash\":{{\"algorithm\":\"sha256\",\"value\":\"{Convert.ToHexStringLower(sha256)}\"}}}},\"signature\":{{\"content\":\"{Convert.ToBase64String(signature)}\",\"publicKey\":{{\"content\":\"{Convert.ToBase64String(Encoding.UTF8.GetBytes(verifierPem))}\"}}}}}}}}");

    /// <summary>A dsse 0.0.1 body.</summary>
    public static byte[] DsseBody(byte[] signature, string verifierPem, byte[] payload) => Encoding.UTF8.GetBytes(
        $"{{\"apiVersion\":\"0.0.1\",\"kind\":\"dsse\",\"spec\":{{\"envelopeHash\":{{\"algorithm\":\"sha256\",\"value\":\"00\"}},\"payloadHash\":{{\"algorithm\":\"sha256\",\"value\":\"{Convert.ToHexStringLower(SHA256.HashData(payload))}\"}},\"signatures\":[{{\"signature\":\"{Convert.ToBase64String(signature)}\",\"verifier\":\"{Convert.ToBase64String(Encoding.UTF8.GetBytes(verifierPem))}\"}}]}}}}");

    /// <summary>The SET over <c>{body, integratedTime, logID, logIndex}</c> (RFC 8785), by <paramref name="key"/> (default: this Rekor key).</summary>
    public byte[] Set(byte[] body, long integratedTime, long logIndex, ECDsa? key = null)
    {
        var k = key ?? RekorKey;
        string canonical = $"{{\"body\":\"{Convert.ToBase64String(body)}\",\"integratedTime\":{integratedTime},\"logID\":\"{Convert.ToHexStringLower(KeyId(k))}\",\"logIndex\":{logIndex}}}";
        return k.SignData(Encoding.UTF8.GetBytes(canonical), HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
    }

    /// <summary>A signed checkpoint (a C2SP note; Rekor v1's origin form) for a tree of <paramref name="size"/> with <paramref name="root"/>.</summary>
    public string Checkpoint(long size, byte[] root, ECDsa? key = null)
    {
        var k = key ?? RekorKey;
        string note = $"rekor.test - 1234567890\n{size}\n{Convert.ToBase64String(root)}\n";
        byte[] sig = k.SignData(Encoding.UTF8.GetBytes(note), HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
        byte[] hint = KeyId(k)[..4];
        return note + "\n\u2014 rekor.test " + Convert.ToBase64String([.. hint, .. sig]) + "\n";
    }

    /// <summary>cosign's SET bundle annotation for an entry.</summary>
    public string SetAnnotation(byte[] body, long integratedTime, long logIndex, ECDsa? key = null) => JsonSerializer.Serialize(new Dictionary<string, object>
    {
        ["SignedEntryTimestamp"] = Convert.ToBase64String(Set(body, integratedTime, logIndex, key)),
        ["Payload"] = new Dictionary<string, object>
        {
            ["body"] = Convert.ToBase64String(body),
            ["integratedTime"] = integratedTime,
            ["logIndex"] = logIndex,
            ["logID"] = Convert.ToHexStringLower(KeyId(key ?? RekorKey)),
        },
    });

    /// <summary>
    /// A keyless v0.1-style bundle (chain form) or v0.3 (leaf alone) of a message signature over <paramref name="artifact"/>,
    /// logged with a SET (and, with <paramref name="proof"/>, a one-leaf inclusion proof and checkpoint).
    /// </summary>
    public string MessageBundle(byte[] artifact, X509Certificate2 leaf, ECDsa key, string version = "0.1", long? integratedTime = null,
        ECDsa? rekorKey = null, bool proof = false, byte[]? signatureOverride = null, byte[]? bodyDigestOverride = null)
    {
        byte[] digest = SHA256.HashData(artifact);
        byte[] sig = signatureOverride ?? key.SignData(artifact, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
        byte[] body = HashedRekord(sig, Pem(leaf), bodyDigestOverride ?? digest);
        long time = integratedTime ?? Now.ToUnixTimeSeconds();
        return Bundle(version, $"\"certificate\":{{\"rawBytes\":\"{Convert.ToBase64String(leaf.RawData)}\"}}", $"\"x509CertificateChain\":{{\"certificates\":[{{\"rawBytes\":\"{Convert.ToBase64String(leaf.RawData)}\"}}]}}",
            Entry(body, "hashedrekord", time, 7, rekorKey, proof),
            $"\"messageSignature\":{{\"messageDigest\":{{\"algorithm\":\"SHA2_256\",\"digest\":\"{Convert.ToBase64String(digest)}\"}},\"signature\":\"{Convert.ToBase64String(sig)}\"}}");
    }

    /// <summary>A keyless bundle of a DSSE in-toto statement (its subject names what it signs) (a dsse 0.0.1 log entry).</summary>
    public string DsseBundle(byte[] statement, X509Certificate2 leaf, ECDsa key, string version = "0.3")
    {
        const string type = "application/vnd.in-toto+json";
        byte[] pae = Ferry.Trust.DsseEnvelope.Pae(type, statement);
        byte[] sig = key.SignData(pae, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
        byte[] body = DsseBody(sig, Pem(leaf), statement);
        return Bundle(version, $"\"certificate\":{{\"rawBytes\":\"{Convert.ToBase64String(leaf.RawData)}\"}}", $"\"x509CertificateChain\":{{\"certificates\":[{{\"rawBytes\":\"{Convert.ToBase64String(leaf.RawData)}\"}}]}}",
            Entry(body, "dsse", Now.ToUnixTimeSeconds(), 9, null, proof: version != "0.1"),
            $"\"dsseEnvelope\":{{\"payload\":\"{Convert.ToBase64String(statement)}\",\"payloadType\":\"{type}\",\"signatures\":[{{\"sig\":\"{Convert.ToBase64String(sig)}\",\"keyid\":\"\"}}]}}");
    }

    /// <summary>An in-toto statement whose one subject has <paramref name="sha256Hex"/>.</summary>
    public static byte[] Statement(string sha256Hex, string predicateType = "https://slsa.dev/provenance/v1", string predicate = "{\"buildDefinition\":{\"buildType\":\"https://example.test/build\"}}") =>
        Encoding.UTF8.GetBytes($"{{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{{\"name\":\"image\",\"digest\":{{\"sha256\":\"{sha256Hex}\"}}}}],\"predicateType\":\"{predicateType}\",\"predicate\":{predicate}}}");

    private string Entry(byte[] body, string kind, long time, long index, ECDsa? rekorKey, bool proof)
    {
        var k = rekorKey ?? RekorKey;
        string p = "";
        if (proof)
        {
            byte[] leafHash = SHA256.HashData([0, .. body]);
            p = $",\"inclusionProof\":{{\"logIndex\":\"0\",\"rootHash\":\"{Convert.ToBase64String(leafHash)}\",\"treeSize\":\"1\",\"hashes\":[],\"checkpoint\":{{\"envelope\":{JsonSerializer.Serialize(Checkpoint(1, leafHash, k))}}}}}";
        }
        return $"{{\"logIndex\":\"{index}\",\"logId\":{{\"keyId\":\"{Convert.ToBase64String(KeyId(k))}\"}},\"kindVersion\":{{\"kind\":\"{kind}\",\"version\":\"0.0.1\"}},\"integratedTime\":\"{time}\",\"inclusionPromise\":{{\"signedEntryTimestamp\":\"{Convert.ToBase64String(Set(body, time, index, k))}\"}}{p},\"canonicalizedBody\":\"{Convert.ToBase64String(body)}\"}}";
    }

    private static string Bundle(string version, string leafOnly, string chain, string entry, string content)
    {
        string media = version == "0.3" ? "application/vnd.dev.sigstore.bundle.v0.3+json" : $"application/vnd.dev.sigstore.bundle+json;version={version}";
        return $"{{\"mediaType\":\"{media}\",\"verificationMaterial\":{{{(version == "0.3" ? leafOnly : chain)},\"tlogEntries\":[{entry}]}},{content}}}";
    }
}
