using System.Globalization;
using System.Text;
using Ferry.Progress;

namespace Ferry.Cli.Rendering;

/// <summary>How progress is shown: live bars on a terminal, periodic plain lines, or nothing.</summary>
internal enum ProgressMode
{
    Auto,
    Plain,
    None,
}

/// <summary>A progress display the CLI runs a command under; it is told at the end whether the command succeeded.</summary>
internal interface IProgressDisplay : ICopyProgress, IDisposable
{
    /// <summary>
    /// Stops updating; on success every item and the total are shown done (100 %), on failure as they were, said
    /// "interrupted" rather than "failed" when the command was (Ctrl-C, SIGTERM).
    /// </summary>
    void Finish(bool succeeded, bool interrupted = false);

    /// <summary>Writes a message line without tearing the display.</summary>
    void Interject(string line);
}

internal static class ProgressRunner
{
    /// <summary>Items smaller than this get no line of their own (configs, manifests); they still count in the total.</summary>
    public const long MinShown = 1 << 20;

    /// <summary>How often plain lines report the total.</summary>
    public static readonly TimeSpan PlainInterval = TimeSpan.FromSeconds(5);

    /// <summary>How often the bars are redrawn.</summary>
    public static readonly TimeSpan DrawInterval = TimeSpan.FromMilliseconds(200);

    /// <summary>The display for <paramref name="mode"/>: none when <c>none</c>, or when <c>auto</c> and stderr is not a terminal.</summary>
    public static IProgressDisplay? Create(ProgressMode mode, CliIO io) => mode switch
    {
        ProgressMode.None => null,
        ProgressMode.Plain => new PlainProgress(io.Err, PlainInterval),
        _ when !io.StderrIsTerminal => null,
        _ => new TerminalProgress(io.Err, io.TerminalSize, DrawInterval),
    };

    /// <summary>
    /// Runs <paramref name="body"/> under the display <paramref name="mode"/> asks for; messages go through it meanwhile.
    /// It ends at 100 % when the body returns (and <paramref name="succeeded"/> says so of the result), else where it stopped.
    /// </summary>
    public static async Task<T> RunAsync<T>(ProgressMode mode, CliIO io, Func<ICopyProgress?, Task<T>> body, Func<T, bool>? succeeded = null)
    {
        using var display = Create(mode, io);
        if (display is null)
            return await body(null).ConfigureAwait(false);
        io.LiveProgress = display;
        try
        {
            var result = await body(display).ConfigureAwait(false);
            display.Finish(succeeded?.Invoke(result) ?? true);
            return result;
        }
        catch (Exception e)
        {
            display.Finish(succeeded: false, interrupted: e is OperationCanceledException);
            throw;
        }
        finally
        {
            io.LiveProgress = null;
        }
    }
}

/// <summary>What the progress reports add up to: each item's bytes, and the whole job's, with its throughput.</summary>
internal sealed class ProgressTally(Func<TimeSpan> now) : ICopyProgress
{
    internal sealed class Entry(string name, long total, TimeSpan started, bool counts = true)
    {
        /// <summary>Whether its bytes count towards the job's (not those of a layer its recompression counted).</summary>
        public bool Counts { get; set; } = counts;
        public string Name { get; } = name;
        public long Total { get; set; } = total;
        public long Done { get; set; }
        public TimeSpan Started { get; set; } = started;
        public TimeSpan? Ended { get; set; }
        public bool Skipped { get; init; }

        /// <summary>The bytes that count towards the total: none of an item of unknown size (a spool), at most its size.</summary>
        public long Counted => Total < 0 || !Counts ? 0 : Math.Min(Done, Total);

        /// <summary>Whether it ended with all its bytes (one cut short by a failure or Ctrl-C has not).</summary>
        public bool Complete => Ended is not null && (Skipped || Total < 0 || Done >= Total);
    }

    /// <summary>One item as drawn.</summary>
    public sealed record ItemView(string Name, long Total, long Done, bool Finished, bool Skipped, double Rate);

