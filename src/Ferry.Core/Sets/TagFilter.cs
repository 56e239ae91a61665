using System.Text.RegularExpressions;

namespace Ferry.Sets;

/// <summary>How <see cref="TagFilter.Latest"/> ranked the tags it kept.</summary>
public enum TagOrdering
{
    /// <summary>No <c>latest</c>: every tag that passed the other filters is kept.</summary>
    None = 0,
    /// <summary>By SemVer 2.0 precedence (every remaining tag is a version).</summary>
    Semver = 1,
    /// <summary>By the image config's <c>created</c> time (some remaining tag is not a version).</summary>
    Created = 2,
}

/// <summary>
/// Which tags of a repository a set takes. The filters apply in this order: <see cref="Include"/> (a tag must match
/// one of the regular expressions, when any are given), <see cref="Exclude"/> (a tag matching any is dropped),
/// <see cref="Semver"/> (the tag must be a version in the range; tags that are not versions are skipped and counted),
/// then <see cref="Latest"/> (the N highest of what is left). No filter at all takes every tag.
/// </summary>
public sealed class TagFilter
{
    internal static readonly TimeSpan RegexTimeout = TimeSpan.FromSeconds(1);

    private readonly Regex[] _include;
    private readonly Regex[] _exclude;
    private readonly SemverRange? _semver;

    /// <summary>A filter; the expressions and the range are checked here.</summary>
    /// <exception cref="ArgumentException">An expression or the range does not parse, or <paramref name="latest"/> is below 1.</exception>
    public TagFilter(IReadOnlyList<string>? include = null, IReadOnlyList<string>? exclude = null, string? semver = null, bool prerelease = false, int? latest = null)
    {
        Include = include ?? [];
        Exclude = exclude ?? [];
        _include = Include.Select(Compile).ToArray();
        _exclude = Exclude.Select(Compile).ToArray();
        if (semver is not null)
        {
            if (!SemverRange.TryParse(semver, out _semver, out string error))
                throw new ArgumentException($"semver range '{semver}': {error}", nameof(semver));
        }
        Semver = semver;
        Prerelease = prerelease;
        if (latest is < 1)
            throw new ArgumentException("latest must be 1 or more", nameof(latest));
        Latest = latest;
    }

    /// <summary>Takes every tag.</summary>
    public static TagFilter All { get; } = new();

    /// <summary>Regular expressions (.NET syntax, unanchored: add <c>^</c>/<c>$</c>); a tag must match one. Empty: every tag.</summary>
    public IReadOnlyList<string> Include { get; }

    /// <summary>Regular expressions; a tag matching any is dropped.</summary>
    public IReadOnlyList<string> Exclude { get; }

    /// <summary>An npm-style range (<c>&gt;=1.2.0 &lt;2.0.0</c>, <c>^1.2</c>, <c>~1.2.3</c>, <c>1.x || 2.x</c>); a leading <c>v</c> on tags is accepted.</summary>
    public string? Semver { get; }

    /// <summary>Whether pre-release versions (<c>1.3.0-rc.1</c>, <c>1.25.3-alpine</c>) may match <see cref="Semver"/>; by default only when the range names a pre-release of the same version, as npm has it.</summary>
    public bool Prerelease { get; }

    /// <summary>Keep only the N highest tags left: by version when every one is a version, else by the config's <c>created</c>.</summary>
    public int? Latest { get; }

    /// <summary>Whether the filter takes every tag.</summary>
    public bool TakesAll => Include.Count == 0 && Exclude.Count == 0 && Semver is null && Latest is null;

