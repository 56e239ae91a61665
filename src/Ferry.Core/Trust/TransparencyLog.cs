using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Ferry.Trust;

/// <summary>An inclusion proof of a log entry: its index in the (shard's) tree, the tree, the path and the signed checkpoint.</summary>
internal sealed record InclusionProof(long LogIndex, byte[] RootHash, long TreeSize, IReadOnlyList<byte[]> Hashes, string Checkpoint);

/// <summary>
/// A transparency log (Rekor) entry as a bundle or cosign's bundle annotation carries it: the canonicalized body, the
/// integrated time and the signed entry timestamp (SET), and, where present, an inclusion proof.
/// </summary>
/// <remarks><paramref name="BodyText"/>: the body's base64 exactly as cosign's annotation gives it (the SET signs that text).</remarks>
internal sealed record TlogEntry(long LogIndex, byte[] LogId, string Kind, string Version, long IntegratedTime, byte[]? Set,
    InclusionProof? Proof, byte[] Body, string? BodyText = null)
{
    public string BodyBase64 => BodyText ?? Convert.ToBase64String(Body);

    public string LogIdHex => Convert.ToHexStringLower(LogId);
}

/// <summary>What a Rekor entry body says: the signature, who verifies it (certificate or key), and what was signed.</summary>
/// <param name="Signature">The signature bytes.</param>
/// <param name="Verifier">DER of the certificate or SubjectPublicKeyInfo.</param>
/// <param name="VerifierIsCertificate">Whether <paramref name="Verifier"/> is a certificate.</param>
/// <param name="DigestAlgorithm">hashedrekord: the digest's algorithm (<c>sha256</c>, …); null for DSSE kinds.</param>
/// <param name="Digest">hashedrekord: the signed digest; dsse/intoto: SHA-256 of the envelope's payload.</param>
/// <param name="IsRekorV2">A Rekor v2 (tiles) entry: <c>hashedrekord</c> 0.0.2.</param>
internal sealed record RekorBody(byte[] Signature, byte[]? Verifier, bool VerifierIsCertificate, string? DigestAlgorithm, byte[] Digest, bool IsRekorV2);

internal static class TransparencyLog
{
    /// <summary>The most hashes an inclusion proof may have (a tree of 2^64 leaves needs 64).</summary>
    private const int MaxProofHashes = 64;

    public static int MaxHashes => MaxProofHashes;

    /// <summary>
    /// The SET: an ECDSA signature (by the log key whose ID is the entry's) over SHA-256 of the RFC 8785 canonical
    /// JSON of <c>{body, integratedTime, logID, logIndex}</c>; the key must have been valid at the integrated time.
    /// </summary>
    public static bool VerifySet(TlogEntry entry, LogInstance log, out string error)
    {
        error = "";
        if (entry.Set is null)
        {
            error = "no signed entry timestamp";
            return false;
        }
        if (log.Key is null || log.Problem is not null)
        {
            error = $"the log's key cannot be used ({log.Problem})";
            return false;
        }
        var at = DateTimeOffset.FromUnixTimeSeconds(entry.IntegratedTime);
        if (!log.ValidFor.Contains(at))
        {
            error = $"the log's key was not valid at the integrated time {Certificates.Iso(at)}";
            return false;
        }
        // RFC 8785 for this object: keys in code-point order, integers as integers, strings JSON-escaped.
        var sb = new StringBuilder();
        sb.Append("{\"body\":").Append(JsonString(entry.BodyBase64))
          .Append(",\"integratedTime\":").Append(entry.IntegratedTime.ToString(CultureInfo.InvariantCulture))
          .Append(",\"logID\":").Append(JsonString(entry.LogIdHex))
          .Append(",\"logIndex\":").Append(entry.LogIndex.ToString(CultureInfo.InvariantCulture))
          .Append('}');
        if (!log.Key.IsEcdsa || !log.Key.Verifies(Encoding.UTF8.GetBytes(sb.ToString()), entry.Set))
        {
            error = "the signed entry timestamp does not verify with the log's key";
            return false;
        }
        return true;
    }

