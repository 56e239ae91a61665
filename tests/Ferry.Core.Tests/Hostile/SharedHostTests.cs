using System.Diagnostics;
using System.Text;
using Ferry.Tests.TestSupport;

namespace Ferry.Tests.Hostile;

/// <summary>
/// A host shared with someone hostile: any path Ferry writes or reads may be a symbolic link, a FIFO or a device (made
/// here with mknod/mkfifo in the test's own directory, never under /dev). Nothing is replaced that is not a regular
/// file, links are written through, small files are read with a limit and never block, temp files are the owner's
/// only, credential helpers are run, bounded and ended, and never quoted.
/// </summary>
[Collection(HostilePeerCollection.Name)]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class SharedHostTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static (int Code, string Out, string Err) Run(string[] args, string? stdin = null, bool stdoutIsTerminal = false)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        Func<Stream>? input = stdin is null ? null : () => new MemoryStream(Encoding.UTF8.GetBytes(stdin));
        int code = Ferry.Cli.Program.Run(args, o, e, input, stdoutIsTerminal: stdoutIsTerminal).GetAwaiter().GetResult();
        return (code, o.ToString(), e.ToString());
    }

    private static string CharDevice(string path, uint major, uint minor) => SpecialFiles.CharDevice(path, major, minor);

    private static string Fifo(string path) => SpecialFiles.Fifo(path);

    private static bool IsCharDevice(string path) => IO.LocalFiles.KindOf(path, follow: false) == IO.FileKind.CharDevice;

    private static string Sample() => Corpus.Path("samples/ferry-sample.tar");

    private string[] Leftovers() => [.. Directory.GetFiles(_dir.Path(""), "*.tmp", SearchOption.AllDirectories)];

    // ---- destinations ------------------------------------------------------------------------------------------

    [Fact]
    public void ACharacterDeviceDestinationIsWrittenInPlaceNotReplaced()
    {
        string dev = CharDevice(_dir.Path("null"), 1, 3);
        var r = Run(["copy", Sample(), dev, "-q"]);
        Assert.True(r.Code == 0, r.Err);
        Assert.True(IsCharDevice(dev), "the device node was replaced by a file");
        Assert.Empty(Leftovers());
    }

    [Fact]
    public void AFullDeviceFailsTheCopyAndStaysADevice()
    {
        string dev = CharDevice(_dir.Path("full"), 1, 7);
        var r = Run(["copy", Sample(), dev, "-q"]);
        Assert.Equal(6, r.Code);
        Assert.Single(r.Err.Trim().Split('\n'));
        Assert.StartsWith("ferry: ", r.Err, StringComparison.Ordinal);
        Assert.True(IsCharDevice(dev), "the device node was replaced by a file");
        Assert.Empty(Leftovers());
    }

    [Fact]
    public async Task AFifoDestinationIsWrittenInPlaceSequentially()
    {
        string fifo = Fifo(_dir.Path("pipe"));
        var reader = Task.Run(() => File.ReadAllBytes(fifo));
        var r = Run(["copy", Sample(), fifo, "-q"]);
        Assert.True(r.Code == 0, r.Err);
        byte[] got = await reader.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(IO.FileKind.Fifo, IO.LocalFiles.KindOf(fifo, follow: false));
        // what went through the FIFO is the archive a file would hold
        Ok(Run(["copy", Sample(), _dir.Path("file.tar"), "-q"]));
        Assert.Equal(File.ReadAllBytes(_dir.Path("file.tar")), got);
    }

    [Fact]
    public void ASymlinkDestinationWritesTheFileItNamesAndStaysALink()
    {
        Directory.CreateDirectory(_dir.Path("store"));
        string target = _dir.Path("store/real.tar");
        File.WriteAllText(target, "old");
        File.SetUnixFileMode(target, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        string link = _dir.Path("link.tar");
        File.CreateSymbolicLink(link, "store/real.tar");
        Ok(Run(["copy", Sample(), link, "-q"]));
        Assert.Equal("store/real.tar", new FileInfo(link).LinkTarget);
        Assert.Equal("ferry-sample", ArchiveName(target));
        // the file it named keeps its mode, as an overwritten file does
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(target));
        // a link to a file not there yet: the file is made
        string dangling = _dir.Path("dangling.tar");
        File.CreateSymbolicLink(dangling, "store/new.tar");
        Ok(Run(["copy", Sample(), dangling, "-q"]));
        Assert.True(File.Exists(_dir.Path("store/new.tar")));
        Assert.NotNull(new FileInfo(dangling).LinkTarget);
        Assert.Empty(Leftovers());
    }

    private static string ArchiveName(string path)
    {
        var r = CliRun.Run("inspect", path, "--json");
        CliRun.Ok(r);
        return r.Out.Contains("ferry-sample", StringComparison.Ordinal) ? "ferry-sample" : r.Out;
    }

    [Fact]
    public void RecordsSplitPartsAndChecksumFilesAreWrittenThroughLinksAndNeverOverDevices()
    {
        Directory.CreateDirectory(_dir.Path("real"));
        string rec = _dir.Path("week.rec");
        File.CreateSymbolicLink(rec, "real/week.rec");
        Ok(Run(["copy", Sample(), _dir.Path("a.tar"), "--record", rec, "-q"]));
        Assert.NotNull(new FileInfo(rec).LinkTarget);
        Assert.StartsWith("{", File.ReadAllText(_dir.Path("real/week.rec")), StringComparison.Ordinal);

        // a record over a device: written in place, the node kept
        string dev = CharDevice(_dir.Path("rec-null"), 1, 3);
        Ok(Run(["copy", Sample(), _dir.Path("b.tar"), "--record", dev, "-q"]));
        Assert.True(IsCharDevice(dev));

        // a part that is a device: refused before any part replaces anything
        string parts = _dir.Path("s.tar");
        CharDevice(parts + ".001", 1, 3);
        var r = Run(["copy", Sample(), parts, "--split", "20K", "-q"]);
        Assert.Equal(6, r.Code);
        Assert.Contains("s.tar.001: is a character device", r.Err, StringComparison.Ordinal);
        Assert.True(IsCharDevice(parts + ".001"));
        Assert.False(File.Exists(parts + ".000"));
        Assert.Empty(Leftovers());

        // --split to a device is a usage error
        Assert.Equal(2, Run(["copy", Sample(), dev, "--split", "20K", "-q"]).Code);
    }

    [Fact]
    public void ASplitPartReplacedByALinkIsRefused()
    {
        string parts = _dir.Path("s.tar");
        Ok(Run(["copy", Sample(), parts, "--split", "20K", "-q"]));
        // the same bytes elsewhere: only a link, so refused
        string elsewhere = _dir.Path("elsewhere.bin");
        File.Copy(parts + ".001", elsewhere);
        File.Delete(parts + ".001");
        File.CreateSymbolicLink(parts + ".001", elsewhere);
        var r = Run(["verify", parts + ".000"]);
        Assert.NotEqual(0, r.Code);
        Assert.Contains("s.tar.001: is a symbolic link", r.Out + r.Err, StringComparison.Ordinal);
        var serve = Run(["copy", parts + ".000", _dir.Path("x.tar"), "-q"]);
        Assert.Equal(3, serve.Code);
        Assert.Contains("regular files", serve.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void TheFirstPartNamedThroughALinkIsReadBesideWhereItIs()
    {
        Directory.CreateDirectory(_dir.Path("usb"));
        string parts = _dir.Path("usb/s.tar");
        Ok(Run(["copy", Sample(), parts, "--split", "20K", "-q"]));
        File.CreateSymbolicLink(_dir.Path("s.tar.000"), parts + ".000");
        Ok(Run(["copy", _dir.Path("s.tar.000"), _dir.Path("joined.tar"), "-q"]));
    }

    // ---- small files read with a limit -------------------------------------------------------------------------

    [Fact]
    public void AnAuthFileThatNeverEndsIsRefusedWithinItsLimit()
    {
        string zero = CharDevice(_dir.Path("zero"), 1, 5);
        using var reg = new FakeRegistry("user:s3cret");
        var sw = Stopwatch.StartNew();
        var r = Run(["push", Sample(), reg.Address, "--authfile", zero, "-q"]);
        Assert.Equal(2, r.Code);
        Assert.Single(r.Err.Trim().Split('\n'));
        Assert.Contains("character device giving more than", r.Err, StringComparison.Ordinal);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(20), $"took {sw.Elapsed}");
    }

    [Fact]
    public void AFifoThatNobodyWritesIsNoHang()
    {
        // A writer that keeps it open and never writes (opened read-write, which does not wait for a reader): the read
        // gives up in time.
        string fifo = Fifo(_dir.Path("auth.json"));
        using var writer = new FileStream(fifo, FileMode.Open, FileAccess.ReadWrite);
        var sw = Stopwatch.StartNew();
        var r = Run(["serve", Sample(), "--listen", "127.0.0.1:0", "--htpasswd", fifo]);
        Assert.Equal(2, r.Code);
        Assert.Contains("gave no end of data within", r.Err, StringComparison.Ordinal);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(12), $"took {sw.Elapsed}");
        // no writer at all: an empty file, at once
        string lonely = Fifo(_dir.Path("lonely"));
        sw.Restart();
        r = Run(["serve", Sample(), "--listen", "127.0.0.1:0", "--htpasswd", lonely]);
        Assert.Equal(2, r.Code);
        Assert.Contains("no users", r.Err, StringComparison.Ordinal);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(5), $"took {sw.Elapsed}");
    }

    [Fact]
    public void AnHtpasswdDeviceIsRefusedWithinItsLimit()
    {
        string zero = CharDevice(_dir.Path("zero"), 1, 5);
        var r = Run(["serve", Sample(), "--listen", "127.0.0.1:0", "--htpasswd", zero]);
        Assert.Equal(2, r.Code);
        Assert.Equal($"ferry: --htpasswd {zero}: a character device giving more than 1 MiB, over the limit", r.Err.Trim().Split('\n')[0]);
    }

    [Fact]
    public void AKeyRecordAndChecksumFileAreReadWithALimit()
    {
        string zero = CharDevice(_dir.Path("zero"), 1, 5);
        var key = Run(["verify", Sample(), "--key", zero]);
        Assert.Equal(2, key.Code);
        Assert.Contains("giving more than", key.Err, StringComparison.Ordinal);
        var since = Run(["copy", Sample(), _dir.Path("o.tar"), "--since", zero, "-q"]);
        Assert.Equal(2, since.Code);
        Assert.Contains("giving more than", since.Err, StringComparison.Ordinal);
    }

    // ---- temp files and the terminal ---------------------------------------------------------------------------

    [Fact]
    public async Task TheStdinSpoolIsTheOwnersOnly()
    {
        string tmp = _dir.Path("tmp");
        Directory.CreateDirectory(tmp);
        var modes = new List<UnixFileMode>();
        using var watcher = new FileSystemWatcher(tmp) { EnableRaisingEvents = true };
        watcher.Created += (_, e) =>
        {
            try
            {
                lock (modes)
                    modes.Add(File.GetUnixFileMode(e.FullPath));
            }
            catch (IOException)
            {
            }
        };
        string? before = Environment.GetEnvironmentVariable("TMPDIR");
        try
        {
            Environment.SetEnvironmentVariable("TMPDIR", tmp);
            var o = new StringWriter();
            var e = new StringWriter();
            int code = await Ferry.Cli.Program.Run(["copy", "-", _dir.Path("out.tar"), "-q"], o, e, () => File.OpenRead(Sample()));
            Assert.True(code == 0, e.ToString());
        }
        finally
        {
            Environment.SetEnvironmentVariable("TMPDIR", before);
        }
        await Task.Delay(200);
        lock (modes)
        {
            Assert.NotEmpty(modes);
            Assert.All(modes, m => Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, m));
        }
    }

    [Fact]
    public void AnArchiveIsNeverWrittenToATerminal()
    {
        var r = Run(["copy", Sample(), "-"], stdoutIsTerminal: true);
        Assert.Equal(2, r.Code);
        Assert.Equal("", r.Out);
        Assert.StartsWith("ferry: refusing to write an archive to a terminal", r.Err, StringComparison.Ordinal);
        Assert.Equal(2, Run(["save", "x:1", "-o", "-"], stdoutIsTerminal: true).Code);
        // --json to a terminal is fine: only archives are refused
        Assert.Equal(0, Run(["inspect", Sample(), "--json"], stdoutIsTerminal: true).Code);
    }

    private static void Ok((int Code, string Out, string Err) r) => Assert.True(r.Code == 0, $"exit {r.Code}: {r.Err}");
}
