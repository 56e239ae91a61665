using System.Buffers;
using System.IO.Compression;
using System.Runtime.InteropServices;

namespace Ferry.Compression;

/// <summary>Which deflate implementation gzips the layers Ferry compresses. Each gives its own bytes; each is deterministic for its level.</summary>
public enum GzipCodec
{
    /// <summary>ISA-L when <c>libisal.so.2</c> is installed, else libdeflate when <c>libdeflate.so.0</c> is, else zlib-ng; an explicit level picks zlib-ng.</summary>
    Auto,
    /// <summary>.NET's in-box zlib-ng, levels 1–9 (default 3): always available.</summary>
    ZlibNg,
    /// <summary>Intel ISA-L's igzip from <c>libisal.so.2</c> (Debian/Ubuntu <c>libisal2</c>), levels 0–3 (default 2).</summary>
    Isal,
    /// <summary>libdeflate from <c>libdeflate.so.0</c> (Debian/Ubuntu <c>libdeflate0</c>), levels 1–12 (default 1).</summary>
    Libdeflate,
}

/// <summary>
/// A gzip codec and level resolved on this machine: compresses one chunk into one complete gzip member (header with
/// mtime 0, deflate data, CRC and length). The native codecs are called through <c>[LibraryImport]</c>, so they work
/// under NativeAOT; a library that is absent is found out once, when the codec is resolved.
/// </summary>
internal sealed partial class GzipEncoder
{
    /// <summary>The gzip member of empty input, as <c>gzip -n</c> writes it (mtime 0, OS 3); every codec writes it for an empty chunk.</summary>
    private static readonly byte[] EmptyMember = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0];

    private GzipEncoder(GzipCodec codec, int level)
    {
        Codec = codec;
        Level = level;
    }

    /// <summary>The codec (never <see cref="GzipCodec.Auto"/>).</summary>
    public GzipCodec Codec { get; }

    /// <summary>The codec's level.</summary>
    public int Level { get; }

    /// <summary>For people and annotations: <c>zlib-ng 3</c>, <c>isal 3</c>, <c>libdeflate 1</c>.</summary>
    public string Description => $"{Name(Codec)} {Level}";

    /// <summary>The default: zlib-ng level 3, in-box.</summary>
    public static GzipEncoder ZlibNg(int? level = null) => Resolve(GzipCodec.ZlibNg, level);

    public static string Name(GzipCodec codec) => codec switch
    {
        GzipCodec.ZlibNg => "zlib-ng",
        GzipCodec.Isal => "isal",
        GzipCodec.Libdeflate => "libdeflate",
        _ => "auto",
    };

    /// <summary>
    /// The codec to use: <paramref name="codec"/> at <paramref name="level"/> (its default when null). Auto takes the
    /// fastest codec installed, unless a level is given (then zlib-ng, whose levels are the ones Ferry always had).
    /// A codec asked for by name that is not installed, or a level it does not have, is a usage error.
    /// </summary>
    public static GzipEncoder Resolve(GzipCodec codec, int? level) => Resolve(codec, level, Installed);

    /// <summary>Whether a codec's library is on this machine (zlib-ng always is).</summary>
    public static bool Installed(GzipCodec codec) => codec switch
    {
        GzipCodec.Isal => Isal.Available,
        GzipCodec.Libdeflate => Libdeflate.Available,
        _ => true,
    };

    /// <summary><see cref="Resolve(GzipCodec, int?)"/> as if exactly the codecs <paramref name="installed"/> says were installed (tests).</summary>
    internal static GzipEncoder Resolve(GzipCodec codec, int? level, Func<GzipCodec, bool> installed)
    {
        if (codec == GzipCodec.Auto)
            codec = level is not null ? GzipCodec.ZlibNg : installed(GzipCodec.Isal) ? GzipCodec.Isal : installed(GzipCodec.Libdeflate) ? GzipCodec.Libdeflate : GzipCodec.ZlibNg;
        var (min, max, dflt) = codec switch
        {
            // ISA-L 2: as fast as 1 with smaller output (bench/RESULTS.md: 3.3 % over zlib-ng 3 on the big image at 2.5×
            // level 3's speed); libdeflate 1: within 1–2 % of zlib-ng 3 at about twice its speed.
            GzipCodec.Isal => (0, 3, 2),
            GzipCodec.Libdeflate => (1, 12, 1),
            _ => (1, 9, Compressions.DefaultGzipLevel),
        };
        if (level is int l && (l < min || l > max))
            throw new UsageException($"gzip level {l} is out of range for {Name(codec)} ({min}-{max})");
        if (codec == GzipCodec.Isal && !installed(codec))
            throw new UsageException($"--gzip-codec isal: {Isal.Library} is not installed (Debian/Ubuntu: apt-get install libisal2)");
        if (codec == GzipCodec.Libdeflate && !installed(codec))
            throw new UsageException($"--gzip-codec libdeflate: {Libdeflate.Library} is not installed (Debian/Ubuntu: apt-get install libdeflate0)");
        return new GzipEncoder(codec, level ?? dflt);
    }

    /// <summary>Compresses <paramref name="length"/> bytes of <paramref name="chunk"/> into one gzip member, in a buffer rented from the shared pool (the caller returns it).</summary>
    public (byte[] Buffer, int Length) CompressMember(byte[] chunk, int length)
    {
        if (length == 0)
        {
            // GZipStream writes nothing at all for empty input; an empty member keeps the file valid gzip.
            byte[] empty = ArrayPool<byte>.Shared.Rent(EmptyMember.Length);
            EmptyMember.CopyTo(empty, 0);
            return (empty, EmptyMember.Length);
        }
        return Codec switch
        {
            GzipCodec.Isal => Isal.Compress(chunk.AsSpan(0, length), Level),
            GzipCodec.Libdeflate => Libdeflate.Compress(chunk.AsSpan(0, length), Level),
            _ => ZlibNgMember(chunk, length, Level),
        };
    }

    private static (byte[] Buffer, int Length) ZlibNgMember(byte[] chunk, int length, int level)
    {
        // Deflate output is almost never larger than the input plus a small overhead.
        var ms = new PooledWriter(ArrayPool<byte>.Shared.Rent(Bound(length)));
        using (var gz = new GZipStream(ms, new ZLibCompressionOptions { CompressionLevel = level }, leaveOpen: true))
            gz.Write(chunk, 0, length);
        return (ms.Buffer, ms.Count);
    }

    /// <summary>Room for a deflate of <paramref name="length"/> bytes: stored blocks cost 5 bytes per 64 KiB, plus the gzip header and trailer.</summary>
    private static int Bound(int length) => length + (length >> 6) + 1024;

    /// <summary>ISA-L's stateless igzip: one call compresses a whole chunk, with the gzip header and trailer.</summary>
    private static unsafe partial class Isal
    {
        public const string Library = "libisal.so.2";

        // struct isal_zstream of ISA-L 2.30 (igzip_lib.h), LP64: the public fields' offsets. The internal state after
        // them is larger in no release so far; the allocation leaves room to spare.
        private const int StreamBytes = 256 * 1024;
        private const int NextIn = 0, AvailIn = 8, NextOut = 16, AvailOut = 24, TotalOut = 28, LevelField = 40, LevelBufSize = 44, LevelBuf = 48, EndOfStream = 56, Flush = 58, GzipFlag = 60;
        private const int IgzipGzip = 1;
        private const int StatelessOverflow = -1;

        /// <summary>ISAL_DEF_LVLn_DEFAULT of igzip_lib.h (2.30), twice over: the level buffer each level needs.</summary>
        private static readonly int[] LevelBufferBytes = [0, 2 * 282624, 2 * 331776, 2 * 348160];

        private static readonly Lazy<bool> s_available = new(() => Environment.Is64BitProcess && Probe(Library, "isal_deflate_stateless"));

        public static bool Available => s_available.Value;

        [ThreadStatic] private static byte* t_stream;
        [ThreadStatic] private static byte* t_levelBuf;

        public static (byte[] Buffer, int Length) Compress(ReadOnlySpan<byte> input, int level)
        {
            if (t_stream == null)
            {
                t_stream = (byte*)NativeMemory.AllocZeroed(StreamBytes);
                t_levelBuf = (byte*)NativeMemory.Alloc((nuint)LevelBufferBytes[^1]);
            }
            int room = Bound(input.Length);
            while (true)
            {
                byte[] output = ArrayPool<byte>.Shared.Rent(room);
                fixed (byte* inp = input)
                fixed (byte* outp = output)
                {
                    byte* s = t_stream;
                    IsalDeflateStatelessInit(s);
                    *(byte**)(s + NextIn) = inp;
                    *(uint*)(s + AvailIn) = (uint)input.Length;
                    *(byte**)(s + NextOut) = outp;
                    *(uint*)(s + AvailOut) = (uint)output.Length;
                    *(uint*)(s + LevelField) = (uint)level;
                    *(uint*)(s + LevelBufSize) = (uint)LevelBufferBytes[level];
                    *(byte**)(s + LevelBuf) = level == 0 ? null : t_levelBuf;
                    *(ushort*)(s + EndOfStream) = 1;
                    *(ushort*)(s + Flush) = 0;
                    *(ushort*)(s + GzipFlag) = IgzipGzip;
                    int rc = IsalDeflateStateless(s);
                    if (rc == 0)
                        return (output, (int)*(uint*)(s + TotalOut));
                    ArrayPool<byte>.Shared.Return(output);
                    if (rc != StatelessOverflow || room > 2 * input.Length + 65536)
                        throw new InvalidOperationException($"ISA-L isal_deflate_stateless failed ({rc}) at level {level}");
                    room *= 2;
                }
            }
        }

        [LibraryImport(Library, EntryPoint = "isal_deflate_stateless_init")]
        private static partial void IsalDeflateStatelessInit(byte* stream);

        [LibraryImport(Library, EntryPoint = "isal_deflate_stateless")]
        private static partial int IsalDeflateStateless(byte* stream);
    }

    /// <summary>libdeflate's whole-buffer gzip (it has no streaming API; Ferry compresses whole chunks anyway).</summary>
    private static unsafe partial class Libdeflate
    {
        public const string Library = "libdeflate.so.0";

        private static readonly Lazy<bool> s_available = new(() => Probe(Library, "libdeflate_gzip_compress"));

        public static bool Available => s_available.Value;

        /// <summary>One compressor per thread and level (a few hundred KiB each, kept for the thread's life).</summary>
        [ThreadStatic] private static nint[]? t_compressors;

        public static (byte[] Buffer, int Length) Compress(ReadOnlySpan<byte> input, int level)
        {
            var compressors = t_compressors ??= new nint[13];
            if (compressors[level] == 0 && (compressors[level] = AllocCompressor(level)) == 0)
                throw new InvalidOperationException($"libdeflate_alloc_compressor({level}) failed");
            nint c = compressors[level];
            byte[] output = ArrayPool<byte>.Shared.Rent((int)GzipCompressBound(c, (nuint)input.Length));
            fixed (byte* inp = input)
            fixed (byte* outp = output)
            {
                nuint n = GzipCompress(c, inp, (nuint)input.Length, outp, (nuint)output.Length);
                if (n == 0)
                {
                    ArrayPool<byte>.Shared.Return(output);
                    throw new InvalidOperationException($"libdeflate_gzip_compress failed at level {level}");
                }
                return (output, (int)n);
            }
        }

        [LibraryImport(Library, EntryPoint = "libdeflate_alloc_compressor")]
        private static partial nint AllocCompressor(int level);

        [LibraryImport(Library, EntryPoint = "libdeflate_gzip_compress_bound")]
        private static partial nuint GzipCompressBound(nint compressor, nuint length);

        [LibraryImport(Library, EntryPoint = "libdeflate_gzip_compress")]
        private static partial nuint GzipCompress(nint compressor, byte* input, nuint length, byte* output, nuint room);
    }

    /// <summary>Whether <paramref name="library"/> loads and exports <paramref name="symbol"/>.</summary>
    private static bool Probe(string library, string symbol)
    {
        try
        {
            return NativeLibrary.TryLoad(library, out var handle) && NativeLibrary.TryGetExport(handle, symbol, out _);
        }
        catch (Exception e) when (e is BadImageFormatException or DllNotFoundException)
        {
            return false;
        }
    }

    /// <summary>A growable write-only buffer over pooled arrays.</summary>
    private sealed class PooledWriter(byte[] initial) : Stream
    {
        public byte[] Buffer { get; private set; } = initial;
        public int Count { get; private set; }
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => Count;
        public override long Position { get => Count; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> data)
        {
            if (Count + data.Length > Buffer.Length)
            {
                byte[] bigger = ArrayPool<byte>.Shared.Rent(Math.Max(Buffer.Length * 2, Count + data.Length));
                Buffer.AsSpan(0, Count).CopyTo(bigger);
                ArrayPool<byte>.Shared.Return(Buffer);
                Buffer = bigger;
            }
            data.CopyTo(Buffer.AsSpan(Count));
            Count += data.Length;
        }
    }
}
