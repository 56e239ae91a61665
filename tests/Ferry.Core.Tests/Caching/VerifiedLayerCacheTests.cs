using System.Diagnostics;
using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using Ferry.Caching;
using Ferry.Compression;
using Ferry.Digests;
using Ferry.Tests.TestSupport;
using Xunit.Abstractions;

namespace Ferry.Tests.Caching;

[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public class VerifiedLayerCacheTests(ITestOutputHelper output)
{
    private const string Gzip = "application/vnd.oci.image.layer.v1.tar+gzip";
    private const string DockerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip";

    private sealed class Clock(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;

        public override DateTimeOffset GetUtcNow() => Now;
    }

    private static readonly DateTimeOffset T0 = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000);

    private static Digest D(string seed) => Digest.Sha256Of(Encoding.UTF8.GetBytes(seed));

    private static Digest D(int i) => D("pair " + i.ToString(System.Globalization.CultureInfo.InvariantCulture));

    private static Digest Diff(int i) => D("diff " + i.ToString(System.Globalization.CultureInfo.InvariantCulture));

    private static VerifiedLayerCache New(string dir, Clock? clock = null, int max = VerifiedLayerCache.DefaultMaxEntries, List<string>? warnings = null, List<string>? notes = null) =>
        new(dir, max, clock ?? new Clock(T0), m => warnings?.Add(m), m => notes?.Add(m));

    /// <summary>A line with a correct check, for any text (to test the fields, not only the check).</summary>
    private static string Line(string text) =>
        text + " " + Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes(text)))[..8] + "\n";

    private static (byte[] Bytes, Digest Compressed, Digest DiffId) Layer(string content)
    {
        byte[] plain = Encoding.UTF8.GetBytes(content);
        using var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true))
            gz.Write(plain);
        byte[] bytes = ms.ToArray();
        return (bytes, Digest.Sha256Of(bytes), Digest.Sha256Of(plain));
    }

    /// <summary>
    /// A layer copied as the transfer stage is to do it: the compressed bytes always through a <see cref="VerifyingStream"/>;
    /// on <see cref="DiffIdCheck.Inflate"/> also through a <see cref="DiffIdVerifyingStream"/>, recorded at its end.
    /// </summary>
    private static async Task<DiffIdCheck> CopyLayer(VerifiedLayerCache cache, byte[] bytes, Digest compressed, Digest configDiffId, int? readOnly = null)
    {
        var how = cache.Check(compressed, Gzip, configDiffId);
        Stream s = new VerifyingStream(new MemoryStream(bytes), "layer", compressed, bytes.Length);
        if (how == DiffIdCheck.Inflate)
            s = cache.RecordAtEnd(new DiffIdVerifyingStream(s, CompressionKind.Gzip, configDiffId, "layer"), compressed, Gzip, configDiffId);
        await using (s)
        {
            if (readOnly is int n)
                await s.ReadAtLeastAsync(new byte[n], n);
            else
                await s.CopyToAsync(Stream.Null);
        }
        return how;
    }

    [Fact]
    public void RoundTrip_HitsOnlyTheExactPair_AndWritesPrivateReadableFile()
    {
        using var tmp = new TempDir();
        string dir = tmp.Path("cache");
        using (var cache = New(dir))
        {
            Assert.Equal(DiffIdCheck.Inflate, cache.Check(D(1), Gzip, D(2)));
            cache.Record(D(1), Gzip, D(2));
            cache.Record(D(3), DockerGzip, D(4));
            Assert.Equal(DiffIdCheck.Cache, cache.Check(D(1), Gzip, D(2)));
        }
        var again = New(dir);
        Assert.Equal(DiffIdCheck.Cache, again.Check(D(1), Gzip, D(2)));
        Assert.Equal(DiffIdCheck.Cache, again.Check(D(3), DockerGzip, D(4)));
        Assert.Equal(D(2), again.DiffIdOf(D(1), Gzip));
        Assert.Equal(DiffIdCheck.Inflate, again.Check(D(1), Gzip, D(9)));       // the config says otherwise: inflate
        Assert.Equal(DiffIdCheck.Inflate, again.Check(D(1), DockerGzip, D(2))); // another media type
        Assert.Null(again.DiffIdOf(D(5), Gzip));
        Assert.Equal(0, again.DroppedLines);

        string file = Path.Combine(dir, VerifiedLayerCache.FileName);
        string[] lines = File.ReadAllLines(file);
        Assert.StartsWith("# ferry verified-layer cache, format 1", lines[0], StringComparison.Ordinal);
        Assert.Equal(3, lines.Length);
        var first = string.CompareOrdinal(D(1).Hex, D(3).Hex) < 0 ? (D(1), D(2), Gzip) : (D(3), D(4), DockerGzip);
        Assert.Equal(Line($"{first.Item1} {first.Item2} {first.Item3} {T0.ToUnixTimeSeconds()}"), lines[1] + "\n");
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(dir));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file + ".lock"));
        }
        Assert.Equal([VerifiedLayerCache.FileName, VerifiedLayerCache.FileName + ".lock"], Directory.GetFiles(dir).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void TheFileIsDeterministic()
    {
        using var tmp = new TempDir();
        using (var a = New(tmp.Path("a")))
        {
            for (int i = 0; i < 50; i++)
                a.Record(D(i), Gzip, Diff(i));
        }
        using (var b = New(tmp.Path("b")))
        {
            for (int i = 49; i >= 0; i--)
                b.Record(D(i), Gzip, Diff(i));
        }
        Assert.Equal(File.ReadAllBytes(Path.Combine(tmp.Path("a"), VerifiedLayerCache.FileName)), File.ReadAllBytes(Path.Combine(tmp.Path("b"), VerifiedLayerCache.FileName)));
    }

    [Fact]
    public void PairsThatCannotBeKeptAreIgnored()
    {
        using var tmp = new TempDir();
        using (var cache = New(tmp.Path("c")))
        {
            var sha512 = Digest.Parse("sha512:" + new string('a', 128));
            cache.Record(sha512, Gzip, D(1));
            cache.Record(D(1), Gzip, sha512);
            cache.Record(D(2), "application/x; charset=binary", D(3));
            cache.Record(D(4), "no-slash", D(5));
            cache.Record(D(6), Gzip, D(6)); // an uncompressed layer: its digest is its diff_id
            Assert.Equal(DiffIdCheck.Inflate, cache.Check(sha512, Gzip, D(1)));
        }
        Assert.False(File.Exists(Path.Combine(tmp.Path("c"), VerifiedLayerCache.FileName)));
    }

    [Fact]
    public void Bounded_TheLeastRecentlyRecordedOrUsedAreDropped()
    {
        using var tmp = new TempDir();
        string dir = tmp.Path("c");
        var clock = new Clock(T0);
        using (var c = New(dir, clock, max: 3))
        {
            for (int i = 0; i < 3; i++)
            {
                clock.Now = T0.AddMinutes(i);
                c.Record(D(i), Gzip, Diff(i));
            }
        }
        clock.Now = T0.AddDays(2);
        using (var c = New(dir, clock, max: 3))
            Assert.Equal(DiffIdCheck.Cache, c.Check(D(0), Gzip, Diff(0))); // used: renewed, so D(1) is now the oldest
        clock.Now = T0.AddDays(3);
        using (var c = New(dir, clock, max: 3))
        {
            c.Record(D(3), Gzip, Diff(3));
            c.Record(D(4), Gzip, Diff(4));
        }
        var kept = New(dir, clock, max: 3).Snapshot().Select(p => p.Compressed).ToHashSet();
        Assert.True(kept.SetEquals([D(0), D(3), D(4)]), string.Join(", ", kept));
        Assert.Equal(4, File.ReadAllLines(Path.Combine(dir, VerifiedLayerCache.FileName)).Length);
    }

    [Fact]
    public void ACutFileNeverGivesAWrongPair_AndIsRepairedByTheNextWrite()
    {
        using var tmp = new TempDir();
        string dir = tmp.Path("c");
        using (var c = New(dir))
        {
            for (int i = 0; i < 3; i++)
                c.Record(D(i), Gzip, Diff(i));
        }
        string file = Path.Combine(dir, VerifiedLayerCache.FileName);
        byte[] whole = File.ReadAllBytes(file);
        var truth = New(dir).Snapshot();
        Assert.Equal(3, truth.Count);
        for (int cut = 0; cut <= whole.Length; cut++)
        {
            File.WriteAllBytes(file, whole[..cut]);
            var seen = New(dir).Snapshot();
            Assert.Subset(truth.ToHashSet(), seen.ToHashSet());
            // Every line whose text and check are whole is kept (its newline may be cut).
            int complete = truth.Count(p => whole.AsSpan(0, cut).IndexOf(Encoding.ASCII.GetBytes(Line($"{p.Compressed} {p.DiffId} {p.MediaType} {p.LastUsed}").TrimEnd('\n'))) >= 0);
            Assert.Equal(complete, seen.Count);
        }

        File.WriteAllBytes(file, whole[..(whole.Length - 40)]);
        using (var c = New(dir))
        {
            Assert.Equal(DiffIdCheck.Inflate, c.Check(truth[^1].Compressed, Gzip, truth[^1].DiffId)); // the cut line
            Assert.Equal(DiffIdCheck.Cache, c.Check(truth[0].Compressed, Gzip, truth[0].DiffId));
            Assert.Equal(1, c.DroppedLines);
            c.Record(D(7), Gzip, Diff(7));
        }
        var repaired = New(dir);
        Assert.Equal(3, repaired.Snapshot().Count);
        Assert.Equal(0, repaired.DroppedLines);
        Assert.EndsWith("\n", File.ReadAllText(file), StringComparison.Ordinal);
    }

    [Fact]
    public void GarbageLinesAreIgnored_GoodOnesKept_AndTheFileRepaired()
    {
        using var tmp = new TempDir();
        string dir = tmp.Path("c");
        Directory.CreateDirectory(dir);
        string file = Path.Combine(dir, VerifiedLayerCache.FileName);
        long t = T0.ToUnixTimeSeconds();
        string good1 = Line($"{D(1)} {Diff(1)} {Gzip} {t}");
        string good2 = Line($"{D(2)} {Diff(2)} {DockerGzip} {t}");
        string[] bad =
        [
            "hello\n",
            "\0\0\0\u0001\u00ff garbage\n",
            "\n",
            Line($"sha256:{D(3).Hex.ToUpperInvariant()} {Diff(3)} {Gzip} {t}"),  // uppercase hex, well checked
            Line($"{D(4)} {Diff(4)} {Gzip} {t} extra"),                          // a field too many
            Line($"{D(5)} {Diff(5)} application/x;p=1 {t}"),                     // parameters
            Line($"{D(6)} {Diff(6)} {Gzip} -{t}"),                               // a sign
            Line($"{D(7)} {Diff(7)} {Gzip} 0{t}"),                               // a leading zero
            Line($"{D(8)} {Diff(8)} {Gzip}/{new string('x', 300)} {t}"),         // over the line limit
            Line($"{D(9)} {Diff(9)} {Gzip} {t}").Replace("\n", "\r\n", StringComparison.Ordinal), // CRLF
            Line($"{D(10)} sha512:{new string('a', 128)} {Gzip} {t}"),
            $"{D(11)} {Diff(11)} {Gzip} {t} 00000000\n",                          // a wrong check
            Line($"{D(12)} {Diff(12)} {Gzip} {t}"), Line($"{D(12)} {Diff(13)} {Gzip} {t}"), // two answers for one layer
        ];
        File.WriteAllText(file, "# a comment\n" + bad[0] + good1 + string.Concat(bad[1..]) + good2);
        using (var c = New(dir))
        {
            Assert.Equal(DiffIdCheck.Cache, c.Check(D(1), Gzip, Diff(1)));
            Assert.Equal(DiffIdCheck.Cache, c.Check(D(2), DockerGzip, Diff(2)));
            foreach (int i in new[] { 3, 4, 6, 7, 9, 11, 12 })
                Assert.Equal(DiffIdCheck.Inflate, c.Check(D(i), Gzip, Diff(i)));
            Assert.Equal(DiffIdCheck.Inflate, c.Check(D(12), Gzip, Diff(13)));
            Assert.Equal(2, c.Snapshot().Count);
            Assert.Equal(bad.Length, c.DroppedLines);
        }
        // Nothing new was recorded, yet the damaged file was rewritten: the good pairs, canonically.
        Assert.Equal(CacheFormat.Header + string.Concat(new[] { good1, good2 }.Order(StringComparer.Ordinal)), File.ReadAllText(file));
    }

    [Fact]
    public void ABitFlippedLineIsDropped_NeverTrusted()
    {
        using var tmp = new TempDir();
        string dir = tmp.Path("c");
        using (var c = New(dir))
        {
            for (int i = 0; i < 3; i++)
                c.Record(D(i), Gzip, Diff(i));
        }
        string file = Path.Combine(dir, VerifiedLayerCache.FileName);
        byte[] whole = File.ReadAllBytes(file);
        var truth = New(dir).Snapshot();
        int start = Array.IndexOf(whole, (byte)'\n', CacheFormat.Header.Length) + 1; // the second pair's line
        int end = Array.IndexOf(whole, (byte)'\n', start);
        var middle = truth[1];
        for (int i = start; i <= end; i++)
        {
            for (int bit = 0; bit < 8; bit++)
            {
                byte[] flipped = (byte[])whole.Clone();
                flipped[i] ^= (byte)(1 << bit);
                File.WriteAllBytes(file, flipped);
                var c = New(dir);
                var seen = c.Snapshot();
                Assert.Subset(truth.ToHashSet(), seen.ToHashSet());
                Assert.DoesNotContain(middle, seen);
                Assert.Contains(truth[0], seen);
                Assert.True(c.DroppedLines >= 1 || (i == start && flipped[i] == '#'), $"byte {i} bit {bit}");
            }
        }
    }

    [Fact]
    public async Task AMissIsInflatedAndRecorded_AHitIsNotInflatedButItsBytesAreStillHashed()
    {
        using var tmp = new TempDir();
        var (bytes, compressed, diffId) = Layer("layer one");
        using (var cache = New(tmp.Path("c")))
            Assert.Equal(DiffIdCheck.Inflate, await CopyLayer(cache, bytes, compressed, diffId));
        using (var cache = New(tmp.Path("c")))
        {
            Assert.Equal(diffId, cache.DiffIdOf(compressed, Gzip));
            Assert.Equal(DiffIdCheck.Cache, await CopyLayer(cache, bytes, compressed, diffId));

            // A hit for a digest whose bytes then hash differently is an error, as without the cache.
            byte[] tampered = (byte[])bytes.Clone();
            tampered[^5] ^= 1;
            await Assert.ThrowsAsync<DigestMismatchException>(() => CopyLayer(cache, tampered, compressed, diffId));
            await Assert.ThrowsAsync<DigestMismatchException>(() => CopyLayer(cache, bytes[..^1], compressed, diffId));
        }
    }

    [Fact]
    public async Task NothingIsRecordedUnlessBothChecksPassedToTheEnd()
    {
        using var tmp = new TempDir();
        var (bytes, compressed, diffId) = Layer("layer two");
        var (other, _, _) = Layer("another layer");
        using (var cache = New(tmp.Path("c")))
        {
            // The config contradicts the layer: an error, nothing recorded.
            await Assert.ThrowsAsync<DigestMismatchException>(() => CopyLayer(cache, bytes, compressed, D("not the diff_id")));
            // Bytes that are not the compressed digest's (they inflate to a diff_id of their own): an error, nothing recorded.
            await Assert.ThrowsAnyAsync<FerryException>(() => CopyLayer(cache, other, compressed, diffId));
            // Read only in part: nothing recorded.
            await CopyLayer(cache, bytes, compressed, diffId, readOnly: 3);
            Assert.Null(cache.DiffIdOf(compressed, Gzip));
        }
        Assert.Empty(New(tmp.Path("c")).Snapshot());
    }

    [Fact]
    public async Task APoisonedPairIsNotTrusted_TheInflateDecidesAndReplacesIt()
    {
        using var tmp = new TempDir();
        string dir = tmp.Path("c");
        var (bytes, compressed, diffId) = Layer("layer three");
        var (wrongBytes, wrongCompressed, wrongDiffId) = Layer("layer four");
        using (var c = New(dir))
        {
            c.Record(compressed, Gzip, D("poison")); // well-formed, and wrong
            c.Record(wrongCompressed, Gzip, diffId); // says layer four inflates to layer three's diff_id
        }
        using (var c = New(dir))
        {
            // The cached diff_id is not the config's: inflated, found right, and the poisoned pair replaced.
            Assert.Equal(DiffIdCheck.Inflate, await CopyLayer(c, bytes, compressed, diffId));
            // The config says what the cache says: a hit, but the bytes still have to be the compressed digest's.
            await Assert.ThrowsAsync<DigestMismatchException>(() => CopyLayer(c, bytes, wrongCompressed, diffId));
            // The poisoned pair for layer four does not vouch for its real diff_id either.
            Assert.Equal(DiffIdCheck.Inflate, await CopyLayer(c, wrongBytes, wrongCompressed, wrongDiffId));
        }
        var after = New(dir);
        Assert.Equal(diffId, after.DiffIdOf(compressed, Gzip));
        Assert.Equal(wrongDiffId, after.DiffIdOf(wrongCompressed, Gzip));
    }

    [Fact]
    public async Task ACacheOthersCanWriteIsNotUsed_SoAForgedPairCannotVouch()
    {
        if (OperatingSystem.IsWindows())
            return;
        using var tmp = new TempDir();
        string dir = tmp.Path("c");
        var (bytes, compressed, _) = Layer("layer five");
        var forgedDiffId = D("what a forged config says");
        using (var c = New(dir))
            c.Record(compressed, Gzip, forgedDiffId);
        string file = Path.Combine(dir, VerifiedLayerCache.FileName);
        var modes = new List<Action>
        {
            () => File.SetUnixFileMode(file, File.GetUnixFileMode(file) | UnixFileMode.GroupWrite),
            () => File.SetUnixFileMode(dir, File.GetUnixFileMode(dir) | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute),
        };
        if (Native.Geteuid() == 0)
            modes.Add(() => Assert.Equal(0, Native.Chown(file, 65534, 65534)));
        foreach (var make in modes)
        {
            File.SetUnixFileMode(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            _ = Native.Chown(file, (int)Native.Geteuid(), -1);
            make();
            var warnings = new List<string>();
            var c = New(dir, warnings: warnings);
            Assert.Equal(DiffIdCheck.Inflate, c.Check(compressed, Gzip, forgedDiffId));
            Assert.Single(warnings);
            Assert.Contains("not used", warnings[0], StringComparison.Ordinal);
            await Assert.ThrowsAsync<DigestMismatchException>(() => CopyLayer(c, bytes, compressed, forgedDiffId));
            c.Record(D(1), Gzip, D(2));
            c.Flush();
            Assert.False(c.IsEnabled);
            Assert.Single(warnings);
        }
    }

    [Fact]
    public async Task TwoRunsAtOnce_KeepEveryRecord_AndReadersNeverSeeATornFile()
    {
        using var tmp = new TempDir();
        string dir = tmp.Path("c");
        const int Each = 1000;
        var notes = new List<string>();
        using var stop = new CancellationTokenSource();
        int reads = 0;
        var reader = Task.Factory.StartNew(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                var c = New(dir);
                _ = c.Check(D(0), Gzip, D(0));
                Assert.Equal(0, c.DroppedLines);
                reads++;
            }
        }, TaskCreationOptions.LongRunning);
        var writers = Enumerable.Range(0, 2).Select(w => Task.Factory.StartNew(() =>
        {
            using var c = new VerifiedLayerCache(dir, debug: m => { lock (notes) notes.Add(m); }) { LockWait = TimeSpan.FromSeconds(60) };
            for (int i = 0; i < Each; i++)
            {
                c.Record(D((w * Each) + i), Gzip, Diff(((w * Each) + i)));
                if (i % 50 == 49)
                    c.Flush();
            }
        }, TaskCreationOptions.LongRunning)).ToArray();
        await Task.WhenAll(writers);
        await stop.CancelAsync();
        await reader;
        Assert.Empty(notes);
        var all = New(dir);
        Assert.Equal(2 * Each, all.Snapshot().Count);
        for (int i = 0; i < 2 * Each; i++)
            Assert.Equal(DiffIdCheck.Cache, all.Check(D(i), Gzip, Diff(i)));
        Assert.Equal(0, all.DroppedLines);
        Assert.Equal([VerifiedLayerCache.FileName, VerifiedLayerCache.FileName + ".lock"], Directory.GetFiles(dir).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        output.WriteLine($"{reads} reads during the writes");
    }

    [Fact]
    public void AnotherProcessHoldingTheLock_IsWaitedFor_ThenGivenUpOn()
    {
        if (!OperatingSystem.IsLinux() || !File.Exists("/usr/bin/flock"))
            return;
        using var tmp = new TempDir();
        string dir = tmp.Path("c");
        using (var c = New(dir))
            c.Record(D(1), Gzip, D(2));
        string lockFile = Path.Combine(dir, VerifiedLayerCache.FileName + ".lock");

        using (var holder = HoldLock(lockFile, seconds: 1))
        {
            var sw = Stopwatch.StartNew();
            var c = new VerifiedLayerCache(dir, time: new Clock(T0)) { LockWait = TimeSpan.FromSeconds(30) };
            c.Record(D(3), Gzip, D(4));
            c.Flush();
            Assert.True(sw.Elapsed > TimeSpan.FromMilliseconds(300), $"flushed after {sw.Elapsed} while another process held the lock");
            holder.WaitForExit();
        }
        Assert.Equal(DiffIdCheck.Cache, New(dir).Check(D(3), Gzip, D(4)));

        using (var holder = HoldLock(lockFile, seconds: 30))
        {
            var notes = new List<string>();
            var c = new VerifiedLayerCache(dir, time: new Clock(T0), debug: notes.Add) { LockWait = TimeSpan.FromMilliseconds(300) };
            c.Record(D(5), Gzip, D(6));
            c.Flush();
            Assert.Single(notes);
            Assert.Contains("not recorded", notes[0], StringComparison.Ordinal);
            holder.Kill(entireProcessTree: true);
            holder.WaitForExit();
        }
        Assert.Null(New(dir).DiffIdOf(D(5), Gzip));
        Assert.Equal(DiffIdCheck.Cache, New(dir).Check(D(1), Gzip, D(2)));
    }

    /// <summary>A separate process holding the lock file's flock (util-linux flock(1)) for a while; returns once it holds it.</summary>
    private static Process HoldLock(string lockFile, int seconds)
    {
        string ready = lockFile + ".held";
        File.Delete(ready);
        var p = Process.Start(new ProcessStartInfo("/usr/bin/flock", [lockFile, "sh", "-c", $"touch '{ready}'; sleep {seconds}"]) { UseShellExecute = false })!;
        var sw = Stopwatch.StartNew();
        while (!File.Exists(ready) && sw.Elapsed < TimeSpan.FromSeconds(20))
            Thread.Sleep(10);
        Assert.True(File.Exists(ready), "flock(1) did not take the lock");
        File.Delete(ready);
        return p;
    }

    [Fact]
    public void AReadOnlyDirectory_LookupsWork_RecordsAreDroppedQuietly()
    {
        if (OperatingSystem.IsWindows())
            return;
        using var tmp = new TempDir();
        string dir = tmp.Path("c");
        using (var c = New(dir))
            c.Record(D(1), Gzip, D(2));
        string file = Path.Combine(dir, VerifiedLayerCache.FileName);
        byte[] before = File.ReadAllBytes(file);
        bool root = Native.Geteuid() == 0;
        // Root writes anywhere: the lookups and records then run on a thread whose file-system user is nobody, for whom
        // the directory (0555, root's; its group is still root's) is read-only.
        File.SetUnixFileMode(dir, root ? (UnixFileMode)Convert.ToInt32("555", 8) : UnixFileMode.UserRead | UnixFileMode.UserExecute);
        if (root)
            File.SetUnixFileMode(file, (UnixFileMode)Convert.ToInt32("644", 8));
        Exception? failure = null;
        var notes = new List<string>();
        var warnings = new List<string>();
        var thread = new Thread(() =>
        {
            try
            {
                if (root)
                    _ = Native.Setfsuid(65534);
                using var c = New(dir, clock: new Clock(T0.AddDays(5)), warnings: warnings, notes: notes);
                Assert.Equal(DiffIdCheck.Cache, c.Check(D(1), Gzip, D(2))); // its "last used" is renewed: a write that fails
                c.Record(D(3), Gzip, D(4));
                Assert.Equal(DiffIdCheck.Cache, c.Check(D(3), Gzip, D(4)));
                c.Flush();
                c.Record(D(5), Gzip, D(6));
                c.Flush();
            }
            catch (Exception e)
            {
                failure = e;
            }
            finally
            {
                if (root)
                    _ = Native.Setfsuid(0);
            }
        });
        thread.Start();
        thread.Join();
        File.SetUnixFileMode(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        foreach (var m in warnings.Concat(notes))
            output.WriteLine(m);
        Assert.Null(failure);
        Assert.Empty(warnings);
        Assert.Single(notes);
        Assert.Contains("not recorded", notes[0], StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(file));
        Assert.Equal([VerifiedLayerCache.FileName, VerifiedLayerCache.FileName + ".lock"], Directory.GetFiles(dir).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void TheEnvironment_MovesOrDisablesTheCache()
    {
        string? Dir(params (string Name, string Value)[] vars) =>
            VerifiedLayerCache.DefaultDirectory(n => vars.FirstOrDefault(v => v.Name == n).Value);

        Assert.Null(Dir(("FERRY_CACHE_DIR", ""), ("HOME", "/home/u")));
        Assert.Equal("/x/y", Dir(("FERRY_CACHE_DIR", "/x/y"), ("XDG_CACHE_HOME", "/xdg"), ("HOME", "/home/u")));
        Assert.Equal(Path.GetFullPath("rel"), Dir(("FERRY_CACHE_DIR", "rel")));
        Assert.Equal("/xdg/ferry", Dir(("XDG_CACHE_HOME", "/xdg"), ("HOME", "/home/u")));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal("/home/u/.cache/ferry", Dir(("XDG_CACHE_HOME", "relative/xdg"), ("HOME", "/home/u")));
            Assert.Equal("/home/u/.cache/ferry", Dir(("HOME", "/home/u")));
            Assert.Null(Dir());
        }

        Assert.Same(VerifiedLayerCache.Disabled, VerifiedLayerCache.Open(""));
        Assert.Same(VerifiedLayerCache.Disabled, VerifiedLayerCache.Open(null));
        var off = VerifiedLayerCache.Disabled;
        off.Record(D(1), Gzip, D(2));
        off.Flush();
        Assert.False(off.IsEnabled);
        Assert.Null(off.FilePath);
        Assert.Equal(DiffIdCheck.Inflate, off.Check(D(1), Gzip, D(2)));
        Assert.Null(off.DiffIdOf(D(1), Gzip));
    }

    [Fact]
    public async Task AFifoAtTheCachePath_NeitherHangsNorIsReplaced()
    {
        if (!OperatingSystem.IsLinux())
            return;
        using var tmp = new TempDir();
        string dir = tmp.Path("c");
        Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        string file = Path.Combine(dir, VerifiedLayerCache.FileName);
        SpecialFiles.Fifo(file);
        var warnings = new List<string>();
        var run = Task.Run(() =>
        {
            using var c = New(dir, warnings: warnings);
            Assert.Equal(DiffIdCheck.Inflate, c.Check(D(1), Gzip, D(2)));
            c.Record(D(1), Gzip, D(2));
            Assert.False(c.IsEnabled);
        });
        Assert.True(await Finishes(run), "the cache waited on a FIFO");
        Assert.Single(warnings);
        Assert.Contains("a FIFO", warnings[0], StringComparison.Ordinal);
        Assert.Equal(IO.FileKind.Fifo, IO.LocalFiles.KindOf(file, follow: false));

        // Records only (no lookup first): the FIFO is found when writing, and left alone.
        File.Delete(file);
        SpecialFiles.Fifo(file);
        warnings.Clear();
        var write = Task.Run(() =>
        {
            using var c = New(dir, warnings: warnings);
            c.Record(D(1), Gzip, D(2));
        });
        Assert.True(await Finishes(write), "the cache waited on a FIFO");
        Assert.Single(warnings);
        Assert.Equal(IO.FileKind.Fifo, IO.LocalFiles.KindOf(file, follow: false));

        // A FIFO as the lock file.
        File.Delete(file);
        File.Delete(file + ".lock");
        SpecialFiles.Fifo(file + ".lock");
        warnings.Clear();
        var locked = Task.Run(() =>
        {
            using var c = New(dir, warnings: warnings);
            c.Record(D(1), Gzip, D(2));
        });
        Assert.True(await Finishes(locked), "the cache waited on a FIFO lock file");
        Assert.Single(warnings);
        Assert.False(File.Exists(file));
    }

    private static async Task<bool> Finishes(Task task)
    {
        if (await Task.WhenAny(task, Task.Delay(TimeSpan.FromSeconds(10))) != task)
            return false;
        await task;
        return true;
    }

    [Fact]
    public void ASymbolicLinkAtTheCachePath_IsNotFollowed()
    {
        if (OperatingSystem.IsWindows())
            return;
        using var tmp = new TempDir();
        string dir = tmp.Path("c");
        // Elsewhere, a well-formed cache that vouches for a pair.
        using (var elsewhere = New(tmp.Path("elsewhere")))
            elsewhere.Record(D(1), Gzip, D(2));
        string outside = Path.Combine(tmp.Path("elsewhere"), VerifiedLayerCache.FileName);
        byte[] outsideBytes = File.ReadAllBytes(outside);
        Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        string file = Path.Combine(dir, VerifiedLayerCache.FileName);
        File.CreateSymbolicLink(file, outside);

        var warnings = new List<string>();
        using (var c = New(dir, warnings: warnings))
        {
            Assert.Equal(DiffIdCheck.Inflate, c.Check(D(1), Gzip, D(2)));
            c.Record(D(3), Gzip, D(4));
        }
        Assert.Single(warnings);
        Assert.Contains("symbolic link", warnings[0], StringComparison.Ordinal);
        Assert.Equal(IO.FileKind.Symlink, IO.LocalFiles.KindOf(file, follow: false));
        Assert.Equal(outsideBytes, File.ReadAllBytes(outside));

        // A link as the lock file: refused, nothing created or written through it.
        File.Delete(file);
        string lockTarget = tmp.Path("lock-target");
        File.CreateSymbolicLink(file + ".lock", lockTarget);
        warnings.Clear();
        using (var c = New(dir, warnings: warnings))
            c.Record(D(3), Gzip, D(4));
        Assert.Single(warnings);
        Assert.False(File.Exists(lockTarget));
        Assert.False(File.Exists(file));

        // The cache directory itself a file: refused.
        string notDir = tmp.Path("file");
        File.WriteAllText(notDir, "x");
        warnings.Clear();
        using (var c = New(notDir, warnings: warnings))
        {
            Assert.Equal(DiffIdCheck.Inflate, c.Check(D(1), Gzip, D(2)));
            c.Record(D(1), Gzip, D(2));
        }
        Assert.Single(warnings);
        Assert.Equal("x", File.ReadAllText(notDir));
    }

    [Fact]
    public void AHundredThousandPairs_LoadAndWriteQuickly_AndTheBoundHolds()
    {
        using var tmp = new TempDir();
        string dir = tmp.Path("c");
        Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        int n = VerifiedLayerCache.DefaultMaxEntries;
        var entries = new Dictionary<CacheKey, CacheEntry>();
        var hashes = new Digest[n + 1];
        for (int i = 0; i <= n; i++)
            hashes[i] = D(i);
        for (int i = 0; i < n; i++)
        {
            Assert.True(Sha256Hash.TryFrom(hashes[i], out var c));
            Assert.True(Sha256Hash.TryFrom(hashes[i + 1], out var d));
            entries[new CacheKey(c, i % 2 == 0 ? Gzip : DockerGzip)] = new CacheEntry(d, T0.ToUnixTimeSeconds() + i);
        }
        string file = Path.Combine(dir, VerifiedLayerCache.FileName);
        File.WriteAllBytes(file, CacheFormat.Write(entries));
        File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        output.WriteLine($"{new FileInfo(file).Length} bytes for {n} pairs");

        var sw = Stopwatch.StartNew();
        var cache = New(dir, clock: new Clock(T0.AddSeconds(n + 10)));
        Assert.Equal(DiffIdCheck.Cache, cache.Check(hashes[n - 2], Gzip, hashes[n - 1]));
        var load = sw.Elapsed;
        output.WriteLine($"loaded in {load.TotalMilliseconds:0} ms");
        Assert.True(load < TimeSpan.FromSeconds(5), $"loading {n} pairs took {load}");
        Assert.Equal(0, cache.DroppedLines);

        sw.Restart();
        cache.Record(D("new"), Gzip, D("new diff"));
        cache.Flush();
        output.WriteLine($"merged and rewritten in {sw.Elapsed.TotalMilliseconds:0} ms");
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(10), $"writing {n} pairs took {sw.Elapsed}");

        var after = New(dir);
        Assert.Equal(DiffIdCheck.Cache, after.Check(D("new"), Gzip, D("new diff")));
        Assert.Equal(DiffIdCheck.Inflate, after.Check(hashes[0], Gzip, hashes[1])); // the oldest made room
        Assert.Equal(DiffIdCheck.Cache, after.Check(hashes[1], DockerGzip, hashes[2]));
        Assert.Equal(n, after.Snapshot().Count);
    }

    [Fact]
    public void AFileBeyondTheReadLimit_IsReadOnlyToIt()
    {
        using var tmp = new TempDir();
        string dir = tmp.Path("c");
        using (var c = New(dir))
            c.Record(D(1), Gzip, D(2));
        string file = Path.Combine(dir, VerifiedLayerCache.FileName);
        using (var fs = new FileStream(file, FileMode.Open, FileAccess.Write))
            fs.SetLength(VerifiedLayerCache.ReadLimit + (1L << 20)); // a long run of NULs after the pair
        var sw = Stopwatch.StartNew();
        using (var c = New(dir))
        {
            Assert.Equal(DiffIdCheck.Cache, c.Check(D(1), Gzip, D(2)));
            Assert.True(c.DroppedLines >= 1);
        }
        Assert.True(new FileInfo(file).Length < 1000, "the repaired file holds its one pair");
        output.WriteLine($"{sw.Elapsed.TotalMilliseconds:0} ms");
    }

    private static class Native
    {
        [DllImport("libc", EntryPoint = "geteuid")]
        public static extern uint Geteuid();

        [DllImport("libc", EntryPoint = "setfsuid")]
        public static extern int Setfsuid(int uid);

        [DllImport("libc", EntryPoint = "chown", SetLastError = true)]
        public static extern int Chown([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int owner, int group);
    }
}
