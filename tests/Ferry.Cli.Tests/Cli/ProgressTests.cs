using System.Collections.Concurrent;
using System.Text;
using System.Text.RegularExpressions;
using Ferry.Cli.Rendering;
using Ferry.Copy;
using Ferry.Tests.TestSupport;
using Ferry.Transports;
using Ferry.Progress;

namespace Ferry.Tests.Cli;

/// <summary>
/// Progress: what the library reports (one item per blob named by short digest and kind, the job's bytes planned), and
/// how the CLI shows it (bars redrawn in place, cut to the terminal; plain lines; nothing when it should say nothing).
/// </summary>
public class ProgressTests
{
    /// <summary>Every call, in order, as text; and the bytes each item advanced.</summary>
    private sealed class Recorder : ICopyProgress
    {
        public ConcurrentQueue<string> Calls { get; } = new();
        public ConcurrentDictionary<string, long> Totals { get; } = new();
        public ConcurrentDictionary<string, long> Advanced { get; } = new();
        public ConcurrentDictionary<string, int> Finishes { get; } = new();
        public ConcurrentDictionary<string, long> Skips { get; } = new();
        public ConcurrentDictionary<string, long> CountedBefore { get; } = new();
        private long _planned;
        private int _plannedItems;
        public long PlannedBytes => Interlocked.Read(ref _planned);
        public int PlannedItemCount => _plannedItems;

        public void Planned(long totalBytes) => Interlocked.Add(ref _planned, totalBytes);

        public void PlannedItems(int items)
        {
            Calls.Enqueue("plan " + items);
            Interlocked.Add(ref _plannedItems, items);
        }

        public void Started(string item, long totalBytes)
        {
            Calls.Enqueue("start " + item);
            Totals[item] = totalBytes;
        }

        public void StartedCountedBefore(string item, long totalBytes)
        {
            Started(item, totalBytes);
            CountedBefore[item] = totalBytes;
        }

        void ICopyProgress.Advanced(string item, long bytes) => Advanced.AddOrUpdate(item, bytes, (_, b) => b + bytes);

        public void Finished(string item) => Finishes.AddOrUpdate(item, 1, (_, n) => n + 1);

        public void Skipped(string item, long bytes) => Skips[item] = bytes;
    }

    private static readonly Regex ItemName = new(@"^[0-9a-f]{12} (layer( \((gzip|zstd)\))?|config|blob|manifest|(none|gzip|zstd)→(none|gzip|zstd))$");

    private static string BigImageArchive(TempDir dir, string compression = "none", string name = "big.tar")
    {
        string path = dir.Path(name);
        ImageBuilder.WriteDockerArchive(path, [ImageBuilder.Image([ImageBuilder.Layer(71, files: 3, maxSize: 1_500_000, compression: compression), ImageBuilder.Layer(72, files: 2, maxSize: 40_000, compression: compression)], 71, "docker.io/library/big:1")]);
        return path;
    }

    private static CopyResult CopyWith(ICopyProgress progress, string src, string dst, CompressMode compress = CompressMode.Keep) =>
        ImageCopier.CopyAsync(F.Ref(src), F.Ref(dst), new CopyOptions { Compress = compress, Progress = progress }).GetAwaiter().GetResult();

    [Fact]
    public void ACopyReportsEachBlobItWritesOnceByShortDigestAndKindAndPlansTheirBytes()
    {
        using var dir = new TempDir();
        string src = BigImageArchive(dir);
        var rec = new Recorder();
        var result = CopyWith(rec, src, dir.Path("out.tar"));

        var blobs = result.Images.Single().Blobs;
        foreach (var b in blobs)
        {
            string name = rec.Totals.Keys.Single(k => k.StartsWith(b.Digest.Hex[..12] + " ", StringComparison.Ordinal));
            Assert.Matches(ItemName, name);
            Assert.Equal(b.Size, rec.Totals[name]);
            Assert.Equal(b.Size, rec.Advanced[name]);
            Assert.Equal(1, rec.Finishes[name]);
        }
        Assert.Contains(rec.Totals.Keys, k => k.EndsWith(" layer", StringComparison.Ordinal));
        Assert.Contains(rec.Totals.Keys, k => k.EndsWith(" config", StringComparison.Ordinal));
        Assert.Equal(rec.Calls.Count, rec.Calls.Distinct().Count());
        Assert.Equal(blobs.Sum(b => b.Size), rec.PlannedBytes);
        // Its items are planned before the first of them starts.
        Assert.Equal($"plan {blobs.Count}", rec.Calls.First());
        Assert.Equal(blobs.Count, rec.PlannedItemCount);
    }

