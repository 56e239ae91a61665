namespace Ferry.Copy;

/// <summary>
/// Receives progress of a copy: each item (a layer being recompressed, a blob being written) starts with its total size,
/// advances by byte counts, and finishes. Called from several threads at once when layers are processed in parallel.
/// </summary>
public interface ICopyProgress
{
    void Started(string item, long totalBytes);
    void Advanced(string item, long bytes);
    void Finished(string item);
}

/// <summary>A read-through stream that reports the bytes read to an <see cref="ICopyProgress"/>.</summary>
internal sealed class ProgressReadStream(Stream inner, string item, ICopyProgress? sink) : Stream
{
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => inner.Length;
    public override long Position { get => inner.Position; set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        int n = inner.Read(buffer);
        if (n > 0)
            sink?.Advanced(item, n);
        return n;
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            inner.Dispose();
        base.Dispose(disposing);
    }
}