    /// <summary>Everything at one moment.</summary>
    public sealed record Snapshot(IReadOnlyList<ItemView> Items, long Done, long Total, double Rate, int Finished, int Count, TimeSpan Elapsed, bool Complete, bool Failed = false, bool HasPlan = false, bool Interrupted = false)
    {
        /// <summary>The time left at the current rate, when it can be told.</summary>
        public TimeSpan? Eta => Complete || Failed || Rate <= 0 || Total <= Done ? null : TimeSpan.FromSeconds((Total - Done) / Rate);
    }

    private readonly Lock _lock = new();
    private readonly Dictionary<string, Entry> _items = new(StringComparer.Ordinal);
    private readonly List<Entry> _order = [];
    private readonly Queue<(TimeSpan At, long Done)> _samples = new();
    private readonly TimeSpan _start = now();
    private long _planned;
    private bool _complete;
    private bool _failed;
    private bool _interrupted;
    private int _plannedItems;
    private int? _itemsBeforePlan;
    private TimeSpan? _ended;

    /// <summary>The window the throughput is measured over.</summary>
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(3);

    public void Planned(long totalBytes)
    {
        lock (_lock)
            _planned += Math.Max(0, totalBytes);
    }

    public void PlannedItems(int items)
    {
        lock (_lock)
        {
            // Items started before the first plan (a daemon's save, a spool) come on top of it.
            _itemsBeforePlan ??= _order.Count + _retiredCount;
            _plannedItems += Math.Max(0, items);
        }
    }

    public void Started(string item, long totalBytes) => Start(item, totalBytes, counts: true);

    public void StartedCountedBefore(string item, long totalBytes) => Start(item, totalBytes, counts: false);

    private void Start(string item, long totalBytes, bool counts)
    {
        lock (_lock)
        {
            if (_items.TryGetValue(item, out var e))
            {
                // Started again (a retried upload reads the blob again): it starts over.
                if (e.Ended is not null)
                    _finishedKept--;
                e.Total = totalBytes;
                e.Done = 0;
                e.Started = now();
                e.Ended = null;
                e.Counts = counts;
                return;
            }
            Add(new Entry(item, totalBytes, now(), counts));
        }
    }

    public void Advanced(string item, long bytes)
    {
        lock (_lock)
        {
            if (!_items.TryGetValue(item, out var e))
                Add(e = new Entry(item, -1, now()));
            e.Done += bytes;
        }
    }

    public void Finished(string item)
    {
        lock (_lock)
        {
            if (_items.TryGetValue(item, out var e) && e.Ended is null)
            {
                e.Ended = now();
                Retire();
            }
        }
    }

    public void Skipped(string item, long bytes)
    {
        lock (_lock)
        {
            if (!_items.ContainsKey(item))
                Add(new Entry(item, bytes, now()) { Done = bytes, Ended = now(), Skipped = true });
        }
    }

    /// <summary>The job succeeded: every item is done.</summary>
    public void Complete()
    {
        lock (_lock)
        {
            foreach (var e in _order)
            {
                if (e.Total >= 0)
                    e.Done = e.Total;
                e.Ended ??= now();
            }
            _complete = true;
            _ended = now();
        }
    }

    /// <summary>The job failed, or was <paramref name="interrupted"/>: what was unfinished stopped with it (what was read is shown as it was).</summary>
    public void Fail(bool interrupted = false)
    {
        lock (_lock)
        {
            _failed = true;
            _interrupted = interrupted;
            _ended = now();
        }
    }

    /// <summary>Whether an item is done (finished or skipped) and its name; for lines printed as items end.</summary>
    public ItemView? View(string item)
    {
        lock (_lock)
            return _items.TryGetValue(item, out var e) ? ViewOf(e, now()) : null;
    }

