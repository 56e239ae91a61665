namespace Ferry.Model;

/// <summary>The media types Ferry knows, and predicates over them. One table, used everywhere.</summary>
public static class MediaTypes
{
    public const string OciManifest = "application/vnd.oci.image.manifest.v1+json";
    public const string OciIndex = "application/vnd.oci.image.index.v1+json";
    public const string OciConfig = "application/vnd.oci.image.config.v1+json";
    public const string OciLayer = "application/vnd.oci.image.layer.v1.tar";
    public const string OciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
    public const string OciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
    public const string OciLayerNondistributable = "application/vnd.oci.image.layer.nondistributable.v1.tar";
    public const string OciLayerNondistributableGzip = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
    public const string OciLayerNondistributableZstd = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd";
    /// <summary>Used by some writers (go-containerregistry) in index.json for a manifest of unknown kind.</summary>
    public const string OciDescriptor = "application/vnd.oci.descriptor.v1+json";

    public const string DockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
    public const string DockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json";
    public const string DockerConfig = "application/vnd.docker.container.image.v1+json";
    public const string DockerLayer = "application/vnd.docker.image.rootfs.diff.tar";
    public const string DockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip";
    public const string DockerForeignLayerGzip = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
    public const string DockerSchema1 = "application/vnd.docker.distribution.manifest.v1+json";
    public const string DockerSchema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws";

    /// <summary>The layer media type of in-toto attestations (buildx provenance and SBOM attestations).</summary>
    public const string InTotoLayer = "application/vnd.in-toto+json";

    /// <summary>The annotation buildx puts on an attestation manifest's index descriptor.</summary>
    public const string DockerReferenceTypeAnnotation = "vnd.docker.reference.type";

    /// <summary>The value of <see cref="DockerReferenceTypeAnnotation"/> for an attestation manifest.</summary>
    public const string AttestationManifestType = "attestation-manifest";

    /// <summary>The annotation buildx puts on an attestation manifest's index descriptor: the digest of the image it attests.</summary>
    public const string DockerReferenceDigestAnnotation = "vnd.docker.reference.digest";

    public static bool IsImageManifest(string? mediaType) => mediaType is OciManifest or DockerManifest;

    public static bool IsIndex(string? mediaType) => mediaType is OciIndex or DockerManifestList;

    public static bool IsSchema1(string? mediaType) => mediaType is DockerSchema1 or DockerSchema1Signed;

    public static bool IsDocker(string? mediaType) => mediaType?.StartsWith("application/vnd.docker.", StringComparison.Ordinal) == true;

    /// <summary>Whether the type names a layer (any compression, distributable or not).</summary>
    public static bool IsLayer(string? mediaType) => mediaType is not null &&
        (mediaType.StartsWith("application/vnd.oci.image.layer.", StringComparison.Ordinal) ||
         mediaType.StartsWith("application/vnd.docker.image.rootfs.", StringComparison.Ordinal));

    public static bool IsForeign(string? mediaType) => mediaType is DockerForeignLayerGzip ||
        mediaType?.StartsWith("application/vnd.oci.image.layer.nondistributable.", StringComparison.Ordinal) == true;

    /// <summary>The compression a layer media type declares.</summary>
    public static Compression.CompressionKind LayerCompression(string mediaType) =>
        mediaType.EndsWith("+gzip", StringComparison.Ordinal) || mediaType.EndsWith(".tar.gzip", StringComparison.Ordinal)
            ? Compression.CompressionKind.Gzip
            : mediaType.EndsWith("+zstd", StringComparison.Ordinal) ? Compression.CompressionKind.Zstd
            : Compression.CompressionKind.None;

    /// <summary>The layer media type for a compression, in the OCI or the Docker family.</summary>
    public static string LayerFor(Compression.CompressionKind kind, bool docker) => (kind, docker) switch
    {
        (Compression.CompressionKind.Gzip, false) => OciLayerGzip,
        (Compression.CompressionKind.Zstd, _) => OciLayerZstd,
        (Compression.CompressionKind.None, false) => OciLayer,
        (Compression.CompressionKind.Gzip, true) => DockerLayerGzip,
        (Compression.CompressionKind.None, true) => DockerLayer,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "a layer cannot have this compression"),
    };
}
