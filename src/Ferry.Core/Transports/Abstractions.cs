using Ferry.Compression;
using Ferry.Incremental;
using Ferry.Progress;
using Ferry.Digests;
using Ferry.Images;
using Ferry.Model;

namespace Ferry.Transports;

/// <summary>
/// A way to reach images — an archive format, a layout directory, a Docker Engine, a registry — named by the prefix of
/// a reference (<c>docker-archive:PATH</c>, <c>docker://HOST/REPO</c>). It parses its references and opens image sources
/// and destinations. Register new ones in a <see cref="TransportRegistry"/>.
/// </summary>
public interface ITransport
{
    /// <summary>The prefix without its colon (<c>docker-archive</c>, <c>oci-archive</c>, <c>oci</c>, <c>docker-daemon</c>, <c>docker</c>).</summary>
    string Name { get; }

    /// <summary>Parses what follows <c>NAME:</c> in a reference.</summary>
    /// <exception cref="UsageException">The reference is not valid for this transport.</exception>
    ImageReference ParseReference(string reference);

    /// <summary>Opens the images <paramref name="reference"/> names for reading.</summary>
    /// <exception cref="FerryException">The source is missing, unreachable or malformed.</exception>
    ValueTask<IImageSource> OpenSourceAsync(ImageReference reference, TransportOptions options, CancellationToken cancellationToken = default);

    /// <summary>Opens <paramref name="reference"/> for writing. Nothing is visible there until <see cref="IImageDestination.CommitAsync"/>.</summary>
    /// <exception cref="FerryException">The destination cannot be written.</exception>
    ValueTask<IImageDestination> OpenDestinationAsync(ImageReference reference, TransportOptions options, CancellationToken cancellationToken = default);
}

/// <summary>A parsed SOURCE or DEST: a transport and what it names. <see cref="object.ToString"/> gives the reference back.</summary>
public abstract class ImageReference
{
    /// <summary>For transports of other assemblies.</summary>
    protected ImageReference() { }

    /// <summary>The transport that opens this reference.</summary>
    public abstract ITransport Transport { get; }

    /// <summary>The file or directory this reference names on this machine, if any (used to refuse writing over the input).</summary>
    public virtual string? LocalPath => null;

    /// <summary>Whether the reference is <c>-</c>: standard input as a source, standard output as a destination.</summary>
    public virtual bool IsStdio => false;
}

/// <summary>
/// Options for one side of a copy: what each kind of transport needs (<see cref="Registry"/>, <see cref="Daemon"/>,
/// <see cref="Archive"/>), and what every transport shares (timeouts, what to read, where to tell people).
/// </summary>
public sealed record TransportOptions
{
    /// <summary>For <c>docker://</c>: credentials, TLS and transfer settings.</summary>
    public Registry.RegistryOptions Registry { get; init; } = new();

    /// <summary>For <c>docker-daemon:</c>: which Docker Engine.</summary>
    public DaemonOptions Daemon { get; init; } = new();

    /// <summary>For archives and layouts on this machine and <c>-</c>: the streams, the format written, parts, bases.</summary>
    public ArchiveOptions Archive { get; init; } = new();

    /// <summary>
    /// For a registry source: the platforms the copy wants (default: all). The children of a multi-platform index that
    /// declare another platform are not fetched (they stay descriptors, as in a sparse index); the index's bytes are kept.
    /// </summary>
    public IReadOnlyList<Platform>? Platforms { get; init; }

    /// <summary>Which referrers (signatures, attestations, SBOMs, OCI 1.1 referrers) a source reads with its images (default: all).</summary>
    public Images.ReferrerSelection Referrers { get; init; } = Images.ReferrerSelection.All;

    /// <summary>Receives warnings and notes meant for people (stderr).</summary>
    public Action<string>? Log { get; init; }

    /// <summary>
    /// Receives progress of what a transport does before a copy can start: receiving a daemon's save, spooling stdin
    /// (<see cref="Copy.CopyOptions.Progress"/> is passed here by the copier when this is null).
    /// </summary>
    public ICopyProgress? Progress { get; init; }