    private static Regex Compile(string pattern)
    {
        try
        {
            return new Regex(pattern, RegexOptions.CultureInvariant, RegexTimeout);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"regular expression '{pattern}': {e.Message}", nameof(pattern), e);
        }
    }

    /// <summary>Whether <c>latest</c> would rank these tags by version (true) or by created time (false).</summary>
    internal bool RanksBySemver(IEnumerable<string> remaining) => _semver is not null || remaining.All(t => SemanticVersion.TryParse(t) is not null);

    /// <summary>
    /// Applies the filter to a repository's tags. <paramref name="created"/> tells a tag's config <c>created</c> time
    /// (null when it has none); it is asked only when <see cref="Latest"/> must rank tags that are not all versions.
    /// </summary>
    public async Task<TagSelection> ApplyAsync(IReadOnlyList<string> tags, Func<string, CancellationToken, Task<DateTimeOffset?>>? created = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tags);
        var listed = tags.Distinct(StringComparer.Ordinal).ToList();
        IEnumerable<string> left = listed;
        if (_include.Length > 0)
            left = left.Where(t => _include.Any(r => Matches(r, t)));
        if (_exclude.Length > 0)
            left = left.Where(t => !_exclude.Any(r => Matches(r, t)));
        var afterRegex = left.ToList();
        var notSemver = new List<string>();
        var remaining = afterRegex;
        if (_semver is not null)
        {
            remaining = [];
            foreach (var t in afterRegex)
            {
                if (SemanticVersion.TryParse(t) is not { } v)
                    notSemver.Add(t);
                else if (_semver.Contains(v, Prerelease))
                    remaining.Add(t);
            }
        }
        var ordering = TagOrdering.None;
        var undated = new List<string>();
        if (Latest is int n)
        {
            if (RanksBySemver(remaining))
            {
                ordering = TagOrdering.Semver;
                remaining = remaining.OrderByDescending(t => SemanticVersion.TryParse(t)!, Comparer<SemanticVersion>.Default)
                    .ThenBy(t => t, StringComparer.Ordinal).Take(n).ToList();
            }
            else
            {
                ordering = TagOrdering.Created;
                if (created is null)
                    throw new InvalidOperationException("latest on tags that are not versions needs their created times");
                var times = new List<(string Tag, DateTimeOffset? When)>();
                foreach (var t in remaining)
                    times.Add((t, await created(t, cancellationToken).ConfigureAwait(false)));
                undated = times.Where(x => x.When is null).Select(x => x.Tag).Order(StringComparer.Ordinal).ToList();
                // The newest first; ties (one image under several tags) by name; tags without a time last.
                remaining = times.OrderByDescending(x => x.When.HasValue).ThenByDescending(x => x.When)
                    .ThenBy(x => x.Tag, StringComparer.Ordinal).Take(n).Select(x => x.Tag).ToList();
            }
        }
        return new TagSelection(Sorted(listed), Sorted(remaining), Sorted(notSemver), ordering, undated);
    }

    private static bool Matches(Regex r, string tag)
    {
        try
        {
            return r.IsMatch(tag);
        }
        catch (RegexMatchTimeoutException)
        {
            throw new UsageException($"regular expression '{r}' took too long on tag '{tag}'");
        }
    }

    /// <summary>Versions in ascending precedence, then every other tag by name: the order a lock lists them.</summary>
    internal static IReadOnlyList<string> Sorted(IEnumerable<string> tags) =>
        tags.Select(t => (Tag: t, Version: SemanticVersion.TryParse(t)))
            .OrderBy(x => x.Version is null ? 1 : 0)
            .ThenBy(x => x.Version, Comparer<SemanticVersion?>.Create((a, b) => a is null || b is null ? 0 : a.CompareTo(b)))
            .ThenBy(x => x.Tag, StringComparer.Ordinal)
            .Select(x => x.Tag).ToList();

    /// <summary>The filter as the set file writes it: <c>{ semver: "…", latest: 3 }</c>.</summary>
    public override string ToString()
    {
        var parts = new List<string>();
        if (Include.Count > 0)
            parts.Add("include: [" + string.Join(", ", Include.Select(Quote)) + "]");
        if (Exclude.Count > 0)
            parts.Add("exclude: [" + string.Join(", ", Exclude.Select(Quote)) + "]");
        if (Semver is not null)
            parts.Add("semver: " + Quote(Semver));
        if (Prerelease)
            parts.Add("prerelease: true");
        if (Latest is int n)
            parts.Add("latest: " + n.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return "{ " + string.Join(", ", parts) + " }";
    }

    private static string Quote(string s) => YamlText.Quote(s);
}

/// <summary>What a <see cref="TagFilter"/> made of a repository's tags.</summary>
/// <param name="Listed">Every tag the registry listed (versions in precedence order, then the rest by name).</param>
/// <param name="Selected">The tags taken, in the same order.</param>
/// <param name="NotSemver">Tags that passed include/exclude but are not versions, so a semver filter skipped them.</param>
/// <param name="Ordering">How <c>latest</c> ranked them.</param>
/// <param name="Undated">With <see cref="TagOrdering.Created"/>: tags whose config has no <c>created</c> (ranked last).</param>
public sealed record TagSelection(IReadOnlyList<string> Listed, IReadOnlyList<string> Selected, IReadOnlyList<string> NotSemver, TagOrdering Ordering, IReadOnlyList<string> Undated);
