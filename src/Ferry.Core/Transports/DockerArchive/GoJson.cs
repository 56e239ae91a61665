using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Ferry.Transports.DockerArchive;

/// <summary>
/// Byte-exact emulation of the parts of Go's <c>encoding/json</c> that docker's legacy loader uses to synthesise an image
/// config: string escaping (HTML-safe), compaction of raw values, and RFC 3339 time re-formatting. The image ID is the
/// SHA-256 of those bytes, so they must match what docker writes.
/// </summary>
internal static class GoJson
{
    /// <summary>Appends a JSON string the way Go's encoder does with HTML escaping on.</summary>
    public static void String(StringBuilder sb, string s)
    {
        sb.Append('"');
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '<' or '>' or '&' or '\u2028' or '\u2029':
                    sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    break;
                default:
                    if (c < 0x20)
                        sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else if (char.IsSurrogate(c) && !(char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])))
                        sb.Append("\\ufffd");
                    else
                    {
                        sb.Append(c);
                        if (char.IsHighSurrogate(c))
                            sb.Append(s[++i]);
                    }
                    break;
            }
        }
        sb.Append('"');
    }

    /// <summary>Appends a raw JSON value compacted as Go's <c>json.Compact</c> with HTML escaping does.</summary>
    public static void Compact(StringBuilder sb, string raw)
    {
        bool inString = false;
        for (int i = 0; i < raw.Length; i++)
        {
            char c = raw[i];
            if (inString)
            {
                if (c == '\\' && i + 1 < raw.Length)
                {
                    sb.Append(c).Append(raw[++i]);
                    continue;
                }
                if (c == '"')
                    inString = false;
                if (c is '<' or '>' or '&' or '\u2028' or '\u2029')
                    sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                else
                    sb.Append(c);
                continue;
            }
            if (c is ' ' or '\t' or '\n' or '\r')
                continue;
            if (c == '"')
                inString = true;
            sb.Append(c);
        }
    }

    /// <summary>
    /// Re-formats an RFC 3339 time as Go's <c>time.Time</c> marshals it (RFC3339Nano: trailing fractional zeros dropped,
    /// a zero offset written as <c>Z</c>). Returns null when Go would fail to parse it.
    /// </summary>
    public static string? Time(string? text)
    {
        if (text is null)
            return null;
        var m = System.Text.RegularExpressions.Regex.Match(text,
            @"^(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$", System.Text.RegularExpressions.RegexOptions.CultureInvariant);
        if (!m.Success)
            return null;
        string frac = m.Groups[3].Success ? m.Groups[3].Value[1..] : "";
        if (frac.Length > 9)
            frac = frac[..9];
        frac = frac.TrimEnd('0');
        string zone = m.Groups[4].Value;
        if (zone is "Z" or "z" or "+00:00" or "-00:00")
            zone = "Z";
        return m.Groups[1].Value + "T" + m.Groups[2].Value + (frac.Length > 0 ? "." + frac : "") + zone;
    }

    public const string ZeroTime = "0001-01-01T00:00:00Z";

    /// <summary>The last property whose name matches case-insensitively (Go's decoding rule), or null.</summary>
    public static JsonElement? Field(JsonElement obj, string name)
    {
        if (obj.ValueKind != JsonValueKind.Object)
            return null;
        JsonElement? exact = null, folded = null;
        foreach (var p in obj.EnumerateObject())
        {
            if (p.Name == name)
                exact = p.Value;
            else if (string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase))
                folded = p.Value;
        }
        return exact ?? folded;
    }

    public static string Str(JsonElement obj, string name) =>
        Field(obj, name) is { ValueKind: JsonValueKind.String } v ? v.GetString()! : "";
}
