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

/// <summary>Where a copy is with one item (a blob read, a layer recompressed), as <see cref="CopyProgress.To"/> reports it.</summary>
/// <param name="Item">What is being processed (<c>layer sha256:8a0b…</c>).</param>
/// <param name="BytesDone">Bytes of it processed so far.</param>
/// <param name="TotalBytes">Its size.</param>
/// <param name="Finished">Whether it is done (or was abandoned).</param>
public sealed record CopyProgressReport(string Item, long BytesDone, long TotalBytes, bool Finished);

/// <summary>Progress of a copy for .NET's <see cref="IProgress{T}"/>.</summary>
public static class CopyProgress
{
    /// <summary>
    /// An <see cref="ICopyProgress"/> (for <see cref="CopyOptions.Progress"/>) that reports every change to
    /// <paramref name="progress"/>. Items progress on several threads at once; <see cref="Progress{T}"/> posts them to
    /// the context it was made on.
    /// </summary>
    public static ICopyProgress To(IProgress<CopyProgressReport> progress)
    {
        ArgumentNullException.ThrowIfNull(progress);
        return new Reporter(progress);
    }

    private sealed class Reporter(IProgress<CopyProgressReport> progress) : ICopyProgress
    {
        private readonly System.Collections.Concurrent.ConcurrentDictionary<string, StrongBox> _items = new(StringComparer.Ordinal);

        private sealed class StrongBox(long total)
        {
            public long Total = total;
            public long Done;
        }

        public void Started(string item, long totalBytes)
        {
            _items[item] = new StrongBox(totalBytes);
            progress.Report(new CopyProgressReport(item, 0, totalBytes, false));
        }

        public void Advanced(string item, long bytes)
        {
            var box = _items.GetOrAdd(item, _ => new StrongBox(0));
            long done = Interlocked.Add(ref box.Done, bytes);
            progress.Report(new CopyProgressReport(item, done, box.Total, false));
        }

        public void Finished(string item)
        {
            if (_items.TryRemove(item, out var box))
                progress.Report(new CopyProgressReport(item, Interlocked.Read(ref box.Done), box.Total, true));
        }
    }
}
