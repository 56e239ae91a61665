using Ferry.Digests;
using Ferry.Model;

namespace Ferry.Images;

/// <summary>Where a blob came from in a registry: used to mount it into another repository of the same registry.</summary>
/// <param name="Registry">The registry host, <c>host[:port]</c>.</param>
/// <param name="Repository">The repository path, e.g. <c>library/ubuntu</c>.</param>
public sealed record BlobOrigin(string Registry, string Repository);

/// <summary>
/// Where a blob's bytes are in a source: a tar entry, a file of a layout directory, a registry blob, or bytes in
/// memory. It can be opened more than once. What <see cref="OpenReadAsync"/> returns is not verified; copy and verify
/// read blobs through a stream that checks their digest and size.
/// </summary>
public abstract class BlobSource
{
    /// <summary>The entry's name inside the archive or layout, or the blob's URL (for messages).</summary>
    public abstract string Name { get; }

    /// <summary>The number of bytes the source holds for this blob.</summary>
    public abstract long Length { get; }

    /// <summary>The registry repository the blob can be mounted from, when it is in a registry.</summary>
    public virtual BlobOrigin? Origin => null;

    /// <summary>Opens the raw bytes, unverified.</summary>
    /// <param name="cancellationToken">Stops opening (and, for network blobs, every later read).</param>
    public abstract ValueTask<Stream> OpenReadAsync(CancellationToken cancellationToken = default);

    /// <summary>Opens the bytes through a stream that checks <paramref name="digest"/> and <paramref name="size"/>; a mismatch throws <see cref="DigestMismatchException"/> at the latest at the end of the stream.</summary>
    internal async ValueTask<VerifyingStream> OpenVerifiedAsync(Digest? digest, long? size, string what, CancellationToken cancellationToken)
    {
        var raw = await OpenReadAsync(cancellationToken).ConfigureAwait(false);
        return new VerifyingStream(raw, $"{what} ({Name})", digest, size);
    }

    /// <summary>Reads a whole JSON document, within <see cref="Json.MaxDocumentBytes"/>, verifying the digest when given.</summary>
    internal async ValueTask<byte[]> ReadDocumentAsync(Digest? digest, long? size, string what, CancellationToken cancellationToken)
    {
        if (Length > Json.MaxDocumentBytes)
            throw new ArchiveFormatException($"{what} ({Name}): {Length} bytes, over the {Json.MaxDocumentBytes}-byte limit for JSON documents");
        await using var v = await OpenVerifiedAsync(digest, size, what, cancellationToken).ConfigureAwait(false);
        return await Json.ReadLimitedAsync(v, $"{what} ({Name})", cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>A blob on the local disk (a tar entry or a layout file), also readable synchronously by the archive readers.</summary>
internal abstract class LocalBlob : BlobSource
{
    /// <summary>The raw bytes, unverified.</summary>
    public abstract Stream OpenRead();

    public override ValueTask<Stream> OpenReadAsync(CancellationToken cancellationToken = default) => ValueTask.FromResult(OpenRead());

    public VerifyingStream OpenVerified(Digest? digest, long? size, string what) => new(OpenRead(), $"{what} ({Name})", digest, size);

    public byte[] ReadDocument(Digest? digest, long? size, string what)
    {
        if (Length > Json.MaxDocumentBytes)
            throw new ArchiveFormatException($"{what} ({Name}): {Length} bytes, over the {Json.MaxDocumentBytes}-byte limit for JSON documents");
        using var v = OpenVerified(digest, size, what);
        return Json.ReadLimited(v, $"{what} ({Name})");
    }

    public byte[] Head(int count)
    {
        using var s = OpenRead();
        byte[] buf = new byte[(int)Math.Min(count, Length)];
        int n = s.ReadAtLeast(buf, buf.Length, throwOnEndOfStream: false);
        return buf[..n];
    }
}

/// <summary>Bytes already in memory (a fetched manifest or config, a synthesised legacy config); fetched ones keep their origin.</summary>
internal sealed class BytesBlob(byte[] bytes, string name, BlobOrigin? origin = null) : LocalBlob
{
    public override string Name => name;
    public override BlobOrigin? Origin => origin;
    public override long Length => bytes.LongLength;
    public override Stream OpenRead() => new MemoryStream(bytes, writable: false);
}
