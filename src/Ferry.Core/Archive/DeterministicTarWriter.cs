using System.Buffers;
using System.Text;

namespace Ferry.Archive;

/// <summary>
/// Writes a tar whose bytes depend only on what is added: ustar headers (a GNU base-256 size field for entries of
/// 8 GiB and more), a fixed mtime, uid/gid 0, empty user and group names, mode 0644 for files and 0755 for directories.
/// Never PAX (its headers carry the writer's process ID).
/// </summary>
internal sealed class DeterministicTarWriter : IDisposable
{
    private const int Block = 512;
    private const long MaxOctalSize = (1L << 33) - 1; // 11 octal digits
    private readonly Stream _output;
    private readonly bool _leaveOpen;
    private readonly long _mtime;
    private bool _finished;

    /// <param name="output">Where the tar goes; it need not be seekable.</param>
    /// <param name="mtime">The modification time written in every header (seconds since the epoch).</param>
    /// <param name="leaveOpen">Whether disposing this writer leaves <paramref name="output"/> open.</param>
    public DeterministicTarWriter(Stream output, long mtime = 0, bool leaveOpen = false)
    {
        _output = output;
        _mtime = mtime;
        _leaveOpen = leaveOpen;
    }

    /// <summary>Bytes written so far.</summary>
    public long Position { get; private set; }

    /// <summary>
    /// Adds a file of exactly <paramref name="size"/> bytes copied from <paramref name="data"/>, which is read to its end
    /// (so a verifying stream gets to check its digest). A source shorter or longer than the size is an error.
    /// </summary>
    public async Task AddFileAsync(string name, Stream data, long size, CancellationToken cancellationToken = default)
    {
        await _output.WriteAsync(Header(name, size, (byte)'0', 0x1a4), cancellationToken).ConfigureAwait(false);
        Position += Block;
        byte[] buf = ArrayPool<byte>.Shared.Rent(1 << 20);
        try
        {
            long copied = 0;
            int n;
            while ((n = await data.ReadAsync(buf, cancellationToken).ConfigureAwait(false)) > 0)
            {
                if (copied + n > size)
                    throw new DigestMismatchException($"{name}: content is longer than its declared size {size}");
                await _output.WriteAsync(buf.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                copied += n;
                Position += n;
            }
            if (copied != size)
                throw new DigestMismatchException($"{name}: content is {copied} bytes, declared size is {size}");
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buf);
        }
        int pad = Padding(size);
        if (pad > 0)
        {
            await _output.WriteAsync(new byte[pad], cancellationToken).ConfigureAwait(false);
            Position += pad;
        }
    }

    /// <summary>Adds a directory entry.</summary>
    public async Task AddDirectoryAsync(string name, CancellationToken cancellationToken = default)
    {
        await _output.WriteAsync(Header(name.EndsWith('/') ? name : name + "/", 0, (byte)'5', 0x1ed), cancellationToken).ConfigureAwait(false);
        Position += Block;
    }

    /// <summary>Writes the two zero blocks that end a tar and flushes.</summary>
    public async Task FinishAsync(CancellationToken cancellationToken = default)
    {
        if (_finished)
            return;
        await _output.WriteAsync(new byte[Block * 2], cancellationToken).ConfigureAwait(false);
        Position += Block * 2;
        await _output.FlushAsync(cancellationToken).ConfigureAwait(false);
        _finished = true;
    }

    /// <summary>Writes the two zero blocks that end a tar.</summary>
    public void Finish()
    {
        if (_finished)
            return;
        _output.Write(new byte[Block * 2]);
        Position += Block * 2;
        _output.Flush();
        _finished = true;
    }

    private static int Padding(long size) => (int)((Block - (size % Block)) % Block);

    /// <summary>The bytes an entry of <paramref name="size"/> bytes takes in the tar: its header and its data padded to a block.</summary>
    public static long EntryLength(long size) => Block + size + Padding(size);

    /// <summary>The two zero blocks that end a tar.</summary>
    public const int EndLength = Block * 2;

