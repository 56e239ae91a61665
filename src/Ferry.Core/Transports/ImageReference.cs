namespace Ferry.Transports;

/// <summary>The transports Ferry speaks.</summary>
public enum TransportKind
{
    /// <summary>A plain path (or <c>-</c>): the format is sniffed on input and chosen by <c>--format</c> on output.</summary>
    Path,
    DockerArchive,
    OciArchive,
    OciDirectory,

    /// <summary>A Docker Engine (or podman service): <c>docker-daemon:NAME[:TAG]</c> or <c>docker-daemon:sha256:ID</c>.</summary>
    DockerDaemon,

    /// <summary>A registry: <c>docker://HOST[:PORT]/REPO[:TAG|@DIGEST]</c>.</summary>
    Registry,
}

/// <summary>
/// A SOURCE or DEST in skopeo's grammar: <c>docker-archive:PATH[:NAME]</c>, <c>oci-archive:PATH[:NAME]</c>,
/// <c>oci:DIR[:NAME]</c>, or a plain path (<c>-</c> for stdin/stdout).
/// </summary>
public sealed record ImageReference(TransportKind Transport, string Path, string? Name)
{
    public bool IsStdio => Path == "-";

    public bool IsDaemon => Transport == TransportKind.DockerDaemon;

    public bool IsRegistry => Transport == TransportKind.Registry;

    public static ImageReference Parse(string text)
    {
        foreach (var (prefix, kind) in new[] { ("docker-archive:", TransportKind.DockerArchive), ("oci-archive:", TransportKind.OciArchive), ("oci:", TransportKind.OciDirectory) })
        {
            if (!text.StartsWith(prefix, StringComparison.Ordinal))
                continue;
            string rest = text[prefix.Length..];
            int colon = rest.IndexOf(':', StringComparison.Ordinal);
            string path = colon < 0 ? rest : rest[..colon];
            string? name = colon < 0 ? null : rest[(colon + 1)..];
            if (path.Length == 0)
                throw new UsageException($"'{text}': no path after '{prefix}'");
            if (name is { Length: 0 })
                name = null;
            return new ImageReference(kind, path, name);
        }
        if (text.StartsWith("docker-daemon:", StringComparison.Ordinal))
        {
            string name = text["docker-daemon:".Length..];
            return new ImageReference(TransportKind.DockerDaemon, "", name.Length == 0 ? null : name);
        }
        if (text.StartsWith("docker://", StringComparison.Ordinal))
        {
            if (text.Length == "docker://".Length)
                throw new UsageException($"'{text}': no registry reference after docker://");
            return new ImageReference(TransportKind.Registry, "", text);
        }
        if (text.Length == 0)
            throw new UsageException("empty path");
        return new ImageReference(TransportKind.Path, text, null);
    }

    public override string ToString() => Transport switch
    {
        TransportKind.DockerArchive => "docker-archive:" + Path + (Name is null ? "" : ":" + Name),
        TransportKind.OciArchive => "oci-archive:" + Path + (Name is null ? "" : ":" + Name),
        TransportKind.OciDirectory => "oci:" + Path + (Name is null ? "" : ":" + Name),
        TransportKind.DockerDaemon => "docker-daemon:" + Name,
        TransportKind.Registry => Name!,
        _ => Path,
    };
}
