using System.Formats.Tar;
using System.Text;
using Ferry.Archive;
using Ferry.Tests.TestSupport;

namespace Ferry.Tests.Archive;

public class TarIndexTests
{
    private static TarIndex Build(TempDir dir, params (string Name, string? Data, string? Link, TarEntryType Type)[] files)
    {
        string path = dir.Path("a.tar");
        ImageBuilder.WriteTar(path, files.Select(f => (f.Name, f.Data is null ? null : Encoding.UTF8.GetBytes(f.Data), f.Link, f.Type)), TarEntryFormat.Gnu);
        return TarIndex.Open(path, "a.tar");
    }

    private static string Read(TarIndex index, string name)
    {
        var e = index.Find(name) ?? throw new Xunit.Sdk.XunitException($"{name} not found");
        using var s = index.OpenRead(e);
        return new StreamReader(s).ReadToEnd();
    }

    [Theory]
    [InlineData("./a/b", "a/b")]
    [InlineData("a//b/", "a/b")]
    [InlineData("././x", "x")]
    public void NormalisesNames(string raw, string expected)
    {
        Assert.Equal(expected, TarIndex.Normalize(raw, out var problem));
        Assert.Null(problem);
    }

    [Theory]
    [InlineData("../x")]
    [InlineData("a/../../x")]
    [InlineData("/etc/passwd")]
    [InlineData("a\u0000b")]
    [InlineData("a\nb")]
    public void FlagsHostileNames(string raw)
    {
        TarIndex.Normalize(raw, out var problem);
        Assert.NotNull(problem);
    }

    [Fact]
    public void ResolvesRelativeSymlinkAndHardLink()
    {
        using var dir = new TempDir();
        using var index = Build(dir,
            ("6e77/layer.tar", "LAYER", null, TarEntryType.RegularFile),
            ("b159/layer.tar", null, "../6e77/layer.tar", TarEntryType.SymbolicLink),
            ("c000/layer.tar", null, "6e77/layer.tar", TarEntryType.HardLink),
            ("link-dir", null, "6e77", TarEntryType.SymbolicLink));
        Assert.Equal("LAYER", Read(index, "b159/layer.tar"));
        Assert.Equal("LAYER", Read(index, "./c000/layer.tar"));
        Assert.Equal("LAYER", Read(index, "link-dir/layer.tar"));
        Assert.Null(index.Find("nothing"));
    }

    [Fact]
    public void SymlinkOutsideArchiveIsRejected()
    {
        using var dir = new TempDir();
        using var index = Build(dir,
            ("evil", null, "../../etc/passwd", TarEntryType.SymbolicLink),
            ("abs", null, "/etc/passwd", TarEntryType.SymbolicLink));
        Assert.Contains("outside the archive", Assert.Throws<ArchiveFormatException>(() => index.Find("evil")).Message);
        Assert.Contains("outside the archive", Assert.Throws<ArchiveFormatException>(() => index.Find("abs")).Message);
    }

    [Fact]
    public void SymlinkCycleIsRejected()
    {
        using var dir = new TempDir();
        using var index = Build(dir, ("a", null, "b", TarEntryType.SymbolicLink), ("b", null, "a", TarEntryType.SymbolicLink));
        Assert.Contains("cycle", Assert.Throws<ArchiveFormatException>(() => index.Find("a")).Message);
    }

    [Fact]
    public void DuplicateEntriesWithDifferentContentAreAmbiguous()
    {
        using var dir = new TempDir();
        using var index = Build(dir, ("manifest.json", "[1]", null, TarEntryType.RegularFile), ("manifest.json", "[2]", null, TarEntryType.RegularFile));
        Assert.Contains("ambiguous", Assert.Throws<ArchiveFormatException>(() => index.Find("manifest.json")).Message);
    }

    [Fact]
    public void DuplicateEntriesWithEqualContentAreFine()
    {
        using var dir = new TempDir();
        using var index = Build(dir, ("x", "same", null, TarEntryType.RegularFile), ("./x", "same", null, TarEntryType.RegularFile));
        Assert.Equal("same", Read(index, "x"));
    }

