using Ferry.Transports.Files;

namespace Ferry.Transports.OciLayout;

/// <summary><c>oci-archive:PATH[:NAME]</c>: an OCI image layout in a tar.</summary>
internal sealed class OciArchiveTransport : FileTransport
{
    public static OciArchiveTransport Instance { get; } = new();

    public override string Name => "oci-archive";

    private protected override ArchiveKind Kind => ArchiveKind.OciArchive;

    private protected override OutputFormat? ImpliedFormat => OutputFormat.OciArchive;
}

/// <summary><c>oci:DIR[:NAME]</c>: an OCI image layout directory.</summary>
internal sealed class OciDirectoryTransport : FileTransport
{
    public static OciDirectoryTransport Instance { get; } = new();

    public override string Name => "oci";

    private protected override ArchiveKind Kind => ArchiveKind.OciDirectory;

    private protected override OutputFormat? ImpliedFormat => OutputFormat.Oci;
}
