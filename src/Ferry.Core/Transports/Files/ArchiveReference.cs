namespace Ferry.Transports.Files;

/// <summary>
/// A reference to an archive or layout on this machine: <c>docker-archive:PATH[:NAME]</c>, <c>oci-archive:PATH[:NAME]</c>,
/// <c>oci:DIR[:NAME]</c>, or a plain path (<c>-</c> for stdin/stdout). On a source, NAME selects an image; on a
/// destination it names the one image written.
/// </summary>
public sealed class ArchiveReference : ImageReference
{
    internal ArchiveReference(ITransport transport, string path, string? name)
    {
        Transport = transport;
        Path = path;
        Name = name;
    }

    /// <inheritdoc/>
    public override ITransport Transport { get; }

    /// <summary>The file or directory (<c>-</c>: stdin or stdout).</summary>
    public string Path { get; }

    /// <summary>The <c>:NAME</c> part, or null.</summary>
    public string? Name { get; }

    /// <inheritdoc/>
    public override bool IsStdio => Path == "-";

    /// <inheritdoc/>
    public override string? LocalPath => IsStdio ? null : Path;

    /// <inheritdoc/>
    public override string ToString() => Transport is PathTransport ? Path : Transport.Name + ":" + Path + (Name is null ? "" : ":" + Name);
}