    /// <summary>The header of a file entry, exactly as <see cref="AddFileAsync"/> writes it.</summary>
    public static byte[] FileHeader(string name, long size, long mtime) => BuildHeader(name, size, (byte)'0', 0x1a4, mtime);

    /// <summary>The header of a directory entry, exactly as <see cref="AddDirectoryAsync"/> writes it.</summary>
    public static byte[] DirectoryHeader(string name, long mtime) => BuildHeader(name.EndsWith('/') ? name : name + "/", 0, (byte)'5', 0x1ed, mtime);

    private void Pad(long size)
    {
        int pad = Padding(size);
        if (pad > 0)
        {
            _output.Write(new byte[pad]);
            Position += pad;
        }
    }

    private void WriteHeader(string name, long size, byte type, int mode)
    {
        _output.Write(Header(name, size, type, mode));
        Position += Block;
    }

    private byte[] Header(string name, long size, byte type, int mode)
    {
        if (_finished)
            throw new InvalidOperationException("the archive is finished");
        return BuildHeader(name, size, type, mode, _mtime);
    }

    private static byte[] BuildHeader(string name, long size, byte type, int mode, long mtime)
    {
        var h = new byte[Block];
        SplitName(name, out string prefix, out string shortName);
        Put(h, 0, 100, shortName);
        Octal(h, 100, 8, mode);
        Octal(h, 108, 8, 0);
        Octal(h, 116, 8, 0);
        bool gnu = size > MaxOctalSize;
        if (gnu)
        {
            // GNU base-256: high bit set in the first byte, big-endian value in the rest.
            h[124] = 0x80;
            long v = size;
            for (int i = 135; i > 124; i--)
            {
                h[i] = (byte)(v & 0xff);
                v >>= 8;
            }
        }
        else
        {
            Octal(h, 124, 12, size);
        }
        Octal(h, 136, 12, mtime);
        h[156] = type;
        if (gnu)
            Put(h, 257, 8, "ustar  \0");
        else
        {
            Put(h, 257, 6, "ustar\0");
            Put(h, 263, 2, "00");
        }
        Octal(h, 329, 8, 0);
        Octal(h, 337, 8, 0);
        if (!gnu)
            Put(h, 345, 155, prefix);
        else if (prefix.Length > 0)
            throw new ArgumentException($"tar name too long for a GNU header: {name}", nameof(name));
        for (int i = 148; i < 156; i++)
            h[i] = (byte)' ';
        int sum = 0;
        foreach (byte b in h)
            sum += b;
        var chk = Encoding.ASCII.GetBytes(Convert.ToString(sum, 8).PadLeft(6, '0'));
        chk.CopyTo(h, 148);
        h[154] = 0;
        h[155] = (byte)' ';
        return h;
    }

    private static void SplitName(string name, out string prefix, out string shortName)
    {
        if (Encoding.UTF8.GetByteCount(name) <= 100)
        {
            prefix = "";
            shortName = name;
            return;
        }
        for (int i = name.Length - 1; i > 0; i--)
        {
            if (name[i] == '/' && Encoding.UTF8.GetByteCount(name.AsSpan(0, i)) <= 155 && Encoding.UTF8.GetByteCount(name.AsSpan(i + 1)) <= 100)
            {
                prefix = name[..i];
                shortName = name[(i + 1)..];
                return;
            }
        }
        throw new ArgumentException($"tar name too long for a ustar header: {name}", nameof(name));
    }

    private static void Put(byte[] h, int offset, int length, string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        if (bytes.Length > length)
            throw new ArgumentException($"tar header field too long: {value}", nameof(value));
        bytes.CopyTo(h, offset);
    }

    private static void Octal(byte[] h, int offset, int length, long value)
    {
        string s = Convert.ToString(value, 8).PadLeft(length - 1, '0');
        Put(h, offset, length - 1, s);
        h[offset + length - 1] = 0;
    }

    public void Dispose()
    {
        if (!_leaveOpen)
            _output.Dispose();
    }
}
