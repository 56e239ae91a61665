using System.Globalization;
using System.Text;
using Ferry.Model;
using YamlDotNet.RepresentationModel;

namespace Ferry.Sets;

/// <summary>Which platforms of a multi-platform image to take: <see cref="All"/> (the whole index, as it is) or a list.</summary>
public sealed class PlatformSelection
{
    private PlatformSelection(IReadOnlyList<Platform> platforms) => Platforms = platforms;

    /// <summary>Every platform: indexes are kept whole.</summary>
    public static PlatformSelection All { get; } = new([]);

    /// <summary>Whether every platform is taken.</summary>
    public bool IsAll => Platforms.Count == 0;

    /// <summary>The platforms taken (empty for <see cref="All"/>).</summary>
    public IReadOnlyList<Platform> Platforms { get; }

    /// <summary>These platforms (at least one).</summary>
    public static PlatformSelection Of(IEnumerable<Platform> platforms)
    {
        var list = platforms.Distinct().ToList();
        if (list.Count == 0)
            throw new ArgumentException("name at least one platform, or use PlatformSelection.All", nameof(platforms));
        return new PlatformSelection(list);
    }

    /// <summary>Parses <c>all</c> or <c>os/arch[/variant]</c> words.</summary>
    /// <exception cref="UsageException">A word is not a platform.</exception>
    public static PlatformSelection Parse(IEnumerable<string> words)
    {
        var list = words.ToList();
        if (list is ["all"])
            return All;
        if (list.Contains("all"))
            throw new UsageException("'all' stands alone: it takes every platform");
        return Of(list.Select(Platform.Parse));
    }

    /// <summary>Whether an image of <paramref name="platform"/> is taken.</summary>
    public bool Matches(Platform? platform) => IsAll || (platform is not null && Platforms.Any(p => p.Matches(platform)));

    /// <summary><c>all</c>, or the platforms joined by commas (as <c>--platform</c> takes them).</summary>
    public override string ToString() => IsAll ? "all" : string.Join(',', Platforms);
}

/// <summary>One image a set names: <c>docker.io/library/ubuntu:20.04</c> or <c>registry.example.com/base@sha256:…</c>.</summary>
/// <param name="Reference">The image, normalised (a name with neither tag nor digest gets <c>latest</c>).</param>
/// <param name="Platforms">This entry's platforms, or null for the set's.</param>
/// <param name="Referrers">Whether this entry's referrers come along, or null for the set's.</param>
public sealed record ImageSetImage(ImageName Reference, PlatformSelection? Platforms = null, bool? Referrers = null)
{
    /// <summary>The line of the set file that names it (0 when built in code).</summary>
    public int Line { get; init; }
}

/// <summary>A repository a set takes tags of: every tag, or those its <see cref="TagFilter"/> selects.</summary>
/// <param name="Repository">The repository (no tag or digest).</param>
/// <param name="Tags">Which tags.</param>
/// <param name="Platforms">This entry's platforms, or null for the set's.</param>
/// <param name="Referrers">Whether this entry's referrers come along, or null for the set's.</param>
public sealed record ImageSetRepository(ImageName Repository, TagFilter Tags, PlatformSelection? Platforms = null, bool? Referrers = null)
{
    /// <summary>The line of the set file that names it (0 when built in code).</summary>
    public int Line { get; init; }
}

/// <summary>
/// What a site needs, in one file (<c>ferry.yaml</c>; docs/sets.md): images by name or digest, repositories with tag
/// filters, the platforms to take and whether signatures, attestations and SBOMs (referrers) come along.
/// </summary>
public sealed class ImageSet
{
    /// <summary>The set file version this Ferry reads and writes.</summary>
    public const int CurrentVersion = 1;

