using Ferry.Model;
using Ferry.Transports.Registry;

namespace Ferry.Sets;

/// <summary>
/// A source namespace and where it is mirrored: every repository under <see cref="Source"/> (<c>REGISTRY[/PATH]</c>)
/// is at the same path under <see cref="Mirror"/> (<c>HOST[:PORT][/PATH]</c>). <c>push</c>'s re-rooting is one
/// mapping per source registry: <c>docker.io</c> → <c>HOST/PREFIX</c> puts <c>docker.io/library/ubuntu</c> at
/// <c>HOST/PREFIX/library/ubuntu</c>.
/// </summary>
public sealed record MirrorMapping
{
    /// <summary>A mapping of <paramref name="source"/> (<c>REGISTRY[/PATH]</c>) to <paramref name="mirror"/> (<c>[docker://]HOST[:PORT][/PATH]</c>).</summary>
    /// <exception cref="UsageException">Either side is not a registry with an optional repository path.</exception>
    public MirrorMapping(string source, string mirror)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(mirror);
        (SourceRegistry, SourcePath) = Split(source, "source");
        (MirrorHost, MirrorPath) = Split(mirror.StartsWith("docker://", StringComparison.Ordinal) ? mirror["docker://".Length..] : mirror, "mirror");
    }

    /// <summary>The source registry: <c>docker.io</c>, <c>registry.example.com:5000</c>.</summary>
    public string SourceRegistry { get; }

    /// <summary>The path under it (no slashes at either end), empty for the whole registry.</summary>
    public string SourcePath { get; }

    /// <summary>The mirror registry: <c>mirror.internal:5000</c>.</summary>
    public string MirrorHost { get; }

    /// <summary>The path under it, empty for its root.</summary>
    public string MirrorPath { get; }

    /// <summary><c>REGISTRY[/PATH]</c>.</summary>
    public string Source => SourcePath.Length == 0 ? SourceRegistry : SourceRegistry + "/" + SourcePath;

    /// <summary><c>HOST[/PATH]</c>.</summary>
    public string Mirror => MirrorPath.Length == 0 ? MirrorHost : MirrorHost + "/" + MirrorPath;

    /// <summary>Parses <c>FROM=TO</c> (<c>--rewrite registry.example.com/team=mirror.internal:5000/apps</c>).</summary>
    /// <exception cref="UsageException">Not of that form.</exception>
    public static MirrorMapping Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int eq = text.IndexOf('=', StringComparison.Ordinal);
        if (eq <= 0 || eq == text.Length - 1)
            throw new UsageException($"'{Digests.Digest.Describe(text)}': want FROM=TO, e.g. registry.example.com/team=mirror.internal:5000/apps");
        return new MirrorMapping(text[..eq], text[(eq + 1)..]);
    }

    /// <summary>Whether <paramref name="name"/> is under <see cref="Source"/>.</summary>
    public bool Covers(ImageName name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return name.Domain == SourceRegistry && (SourcePath.Length == 0 || name.Path == SourcePath || name.Path.StartsWith(SourcePath + "/", StringComparison.Ordinal));
    }

    /// <summary>Where <paramref name="name"/> (under <see cref="Source"/>) is on the mirror, with its tag or digest.</summary>
    /// <exception cref="ArgumentException">The name is not under <see cref="Source"/>.</exception>
    public ImageName Map(ImageName name)
    {
        if (!Covers(name))
            throw new ArgumentException($"{name} is not under {Source}", nameof(name));
        string rest = name.Path.Length == SourcePath.Length ? "" : name.Path[(SourcePath.Length == 0 ? 0 : SourcePath.Length + 1)..];
        string path = MirrorPath.Length == 0 ? rest : rest.Length == 0 ? MirrorPath : MirrorPath + "/" + rest;
        if (path.Length == 0)
            throw new UsageException($"{Source} → {Mirror}: {name.FullRepository} would have no repository path on the mirror");
        string text = $"{MirrorHost}/{path}" + (name.Tag is null ? "" : ":" + name.Tag) + (name.Digest is null ? "" : "@" + name.Digest);
        return ImageName.Parse(text);
    }

    /// <summary><c>SOURCE=MIRROR</c>, as <see cref="Parse"/> reads it.</summary>
    public override string ToString() => Source + "=" + Mirror;

    private static (string Registry, string Path) Split(string text, string what)
    {
        string t = text.Trim('/');
        int slash = t.IndexOf('/', StringComparison.Ordinal);
        string host = slash < 0 ? t : t[..slash];
        string path = slash < 0 ? "" : t[(slash + 1)..];
        if (host == "index.docker.io")
            host = ImageName.DefaultDomain;
        if (!ImageName.TryParse($"{host}/{(path.Length == 0 ? "" : path + "/")}x", out var probe, out string err) || probe!.Domain != host)
            throw new UsageException($"{what} '{Digests.Digest.Describe(text)}': not a registry with an optional path ({(probe is null ? err : "the first part must be a registry host: add a port or a dot")})");
        return (host, path);
    }
}