    /// <summary>
    /// How long a peer (registry, token server, daemon, credential helper) may keep Ferry waiting: to connect, for the
    /// answer to a request once its body is sent, for the next byte of a transfer, and for a whole small document
    /// (a manifest, a token, <c>/version</c>): 2 minutes.
    /// </summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Where stdin and daemon saves are spooled (default: the system's temp directory).</summary>
    public string? TempDirectory { get; init; }

    internal string TempDir => TempDirectory ?? Path.GetTempPath();
}

/// <summary>How to reach a Docker Engine (<c>docker-daemon:</c>).</summary>
public sealed record DaemonOptions
{
    /// <summary>The Engine API address, <c>unix://…</c> or <c>tcp://…</c> (default: <c>DOCKER_HOST</c>, else the local socket).</summary>
    public string? Host { get; init; }

    /// <summary>The most a daemon's save may send (tests make it small); a save also stops when the temp disk runs low.</summary>
    internal long MaxSaveBytes { get; init; } = 1L << 40;
}

/// <summary>How archives and layouts on this machine (and <c>-</c>) are read and written.</summary>
public sealed record ArchiveOptions
{
    /// <summary>Standard input, for the source <c>-</c> (default: the process's).</summary>
    public Func<Stream>? Stdin { get; init; }

    /// <summary>Standard output, for the destination <c>-</c> (default: the process's).</summary>
    public Func<Stream>? Stdout { get; init; }

    /// <summary>The archive format a plain path (or <c>-</c>) is written in (default: portable).</summary>
    public OutputFormat? Format { get; init; }

    /// <summary>
    /// For an incremental archive source: the archives (paths) that carried the layers it leaves out (<c>--base</c>);
    /// they are read as part of it, so it is complete.
    /// </summary>
    public IReadOnlyList<string> Bases { get; init; } = [];

    /// <summary>
    /// Write an archive file as parts of at most this many bytes (<c>PATH.000</c>, <c>PATH.001</c>, … and
    /// <c>PATH.sha256</c>); null writes one file. Not for directories or standard output.
    /// </summary>
    public long? SplitSize { get; init; }

    /// <summary>
    /// How many blobs an archive or layout is written with at once, each at its own offset (default: the processor
    /// count, at least 2, so that downloads overlap). Each costs a few MiB of buffers. Standard output and split
    /// archives are written in order.
    /// </summary>
    public int Parallelism { get; init; } = Math.Max(2, Environment.ProcessorCount);

    /// <summary>The mtime written in every tar header (seconds since the epoch): <c>SOURCE_DATE_EPOCH</c>, else 0.</summary>
    public long Mtime { get; init; } = DefaultMtime();

    private static long DefaultMtime() =>
        long.TryParse(Environment.GetEnvironmentVariable("SOURCE_DATE_EPOCH"), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long v) ? v : 0;
}

/// <summary>
/// Images opened for reading: every top-level image or index with its names, the manifest tree below it with raw bytes
/// beside the parsed forms, and blobs opened as streams. Disposing releases what the source holds (temp files,
/// connections).
/// </summary>
public interface IImageSource : IAsyncDisposable
{
    /// <summary>The source's name in messages.</summary>
    string DisplayName { get; }

    /// <summary>
    /// What the source is: <c>docker-archive</c>, <c>docker-archive (legacy)</c>, <c>oci-archive</c>, <c>oci</c>,
    /// <c>portable</c> (OCI layout + manifest.json), <c>registry</c>, or for a daemon the format it saved.
    /// </summary>
    string Format { get; }

    /// <summary>The images, in the source's order.</summary>
    IReadOnlyList<NamedImage> Images { get; }

    /// <summary>Things worth telling the user that did not stop reading (odd names, legacy synthesis, …).</summary>
    IReadOnlyList<string> Warnings { get; }