    /// <summary>A set.</summary>
    /// <exception cref="ArgumentException">It names the same image twice, or nothing.</exception>
    public ImageSet(IReadOnlyList<ImageSetImage> images, IReadOnlyList<ImageSetRepository> repositories, PlatformSelection? platforms = null, bool referrers = true)
    {
        Images = images ?? [];
        Repositories = repositories ?? [];
        Platforms = platforms ?? PlatformSelection.All;
        Referrers = referrers;
        if (Images.Count == 0 && Repositories.Count == 0)
            throw new ArgumentException("the set names no image and no repository", nameof(images));
        if (Duplicate(Images.Select(i => i.Reference.ToString())) is { } d)
            throw new ArgumentException($"{d} is listed twice", nameof(images));
        if (Duplicate(Repositories.Select(i => i.Repository.FullRepository)) is { } r)
            throw new ArgumentException($"repository {r} is listed twice", nameof(repositories));
        foreach (var repo in Repositories)
        {
            if (repo.Repository.Tag is not null || repo.Repository.Digest is not null)
                throw new ArgumentException($"repository {repo.Repository}: name the repository alone (the tags come from its filter)", nameof(repositories));
        }
    }

    /// <summary>The platforms of every entry that names none (default <see cref="PlatformSelection.All"/>).</summary>
    public PlatformSelection Platforms { get; }

    /// <summary>Whether signatures, attestations and SBOMs come along (default true).</summary>
    public bool Referrers { get; }

    /// <summary>The images named one by one.</summary>
    public IReadOnlyList<ImageSetImage> Images { get; }

    /// <summary>The repositories whose tags are filtered.</summary>
    public IReadOnlyList<ImageSetRepository> Repositories { get; }

    /// <summary>The platforms of an image entry.</summary>
    public PlatformSelection PlatformsOf(ImageSetImage image) => image?.Platforms ?? Platforms;

    /// <summary>The platforms of a repository entry.</summary>
    public PlatformSelection PlatformsOf(ImageSetRepository repository) => repository?.Platforms ?? Platforms;

    /// <summary>Every registry the set reads from (<c>docker.io</c>, <c>registry.example.com</c>), sorted.</summary>
    public IReadOnlyList<string> SourceRegistries =>
        Images.Select(i => i.Reference.Domain).Concat(Repositories.Select(r => r.Repository.Domain)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();

    private static string? Duplicate(IEnumerable<string> keys)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        return keys.FirstOrDefault(k => !seen.Add(k));
    }

