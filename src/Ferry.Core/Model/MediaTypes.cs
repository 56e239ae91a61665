namespace Ferry.Model;

/// <summary>The media types Ferry knows, and predicates over them. One table, used everywhere.</summary>
public static class MediaTypes
{
    /// <summary>OCI image manifest.</summary>
    public const string OciManifest = "application/vnd.oci.image.manifest.v1+json";
    /// <summary>OCI image index.</summary>
    public const string OciIndex = "application/vnd.oci.image.index.v1+json";
    /// <summary>OCI image config.</summary>
    public const string OciConfig = "application/vnd.oci.image.config.v1+json";
    /// <summary>OCI uncompressed layer.</summary>
    public const string OciLayer = "application/vnd.oci.image.layer.v1.tar";
    /// <summary>OCI gzip layer.</summary>
    public const string OciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
    /// <summary>OCI zstd layer.</summary>
    public const string OciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
    /// <summary>OCI non-distributable uncompressed layer (deprecated).</summary>
    public const string OciLayerNondistributable = "application/vnd.oci.image.layer.nondistributable.v1.tar";
    /// <summary>OCI non-distributable gzip layer (deprecated).</summary>
    public const string OciLayerNondistributableGzip = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
    /// <summary>OCI non-distributable zstd layer (deprecated).</summary>
    public const string OciLayerNondistributableZstd = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd";
    /// <summary>Used by some writers (go-containerregistry) in index.json for a manifest of unknown kind.</summary>
    public const string OciDescriptor = "application/vnd.oci.descriptor.v1+json";

    /// <summary>Docker schema 2 manifest.</summary>
    public const string DockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
    /// <summary>Docker manifest list.</summary>
    public const string DockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json";
    /// <summary>Docker image config.</summary>
    public const string DockerConfig = "application/vnd.docker.container.image.v1+json";
    /// <summary>Docker uncompressed layer.</summary>
    public const string DockerLayer = "application/vnd.docker.image.rootfs.diff.tar";
    /// <summary>Docker gzip layer.</summary>
    public const string DockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip";
    /// <summary>Docker foreign (non-distributable) layer.</summary>
    public const string DockerForeignLayerGzip = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
    /// <summary>Docker schema 1 manifest (not supported).</summary>
    public const string DockerSchema1 = "application/vnd.docker.distribution.manifest.v1+json";
    /// <summary>Signed Docker schema 1 manifest (not supported).</summary>
    public const string DockerSchema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws";

    /// <summary>The empty config of OCI 1.1 artifacts (<c>{}</c>).</summary>
    public const string OciEmpty = "application/vnd.oci.empty.v1+json";

    /// <summary>The layer media type of a cosign (simple signing) signature.</summary>
    public const string CosignSignature = "application/vnd.dev.cosign.simplesigning.v1+json";

    /// <summary>The layer media type of in-toto attestations (buildx provenance and SBOM attestations).</summary>
    public const string InTotoLayer = "application/vnd.in-toto+json";

    /// <summary>The annotation buildx puts on an attestation manifest's index descriptor.</summary>
    public const string DockerReferenceTypeAnnotation = "vnd.docker.reference.type";

    /// <summary>The value of <see cref="DockerReferenceTypeAnnotation"/> for an attestation manifest.</summary>
    public const string AttestationManifestType = "attestation-manifest";

    /// <summary>The annotation buildx puts on an attestation manifest's index descriptor: the digest of the image it attests.</summary>
    public const string DockerReferenceDigestAnnotation = "vnd.docker.reference.digest";

    /// <summary>Whether the type is an image manifest (OCI or Docker schema 2).</summary>
    public static bool IsImageManifest(string? mediaType) => mediaType is OciManifest or DockerManifest;

    /// <summary>Whether the type is an index (OCI index or Docker manifest list).</summary>
    public static bool IsIndex(string? mediaType) => mediaType is OciIndex or DockerManifestList;

    /// <summary>An image manifest or an index (of either family).</summary>
    public static bool IsManifestOrIndex(string? mediaType) => IsImageManifest(mediaType) || IsIndex(mediaType);

    /// <summary>Whether the type is a Docker schema 1 manifest.</summary>
    public static bool IsSchema1(string? mediaType) => mediaType is DockerSchema1 or DockerSchema1Signed;

    /// <summary>Whether the type is one of Docker's.</summary>
    public static bool IsDocker(string? mediaType) => mediaType?.StartsWith("application/vnd.docker.", StringComparison.Ordinal) == true;

    /// <summary>Whether the type names a layer (any compression, distributable or not).</summary>
    public static bool IsLayer(string? mediaType) => mediaType is not null &&
        (mediaType.StartsWith("application/vnd.oci.image.layer.", StringComparison.Ordinal) ||
         mediaType.StartsWith("application/vnd.docker.image.rootfs.", StringComparison.Ordinal));

    /// <summary>Whether the type is a foreign or non-distributable layer (its bytes may be absent).</summary>
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

    /// <summary>The annotation on a layer descriptor that says which codec and level Ferry gzipped it with (for inspect; the layer's bytes carry no mark).</summary>
    internal const string GzipCodecAnnotation = "io.ferry.gzip.codec";
}
