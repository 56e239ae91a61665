using System.Globalization;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;

namespace Ferry.Trust;

/// <summary>What is signed: an artifact's digest (message signature), a DSSE envelope, or cosign's simple signing payload.</summary>
internal enum SignedContent
{
    MessageSignature,
    Dsse,
    SimpleSigning,
}

/// <summary>A DSSE envelope: the payload, its type, and its signatures.</summary>
internal sealed record DsseEnvelope(string PayloadType, byte[] Payload, IReadOnlyList<byte[]> Signatures)
{
    public const string InTotoPayloadType = "application/vnd.in-toto+json";

    /// <summary>
    /// DSSE's pre-authentication encoding: <c>"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body</c>, lengths as ASCII
    /// decimal byte counts. What the signature is over.
    /// </summary>
    public static byte[] Pae(string payloadType, ReadOnlySpan<byte> payload)
    {
        byte[] type = Encoding.UTF8.GetBytes(payloadType);
        byte[] head = Encoding.ASCII.GetBytes($"DSSEv1 {type.Length.ToString(CultureInfo.InvariantCulture)} ");
        byte[] mid = Encoding.ASCII.GetBytes($" {payload.Length.ToString(CultureInfo.InvariantCulture)} ");
        return [.. head, .. type, .. mid, .. payload];
    }

    public byte[] Pae() => Pae(PayloadType, Payload);

    /// <summary>Parses an envelope <c>{payload, payloadType, signatures[{sig, keyid}]}</c> (a bundle's or an <c>.att</c> layer's).</summary>
    public static DsseEnvelope Parse(JsonElement e, string what)
    {
        if (e.ValueKind != JsonValueKind.Object)
            throw new TrustFormatException($"{what}: the DSSE envelope is not an object");
        byte[] payload = ProtoJson.ReqBytes(e, "payload", what);
        string type = ProtoJson.ReqString(e, "payloadType", what);
        var sigs = ProtoJson.Array(e, "signatures", what, 16).Select(s => ProtoJson.ReqBytes(s, "sig", what)).ToList();
        return new DsseEnvelope(type, payload, sigs);
    }
}

/// <summary>An in-toto statement: its subjects (name, digests by algorithm) and predicate.</summary>
internal sealed record InTotoStatement(string Type, IReadOnlyList<(string Name, IReadOnlyDictionary<string, string> Digest)> Subjects, string PredicateType, string? Predicate)
{
    public const int MaxSubjects = 1024;

    public static InTotoStatement Parse(byte[] payload, string what)
    {
        using var doc = ProtoJson.Parse(payload, what + ": in-toto statement", 8 << 20);
        var root = doc.RootElement;
        string type = ProtoJson.ReqString(root, "_type", what);
        if (!type.StartsWith("https://in-toto.io/Statement/", StringComparison.Ordinal))
            throw new TrustFormatException($"{what}: '{type}' is not an in-toto statement");
        var subjects = new List<(string, IReadOnlyDictionary<string, string>)>();
        foreach (var s in ProtoJson.Array(root, "subject", what, MaxSubjects))
        {
            var digests = new Dictionary<string, string>(StringComparer.Ordinal);
            if (ProtoJson.Object(s, "digest", what) is { } d)
            {
                foreach (var p in d.EnumerateObject())
                {
                    if (p.Value.ValueKind == JsonValueKind.String)
                        digests[p.Name] = p.Value.GetString()!;
                }
            }
            subjects.Add((ProtoJson.String(s, "name", what) ?? "", digests));
        }
        string predicateType = ProtoJson.String(root, "predicateType", what) ?? "";
        string? predicate = root.TryGetProperty("predicate", out var pr) ? pr.GetRawText() : null;
        return new InTotoStatement(type, subjects, predicateType, predicate);
    }

    /// <summary>Whether a subject has this digest (algorithm as in-toto names it: <c>sha256</c>).</summary>
    public bool Names(string algorithm, ReadOnlySpan<byte> digest)
    {
        string hex = Convert.ToHexStringLower(digest);
        return Subjects.Any(s => s.Digest.TryGetValue(algorithm, out var v) && string.Equals(v, hex, StringComparison.OrdinalIgnoreCase));
    }
}