    /// <summary>The compression of the whole archive, when it was compressed (it is decompressed to a temp file to read it).</summary>
    CompressionKind ArchiveCompression => CompressionKind.None;

    /// <summary>
    /// For an incremental archive opened without its bases: the layers it leaves out (their <see cref="SourceLayer.Blob"/>
    /// is null) and the earlier archives that carried them. Null for a complete source.
    /// </summary>
    ShipRecord? Incremental => null;
}

/// <summary>What a destination accepts and needs; the copier adapts what it writes to this.</summary>
public sealed record DestinationCapabilities
{
    /// <summary>Keeps manifests and indexes with their bytes (an OCI layout, a registry): the copier writes the whole manifest tree.</summary>
    public bool KeepsManifests { get; init; }

    /// <summary>Needs one docker image (config + layers) per name, as docker's <c>manifest.json</c> and <c>docker load</c> do: the copier picks one platform of each index.</summary>
    public bool NeedsDockerImages { get; init; }

    /// <summary>Layer compressions kept as they are under <c>--compress keep</c>; other layers are recompressed as gzip.</summary>
    public IReadOnlySet<CompressionKind> KeptLayerCompressions { get; init; } = AllLayerCompressions;

    /// <summary>Layer compressions the destination can take at all, when asked for with <c>--compress</c>.</summary>
    public IReadOnlySet<CompressionKind> AcceptedLayerCompressions { get; init; } = AllLayerCompressions;

    /// <summary>Why a compression is not kept (said once when a layer is recompressed because of it).</summary>
    public string? RecompressReason { get; init; }

    /// <summary>Keeps referrers (signatures, attestations, SBOMs, OCI 1.1 referrers) beside their images (<see cref="IImageWriter.PutReferrerAsync"/>).</summary>
    public bool KeepsReferrers { get; init; }

    /// <summary>
    /// Needs a name for every image (a registry under a prefix): an artifact that refers to something the source does
    /// not hold, and so came without a name, is then left out with a note rather than stopping the copy.
    /// </summary>
    public bool NeedsNames { get; init; }

    /// <summary>
    /// Takes names that are OCI ref names but no docker references (<c>oci:DIR:1.0</c>, a bare tag as skopeo writes it):
    /// an OCI layout's index.json. Every other destination takes only names docker and podman load.
    /// </summary>
    public bool TakesRefNames { get; init; }

    /// <summary>Whether <see cref="IImageWriter.TryReuseBlobAsync"/> can find blobs already there or mount them (registries).</summary>
    public bool ReusesBlobs { get; init; }

    /// <summary>How many blobs the copier hands over at once.</summary>
    public int MaxParallelBlobs { get; init; } = 1;

    /// <summary>
    /// Can be an incremental archive (an OCI archive or layout: it has an <c>index.json</c> to record what it extends):
    /// the copier leaves out layers an earlier archive carried and tells the destination with
    /// <see cref="IImageDestination.RecordOmitted"/>.
    /// </summary>
    public bool KeepsIncremental { get; init; }

    /// <summary>Where layers whose compression changes are staged (beside the destination when it is a file).</summary>
    public string? StagingDirectory { get; init; }

    /// <summary>gzip, zstd and uncompressed.</summary>
    public static IReadOnlySet<CompressionKind> AllLayerCompressions { get; } = new HashSet<CompressionKind> { CompressionKind.None, CompressionKind.Gzip, CompressionKind.Zstd };

    /// <summary>gzip and uncompressed: what docker before 23.0 can apply.</summary>
    public static IReadOnlySet<CompressionKind> DockerClassicLayerCompressions { get; } = new HashSet<CompressionKind> { CompressionKind.None, CompressionKind.Gzip };
}

/// <summary>What happened to a blob at the destination.</summary>
public enum BlobAction
{
    /// <summary>Its bytes were written (to the archive, or uploaded).</summary>
    Written,

    /// <summary>Mounted from another repository of the registry: no bytes sent.</summary>
    Mounted,

