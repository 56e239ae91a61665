using System.Text.RegularExpressions;
using Ferry.Digests;

namespace Ferry.Model;

/// <summary>
/// A docker image reference (<c>[domain/]path[:tag][@digest]</c>), normalised the way docker does:
/// no domain means <c>docker.io</c>, and a one-component docker.io path gets <c>library/</c>.
/// </summary>
public sealed partial record ImageName
{
    /// <summary>The domain of names without one.</summary>
    public const string DefaultDomain = "docker.io";

    private ImageName(string domain, string path, string? tag, Digest? digest)
    {
        Domain = domain;
        Path = path;
        Tag = tag;
        Digest = digest;
    }

    /// <summary>The registry domain, e.g. <c>docker.io</c> or <c>127.0.0.1:5000</c>.</summary>
    public string Domain { get; }
    /// <summary>The repository path, e.g. <c>library/ubuntu</c>.</summary>
    public string Path { get; }
    /// <summary>The tag, or null.</summary>
    public string? Tag { get; }
    /// <summary>The digest, or null.</summary>
    public Digest? Digest { get; }

    /// <summary><c>docker.io/library/ubuntu</c>.</summary>
    public string FullRepository => Domain + "/" + Path;

    /// <summary><c>ubuntu</c> for <c>docker.io/library/ubuntu</c>; <c>quay.io/x/y</c> stays as is.</summary>
    public string FamiliarRepository =>
        Domain != DefaultDomain ? FullRepository
        : Path.StartsWith("library/", StringComparison.Ordinal) && Path.IndexOf('/', 8) < 0 ? Path[8..]
        : Path;

    /// <summary>The full normalised name, e.g. <c>docker.io/library/ubuntu:20.04</c>.</summary>
    public override string ToString() => FullRepository + Suffix;

    /// <summary>The familiar form docker prints, e.g. <c>ubuntu:20.04</c>.</summary>
    public string Familiar => FamiliarRepository + Suffix;

    private string Suffix => (Tag is null ? "" : ":" + Tag) + (Digest is null ? "" : "@" + Digest);

    /// <summary>The same repository with this tag (and no digest).</summary>
    public ImageName WithTag(string tag) => new(Domain, Path, tag, null);

    /// <summary>The same repository pinned to this digest (and no tag).</summary>
    public ImageName WithDigest(Digest digest) => new(Domain, Path, null, digest);

    /// <summary>The name with <c>:latest</c> when it has neither a tag nor a digest.</summary>
    public ImageName WithDefaultTag() => Tag is null && Digest is null ? WithTag("latest") : this;

    [GeneratedRegex("^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$", RegexOptions.CultureInvariant)]
    private static partial Regex PathComponent();

    [GeneratedRegex("^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?$|^\\[[a-fA-F0-9:]+\\](?::[0-9]+)?$", RegexOptions.CultureInvariant)]
    private static partial Regex DomainPattern();

    [GeneratedRegex("^[\\w][\\w.-]{0,127}$", RegexOptions.CultureInvariant)]
    private static partial Regex TagPattern();

    [GeneratedRegex("^[a-f0-9]{64}$", RegexOptions.CultureInvariant)]
    private static partial Regex BareId();

    /// <summary>Whether <paramref name="tag"/> is a valid docker tag.</summary>
    public static bool IsValidTag(string tag) => TagPattern().IsMatch(tag);

    /// <summary>Parses and normalises a reference; returns false with a reason when it is not valid.</summary>
    public static bool TryParse(string? text, out ImageName? name, out string error)
    {
        name = null;
        error = "";
        if (string.IsNullOrEmpty(text))
        {
            error = "empty reference";
            return false;
        }
        if (text.Length > 512 || text.Any(char.IsControl) || text.Any(char.IsWhiteSpace))
        {
            error = "contains whitespace or control characters, or is too long";
            return false;
        }
        string rest = text;
        Digest? digest = null;
        int at = rest.IndexOf('@', StringComparison.Ordinal);
        if (at >= 0)
        {
            if (!Digests.Digest.TryParse(rest[(at + 1)..], out var d))
            {
                error = "invalid digest";
                return false;
            }
            digest = d;
            rest = rest[..at];
        }
        string? tag = null;
        int lastSlash = rest.LastIndexOf('/');
        int colon = rest.LastIndexOf(':');
        if (colon > lastSlash)
        {
            tag = rest[(colon + 1)..];
            rest = rest[..colon];
            if (!IsValidTag(tag))
            {
                error = $"invalid tag '{tag}'";
                return false;
            }
        }
        string domain = DefaultDomain;
        string path = rest;
        int slash = rest.IndexOf('/', StringComparison.Ordinal);
        if (slash >= 0)
        {
            string first = rest[..slash];
            if (first.Contains('.', StringComparison.Ordinal) || first.Contains(':', StringComparison.Ordinal) || first == "localhost" || first.Any(char.IsUpper))
            {
                if (!DomainPattern().IsMatch(first))
                {
                    error = $"invalid domain '{first}'";
                    return false;
                }
                domain = first == "index.docker.io" ? DefaultDomain : first;
                path = rest[(slash + 1)..];
            }
        }
        else if (BareId().IsMatch(rest) && tag is null && digest is null)
        {
            error = "a 64-hex string is an image ID, not a name";
            return false;
        }
        if (path.Length == 0 || path.Split('/').Any(c => !PathComponent().IsMatch(c)))
        {
            error = path.Any(char.IsUpper) ? "repository name must be lowercase" : $"invalid repository name '{path}'";
            return false;
        }
        if (domain == DefaultDomain && !path.Contains('/', StringComparison.Ordinal))
            path = "library/" + path;
        if (domain.Length + 1 + path.Length > 255)
        {
            error = "repository name is longer than 255 characters";
            return false;
        }
        name = new ImageName(domain, path, tag, digest);
        return true;
    }

    /// <summary>Parses and normalises a reference.</summary>
    /// <exception cref="UsageException">The text is not a valid reference.</exception>
    public static ImageName Parse(string text) =>
        TryParse(text, out var n, out var err) ? n! : throw new UsageException($"invalid image name '{Ferry.Digests.Digest.Describe(text)}': {err}");
}
