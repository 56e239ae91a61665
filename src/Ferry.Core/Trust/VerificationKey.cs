using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Ferry.Verify;

namespace Ferry.Trust;

/// <summary>
/// A public key signatures are checked with: a signer's key (<c>cosign.pub</c>, a key of a policy), a leaf
/// certificate's key, or a log's, CT log's or timestamp authority's key of a trust root. ECDSA (P-256, P-384, P-521),
/// RSA (PKCS#1 v1.5 and PSS) and Ed25519 (through BouncyCastle, which .NET lacks). Offline: nothing here opens a socket.
/// </summary>
public sealed class VerificationKey : IDisposable
{
    private const string EcOid = "1.2.840.10045.2.1";
    private const string RsaOid = "1.2.840.113549.1.1.1";
    private const string Ed25519Oid = "1.3.101.112";

    private readonly ECDsa? _ec;
    private readonly RSA? _rsa;
    private readonly byte[]? _ed25519;

    private VerificationKey(byte[] spki, string name, ECDsa? ec, RSA? rsa, byte[]? ed25519)
    {
        SubjectPublicKeyInfo = spki;
        Name = name;
        _ec = ec;
        _rsa = rsa;
        _ed25519 = ed25519;
        KeyId = Convert.ToHexStringLower(SHA256.HashData(spki));
    }

    /// <summary>How the key is named in reports: its file name, or where it came from.</summary>
    public string Name { get; }

    /// <summary>The key ID sigstore uses: the lower-case hex SHA-256 of the DER SubjectPublicKeyInfo.</summary>
    public string KeyId { get; }

    /// <summary>The algorithm: <c>ecdsa-p256</c>, <c>ecdsa-p384</c>, <c>ecdsa-p521</c>, <c>rsa-BITS</c> or <c>ed25519</c>.</summary>
    public string Algorithm => _ec is not null ? "ecdsa-p" + (_ec.KeySize == 521 ? "521" : _ec.KeySize.ToString(System.Globalization.CultureInfo.InvariantCulture))
        : _rsa is not null ? "rsa-" + _rsa.KeySize.ToString(System.Globalization.CultureInfo.InvariantCulture) : "ed25519";

    internal byte[] SubjectPublicKeyInfo { get; }

    internal bool IsEd25519 => _ed25519 is not null;

    internal bool IsEcdsa => _ec is not null;

    /// <summary>The hash a signature with this key is made over by default (sigstore's PublicKeyDetails).</summary>
    internal HashAlgorithmName DefaultHash => _ec?.KeySize switch
    {
        384 => HashAlgorithmName.SHA384,
        521 => HashAlgorithmName.SHA512,
        _ => HashAlgorithmName.SHA256,
    };

    /// <summary>Reads a PEM public key (<c>-----BEGIN PUBLIC KEY-----</c>): ECDSA and RSA as <c>ferry verify --key</c> reads them, or Ed25519.</summary>
    /// <exception cref="UsageException">The text holds no public key Ferry can use.</exception>
    public static VerificationKey FromPem(string pem, string name)
    {
        ArgumentNullException.ThrowIfNull(pem);
        ArgumentNullException.ThrowIfNull(name);
        // Ed25519 is the one kind SignatureKey does not read: find it by its algorithm, the rest goes there.
        if (PemEncoding.TryFind(pem, out var fields) && pem.AsSpan()[fields.Label].SequenceEqual("PUBLIC KEY"))
        {
            byte[] der = new byte[fields.DecodedDataLength];
            if (Convert.TryFromBase64Chars(pem.AsSpan()[fields.Base64Data], der, out int n) && AlgorithmOf(der.AsSpan(0, n)) == Ed25519Oid)
                return FromSubjectPublicKeyInfo(der[..n], name);
        }
        SignatureKey key;
        try
        {
            key = SignatureKey.FromPem(pem, name);
        }
        catch (ArgumentException e)
        {
            throw new UsageException($"{name}: not a PEM public key Ferry can read ({e.Message.Split('(')[0].Trim()})");
        }
        using (key)
            return FromSubjectPublicKeyInfo(key.Algorithm.ExportSubjectPublicKeyInfo(), name);
    }

    /// <summary>Reads a PEM public key file.</summary>
    /// <exception cref="UsageException">The file cannot be read or holds no usable public key.</exception>
    public static VerificationKey FromFile(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return FromPem(TrustFiles.ReadText(path, "public key", 1 << 20), path);
    }

    /// <summary>The key of an existing <see cref="SignatureKey"/> (what <c>ferry verify --key</c> reads).</summary>
    public static VerificationKey FromSignatureKey(SignatureKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return FromSubjectPublicKeyInfo(key.Algorithm.ExportSubjectPublicKeyInfo(), key.Name);
    }

