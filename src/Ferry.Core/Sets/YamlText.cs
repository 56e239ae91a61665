using System.Text;

namespace Ferry.Sets;

/// <summary>Writing YAML scalars by hand, deterministically: plain when no YAML reader could take them for anything else, else double-quoted.</summary>
internal static class YamlText
{
    private static readonly HashSet<string> Reserved = new(StringComparer.OrdinalIgnoreCase)
    {
        "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~",
    };

    /// <summary>The scalar as plain text when that reads back as the same string in YAML 1.1 and 1.2, else double-quoted.</summary>
    public static string Quote(string s) => IsPlainSafe(s) ? s : DoubleQuoted(s);

    public static string DoubleQuoted(string s)
    {
        var sb = new StringBuilder(s.Length + 2).Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (char.IsControl(c))
                        sb.Append("\\u").Append(((int)c).ToString("x4", System.Globalization.CultureInfo.InvariantCulture));
                    else
                        sb.Append(c);
                    break;
            }
        }
        return sb.Append('"').ToString();
    }

    private static bool IsPlainSafe(string s)
    {
        if (s.Length == 0 || Reserved.Contains(s) || !char.IsAsciiLetter(s[0]))
            return false;
        foreach (char c in s)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '/' or ':' or '@' or '-' or '+'))
                return false;
        }
        // "key: value" and a trailing colon read as a mapping.
        return !s.EndsWith(':');
    }
}