    [Fact]
    public void EntryWithDotDotIsRejectedAtIndexTime()
    {
        using var dir = new TempDir();
        string path = dir.Path("a.tar");
        ImageBuilder.WriteTar(path, [("../escape", "x"u8.ToArray(), null, TarEntryType.RegularFile)]);
        var e = Assert.Throws<ArchiveFormatException>(() => TarIndex.Open(path, "a.tar"));
        Assert.Contains("'../escape'", e.Message);
    }

    [Fact]
    public void TruncatedArchiveIsReported()
    {
        using var dir = new TempDir();
        string path = dir.Path("a.tar");
        ImageBuilder.WriteTar(path, [("big", new byte[5000], null, TarEntryType.RegularFile)]);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..2000]);
        var e = Assert.Throws<ArchiveFormatException>(() => TarIndex.Open(path, "a.tar"));
        Assert.Contains("a.tar", e.Message);
    }

    [Fact]
    public void MalformedBase256SizeBecomesArchiveFormatException()
    {
        // .NET's TarReader throws OverflowException for a base-256 size field 0x80 FF..FF (dotnet.md §1.6).
        using var dir = new TempDir();
        string path = dir.Path("a.tar");
        ImageBuilder.WriteTar(path, [("x", new byte[10], null, TarEntryType.RegularFile)]);
        var bytes = File.ReadAllBytes(path);
        bytes[124] = 0x80;
        for (int i = 125; i < 136; i++)
            bytes[i] = 0xff;
        File.WriteAllBytes(path, bytes);
        Assert.Throws<ArchiveFormatException>(() => TarIndex.Open(path, "a.tar"));
    }
}

public class DeterministicTarWriterTests
{
    private static byte[] Write(long mtime = 0)
    {
        using var ms = new MemoryStream();
        using (var w = new DeterministicTarWriter(ms, mtime, leaveOpen: true))
        {
            w.AddDirectoryAsync("blobs/").GetAwaiter().GetResult();
            w.AddFileAsync("blobs/sha256/" + new string('a', 64), new MemoryStream(Encoding.UTF8.GetBytes("content")), 7).GetAwaiter().GetResult();
            w.AddFileAsync(new string('d', 120) + "/" + new string('f', 90), new MemoryStream(new byte[700]), 700).GetAwaiter().GetResult();
            w.Finish();
        }
        return ms.ToArray();
    }

    [Fact]
    public void OutputIsByteIdenticalAndReadable()
    {
        var a = Write();
        Assert.Equal(a, Write());
        using var r = new TarReader(new MemoryStream(a));
        var names = new List<string>();
        while (r.GetNextEntry() is { } e)
        {
            names.Add(e.Name);
            Assert.Equal(TarEntryFormat.Ustar, e.Format);
            Assert.Equal(DateTimeOffset.UnixEpoch, e.ModificationTime);
            Assert.Equal(0, e.Uid);
            Assert.Equal("", ((PosixTarEntry)e).UserName);
        }
        Assert.Equal(["blobs/", "blobs/sha256/" + new string('a', 64), new string('d', 120) + "/" + new string('f', 90)], names);
        Assert.Equal(0, a.Length % 512);
    }

    [Fact]
    public void MtimeComesFromOption()
    {
        using var r = new TarReader(new MemoryStream(Write(1700000000)));
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1700000000), r.GetNextEntry()!.ModificationTime);
    }

    [Fact]
    public async Task ShortSourceIsAnError()
    {
        using var ms = new MemoryStream();
        using var w = new DeterministicTarWriter(ms, 0, leaveOpen: true);
        await Assert.ThrowsAsync<DigestMismatchException>(() => w.AddFileAsync("x", new MemoryStream(new byte[10]), 20));
    }

    [Fact]
    public async Task LongSourceIsAnError()
    {
        using var ms = new MemoryStream();
        using var w = new DeterministicTarWriter(ms, 0, leaveOpen: true);
        await Assert.ThrowsAsync<DigestMismatchException>(() => w.AddFileAsync("x", new MemoryStream(new byte[30]), 20));
    }
}