    /// <summary>A DER SubjectPublicKeyInfo.</summary>
    /// <exception cref="UsageException">Not a key of a kind Ferry verifies with.</exception>
    internal static VerificationKey FromSubjectPublicKeyInfo(byte[] spki, string name)
    {
        string? oid;
        try
        {
            oid = AlgorithmOf(spki);
        }
        catch (AsnContentException)
        {
            oid = null;
        }
        try
        {
            switch (oid)
            {
                case EcOid:
                {
                    var ec = ECDsa.Create();
                    try
                    {
                        ec.ImportSubjectPublicKeyInfo(spki, out int read);
                        if (read != spki.Length)
                            throw new CryptographicException("trailing bytes");
                        return new VerificationKey(spki, name, ec, null, null);
                    }
                    catch
                    {
                        ec.Dispose();
                        throw;
                    }
                }
                case RsaOid:
                {
                    var rsa = RSA.Create();
                    try
                    {
                        rsa.ImportSubjectPublicKeyInfo(spki, out int read);
                        if (read != spki.Length || rsa.KeySize < 2048 || rsa.KeySize > 8192)
                            throw new CryptographicException("unsupported RSA key");
                        return new VerificationKey(spki, name, null, rsa, null);
                    }
                    catch
                    {
                        rsa.Dispose();
                        throw;
                    }
                }
                case Ed25519Oid:
                {
                    var reader = new AsnReader(spki, AsnEncodingRules.DER).ReadSequence();
                    reader.ReadSequence();
                    byte[] raw = reader.ReadBitString(out int unused);
                    if (unused != 0 || raw.Length != 32 || reader.HasData)
                        throw new CryptographicException("not a 32-byte Ed25519 key");
                    return new VerificationKey(spki, name, null, null, raw);
                }
            }
        }
        catch (Exception e) when (e is CryptographicException or AsnContentException)
        {
            throw new UsageException($"{name}: not a public key Ferry can use ({e.Message})");
        }
        throw new UsageException($"{name}: not an ECDSA, RSA or Ed25519 public key");
    }

    /// <summary>The key of a certificate.</summary>
    internal static VerificationKey FromCertificate(X509Certificate2 certificate, string name) =>
        FromSubjectPublicKeyInfo(certificate.PublicKey.ExportSubjectPublicKeyInfo(), name);

    private static string AlgorithmOf(ReadOnlySpan<byte> spki)
    {
        var seq = new AsnReader(spki.ToArray(), AsnEncodingRules.DER).ReadSequence();
        return seq.ReadSequence().ReadObjectIdentifier();
    }

    /// <summary>
    /// Whether <paramref name="signature"/> signs <paramref name="data"/>: ECDSA (DER) over the key's default hash or
    /// SHA-256 (sigstore's compatibility for P-384/P-521 leaves), RSA PKCS#1 v1.5 or PSS with SHA-256 (or the default),
    /// Ed25519 over the bytes themselves (or, with <paramref name="allowPrehash"/>, Ed25519ph).
    /// </summary>
    internal bool Verifies(ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature, bool allowPrehash = false)
    {
        try
        {
            if (_ec is not null)
                return _ec.VerifyData(data, signature, DefaultHash, DSASignatureFormat.Rfc3279DerSequence)
                       || (DefaultHash != HashAlgorithmName.SHA256 && _ec.VerifyData(data, signature, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence));
            if (_rsa is not null)
                return _rsa.VerifyData(data, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
                       || _rsa.VerifyData(data, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pss);
            if (_ed25519 is not null && signature.Length == 64)
            {
                byte[] sig = signature.ToArray();
                if (Org.BouncyCastle.Math.EC.Rfc8032.Ed25519.Verify(sig, 0, _ed25519, 0, data.ToArray(), 0, data.Length))
                    return true;
                return allowPrehash && Org.BouncyCastle.Math.EC.Rfc8032.Ed25519.VerifyPrehash(sig, 0, _ed25519, 0, [], SHA512.HashData(data), 0);
            }
            return false;
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    /// <summary>
    /// Whether <paramref name="signature"/> signs a message whose digest is <paramref name="digest"/> (of
    /// <paramref name="hash"/>): ECDSA and RSA as <see cref="Verifies"/>; Ed25519ph for a SHA-512 digest; pure Ed25519 cannot.
    /// </summary>
    internal bool VerifiesDigest(ReadOnlySpan<byte> digest, HashAlgorithmName hash, ReadOnlySpan<byte> signature)
    {
        try
        {
            if (_ec is not null)
                return _ec.VerifyHash(digest, signature, DSASignatureFormat.Rfc3279DerSequence);
            if (_rsa is not null)
                return _rsa.VerifyHash(digest, signature, hash, RSASignaturePadding.Pkcs1) || _rsa.VerifyHash(digest, signature, hash, RSASignaturePadding.Pss);
            if (_ed25519 is not null && hash == HashAlgorithmName.SHA512 && digest.Length == 64 && signature.Length == 64)
                return Org.BouncyCastle.Math.EC.Rfc8032.Ed25519.VerifyPrehash(signature.ToArray(), 0, _ed25519, 0, [], digest.ToArray(), 0);
            return false;
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _ec?.Dispose();
        _rsa?.Dispose();
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Name} ({Algorithm}, sha256:{KeyId})";
}

/// <summary>Reading the small files trust needs (keys, trust roots, policies, bundles), each within a limit.</summary>
internal static class TrustFiles
{
    public static byte[] ReadBytes(string path, string what, long limit)
    {
        try
        {
            var info = new FileInfo(path);
            if (info.Exists && info.Length > limit)
                throw new UsageException($"{path}: too large for a {what} ({info.Length} bytes; at most {limit})");
            using var s = File.OpenRead(path);
            using var ms = new MemoryStream();
            byte[] buf = new byte[81920];
            int n;
            while ((n = s.Read(buf, 0, buf.Length)) > 0)
            {
                if (ms.Length + n > limit)
                    throw new UsageException($"{path}: too large for a {what} (at most {limit} bytes)");
                ms.Write(buf, 0, n);
            }
            return ms.ToArray();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"{path}: cannot read the {what}: {e.Message}");
        }
    }

    public static string ReadText(string path, string what, long limit) => System.Text.Encoding.UTF8.GetString(ReadBytes(path, what, limit));
}
