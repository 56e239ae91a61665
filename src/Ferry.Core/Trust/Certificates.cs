using System.Buffers.Binary;
using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Ferry.Trust;

/// <summary>
/// Fulcio certificates, offline: the chain to an authority of the trust root at a verified time, the signer's identity
/// (SANs) and OIDC issuer (Fulcio's extensions), and the embedded SCT against the trust root's CT log keys.
/// </summary>
internal static class Certificates
{
    public const string CodeSigning = "1.3.6.1.5.5.7.3.3";
    public const string TimeStamping = "1.3.6.1.5.5.7.3.8";
    private const string SanOid = "2.5.29.17";
    private const string IssuerV1Oid = "1.3.6.1.4.1.57264.1.1";
    private const string IssuerV2Oid = "1.3.6.1.4.1.57264.1.8";
    private const string UsernameOid = "1.3.6.1.4.1.57264.1.7";
    private const string SctOid = "1.3.6.1.4.1.11129.2.4.2";

    /// <summary>Reads a DER certificate; null when it is not one.</summary>
    public static X509Certificate2? Load(byte[] der)
    {
        try
        {
            return X509CertificateLoader.LoadCertificate(der);
        }
        catch (CryptographicException)
        {
            return null;
        }
    }

    /// <summary>Every PEM certificate of a text, in order (a chain annotation, a policy's caData).</summary>
    public static List<X509Certificate2> LoadPemAll(string pem, string what, int max = 16)
    {
        var result = new List<X509Certificate2>();
        var rest = pem.AsSpan();
        while (PemEncoding.TryFind(rest, out var f))
        {
            if (rest[f.Label].SequenceEqual("CERTIFICATE"))
            {
                if (result.Count >= max)
                    throw new TrustFormatException($"{what}: more than {max} certificates");
                byte[] der = new byte[f.DecodedDataLength];
                if (!Convert.TryFromBase64Chars(rest[f.Base64Data], der, out int n))
                    throw new TrustFormatException($"{what}: a PEM certificate is not base64");
                result.Add(Load(der[..n]) ?? throw new TrustFormatException($"{what}: a certificate Ferry cannot read"));
            }
            rest = rest[f.Location.End..];
        }
        return result;
    }

    /// <summary>Whether a certificate is self-signed (a root, which a bundle must not carry).</summary>
    public static bool IsSelfSigned(X509Certificate2 c) => c.SubjectName.RawData.AsSpan().SequenceEqual(c.IssuerName.RawData) && Authority.IsCa(c);

    /// <summary>The identities of the SubjectAltName: e-mail addresses, URIs, Fulcio usernames (otherName), DNS names.</summary>
    public static List<string> Identities(X509Certificate2 cert)
    {
        var result = new List<string>();
        if (cert.Extensions[SanOid] is not { } san)
            return result;
        try
        {
            var names = new AsnReader(san.RawData, AsnEncodingRules.DER).ReadSequence();
            while (names.HasData && result.Count < 64)
            {
                var tag = names.PeekTag();
                if (tag.TagClass == TagClass.ContextSpecific && tag.TagValue is 1 or 2 or 6)
                {
                    result.Add(names.ReadCharacterString(UniversalTagNumber.IA5String, tag));
                }
                else if (tag.TagClass == TagClass.ContextSpecific && tag.TagValue == 0)
                {
                    var other = names.ReadSequence(tag);
                    string oid = other.ReadObjectIdentifier();
                    var value = other.ReadSequence(new Asn1Tag(TagClass.ContextSpecific, 0, isConstructed: true));
                    if (oid == UsernameOid)
                        result.Add(value.ReadCharacterString(UniversalTagNumber.UTF8String));
                }
                else
                {
                    names.ReadEncodedValue();
                }
            }
        }
        catch (AsnContentException)
        {
        }
        return result;
    }

    /// <summary>
    /// The OIDC issuer Fulcio recorded: extension 1.3.6.1.4.1.57264.1.8 (a UTF8String), else the deprecated .1.1 (raw
    /// bytes); null without either.
    /// </summary>
    /// <exception cref="TrustFormatException">The two disagree, or .1.8 is not a UTF8String.</exception>
    public static string? Issuer(X509Certificate2 cert)
    {
        string? v1 = cert.Extensions[IssuerV1Oid] is { } e1 ? System.Text.Encoding.UTF8.GetString(e1.RawData) : null;
        string? v2 = null;
        if (cert.Extensions[IssuerV2Oid] is { } e2)
        {
            try
            {
                v2 = new AsnReader(e2.RawData, AsnEncodingRules.DER).ReadCharacterString(UniversalTagNumber.UTF8String);
            }
            catch (AsnContentException)
            {
                throw new TrustFormatException("the certificate's OIDC issuer extension (1.3.6.1.4.1.57264.1.8) is not a UTF8String");
            }
        }
        if (v1 is not null && v2 is not null && v1 != v2)
            throw new TrustFormatException($"the certificate names two OIDC issuers ('{v1}' and '{v2}')");
        return v2 ?? v1;
    }

