using Ferry.Digests;
using Ferry.Incremental;
using Ferry.Model;
using Ferry.Transports;
using Ferry.Progress;

namespace Ferry.Copy;

/// <summary>What to do with layer compression.</summary>
public enum CompressMode
{
    /// <summary>Keep each layer's bytes, unless the destination cannot keep their compression (zstd for docker before 23.0 becomes gzip).</summary>
    Keep,
    /// <summary>Every layer as gzip.</summary>
    Gzip,
    /// <summary>Every layer as zstd.</summary>
    Zstd,
    /// <summary>Every layer uncompressed.</summary>
    None,
}

/// <summary>Options of <see cref="ImageCopier"/>: which images, under which names, how layers are compressed, and each side's transport options.</summary>
public sealed record CopyOptions
{
    /// <summary>Layer compression in the output.</summary>
    public CompressMode Compress { get; init; } = CompressMode.Keep;

    /// <summary>The compression level for layers Ferry compresses (gzip 1–9, zstd 1–19); null for the default (gzip 3, zstd 3).</summary>
    public int? CompressionLevel { get; init; }

    /// <summary>
    /// Which deflate implementation gzips layers (default: <see cref="Compression.GzipCodec.Auto"/>, the fastest one
    /// installed). Codecs give different bytes; each is deterministic for its level.
    /// </summary>
    public Compression.GzipCodec GzipCodec { get; init; } = Compression.GzipCodec.Auto;

    /// <summary>Selects images of the source (see <see cref="Images.ImageSelector"/>); empty means all.</summary>
    public IReadOnlyList<string> Images { get; init; } = [];

    /// <summary>Names added to the (single) selected image.</summary>
    public IReadOnlyList<string> Tags { get; init; } = [];

    /// <summary>
    /// Copy only these platforms of multi-platform images (null: every platform). One platform gives that platform's
    /// manifest itself (as docker and skopeo do); several give a new index listing only them (a new digest), unless
    /// <see cref="KeepIndex"/>. The first is also the one docker gets.
    /// </summary>
    public IReadOnlyList<Platform>? Platforms { get; init; }

    /// <summary>With <see cref="Platforms"/>: keep the original index bytes (its digest, and its signature), with only the chosen platforms' blobs (a sparse index).</summary>
    public bool KeepIndex { get; init; }

    /// <summary>Copy without signatures, and let manifests they signed change (recompression, a platform subset); other referrers of a changed manifest are left out too.</summary>
    public bool RemoveSignatures { get; init; }

    /// <summary>Receives warnings and notes meant for people (stderr).</summary>
    public Action<string>? Log { get; init; }

    /// <summary>Receives per-blob progress.</summary>
    public ICopyProgress? Progress { get; init; }

    /// <summary>
    /// Whether every layer copied is checked against its config's diff_id (default): free for uncompressed layers
    /// (their digest is their diff_id), decompressed beside the copy on another core for compressed ones. A mismatch
    /// stops the copy before anything is committed.
    /// </summary>
    public bool VerifyDiffIds { get; init; } = true;

    /// <summary>
    /// Write an incremental archive: layers this record says were shipped before are left out (their manifests, configs
    /// and referrers stay), and the archive records which earlier archives carried them (<c>--since</c>). The
    /// destination must be an OCI archive or layout (portable, oci-archive, oci).
    /// </summary>
    public ShipRecord? Since { get; init; }

    /// <summary>
    /// After a copy to an archive on this machine: write the record of what it shipped (its layers, and what it extends)
    /// to this file, for a later <see cref="Since"/> (<c>--record</c>).
    /// </summary>
    public string? Record { get; init; }

    /// <summary>Decides, before anything is written, whether each image may be copied (a signature policy); null admits all.</summary>
    public IImageAdmission? Admission { get; init; }

    /// <summary>An image <see cref="Admission"/> refuses is left out (and reported in <see cref="CopyResult.Refused"/>) instead of stopping the copy.</summary>
    public bool ContinueOnError { get; init; }

    /// <summary>
    /// Whether the verified-layer cache is used: once a compressed layer was inflated and matched its diff_id, the pair
    /// is remembered (per user, in <see cref="LayerCacheDirectory"/>) and the layer is not inflated again by a later copy
    /// (its compressed digest is still checked on every byte). Off by default for the library; <c>ferry</c> turns it on
    /// (<c>--no-cache</c> turns it off).
    /// </summary>
    public bool UseLayerCache { get; init; }