    /// <summary>A copy with referrers and an artifact plans every item before its first byte, so that the count never grows.</summary>
    [Fact]
    public void TheItemCountIsPlannedBeforeTheFirstByte()
    {
        using var dir = new TempDir();
        var app = ImageBuilder.Image(75, 2, "gzip", "docker.io/library/signed:1");
        string src = dir.Path("signed.tar");
        ImageBuilder.WriteOciWithArtifacts(src, app, "docker.io/library/signed:1",
            [(ImageBuilder.CosignSignature(app.ManifestDigest), $"sha256-{app.ManifestDigest[7..]}.sig"), (ImageBuilder.Sbom(app.ManifestDigest, app.OciManifest().Length), null), (ImageBuilder.Chart(), "chart")]);
        var rec = new Recorder();
        CopyWith(rec, src, dir.Path("out.tar"));
        Assert.StartsWith("plan ", rec.Calls.First(), StringComparison.Ordinal);
        Assert.Single(rec.Calls, c => c.StartsWith("plan ", StringComparison.Ordinal));
        Assert.Equal(rec.Totals.Count + rec.Skips.Count, rec.PlannedItemCount);
    }

    private sealed class Reports : IProgress<CopyProgressReport>
    {
        public ConcurrentQueue<CopyProgressReport> All { get; } = new();

        public void Report(CopyProgressReport value) => All.Enqueue(value);
    }

    [Fact]
    public void IProgressReportsCarryTheWholeJobsBytes()
    {
        using var dir = new TempDir();
        string src = BigImageArchive(dir);
        var reports = new Reports();
        var result = CopyWith(CopyProgress.To(reports), src, dir.Path("out.tar"), CompressMode.Gzip);
        long planned = reports.All.Max(r => r.JobBytesPlanned);
        // Each byte once: a recompressed layer by its recompression (the source's bytes), the config as it is written.
        using (var s = F.Open(src))
        {
            var image = s.Images.Single().SelectImage(null)!.Image;
            Assert.Equal(image.Layers.Sum(l => l.Descriptor.Size) + image.ConfigDescriptor.Size, planned);
        }
        Assert.Equal(planned, reports.All.Max(r => r.JobBytesDone));
        Assert.All(reports.All, r => Assert.True(r.JobBytesDone <= r.JobBytesPlanned || r.JobBytesPlanned < planned, $"{r.JobBytesDone} > {r.JobBytesPlanned}"));
        Assert.All(reports.All.Where(r => r.Finished), r => Assert.Equal(r.TotalBytes, r.BytesDone));
    }

