using Ferry.Compression;
using Ferry.Model;

namespace Ferry.Progress;

/// <summary>
/// Receives progress of a copy (or a verify, or a served archive): each item (a blob being written, uploaded, downloaded
/// or checked; a layer being recompressed; a daemon's save being received) starts with its total size, advances by byte
/// counts, and finishes. Called from several threads at once when blobs are processed in parallel.
/// </summary>
/// <remarks>
/// Items are named <c>HEX12 KIND</c>: the digest's first 12 hex characters and what the blob is (<c>layer (gzip)</c>,
/// <c>config</c>, <c>blob</c>; <c>gzip→zstd</c> for a layer being recompressed). The same name is reported
/// once per copy; a blob the destination already holds is <see cref="Skipped"/> instead. <see cref="Planned"/> says, before
/// the items of a phase start, how many bytes the phase will move: the sum of all planned bytes is the whole job.
/// </remarks>
public interface ICopyProgress
{
    /// <summary>The job will process about <paramref name="totalBytes"/> more bytes (added to what was planned before).</summary>
    void Planned(long totalBytes)
    {
    }

    /// <summary>
    /// The job will have about <paramref name="items"/> more items (added to what was planned before): said before the
    /// first byte of a copy, so that a count of items does not grow while it runs.
    /// </summary>
    void PlannedItems(int items)
    {
    }

    /// <summary>An item starts; <paramref name="totalBytes"/> is its size, or -1 when it is not known beforehand.</summary>
    void Started(string item, long totalBytes);

    /// <summary>
    /// An item starts whose bytes the job counted already under another item (a layer recompressed into a temp file
    /// is then written from it): it is an item like any other, but its bytes are not added to the job's again, and
    /// were not planned again.
    /// </summary>
    void StartedCountedBefore(string item, long totalBytes) => Started(item, totalBytes);

    /// <summary><paramref name="bytes"/> more bytes of the item were processed.</summary>
    void Advanced(string item, long bytes);

    /// <summary>The item is done (or was abandoned).</summary>
    void Finished(string item);

    /// <summary>An item of <paramref name="bytes"/> needs no transfer (the destination holds it): it counts as done.</summary>
    void Skipped(string item, long bytes)
    {
    }
}

/// <summary>The names progress items get (<c>HEX12 KIND</c>).</summary>
internal static class ProgressNames
{
    /// <summary><c>8a0b1c2d3e4f layer (gzip)</c>, <c>7c0fb4c22b44 config</c>, <c>…  blob</c>.</summary>
    public static string Of(Descriptor d) => $"{d.Digest.Short} {KindOf(d.MediaType)}";

    /// <summary>What a media type is, in a word or two.</summary>
    public static string KindOf(string? mediaType)
    {
        if (mediaType is null)
            return "blob";
        if (MediaTypes.IsLayer(mediaType))
        {
            var c = MediaTypes.LayerCompression(mediaType);
            return c == CompressionKind.None ? "layer" : $"layer ({Compressions.Name(c)})";
        }
        if (mediaType is MediaTypes.OciConfig or MediaTypes.DockerConfig)
            return "config";
        if (MediaTypes.IsManifestOrIndex(mediaType))
            return "manifest";
        return "blob";
    }
}

/// <summary>A write-through stream that reports the bytes written to an <see cref="ICopyProgress"/>.</summary>
internal sealed class ProgressWriteStream(Stream inner, string item, ICopyProgress sink) : Archive.WriteThroughStream(inner)
{
    protected override void Wrote(int count) => sink.Advanced(item, count);
}

/// <summary>A read-through stream that reports the bytes read to an <see cref="ICopyProgress"/>, and the item finished when disposed.</summary>
/// <remarks>With <paramref name="finishes"/> false, whoever started the item finishes it.</remarks>
internal sealed class ProgressReadStream(Stream inner, string item, ICopyProgress? sink, bool finishes = true) : Archive.ReadOnlyStream
{
    private bool _finished = !finishes;

    public override long Position { get => inner.Position; set => throw new NotSupportedException(); }

    public override int Read(Span<byte> buffer)
    {
        int n;
        try
        {
            n = inner.Read(buffer);
        }
        catch
        {
            // A read that failed (a digest mismatch, a peer gone) leaves the item unfinished: the job's end says it failed.
            _finished = true;
            throw;
        }
        if (n > 0)
            sink?.Advanced(item, n);
        return n;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int n;
        try
        {
            n = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _finished = true;
            throw;
        }
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
public sealed record CopyProgressReport(string Item, long BytesDone, long TotalBytes, bool Finished)
{
    /// <summary>Bytes of the whole job done so far (every item's, skipped ones counted whole).</summary>
    public long JobBytesDone { get; init; }

    /// <summary>Bytes the whole job was planned to process so far (<see cref="ICopyProgress.Planned"/>; it may grow as phases start).</summary>
    public long JobBytesPlanned { get; init; }
}

/// <summary>Progress of a copy for .NET's <see cref="IProgress{T}"/>.</summary>
public static class CopyProgress
{
    /// <summary>
    /// An <see cref="ICopyProgress"/> (for <see cref="Copy.CopyOptions.Progress"/>) that reports every change to
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
        private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Box> _items = new(StringComparer.Ordinal);
        private long _planned;
        private long _jobDone;

        private sealed class Box(long total, bool counts = true)
        {
            public long Total = total;
            public long Done;
            public readonly bool Counts = counts;
        }

        public void Planned(long totalBytes) => Interlocked.Add(ref _planned, Math.Max(0, totalBytes));

        public void Started(string item, long totalBytes)
        {
            _items[item] = new Box(totalBytes);
            Report(item, 0, totalBytes, false);
        }

        public void StartedCountedBefore(string item, long totalBytes)
        {
            _items[item] = new Box(totalBytes, counts: false);
            Report(item, 0, totalBytes, false);
        }

        public void Advanced(string item, long bytes)
        {
            var box = _items.GetOrAdd(item, _ => new Box(-1));
            long done = Interlocked.Add(ref box.Done, bytes);
            // The job counts an item's bytes up to its size (none of an item of unknown size).
            long counted = box.Total < 0 || !box.Counts ? 0 : Math.Min(done, box.Total) - Math.Min(done - bytes, box.Total);
            if (counted > 0)
                Interlocked.Add(ref _jobDone, counted);
            Report(item, done, box.Total, false);
        }

        public void Finished(string item)
        {
            if (_items.TryRemove(item, out var box))
                Report(item, Interlocked.Read(ref box.Done), box.Total, true);
        }

        public void Skipped(string item, long bytes)
        {
            Interlocked.Add(ref _jobDone, bytes);
            Report(item, bytes, bytes, true);
        }

        private void Report(string item, long done, long total, bool finished) =>
            progress.Report(new CopyProgressReport(item, done, total, finished)
            {
                JobBytesDone = Interlocked.Read(ref _jobDone),
                JobBytesPlanned = Interlocked.Read(ref _planned),
            });
    }
}
