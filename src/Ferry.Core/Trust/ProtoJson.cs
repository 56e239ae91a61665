using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Ferry.Trust;

/// <summary>A document sigstore's protobuf JSON (bundles, trust roots) does not describe as it must.</summary>
internal sealed class TrustFormatException(string message) : Exception(message);

/// <summary>
/// Reading sigstore's proto3 JSON: camelCase fields (the proto names are accepted too), 64-bit integers as strings or
/// numbers, bytes as standard or URL-safe base64, timestamps as RFC 3339. Bounded: the caller parses with a size and
/// depth limit; every array read here has a count limit.
/// </summary>
internal static class ProtoJson
{
    public const int MaxDepth = 32;

    public static JsonDocument Parse(ReadOnlyMemory<byte> json, string what, int maxBytes)
    {
        if (json.Length > maxBytes)
            throw new TrustFormatException($"{what}: {json.Length} bytes, over the {maxBytes}-byte limit");
        if (!System.Text.Unicode.Utf8.IsValid(json.Span))
            throw new TrustFormatException($"{what}: not UTF-8");
        try
        {
            return JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = MaxDepth });
        }
        catch (JsonException e)
        {
            throw new TrustFormatException($"{what}: invalid JSON: {FirstLine(e.Message)}");
        }
    }

    private static string FirstLine(string s)
    {
        int i = s.IndexOfAny(['\r', '\n']);
        return i < 0 ? s : s[..i];
    }

    /// <summary>The member <paramref name="name"/> (or its snake_case proto name), when present and not null.</summary>
    public static JsonElement? Get(JsonElement e, string name)
    {
        if (e.ValueKind != JsonValueKind.Object)
            return null;
        if (e.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null)
            return v;
        string snake = Snake(name);
        if (snake != name && e.TryGetProperty(snake, out v) && v.ValueKind != JsonValueKind.Null)
            return v;
        return null;
    }

    private static string Snake(string camel)
    {
        var sb = new StringBuilder(camel.Length + 4);
        foreach (char c in camel)
        {
            if (char.IsAsciiLetterUpper(c))
                sb.Append('_').Append(char.ToLowerInvariant(c));
            else
                sb.Append(c);
        }
        return sb.ToString();
    }

    public static JsonElement? Object(JsonElement e, string name, string what) => Get(e, name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.Object } o => o,
        _ => throw new TrustFormatException($"{what}: {name} is not an object"),
    };

    public static JsonElement ReqObject(JsonElement e, string name, string what) =>
        Object(e, name, what) ?? throw new TrustFormatException($"{what}: {name} is missing");

    public static IReadOnlyList<JsonElement> Array(JsonElement e, string name, string what, int max)
    {
        switch (Get(e, name))
        {
            case null:
                return [];
            case { ValueKind: JsonValueKind.Array } a:
                if (a.GetArrayLength() > max)
                    throw new TrustFormatException($"{what}: {name} has {a.GetArrayLength()} entries, over the limit of {max}");
                return [.. a.EnumerateArray()];
            default:
                throw new TrustFormatException($"{what}: {name} is not an array");
        }
    }

    public static string? String(JsonElement e, string name, string what) => Get(e, name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.String } s => s.GetString(),
        _ => throw new TrustFormatException($"{what}: {name} is not a string"),
    };

    public static string ReqString(JsonElement e, string name, string what) =>
        String(e, name, what) ?? throw new TrustFormatException($"{what}: {name} is missing");

    /// <summary>A 64-bit integer, as a string (proto3 JSON) or a number; null when absent.</summary>
    public static long? Int64(JsonElement e, string name, string what)
    {
        switch (Get(e, name))
        {
            case null:
                return null;
            case { ValueKind: JsonValueKind.Number } n when n.TryGetInt64(out long v):
                return v;
            case { ValueKind: JsonValueKind.String } s when long.TryParse(s.GetString(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v):
                return v;
            default:
                throw new TrustFormatException($"{what}: {name} is not a 64-bit integer");
        }
    }

    /// <summary>Bytes: standard or URL-safe base64, padded or not; null when absent.</summary>
    public static byte[]? Bytes(JsonElement e, string name, string what)
    {
        string? s = String(e, name, what);
        if (s is null)
            return null;
        return Base64(s) ?? throw new TrustFormatException($"{what}: {name} is not base64");
    }

    public static byte[] ReqBytes(JsonElement e, string name, string what) =>
        Bytes(e, name, what) ?? throw new TrustFormatException($"{what}: {name} is missing");

    /// <summary>Standard or URL-safe base64, with or without padding; null when it is neither.</summary>
    public static byte[]? Base64(string s)
    {
        if (s.Length == 0)
            return [];
        // Go's decoder, which wrote and reads these, skips line breaks (base64(1) wraps at 76 columns).
        if (s.AsSpan().IndexOfAny('\r', '\n') >= 0)
            s = s.Replace("\r", "", StringComparison.Ordinal).Replace("\n", "", StringComparison.Ordinal);
        bool url = s.AsSpan().IndexOfAny('-', '_') >= 0;
        string t = url ? s.Replace('-', '+').Replace('_', '/') : s;
        if (t.Length % 4 != 0 && !t.EndsWith('='))
            t = t.PadRight(t.Length + (4 - t.Length % 4) % 4, '=');
        if (t.Length % 4 != 0)
            return null;
        byte[] buf = new byte[t.Length / 4 * 3];
        return Convert.TryFromBase64String(t, buf, out int n) ? buf[..n] : null;
    }

    /// <summary>An RFC 3339 timestamp (protobuf's Timestamp); null when absent.</summary>
    public static DateTimeOffset? Time(JsonElement e, string name, string what)
    {
        string? s = String(e, name, what);
        if (s is null)
            return null;
        return DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t)
            ? t
            : throw new TrustFormatException($"{what}: {name} is not an RFC 3339 time");
    }
}