    private static string JsonString(string s)
    {
        // The values here are base64 and hex: nothing to escape but what RFC 8785 would (quotes, backslash, controls).
        var sb = new StringBuilder("\"");
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (c < 0x20)
                        sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else
                        sb.Append(c);
                    break;
            }
        }
        return sb.Append('"').ToString();
    }

    /// <summary>RFC 6962 leaf hash: SHA-256(0x00 ‖ leaf).</summary>
    public static byte[] LeafHash(ReadOnlySpan<byte> leaf)
    {
        byte[] buf = new byte[leaf.Length + 1];
        leaf.CopyTo(buf.AsSpan(1));
        return SHA256.HashData(buf);
    }

    private static byte[] NodeHash(ReadOnlySpan<byte> left, ReadOnlySpan<byte> right)
    {
        Span<byte> buf = stackalloc byte[65];
        buf[0] = 1;
        left.CopyTo(buf[1..]);
        right.CopyTo(buf[33..]);
        return SHA256.HashData(buf);
    }

    /// <summary>The root an inclusion path leads to (RFC 9162 §2.1.3.2); null when the path does not fit the tree.</summary>
    public static byte[]? RootFromInclusionProof(long index, long size, byte[] leafHash, IReadOnlyList<byte[]> path)
    {
        if (index < 0 || size <= 0 || index >= size || path.Count > MaxProofHashes || path.Any(p => p.Length != 32))
            return null;
        long fn = index, sn = size - 1;
        byte[] r = leafHash;
        foreach (var p in path)
        {
            if (sn == 0)
                return null;
            if ((fn & 1) == 1 || fn == sn)
            {
                r = NodeHash(p, r);
                if ((fn & 1) == 0)
                {
                    while ((fn & 1) == 0 && fn != 0)
                    {
                        fn >>= 1;
                        sn >>= 1;
                    }
                }
            }
            else
            {
                r = NodeHash(r, p);
            }
            fn >>= 1;
            sn >>= 1;
        }
        return sn == 0 ? r : null;
    }

    /// <summary>
    /// The inclusion proof: the body's leaf hash leads by the path to the proof's root hash, and a checkpoint signed by
    /// the log (a C2SP signed note) commits to that root at that tree size. A Rekor v2 checkpoint's origin must be the
    /// log's host, and its signature line be the log's; a Rekor v1 one (origin <c>HOST - TREEID</c>) carries the key hint.
    /// </summary>
    public static bool VerifyInclusion(TlogEntry entry, LogInstance log, out string error)
    {
        var proof = entry.Proof!;
        var root = RootFromInclusionProof(proof.LogIndex, proof.TreeSize, LeafHash(entry.Body), proof.Hashes);
        if (root is null || !root.AsSpan().SequenceEqual(proof.RootHash))
        {
            error = "the inclusion proof does not lead to its root hash";
            return false;
        }
        return VerifyCheckpoint(proof, log, out error);
    }

    public static bool IsRekorV1Checkpoint(string checkpoint)
    {
        int nl = checkpoint.IndexOf('\n', StringComparison.Ordinal);
        string origin = nl < 0 ? checkpoint : checkpoint[..nl];
        int dash = origin.LastIndexOf(" - ", StringComparison.Ordinal);
        return dash > 0 && origin.Length > dash + 3 && origin[(dash + 3)..].All(char.IsAsciiDigit);
    }

    private static bool VerifyCheckpoint(InclusionProof proof, LogInstance log, out string error)
    {
        string text = proof.Checkpoint;
        if (text.Length > 64 * 1024)
        {
            error = "the checkpoint is too large";
            return false;
        }
        int split = text.IndexOf("\n\n", StringComparison.Ordinal);
        if (split < 0 || !text.EndsWith('\n'))
        {
            error = "the checkpoint is not a signed note";
            return false;
        }
        string note = text[..(split + 1)];
        string[] lines = note[..^1].Split('\n');
        if (lines.Length < 3 || lines[0].Length == 0
            || !long.TryParse(lines[1], NumberStyles.None, CultureInfo.InvariantCulture, out long size)
            || ProtoJson.Base64(lines[2]) is not { Length: 32 } hash)
        {
            error = "the checkpoint lacks its origin, tree size or root hash";
            return false;
        }
        if (size != proof.TreeSize || !hash.AsSpan().SequenceEqual(proof.RootHash))
        {
            error = "the checkpoint is for another tree than the inclusion proof";
            return false;
        }
        bool v1 = IsRekorV1Checkpoint(text);
        string origin = lines[0];
        if (!v1 && origin != log.Host)
        {
            error = $"the checkpoint's origin '{origin}' is not the log's ({log.Host})";
            return false;
        }
        if (log.Key is null)
        {
            error = "the log's key cannot be used";
            return false;
        }
        var hints = new List<byte[]> { SHA256.HashData(log.Key.SubjectPublicKeyInfo)[..4] };
        if (log.CheckpointKeyId is { Length: >= 4 } ck)
            hints.Add(ck[..4]);
        if (log.Key.IsEd25519)
        {
            byte[] raw = log.Key.SubjectPublicKeyInfo[^32..];
            hints.Add(SHA256.HashData([.. Encoding.UTF8.GetBytes(origin), 0x0A, 0x01, .. raw])[..4]);
        }
        byte[] noteBytes = Encoding.UTF8.GetBytes(note);
        int signatures = 0;
        foreach (string line in text[(split + 2)..].Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (++signatures > 32)
                break;
            // "— NAME BASE64(keyhint ‖ signature)"
            if (!line.StartsWith("\u2014 ", StringComparison.Ordinal))
                continue;
            string[] parts = line[2..].Split(' ');
            if (parts.Length != 2 || ProtoJson.Base64(parts[1]) is not { Length: > 4 } sig)
                continue;
            if (!v1 && parts[0] != origin)
                continue;
            if (!hints.Any(h => h.AsSpan().SequenceEqual(sig.AsSpan(0, 4))))
                continue;
            if (log.Key.Verifies(noteBytes, sig.AsSpan(4)))
            {
                error = "";
                return true;
            }
        }
        error = signatures == 0 ? "the checkpoint has no signature" : "no signature of the checkpoint verifies with the log's key";
        return false;
    }

    /// <summary>Reads what an entry's body says (hashedrekord 0.0.1/0.0.2, dsse 0.0.1, intoto 0.0.2).</summary>
    /// <exception cref="TrustFormatException">A body of another kind, or one that does not say it.</exception>
    public static RekorBody ReadBody(TlogEntry entry)
    {
        const string what = "the log entry's body";
        using var doc = ProtoJson.Parse(entry.Body, what, 1 << 20);
        var root = doc.RootElement;
        string kind = ProtoJson.ReqString(root, "kind", what);
        string version = ProtoJson.ReqString(root, "apiVersion", what);
        if (kind != entry.Kind || version != entry.Version)
            throw new TrustFormatException($"{what} is {kind} {version}, the bundle says {entry.Kind} {entry.Version}");
        var spec = ProtoJson.ReqObject(root, "spec", what);
        switch (kind, version)
        {
            case ("hashedrekord", "0.0.1"):
            {
                var hash = ProtoJson.ReqObject(ProtoJson.ReqObject(spec, "data", what), "hash", what);
                var sig = ProtoJson.ReqObject(spec, "signature", what);
                byte[] pem = ProtoJson.ReqBytes(ProtoJson.ReqObject(sig, "publicKey", what), "content", what);
                var (der, isCert) = PemDer(pem);
                return new RekorBody(ProtoJson.ReqBytes(sig, "content", what), der, isCert, ProtoJson.ReqString(hash, "algorithm", what),
                    Hex(ProtoJson.ReqString(hash, "value", what)), false);
            }
            case ("hashedrekord", "0.0.2"):
            {
                var v2 = ProtoJson.ReqObject(spec, "hashedRekordV002", what);
                var data = ProtoJson.ReqObject(v2, "data", what);
                var sig = ProtoJson.ReqObject(v2, "signature", what);
                var verifier = ProtoJson.ReqObject(sig, "verifier", what);
                byte[]? der;
                bool isCert;
                if (ProtoJson.Object(verifier, "x509Certificate", what) is { } x)
                    (der, isCert) = (ProtoJson.ReqBytes(x, "rawBytes", what), true);
                else if (ProtoJson.Object(verifier, "publicKey", what) is { } k)
                    (der, isCert) = (ProtoJson.ReqBytes(k, "rawBytes", what), false);
                else
                    throw new TrustFormatException($"{what} names no verifier");
                string alg = ProtoJson.ReqString(data, "algorithm", what) switch
                {
                    "SHA2_256" => "sha256",
                    "SHA2_384" => "sha384",
                    "SHA2_512" => "sha512",
                    var other => other,
                };
                return new RekorBody(ProtoJson.ReqBytes(sig, "content", what), der, isCert, alg, ProtoJson.ReqBytes(data, "digest", what), true);
            }
            case ("dsse", "0.0.1"):
            {
                var sigs = ProtoJson.Array(spec, "signatures", what, 16);
                if (sigs.Count != 1)
                    throw new TrustFormatException($"{what} has {sigs.Count} signatures, not one");
                byte[] signature = ProtoJson.ReqBytes(sigs[0], "signature", what);
                var (der, isCert) = PemDer(ProtoJson.ReqBytes(sigs[0], "verifier", what));
                var payloadHash = ProtoJson.ReqObject(spec, "payloadHash", what);
                return new RekorBody(signature, der, isCert, null, Hex(ProtoJson.ReqString(payloadHash, "value", what)), false);
            }
            case ("intoto", "0.0.2"):
            {
                var content = ProtoJson.ReqObject(spec, "content", what);
                var envelope = ProtoJson.ReqObject(content, "envelope", what);
                var sigs = ProtoJson.Array(envelope, "signatures", what, 16);
                if (sigs.Count != 1)
                    throw new TrustFormatException($"{what} has {sigs.Count} signatures, not one");
                // intoto 0.0.2 keeps the envelope's (base64) signature as bytes: base64 twice.
                byte[] once = ProtoJson.ReqBytes(sigs[0], "sig", what);
                byte[] signature = ProtoJson.Base64(Encoding.ASCII.GetString(once)) ?? once;
                var (der, isCert) = PemDer(ProtoJson.ReqBytes(sigs[0], "publicKey", what));
                var payloadHash = ProtoJson.ReqObject(content, "payloadHash", what);
                return new RekorBody(signature, der, isCert, null, Hex(ProtoJson.ReqString(payloadHash, "value", what)), false);
            }
            default:
                throw new TrustFormatException($"{what} is a {kind} {version} entry, which Ferry does not verify");
        }
    }

    private static byte[] Hex(string hex)
    {
        try
        {
            return Convert.FromHexString(hex);
        }
        catch (FormatException)
        {
            throw new TrustFormatException("the log entry's digest is not hex");
        }
    }

    /// <summary>The DER inside a PEM certificate or public key, and which it is.</summary>
    private static (byte[]? Der, bool IsCertificate) PemDer(byte[] pemBytes)
    {
        string pem = Encoding.UTF8.GetString(pemBytes);
        if (!PemEncoding.TryFind(pem, out var f))
            return (null, false);
        byte[] der = new byte[f.DecodedDataLength];
        if (!Convert.TryFromBase64Chars(pem.AsSpan()[f.Base64Data], der, out int n))
            return (null, false);
        return (der[..n], pem.AsSpan()[f.Label].SequenceEqual("CERTIFICATE"));
    }

    /// <summary>Parses a bundle's <c>tlogEntries[]</c> element.</summary>
    public static TlogEntry ParseEntry(JsonElement e, string what)
    {
        long index = ProtoJson.Int64(e, "logIndex", what) ?? throw new TrustFormatException($"{what}: logIndex is missing");
        if (index < 0)
            throw new TrustFormatException($"{what}: logIndex is negative");
        byte[] logId = ProtoJson.ReqBytes(ProtoJson.ReqObject(e, "logId", what), "keyId", what);
        var kv = ProtoJson.ReqObject(e, "kindVersion", what);
        string kind = ProtoJson.ReqString(kv, "kind", what);
        string version = ProtoJson.ReqString(kv, "version", what);
        long integrated = ProtoJson.Int64(e, "integratedTime", what) ?? 0;
        if (integrated < 0)
            throw new TrustFormatException($"{what}: integratedTime is negative");
        byte[]? set = ProtoJson.Object(e, "inclusionPromise", what) is { } promise ? ProtoJson.Bytes(promise, "signedEntryTimestamp", what) : null;
        if (set is { Length: 0 })
            set = null;
        InclusionProof? proof = null;
        if (ProtoJson.Object(e, "inclusionProof", what) is { } p)
        {
            var hashes = ProtoJson.Array(p, "hashes", what, MaxProofHashes)
                .Select(h => h.ValueKind == JsonValueKind.String ? ProtoJson.Base64(h.GetString()!) : null)
                .Select(h => h ?? throw new TrustFormatException($"{what}: an inclusion proof hash is not base64")).ToList();
            string checkpoint = ProtoJson.Object(p, "checkpoint", what) is { } cp ? ProtoJson.String(cp, "envelope", what) ?? "" : "";
            if (checkpoint.Length == 0)
                throw new TrustFormatException($"{what}: the inclusion proof has no checkpoint");
            proof = new InclusionProof(ProtoJson.Int64(p, "logIndex", what) ?? 0, ProtoJson.ReqBytes(p, "rootHash", what),
                ProtoJson.Int64(p, "treeSize", what) ?? 0, hashes, checkpoint);
        }
        byte[] body = ProtoJson.ReqBytes(e, "canonicalizedBody", what);
        return new TlogEntry(index, logId, kind, version, integrated, set, proof, body);
    }
}