    public Snapshot Take()
    {
        lock (_lock)
        {
            var t = _ended ?? now();
            long done = _retiredDone, known = _retiredTotal;
            int finished = _retiredComplete;
            var views = new List<ItemView>(_order.Count);
            foreach (var e in _order)
            {
                done += e.Counted;
                if (e.Total >= 0 && e.Counts)
                    known += e.Total;
                if (e.Complete)
                    finished++;
                views.Add(ViewOf(e, t));
            }
            // The count is the plan's from its start (it does not grow as items start), or what there was once done.
            int count = _order.Count + _retiredCount;
            if (!_complete && _itemsBeforePlan is int before)
                count = Math.Max(count, before + _plannedItems);
            _samples.Enqueue((t, done));
            while (_samples.Count > 2 && t - _samples.Peek().At > Window)
                _samples.Dequeue();
            var (at0, done0) = _samples.Peek();
            double span = (t - at0).TotalSeconds;
            double elapsed = (t - _start).TotalSeconds;
            double rate = span >= 0.5 ? (done - done0) / span : elapsed > 0 ? done / elapsed : 0;
            return new Snapshot(views, done, Math.Max(_planned, known), rate, finished, count, t - _start, _complete, _failed, _planned > 0, _interrupted);
        }
    }

    /// <summary>
    /// Finished items kept beyond this many are retired (oldest first) into the totals: a server sending blobs for
    /// weeks must not grow with them.
    /// </summary>
    internal const int MaxFinishedKept = 1024;

    private long _retiredDone, _retiredTotal;
    private int _retiredCount, _retiredComplete, _finishedKept;

    private void Add(Entry e)
    {
        _items[e.Name] = e;
        _order.Add(e);
        if (e.Ended is not null)
            Retire();
    }

    /// <summary>Counts an item that just finished, retiring the oldest finished ones when too many are kept.</summary>
    private void Retire()
    {
        if (++_finishedKept <= MaxFinishedKept)
            return;
        int at = _order.FindIndex(x => x.Ended is not null);
        var old = _order[at];
        _order.RemoveAt(at);
        _items.Remove(old.Name);
        _retiredDone += old.Counted;
        _retiredTotal += old.Counts ? Math.Max(0, old.Total) : 0;
        _retiredCount++;
        if (old.Complete)
            _retiredComplete++;
        _finishedKept--;
    }

    private static ItemView ViewOf(Entry e, TimeSpan t)
    {
        double secs = ((e.Ended ?? t) - e.Started).TotalSeconds;
        return new ItemView(e.Name, e.Total, e.Done, e.Ended is not null, e.Skipped, secs > 0 && !e.Skipped ? e.Done / secs : 0);
    }
}

/// <summary>How sizes, rates, bars and times are written (binary units, invariant culture).</summary>
internal static class ProgressText
{
    public static string Size(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double v = bytes;
        int u = 0;
        while (v >= 1024 && u < units.Length - 1)
        {
            v /= 1024;
            u++;
        }
        return u == 0 ? $"{bytes} B" : v.ToString(v >= 100 ? "0" : "0.0", CultureInfo.InvariantCulture) + " " + units[u];
    }

    /// <summary><c>54.0/120.0 MiB</c>: done in the total's unit.</summary>
    public static string Of(long done, long total)
    {
        if (total < 0)
            return Size(done);
        string t = Size(total);
        int space = t.IndexOf(' ', StringComparison.Ordinal);
        string unit = t[(space + 1)..];
        double scale = unit switch { "KiB" => 1024.0, "MiB" => 1048576.0, "GiB" => 1073741824.0, "TiB" => 1099511627776.0, _ => 1 };
        double d = done / scale;
        string ds = scale == 1 ? done.ToString(CultureInfo.InvariantCulture) : d.ToString(d >= 100 ? "0" : "0.0", CultureInfo.InvariantCulture);
        return $"{ds}/{t}";
    }

    public static string Rate(double bytesPerSecond) => Size((long)bytesPerSecond) + "/s";

    public static string Time(TimeSpan t) => t.TotalHours >= 1
        ? $"{(int)t.TotalHours}:{t.Minutes:00}:{t.Seconds:00}"
        : $"{t.Minutes}:{t.Seconds:00}";

    public static string Percent(long done, long total) => total <= 0 ? (done > 0 ? "  ?%" : "  0%")
        : $"{Math.Min(100, (int)(done * 100 / total)),3}%";