    /// <summary>The destination had it already.</summary>
    Present,

    /// <summary>Left out of an incremental archive: an earlier archive carried it.</summary>
    Omitted,
}

/// <summary>How <see cref="IImageWriter.TryReuseBlobAsync"/> found a blob.</summary>
public enum BlobReuse
{
    /// <summary>Not there: the blob must be put.</summary>
    None,

    /// <summary>The destination already has it.</summary>
    Present,

    /// <summary>Mounted from another repository of the same registry: no bytes were sent.</summary>
    Mounted,
}

/// <summary>
/// Images opened for writing. Call order:
/// <list type="number">
/// <item><see cref="BeginImageAsync"/> once for every image to be written, before anything else (a destination refuses
/// names here, before anything is written);</item>
/// <item>for each image, on its writer: <see cref="IImageWriter.TryReuseBlobAsync"/> then, unless reused,
/// <see cref="IImageWriter.PutBlobAsync"/> for every config and layer (up to
/// <see cref="DestinationCapabilities.MaxParallelBlobs"/> at once); <see cref="IImageWriter.PutManifestAsync"/> for
/// every manifest and index, children before parents (only when <see cref="DestinationCapabilities.KeepsManifests"/>);
/// for each referrer of the image, its blobs and manifest the same way, then <see cref="IImageWriter.PutReferrerAsync"/>
/// (only when <see cref="DestinationCapabilities.KeepsReferrers"/>); then <see cref="IImageWriter.FinishAsync"/> once;</item>
/// <item><see cref="CommitAsync"/> once: only now do the images become visible (the file is renamed into place, the
/// daemon loads, the registry's tags are set).</item>
/// </list>
/// Disposing without <see cref="CommitAsync"/> leaves nothing behind (no file, no tag, nothing loaded).
/// </summary>
public interface IImageDestination : IAsyncDisposable
{
    /// <summary>The destination's name in messages.</summary>
    string DisplayName { get; }

    /// <summary>What the destination is, e.g. <c>portable</c>, <c>oci</c>, <c>registry</c>, <c>docker-daemon</c>.</summary>
    string Format { get; }

    /// <summary>What it accepts and needs.</summary>
    DestinationCapabilities Capabilities { get; }

    /// <summary>The name the reference gives the one image written (<c>oci:DIR:NAME</c>, <c>docker://HOST/REPO:TAG</c>), or null to keep the images' names.</summary>
    string? RequestedName { get; }

    /// <summary>Starts writing one image under the names the copy gives it.</summary>
    /// <exception cref="FerryException">The destination cannot take the image under these names (e.g. a registry and an image without a repository).</exception>
    ValueTask<IImageWriter> BeginImageAsync(PlannedImage image, CancellationToken cancellationToken = default);

    /// <summary>Makes everything written visible; returns what the destination reports (e.g. the daemon's "Loaded image" lines).</summary>
    ValueTask<IReadOnlyList<string>> CommitAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Before <see cref="CommitAsync"/>, only when <see cref="DestinationCapabilities.KeepsIncremental"/>: the layers this
    /// incremental archive leaves out and the earlier archives that carried them, to be recorded in it.
    /// </summary>
    void RecordOmitted(ShipRecord omitted) => throw new NotSupportedException($"{DisplayName} cannot be an incremental archive");
}

/// <summary>Writes one image of a copy; see <see cref="IImageDestination"/> for the call order.</summary>
public interface IImageWriter
{
    /// <summary>Whether the destination has the blob already, or can mount it from <paramref name="origin"/> without its bytes.</summary>
    ValueTask<BlobReuse> TryReuseBlobAsync(Descriptor blob, BlobOrigin? origin, CancellationToken cancellationToken = default);

    /// <summary>Stores a blob (a config or a layer). <paramref name="content"/> may be opened now or at commit; it checks its digest and size as it is read.</summary>
    ValueTask PutBlobAsync(Descriptor blob, BlobContent content, CancellationToken cancellationToken = default);

