using System.IO.Compression;
using Ferry.Compression;

namespace Ferry.Tests.Archive;

public class ParallelGzipTests
{
    private static byte[] Compress(byte[] data, int chunk, int threads, GzipEncoder? encoder = null)
    {
        using var ms = new MemoryStream();
        using (var gz = new ParallelGzipStream(ms, encoder ?? GzipEncoder.ZlibNg(6), chunk, threads))
        {
            for (int i = 0; i < data.Length; i += 777)
                gz.Write(data, i, Math.Min(777, data.Length - i));
        }
        return ms.ToArray();
    }

    private static byte[] Gunzip(byte[] gz)
    {
        using var o = new MemoryStream();
        using (var d = new GZipStream(new MemoryStream(gz), CompressionMode.Decompress))
            d.CopyTo(o);
        return o.ToArray();
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(4096)]
    [InlineData(4096 * 5)]
    [InlineData(4096 * 5 + 13)]
    public void MultiMemberOutputRoundTrips(int size)
    {
        var data = new byte[size];
        new Random(size).NextBytes(data.AsSpan(0, size / 2));
        var gz = Compress(data, 4096, 2);
        Assert.Equal(0x1f, gz[0]);
        Assert.Equal(data, Gunzip(gz));
    }

    [Fact]
    public void OutputDependsOnlyOnInputAndChunkSize()
    {
        var data = new byte[100_000];
        new Random(1).NextBytes(data.AsSpan(0, 50_000));
        Assert.Equal(Compress(data, 8192, 1), Compress(data, 8192, 4));
    }

    /// <summary>Text-like data that compresses (a repeated vocabulary) followed by random bytes that do not.</summary>
    private static byte[] Mixed(int size)
    {
        var rng = new Random(size);
        var data = new byte[size];
        string[] words = ["layer", "image", "manifest", "config", "digest", "sha256", "tar", "blob", "\n", "/usr/lib/"];
        int i = 0;
        while (i < size / 2)
        {
            foreach (char c in words[rng.Next(words.Length)])
                if (i < size / 2)
                    data[i++] = (byte)c;
        }
        rng.NextBytes(data.AsSpan(size / 2));
        return data;
    }

    public static TheoryData<GzipCodec, int> Codecs() => new()
    {
        { GzipCodec.ZlibNg, 1 }, { GzipCodec.ZlibNg, 9 },
        { GzipCodec.Isal, 0 }, { GzipCodec.Isal, 1 }, { GzipCodec.Isal, 3 },
        { GzipCodec.Libdeflate, 1 }, { GzipCodec.Libdeflate, 12 },
    };

    /// <summary>Every codec at its levels: output that gunzip reads back, the same bytes on every run and with any thread count.</summary>
    [Theory]
    [MemberData(nameof(Codecs))]
    public void EveryCodecRoundTripsAndIsDeterministic(GzipCodec codec, int level)
    {
        if (!GzipEncoder.Installed(codec))
        {
            // CI installs libisal2 and libdeflate0; a machine without them gets the usage error instead.
            Assert.NotEqual("required", Environment.GetEnvironmentVariable("FERRY_INTEROP"));
            Assert.Throws<UsageException>(() => GzipEncoder.Resolve(codec, level));
            return;
        }
        var encoder = GzipEncoder.Resolve(codec, level);
        Assert.Equal(codec, encoder.Codec);
        foreach (int size in new[] { 0, 1, 70_000, 300_001 })
        {
            var data = Mixed(size);
            var gz = Compress(data, 65536, 2, encoder);
            Assert.Equal(data, Gunzip(gz));
            Assert.Equal(gz, Compress(data, 65536, 1, encoder));
            if (size > 10_000)
                Assert.True(gz.Length < size / 2 + size / 4, $"{codec} {level}: {gz.Length} bytes for {size}");
        }
        // Member headers carry no time: mtime 0.
        Assert.Equal([0, 0, 0, 0], Compress(Mixed(1000), 65536, 1, encoder)[4..8]);
    }

    [Fact]
    public void CodecsGiveTheirOwnBytes()
    {
        var data = Mixed(200_000);
        var outputs = Enum.GetValues<GzipCodec>().Where(c => c != GzipCodec.Auto && GzipEncoder.Installed(c))
            .Select(c => Convert.ToHexString(Compress(data, 65536, 2, GzipEncoder.Resolve(c, null)))).ToList();
        Assert.Equal(outputs.Count, outputs.Distinct().Count());
    }

    [Fact]
    public void AutoTakesTheFastestInstalledCodecAndAGivenLevelTakesZlibNg()
    {
        Assert.Equal(GzipCodec.Isal, GzipEncoder.Resolve(GzipCodec.Auto, null, _ => true).Codec);
        Assert.Equal(2, GzipEncoder.Resolve(GzipCodec.Auto, null, _ => true).Level);
        Assert.Equal(GzipCodec.Libdeflate, GzipEncoder.Resolve(GzipCodec.Auto, null, c => c != GzipCodec.Isal).Codec);
        Assert.Equal(1, GzipEncoder.Resolve(GzipCodec.Auto, null, c => c != GzipCodec.Isal).Level);
        var none = GzipEncoder.Resolve(GzipCodec.Auto, null, c => c == GzipCodec.ZlibNg);
        Assert.Equal((GzipCodec.ZlibNg, 3), (none.Codec, none.Level));
        Assert.Equal((GzipCodec.ZlibNg, 6), (GzipEncoder.Resolve(GzipCodec.Auto, 6, _ => true).Codec, GzipEncoder.Resolve(GzipCodec.Auto, 6, _ => true).Level));
    }

    [Theory]
    [InlineData(GzipCodec.Isal, null, "libisal.so.2 is not installed (Debian/Ubuntu: apt-get install libisal2)")]
    [InlineData(GzipCodec.Libdeflate, null, "libdeflate.so.0 is not installed")]
    [InlineData(GzipCodec.ZlibNg, 10, "gzip level 10 is out of range for zlib-ng (1-9)")]
    [InlineData(GzipCodec.Isal, 4, "gzip level 4 is out of range for isal (0-3)")]
    [InlineData(GzipCodec.Libdeflate, 13, "gzip level 13 is out of range for libdeflate (1-12)")]
    public void AMissingCodecOrALevelItLacksIsAUsageError(GzipCodec codec, int? level, string message)
    {
        var e = Assert.Throws<UsageException>(() => GzipEncoder.Resolve(codec, level, c => c == GzipCodec.ZlibNg));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }
}