/// <summary>
/// One signature in either storage form, reduced to what verification needs: what is signed, the signature, the
/// certificate (and intermediates) or key, the transparency log entries and the signed timestamps.
/// </summary>
internal sealed class SignedMaterial
{
    /// <summary>How it was stored: <c>sigstore bundle v0.3</c>, <c>cosign signature</c>, <c>cosign attestation</c>.</summary>
    public required string Form { get; init; }

    /// <summary>A bundle's version (<c>0.1</c>…<c>0.3</c>); null for cosign's annotations.</summary>
    public string? BundleVersion { get; init; }

    public required SignedContent Content { get; init; }

    public required byte[] Signature { get; init; }

    /// <summary>messageSignature: the digest's algorithm (<c>sha256</c>) and the digest; null when the bundle names none.</summary>
    public string? DigestAlgorithm { get; init; }
    public byte[]? MessageDigest { get; init; }

    public DsseEnvelope? Envelope { get; init; }

    /// <summary>cosign's simple signing payload.</summary>
    public byte[]? Payload { get; init; }

    public X509Certificate2? Leaf { get; init; }

    /// <summary>Certificates the signature carries besides the leaf (bundle v0.1/0.2 chains, cosign's chain annotation).</summary>
    public IReadOnlyList<X509Certificate2> Carried { get; init; } = [];

    /// <summary>Whether the signature names a key (a bundle's <c>publicKey</c>, or cosign's form without a certificate).</summary>
    public bool SignedWithKey => Leaf is null;

    public IReadOnlyList<TlogEntry> Entries { get; init; } = [];

    public IReadOnlyList<byte[]> Timestamps { get; init; } = [];

    /// <summary>The largest bundle Ferry reads: 8 MiB.</summary>
    public const int MaxBundleBytes = 8 << 20;

    /// <summary>
    /// A sigstore bundle, v0.1 to v0.3 (<c>application/vnd.dev.sigstore.bundle+json;version=0.N</c> or
    /// <c>application/vnd.dev.sigstore.bundle.v0.N+json</c>), as sigstore-go validates it: v0.1 needs a SET in each
    /// entry, later versions an inclusion proof; v0.3 carries the leaf alone; no bundle carries a root.
    /// </summary>
    public static SignedMaterial ParseBundle(ReadOnlyMemory<byte> json, string what)
    {
        using var doc = ProtoJson.Parse(json, what, MaxBundleBytes);
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
            throw new TrustFormatException($"{what}: not a JSON object");
        string media = ProtoJson.ReqString(root, "mediaType", what);
        string version = BundleVersionOf(media) ?? throw new TrustFormatException($"{what}: unsupported bundle media type '{media}'");
        var vm = ProtoJson.ReqObject(root, "verificationMaterial", what);
        X509Certificate2? leaf = null;
        var carried = new List<X509Certificate2>();
        if (ProtoJson.Object(vm, "x509CertificateChain", what) is { } chain)
        {
            if (version == "0.3")
                throw new TrustFormatException($"{what}: a v0.3 bundle must carry the certificate alone, not a chain");
            var certs = ProtoJson.Array(chain, "certificates", what, 8);
            if (certs.Count == 0)
                throw new TrustFormatException($"{what}: the certificate chain is empty");
            foreach (var c in certs)
                carried.Add(Certificates.Load(ProtoJson.ReqBytes(c, "rawBytes", what)) ?? throw new TrustFormatException($"{what}: a certificate Ferry cannot read"));
            leaf = carried[0];
            carried.RemoveAt(0);
        }
        else if (ProtoJson.Object(vm, "certificate", what) is { } cert)
        {
            leaf = Certificates.Load(ProtoJson.ReqBytes(cert, "rawBytes", what)) ?? throw new TrustFormatException($"{what}: a certificate Ferry cannot read");
        }
        else if (ProtoJson.Object(vm, "publicKey", what) is null)
        {
            throw new TrustFormatException($"{what}: the verification material names no certificate or key");
        }
        if (carried.Any(Certificates.IsSelfSigned))
            throw new TrustFormatException($"{what}: the bundle carries a root certificate (roots come from the trust root only)");
        var entries = ProtoJson.Array(vm, "tlogEntries", what, 32).Select((e, i) => TransparencyLog.ParseEntry(e, $"{what}: tlogEntries[{i}]")).ToList();
        if (version == "0.1" && entries.Any(e => e.Set is null))
            throw new TrustFormatException($"{what}: a v0.1 bundle needs a signed entry timestamp in every log entry");
        if (version != "0.1" && entries.Any(e => e.Proof is null))
            throw new TrustFormatException($"{what}: a v{version} bundle needs an inclusion proof in every log entry");
        var timestamps = new List<byte[]>();
        if (ProtoJson.Object(vm, "timestampVerificationData", what) is { } tvd)
        {
            foreach (var t in ProtoJson.Array(tvd, "rfc3161Timestamps", what, 32))
                timestamps.Add(ProtoJson.ReqBytes(t, "signedTimestamp", what));
        }
        string form = $"sigstore bundle v{version}";
        if (ProtoJson.Object(root, "messageSignature", what) is { } ms)
        {
            string? alg = null;
            byte[]? digest = null;
            if (ProtoJson.Object(ms, "messageDigest", what) is { } md)
            {
                alg = ProtoJson.String(md, "algorithm", what) switch
                {
                    null or "SHA2_256" => "sha256",
                    "SHA2_384" => "sha384",
                    "SHA2_512" => "sha512",
                    var other => other,
                };
                digest = ProtoJson.Bytes(md, "digest", what);
            }
            return new SignedMaterial
            {
                Form = form, BundleVersion = version, Content = SignedContent.MessageSignature, Signature = ProtoJson.ReqBytes(ms, "signature", what),
                DigestAlgorithm = alg, MessageDigest = digest, Leaf = leaf, Carried = carried, Entries = entries, Timestamps = timestamps,
            };
        }
        if (ProtoJson.Object(root, "dsseEnvelope", what) is { } env)
        {
            var envelope = DsseEnvelope.Parse(env, what);
            if (envelope.Signatures.Count != 1)
                throw new TrustFormatException($"{what}: the DSSE envelope has {envelope.Signatures.Count} signatures, not one");
            return new SignedMaterial
            {
                Form = form, BundleVersion = version, Content = SignedContent.Dsse, Signature = envelope.Signatures[0], Envelope = envelope,
                Leaf = leaf, Carried = carried, Entries = entries, Timestamps = timestamps,
            };
        }
        throw new TrustFormatException($"{what}: the bundle holds neither a message signature nor a DSSE envelope");
    }

