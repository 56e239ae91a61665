using System.Text;
using Ferry.Digests;

namespace Ferry.Tests.Digests;

public class DigestTests
{
    private const string Hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    [Fact]
    public void ParsesCanonicalSha256()
    {
        var d = Digest.Parse("sha256:" + Hex);
        Assert.Equal("sha256", d.Algorithm);
        Assert.Equal(Hex, d.Hex);
        Assert.Equal("sha256:" + Hex, d.ToString());
        Assert.Equal(Digest.EmptySha256, d);
    }

    [Fact]
    public void ParsesSha512()
    {
        Assert.True(Digest.TryParse("sha512:" + new string('a', 128), out var d));
        Assert.Equal("sha512", d.Algorithm);
    }

    [Theory]
    [InlineData("sha256:../../etc/passwd")]
    [InlineData("sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855")]
    [InlineData("sha256:e3b0c4")]
    [InlineData("md5:d41d8cd98f00b204e9800998ecf8427e")]
    [InlineData("sha256" + Hex)]
    [InlineData("")]
    [InlineData("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85/")]
    [InlineData("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 ")]
    public void RejectsAnythingNotCanonical(string text)
    {
        Assert.False(Digest.TryParse(text, out _));
        Assert.Throws<FormatException>(() => Digest.Parse(text));
    }

    [Fact]
    public void Sha256OfMatchesKnownValue() =>
        Assert.Equal("sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", Digest.Sha256Of(Encoding.ASCII.GetBytes("hello")).ToString());
}

public class VerifyingStreamTests
{
    private static readonly byte[] Data = Encoding.ASCII.GetBytes("hello");
    private static readonly Digest Good = Digest.Sha256Of(Data);

    [Fact]
    public void PassesMatchingContent()
    {
        using var v = new VerifyingStream(new MemoryStream(Data), "blob x", Good, Data.Length);
        Assert.Equal(Good, v.Drain());
        Assert.True(v.Completed);
    }

    [Fact]
    public void FlippedByteIsCaughtAtEnd()
    {
        byte[] bad = (byte[])Data.Clone();
        bad[0] ^= 1;
        using var v = new VerifyingStream(new MemoryStream(bad), "blob x", Good, Data.Length);
        var e = Assert.Throws<DigestMismatchException>(() => v.Drain());
        Assert.Contains("blob x", e.Message);
        Assert.Contains(Good.ToString(), e.Message);
    }

    [Fact]
    public void LongerThanDeclaredFailsWithoutReadingEverything()
    {
        using var v = new VerifyingStream(new MemoryStream(new byte[100]), "blob y", null, 10);
        var e = Assert.Throws<DigestMismatchException>(() => v.Drain());
        Assert.Contains("longer than its declared size 10", e.Message);
    }

    [Fact]
    public void ShorterThanDeclaredFails()
    {
        using var v = new VerifyingStream(new MemoryStream(Data), "blob z", Good, 10L * 1024 * 1024 * 1024);
        var e = Assert.Throws<DigestMismatchException>(() => v.Drain());
        Assert.Contains("declared size is 10737418240", e.Message);
    }

    [Fact]
    public void ZeroLengthReadIsNotEndOfStream()
    {
        using var v = new VerifyingStream(new MemoryStream(Data), "blob", Good, Data.Length);
        Assert.Equal(0, v.Read([], 0, 0));
        Assert.False(v.Completed);
        Assert.Equal(Good, v.Drain());
    }
}