    /// <summary><c>[=========>          ]</c>, docker's style; <c>[    ?     ]</c>-free: an unknown size draws an empty bar.</summary>
    public static string Bar(long done, long total, int width)
    {
        int inner = Math.Max(1, width - 2);
        var sb = new StringBuilder(width).Append('[');
        int filled = total <= 0 ? 0 : (int)Math.Min(inner, done * inner / total);
        sb.Append('=', filled);
        if (filled < inner)
        {
            sb.Append(filled > 0 ? '>' : ' ');
            sb.Append(' ', inner - filled - 1);
        }
        return sb.Append(']').ToString();
    }

    /// <summary>Cut to <paramref name="width"/> columns (a wrapped line would break the redraw).</summary>
    public static string Fit(string line, int width) => line.Length <= width ? line : line[..Math.Max(0, width - 1)] + "…";
}

/// <summary>The lines of one frame of the bars: an item per line (the ones worth a line), then the total.</summary>
internal static class ProgressFrame
{
    /// <summary>Columns: the name (<c>8a0b1c2d3e4f layer (gzip)</c> is 25), the bar, the percentage, the bytes, the rate or state.</summary>
    public const int NameWidth = 25, BytesWidth = 13, TailWidth = 19;

    public static List<string> Render(ProgressTally.Snapshot s, int width, int height)
    {
        width = Math.Max(40, width) - 1;
        int maxItems = Math.Max(1, height - 2);
        var shown = s.Items.Where(i => i.Total < 0 || i.Total >= ProgressRunner.MinShown).ToList();
        // Too many for the screen: finished items make room first (oldest first), then the active ones are cut.
        int extra = 0;
        if (shown.Count > maxItems)
        {
            int drop = shown.Count - maxItems;
            var finished = shown.Where(i => i.Finished).Take(drop).ToHashSet();
            shown = shown.Where(i => !finished.Contains(i)).ToList();
            if (shown.Count > maxItems)
            {
                extra = shown.Count - (maxItems - 1);
                shown = shown.Take(maxItems - 1).ToList();
            }
        }
        var lines = new List<string>(shown.Count + 2);
        // An item of unknown size (a daemon's save, a spool) that finished was all there was.
        foreach (var i in shown)
            lines.Add(Line(i.Name, i.Done, i.Total < 0 && i.Finished ? i.Done : i.Total, State(i, s), width));
        if (extra > 0)
            lines.Add(ProgressText.Fit($"… and {extra} more", width));
        string tail = s.Complete ? $"in {ProgressText.Time(s.Elapsed)}"
            : s.Interrupted ? $"interrupted after {ProgressText.Time(s.Elapsed)}"
            : s.Failed ? $"failed after {ProgressText.Time(s.Elapsed)}"
            : s.HasPlan && s.Done >= s.Total ? "finishing"   // every planned byte is out: the peer has the last word (a daemon loading)
            : ProgressText.Rate(s.Rate) + (s.Eta is { } eta ? $" ETA {ProgressText.Time(eta)}" : "");
        lines.Add(Line($"total ({s.Finished}/{s.Count})", s.Done, s.Total, tail, width));
        return lines;
    }

    /// <summary>
    /// What the last column says: the rate while it runs; done, exists (skipped) or stopped (abandoned short); failed
    /// when the job failed with it unfinished (its read failed: a digest mismatch, a peer gone).
    /// </summary>
    private static string State(ProgressTally.ItemView i, ProgressTally.Snapshot job) =>
        !i.Finished ? (job.Interrupted ? "interrupted" : job.Failed ? "failed" : ProgressText.Rate(i.Rate))
        : i.Skipped ? "exists"
        : i.Total >= 0 && i.Done < i.Total ? "stopped"
        : "done";

    private static string Line(string name, long done, long total, string tail, int width)
    {
        string label = name.Length > NameWidth ? name[..(NameWidth - 1)] + "…" : name.PadRight(NameWidth);
        string right = $" {ProgressText.Percent(done, total)} {ProgressText.Of(done, total).PadLeft(BytesWidth)} {tail.PadRight(TailWidth)}";
        int bar = Math.Clamp(width - label.Length - 1 - right.Length, 10, 50);
        return ProgressText.Fit($"{label} {ProgressText.Bar(done, total, bar)}{right}".TrimEnd(), width);
    }
}

/// <summary>
/// What both displays share: the tally every report goes to, and a timer that refreshes the display (stopped at the end).
/// </summary>
internal abstract class TalliedDisplay : IProgressDisplay
{
    private readonly Timer? _timer;