    /// <summary>
    /// Builds the chain from <paramref name="leaf"/> to the anchor of one of <paramref name="authorities"/> valid at
    /// <paramref name="time"/>, every certificate valid then, the leaf with extended key usage <paramref name="eku"/>.
    /// Intermediates come from the authority (and <paramref name="extra"/>, which a chain verifies and never anchors).
    /// No revocation, no download: offline.
    /// </summary>
    /// <returns>The chain, leaf first; null with <paramref name="error"/> set when none verifies.</returns>
    public static List<X509Certificate2>? VerifyChain(X509Certificate2 leaf, IEnumerable<X509Certificate2> extra, IEnumerable<Authority> authorities,
        DateTimeOffset time, string eku, out string error)
    {
        error = "no certificate authority of the trust root";
        foreach (var ca in authorities)
        {
            if (!ca.ValidFor.Contains(time))
            {
                error = $"no certificate authority of the trust root was valid at {Iso(time)}";
                continue;
            }
            using var chain = new X509Chain();
            var policy = chain.ChainPolicy;
            policy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            policy.CustomTrustStore.Add(ca.Anchor);
            foreach (var c in ca.Chain.Take(ca.Chain.Count - 1))
                policy.ExtraStore.Add(c);
            foreach (var c in extra)
                policy.ExtraStore.Add(c);
            policy.RevocationMode = X509RevocationMode.NoCheck;
            policy.DisableCertificateDownloads = true;
            policy.VerificationTime = time.UtcDateTime;
            policy.ApplicationPolicy.Add(new Oid(eku));
            bool ok = chain.Build(leaf);
            var elements = chain.ChainElements.Select(e => e.Certificate).ToList();
            if (ok && elements.Count > 0 && elements[^1].RawDataMemory.Span.SequenceEqual(ca.Anchor.RawDataMemory.Span))
                return elements;
            var status = chain.ChainStatus.Select(s => s.Status).Where(s => s != X509ChainStatusFlags.NoError).Distinct().ToList();
            error = status.Contains(X509ChainStatusFlags.NotTimeValid)
                ? $"the certificate chain was not valid at {Iso(time)}"
                : status.Contains(X509ChainStatusFlags.NotValidForUsage)
                    ? "the certificate is not valid for " + (eku == CodeSigning ? "code signing" : "time stamping")
                    : $"the certificate does not chain to a certificate authority of the trust root ({string.Join(", ", status)})";
        }
        return null;
    }

