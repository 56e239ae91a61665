namespace Ferry.Digests;

/// <summary>
/// A read-only stream over untrusted content that hashes and counts every byte. Reading past
/// <see cref="ExpectedSize"/> throws at once; at end of stream a short read or a digest different from
/// <see cref="ExpectedDigest"/> throws <see cref="DigestMismatchException"/> naming <see cref="What"/>.
/// Without an expected digest it only computes one (see <see cref="ComputedDigest"/>).
/// </summary>
internal sealed class VerifyingStream : Stream
{
    private readonly Stream _inner;
    private readonly bool _leaveOpen;
    private readonly System.Security.Cryptography.IncrementalHash _hash;
    private readonly string _algorithm;
    private long _count;
    private Digest? _computed;

    /// <param name="inner">The content.</param>
    /// <param name="what">Names the blob and archive entry in error messages.</param>
    /// <param name="expectedDigest">The digest the content must have, or null to only compute it.</param>
    /// <param name="expectedSize">The exact length the content must have, or null.</param>
    /// <param name="leaveOpen">Whether disposing this stream leaves <paramref name="inner"/> open.</param>
    public VerifyingStream(Stream inner, string what, Digest? expectedDigest, long? expectedSize, bool leaveOpen = false)
    {
        _inner = inner;
        What = what;
        ExpectedDigest = expectedDigest;
        ExpectedSize = expectedSize;
        _leaveOpen = leaveOpen;
        _algorithm = expectedDigest?.Algorithm ?? "sha256";
        _hash = Digest.CreateHash(_algorithm);
    }

    public string What { get; }
    public Digest? ExpectedDigest { get; }
    public long? ExpectedSize { get; }

    /// <summary>Bytes read so far.</summary>
    public long BytesRead => _count;

    /// <summary>The digest of the whole content, available once the end of the stream was reached.</summary>
    public Digest ComputedDigest => _computed ?? throw new InvalidOperationException("the stream was not read to its end");

    /// <summary>Whether the end of the content was reached (and verified).</summary>
    public bool Completed => _computed is not null;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => ExpectedSize ?? throw new NotSupportedException();
    public override long Position { get => _count; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (buffer.Length == 0)
            return 0;
        int n = _inner.Read(buffer);
        return Account(buffer[..n]);
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.Length == 0)
            return 0;
        int n = await _inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        return Account(buffer.Span[..n]);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    private int Account(ReadOnlySpan<byte> data)
    {
        if (data.Length == 0)
        {
            if (_computed is null)
                Finish();
            return 0;
        }
        _count += data.Length;
        if (ExpectedSize is long max && _count > max)
            throw new DigestMismatchException($"{What}: content is longer than its declared size {max}") { ExpectedSize = max, ActualSize = _count };
        _hash.AppendData(data);
        return data.Length;
    }

    private void Finish()
    {
        if (ExpectedSize is long size && _count != size)
            throw new DigestMismatchException($"{What}: content is {_count} bytes, declared size is {size}") { ExpectedSize = size, ActualSize = _count };
        var actual = Digest.FromHash(_algorithm, _hash.GetHashAndReset());
        if (ExpectedDigest is Digest want && actual != want)
            throw new DigestMismatchException($"{What}: content hashes to {actual}, expected {want}") { Expected = want, Actual = actual };
        _computed = actual;
    }

    /// <summary>Reads whatever is left and verifies it; returns the digest.</summary>
    public Digest Drain()
    {
        if (_computed is null)
        {
            byte[] buf = System.Buffers.ArrayPool<byte>.Shared.Rent(81920);
            try
            {
                while (Read(buf, 0, buf.Length) > 0) { }
            }
            finally
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(buf);
            }
        }
        return ComputedDigest;
    }

    /// <summary>Reads whatever is left and verifies it; returns the digest.</summary>
    public async ValueTask<Digest> DrainAsync(CancellationToken cancellationToken = default)
    {
        if (_computed is null)
        {
            byte[] buf = System.Buffers.ArrayPool<byte>.Shared.Rent(1 << 20);
            try
            {
                while (await ReadAsync(buf, cancellationToken).ConfigureAwait(false) > 0) { }
            }
            finally
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(buf);
            }
        }
        return ComputedDigest;
    }

    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _hash.Dispose();
            if (!_leaveOpen)
                _inner.Dispose();
        }
        base.Dispose(disposing);
    }
}
