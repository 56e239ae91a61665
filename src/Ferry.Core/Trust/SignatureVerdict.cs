using Ferry.Digests;

namespace Ferry.Trust;

/// <summary>
/// The outcome of verifying one signature (or attestation): whether it verified, why not, and what was checked — the
/// signer's identity and issuer (keyless) or key ID, the transparency log entry (index, integrated time), the verified
/// times and each step done, in order.
/// </summary>
public sealed class SignatureVerdict
{
    /// <summary>Whether every required check passed.</summary>
    public bool Verified { get; init; }

    /// <summary>Why it did not verify (one line), or null.</summary>
    public string? Reason { get; init; }

    /// <summary>How it was stored: <c>cosign signature</c>, <c>cosign attestation</c>, <c>sigstore bundle v0.3</c>.</summary>
    public required string Form { get; init; }

    /// <summary>The manifest that carried it (a <c>.sig</c>/<c>.att</c> manifest or a bundle referrer), when it came from an image source.</summary>
    public Digest? Source { get; init; }

    /// <summary>Keyless: the certificate identity that matched (else the first SAN).</summary>
    public string? Signer { get; init; }

    /// <summary>Keyless: the OIDC issuer from the certificate.</summary>
    public string? Issuer { get; init; }

    /// <summary>The key's ID (hex SHA-256 of its SubjectPublicKeyInfo): the given key, or the certificate's.</summary>
    public string? KeyId { get; init; }

    /// <summary>The transparency log index of the verified entry.</summary>
    public long? LogIndex { get; init; }

    /// <summary>The entry's integrated time (verified by its SET).</summary>
    public DateTimeOffset? IntegratedTime { get; init; }

    /// <summary>The time of a verified RFC 3161 timestamp.</summary>
    public DateTimeOffset? SignedTimestamp { get; init; }

    /// <summary>For an attestation (a DSSE in-toto statement): its predicate type.</summary>
    public string? PredicateType { get; init; }

    /// <summary>For an attestation: the predicate as JSON text (what <c>inspect --attestation</c> prints).</summary>
    public string? Predicate { get; init; }

    /// <summary>What was checked, each a short phrase (<c>certificate chain to …</c>, <c>SCT …</c>, <c>SET …</c>, <c>signature</c>).</summary>
    public IReadOnlyList<string> Checks { get; init; } = [];

    /// <inheritdoc/>
    public override string ToString() => Verified
        ? $"verified {Form}: " + (Signer is not null ? $"{Signer} (issuer {Issuer})" : $"key {KeyId}") + (LogIndex is { } i ? $", log index {i}" : "")
        : $"not verified ({Form}): {Reason}";
}

/// <summary>What a blob signature is checked against: the blob's bytes, or only its digest (<c>sha256:HEX</c>).</summary>
public sealed class BlobArtifact
{
    private BlobArtifact(byte[]? bytes, byte[] sha256)
    {
        Bytes = bytes;
        Sha256 = sha256;
    }

    internal byte[]? Bytes { get; }

    internal byte[] Sha256 { get; }

    /// <summary>The digest, <c>sha256:HEX</c>.</summary>
    public string Digest => "sha256:" + Convert.ToHexStringLower(Sha256);

    /// <summary>The blob itself (signatures over its bytes, Ed25519 included, can be checked).</summary>
    public static BlobArtifact FromBytes(byte[] bytes)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        return new BlobArtifact(bytes, System.Security.Cryptography.SHA256.HashData(bytes));
    }

    /// <summary>Only the digest (<c>sha256:</c> and 64 hex digits), as <c>verify-blob sha256:HEX</c> gives it.</summary>
    /// <exception cref="UsageException">Not a SHA-256 digest.</exception>
    public static BlobArtifact FromDigest(string digest)
    {
        ArgumentNullException.ThrowIfNull(digest);
        if (!TryParseDigest(digest, out var bytes))
            throw new UsageException($"'{Ferry.Digests.Digest.Describe(digest)}' is not a sha256:HEX digest");
        return new BlobArtifact(null, bytes);
    }

    /// <summary>Whether <paramref name="text"/> is <c>sha256:</c> followed by 64 hex digits.</summary>
    public static bool IsDigest(string text) => TryParseDigest(text, out _);

    private static readonly System.Buffers.SearchValues<char> HexDigits = System.Buffers.SearchValues.Create("0123456789abcdefABCDEF");

    private static bool TryParseDigest(string text, out byte[] bytes)
    {
        bytes = [];
        if (!text.StartsWith("sha256:", StringComparison.Ordinal) || text.Length != 71 || text.AsSpan(7).ContainsAnyExcept(HexDigits))
            return false;
        bytes = Convert.FromHexString(text.AsSpan(7));
        return true;
    }

    internal static BlobArtifact OfDigest(Digest digest) => new(null, Convert.FromHexString(digest.Hex));
}
