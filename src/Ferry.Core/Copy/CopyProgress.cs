namespace Ferry.Copy;

/// <summary>
/// Receives progress of a copy: each item (a layer being recompressed, a blob being written or uploaded) starts with its
/// total size, advances by byte counts, and finishes. Called from several threads at once when blobs are processed in
/// parallel.
/// </summary>
public interface ICopyProgress
{
    /// <summary>An item starts; <paramref name="totalBytes"/> is its size.</summary>
    void Started(string item, long totalBytes);

    /// <summary><paramref name="bytes"/> more bytes of the item were processed.</summary>
    void Advanced(string item, long bytes);

    /// <summary>The item is done (or was abandoned).</summary>
    void Finished(string item);
}

/// <summary>A read-through stream that reports the bytes read to an <see cref="ICopyProgress"/>, and the item finished when disposed.</summary>
internal sealed class ProgressReadStream(Stream inner, string item, ICopyProgress? sink) : Archive.ReadOnlyStream
{
    private bool _finished;

    public override long Position { get => inner.Position; set => throw new NotSupportedException(); }

    public override int Read(Span<byte> buffer)
    {
        int n = inner.Read(buffer);
        if (n > 0)
            sink?.Advanced(item, n);
        return n;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int n = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        if (n > 0)
            sink?.Advanced(item, n);
        return n;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
            if (!_finished)
                sink?.Finished(item);
            _finished = true;
        }
        base.Dispose(disposing);
    }
}