    [Fact]
    public void RecompressionIsAPhaseOfItsOwnAndThePlanCoversBoth()
    {
        using var dir = new TempDir();
        string src = BigImageArchive(dir);
        var rec = new Recorder();
        var result = CopyWith(rec, src, dir.Path("out.tar"), CompressMode.Gzip);

        var recompress = rec.Totals.Keys.Where(k => k.EndsWith(" none→gzip", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, recompress.Count);
        Assert.All(rec.Totals.Keys, k => Assert.Matches(ItemName, k));
        var written = result.Images.Single().Blobs;
        Assert.All(written.Where(b => Ferry.Model.MediaTypes.IsLayer(b.MediaType)), b => Assert.Contains(b.Digest.Hex[..12] + " layer (gzip)", rec.Totals.Keys));
        // The plan counts each layer once, by its recompression: the recompressed layer written is an item counted before.
        var layers = written.Where(b => Ferry.Model.MediaTypes.IsLayer(b.MediaType)).ToList();
        Assert.All(layers, b => Assert.Contains(b.Digest.Hex[..12] + " layer (gzip)", rec.CountedBefore.Keys));
        Assert.Equal(recompress.Sum(k => rec.Totals[k]) + written.Where(b => !Ferry.Model.MediaTypes.IsLayer(b.MediaType)).Sum(b => b.Size), rec.PlannedBytes);
        Assert.Equal(rec.Totals.Count, rec.PlannedItemCount);
        Assert.All(rec.Totals.Keys, k => Assert.Equal(1, rec.Finishes[k]));
    }

    [Fact]
    public void BlobsARegistryHoldsAreSkippedNotSent()
    {
        using var dir = new TempDir();
        using var reg = new FakeRegistry();
        string src = BigImageArchive(dir, "gzip");
        CopyWith(new Recorder(), src, $"docker://{reg.Address}/big:1");
        var again = new Recorder();
        var result = CopyWith(again, src, $"docker://{reg.Address}/big:2");

        var blobs = result.Images.Single().Blobs;
        Assert.All(blobs, b => Assert.Equal(b.Size, again.Skips[Ferry.Progress.ProgressNames.Of(new Ferry.Model.Descriptor(b.MediaType, b.Digest, b.Size))]));
        Assert.DoesNotContain(again.Totals.Keys, k => k.Contains("layer", StringComparison.Ordinal));
    }

    [Fact]
    public async Task VerifyReportsEachLayerCheck()
    {
        using var dir = new TempDir();
        string src = BigImageArchive(dir, "gzip");
        var rec = new Recorder();
        var report = await Ferry.Verify.ImageValidator.VerifyAsync(F.Ref(src), new TransportOptions(), new Ferry.Verify.VerifyOptions { Progress = rec });
        Assert.True(report.Ok);
        Assert.Equal(2, rec.Totals.Count);
        Assert.All(rec.Totals, kv => Assert.Equal(kv.Value, rec.Advanced[kv.Key]));
        Assert.All(rec.Totals.Keys, k => Assert.Matches(@"^[0-9a-f]{12} layer( \(gzip\))?$", k));
        Assert.Equal(rec.Totals.Values.Sum(), rec.PlannedBytes);
    }

    [Fact]
    public async Task StdinBeingSpooledIsAnItemOfUnknownSize()
    {
        using var dir = new TempDir();
        string src = BigImageArchive(dir);
        var rec = new Recorder();
        var options = new CopyOptions { Progress = rec, Source = new TransportOptions { Archive = new ArchiveOptions { Stdin = () => File.OpenRead(src) } } };
        await ImageCopier.CopyAsync(F.Ref("-"), F.Ref(dir.Path("out.tar")), options);
        Assert.Equal(-1, rec.Totals["stdin (spooled)"]);
        Assert.Equal(new FileInfo(src).Length, rec.Advanced["stdin (spooled)"]);
    }

    // ---- the display -------------------------------------------------------------------------------------------------

    /// <summary>A terminal screen: enough of VT100 for what the bars write (cursor up, carriage return, erase line and below).</summary>
    private static List<string> Screen(string output)
    {
        var lines = new List<StringBuilder> { new() };
        int row = 0, col = 0;
        for (int i = 0; i < output.Length; i++)
        {
            char c = output[i];
            if (c == '\x1b' && i + 1 < output.Length && output[i + 1] == '[')
            {
                int j = i + 2;
                while (j < output.Length && (char.IsAsciiDigit(output[j]) || output[j] == '?'))
                    j++;
                string arg = output[(i + 2)..j];
                switch (output[j])
                {
                    case 'A': row = Math.Max(0, row - int.Parse(arg.Length == 0 ? "1" : arg)); break;
                    case 'K': lines[row].Clear(); col = 0; break;
                    case 'J': lines.RemoveRange(row + 1, lines.Count - row - 1); lines[row].Length = Math.Min(lines[row].Length, col); break;
                    default: throw new InvalidOperationException($"unexpected escape {output[i..(j + 1)]}");
                }
                i = j;
            }
            else if (c == '\r') col = 0;
            else if (c == '\n')
            {
                row++;
                col = 0;
                if (row == lines.Count)
                    lines.Add(new StringBuilder());
            }
            else
            {
                var l = lines[row];
                if (col < l.Length)
                    l[col] = c;
                else
                    l.Append(c);
                col++;
            }
        }
        return lines.Select(l => l.ToString()).Where((l, i) => i < lines.Count - 1 || l.Length > 0).ToList();
    }

    private sealed class Clock
    {
        public TimeSpan Now { get; set; }
    }

    [Fact]
    public void BarsAreRedrawnInPlaceAndEndAt100PercentWithMessagesAbove()
    {
        var clock = new Clock();
        var err = new StringWriter();
        var bars = new TerminalProgress(err, () => (80, 24), TimeSpan.FromHours(1), () => clock.Now, timer: false);
        bars.Planned(30 << 20);
        bars.Started("aaaaaaaaaaaa layer (gzip)", 20 << 20);
        bars.Started("bbbbbbbbbbbb layer", 10 << 20);
        bars.Started("cccccccccccc config", 1000);
        for (int i = 0; i < 10; i++)
        {
            clock.Now += TimeSpan.FromSeconds(1);
            bars.Advanced("aaaaaaaaaaaa layer (gzip)", 1 << 20);
            bars.Draw();
        }
        bars.Interject("ferry: note: something worth saying");
        var mid = Screen(err.ToString());
        Assert.Equal("ferry: note: something worth saying", mid[0]);
        Assert.Equal(4, mid.Count); // the message, two layers (the config is too small for a line), the total
        Assert.StartsWith("aaaaaaaaaaaa layer (gzip)", mid[1]);
        Assert.Contains(" 50% ", mid[1]);
        Assert.Contains("1.0 MiB/s", mid[1]);
        Assert.StartsWith("total (0/3)", mid[^1]);
        Assert.Contains(" 33% ", mid[^1]);
        Assert.Contains("ETA 0:20", mid[^1]);

        bars.Finished("aaaaaaaaaaaa layer (gzip)");
        bars.Finish(succeeded: true);
        var end = Screen(err.ToString());
        Assert.Equal(4, end.Count);
        Assert.All(end.Skip(1), l => Assert.Contains("100%", l));
        Assert.All(end.Skip(1), l => Assert.True(l.Length < 80, l));
        Assert.EndsWith("done", end[1]);
        Assert.StartsWith("total (3/3)", end[^1]);
        Assert.Contains("30.0/30.0 MiB in 0:10", end[^1]);
        Assert.Equal(end, Screen(err.ToString() + "")); // nothing is drawn after the end
        bars.Draw();
        Assert.Equal(end, Screen(err.ToString()));
    }

    [Fact]
    public void AFailedJobLeavesTheBarsWhereTheyStopped()
    {
        var clock = new Clock();
        var err = new StringWriter();
        var bars = new TerminalProgress(err, () => (100, 24), TimeSpan.FromHours(1), () => clock.Now, timer: false);
        bars.Planned(20 << 20);
        bars.Started("aaaaaaaaaaaa layer", 20 << 20);
        clock.Now += TimeSpan.FromSeconds(1);
        bars.Advanced("aaaaaaaaaaaa layer", 5 << 20);
        bars.Finished("aaaaaaaaaaaa layer");
        bars.Finish(succeeded: false);
        var screen = Screen(err.ToString());
        Assert.Contains(" 25% ", screen[0]);
        Assert.EndsWith("stopped", screen[0]);
        Assert.Contains(" 25% ", screen[1]);
        Assert.DoesNotContain("100%", string.Join("\n", screen));
    }

    /// <summary>Ctrl-C is said as such, and only what was done whole counts as done.</summary>
    [Fact]
    public void AnInterruptedJobSaysInterruptedWithTrueCounts()
    {
        var clock = new Clock();
        var err = new StringWriter();
        var bars = new TerminalProgress(err, () => (100, 24), TimeSpan.FromHours(1), () => clock.Now, timer: false);
        bars.PlannedItems(3);
        bars.Planned(30 << 20);
        bars.Started("aaaaaaaaaaaa layer", 10 << 20);
        bars.Advanced("aaaaaaaaaaaa layer", 10 << 20);
        bars.Finished("aaaaaaaaaaaa layer");
        bars.Started("bbbbbbbbbbbb layer", 20 << 20);
        clock.Now += TimeSpan.FromSeconds(4);
        bars.Advanced("bbbbbbbbbbbb layer", 5 << 20);
        bars.Finished("bbbbbbbbbbbb layer"); // its stream disposed as the copy stops
        bars.Finish(succeeded: false, interrupted: true);
        var screen = Screen(err.ToString());
        Assert.EndsWith("done", screen[0]);
        Assert.EndsWith("stopped", screen[1]);
        Assert.StartsWith("total (1/3)", screen[^1]);
        Assert.EndsWith("interrupted after 0:04", screen[^1]);
        Assert.DoesNotContain("failed", string.Join("\n", screen), StringComparison.Ordinal);

        var plain = new StringWriter();
        var lines = new PlainProgress(plain, TimeSpan.FromHours(1), () => clock.Now, timer: false);
        lines.PlannedItems(2);
        lines.Planned(2 << 20);
        lines.Started("cccccccccccc layer", 2 << 20);
        lines.Advanced("cccccccccccc layer", 1 << 20);
        lines.Finish(succeeded: false, interrupted: true);
        Assert.EndsWith("ferry: progress: 50% (1.0/2.0 MiB), 0 B/s, interrupted after 0:00, 0/2 items\n", plain.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void ThePlannedCountDoesNotGrowAsItemsStart()
    {
        var tally = new ProgressTally(() => TimeSpan.Zero);
        tally.Started("docker save app:1", -1);
        tally.Finished("docker save app:1");
        tally.PlannedItems(3);
        tally.Started("aaaaaaaaaaaa layer", 1);
        Assert.Equal((1, 4), (tally.Take().Finished, tally.Take().Count));
        tally.Advanced("aaaaaaaaaaaa layer", 1);
        tally.Finished("aaaaaaaaaaaa layer");
        tally.Started("bbbbbbbbbbbb layer", 1);
        tally.Started("cccccccccccc config", 1);
        Assert.Equal((2, 4), (tally.Take().Finished, tally.Take().Count));
    }

    [Theory]
    [InlineData(40, 10)]
    [InlineData(80, 24)]
    [InlineData(200, 8)]
    public void FramesFitTheTerminal(int width, int height)
    {
        var clock = new Clock();
        var tally = new ProgressTally(() => clock.Now);
        for (int i = 0; i < 30; i++)
        {
            string name = $"{i:x12} layer (zstd)";
            tally.Started(name, (i + 2L) << 20);
            tally.Advanced(name, 1 << 20);
            if (i < 5)
            {
                tally.Advanced(name, (i + 1L) << 20);
                tally.Finished(name);
            }
        }
        tally.Skipped("ffffffffffff layer (gzip)", 5 << 20);
        clock.Now += TimeSpan.FromSeconds(2);
        var lines = ProgressFrame.Render(tally.Take(), width, height);
        Assert.True(lines.Count <= Math.Max(3, height), $"{lines.Count} lines for {height} rows");
        Assert.All(lines, l => Assert.True(l.Length < width, $"{l.Length} columns: {l}"));
        Assert.StartsWith("total (6/31)", lines[^1]);
        Assert.Matches(@"^… and \d+ more$", lines[^2]);
        // Finished items make room first: the active ones are what is shown.
        Assert.DoesNotContain(lines, l => l.StartsWith("000000000000", StringComparison.Ordinal));
    }

    [Fact]
    public void AnItemOfUnknownSizeEndsFullAndAJobWhoseBytesAreAllOutIsFinishing()
    {
        var clock = new Clock();
        var tally = new ProgressTally(() => clock.Now);
        tally.Started("docker save app:1", -1);
        tally.Advanced("docker save app:1", 3 << 20);
        clock.Now += TimeSpan.FromSeconds(1);
        var running = ProgressFrame.Render(tally.Take(), 80, 24);
        Assert.Contains("  ?% ", running[0]);
        Assert.Contains("3.0 MiB", running[0]);
        tally.Finished("docker save app:1");
        tally.Planned(2 << 20);
        tally.Started("aaaaaaaaaaaa layer", 2 << 20);
        tally.Advanced("aaaaaaaaaaaa layer", 2 << 20);
        tally.Finished("aaaaaaaaaaaa layer");
        clock.Now += TimeSpan.FromSeconds(1);
        var lines = ProgressFrame.Render(tally.Take(), 80, 24);
        Assert.Contains("100%", lines[0]);
        Assert.EndsWith("done", lines[0]);
        Assert.EndsWith("finishing", lines[^1]);

        // Without a plan (what serve sends) all done is just idle: the rate, not "finishing".
        var served = new ProgressTally(() => clock.Now);
        served.Started("#1 aaaaaaaaaaaa blob", 2 << 20);
        served.Advanced("#1 aaaaaaaaaaaa blob", 2 << 20);
        served.Finished("#1 aaaaaaaaaaaa blob");
        Assert.DoesNotContain("finishing", ProgressFrame.Render(served.Take(), 80, 24)[^1]);
    }

    [Fact]
    public void AServerSendingBlobsForeverKeepsABoundedTally()
    {
        var tally = new ProgressTally(() => TimeSpan.Zero);
        for (int i = 0; i < 5000; i++)
        {
            string name = $"#{i} aaaaaaaaaaaa blob";
            tally.Started(name, 100);
            tally.Advanced(name, 100);
            tally.Finished(name);
        }
        tally.Started("#5000 aaaaaaaaaaaa blob", 100);
        var s = tally.Take();
        Assert.Equal(ProgressTally.MaxFinishedKept + 1, s.Items.Count);
        Assert.Equal(5001, s.Count);
        Assert.Equal(5000, s.Finished);
        Assert.Equal(500_000, s.Done);
        Assert.Equal(500_100, s.Total);
        Assert.Equal("#5000 aaaaaaaaaaaa blob", s.Items[^1].Name);
    }

    [Fact]
    public void ASkippedBlobCountsAsDoneAndSaysItExists()
    {
        var tally = new ProgressTally(() => TimeSpan.Zero);
        tally.Planned(10 << 20);
        tally.Skipped("aaaaaaaaaaaa layer (gzip)", 10 << 20);
        tally.Skipped("aaaaaaaaaaaa layer (gzip)", 10 << 20); // a second image sharing it: once
        var lines = ProgressFrame.Render(tally.Take(), 80, 24);
        Assert.EndsWith("exists", lines[0]);
        Assert.Contains("100%", lines[1]);
        Assert.Contains("10.0/10.0 MiB", lines[1]);
    }

    [Fact]
    public void PlainLinesSayEachItemAndTheTotalPeriodicallyAndAtTheEnd()
    {
        var clock = new Clock();
        var err = new StringWriter();
        var plain = new PlainProgress(err, TimeSpan.FromHours(1), () => clock.Now, timer: false);
        plain.Planned(4 << 20);
        plain.Started("aaaaaaaaaaaa layer (gzip)", 4 << 20);
        plain.Started("cccccccccccc config", 500);
        clock.Now += TimeSpan.FromSeconds(2);
        plain.Advanced("aaaaaaaaaaaa layer (gzip)", 2 << 20);
        plain.Tick();
        clock.Now += TimeSpan.FromSeconds(2);
        plain.Advanced("aaaaaaaaaaaa layer (gzip)", 2 << 20);
        plain.Finished("aaaaaaaaaaaa layer (gzip)");
        plain.Finished("cccccccccccc config");
        plain.Finish(succeeded: true);
        plain.Tick();
        var lines = err.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(
        [
            "ferry: progress: 49% (2.0/4.0 MiB), 1.0 MiB/s, ETA 0:02, 0/2 items",
            "ferry: aaaaaaaaaaaa layer (gzip): 4.0 MiB, 1.0 MiB/s",
            "ferry: progress: 100% (4.0/4.0 MiB), 1.0 MiB/s in 0:04, 2/2 items",
        ], lines);
        Assert.DoesNotContain('\x1b', err.ToString());
    }

    [Fact]
    public void PlainLinesSayNothingWhileNothingMoves()
    {
        var clock = new Clock();
        var err = new StringWriter();
        var plain = new PlainProgress(err, TimeSpan.FromHours(1), () => clock.Now, timer: false);
        plain.Started("#1 aaaaaaaaaaaa blob", 2 << 20);
        plain.Advanced("#1 aaaaaaaaaaaa blob", 2 << 20);
        plain.Finished("#1 aaaaaaaaaaaa blob");
        for (int i = 0; i < 5; i++)
        {
            clock.Now += TimeSpan.FromSeconds(5);
            plain.Tick();
        }
        var lines = err.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length); // the blob's line and one total: a served archive left idle is quiet
        Assert.StartsWith("ferry: progress: 100% ", lines[1]);
    }

    [Fact]
    public void APlainLineSaysAnItemStoppedShort()
    {
        var err = new StringWriter();
        var plain = new PlainProgress(err, TimeSpan.FromHours(1), () => TimeSpan.FromSeconds(1), timer: false);
        plain.Started("aaaaaaaaaaaa layer", 4 << 20);
        plain.Advanced("aaaaaaaaaaaa layer", 1 << 20);
        plain.Finished("aaaaaaaaaaaa layer");
        plain.Finish(succeeded: false);
        Assert.Equal("ferry: aaaaaaaaaaaa layer: 1.0/4.0 MiB, stopped\n", err.ToString().Replace("\r", ""));
    }

    // ---- the commands ------------------------------------------------------------------------------------------------

    private static (int Code, string Out, string Err) Run(bool terminal, params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = Ferry.Cli.Program.Run(args, o, e, null, null, stderrIsTerminal: terminal).GetAwaiter().GetResult();
        return (code, o.ToString(), e.ToString());
    }

    [Fact]
    public void CopyWithProgressPlainPrintsTheLayersAndEndsAt100Percent()
    {
        using var dir = new TempDir();
        string src = BigImageArchive(dir);
        var r = Run(false, "copy", src, dir.Path("out.tar"), "--progress", "plain");
        Assert.True(r.Code == 0, r.Err);
        var lines = r.Err.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        Assert.Contains(lines, l => Regex.IsMatch(l, @"^ferry: [0-9a-f]{12} layer: \d+\.\d MiB"));
        int total = lines.FindLastIndex(l => l.StartsWith("ferry: progress: 100% ", StringComparison.Ordinal));
        Assert.True(total >= 0, r.Err);
        Assert.True(total < lines.FindIndex(l => l.StartsWith("Copied 1 image", StringComparison.Ordinal)), "the summary comes after the progress");
        Assert.Equal("", r.Out);
    }

    [Fact]
    public void NoProgressWhenStderrIsNotATerminalOrWithJsonOrQuiet()
    {
        using var dir = new TempDir();
        string src = BigImageArchive(dir);
        foreach (var extra in new[] { Array.Empty<string>(), ["--json"], ["-q"], ["--progress", "none"] })
        {
            bool terminal = extra.Length > 0;
            var r = Run(terminal, ["copy", src, dir.Path($"out{extra.Length}{extra.FirstOrDefault()}.tar"), .. extra]);
            Assert.True(r.Code == 0, r.Err);
            Assert.DoesNotContain("progress", r.Err.Replace("--progress", ""));
            Assert.DoesNotContain('\x1b', r.Err);
        }
    }

    [Fact]
    public void OnATerminalCopyDrawsBarsAndVerifyToo()
    {
        using var dir = new TempDir();
        string src = BigImageArchive(dir, "gzip");
        var copy = Run(true, "copy", src, dir.Path("out.tar"));
        Assert.True(copy.Code == 0, copy.Err);
        var screen = Screen(copy.Err);
        Assert.Contains(screen, l => Regex.IsMatch(l, @"^[0-9a-f]{12} layer \(gzip\) +\[=+\] 100% .* done$"));
        int total = screen.FindIndex(l => l.StartsWith("total (", StringComparison.Ordinal));
        Assert.Contains("100%", screen[total]);
        Assert.StartsWith("Copied 1 image", screen[total + 1]);

        var verify = Run(true, "verify", dir.Path("out.tar"));
        Assert.True(verify.Code == 0, verify.Err);
        Assert.Contains(Screen(verify.Err), l => Regex.IsMatch(l, @"^total \(\d+/\d+\) +\[=+\] 100% "));
        Assert.Contains(": OK (", verify.Out);
    }
}