    /// <summary>The bundle version a media type names (<c>0.1</c>…<c>0.3</c>), or null when Ferry does not read it.</summary>
    public static string? BundleVersionOf(string mediaType)
    {
        const string Base = "application/vnd.dev.sigstore.bundle";
        if (mediaType.StartsWith(Base + "+json;version=", StringComparison.Ordinal))
        {
            string v = mediaType[(Base.Length + 14)..];
            return v is "0.1" or "0.2" or "0.3" ? v : null;
        }
        if (mediaType.StartsWith(Base + ".v", StringComparison.Ordinal) && mediaType.EndsWith("+json", StringComparison.Ordinal))
        {
            string v = mediaType[(Base.Length + 2)..^5];
            string[] parts = v.Split('.');
            if (parts.Length is < 2 or > 3 || parts.Any(p => p.Length == 0 || !p.All(char.IsAsciiDigit)) || parts[0] != "0")
                return null;
            return parts[1] is "1" or "2" or "3" ? "0." + parts[1] : null;
        }
        return null;
    }

    /// <summary>cosign's annotation keys on a signature or attestation layer.</summary>
    public const string SignatureAnnotation = "dev.cosignproject.cosign/signature";
    public const string CertificateAnnotation = "dev.sigstore.cosign/certificate";
    public const string ChainAnnotation = "dev.sigstore.cosign/chain";
    public const string BundleAnnotation = "dev.sigstore.cosign/bundle";
    public const string TimestampAnnotation = "dev.sigstore.cosign/rfc3161timestamp";

