using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Ferry.Digests;

namespace Ferry.Trust;

/// <summary>What trust a check draws on: certificate authorities, transparency logs, CT logs, timestamp authorities.</summary>
internal sealed record TrustMaterial(IReadOnlyList<Authority> Cas, IReadOnlyList<LogInstance> Tlogs, IReadOnlyList<LogInstance> CtLogs, IReadOnlyList<Authority> Tsas)
{
    public static TrustMaterial None { get; } = new([], [], [], []);

    public static TrustMaterial Of(TrustedRoot? root) => root is null ? None
        : new(root.CertificateAuthorities, root.TransparencyLogs, root.CtLogs, root.TimestampAuthorities);
}

/// <summary>What a signature must satisfy.</summary>
internal sealed class Requirements
{
    public required TrustMaterial Trust { get; init; }

    /// <summary>Key mode: one of these made the signature.</summary>
    public IReadOnlyList<VerificationKey> Keys { get; init; } = [];

    /// <summary>Keyless: one of these identities.</summary>
    public IReadOnlyList<CertificateIdentity> Identities { get; init; } = [];

    /// <summary>A verified transparency log entry is required (keyless with a trust root; a key with a log key or trust root).</summary>
    public bool RequireTlog { get; init; }

    /// <summary>A verified embedded SCT is required (cosign keyless; not containers-policy.json).</summary>
    public bool RequireSct { get; init; }

    /// <summary>The predicate type a DSSE statement must have (null: any).</summary>
    public string? PredicateType { get; init; }
}

