using System.Text.Json;
using Ferry.Model;

namespace Ferry.Images;

/// <summary>What a cosign signature says about itself, from its manifest (no blob read) and its payload.</summary>
internal static class Signatures
{
    /// <summary>The layer annotation cosign puts a keyless signer's certificate in.</summary>
    public const string CertificateAnnotation = "dev.sigstore.cosign/certificate";

    /// <summary>Who signed: the keyless certificate's identity (e-mail or URI), else "a key".</summary>
    public static string SignedBy(ArtifactNode signature)
    {
        foreach (var layer in signature.Manifest.Layers)
        {
            if (layer.Annotations?.GetValueOrDefault(CertificateAnnotation) is not string pem)
                continue;
            try
            {
                using var cert = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(pem);
                var san = cert.Extensions["2.5.29.17"];
                return (san is null ? null : SubjectAlternativeName(san.RawData)) ?? (cert.Subject.Length > 0 ? cert.Subject : "a certificate without an identity");
            }
            catch (Exception e) when (e is System.Security.Cryptography.CryptographicException or System.Formats.Asn1.AsnContentException or ArgumentException)
            {
                return "a certificate Ferry cannot read";
            }
        }
        return "a key";
    }

    /// <summary>The first e-mail, URI or DNS name of a SubjectAltName extension (Fulcio puts the signer's identity there).</summary>
    private static string? SubjectAlternativeName(byte[] der)
    {
        var names = new System.Formats.Asn1.AsnReader(der, System.Formats.Asn1.AsnEncodingRules.DER).ReadSequence();
        while (names.HasData)
        {
            var tag = names.PeekTag();
            if (tag.TagClass == System.Formats.Asn1.TagClass.ContextSpecific && tag.TagValue is 1 or 2 or 6)
                return names.ReadCharacterString(System.Formats.Asn1.UniversalTagNumber.IA5String, tag);
            names.ReadEncodedValue();
        }
        return null;
    }

    /// <summary>The layer annotation holding a simple signing payload's signature (base64).</summary>
    public const string SignatureAnnotation = "dev.cosignproject.cosign/signature";

    /// <summary>One simple signing layer of a signature: its payload, the digest the payload names (null: none readable), and the signature bytes (null: none).</summary>
    public sealed record Payload(byte[] Bytes, string? SignedDigest, byte[]? Signature);

    /// <summary>Every simple signing layer of a signature that is in the source (payloads of at most 1 MiB), in order.</summary>
    public static async Task<IReadOnlyList<Payload>> PayloadsAsync(ArtifactNode signature, CancellationToken cancellationToken)
    {
        var result = new List<Payload>();
        foreach (var (d, src) in signature.Blobs.Skip(1))
        {
            if (d.MediaType != MediaTypes.CosignSignature || src is null || d.Size > 1 << 20)
                continue;
            byte[] payload = await src.ReadDocumentAsync(d.Digest, d.Size, $"signature payload {d.Digest}", cancellationToken).ConfigureAwait(false);
            string? signed = null;
            try
            {
                using var doc = JsonDocument.Parse(payload);
                if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("critical", out var critical)
                    && critical.ValueKind == JsonValueKind.Object && Json.OptObject(critical, "image") is JsonElement image)
                    signed = Json.OptString(image, "docker-manifest-digest");
            }
            catch (Exception e) when (e is JsonException or FerryException)
            {
            }
            byte[]? sig = null;
            if (d.Annotations?.GetValueOrDefault(SignatureAnnotation) is string b64)
            {
                try
                {
                    sig = Convert.FromBase64String(b64);
                }
                catch (FormatException)
                {
                }
            }
            result.Add(new Payload(payload, signed, sig));
        }
        return result;
    }

    /// <summary>
    /// The manifest digests a signature's payloads sign (<c>critical.image.docker-manifest-digest</c> of each simple
    /// signing layer); empty when it has none Ferry can read.
    /// </summary>
    public static async Task<IReadOnlyList<string>> SignedDigestsAsync(ArtifactNode signature, CancellationToken cancellationToken) =>
        [.. (await PayloadsAsync(signature, cancellationToken).ConfigureAwait(false)).Select(p => p.SignedDigest).OfType<string>()];
}