    protected TalliedDisplay(TimeSpan interval, Func<TimeSpan>? clock, bool timer)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        Tally = new ProgressTally(clock ?? (() => watch.Elapsed));
        if (timer)
            _timer = new Timer(_ => Refresh(), null, interval, interval);
    }

    protected ProgressTally Tally { get; }

    /// <summary>What the timer does: redraw the bars, or print the total.</summary>
    protected abstract void Refresh();

    protected void StopTimer() => _timer?.Dispose();

    public void Planned(long totalBytes) => Tally.Planned(totalBytes);
    public void PlannedItems(int items) => Tally.PlannedItems(items);
    public void Started(string item, long totalBytes) => Tally.Started(item, totalBytes);
    public void StartedCountedBefore(string item, long totalBytes) => Tally.StartedCountedBefore(item, totalBytes);
    public void Advanced(string item, long bytes) => Tally.Advanced(item, bytes);
    public virtual void Finished(string item) => Tally.Finished(item);
    public void Skipped(string item, long bytes) => Tally.Skipped(item, bytes);
    public abstract void Finish(bool succeeded, bool interrupted = false);
    public abstract void Interject(string line);
    public abstract void Dispose();
}

/// <summary>
/// Live bars on a terminal (stderr): redrawn in place every <c>interval</c> with ANSI cursor moves, each line cut to
/// the terminal's width; messages written meanwhile go above them.
/// </summary>
internal sealed class TerminalProgress : TalliedDisplay
{
    private readonly TextWriter _err;
    private readonly Func<(int Width, int Height)> _size;
    private readonly Lock _draw = new();
    private int _drawn;
    private bool _finished;

    public TerminalProgress(TextWriter err, Func<(int Width, int Height)> size, TimeSpan interval, Func<TimeSpan>? clock = null, bool timer = true)
        : base(interval, clock, timer)
    {
        _err = err;
        _size = size;
    }

    protected override void Refresh() => Draw();

    /// <summary>Redraws now.</summary>
    public void Draw()
    {
        lock (_draw)
        {
            if (!_finished)
                DrawLocked();
        }
    }

    public override void Interject(string line)
    {
        lock (_draw)
        {
            if (_drawn > 0)
                _err.Write($"\x1b[{_drawn}A\r\x1b[J");
            _drawn = 0;
            _err.WriteLine(line);
            if (!_finished)
                DrawLocked();
            else
                _err.Flush();
        }
    }

    public override void Finish(bool succeeded, bool interrupted = false)
    {
        StopTimer();
        lock (_draw)
        {
            if (_finished)
                return;
            if (succeeded)
                Tally.Complete();
            else
                Tally.Fail(interrupted);
            // The last frame stays on the screen: at 100 %, or where the error stopped it (the error line follows).
            DrawLocked();
            _finished = true;
        }
    }

    private void DrawLocked()
    {
        var (w, h) = _size();
        var lines = ProgressFrame.Render(Tally.Take(), w, h);
        var sb = new StringBuilder();
        if (_drawn > 0)
            sb.Append("\x1b[").Append(_drawn).Append('A');
        sb.Append('\r');
        foreach (var l in lines)
            sb.Append("\x1b[2K").Append(l).Append('\n');
        sb.Append("\x1b[J");
        _err.Write(sb.ToString());
        _err.Flush();
        _drawn = lines.Count;
    }

    public override void Dispose()
    {
        StopTimer();
        lock (_draw)
            _finished = true;
    }
}

/// <summary>
/// Plain lines for logs and pipes (<c>--progress plain</c>): a line when an item worth one ends, and the total every
/// <c>interval</c> and at the end.
/// </summary>
internal sealed class PlainProgress : TalliedDisplay
{
    private readonly TextWriter _err;
    private readonly Lock _write = new();
    private bool _finished;

    public PlainProgress(TextWriter err, TimeSpan interval, Func<TimeSpan>? clock = null, bool timer = true)
        : base(interval, clock, timer)
    {
        _err = err;
    }

    protected override void Refresh() => Tick();