/// <summary>
/// Verifies one signature offline, in sigstore-go's order: the transparency log entries (SET, inclusion proof and signed
/// checkpoint, the body against the signature), the signed timestamps, the certificate at each verified time (chain,
/// SCT, identity and issuer), then the signature over what it signs and that this is the artifact.
/// </summary>
internal static class SignatureChecker
{
    public static SignatureVerdict Verify(SignedMaterial m, BlobArtifact artifact, Requirements r, Digest? source = null)
    {
        var checks = new List<string>();
        string? signer = null, issuer = null, keyId = null, predicateType = null, predicate = null;
        long? logIndex = null;
        DateTimeOffset? integrated = null, stamped = null;

        SignatureVerdict Fail(string reason) => new()
        {
            Verified = false, Reason = reason, Form = m.Form, Source = source, Signer = signer, Issuer = issuer, KeyId = keyId,
            LogIndex = logIndex, IntegratedTime = integrated, SignedTimestamp = stamped, PredicateType = predicateType, Checks = checks,
        };

        // Who is to verify the signature: a given key, or the certificate's.
        VerificationKey? key = null;
        bool keyless = r.Keys.Count == 0;
        if (keyless)
        {
            if (m.Leaf is null)
                return Fail("signed with a key, not a certificate: verify it with --key");
            try
            {
                key = VerificationKey.FromCertificate(m.Leaf, "the signing certificate");
            }
            catch (UsageException e)
            {
                return Fail(e.Message);
            }
        }
        else
        {
            if (m.Leaf is not null)
                return Fail("signed with a certificate, not a key: verify it with --certificate-identity and --certificate-oidc-issuer");
            key = r.Keys.FirstOrDefault(k => SignatureVerifies(m, k, artifact));
            if (key is null)
                return Fail(r.Keys.Count == 1 ? $"the signature does not verify with {r.Keys[0].Name}" : "no given key verifies the signature");
        }
        keyId = key.KeyId;

        try
        {
            // 1. The transparency log.
            var times = new List<DateTimeOffset>();
            int verifiedLogs = 0;
            string? lastLogProblem = null;
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var entry in m.Entries)
            {
                if (!seen.Add(entry.LogIdHex + "/" + entry.LogIndex.ToString(System.Globalization.CultureInfo.InvariantCulture)))
                    return Fail("the signature carries the same log entry twice");
                var log = r.Trust.Tlogs.FirstOrDefault(l => l.LogId.AsSpan().SequenceEqual(entry.LogId));
                if (log is null)
                {
                    lastLogProblem = $"log entry {entry.LogIndex} is from a log the trust root does not know ({entry.LogIdHex[..Math.Min(16, entry.LogIdHex.Length)]}…)";
                    continue;
                }
                if (log.Problem is not null)
                {
                    lastLogProblem = $"the trust root's log {log.BaseUrl}: {log.Problem}";
                    continue;
                }
                var body = TransparencyLog.ReadBody(entry);
                if (entry.Set is null && entry.Proof is null)
                    return Fail($"log entry {entry.LogIndex} has neither a signed entry timestamp nor an inclusion proof");
                if (body.IsRekorV2 && entry.Proof is null)
                    return Fail($"log entry {entry.LogIndex} is a Rekor v2 entry without an inclusion proof");
                bool setOk = false;
                if (entry.Set is not null)
                {
                    if (!TransparencyLog.VerifySet(entry, log, out string why))
                    {
                        lastLogProblem = $"log entry {entry.LogIndex}: {why}";
                        continue;
                    }
                    setOk = true;
                    checks.Add($"SET of log entry {entry.LogIndex} by {Describe(log)}");
                }
                if (entry.Proof is not null)
                {
                    if (body.IsRekorV2 && TransparencyLog.IsRekorV1Checkpoint(entry.Proof.Checkpoint))
                        return Fail($"log entry {entry.LogIndex}: a Rekor v2 entry with a Rekor v1 checkpoint");
                    if (!TransparencyLog.VerifyInclusion(entry, log, out string why))
                        return Fail($"log entry {entry.LogIndex}: {why}");
                    checks.Add($"inclusion proof of log entry {entry.LogIndex} in a tree of {entry.Proof.TreeSize}, signed checkpoint");
                }
                if (BodyMismatch(m, body, key) is { } mismatch)
                    return Fail($"log entry {entry.LogIndex}: {mismatch}");
                checks.Add($"log entry {entry.LogIndex} records this signature, key and digest");
                if (entry.IntegratedTime != 0 && m.Leaf is not null && !Certificates.ValidAt(m.Leaf, DateTimeOffset.FromUnixTimeSeconds(entry.IntegratedTime)))
                    return Fail("integrated time outside certificate validity");
                verifiedLogs++;
                logIndex ??= entry.LogIndex;
                if (setOk && entry.IntegratedTime != 0)
                {
                    var t = DateTimeOffset.FromUnixTimeSeconds(entry.IntegratedTime);
                    integrated ??= t;
                    times.Add(t);
                }
            }
            if (r.RequireTlog && verifiedLogs == 0)
                return Fail(m.Entries.Count == 0 ? "no transparency log entry (none in the signature)" : $"no transparency log entry verified: {lastLogProblem}");

            // 2. Signed timestamps.
            if (r.Trust.Tsas.Count > 0 && m.Timestamps.Count > 0)
            {
                string lastTsProblem = "";
                foreach (var ts in m.Timestamps.Take(32))
                {
                    var t = SignedTimestamps.Verify(ts, m.Signature, r.Trust.Tsas, out string why);
                    if (t is null)
                    {
                        lastTsProblem = why;
                        continue;
                    }
                    stamped ??= t;
                    times.Add(t.Value);
                    checks.Add($"RFC 3161 timestamp at {Certificates.Iso(t.Value)}");
                }
                if (stamped is null)
                    return Fail("no signed timestamp verified: " + lastTsProblem);
            }

            // 3. The certificate, at every verified time.
            if (keyless)
            {
                if (times.Count == 0)
                    return Fail("no verified time to check the certificate at (neither a signed entry timestamp nor a signed timestamp)");
                List<X509Certificate2>? chain = null;
                foreach (var t in times)
                {
                    chain = Certificates.VerifyChain(m.Leaf!, m.Carried, r.Trust.Cas, t, Certificates.CodeSigning, out string why);
                    if (chain is null)
                        return Fail(why);
                }
                checks.Add($"certificate chain to {chain![^1].Subject} at {string.Join(", ", times.Select(Certificates.Iso).Distinct(StringComparer.Ordinal))}");
                if (r.RequireSct)
                {
                    if (chain.Count < 2)
                        return Fail("the certificate has no issuer to check its SCT with");
                    if (!Certificates.VerifySct(m.Leaf!, chain[1], r.Trust.CtLogs, out string sct))
                        return Fail(sct);
                    checks.Add(sct);
                }
                issuer = Certificates.Issuer(m.Leaf!);
                var sans = Certificates.Identities(m.Leaf!);
                signer = sans.FirstOrDefault();
                var emails = sans.Where(s => s.Contains('@', StringComparison.Ordinal) && !s.Contains("://", StringComparison.Ordinal)).ToList();
                string? matched = null;
                foreach (var id in r.Identities)
                {
                    matched = id.Match(sans, emails, issuer);
                    if (matched is not null)
                        break;
                }
                if (matched is null)
                    return Fail($"the certificate's identity {(sans.Count == 0 ? "(none)" : string.Join(", ", sans.Select(s => $"'{s}'")))} with issuer '{issuer ?? "(none)"}' matches none of: {string.Join("; ", r.Identities)}");
                signer = matched;
                checks.Add($"identity '{signer}', issuer '{issuer}'");
            }

            // 4. The signature, and what it signs.
            if (m.Content == SignedContent.MessageSignature && artifact.Sha256 is not null && m.MessageDigest is not null
                && (m.DigestAlgorithm != "sha256" || !m.MessageDigest.AsSpan().SequenceEqual(artifact.Sha256)))
                return Fail("the bundle's message digest is not the artifact's");
            if (!keyless || SignatureVerifies(m, key, artifact))
            {
                if (keyless)
                    checks.Add("signature with the certificate's key");
                else
                    checks.Add($"signature with key {key.Name}");
            }
            else
            {
                return Fail("the signature does not verify with the certificate's key");
            }
            switch (m.Content)
            {
                case SignedContent.MessageSignature:
                    if (artifact.Sha256 is null)
                        return Fail($"a message signature is checked against the artifact's sha256, not {artifact.Algorithm}");
                    if (m.MessageDigest is not null && (m.DigestAlgorithm != "sha256" || !m.MessageDigest.AsSpan().SequenceEqual(artifact.Sha256)))
                        return Fail("the bundle's message digest is not the artifact's");
                    if (artifact.Bytes is null && !key.VerifiesDigest(artifact.Sha256, HashAlgorithmName.SHA256, m.Signature))
                        return Fail(key.IsEd25519 ? "an Ed25519 message signature can be verified only with the artifact, not its digest" : "the signature is not over the artifact");
                    if (artifact.Bytes is not null && !key.Verifies(artifact.Bytes, m.Signature, allowPrehash: !m.SignedWithKey))
                        return Fail("the signature is not over the artifact");
                    checks.Add($"signs {artifact.Digest}");
                    break;
                case SignedContent.Dsse:
                {
                    var env = m.Envelope!;
                    if (env.PayloadType != DsseEnvelope.InTotoPayloadType)
                        return Fail($"the DSSE payload type is '{env.PayloadType}', not {DsseEnvelope.InTotoPayloadType}");
                    var statement = InTotoStatement.Parse(env.Payload, "the DSSE payload");
                    predicateType = statement.PredicateType;
                    predicate = statement.Predicate;
                    if (!statement.Names(artifact.Algorithm, artifact.Value))
                        return Fail($"the in-toto statement's subjects do not name {artifact.Digest}");
                    checks.Add($"in-toto statement ({statement.PredicateType}) names {artifact.Digest}");
                    if (r.PredicateType is not null && statement.PredicateType != r.PredicateType)
                        return Fail($"the attestation's predicate type is '{statement.PredicateType}', not '{r.PredicateType}'");
                    break;
                }
                case SignedContent.SimpleSigning:
                {
                    string? signed = SignedDigest(m.Payload!);
                    if (signed is null)
                        return Fail("the payload names no docker-manifest-digest");
                    if (!string.Equals(signed, artifact.Digest, StringComparison.OrdinalIgnoreCase))
                        return Fail($"the payload signs {signed}, not {artifact.Digest}");
                    checks.Add($"payload names {artifact.Digest}");
                    break;
                }
            }
        }
        catch (TrustFormatException e)
        {
            return Fail(e.Message);
        }
        catch (JsonException e)
        {
            return Fail("invalid JSON: " + e.Message);
        }
        return new SignatureVerdict
        {
            Verified = true, Form = m.Form, Source = source, Signer = signer, Issuer = issuer, KeyId = keyId, LogIndex = logIndex,
            IntegratedTime = integrated, SignedTimestamp = stamped, PredicateType = predicateType, Predicate = predicate, Checks = checks,
        };
    }

    private static string Describe(LogInstance log) => log.BaseUrl.Length > 0 ? log.BaseUrl : "key " + log.LogIdHex[..16] + "…";

    /// <summary>
    /// Whether the signature verifies with <paramref name="key"/> over what it signs: the PAE, the payload, or for a
    /// message signature the artifact (its bytes, else its digest; an Ed25519 one over a digest is judged later).
    /// Whether that content is the artifact's is checked after.
    /// </summary>
    private static bool SignatureVerifies(SignedMaterial m, VerificationKey key, BlobArtifact artifact) => m.Content switch
    {
        SignedContent.Dsse => key.Verifies(m.Envelope!.Pae(), m.Signature),
        SignedContent.SimpleSigning => key.Verifies(m.Payload!, m.Signature),
        _ when artifact.Bytes is not null => key.Verifies(artifact.Bytes, m.Signature, allowPrehash: !m.SignedWithKey),
        _ when artifact.Sha256 is not null => key.IsEd25519 || key.VerifiesDigest(artifact.Sha256, HashAlgorithmName.SHA256, m.Signature),
        _ => false,
    };

    /// <summary>What differs between a log entry's body and the signature, or null when they agree.</summary>
    private static string? BodyMismatch(SignedMaterial m, RekorBody body, VerificationKey key)
    {
        if (!body.Signature.AsSpan().SequenceEqual(m.Signature))
            return "the log entry records another signature";
        if (body.Verifier is null)
            return "the log entry names no certificate or key";
        bool sameVerifier = m.Leaf is not null
            ? body.VerifierIsCertificate && body.Verifier.AsSpan().SequenceEqual(m.Leaf.RawData)
            : !body.VerifierIsCertificate && body.Verifier.AsSpan().SequenceEqual(key.SubjectPublicKeyInfo);
        if (!sameVerifier)
            return "the log entry records another certificate or key";
        byte[] expected;
        string? algorithm;
        switch (m.Content)
        {
            case SignedContent.MessageSignature:
                if (m.MessageDigest is null)
                    return "the bundle names no message digest to compare with the log entry";
                (expected, algorithm) = (m.MessageDigest, m.DigestAlgorithm);
                break;
            case SignedContent.SimpleSigning:
                (expected, algorithm) = (SHA256.HashData(m.Payload!), "sha256");
                break;
            default:
                if (body.IsRekorV2)
                {
                    // Rekor v2 logs a DSSE envelope as a hashedrekord of its PAE, hashed as the key signs.
                    var h = key.DefaultHash;
                    byte[] pae = m.Envelope!.Pae();
                    expected = h == HashAlgorithmName.SHA384 ? SHA384.HashData(pae) : h == HashAlgorithmName.SHA512 ? SHA512.HashData(pae) : SHA256.HashData(pae);
                    algorithm = h == HashAlgorithmName.SHA384 ? "sha384" : h == HashAlgorithmName.SHA512 ? "sha512" : "sha256";
                }
                else
                {
                    (expected, algorithm) = (SHA256.HashData(m.Envelope!.Payload), null);
                }
                break;
        }
        if (algorithm is not null && body.DigestAlgorithm is not null && !string.Equals(body.DigestAlgorithm, algorithm, StringComparison.OrdinalIgnoreCase))
            return $"the log entry's digest is {body.DigestAlgorithm}, the signature's {algorithm}";
        if ((body.DigestAlgorithm is null) != (m.Content == SignedContent.Dsse && !body.IsRekorV2))
            return "the log entry is of another kind than the signature";
        if (!body.Digest.AsSpan().SequenceEqual(expected))
            return "the log entry records another digest";
        return null;
    }

    /// <summary>The <c>critical.image.docker-manifest-digest</c> of a simple signing payload.</summary>
    internal static string? SignedDigest(byte[] payload) => SimpleSigning(payload).Digest;

    /// <summary>A simple signing payload's <c>critical.identity.docker-reference</c> and <c>critical.image.docker-manifest-digest</c>.</summary>
    internal static (string? Reference, string? Digest) SimpleSigning(byte[] payload)
    {
        try
        {
            using var doc = ProtoJson.Parse(payload, "the signature payload", 1 << 20);
            if (ProtoJson.Object(doc.RootElement, "critical", "payload") is not { } critical)
                return (null, null);
            string? reference = ProtoJson.Object(critical, "identity", "payload") is { } id ? ProtoJson.String(id, "docker-reference", "payload") : null;
            string? digest = ProtoJson.Object(critical, "image", "payload") is { } image ? ProtoJson.String(image, "docker-manifest-digest", "payload") : null;
            return (reference, digest);
        }
        catch (TrustFormatException)
        {
            return (null, null);
        }
    }
}
