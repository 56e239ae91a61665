namespace Ferry.Compression;

internal static class CompressionLimits
{
    /// <summary>The largest ratio of decompressed to compressed bytes accepted (beyond <see cref="Slack"/>): 256:1.</summary>
    public const long MaxRatio = 256;

    /// <summary>Decompressed bytes always allowed, whatever the ratio: 256 MiB.</summary>
    public const long Slack = 256L * 1024 * 1024;
}

/// <summary>
/// Decompression that refuses to expand without bound (a "gzip bomb"): past
/// <see cref="CompressionLimits.MaxRatio"/> × the compressed bytes read + <see cref="CompressionLimits.Slack"/>, reading
/// throws <see cref="ArchiveFormatException"/> naming the blob. Whatever the decompressor throws on corrupt input
/// (zlib, ZstdSharp and SharpCompress each have their own exceptions) also becomes an <see cref="ArchiveFormatException"/>.
/// </summary>
internal static class BoundedDecompression
{
    public static Stream Open(Stream compressed, CompressionKind kind, string what)
    {
        if (kind == CompressionKind.None)
            return compressed;
        var counted = new CountingStream(compressed);
        Stream decompressor;
        try
        {
            // Some decoders (bzip2) read their first block already here.
            decompressor = Compressions.Decompress(counted, kind);
        }
        catch (Exception e) when (e is not (FerryException or OperationCanceledException or OutOfMemoryException))
        {
            throw new ArchiveFormatException($"{what}: corrupt {Compressions.Name(kind)} data: {e.Message}", e);
        }
        return new GuardStream(decompressor, counted, what, kind);
    }

    private sealed class CountingStream(Stream inner) : Archive.ReadOnlyStream
    {
        public long Count;

        /// <summary>Bytes read so far (the xz decoder asks, to align block padding).</summary>
        public override long Position { get => Count; set => throw new NotSupportedException(); }

        public override int Read(Span<byte> buffer)
        {
            int n = inner.Read(buffer);
            Count += n;
            return n;
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            int n = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            Count += n;
            return n;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
                inner.Dispose();
            base.Dispose(disposing);
        }
    }

    private sealed class GuardStream(Stream decompressed, CountingStream input, string what, CompressionKind kind) : Archive.ReadOnlyStream
    {
        private long _out;
        public override long Position { get => _out; set => throw new NotSupportedException(); }

        public override int Read(Span<byte> buffer)
        {
            int n;
            try
            {
                n = decompressed.Read(buffer);
            }
            catch (Exception e) when (e is not (FerryException or OperationCanceledException or OutOfMemoryException or NotSupportedException))
            {
                throw new ArchiveFormatException($"{what}: corrupt {Compressions.Name(kind)} data: {e.Message}", e);
            }
            return Account(n);
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            int n;
            try
            {
                n = await decompressed.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not (FerryException or OperationCanceledException or OutOfMemoryException or NotSupportedException or IOException))
            {
                throw new ArchiveFormatException($"{what}: corrupt {Compressions.Name(kind)} data: {e.Message}", e);
            }
            return Account(n);
        }

        private int Account(int n)
        {
            _out += n;
            if (_out > CompressionLimits.MaxRatio * input.Count + CompressionLimits.Slack)
                throw new ArchiveFormatException($"{what}: {Compressions.Name(kind)} data expands more than {CompressionLimits.MaxRatio}:1 past {CompressionLimits.Slack >> 20} MiB (a decompression bomb?)");
            return n;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
                decompressed.Dispose();
            base.Dispose(disposing);
        }
    }
}