    public override void Finished(string item)
    {
        base.Finished(item);
        if (Tally.View(item) is { } v && (v.Total < 0 || v.Total >= ProgressRunner.MinShown))
        {
            string rate = v.Rate > 0 ? $", {ProgressText.Rate(v.Rate)}" : "";
            string size = v.Total >= 0 && v.Done < v.Total ? $"{ProgressText.Of(v.Done, v.Total)}, stopped" : ProgressText.Size(v.Done);
            Write($"ferry: {v.Name}: {size}{rate}");
        }
    }

    private (long Done, int Count, int Finished) _lastTick = (-1, -1, -1);

    /// <summary>Prints the total now, unless nothing moved since the last time (an idle serve prints nothing).</summary>
    public void Tick()
    {
        var s = Tally.Take();
        if (s.Count == 0 && s.Total == 0)
            return;
        var now = (s.Done, s.Count, s.Finished);
        if (now == _lastTick)
            return;
        _lastTick = now;
        Write(Total(s));
    }

    public override void Interject(string line) => Write(line, always: true);

    public override void Finish(bool succeeded, bool interrupted = false)
    {
        StopTimer();
        if (succeeded || interrupted)
        {
            if (succeeded)
                Tally.Complete();
            else
                Tally.Fail(interrupted);
            var s = Tally.Take();
            if (s.Count > 0 || s.Total > 0)
                Write(Total(s));
        }
        lock (_write)
            _finished = true;
    }

    private static string Total(ProgressTally.Snapshot s)
    {
        string when = s.Complete ? $" in {ProgressText.Time(s.Elapsed)}" : s.Interrupted ? $", interrupted after {ProgressText.Time(s.Elapsed)}" : s.Eta is { } eta ? $", ETA {ProgressText.Time(eta)}" : "";
        return $"ferry: progress: {ProgressText.Percent(s.Done, s.Total).Trim()} ({ProgressText.Of(s.Done, s.Total)}), {ProgressText.Rate(s.Complete && s.Elapsed.TotalSeconds > 0 ? s.Done / s.Elapsed.TotalSeconds : s.Rate)}{when}, {s.Finished}/{s.Count} items";
    }

    private void Write(string line, bool always = false)
    {
        lock (_write)
        {
            if (_finished && !always)
                return;
            _err.WriteLine(line);
            _err.Flush();
        }
    }

    public override void Dispose()
    {
        StopTimer();
        lock (_write)
            _finished = true;
    }
}

/// <summary>The terminal's size: the console's window, else <c>COLUMNS</c>/<c>LINES</c>, else 80×24.</summary>
internal static class Terminal
{
    public static (int Width, int Height) Size()
    {
        int w = 0, h = 0;
        try
        {
            w = Console.WindowWidth;
            h = Console.WindowHeight;
        }
        catch (Exception e) when (e is IOException or PlatformNotSupportedException or InvalidOperationException)
        {
        }
        if (w <= 0 && int.TryParse(Environment.GetEnvironmentVariable("COLUMNS"), CultureInfo.InvariantCulture, out int cw))
            w = cw;
        if (h <= 0 && int.TryParse(Environment.GetEnvironmentVariable("LINES"), CultureInfo.InvariantCulture, out int ch))
            h = ch;
        return (w > 0 ? w : 80, h > 0 ? h : 24);
    }
}

/// <summary>A writer that hands each complete line to <c>line</c> (thread-safe).</summary>
internal sealed class LineWriter(Action<string> line) : TextWriter
{
    private readonly StringBuilder _pending = new();
    private readonly Lock _lock = new();

    public override Encoding Encoding => Encoding.UTF8;

    public override void Write(char value)
    {
        lock (_lock)
        {
            if (value == '\n')
            {
                string text = _pending.ToString().TrimEnd('\r');
                _pending.Clear();
                line(text);
            }
            else
            {
                _pending.Append(value);
            }
        }
    }

    public override void Write(string? value)
    {
        foreach (char c in value ?? "")
            Write(c);
    }

    public override void WriteLine(string? value)
    {
        lock (_lock)
        {
            _pending.Append(value);
            string text = _pending.ToString();
            _pending.Clear();
            line(text);
        }
    }
}
