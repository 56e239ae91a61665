using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.Pkcs;
using System.Security.Cryptography.X509Certificates;

namespace Ferry.Trust;

/// <summary>
/// RFC 3161 signed timestamps (a bundle's <c>rfc3161Timestamps</c>, cosign's <c>rfc3161timestamp</c> annotation): the
/// token's message imprint covers the signature bytes, its CMS signature verifies, and its signer chains to a
/// timestamp authority of the trust root valid at the stamped time.
/// </summary>
internal static class SignedTimestamps
{
    /// <summary>The verified time of one timestamp, or null with the reason.</summary>
    public static DateTimeOffset? Verify(byte[] signedTimestamp, byte[] signature, IReadOnlyList<Authority> authorities, out string error)
    {
        error = "";
        byte[] token;
        try
        {
            token = TokenOf(signedTimestamp);
        }
        catch (Exception e) when (e is AsnContentException or TrustFormatException)
        {
            error = "the timestamp cannot be read: " + e.Message;
            return null;
        }
        if (!Rfc3161TimestampToken.TryDecode(token, out var parsed, out int consumed) || parsed is null || consumed != token.Length)
        {
            error = "the timestamp is not an RFC 3161 timestamp token";
            return null;
        }
        var time = parsed.TokenInfo.Timestamp;
        var candidates = new X509Certificate2Collection();
        foreach (var a in authorities)
        {
            if (a.Leaf is { } leaf)
                candidates.Add(leaf);
        }
        X509Certificate2? signer;
        try
        {
            if (!parsed.VerifySignatureForData(signature, out signer, candidates) || signer is null)
            {
                error = "the timestamp does not cover this signature, or its own signature does not verify";
                return null;
            }
        }
        catch (CryptographicException e)
        {
            error = "the timestamp's signature does not verify: " + e.Message;
            return null;
        }
        var embedded = parsed.AsSignedCms().Certificates.Cast<X509Certificate2>().ToList();
        error = "the timestamp's signer is not a timestamp authority of the trust root";
        foreach (var a in authorities)
        {
            if (!a.ValidFor.Contains(time))
            {
                error = $"no timestamp authority of the trust root was valid at {Certificates.Iso(time)}";
                continue;
            }
            if (a.Leaf is { } leaf && !leaf.RawDataMemory.Span.SequenceEqual(signer.RawDataMemory.Span))
                continue;
            var chain = Certificates.VerifyChain(signer, embedded.Where(c => !Certificates.IsSelfSigned(c)), [a], time, Certificates.TimeStamping, out string why);
            if (chain is not null)
                return time;
            error = "the timestamp's signer: " + why;
        }
        return null;
    }

    /// <summary>The TimeStampToken of a TimeStampResp (status granted), or the bytes themselves when they are a token.</summary>
    private static byte[] TokenOf(byte[] bytes)
    {
        var outer = new AsnReader(bytes, AsnEncodingRules.BER).ReadSequence();
        // A ContentInfo starts with its content type; a TimeStampResp with its PKIStatusInfo (a SEQUENCE).
        if (outer.PeekTag() == Asn1Tag.ObjectIdentifier)
            return bytes;
        var status = outer.ReadSequence();
        if (!status.TryReadInt32(out int code) || code is not (0 or 1))
            throw new TrustFormatException("the timestamp response was not granted");
        if (!outer.HasData)
            throw new TrustFormatException("the timestamp response holds no token");
        return outer.ReadEncodedValue().ToArray();
    }
}
