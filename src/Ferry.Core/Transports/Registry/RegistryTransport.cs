using Ferry.Model;

namespace Ferry.Transports.Registry;

/// <summary>
/// <c>docker://HOST[:PORT]/REPO[:TAG|@DIGEST]</c>: one image in a registry. As a destination it names the one image
/// written (by tag, or by digest, which must then be the image's).
/// </summary>
public sealed class RegistryReference : ImageReference
{
    internal RegistryReference(ImageName name, bool bare = false)
    {
        Name = name;
        Bare = bare;
    }

    /// <summary>
    /// Whether it was written without <c>docker://</c> (<c>HOST[:PORT]/REPO:TAG</c>) and taken as a registry reference
    /// because no such file exists.
    /// </summary>
    public bool Bare { get; }

    /// <inheritdoc/>
    public override ITransport Transport => RegistryTransport.Instance;

    /// <summary>The normalised name: <c>docker.io/library/ubuntu:latest</c> for <c>ubuntu</c>.</summary>
    public ImageName Name { get; }

    /// <summary>The host to connect to (<c>registry-1.docker.io</c> for docker.io).</summary>
    public string Host => RegistryTransport.HostOf(Name);

    /// <summary>Parses <c>[docker://]HOST[:PORT]/REPO[:TAG|@DIGEST]</c> (a name without a tag or digest gets <c>:latest</c>).</summary>
    /// <exception cref="UsageException">Not a valid reference.</exception>
    public static RegistryReference Parse(string text) => RegistryTransport.ParseName(text);

    /// <inheritdoc/>
    public override string ToString() => "docker://" + Name;
}

/// <summary>
/// <c>docker://HOST[:PORT]/[PREFIX/]</c> (note the trailing slash), or <c>push</c>'s <c>REGISTRY[/PREFIX]</c>: a place in a
/// registry under which every image goes to its own repository path, re-rooted (<c>docker.io/library/ubuntu:20.04</c> →
/// <c>HOST/PREFIX/library/ubuntu:20.04</c>).
/// </summary>
public sealed class RegistryPrefixReference : ImageReference
{
    internal RegistryPrefixReference(string registry, string prefix)
    {
        Registry = registry;
        Prefix = prefix;
    }

    /// <inheritdoc/>
    public override ITransport Transport => RegistryTransport.Instance;

    /// <summary><c>host[:port]</c>.</summary>
    public string Registry { get; }

    /// <summary>The path under which repositories are created, without slashes at either end; empty for the root.</summary>
    public string Prefix { get; }

    /// <summary>Parses <c>[docker://]HOST[:PORT][/PREFIX][/]</c>.</summary>
    /// <exception cref="UsageException">The first part is not a registry host, or the prefix is not a valid repository path.</exception>
    public static RegistryPrefixReference Parse(string text) => RegistryTransport.ParsePrefix(text);

    /// <summary>Where an image named <paramref name="name"/> goes.</summary>
    public ImageName Reroot(ImageName name)
    {
        string path = Prefix.Length == 0 ? name.Path : Prefix + "/" + name.Path;
        string text = $"{Registry}/{path}" + (name.Tag is not null ? ":" + name.Tag : "") + (name.Tag is null && name.Digest is not null ? "@" + name.Digest : "");
        return ImageName.Parse(text);
    }

    /// <inheritdoc/>
    public override string ToString() => $"docker://{Registry}/{(Prefix.Length == 0 ? "" : Prefix + "/")}";
}

/// <summary>The <c>docker://</c> transport: registries speaking the OCI distribution API.</summary>
internal sealed class RegistryTransport : ITransport
{
    public const string TransportName = "docker";

    public static RegistryTransport Instance { get; } = new();

    public string Name => TransportName;

    /// <summary>Parses what follows <c>docker:</c>: <c>//HOST/REPO[:TAG|@DIGEST]</c>, or <c>//HOST[/PREFIX]/</c> for a prefix.</summary>
    public ImageReference ParseReference(string reference)
    {
        if (!reference.StartsWith("//", StringComparison.Ordinal) || reference.Length == 2)
            throw new UsageException($"'docker:{Digests.Digest.Describe(reference)}': want docker://HOST/REPO[:TAG|@DIGEST]");
        string rest = reference[2..];
        if (rest.EndsWith('/'))
            return ParsePrefix(rest);
        return ParseName(rest);
    }

    /// <summary>A registry reference without the <c>docker://</c> prefix (as <c>pull</c> takes them).</summary>
    public static RegistryReference ParseName(string text) => ParseName(text, bare: false);

    internal static RegistryReference ParseName(string text, bool bare)
    {
        string t = text.StartsWith("docker://", StringComparison.Ordinal) ? text["docker://".Length..] : text;
        var name = ImageName.Parse(t);
        return new RegistryReference(name.Digest is null ? name.WithDefaultTag() : name, bare);
    }

    /// <summary><c>HOST[:PORT][/PREFIX]</c> (with or without <c>docker://</c> and a trailing slash).</summary>
    public static RegistryPrefixReference ParsePrefix(string text)
    {
        string t = text.StartsWith("docker://", StringComparison.Ordinal) ? text["docker://".Length..] : text;
        t = t.TrimEnd('/');
        int slash = t.IndexOf('/', StringComparison.Ordinal);
        string host = slash < 0 ? t : t[..slash];
        string prefix = slash < 0 ? "" : t[(slash + 1)..];
        if (host.Length == 0)
            throw new UsageException($"'{Digests.Digest.Describe(text)}': want REGISTRY[/PREFIX]");
        // Check both parts as a docker reference would: a repository under the prefix must be a valid name.
        if (!ImageName.TryParse($"{host}/{(prefix.Length == 0 ? "" : prefix + "/")}x", out var probe, out string err) || probe!.Domain != host)
            throw new UsageException($"'{Digests.Digest.Describe(text)}': not a registry and prefix ({(probe is null ? err : "the first part must be a host: add a port or a dot")})");
        return new RegistryPrefixReference(host, prefix);
    }

    /// <summary>The host to connect to for a name's domain.</summary>
    public static string HostOf(ImageName name) => name.Domain == ImageName.DefaultDomain ? "registry-1.docker.io" : name.Domain;

    public async ValueTask<IImageSource> OpenSourceAsync(ImageReference reference, TransportOptions options, CancellationToken cancellationToken = default)
    {
        if (reference is not RegistryReference r)
            throw new UsageException($"'{reference}': a registry prefix names no image to read; name one (docker://HOST/REPO:TAG)");
        return await RegistrySource.OpenAsync([r], options, cancellationToken).ConfigureAwait(false);
    }

    public ValueTask<IImageDestination> OpenDestinationAsync(ImageReference reference, TransportOptions options, CancellationToken cancellationToken = default)
    {
        if (options.Archive.Format is { } f)
            throw new UsageException($"--format {Layout.LayoutFormat.For(f).Name} applies to archives and layouts, not to the registry destination '{reference}'");
        return ValueTask.FromResult<IImageDestination>(reference switch
        {
            RegistryReference r => new RegistryDestination(r, null, options),
            RegistryPrefixReference p => new RegistryDestination(null, p, options),
            _ => throw new ArgumentException($"'{reference}' is not a registry reference", nameof(reference)),
        });
    }
}