    /// <summary>Stores a manifest or index with exactly these bytes (children before parents).</summary>
    ValueTask PutManifestAsync(Descriptor manifest, ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken = default);

    /// <summary>
    /// Records that the manifest <paramref name="artifact"/> (already put, with its blobs) refers to another one, as
    /// <paramref name="referrer"/> says (a cosign tag, or an OCI 1.1 subject). Only called when
    /// <see cref="DestinationCapabilities.KeepsReferrers"/>, subjects before their referrers.
    /// </summary>
    ValueTask PutReferrerAsync(Descriptor artifact, Referrer referrer, CancellationToken cancellationToken = default);

    /// <summary>
    /// Ends the image: <paramref name="root"/> is its manifest or index (null when the destination does not keep
    /// manifests), <paramref name="docker"/> the one image for docker (when the destination needs it).
    /// </summary>
    ValueTask<WrittenImage> FinishAsync(Descriptor? root, DockerImage? docker, CancellationToken cancellationToken = default);
}

/// <summary>An image a copy is about to write: what identifies it in the source, and the names it gets.</summary>
/// <param name="Key">The source's manifest or index digest (the config digest for a docker-archive image).</param>
/// <param name="Label">How to name it in messages.</param>
/// <param name="Names">Full names; a digest-pinned name has a digest and no tag.</param>
/// <param name="RefNames">Bare OCI ref names (not full references).</param>
public sealed record PlannedImage(Digest Key, string Label, IReadOnlyList<ImageName> Names, IReadOnlyList<string> RefNames);

/// <summary>What a destination made of one image.</summary>
/// <param name="References">Where the image is found once committed (<c>HOST/REPO:TAG</c>, <c>HOST/REPO@DIGEST</c>, a name in an archive).</param>
/// <param name="DestinationId">The image ID the destination gives it, when it says (a daemon: the config digest, or in the containerd image store the manifest or index digest).</param>
public sealed record WrittenImage(IReadOnlyList<string> References, Digest? DestinationId)
{
    /// <summary>
    /// For a destination that writes an image to several places (a registry: one repository per name), what became of
    /// each blob at each reference (uploaded to the first repository, mounted into the next); null when it is the same
    /// everywhere.
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<Digest, BlobAction>>? BlobsByReference { get; init; }
}

/// <summary>An image as docker sees it: its config and layers (blobs already put), in order.</summary>
public sealed record DockerImage(Descriptor Config, IReadOnlyList<Descriptor> Layers);

/// <summary>
/// The bytes of one blob as a destination receives them: opened when the destination needs them (maybe more than once),
/// checked against <see cref="Digest"/> and <see cref="Size"/> as they are read.
/// </summary>
public sealed class BlobContent
{
    private readonly Func<CancellationToken, ValueTask<Stream>> _open;

    private BlobContent(Digest digest, long size, string what, BlobOrigin? origin, Func<CancellationToken, ValueTask<Stream>> open)
    {
        Digest = digest;
        Size = size;
        What = what;
        Origin = origin;
        _open = open;
    }

    /// <summary>The blob's digest.</summary>
    public Digest Digest { get; }

    /// <summary>The blob's size in bytes.</summary>
    public long Size { get; }

    /// <summary>What the blob is, for messages and progress (e.g. <c>layer sha256:8a0b…</c>).</summary>
    public string What { get; }

    /// <summary>Where it can be mounted from, when it comes from a registry.</summary>
    public BlobOrigin? Origin { get; }

    /// <summary>Opens the content; reading it to its end verifies it (a mismatch throws <see cref="DigestMismatchException"/>).</summary>
    public ValueTask<Stream> OpenAsync(CancellationToken cancellationToken = default) => _open(cancellationToken);

    /// <summary>A blob of a source, verified as it is read.</summary>
    public static BlobContent FromSource(BlobSource source, Digest digest, long size, string what) =>
        new(digest, size, what, source.Origin, async ct => await source.OpenVerifiedAsync(digest, size, what, ct).ConfigureAwait(false));

