using System.Numerics;

namespace Ferry.Sets;

/// <summary>
/// An npm-style version range (node-semver's grammar and meaning): comparators joined by spaces (all must hold), sets
/// joined by <c>||</c> (any may hold); <c>A - B</c> hyphen ranges; <c>1.2.x</c>, <c>1.x</c>, <c>*</c> X-ranges;
/// <c>~1.2.3</c> (patch updates) and <c>^1.2.3</c> (no change to the left-most non-zero part); partial versions in
/// comparators (<c>&gt;=1.2</c> is <c>&gt;=1.2.0</c>, <c>&lt;=1.2</c> is <c>&lt;1.3.0-0</c>). A pre-release version
/// matches only a set with a comparator on the same MAJOR.MINOR.PATCH that has a pre-release itself
/// (<c>&gt;=1.2.3-rc.1</c> admits <c>1.2.3-rc.2</c> but not <c>1.2.4-rc.1</c>), unless pre-releases are included.
/// </summary>
internal sealed class SemverRange
{
    private enum Op { Any, Lt, Le, Gt, Ge, Eq }

    private readonly record struct Comparator(Op Op, SemanticVersion? Version)
    {
        public bool Test(SemanticVersion v)
        {
            if (Op == Op.Any)
                return true;
            int c = v.CompareTo(Version);
            return Op switch
            {
                Op.Lt => c < 0,
                Op.Le => c <= 0,
                Op.Gt => c > 0,
                Op.Ge => c >= 0,
                _ => c == 0,
            };
        }
    }

    private readonly List<List<Comparator>> _sets;

    private SemverRange(string text, List<List<Comparator>> sets)
    {
        Text = text;
        _sets = sets;
    }

    /// <summary>The range as written.</summary>
    public string Text { get; }

    public override string ToString() => Text;

    /// <summary>Whether <paramref name="v"/> is in the range.</summary>
    public bool Contains(SemanticVersion v, bool includePrerelease = false) =>
        _sets.Any(set => TestSet(set, v, includePrerelease));

    private static bool TestSet(List<Comparator> set, SemanticVersion v, bool includePrerelease)
    {
        foreach (var c in set)
        {
            if (!c.Test(v))
                return false;
        }
        if (!v.IsPrerelease || includePrerelease)
            return true;
        return set.Any(c => c.Version is { IsPrerelease: true } allowed && allowed.CompareCore(v) == 0);
    }

    /// <summary>Parses a range; false with a reason when it is not one.</summary>
    public static bool TryParse(string text, out SemverRange? range, out string error)
    {
        range = null;
        error = "";
        if (text.Length > 1024)
        {
            error = "the range is too long";
            return false;
        }
        var sets = new List<List<Comparator>>();
        foreach (var part in text.Split("||"))
        {
            var set = new List<Comparator>();
            var tokens = Tokens(part);
            // A - B
            if (tokens.Count == 3 && tokens[1] == "-")
            {
                if (!Hyphen(tokens[0], tokens[2], set, out error))
                    return false;
            }
            else
            {
                if (tokens.Contains("-"))
                {
                    error = $"'{part.Trim()}': a hyphen range is 'A - B' alone";
                    return false;
                }
                foreach (var t in tokens)
                {
                    if (!Simple(t, set, out error))
                        return false;
                }
            }
            if (set.Count == 0)
                set.Add(new Comparator(Op.Any, null));
            sets.Add(set);
        }
        range = new SemverRange(text, sets);
        return true;
    }

    /// <summary>The words of one set, with an operator joined to the version after it (<c>&gt;= 1.2</c> is one word).</summary>
    private static List<string> Tokens(string part)
    {
        var words = part.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        var tokens = new List<string>();
        for (int i = 0; i < words.Length; i++)
        {
            string w = words[i];
            if (w is "<" or "<=" or ">" or ">=" or "=" or "~" or "~>" or "^" && i + 1 < words.Length)
                w += words[++i];
            tokens.Add(w);
        }
        return tokens;
    }

    /// <summary>A possibly partial version: null parts are wildcards (x, X, * or missing).</summary>
    private sealed record Partial(string? Major, string? Minor, string? Patch, string[] Pre)
    {
        public bool AnyX => Major is null || Minor is null || Patch is null;
        public SemanticVersion Full => SemanticVersion.Of(Major!, Minor!, Patch!, Pre);
    }

    private static bool TryPartial(string text, out Partial p, out string error)
    {
        p = new Partial(null, null, null, []);
        error = "";
        string s = text.TrimStart('=');
        if (s.StartsWith('v') || s.StartsWith('V'))
            s = s[1..];
        if (s.Length == 0)
            return true;
        string[] pre = [];
        int plus = s.IndexOf('+', StringComparison.Ordinal);
        if (plus >= 0)
            s = s[..plus];
        int dash = s.IndexOf('-', StringComparison.Ordinal);
        string? preText = null;
        if (dash >= 0)
        {
            preText = s[(dash + 1)..];
            s = s[..dash];
        }
        var parts = s.Split('.');
        if (parts.Length > 3)
        {
            error = $"'{text}' is not a version";
            return false;
        }
        var xs = new string?[3];
        bool wild = false;
        for (int i = 0; i < 3; i++)
        {
            string? part = i < parts.Length ? parts[i] : null;
            if (part is null or "x" or "X" or "*")
            {
                wild = true;
                continue;
            }
            if (wild || !part.All(char.IsAsciiDigit) || part.Length == 0 || part.Length > 1 && part[0] == '0')
            {
                error = $"'{text}' is not a version";
                return false;
            }
            xs[i] = part;
        }
        if (preText is not null)
        {
            if (wild || SemanticVersion.TryParse($"0.0.0-{preText}") is not { } probe)
            {
                error = $"'{text}' is not a version (a pre-release needs MAJOR.MINOR.PATCH)";
                return false;
            }
            pre = probe.Prerelease;
        }
        p = new Partial(xs[0], xs[1], xs[2], pre);
        return true;
    }