    public static string Iso(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Whether <paramref name="time"/> lies within the certificate's validity (both ends inclusive).</summary>
    public static bool ValidAt(X509Certificate2 c, DateTimeOffset time) =>
        time >= new DateTimeOffset(c.NotBefore.ToUniversalTime()) && time <= new DateTimeOffset(c.NotAfter.ToUniversalTime());

    /// <summary>
    /// Verifies the SCTs embedded in <paramref name="leaf"/> (RFC 6962 §3.3, a precertificate entry) against the CT
    /// logs: at least one, by a known log whose key was valid at the SCT's time, must verify.
    /// </summary>
    public static bool VerifySct(X509Certificate2 leaf, X509Certificate2 issuer, IReadOnlyList<LogInstance> ctlogs, out string detail)
    {
        if (leaf.Extensions[SctOid] is not { } ext)
        {
            detail = "the certificate has no embedded SCT";
            return false;
        }
        List<(byte Version, byte[] LogId, ulong Timestamp, byte[] Extensions, byte Hash, byte SigAlg, byte[] Signature)> scts;
        byte[] tbs;
        try
        {
            scts = ParseSctList(new AsnReader(ext.RawData, AsnEncodingRules.DER).ReadOctetString());
            tbs = TbsWithoutSct(leaf.RawData);
        }
        catch (Exception e) when (e is AsnContentException or TrustFormatException or ArgumentOutOfRangeException or IndexOutOfRangeException)
        {
            detail = "the certificate's SCT list cannot be read";
            return false;
        }
        byte[] issuerKeyHash = SHA256.HashData(issuer.PublicKey.ExportSubjectPublicKeyInfo());
        detail = "no SCT is from a CT log of the trust root";
        byte[] u64 = new byte[8];
        foreach (var sct in scts)
        {
            var log = ctlogs.FirstOrDefault(l => l.LogId.AsSpan().SequenceEqual(sct.LogId));
            if (log?.Key is null)
                continue;
            var when = DateTimeOffset.FromUnixTimeMilliseconds((long)Math.Min(sct.Timestamp, (ulong)long.MaxValue / 2));
            if (!log.ValidFor.Contains(when))
            {
                detail = "the SCT's CT log key was not valid at the SCT's time";
                continue;
            }
            if (sct.Version != 0 || sct.Hash != 4)
            {
                detail = "the SCT is not a v1 SHA-256 SCT";
                continue;
            }
            using var signed = new MemoryStream();
            signed.WriteByte(0); // v1
            signed.WriteByte(0); // certificate_timestamp
            BinaryPrimitives.WriteUInt64BigEndian(u64, sct.Timestamp);
            signed.Write(u64);
            signed.WriteByte(0);
            signed.WriteByte(1); // precert_entry
            signed.Write(issuerKeyHash);
            signed.WriteByte((byte)(tbs.Length >> 16));
            signed.WriteByte((byte)(tbs.Length >> 8));
            signed.WriteByte((byte)tbs.Length);
            signed.Write(tbs);
            signed.WriteByte((byte)(sct.Extensions.Length >> 8));
            signed.WriteByte((byte)sct.Extensions.Length);
            signed.Write(sct.Extensions);
            if (log.Key.Verifies(signed.ToArray(), sct.Signature))
            {
                detail = $"SCT from CT log {Convert.ToHexStringLower(sct.LogId)[..16]}… at {Iso(when)}";
                return true;
            }
            detail = "the SCT's signature does not verify with the CT log's key";
        }
        return false;
    }

    private static List<(byte, byte[], ulong, byte[], byte, byte, byte[])> ParseSctList(byte[] tls)
    {
        var result = new List<(byte, byte[], ulong, byte[], byte, byte, byte[])>();
        var span = tls.AsSpan();
        if (span.Length < 2)
            throw new TrustFormatException("short SCT list");
        int total = BinaryPrimitives.ReadUInt16BigEndian(span);
        span = span[2..];
        if (total != span.Length)
            throw new TrustFormatException("SCT list length");
        while (span.Length > 0 && result.Count < 16)
        {
            int len = BinaryPrimitives.ReadUInt16BigEndian(span);
            var sct = span.Slice(2, len);
            span = span[(2 + len)..];
            byte version = sct[0];
            byte[] logId = sct.Slice(1, 32).ToArray();
            ulong ts = BinaryPrimitives.ReadUInt64BigEndian(sct[33..]);
            int extLen = BinaryPrimitives.ReadUInt16BigEndian(sct[41..]);
            byte[] exts = sct.Slice(43, extLen).ToArray();
            var rest = sct[(43 + extLen)..];
            byte hash = rest[0], alg = rest[1];
            int sigLen = BinaryPrimitives.ReadUInt16BigEndian(rest[2..]);
            byte[] sig = rest.Slice(4, sigLen).ToArray();
            if (rest.Length != 4 + sigLen)
                throw new TrustFormatException("SCT length");
            result.Add((version, logId, ts, exts, hash, alg, sig));
        }
        return result;
    }

    /// <summary>The certificate's TBSCertificate with the SCT list extension taken out (what the CT log signed).</summary>
    private static byte[] TbsWithoutSct(byte[] certificate)
    {
        var cert = new AsnReader(certificate, AsnEncodingRules.DER).ReadSequence();
        var tbs = cert.ReadSequence();
        var w = new AsnWriter(AsnEncodingRules.DER);
        using (w.PushSequence())
        {
            var extensionsTag = new Asn1Tag(TagClass.ContextSpecific, 3, isConstructed: true);
            while (tbs.HasData)
            {
                var tag = tbs.PeekTag();
                if (tag != extensionsTag)
                {
                    w.WriteEncodedValue(tbs.ReadEncodedValue().Span);
                    continue;
                }
                var extensions = tbs.ReadSequence(extensionsTag).ReadSequence();
                using (w.PushSequence(extensionsTag))
                using (w.PushSequence())
                {
                    while (extensions.HasData)
                    {
                        var encoded = extensions.ReadEncodedValue();
                        var e = new AsnReader(encoded, AsnEncodingRules.DER).ReadSequence();
                        if (e.ReadObjectIdentifier() != SctOid)
                            w.WriteEncodedValue(encoded.Span);
                    }
                }
            }
        }
        return w.Encode();
    }
}
