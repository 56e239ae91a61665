using System.Text.Json;

namespace Ferry.Model;

/// <summary>
/// An image's platform: <c>os/architecture[/variant]</c>, with the <c>os.version</c> and <c>os.features</c> an index may
/// give. Kept as written; <see cref="Normalize"/> and <see cref="Matches"/> compare platforms as containerd does.
/// </summary>
public sealed record Platform(string Os, string Architecture, string? Variant = null, string? OsVersion = null)
{
    /// <summary>The <c>os.features</c> (e.g. <c>win32k</c>), or null.</summary>
    public IReadOnlyList<string>? OsFeatures { get; init; }

    /// <summary>
    /// <c>os/arch[/variant]</c>; with an os.version or os.features, containerd's form <c>os(VERSION+FEATURE…)/arch…</c>
    /// (<c>windows(10.0.17763.5820)/amd64</c>).
    /// </summary>
    public override string ToString()
    {
        string os = Os;
        if (OsVersion is not null || OsFeatures is { Count: > 0 })
            os += "(" + Escape(OsVersion ?? "") + string.Concat((OsFeatures ?? []).Select(f => "+" + Escape(f))) + ")";
        return Variant is null ? $"{os}/{Architecture}" : $"{os}/{Architecture}/{Variant}";
    }