    private static string Inc(string number) => (BigInteger.Parse(number, System.Globalization.CultureInfo.InvariantCulture) + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static Comparator C(Op op, string major, string minor, string patch, params string[] pre) => new(op, SemanticVersion.Of(major, minor, patch, pre));

    private static bool Simple(string token, List<Comparator> set, out string error)
    {
        if (token.StartsWith("~>", StringComparison.Ordinal) || token.StartsWith('~'))
            return Tilde(token[(token.StartsWith("~>", StringComparison.Ordinal) ? 2 : 1)..], set, out error);
        if (token.StartsWith('^'))
            return Caret(token[1..], set, out error);
        Op op = Op.Eq;
        string rest = token;
        foreach (var (prefix, o) in new[] { (">=", Op.Ge), ("<=", Op.Le), (">", Op.Gt), ("<", Op.Lt), ("=", Op.Eq) })
        {
            if (token.StartsWith(prefix, StringComparison.Ordinal))
            {
                op = o;
                rest = token[prefix.Length..];
                break;
            }
        }
        if (!TryPartial(rest, out var p, out error))
            return false;
        if (op == Op.Eq)
        {
            // An X-range: 1.x, 1.2.x, *, or one exact version.
            if (p.Major is null)
                set.Add(new Comparator(Op.Any, null));
            else if (p.Minor is null)
            {
                set.Add(C(Op.Ge, p.Major, "0", "0"));
                set.Add(C(Op.Lt, Inc(p.Major), "0", "0", "0"));
            }
            else if (p.Patch is null)
            {
                set.Add(C(Op.Ge, p.Major, p.Minor, "0"));
                set.Add(C(Op.Lt, p.Major, Inc(p.Minor), "0", "0"));
            }
            else
                set.Add(new Comparator(Op.Eq, p.Full));
            return true;
        }
        if (!p.AnyX)
        {
            set.Add(new Comparator(op, p.Full));
            return true;
        }
        if (p.Major is null)
        {
            // >* and <* match nothing; >=* and <=* anything.
            set.Add(op is Op.Gt or Op.Lt ? C(Op.Lt, "0", "0", "0", "0") : new Comparator(Op.Any, null));
            return true;
        }
        string major = p.Major, minor = p.Minor ?? "0", patch = "0";
        switch (op)
        {
            case Op.Gt:
                // >1 is >=2.0.0; >1.2 is >=1.3.0.
                if (p.Minor is null)
                    set.Add(C(Op.Ge, Inc(major), "0", "0"));
                else
                    set.Add(C(Op.Ge, major, Inc(minor), "0"));
                break;
            case Op.Le:
                // <=1 is <2.0.0-0; <=1.2 is <1.3.0-0.
                if (p.Minor is null)
                    set.Add(C(Op.Lt, Inc(major), "0", "0", "0"));
                else
                    set.Add(C(Op.Lt, major, Inc(minor), "0", "0"));
                break;
            case Op.Lt:
                set.Add(C(Op.Lt, major, minor, patch, "0"));
                break;
            default:
                set.Add(C(Op.Ge, major, minor, patch));
                break;
        }
        return true;
    }

    private static bool Tilde(string text, List<Comparator> set, out string error)
    {
        if (!TryPartial(text, out var p, out error))
            return false;
        if (p.Major is null)
            set.Add(new Comparator(Op.Any, null));
        else if (p.Minor is null)
        {
            set.Add(C(Op.Ge, p.Major, "0", "0"));
            set.Add(C(Op.Lt, Inc(p.Major), "0", "0", "0"));
        }
        else
        {
            set.Add(p.Patch is null ? C(Op.Ge, p.Major, p.Minor, "0") : new Comparator(Op.Ge, p.Full));
            set.Add(C(Op.Lt, p.Major, Inc(p.Minor), "0", "0"));
        }
        return true;
    }

    private static bool Caret(string text, List<Comparator> set, out string error)
    {
        if (!TryPartial(text, out var p, out error))
            return false;
        if (p.Major is null)
        {
            set.Add(new Comparator(Op.Any, null));
            return true;
        }
        if (p.Minor is null)
        {
            set.Add(C(Op.Ge, p.Major, "0", "0"));
            set.Add(C(Op.Lt, Inc(p.Major), "0", "0", "0"));
            return true;
        }
        set.Add(p.Patch is null ? C(Op.Ge, p.Major, p.Minor, "0") : new Comparator(Op.Ge, p.Full));
        if (p.Major != "0")
            set.Add(C(Op.Lt, Inc(p.Major), "0", "0", "0"));
        else if (p.Patch is null || p.Minor != "0")
            set.Add(C(Op.Lt, "0", Inc(p.Minor), "0", "0"));
        else
            set.Add(C(Op.Lt, "0", "0", Inc(p.Patch), "0"));
        return true;
    }

    private static bool Hyphen(string from, string to, List<Comparator> set, out string error)
    {
        if (!TryPartial(from, out var f, out error) || !TryPartial(to, out var t, out error))
            return false;
        if (f.Major is not null)
            set.Add(f.Minor is null ? C(Op.Ge, f.Major, "0", "0") : f.Patch is null ? C(Op.Ge, f.Major, f.Minor, "0") : new Comparator(Op.Ge, f.Full));
        if (t.Major is not null)
            set.Add(t.Minor is null ? C(Op.Lt, Inc(t.Major), "0", "0", "0") : t.Patch is null ? C(Op.Lt, t.Major, Inc(t.Minor), "0", "0") : new Comparator(Op.Le, t.Full));
        return true;
    }
}