    /// <summary>Bytes in memory (a manifest, a config).</summary>
    public static BlobContent FromBytes(ReadOnlyMemory<byte> bytes, string what)
    {
        var digest = Digest.Sha256Of(bytes.Span);
        return new(digest, bytes.Length, what, null, _ => ValueTask.FromResult<Stream>(new ReadOnlyMemoryStream(bytes)));
    }

    /// <summary>A file Ferry wrote itself (a recompressed layer) whose digest it computed while writing it.</summary>
    internal static BlobContent FromStagedFile(string path, Digest digest, long size, string what) =>
        new(digest, size, what, null, _ => ValueTask.FromResult<Stream>(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan | FileOptions.Asynchronous)));

    /// <summary>
    /// The uncompressed content of a compressed blob, decompressed as it is read: <paramref name="digest"/> and
    /// <paramref name="size"/> were measured by an earlier pass, and this read checks the compressed bytes against
    /// <paramref name="compressedDigest"/> (decompression is deterministic, so the same compressed bytes give the
    /// measured ones). The consumer checks the length.
    /// </summary>
    internal static BlobContent Decompressed(BlobSource compressed, Digest compressedDigest, long compressedSize, Compression.CompressionKind kind, Digest digest, long size, string what, string where) =>
        new(digest, size, what, null, async ct =>
        {
            var raw = await compressed.OpenVerifiedAsync(compressedDigest, compressedSize, what, ct).ConfigureAwait(false);
            return new DrainingStream(Compression.BoundedDecompression.Open(raw, kind, where), raw);
        });

    /// <summary>Reads a decompressor to its end, then the compressed stream under it (so that its digest is checked), before reporting the end.</summary>
    private sealed class DrainingStream(Stream decompressed, VerifyingStream compressed) : Ferry.Archive.ReadOnlyStream
    {
        public override int Read(Span<byte> buffer)
        {
            int n = decompressed.Read(buffer);
            if (n == 0 && buffer.Length > 0)
                compressed.Drain();
            return n;
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            int n = await decompressed.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            if (n == 0 && buffer.Length > 0)
                await compressed.DrainAsync(cancellationToken).ConfigureAwait(false);
            return n;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
                decompressed.Dispose();
            base.Dispose(disposing);
        }

        public override async ValueTask DisposeAsync()
        {
            await decompressed.DisposeAsync().ConfigureAwait(false);
            await base.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The same content read through <paramref name="wrap"/> (a further check on the bytes).</summary>
    internal BlobContent Through(Func<Stream, Stream> wrap) =>
        new(Digest, Size, What, Origin, async ct => wrap(await _open(ct).ConfigureAwait(false)));

    /// <summary>
    /// The same content, reporting the bytes read to <paramref name="progress"/> as <paramref name="item"/>; with
    /// <paramref name="countedBefore"/>, as an item whose bytes the job counted already (a staged recompression).
    /// </summary>
    internal BlobContent Reporting(ICopyProgress? progress, string item, bool countedBefore = false) => progress is null ? this
        : new(Digest, Size, What, Origin, async ct =>
        {
            var inner = await _open(ct).ConfigureAwait(false);
            if (countedBefore)
                progress.StartedCountedBefore(item, Size);
            else
                progress.Started(item, Size);
            return new ProgressReadStream(inner, item, progress);
        });

    /// <summary>A read-only stream over memory that does not copy it.</summary>
    private sealed class ReadOnlyMemoryStream(ReadOnlyMemory<byte> bytes) : Ferry.Archive.ReadOnlyStream
    {
        private int _position;

        public override long Length => bytes.Length;
        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override int Read(Span<byte> buffer)
        {
            int n = Math.Min(buffer.Length, bytes.Length - _position);
            bytes.Span.Slice(_position, n).CopyTo(buffer);
            _position += n;
            return n;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult(Read(buffer.Span));
    }
}