    /// <summary>Reads a set file.</summary>
    /// <exception cref="ImageSetFormatException">The file is not a valid set (the message names line and column).</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static ImageSet Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var info = new FileInfo(path);
        if (info.Exists && info.Length > YamlDoc.MaxBytes)
            throw new ImageSetFormatException(path, 0, 0, $"larger than {YamlDoc.MaxBytes >> 20} MiB: not a set file");
        return Parse(File.ReadAllText(path, Encoding.UTF8), path);
    }

    /// <summary>Parses a set file's text; <paramref name="file"/> names it in errors.</summary>
    /// <exception cref="ImageSetFormatException">The text is not a valid set (the message names line and column).</exception>
    public static ImageSet Parse(string text, string file = "ferry.yaml")
    {
        ArgumentNullException.ThrowIfNull(text);
        var y = new YamlDoc(file);
        var root = y.Load(text);
        var top = y.Mapping(root, "the set", "version", "platforms", "referrers", "images", "repositories");
        if (!top.TryGetValue("version", out var version))
            throw y.Error(root, "no 'version': a set file starts with 'version: 1'");
        int v = y.Int(version.Value, "version");
        if (v != CurrentVersion)
            throw y.Error(version.Value, $"version {v} is not one this ferry reads (it reads version {CurrentVersion})");
        var platforms = top.TryGetValue("platforms", out var p) ? ReadPlatforms(y, p.Value) : PlatformSelection.All;
        bool referrers = !top.TryGetValue("referrers", out var r) || y.Bool(r.Value, "referrers");

        var images = new List<ImageSetImage>();
        if (top.TryGetValue("images", out var imgs) && !YamlDoc.IsNull(imgs.Value))
        {
            foreach (var item in y.Sequence(imgs.Value, "images").Children)
                images.Add(ReadImage(y, item));
        }
        var repositories = new List<ImageSetRepository>();
        if (top.TryGetValue("repositories", out var repos) && !YamlDoc.IsNull(repos.Value))
        {
            foreach (var item in y.Sequence(repos.Value, "repositories").Children)
                repositories.Add(ReadRepository(y, item));
        }
        if (images.Count == 0 && repositories.Count == 0)
            throw y.Error(root, "the set names no image and no repository (add 'images:' or 'repositories:')");
        CheckDuplicates(y, images.Select(i => (i.Reference.ToString(), i.Line)));
        CheckDuplicates(y, repositories.Select(i => ("repository " + i.Repository.FullRepository, i.Line)));
        return new ImageSet(images, repositories, platforms, referrers);
    }

    private static void CheckDuplicates(YamlDoc y, IEnumerable<(string Key, int Line)> entries)
    {
        var first = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (key, line) in entries)
        {
            if (first.TryGetValue(key, out int earlier))
                throw y.Error(line, 0, $"{key} is listed twice (first on line {earlier})");
            first[key] = line;
        }
    }

    private static PlatformSelection ReadPlatforms(YamlDoc y, YamlNode node)
    {
        var words = y.Strings(node, "platforms");
        if (words.Count == 0)
            throw y.Error(node, "platforms: name at least one (os/arch), or 'all'");
        foreach (var (word, at) in words)
        {
            if (word != "all")
            {
                try
                {
                    Platform.Parse(word);
                }
                catch (UsageException e)
                {
                    throw y.Error(at, e.Message);
                }
            }
        }
        try
        {
            return PlatformSelection.Parse(words.Select(w => w.Value));
        }
        catch (UsageException e)
        {
            throw y.Error(node, "platforms: " + e.Message);
        }
    }

    private static ImageName ReadName(YamlDoc y, YamlNode node, string what)
    {
        string text = y.String(node, what);
        if (!ImageName.TryParse(text, out var name, out string error))
            throw y.Error(node, $"{what} '{Digests.Digest.Describe(text)}': {error}");
        return name!;
    }

    private static ImageSetImage ReadImage(YamlDoc y, YamlNode item)
    {
        int line = (int)item.Start.Line;
        if (item is YamlScalarNode)
            return new ImageSetImage(ReadName(y, item, "image").WithDefaultTag()) { Line = line };
        var m = y.Mapping(item, "an image", "ref", "platforms", "referrers");
        if (!m.TryGetValue("ref", out var r))
            throw y.Error(item, "an image needs 'ref: NAME[:TAG|@DIGEST]'");
        return new ImageSetImage(
            ReadName(y, r.Value, "ref").WithDefaultTag(),
            m.TryGetValue("platforms", out var p) ? ReadPlatforms(y, p.Value) : null,
            m.TryGetValue("referrers", out var f) ? y.Bool(f.Value, "referrers") : null) { Line = line };
    }

    private static ImageSetRepository ReadRepository(YamlDoc y, YamlNode item)
    {
        int line = (int)item.Start.Line;
        var m = y.Mapping(item, "a repository", "name", "tags", "platforms", "referrers");
        if (!m.TryGetValue("name", out var n))
            throw y.Error(item, "a repository needs 'name: REGISTRY/REPOSITORY'");
        var name = ReadName(y, n.Value, "name");
        if (name.Tag is not null || name.Digest is not null)
            throw y.Error(n.Value, $"name '{name}': a repository has no tag or digest here (choose tags with 'tags:', or list the image under 'images:')");
        var filter = m.TryGetValue("tags", out var t) && !YamlDoc.IsNull(t.Value) ? ReadFilter(y, t.Value) : TagFilter.All;
        return new ImageSetRepository(name, filter,
            m.TryGetValue("platforms", out var p) ? ReadPlatforms(y, p.Value) : null,
            m.TryGetValue("referrers", out var f) ? y.Bool(f.Value, "referrers") : null) { Line = line };
    }

    private static TagFilter ReadFilter(YamlDoc y, YamlNode node)
    {
        var m = y.Mapping(node, "tags", "include", "exclude", "semver", "prerelease", "latest");
        var include = m.TryGetValue("include", out var i) ? CheckedPatterns(y, y.Strings(i.Value, "include")) : null;
        var exclude = m.TryGetValue("exclude", out var e) ? CheckedPatterns(y, y.Strings(e.Value, "exclude")) : null;
        string? semver = null;
        if (m.TryGetValue("semver", out var s))
        {
            semver = y.String(s.Value, "semver");
            if (!SemverRange.TryParse(semver, out _, out string error))
                throw y.Error(s.Value, $"semver '{semver}': {error}");
        }
        bool prerelease = m.TryGetValue("prerelease", out var pr) && y.Bool(pr.Value, "prerelease");
        int? latest = null;
        if (m.TryGetValue("latest", out var l))
        {
            latest = y.Int(l.Value, "latest");
            if (latest < 1)
                throw y.Error(l.Value, "latest must be 1 or more");
        }
        return new TagFilter(include, exclude, semver, prerelease, latest);
    }

    private static List<string> CheckedPatterns(YamlDoc y, List<(string Value, YamlNode Node)> patterns)
    {
        foreach (var (pattern, node) in patterns)
        {
            try
            {
                _ = new System.Text.RegularExpressions.Regex(pattern, System.Text.RegularExpressions.RegexOptions.CultureInvariant, TagFilter.RegexTimeout);
            }
            catch (ArgumentException ex)
            {
                throw y.Error(node, $"regular expression '{pattern}': {ex.Message}");
            }
        }
        return patterns.Select(p => p.Value).ToList();
    }

    /// <summary>The set as a set file (the same bytes for the same set): what <see cref="Parse"/> reads back.</summary>
    public string ToYaml()
    {
        var sb = new StringBuilder();
        sb.Append("version: ").Append(CurrentVersion.ToString(CultureInfo.InvariantCulture)).Append('\n');
        sb.Append("platforms: ").Append(Flow(Platforms)).Append('\n');
        sb.Append("referrers: ").Append(Referrers ? "true" : "false").Append('\n');
        if (Images.Count > 0)
        {
            sb.Append("images:\n");
            foreach (var i in Images)
            {
                if (i.Platforms is null && i.Referrers is null)
                {
                    sb.Append("  - ").Append(YamlText.Quote(i.Reference.ToString())).Append('\n');
                    continue;
                }
                sb.Append("  - ref: ").Append(YamlText.Quote(i.Reference.ToString())).Append('\n');
                if (i.Platforms is { } p)
                    sb.Append("    platforms: ").Append(Flow(p)).Append('\n');
                if (i.Referrers is bool r)
                    sb.Append("    referrers: ").Append(r ? "true" : "false").Append('\n');
            }
        }
        if (Repositories.Count > 0)
        {
            sb.Append("repositories:\n");
            foreach (var r in Repositories)
            {
                sb.Append("  - name: ").Append(YamlText.Quote(r.Repository.FullRepository)).Append('\n');
                if (!r.Tags.TakesAll || r.Tags.Prerelease)
                    sb.Append("    tags: ").Append(r.Tags).Append('\n');
                if (r.Platforms is { } p)
                    sb.Append("    platforms: ").Append(Flow(p)).Append('\n');
                if (r.Referrers is bool f)
                    sb.Append("    referrers: ").Append(f ? "true" : "false").Append('\n');
            }
        }
        return sb.ToString();
    }

    private static string Flow(PlatformSelection p) => p.IsAll ? "all" : "[" + string.Join(", ", p.Platforms.Select(x => x.ToString())) + "]";
}
