using System.Text.RegularExpressions;

namespace Ferry.Transports;

/// <summary>
/// The transports a program knows, and the parser of <c>transport:reference</c> texts in skopeo's grammar. A text
/// without a known prefix is a path, read by content and written as portable (the <see cref="Fallback"/> transport).
/// </summary>
public sealed partial class TransportRegistry
{
    private readonly Dictionary<string, ITransport> _byName = new(StringComparer.Ordinal);

    /// <param name="transports">The prefixed transports.</param>
    /// <param name="fallback">The transport of texts without a known prefix (plain paths).</param>
    public TransportRegistry(IEnumerable<ITransport> transports, ITransport fallback)
    {
        foreach (var t in transports)
        {
            if (!_byName.TryAdd(t.Name, t))
                throw new ArgumentException($"two transports are named '{t.Name}'", nameof(transports));
        }
        Fallback = fallback;
    }

    /// <summary>Every built-in transport: docker-archive, oci-archive, oci, docker-daemon, docker (registries), and plain paths.</summary>
    public static TransportRegistry Default { get; } = new(
    [
        DockerArchive.DockerArchiveTransport.Instance,
        OciLayout.OciArchiveTransport.Instance,
        OciLayout.OciDirectoryTransport.Instance,
        Daemon.DaemonTransport.Instance,
        Registry.RegistryTransport.Instance,
    ], Files.PathTransport.Instance);

    /// <summary>The prefixed transports, by name.</summary>
    public IReadOnlyCollection<ITransport> Transports => _byName.Values;

    /// <summary>What a reference to each prefixed transport starts with (<c>docker-archive:</c>, …, <c>docker://</c>), in name order.</summary>
    public IEnumerable<string> Prefixes => _byName.Keys.Order(StringComparer.Ordinal).Select(Describe);

    /// <summary>The transport of plain paths.</summary>
    public ITransport Fallback { get; }

    /// <summary>The transport registered under <paramref name="name"/>, or null.</summary>
    public ITransport? Find(string name) => _byName.GetValueOrDefault(name);

    [GeneratedRegex("^([a-z][a-z0-9+.-]*):", RegexOptions.CultureInvariant)]
    private static partial Regex Prefix();

    /// <summary>Parses <c>transport:reference</c>, or a plain path.</summary>
    /// <exception cref="UsageException">The text is empty, names an unknown transport (and no such file exists), or is not valid for its transport.</exception>
    public ImageReference Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length == 0)
            throw new UsageException("empty reference");
        var m = Prefix().Match(text);
        if (m.Success && _byName.TryGetValue(m.Groups[1].Value, out var transport))
            return transport.ParseReference(text[m.Length..]);
        if (BareRegistryReference(text) is { } bare)
            return bare;
        if (m.Success && !File.Exists(text) && !Directory.Exists(text))
            throw new UsageException($"'{Digests.Digest.Describe(text)}': unknown transport '{m.Groups[1].Value}' and no such file (transports: {string.Join(", ", Prefixes)}; or a path)");
        return Fallback.ParseReference(text);
    }

    /// <summary>
    /// <c>HOST[:PORT]/REPO[:TAG|@DIGEST]</c> without <c>docker://</c>, as crane, docker and podman take it, when it
    /// cannot be a path: no such file or directory exists, its first part is no directory here, and it names a
    /// registry (a dot, a port, or <c>localhost</c>) and a valid repository. A name ending like an archive
    /// (<c>backup.d/app.tar</c>) without a tag or digest stays a path. Null when it is not one.
    /// </summary>
    private Registry.RegistryReference? BareRegistryReference(string text)
    {
        if (_byName.GetValueOrDefault(Registry.RegistryTransport.TransportName) is not Registry.RegistryTransport)
            return null;
        int slash = text.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0 || text.EndsWith('/') || File.Exists(text) || Directory.Exists(text) || Directory.Exists(text[..slash]))
            return null;
        string host = text[..slash];
        if (!(host.Contains('.', StringComparison.Ordinal) || host.Contains(':', StringComparison.Ordinal) || host == "localhost") || !Model.ImageName.TryParse(text, out _, out _))
            return null;
        string last = text[(text.LastIndexOf('/') + 1)..];
        bool pinned = last.Contains(':', StringComparison.Ordinal) || last.Contains('@', StringComparison.Ordinal);
        if (!pinned && ArchiveSuffixes.Any(x => last.EndsWith(x, StringComparison.Ordinal)))
            return null;
        return Registry.RegistryTransport.ParseName(text, bare: true);
    }

    private static readonly string[] ArchiveSuffixes = [".tar", ".tar.gz", ".tgz", ".tar.zst", ".tar.xz", ".tar.bz2", ".oci"];

    private static string Describe(string name) => name == Registry.RegistryTransport.TransportName ? "docker://" : name + ":";
}