    /// <summary>
    /// Where the verified-layer cache is kept (default: <c>$FERRY_CACHE_DIR</c>, else <c>$XDG_CACHE_HOME/ferry</c>, else
    /// <c>~/.cache/ferry</c>; <c>FERRY_CACHE_DIR</c> set empty turns it off).
    /// </summary>
    public string? LayerCacheDirectory { get; init; }

    /// <summary>How many layers are recompressed at once (default: the processor count).</summary>
    public int Parallelism { get; init; } = Environment.ProcessorCount;

    /// <summary>How the source is reached (credentials, daemon address, stdin).</summary>
    public TransportOptions Source { get; init; } = new();

    /// <summary>How the destination is reached and written (credentials, daemon address, stdout, archive format, mtime).</summary>
    public TransportOptions Destination { get; init; } = new();
}

/// <summary>A blob (config or layer) of a copied image and what became of it.</summary>
public sealed record CopiedBlob(Digest Digest, long Size, string MediaType, BlobAction Action)
{
    /// <summary>How a layer was checked against its config's diff_id (none for configs, uncompressed layers and blobs left out).</summary>
    public LayerCheck Check { get; init; }
}

/// <summary>How a compressed layer was checked against its config's diff_id.</summary>
public enum LayerCheck
{
    /// <summary>Not checked here (a config, an artifact's blob, an uncompressed layer whose digest is its diff_id, <see cref="CopyOptions.VerifyDiffIds"/> off).</summary>
    None,

    /// <summary>Inflated and hashed during this copy.</summary>
    Inflated,

    /// <summary>
    /// The verified-layer cache knew its compressed digest and diff_id: not inflated again (its compressed bytes are
    /// still hashed on every byte, so they are the ones the cache verified).
    /// </summary>
    Cached,
}

/// <summary>What was written for one image.</summary>
/// <param name="Names">The names it was written under (full names, then bare ref names).</param>
/// <param name="ImageId">The config digest of its image (for an index, of the image docker would get).</param>
/// <param name="ManifestDigest">The digest of the manifest or index written, when the destination keeps manifests.</param>
/// <param name="References">Where it is found now (e.g. <c>HOST/REPO:TAG</c>, <c>HOST/REPO@sha256:…</c>).</param>
/// <param name="DestinationId">The image ID the destination gave it, when it says (a daemon).</param>
/// <param name="Blobs">Its configs and layers, each once.</param>
public sealed record CopiedImage(IReadOnlyList<string> Names, Digest ImageId, Digest? ManifestDigest, IReadOnlyList<string> References, Digest? DestinationId,
    IReadOnlyList<CopiedBlob> Blobs)
{
    /// <summary>
    /// Per reference, its blobs and what became of them there, where that differs between references (a push to two
    /// repositories uploads to the first and mounts into the second); empty when <see cref="Blobs"/> says it for all.
    /// </summary>
    public IReadOnlyList<CopiedReference> PerReference { get; init; } = [];

    /// <summary>The blobs as they went to <paramref name="reference"/> (one of <see cref="References"/>).</summary>
    public IReadOnlyList<CopiedBlob> BlobsAt(string reference) => PerReference.FirstOrDefault(r => r.Reference == reference)?.Blobs ?? Blobs;
}

/// <summary>One reference an image was written to, and what became of each of its blobs there.</summary>
public sealed record CopiedReference(string Reference, IReadOnlyList<CopiedBlob> Blobs);

/// <summary>The outcome of a copy.</summary>
/// <param name="Source">The source's name.</param>
/// <param name="SourceFormat">What the source was (see <see cref="IImageSource.Format"/>).</param>
/// <param name="Destination">The destination's name.</param>
/// <param name="DestinationFormat">What the destination is (see <see cref="IImageDestination.Format"/>).</param>
/// <param name="Images">Every image written, in order.</param>
/// <param name="Messages">What the destination reported at commit (a daemon's "Loaded image: …" names).</param>
public sealed record CopyResult(string Source, string SourceFormat, string Destination, string DestinationFormat, IReadOnlyList<CopiedImage> Images, IReadOnlyList<string> Messages)
{
    /// <summary>The images <see cref="CopyOptions.Admission"/> refused and <see cref="CopyOptions.ContinueOnError"/> left out.</summary>
    public IReadOnlyList<RefusedImage> Refused { get; init; } = [];
}
