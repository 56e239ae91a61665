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
internal sealed class ProgressReadStream(Stream inner, string item, ICopyProgress? sink) : Archive.ReadOnlyStream
{
    public override long Position { get => inner.Position; set => throw new NotSupportedException(); }

    public override int Read(Span<byte> buffer)
    {
        int n = inner.Read(buffer);
        if (n > 0)
            sink?.Advanced(item, n);
        return n;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            inner.Dispose();
        base.Dispose(disposing);
    }
}