    /// <summary>
    /// A layer of cosign's tag form: a simple signing payload (<c>.sig</c>; the signature in its annotation) or a DSSE
    /// envelope (<c>.att</c>), with the certificate, chain, Rekor SET bundle and RFC 3161 timestamp annotations.
    /// </summary>
    public static SignedMaterial ParseCosignLayer(byte[] blob, IReadOnlyDictionary<string, string>? annotations, bool attestation, string what)
    {
        annotations ??= new Dictionary<string, string>();
        X509Certificate2? leaf = null;
        var carried = new List<X509Certificate2>();
        if (annotations.TryGetValue(CertificateAnnotation, out var certPem) && certPem.Length > 0)
        {
            var certs = Certificates.LoadPemAll(certPem, what + ": certificate annotation", 1);
            leaf = certs.Count == 1 ? certs[0] : throw new TrustFormatException($"{what}: the certificate annotation holds no certificate");
        }
        if (annotations.TryGetValue(ChainAnnotation, out var chainPem) && chainPem.Length > 0)
            carried.AddRange(Certificates.LoadPemAll(chainPem, what + ": chain annotation").Where(c => !Certificates.IsSelfSigned(c)));
        var entries = new List<TlogEntry>();
        if (annotations.TryGetValue(BundleAnnotation, out var bundle) && bundle.Length > 0)
            entries.Add(ParseSetBundle(bundle, what + ": bundle annotation"));
        var timestamps = new List<byte[]>();
        if (annotations.TryGetValue(TimestampAnnotation, out var ts) && ts.Length > 0)
        {
            using var doc = ProtoJson.Parse(Encoding.UTF8.GetBytes(ts), what + ": timestamp annotation", 1 << 20);
            timestamps.Add(ProtoJson.ReqBytes(doc.RootElement, "SignedRFC3161Timestamp", what + ": timestamp annotation"));
        }
        if (attestation)
        {
            using var doc = ProtoJson.Parse(blob, what + ": DSSE envelope", 8 << 20);
            var envelope = DsseEnvelope.Parse(doc.RootElement, what);
            if (envelope.Signatures.Count != 1)
                throw new TrustFormatException($"{what}: the DSSE envelope has {envelope.Signatures.Count} signatures, not one");
            return new SignedMaterial
            {
                Form = "cosign attestation", Content = SignedContent.Dsse, Signature = envelope.Signatures[0], Envelope = envelope,
                Leaf = leaf, Carried = carried, Entries = entries, Timestamps = timestamps,
            };
        }
        if (!annotations.TryGetValue(SignatureAnnotation, out var b64) || ProtoJson.Base64(b64) is not { Length: > 0 } signature)
            throw new TrustFormatException($"{what}: no signature annotation ({SignatureAnnotation})");
        return new SignedMaterial
        {
            Form = "cosign signature", Content = SignedContent.SimpleSigning, Signature = signature, Payload = blob,
            Leaf = leaf, Carried = carried, Entries = entries, Timestamps = timestamps,
        };
    }

    /// <summary>cosign's SET bundle: <c>{"SignedEntryTimestamp", "Payload": {body, integratedTime, logIndex, logID}}</c>.</summary>
    private static TlogEntry ParseSetBundle(string json, string what)
    {
        using var doc = ProtoJson.Parse(Encoding.UTF8.GetBytes(json), what, 1 << 20);
        var root = doc.RootElement;
        byte[] set = ProtoJson.ReqBytes(root, "SignedEntryTimestamp", what);
        var payload = ProtoJson.ReqObject(root, "Payload", what);
        string bodyText = ProtoJson.ReqString(payload, "body", what);
        byte[] body = ProtoJson.Base64(bodyText) ?? throw new TrustFormatException($"{what}: body is not base64");
        long integrated = ProtoJson.Int64(payload, "integratedTime", what) ?? throw new TrustFormatException($"{what}: integratedTime is missing");
        long index = ProtoJson.Int64(payload, "logIndex", what) ?? throw new TrustFormatException($"{what}: logIndex is missing");
        string logIdHex = ProtoJson.ReqString(payload, "logID", what);
        byte[] logId;
        try
        {
            logId = Convert.FromHexString(logIdHex);
        }
        catch (FormatException)
        {
            throw new TrustFormatException($"{what}: logID is not hex");
        }
        if (index < 0 || integrated < 0)
            throw new TrustFormatException($"{what}: a negative log index or time");
        // The kind and version are the body's own.
        using var b = ProtoJson.Parse(body, what + ": body", 1 << 20);
        string kind = ProtoJson.ReqString(b.RootElement, "kind", what);
        string version = ProtoJson.ReqString(b.RootElement, "apiVersion", what);
        return new TlogEntry(index, logId, kind, version, integrated, set, null, body, bodyText);
    }
}
