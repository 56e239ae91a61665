using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using Ferry.Digests;

namespace Ferry.Caching;

/// <summary>
/// A SHA-256 hash as four machine words: a digest without its strings, so that a full cache (100,000 pairs) takes about
/// 10 MB of memory rather than 40. Ordered as its hex form is.
/// </summary>
internal readonly record struct Sha256Hash(ulong A, ulong B, ulong C, ulong D) : IComparable<Sha256Hash>
{
    /// <summary>The hash of a <c>sha256:</c> digest; false for any other algorithm.</summary>
    public static bool TryFrom(Digest digest, out Sha256Hash hash)
    {
        hash = default;
        if (digest.Algorithm != "sha256" || digest.Hex is null)
            return false;
        Span<byte> ascii = stackalloc byte[64];
        for (int i = 0; i < 64; i++)
            ascii[i] = (byte)digest.Hex[i];
        return TryParseHex(ascii, out hash);
    }

    /// <summary>Parses exactly 64 lowercase hex digits (ASCII), as a canonical digest has them.</summary>
    public static bool TryParseHex(ReadOnlySpan<byte> hex, out Sha256Hash hash)
    {
        hash = default;
        if (hex.Length != 64)
            return false;
        Span<ulong> words = stackalloc ulong[4];
        for (int w = 0; w < 4; w++)
        {
            ulong v = 0;
            for (int i = 0; i < 16; i++)
            {
                int c = hex[(w * 16) + i];
                int nibble = c is >= '0' and <= '9' ? c - '0' : c is >= 'a' and <= 'f' ? c - 'a' + 10 : -1;
                if (nibble < 0)
                    return false;
                v = (v << 4) | (uint)nibble;
            }
            words[w] = v;
        }
        hash = new Sha256Hash(words[0], words[1], words[2], words[3]);
        return true;
    }

    /// <summary>Writes the 64 lowercase hex digits (ASCII) into <paramref name="destination"/>.</summary>
    public void WriteHex(Span<byte> destination)
    {
        Span<byte> raw = stackalloc byte[32];
        BinaryPrimitives.WriteUInt64BigEndian(raw, A);
        BinaryPrimitives.WriteUInt64BigEndian(raw[8..], B);
        BinaryPrimitives.WriteUInt64BigEndian(raw[16..], C);
        BinaryPrimitives.WriteUInt64BigEndian(raw[24..], D);
        for (int i = 0; i < 32; i++)
        {
            destination[2 * i] = Nibble(raw[i] >> 4);
            destination[(2 * i) + 1] = Nibble(raw[i] & 0xF);
        }
    }

    private static byte Nibble(int v) => (byte)(v < 10 ? '0' + v : 'a' + v - 10);

    /// <summary>The digest, <c>sha256:</c> + hex.</summary>
    public Digest ToDigest()
    {
        Span<byte> hex = stackalloc byte[64];
        WriteHex(hex);
        return Digest.Parse("sha256:" + System.Text.Encoding.ASCII.GetString(hex));
    }

    public int CompareTo(Sha256Hash other)
    {
        int c = A.CompareTo(other.A);
        if (c == 0)
            c = B.CompareTo(other.B);
        if (c == 0)
            c = C.CompareTo(other.C);
        return c != 0 ? c : D.CompareTo(other.D);
    }
}

/// <summary>What a pair is found by: the compressed layer's digest and its media type (interned).</summary>
internal readonly record struct CacheKey(Sha256Hash Compressed, string MediaType) : IComparable<CacheKey>
{
    public int CompareTo(CacheKey other)
    {
        int c = Compressed.CompareTo(other.Compressed);
        return c != 0 ? c : string.CompareOrdinal(MediaType, other.MediaType);
    }
}

/// <summary>What a pair says: the diff_id, and when the pair was last recorded or used (Unix seconds).</summary>
internal readonly record struct CacheEntry(Sha256Hash DiffId, long Stamp);

/// <summary>What reading a cache file gave: its good pairs, and whether it needs rewriting (bad lines, cut, too long).</summary>
internal sealed record CacheContents(Dictionary<CacheKey, CacheEntry> Entries, int DroppedLines, bool NeedsRepair);

