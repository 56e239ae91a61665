using Ferry.Transports.Files;

namespace Ferry.Transports.DockerArchive;

/// <summary><c>docker-archive:PATH[:NAME]</c>: what <c>docker save</c> writes (read: every variant, legacy included).</summary>
internal sealed class DockerArchiveTransport : FileTransport
{
    public static DockerArchiveTransport Instance { get; } = new();

    public override string Name => "docker-archive";

    private protected override ArchiveKind Kind => ArchiveKind.DockerArchive;

    private protected override OutputFormat? ImpliedFormat => OutputFormat.DockerArchive;
}
