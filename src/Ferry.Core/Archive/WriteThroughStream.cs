namespace Ferry.Archive;

/// <summary>
/// The base of Ferry's write-through streams (wrappers that re-arm a watchdog, report progress, or keep the inner stream
/// open): every write goes to the inner stream, then <see cref="Wrote"/> hears of it. Disposing it leaves the inner
/// stream open.
/// </summary>
internal abstract class WriteThroughStream(Stream inner) : Stream
{
    public sealed override bool CanRead => false;
    public sealed override bool CanSeek => false;
    public sealed override bool CanWrite => true;
    public sealed override long Length => throw new NotSupportedException();
    public sealed override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public sealed override void Flush() => inner.Flush();
    public sealed override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
    public sealed override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public sealed override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public sealed override void SetLength(long value) => throw new NotSupportedException();

    /// <summary><paramref name="count"/> bytes were written to the inner stream.</summary>
    protected virtual void Wrote(int count)
    {
    }

    public sealed override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public sealed override void Write(ReadOnlySpan<byte> buffer)
    {
        inner.Write(buffer);
        Wrote(buffer.Length);
    }

    public sealed override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        Wrote(buffer.Length);
    }

    public sealed override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
}
