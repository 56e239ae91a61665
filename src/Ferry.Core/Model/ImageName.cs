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

    [GeneratedRegex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", RegexOptions.CultureInvariant)]
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
                error = $"invalid digest '{Digests.Digest.Describe(rest[(at + 1)..])}' (want sha256: and 64 lowercase hex digits)";
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
                error = $"invalid tag '{Digests.Digest.Describe(tag)}' (want letters, digits and _ . -, not first . or -, at most 128)";
                return false;
            }
        }
        string domain = DefaultDomain;
        string path = rest;
        int slash = rest.IndexOf('/', StringComparison.Ordinal);
        if (slash >= 0)
        {
            string first = rest[..slash];
            // As docker 20.10 and podman split it: only a dot, a port or "localhost" makes the first part a registry
            // (an uppercase first part is a repository that must be lowercase, which they refuse).
            if (first.Contains('.', StringComparison.Ordinal) || first.Contains(':', StringComparison.Ordinal) || first == "localhost")
            {
                if (!DomainPattern().IsMatch(first))
                {
                    error = $"invalid registry host '{Digests.Digest.Describe(first)}'";
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
        if (path.Length == 0)
        {
            error = "no repository name";
            return false;
        }
        if (path.Split('/').FirstOrDefault(c => !PathComponent().IsMatch(c)) is { } bad)
        {
            error = path.Any(char.IsUpper) && PathComponent().IsMatch(bad.ToLowerInvariant())
                ? $"repository '{Digests.Digest.Describe(path)}' must be lowercase"
                : $"invalid repository component '{Digests.Digest.Describe(bad)}' in '{Digests.Digest.Describe(path)}' (want lowercase letters and digits, separated by . _ __ or -)";
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

    /// <summary>
    /// Checks a name Ferry is about to give an image (<c>--tag</c>, a destination's <c>:NAME</c>): a reference in
    /// distribution's grammar (what docker and podman load), or where <paramref name="ociRefName"/> (an OCI layout's
    /// <c>:NAME</c>) also any OCI ref name. <paramref name="where"/> is what the user typed it in.
    /// </summary>
    /// <exception cref="UsageException">It is neither, naming the part that is wrong.</exception>
    internal static void CheckGiven(string text, string where, bool ociRefName = false, bool allowDigest = true)
    {
        if (TryParse(text, out var name, out string error))
        {
            if (name!.Digest is not null && (!allowDigest || name.Tag is not null))
                throw new UsageException($"{where}: a name given to an image cannot contain a digest");
            return;
        }
        if (ociRefName && IsOciRefName(text))
            return;
        throw new UsageException($"{where}: invalid image name: {error}");
    }

    /// <summary>The OCI ref name grammar (image-spec annotations.md): alphanumerics separated by <c>-._:@/+</c>.</summary>
    internal static bool IsOciRefName(string text) =>
        text.Length is > 0 and <= 255 && char.IsAsciiLetterOrDigit(text[0]) && char.IsAsciiLetterOrDigit(text[^1])
        && text.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_' or ':' or '@' or '/' or '+');

    /// <summary>Parses and normalises a reference.</summary>
    /// <exception cref="UsageException">The text is not a valid reference.</exception>
    public static ImageName Parse(string text) =>
        TryParse(text, out var n, out var err) ? n! : throw new UsageException($"invalid image name '{Ferry.Digests.Digest.Describe(text)}': {err}");
}
