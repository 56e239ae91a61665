using System.Security.Cryptography;
using Ferry.Digests;

namespace Ferry.Verify;

/// <summary>
/// A public key that cosign (and skopeo's sigstore) signatures are checked against: the <c>cosign.pub</c> of
/// <c>cosign generate-key-pair</c> (ECDSA), or an RSA key, as PEM. Checked as cosign does with a key file: the
/// signature annotation over the payload's bytes, SHA-256. The transparency log is not consulted (Ferry works offline;
/// cosign's <c>--insecure-ignore-tlog</c>).
/// </summary>
public sealed class SignatureKey : IDisposable
{
    private readonly AsymmetricAlgorithm _key;

    private SignatureKey(AsymmetricAlgorithm key, string name)
    {
        _key = key;
        Name = name;
    }

    /// <summary>The key itself (ECDSA or RSA), for Trust/'s verifiers.</summary>
    internal AsymmetricAlgorithm Algorithm => _key;

    /// <summary>How the key is named in reports (its file name, as given).</summary>
    public string Name { get; }

    /// <summary>The key's SHA-256 fingerprint (of its SubjectPublicKeyInfo), as <c>sha256:HEX</c>.</summary>
    public string Fingerprint => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(_key.ExportSubjectPublicKeyInfo()));

    /// <summary>Reads a PEM public key (<c>-----BEGIN PUBLIC KEY-----</c>, ECDSA or RSA).</summary>
    /// <exception cref="UsageException">The text holds no public key Ferry can use.</exception>
    public static SignatureKey FromPem(string pem, string name)
    {
        ArgumentNullException.ThrowIfNull(pem);
        ArgumentNullException.ThrowIfNull(name);
        if (!pem.Contains("-----BEGIN PUBLIC KEY-----", StringComparison.Ordinal))
            throw new UsageException($"{name}: not a PEM public key (want -----BEGIN PUBLIC KEY-----, as cosign generate-key-pair writes cosign.pub)");
        var ec = ECDsa.Create();
        try
        {
            ec.ImportFromPem(pem);
            return new SignatureKey(ec, name);
        }
        catch (CryptographicException)
        {
            ec.Dispose();
        }
        var rsa = RSA.Create();
        try
        {
            rsa.ImportFromPem(pem);
            return new SignatureKey(rsa, name);
        }
        catch (CryptographicException e)
        {
            rsa.Dispose();
            throw new UsageException($"{name}: not an ECDSA or RSA public key Ferry can use ({e.Message})");
        }
    }

    /// <summary>Reads a PEM public key file.</summary>
    /// <exception cref="UsageException">The file cannot be read or holds no usable public key.</exception>
    public static SignatureKey FromFile(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string text = System.Text.Encoding.UTF8.GetString(IO.LocalFiles.ReadSmall(path, 1 << 20, $"{path}: the key"));
        return FromPem(text, path);
    }

    /// <summary>Whether <paramref name="signature"/> (DER, as cosign stores it) signs <paramref name="payload"/> with this key.</summary>
    internal bool Verifies(ReadOnlySpan<byte> payload, ReadOnlySpan<byte> signature)
    {
        try
        {
            return _key switch
            {
                ECDsa ec => ec.VerifyData(payload, signature, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence),
                RSA rsa => rsa.VerifyData(payload, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1),
                _ => false,
            };
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    /// <inheritdoc/>
    public void Dispose() => _key.Dispose();
}

/// <summary>What <see cref="ImageValidator"/> checks beyond digests.</summary>
public sealed class VerifyOptions
{
    /// <summary>
    /// Keys every image must be signed with: with any, each image (its index or manifest; for an index without
    /// signatures of its own, every present platform's manifest) needs a cosign signature that one of them verifies,
    /// whose payload names that digest; else an error.
    /// </summary>
    public IReadOnlyList<SignatureKey> Keys { get; init; } = [];

    /// <summary>Receives progress of the layer checks (items named as a copy names them: <c>HEX12 layer (gzip)</c>).</summary>
    public Progress.ICopyProgress? Progress { get; init; }
}

/// <summary>A signature that verified: the image, the digest it signs, the signature manifest, and the key.</summary>
/// <param name="Image">The image, as <c>inspect</c> names it.</param>
/// <param name="Subject">The manifest or index digest it signs.</param>
/// <param name="Signature">The signature manifest's digest.</param>
/// <param name="Key">The key's name (file name).</param>
public sealed record VerifiedSignature(string Image, Digest Subject, Digest Signature, string Key);
