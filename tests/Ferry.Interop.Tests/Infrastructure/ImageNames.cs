namespace Ferry.Interop.Tests.Infrastructure;

/// <summary>Docker reference normalisation: <c>ubuntu:20.04</c> and <c>docker.io/library/ubuntu:20.04</c> are the same name.</summary>
public static class ImageNames
{
    /// <summary>The fully qualified form: registry, repository path and tag (":latest" when none).</summary>
    public static string Normalize(string name)
    {
        string n = name.Trim();
        string? digest = null;
        int at = n.IndexOf('@', StringComparison.Ordinal);
        if (at >= 0)
        {
            digest = n[at..];
            n = n[..at];
        }
        int slash = n.IndexOf('/', StringComparison.Ordinal);
        string first = slash < 0 ? "" : n[..slash];
        bool hasDomain = slash >= 0 && (first.Contains('.', StringComparison.Ordinal) || first.Contains(':', StringComparison.Ordinal) || first == "localhost");
        string domain = hasDomain ? first : "docker.io";
        string path = hasDomain ? n[(slash + 1)..] : n;
        if (domain == "index.docker.io")
            domain = "docker.io";
        if (domain == "docker.io" && !path.Contains('/', StringComparison.Ordinal))
            path = "library/" + path;
        int lastSlash = path.LastIndexOf('/');
        bool hasTag = path.IndexOf(':', lastSlash + 1) >= 0;
        if (!hasTag && digest is null)
            path += ":latest";
        return domain + "/" + path + (digest ?? "");
    }

    /// <summary>Whether an OCI ref.name looks like a full reference (has a repository part) rather than a bare tag.</summary>
    public static bool IsReference(string refName) =>
        refName.Contains('/', StringComparison.Ordinal) || refName.Contains(':', StringComparison.Ordinal);

    public static IReadOnlyList<string> NormalizeAll(IEnumerable<string>? names) =>
        (names ?? []).Select(Normalize).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
}