    /// <inheritdoc/>
    public bool Equals(Platform? other) =>
        other is not null && Os == other.Os && Architecture == other.Architecture && Variant == other.Variant && OsVersion == other.OsVersion
        && (OsFeatures ?? []).SequenceEqual(other.OsFeatures ?? [], StringComparer.Ordinal);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Os, Architecture, Variant, OsVersion, OsFeatures?.Count ?? 0);

    /// <summary>
    /// Parses <c>os/arch[/variant]</c>, or containerd's <c>os(VERSION[+FEATURE…])/arch[/variant]</c>; each part is letters,
    /// digits, <c>_</c>, <c>.</c> and <c>-</c> (in the parentheses, <c>%XX</c> escapes too).
    /// </summary>
    /// <exception cref="UsageException">The text is not of that form.</exception>
    public static Platform Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var m = System.Text.RegularExpressions.Regex.Match(text,
            @"^([A-Za-z0-9_-]+)(?:\(([A-Za-z0-9_.%-]*)((?:\+[A-Za-z0-9_.%-]+)*)\))?/([A-Za-z0-9_.-]+)(?:/([A-Za-z0-9_.-]+))?$",
            System.Text.RegularExpressions.RegexOptions.CultureInvariant);
        if (!m.Success || !TryUnescape(m.Groups[2].Value, out string version))
            throw new UsageException($"invalid platform '{Digests.Digest.Describe(text)}' (want OS/ARCH or OS/ARCH/VARIANT, e.g. linux/amd64 or linux/arm64/v8)");
        var features = new List<string>();
        foreach (var f in m.Groups[3].Value.Split('+', StringSplitOptions.RemoveEmptyEntries))
        {
            if (!TryUnescape(f, out string feature))
                throw new UsageException($"invalid platform '{Digests.Digest.Describe(text)}': bad escape in os feature '{f}'");
            features.Add(feature);
        }
        return new Platform(m.Groups[1].Value, m.Groups[4].Value, m.Groups[5].Success ? m.Groups[5].Value : null, m.Groups[2].Success && m.Groups[2].Value.Length > 0 ? version : null)
        {
            OsFeatures = features.Count > 0 ? features : null,
        };
    }

    private static string Escape(string s)
    {
        var sb = new System.Text.StringBuilder();
        foreach (char c in s)
        {
            if (char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-')
                sb.Append(c);
            else
                foreach (byte b in System.Text.Encoding.UTF8.GetBytes(c.ToString()))
                    sb.Append('%').Append(b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }

    private static bool TryUnescape(string s, out string result)
    {
        result = s;
        if (!s.Contains('%', StringComparison.Ordinal))
            return true;
        var bytes = new List<byte>();
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] != '%')
            {
                bytes.Add((byte)s[i]);
                continue;
            }
            if (i + 2 >= s.Length || !byte.TryParse(s.AsSpan(i + 1, 2), System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture, out byte b))
                return false;
            bytes.Add(b);
            i += 2;
        }
        try
        {
            result = new System.Text.UTF8Encoding(false, throwOnInvalidBytes: true).GetString([.. bytes]);
            return !result.Any(char.IsControl);
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    /// <summary>The platform this process runs on, in OCI terms.</summary>
    public static Platform Host { get; } = new("linux", System.Runtime.InteropServices.RuntimeInformation.OSArchitecture switch
    {
        System.Runtime.InteropServices.Architecture.Arm64 => "arm64",
        System.Runtime.InteropServices.Architecture.Arm => "arm",
        System.Runtime.InteropServices.Architecture.X86 => "386",
        System.Runtime.InteropServices.Architecture.S390x => "s390x",
        System.Runtime.InteropServices.Architecture.Ppc64le => "ppc64le",
        _ => "amd64",
    });

    /// <summary>
    /// The platform as containerd compares it (<c>platforms.Normalize</c>): os and architecture lowercase (<c>macos</c> is
    /// <c>darwin</c>; <c>x86_64</c> is <c>amd64</c>, <c>aarch64</c> is <c>arm64</c>, <c>i386</c> is <c>386</c>, <c>armhf</c> is
    /// <c>arm/v7</c>, <c>armel</c> is <c>arm/v6</c>), the default variant implied (<c>arm64</c> ≡ <c>arm64/v8</c>, written
    /// without it; <c>arm</c> ≡ <c>arm/v7</c>, written with it; <c>amd64/v1</c> ≡ <c>amd64</c>), os.features sorted and
    /// each once.
    /// </summary>
    public Platform Normalize()
    {
        string os = Os.ToLowerInvariant() switch { "macos" => "darwin", var o => o };
        string arch = Architecture.ToLowerInvariant();
        string variant = (Variant ?? "").ToLowerInvariant();
        switch (arch)
        {
            case "i386":
                arch = "386";
                variant = "";
                break;
            case "x86_64" or "x86-64" or "amd64":
                arch = "amd64";
                if (variant == "v1")
                    variant = "";
                break;
            case "aarch64" or "arm64":
                arch = "arm64";
                variant = variant switch { "8" or "v8" or "v8.0" => "", "9" or "9.0" or "v9.0" => "v9", _ => variant };
                break;
            case "armhf":
                arch = "arm";
                variant = "v7";
                break;
            case "armel":
                arch = "arm";
                variant = "v6";
                break;
            case "arm":
                variant = variant switch { "" or "7" => "v7", "5" or "6" or "8" => "v" + variant, _ => variant };
                break;
        }
        var features = OsFeatures is { Count: > 0 } f ? f.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList() : null;
        return new Platform(os, arch, variant.Length == 0 ? null : variant, OsVersion) { OsFeatures = features };
    }

    /// <summary>
    /// Whether an image of platform <paramref name="candidate"/> satisfies this wanted platform: <see cref="Rank"/> says
    /// it does.
    /// </summary>
    public bool Matches(Platform candidate) => Rank(candidate) is not null;

    /// <summary>
    /// How well an image of platform <paramref name="candidate"/> serves this wanted platform, as containerd's
    /// <c>platforms.Only</c> orders them within one architecture (0: the same platform once normalised; then the
    /// variants it can also run, newest first: <c>amd64/v3</c> takes <c>v2</c>, then <c>v1</c>; <c>arm/v7</c> takes
    /// <c>v6</c>, <c>v5</c>; <c>arm64/v8.2</c> takes <c>v8.1</c>, <c>v8</c>); null when it does not serve it. A wanted
    /// platform without a variant also takes any variant of its architecture, last. The os.version counts on Windows
    /// only (major.minor.build must be equal, as containerd compares them); a candidate's os.features must all be
    /// among the wanted ones.
    /// </summary>
    public int? Rank(Platform candidate)
    {
        ArgumentNullException.ThrowIfNull(candidate);
        var want = Normalize();
        var have = candidate.Normalize();
        if (want.Os != have.Os || want.Architecture != have.Architecture || !OsVersionMatches(want, have) || !FeaturesMatch(want, have))
            return null;
        var vector = Variants(want);
        int i = vector.IndexOf(have.Variant ?? "");
        if (i >= 0)
            return i;
        return Variant is null ? vector.Count : null;
    }

    /// <summary>The variants of <paramref name="p"/>'s architecture that it runs, best first (containerd's platformVector, same architecture only).</summary>
    private static List<string> Variants(Platform p)
    {
        string v = p.Variant ?? "";
        var list = new List<string> { v };
        switch (p.Architecture)
        {
            case "amd64" when v.Length > 1 && int.TryParse(v.AsSpan(1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int level) && v[0] == 'v':
                for (level--; level >= 1; level--)
                    list.Add(level == 1 ? "" : "v" + level.ToString(System.Globalization.CultureInfo.InvariantCulture));
                break;
            case "arm" when v.Length > 1 && int.TryParse(v.AsSpan(1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int arm) && v[0] == 'v':
                for (arm--; arm >= 5; arm--)
                    list.Add("v" + arm.ToString(System.Globalization.CultureInfo.InvariantCulture));
                break;
            case "arm64":
                list.Clear();
                if (!Arm64.TryGetValue(v.Length == 0 ? "v8" : v, out var versions))
                {
                    list.Add(v);
                    break;
                }
                foreach (var (major, minor) in versions)
                {
                    for (int m = minor; m >= 0; m--)
                        list.Add(m == 0 ? (major == 8 ? "" : $"v{major}") : $"v{major}.{m}");
                }
                break;
        }
        return list;
    }

    /// <summary>containerd's arm64 variants: the (major, minor) lines each one runs, newest first (v9.x also runs v8.(x+5)).</summary>
    private static readonly Dictionary<string, (int Major, int Minor)[]> Arm64 = BuildArm64();

    private static Dictionary<string, (int, int)[]> BuildArm64()
    {
        var d = new Dictionary<string, (int, int)[]>(StringComparer.Ordinal) { ["v8"] = [(8, 0)], ["v9"] = [(9, 0), (8, 5)] };
        for (int minor = 0; minor <= 9; minor++)
            d[$"v8.{minor}"] = [(8, minor)];
        for (int minor = 0; minor <= 7; minor++)
            d[$"v9.{minor}"] = [(9, minor), (8, Math.Min(9, minor + 5))];
        return d;
    }

    private static bool OsVersionMatches(Platform want, Platform have)
    {
        if (want.Os != "windows" || want.OsVersion is null)
            return true;
        static string Build(string? v) => v is null ? "" : string.Join('.', v.Split('.').Take(3));
        return Build(want.OsVersion) == Build(have.OsVersion);
    }

    private static bool FeaturesMatch(Platform want, Platform have) =>
        // Windows images are matched without their features (containerd's windowsStripFeaturesMatcher).
        want.Os == "windows" || (have.OsFeatures ?? []).All(f => (want.OsFeatures ?? []).Contains(f, StringComparer.Ordinal));

    internal static Platform? FromJson(JsonElement e)
    {
        if (e.ValueKind != JsonValueKind.Object)
            return null;
        string? os = Json.OptString(e, "os");
        string? arch = Json.OptString(e, "architecture");
        if (os is null || arch is null)
            return null;
        var features = Json.OptArray(e, "os.features") is JsonElement f
            ? f.EnumerateArray().Where(x => x.ValueKind == JsonValueKind.String).Select(x => x.GetString()!).ToList()
            : null;
        return new Platform(os, arch, Json.OptString(e, "variant"), Json.OptString(e, "os.version")) { OsFeatures = features is { Count: > 0 } ? features : null };
    }
}