/// <summary>
/// The cache file's text, format 1 (file <c>verified-layers-v1</c>): ASCII, one pair a line, sorted by compressed
/// digest then media type, each line <c>COMPRESSED DIFF_ID MEDIA_TYPE LAST_USED CHECK</c>, separated by single
/// spaces and ended by <c>\n</c>:
/// <list type="bullet">
/// <item><c>COMPRESSED</c>, <c>DIFF_ID</c>: <c>sha256:</c> + 64 lowercase hex digits (only SHA-256 pairs are kept);</item>
/// <item><c>MEDIA_TYPE</c>: the layer descriptor's media type, 3 to 127 characters of <c>A-Z a-z 0-9 ! # $ &amp; ^ _ . + - /</c>
/// (no parameters, no spaces);</item>
/// <item><c>LAST_USED</c>: Unix seconds (UTC) when the pair was last recorded or vouched for a layer, 1 to 12 digits;</item>
/// <item><c>CHECK</c>: the first 8 lowercase hex digits of the SHA-256 of the line's text before the space that precedes it.</item>
/// </list>
/// Lines that start with <c>#</c> are comments (the file starts with one that says this; others are not kept when the
/// file is rewritten). Any other line that does not match exactly is dropped when read — a cut, bit-flipped or edited
/// line is ignored, never trusted — as are both lines of a compressed digest and media type given two different
/// diff_ids. The check only catches damage: anyone who can write the file can write a well-formed line (see
/// <see cref="VerifiedLayerCache"/> for what guards against that).
/// </summary>
internal static class CacheFormat
{
    public const string Header = "# ferry verified-layer cache, format 1. One pair a line: COMPRESSED-DIGEST DIFF_ID MEDIA-TYPE LAST-USED(unix seconds) CHECK(first 8 hex digits of the SHA-256 of the text before it)\n";

    /// <summary>The longest line read (two digests, the longest media type, the stamp and check: 294 bytes).</summary>
    public const int MaxLineBytes = 300;

    public const int MaxMediaTypeLength = 127;

    /// <summary>The largest stamp a line holds (12 digits).</summary>
    public const long MaxStamp = 999_999_999_999;

    private const int DigestField = 71; // "sha256:" + 64

    /// <summary>Whether <paramref name="mediaType"/> can be a key (what the file format allows).</summary>
    public static bool IsValidMediaType(string? mediaType)
    {
        if (mediaType is null || mediaType.Length is < 3 or > MaxMediaTypeLength)
            return false;
        int slashes = 0;
        foreach (char c in mediaType)
        {
            if (c == '/')
                slashes++;
            else if (!IsMediaTypeChar(c))
                return false;
        }
        return slashes == 1 && mediaType[0] != '/' && mediaType[^1] != '/';
    }

    private static bool IsMediaTypeChar(int c) =>
        c is >= 'a' and <= 'z' or >= 'A' and <= 'Z' or >= '0' and <= '9' or '!' or '#' or '$' or '&' or '^' or '_' or '.' or '+' or '-';

    /// <summary>
    /// Reads a cache file's bytes (maybe cut short by the read limit: <paramref name="cut"/>). Never throws: what does not
    /// parse is counted in <see cref="CacheContents.DroppedLines"/>.
    /// </summary>
    public static CacheContents Parse(ReadOnlySpan<byte> bytes, bool cut, Func<ReadOnlySpan<char>, string> intern)
    {
        var entries = new Dictionary<CacheKey, CacheEntry>();
        HashSet<CacheKey>? conflicts = null;
        int dropped = 0;
        bool repair = cut;
        while (!bytes.IsEmpty)
        {
            int nl = bytes.IndexOf((byte)'\n');
            ReadOnlySpan<byte> line;
            if (nl < 0)
            {
                // The last line has no end: cut short (or written by someone else). It counts only if it checks out.
                line = bytes;
                bytes = default;
                repair = true;
            }
            else
            {
                line = bytes[..nl];
                bytes = bytes[(nl + 1)..];
            }
            if (!line.IsEmpty && line[0] == '#')
                continue;
            if (!TryParseLine(line, intern, out var key, out var entry))
            {
                dropped++;
                continue;
            }
            if (conflicts is not null && conflicts.Contains(key))
            {
                dropped++;
                continue;
            }
            if (entries.TryGetValue(key, out var known))
            {
                if (known.DiffId != entry.DiffId)
                {
                    // Two answers for one layer: neither is trusted.
                    entries.Remove(key);
                    (conflicts ??= []).Add(key);
                    dropped += 2;
                    continue;
                }
                entry = entry with { Stamp = Math.Max(entry.Stamp, known.Stamp) };
                repair = true;
            }
            entries[key] = entry;
        }
        return new CacheContents(entries, dropped, repair || dropped > 0);
    }

