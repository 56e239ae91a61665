using System.Buffers;
using System.Threading.Channels;
using Ferry.Compression;

namespace Ferry.Digests;

/// <summary>
/// A read-through stream over a compressed layer that checks its diff_id on another core while the bytes pass: each
/// chunk read is handed to a task that decompresses and hashes it (at most a few MiB in flight), and the end of the
/// stream throws <see cref="DigestMismatchException"/> when the uncompressed bytes do not hash to the diff_id (so a
/// destination that reads it to its end never commits a layer its config contradicts).
/// </summary>
internal sealed class DiffIdVerifyingStream : Archive.ReadOnlyStream
{
    /// <summary>Chunks handed over and not yet decompressed: with the copy's 1 MiB reads, 4 MiB per layer being copied.</summary>
    private const int InFlight = 4;

    private readonly Stream _inner;
    private readonly Digest _diffId;
    private readonly string _what;
    private readonly Channel<(byte[] Buffer, int Length)> _channel = Channel.CreateBounded<(byte[], int)>(new BoundedChannelOptions(InFlight) { SingleReader = true, SingleWriter = true });
    private readonly CancellationTokenSource _stop = new();
    private readonly Task<Digest> _consumer;
    private bool _checked;
    private bool _disposed;

    public DiffIdVerifyingStream(Stream inner, CompressionKind compression, Digest diffId, string what)
    {
        _inner = inner;
        _diffId = diffId;
        _what = what;
        _consumer = Task.Run(() => ConsumeAsync(compression));
    }

    public override int Read(Span<byte> buffer) => throw new NotSupportedException("read asynchronously");

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int n = await _inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        if (n > 0)
        {
            byte[] copy = ArrayPool<byte>.Shared.Rent(n);
            buffer.Span[..n].CopyTo(copy);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stop.Token);
            try
            {
                await _channel.Writer.WriteAsync((copy, n), linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                ArrayPool<byte>.Shared.Return(copy);
                await _consumer.ConfigureAwait(false); // the decompressor failed: its error is the one to report
                throw new ArchiveFormatException($"{_what}: the uncompressed layer ended before its compressed bytes");
            }
            return n;
        }
        if (!_checked)
        {
            _channel.Writer.TryComplete();
            var actual = await _consumer.ConfigureAwait(false);
            if (actual != _diffId)
                throw new DigestMismatchException($"{_what}: uncompressed content hashes to {actual}, but the config's diff_id is {_diffId}");
            _checked = true;
        }
        return 0;
    }

    private async Task<Digest> ConsumeAsync(CompressionKind compression)
    {
        try
        {
            await using var pipe = new ChannelReadStream(_channel.Reader);
            await using var plain = BoundedDecompression.Open(pipe, compression, _what);
            await using var hashed = new VerifyingStream(plain, _what + " (uncompressed)", null, null, leaveOpen: true);
            return await hashed.DrainAsync(_stop.Token).ConfigureAwait(false);
        }
        finally
        {
            // Stop the reader's hand-over (a failed or finished decompressor takes nothing more) and free what is queued.
            await _stop.CancelAsync().ConfigureAwait(false);
            while (_channel.Reader.TryRead(out var item))
                ArrayPool<byte>.Shared.Return(item.Buffer);
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && !_disposed)
        {
            _disposed = true;
            _channel.Writer.TryComplete();
            _stop.Cancel();
            try
            {
                _consumer.Wait(TimeSpan.FromSeconds(5));
            }
            catch (AggregateException)
            {
            }
            _stop.Dispose();
            _inner.Dispose();
        }
        base.Dispose(disposing);
    }

    /// <summary>The chunks of a channel as a stream (the decompressor's input).</summary>
    private sealed class ChannelReadStream(ChannelReader<(byte[] Buffer, int Length)> reader) : Archive.ReadOnlyStream
    {
        private byte[]? _buffer;
        private int _offset;
        private int _length;

        public override int Read(Span<byte> buffer) => throw new NotSupportedException("read asynchronously");

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            while (_buffer is null || _offset == _length)
            {
                if (_buffer is not null)
                    ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = null;
                if (!await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
                    return 0;
                if (reader.TryRead(out var item))
                    (_buffer, _offset, _length) = (item.Buffer, 0, item.Length);
            }
            int n = Math.Min(buffer.Length, _length - _offset);
            _buffer.AsSpan(_offset, n).CopyTo(buffer.Span);
            _offset += n;
            return n;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing && _buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = null;
            }
            base.Dispose(disposing);
        }
    }
}
