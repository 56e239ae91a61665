using System.Collections.Concurrent;
using System.Diagnostics;
using Ferry.Copy;
using Spectre.Console;

namespace Ferry.Cli.Rendering;

/// <summary>How progress is shown: live bars on a terminal, periodic plain lines, or nothing.</summary>
internal enum ProgressMode
{
    Auto,
    Plain,
    None,
}

internal static class ProgressRunner
{
    /// <summary>Items smaller than this are not shown (configs, manifests).</summary>
    public const long MinShown = 1 << 20;

    /// <summary>Runs <paramref name="body"/> with a progress sink suited to <paramref name="mode"/> and the terminal.</summary>
    public static async Task<T> RunAsync<T>(ProgressMode mode, TextWriter err, bool stderrIsTerminal, Func<ICopyProgress?, Task<T>> body)
    {
        if (mode == ProgressMode.None || (mode == ProgressMode.Auto && !stderrIsTerminal))
            return await body(null).ConfigureAwait(false);
        if (mode == ProgressMode.Plain)
            return await body(new PlainProgress(err, TimeSpan.FromSeconds(2))).ConfigureAwait(false);
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(err) });
        return await console.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(), new TransferSpeedColumn(), new RemainingTimeColumn())
            .StartAsync(ctx => body(new SpectreProgress(ctx))).ConfigureAwait(false);
    }
}

/// <summary>Prints one line per item at most every <c>interval</c>, and a line when it finishes: for logs and pipes.</summary>
internal sealed class PlainProgress(TextWriter err, TimeSpan interval) : ICopyProgress
{
    private sealed class State
    {
        public long Total;
        public long Done;
        public readonly Stopwatch Clock = Stopwatch.StartNew();
        public TimeSpan LastPrint;
    }

    private readonly ConcurrentDictionary<string, State> _items = new();
    private readonly Lock _lock = new();

    public void Started(string item, long totalBytes)
    {
        if (totalBytes >= ProgressRunner.MinShown)
            _items[item] = new State { Total = totalBytes };
    }

    public void Advanced(string item, long bytes)
    {
        if (!_items.TryGetValue(item, out var s))
            return;
        Interlocked.Add(ref s.Done, bytes);
        var now = s.Clock.Elapsed;
        if (now - s.LastPrint < interval)
            return;
        s.LastPrint = now;
        Print(item, s, done: false);
    }

    public void Finished(string item)
    {
        if (_items.TryRemove(item, out var s))
            Print(item, s, done: true);
    }

    private void Print(string item, State s, bool done)
    {
        double secs = Math.Max(s.Clock.Elapsed.TotalSeconds, 0.001);
        double rate = s.Done / secs;
        string eta = done || rate <= 0 ? "" : $", ETA {TimeSpan.FromSeconds((s.Total - s.Done) / rate):mm\\:ss}";
        lock (_lock)
            err.WriteLine($"ferry: {item}: {Mib(s.Done)}/{Mib(s.Total)} MiB, {rate / 1048576:0.0} MiB/s{eta}{(done ? " done" : "")}");
    }

    private static string Mib(long b) => (b / 1048576.0).ToString("0.0", System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>Live progress bars (Spectre.Console) on a terminal.</summary>
internal sealed class SpectreProgress(ProgressContext ctx) : ICopyProgress
{
    private readonly ConcurrentDictionary<string, ProgressTask> _tasks = new();

    public void Started(string item, long totalBytes)
    {
        if (totalBytes >= ProgressRunner.MinShown)
            _tasks[item] = ctx.AddTask(Markup.Escape(item.Length > 40 ? item[..40] + "…" : item), maxValue: totalBytes);
    }

    public void Advanced(string item, long bytes)
    {
        if (_tasks.TryGetValue(item, out var t))
            t.Increment(bytes);
    }

    public void Finished(string item)
    {
        if (_tasks.TryRemove(item, out var t))
            t.Value = t.MaxValue;
    }
}