/// <summary>
/// Where each image of a set goes in a registry destination: under <c>docker://HOST[/PREFIX]/</c> at its own path, as
/// <c>push</c> re-roots it, unless a <c>--rewrite FROM=TO</c> mapping covers it (the longest <c>FROM</c> wins). The
/// same mappings make the mirror configs (<see cref="MirrorConfigs"/>), so clients find every image where sync put it.
/// </summary>
public sealed class RepositoryMap
{
    private readonly List<MirrorMapping> _rewrites;

    /// <summary>A map onto <paramref name="destination"/> with explicit <paramref name="rewrites"/>.</summary>
    public RepositoryMap(RegistryPrefixReference destination, IEnumerable<MirrorMapping>? rewrites = null)
    {
        ArgumentNullException.ThrowIfNull(destination);
        Destination = destination;
        _rewrites = (rewrites ?? []).OrderByDescending(m => m.Source.Length).ThenBy(m => m.Source, StringComparer.Ordinal).ToList();
        var dup = _rewrites.GroupBy(m => m.Source, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null)
            throw new UsageException($"--rewrite {dup.Key}= is given twice");
    }

    /// <summary>The registry prefix images are re-rooted under.</summary>
    public RegistryPrefixReference Destination { get; }

    /// <summary>The explicit mappings, longest source first.</summary>
    public IReadOnlyList<MirrorMapping> Rewrites => _rewrites;

    /// <summary>The mapping that places <paramref name="name"/>: a rewrite covering it, else its registry re-rooted under the destination.</summary>
    public MirrorMapping MappingOf(ImageName name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return _rewrites.FirstOrDefault(m => m.Covers(name)) ?? new MirrorMapping(name.Domain, Destination.Registry + (Destination.Prefix.Length == 0 ? "" : "/" + Destination.Prefix));
    }

    /// <summary>Where <paramref name="name"/> goes, with its tag or digest.</summary>
    public ImageName Map(ImageName name) => MappingOf(name).Map(name);

    /// <summary>The mappings that place these images (each once, sorted by source): what the mirror configs need.</summary>
    public IReadOnlyList<MirrorMapping> MappingsFor(IEnumerable<ImageName> sources)
    {
        ArgumentNullException.ThrowIfNull(sources);
        return sources.Select(MappingOf).Distinct().OrderBy(m => m.Source, StringComparer.Ordinal).ToList();
    }

    /// <summary>Images from different sources that would land on the same repository (two registries holding the same path, re-rooted under one prefix).</summary>
    public IReadOnlyList<(ImageName First, ImageName Second, ImageName Target)> Collisions(IEnumerable<ImageName> sources)
    {
        ArgumentNullException.ThrowIfNull(sources);
        var seen = new Dictionary<string, ImageName>(StringComparer.Ordinal);
        var result = new List<(ImageName, ImageName, ImageName)>();
        foreach (var s in sources.DistinctBy(n => n.FullRepository).OrderBy(n => n.FullRepository, StringComparer.Ordinal))
        {
            var target = Map(s);
            if (seen.TryGetValue(target.FullRepository, out var first))
                result.Add((first, s, target));
            else
                seen[target.FullRepository] = s;
        }
        return result;
    }
}
