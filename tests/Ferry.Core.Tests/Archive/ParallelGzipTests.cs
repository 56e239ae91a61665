using System.IO.Compression;
using Ferry.Compression;

namespace Ferry.Tests.Archive;

public class ParallelGzipTests
{
    private static byte[] Compress(byte[] data, int chunk, int threads)
    {
        using var ms = new MemoryStream();
        using (var gz = new ParallelGzipStream(ms, GzipEncoder.ZlibNg(6), chunk, threads))
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
}
