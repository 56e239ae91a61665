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

/// <summary>What a blob signature is checked against: the blob's bytes, or only its digest (<c>sha256:HEX</c>, or <c>sha512:HEX</c> for an in-toto subject).</summary>
public sealed class BlobArtifact
{
    private BlobArtifact(byte[]? bytes, string algorithm, byte[] value)
    {
        Bytes = bytes;
        Algorithm = algorithm;
        Value = value;
    }

    internal byte[]? Bytes { get; }

    /// <summary>The digest's algorithm, as in-toto names it: <c>sha256</c> or <c>sha512</c>.</summary>
    internal string Algorithm { get; }

    internal byte[] Value { get; }

    /// <summary>The SHA-256 of the artifact, when that is what is known.</summary>
    internal byte[]? Sha256 => Algorithm == "sha256" ? Value : null;

    /// <summary>The digest, <c>ALGORITHM:HEX</c>.</summary>
    public string Digest => Algorithm + ":" + Convert.ToHexStringLower(Value);

    /// <summary>The blob itself (signatures over its bytes, Ed25519 included, can be checked).</summary>
    public static BlobArtifact FromBytes(byte[] bytes)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        return new BlobArtifact(bytes, "sha256", System.Security.Cryptography.SHA256.HashData(bytes));
    }

    /// <summary>Only the digest: <c>sha256:</c> and 64 hex digits (or <c>sha512:</c> and 128), as <c>verify-blob sha256:HEX</c> gives it.</summary>
    /// <exception cref="UsageException">Not such a digest.</exception>
    public static BlobArtifact FromDigest(string digest)
    {
        ArgumentNullException.ThrowIfNull(digest);
        if (!TryParseDigest(digest, out string algorithm, out var bytes))
            throw new UsageException($"'{Ferry.Digests.Digest.Describe(digest)}' is not a sha256:HEX digest");
        return new BlobArtifact(null, algorithm, bytes);
    }

    /// <summary>Whether <paramref name="text"/> is <c>sha256:</c> followed by 64 hex digits (or <c>sha512:</c> and 128).</summary>
    public static bool IsDigest(string text) => TryParseDigest(text, out _, out _);

    private static readonly System.Buffers.SearchValues<char> HexDigits = System.Buffers.SearchValues.Create("0123456789abcdefABCDEF");

    private static bool TryParseDigest(string text, out string algorithm, out byte[] bytes)
    {
        bytes = [];
        algorithm = text.StartsWith("sha256:", StringComparison.Ordinal) ? "sha256" : text.StartsWith("sha512:", StringComparison.Ordinal) ? "sha512" : "";
        int hexLength = algorithm == "sha256" ? 64 : 128;
        if (algorithm.Length == 0 || text.Length != 7 + hexLength || text.AsSpan(7).ContainsAnyExcept(HexDigits))
            return false;
        bytes = Convert.FromHexString(text.AsSpan(7));
        return true;
    }

    internal static BlobArtifact OfDigest(Digest digest) => new(null, digest.Algorithm, Convert.FromHexString(digest.Hex));
}
