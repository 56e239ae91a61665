using System.Security.Cryptography;

namespace Ferry.Digests;

/// <summary>
/// A content digest, <c>sha256:</c> + 64 lowercase hex digits or <c>sha512:</c> + 128.
/// Parsing is strict, so a <see cref="Digest"/> that exists is always safe to turn into a file name.
/// </summary>
public readonly record struct Digest
{
    private Digest(string algorithm, string hex)
    {
        Algorithm = algorithm;
        Hex = hex;
    }

    /// <summary><c>sha256</c> or <c>sha512</c>.</summary>
    public string Algorithm { get; }

    /// <summary>The lowercase hex encoding of the hash.</summary>
    public string Hex { get; }

    /// <summary>The first 12 hex characters: docker's short form of an image ID (<c>9e34b1f9a3c2</c>).</summary>
    public string Short => Hex[..12];

    /// <inheritdoc/>
    public override string ToString() => Algorithm + ":" + Hex;

    /// <summary>Parses a digest; returns false for anything that is not exactly a supported, canonical digest.</summary>
    public static bool TryParse(string? text, out Digest digest)
    {
        digest = default;
        if (text is null)
            return false;
        int colon = text.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0)
            return false;
        string algorithm = text[..colon];
        string hex = text[(colon + 1)..];
        int expected = algorithm switch { "sha256" => 64, "sha512" => 128, _ => -1 };
        if (expected < 0 || hex.Length != expected || !IsLowerHex(hex))
            return false;
        digest = new Digest(algorithm, hex);
        return true;
    }

    /// <summary>Parses a digest.</summary>
    /// <exception cref="FormatException">The text is not a canonical sha256 or sha512 digest.</exception>
    public static Digest Parse(string text) =>
        TryParse(text, out var d) ? d : throw new FormatException($"invalid digest '{Describe(text)}' (want sha256:<64 lowercase hex> or sha512:<128 lowercase hex>)");

    /// <summary>A digest from the hex form of a SHA-256 hash, e.g. a file name in <c>blobs/sha256/</c>.</summary>
    public static bool TryFromSha256Hex(string hex, out Digest digest) => TryParse("sha256:" + hex, out digest);

    /// <summary>The SHA-256 digest of <paramref name="data"/>.</summary>
    public static Digest Sha256Of(ReadOnlySpan<byte> data) => new("sha256", Convert.ToHexStringLower(SHA256.HashData(data)));

    /// <summary>The SHA-256 digest of an empty byte string (the diff_id of an empty layer file).</summary>
    public static Digest EmptySha256 { get; } = Sha256Of([]);

    /// <summary>Creates an incremental hash for this digest's algorithm.</summary>
    public IncrementalHash CreateHash() => CreateHash(Algorithm);

    internal static IncrementalHash CreateHash(string algorithm) => algorithm switch
    {
        "sha512" => IncrementalHash.CreateHash(HashAlgorithmName.SHA512),
        _ => IncrementalHash.CreateHash(HashAlgorithmName.SHA256),
    };

    internal static Digest FromHash(string algorithm, byte[] hash) => new(algorithm, Convert.ToHexStringLower(hash));

    private static bool IsLowerHex(string s)
    {
        foreach (char c in s)
        {
            if (!(c is >= '0' and <= '9' or >= 'a' and <= 'f'))
                return false;
        }
        return true;
    }

    /// <summary>Quotes untrusted text for an error message: control characters escaped, long text cut.</summary>
    internal static string Describe(string? text)
    {
        if (text is null)
            return "(null)";
        var sb = new System.Text.StringBuilder();
        foreach (char c in text.Length > 200 ? text[..200] : text)
        {
            if (char.IsControl(c))
                sb.Append("\\u").Append(((int)c).ToString("x4", System.Globalization.CultureInfo.InvariantCulture));
            else
                sb.Append(c);
        }
        if (text.Length > 200)
            sb.Append('…');
        return sb.ToString();
    }
}