    private static bool TryParseLine(ReadOnlySpan<byte> line, Func<ReadOnlySpan<char>, string> intern, out CacheKey key, out CacheEntry entry)
    {
        key = default;
        entry = default;
        if (line.Length > MaxLineBytes)
            return false;
        int checkAt = line.LastIndexOf((byte)' ');
        if (checkAt < 0 || line.Length - checkAt - 1 != 8 || !CheckMatches(line[..checkAt], line[(checkAt + 1)..]))
            return false;
        var rest = line[..checkAt];
        if (!TryDigest(ref rest, out var compressed) || !TryDigest(ref rest, out var diffId))
            return false;
        int space = rest.IndexOf((byte)' ');
        if (space < 0)
            return false;
        var mediaType = rest[..space];
        var stamp = rest[(space + 1)..];
        if (mediaType.Length is < 3 or > MaxMediaTypeLength || stamp.Length is < 1 or > 12 || (stamp[0] == '0' && stamp.Length > 1))
            return false;
        long seconds = 0;
        foreach (byte b in stamp)
        {
            if (b is < (byte)'0' or > (byte)'9')
                return false;
            seconds = (seconds * 10) + (b - '0');
        }
        Span<char> chars = stackalloc char[mediaType.Length];
        for (int i = 0; i < mediaType.Length; i++)
            chars[i] = (char)mediaType[i];
        if (!IsValidMediaTypeSpan(chars))
            return false;
        key = new CacheKey(compressed, intern(chars));
        entry = new CacheEntry(diffId, seconds);
        return true;
    }

    private static bool IsValidMediaTypeSpan(ReadOnlySpan<char> chars)
    {
        int slash = chars.IndexOf('/');
        if (slash <= 0 || slash == chars.Length - 1 || chars[(slash + 1)..].Contains('/'))
            return false;
        foreach (char c in chars)
        {
            if (c != '/' && !IsMediaTypeChar(c))
                return false;
        }
        return true;
    }

    private static bool TryDigest(ref ReadOnlySpan<byte> rest, out Sha256Hash hash)
    {
        hash = default;
        if (rest.Length <= DigestField || rest[DigestField] != ' ' || !rest.StartsWith("sha256:"u8))
            return false;
        if (!Sha256Hash.TryParseHex(rest[7..DigestField], out hash))
            return false;
        rest = rest[(DigestField + 1)..];
        return true;
    }

    private static bool CheckMatches(ReadOnlySpan<byte> text, ReadOnlySpan<byte> check)
    {
        Span<byte> want = stackalloc byte[8];
        WriteCheck(text, want);
        return check.SequenceEqual(want);
    }

    private static void WriteCheck(ReadOnlySpan<byte> text, Span<byte> destination)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(text, hash);
        for (int i = 0; i < 4; i++)
        {
            destination[2 * i] = (byte)"0123456789abcdef"[hash[i] >> 4];
            destination[(2 * i) + 1] = (byte)"0123456789abcdef"[hash[i] & 0xF];
        }
    }

    /// <summary>The file's bytes for <paramref name="entries"/>: the header, then one line a pair in key order (deterministic).</summary>
    public static byte[] Write(IEnumerable<KeyValuePair<CacheKey, CacheEntry>> entries)
    {
        var sorted = entries.OrderBy(kv => kv.Key).ToList();
        using var output = new MemoryStream((Header.Length + (sorted.Count * 220)));
        output.Write(System.Text.Encoding.ASCII.GetBytes(Header));
        Span<byte> line = stackalloc byte[MaxLineBytes + 1];
        foreach (var (key, entry) in sorted)
            output.Write(line[..FormatLine(key, entry, line)]);
        return output.ToArray();
    }

    /// <summary>Writes one line (with its <c>\n</c>) into <paramref name="line"/>; returns its length.</summary>
    public static int FormatLine(CacheKey key, CacheEntry entry, Span<byte> line)
    {
        int n = 0;
        n += WriteDigest(key.Compressed, line[n..]);
        line[n++] = (byte)' ';
        n += WriteDigest(entry.DiffId, line[n..]);
        line[n++] = (byte)' ';
        foreach (char c in key.MediaType)
            line[n++] = (byte)c;
        line[n++] = (byte)' ';
        if (!Math.Clamp(entry.Stamp, 0, MaxStamp).TryFormat(line[n..], out int written, default, CultureInfo.InvariantCulture))
            throw new InvalidOperationException("stamp does not fit");
        n += written;
        WriteCheck(line[..n], line[(n + 1)..]);
        line[n] = (byte)' ';
        n += 9;
        line[n++] = (byte)'\n';
        return n;
    }

    private static int WriteDigest(Sha256Hash hash, Span<byte> destination)
    {
        "sha256:"u8.CopyTo(destination);
        hash.WriteHex(destination[7..]);
        return DigestField;
    }
}
