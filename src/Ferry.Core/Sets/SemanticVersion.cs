namespace Ferry.Sets;

/// <summary>
/// A SemVer 2.0 version read from a tag: <c>[v]MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]</c>, with no leading zeros in
/// numeric parts. Docker tags cannot hold <c>+</c>, so <c>_</c> (what Helm writes for it) also starts the build part.
/// Numbers of any length compare correctly (they are kept as digit strings).
/// </summary>
internal sealed class SemanticVersion : IComparable<SemanticVersion>
{
    private SemanticVersion(string major, string minor, string patch, string[] prerelease, string? build)
    {
        Major = major;
        Minor = minor;
        Patch = patch;
        Prerelease = prerelease;
        Build = build;
    }

    public string Major { get; }
    public string Minor { get; }
    public string Patch { get; }
    /// <summary>The dot-separated pre-release identifiers (empty for a release).</summary>
    public string[] Prerelease { get; }
    public string? Build { get; }
    public bool IsPrerelease => Prerelease.Length > 0;

    public static SemanticVersion Of(string major, string minor, string patch, params string[] prerelease) => new(major, minor, patch, prerelease, null);

    /// <summary>Parses a tag as a version; null when it is not one.</summary>
    public static SemanticVersion? TryParse(string text)
    {
        if (text.Length is 0 or > 256)
            return null;
        string s = text[0] is 'v' or 'V' ? text[1..] : text;
        string? build = null;
        int plus = s.IndexOfAny(['+', '_']);
        if (plus >= 0)
        {
            build = s[(plus + 1)..];
            s = s[..plus];
            if (!Identifiers(build, numericRule: false, out _))
                return null;
        }
        string[] pre = [];
        int dash = s.IndexOf('-', StringComparison.Ordinal);
        if (dash >= 0)
        {
            if (!Identifiers(s[(dash + 1)..], numericRule: true, out pre))
                return null;
            s = s[..dash];
        }
        var core = s.Split('.');
        if (core.Length != 3 || !core.All(IsNumber))
            return null;
        return new SemanticVersion(core[0], core[1], core[2], pre, build);
    }

    /// <summary>A numeric identifier: digits, no leading zero (but "0").</summary>
    internal static bool IsNumber(string s) => s.Length > 0 && s.All(char.IsAsciiDigit) && (s.Length == 1 || s[0] != '0');

    private static bool Identifiers(string text, bool numericRule, out string[] parts)
    {
        parts = text.Split('.');
        foreach (var p in parts)
        {
            if (p.Length == 0 || !p.All(c => char.IsAsciiLetterOrDigit(c) || c == '-'))
                return false;
            if (numericRule && p.All(char.IsAsciiDigit) && !IsNumber(p))
                return false;
        }
        return true;
    }

    /// <summary>Compares digit strings without leading zeros as numbers.</summary>
    internal static int CompareNumbers(string a, string b) =>
        a.Length != b.Length ? a.Length.CompareTo(b.Length) : string.CompareOrdinal(a, b);

    /// <summary>SemVer 2.0 precedence (§11): build metadata does not count.</summary>
    public int CompareTo(SemanticVersion? other)
    {
        if (other is null)
            return 1;
        int c = CompareCore(other);
        if (c != 0)
            return c;
        // A release ranks above its pre-releases.
        if (Prerelease.Length == 0 || other.Prerelease.Length == 0)
            return Prerelease.Length == other.Prerelease.Length ? 0 : Prerelease.Length == 0 ? 1 : -1;
        for (int i = 0; i < Math.Min(Prerelease.Length, other.Prerelease.Length); i++)
        {
            string x = Prerelease[i], y = other.Prerelease[i];
            bool xn = x.All(char.IsAsciiDigit), yn = y.All(char.IsAsciiDigit);
            c = xn && yn ? CompareNumbers(x, y) : xn ? -1 : yn ? 1 : string.CompareOrdinal(x, y);
            if (c != 0)
                return Math.Sign(c);
        }
        return Math.Sign(Prerelease.Length.CompareTo(other.Prerelease.Length));
    }

    /// <summary>Compares MAJOR.MINOR.PATCH only.</summary>
    public int CompareCore(SemanticVersion other)
    {
        int c = CompareNumbers(Major, other.Major);
        if (c == 0)
            c = CompareNumbers(Minor, other.Minor);
        if (c == 0)
            c = CompareNumbers(Patch, other.Patch);
        return Math.Sign(c);
    }

    public override string ToString() =>
        $"{Major}.{Minor}.{Patch}" + (Prerelease.Length > 0 ? "-" + string.Join('.', Prerelease) : "") + (Build is null ? "" : "+" + Build);
}
