using System.Globalization;

namespace Ferry.Interop.Tests.Infrastructure;

/// <summary>
/// A real terminal: a detached tmux session on a private socket, of a fixed size, that runs one shell command line and
/// is read back as the screen a person would see (<c>capture-pane</c>: what the escapes drew, not the escapes).
/// </summary>
public sealed class TmuxTerminal : IDisposable
{
    private readonly Runner _run;
    private readonly string _socket = "ferry-" + Guid.NewGuid().ToString("N")[..10];
    private int _sessions;

    public TmuxTerminal(Runner run, int width = 100, int height = 40)
    {
        _run = run;
        Width = width;
        Height = height;
    }

    public int Width { get; }
    public int Height { get; }

    /// <summary>The screen (and the scrollback) after <paramref name="command"/> ended, and its exit code.</summary>
    public (int ExitCode, List<string> Screen) Run(string command, TimeSpan? timeout = null)
    {
        string session = "s" + Interlocked.Increment(ref _sessions).ToString(CultureInfo.InvariantCulture);
        const string marker = "FERRY-TMUX-EXIT=";
        // The pane stays after the command, so the screen can be read; the marker says it ended, with its code.
        string script = $"{command}; echo {marker}$?; sleep 3600";
        Runner.Ensure(_run.Raw("tmux", ["-L", _socket, "-f", "/dev/null", "new-session", "-d", "-s", session, "-x", Width.ToString(CultureInfo.InvariantCulture), "-y", Height.ToString(CultureInfo.InvariantCulture), script]));
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromMinutes(3));
        while (true)
        {
            var screen = Capture(session);
            int at = screen.FindLastIndex(l => l.StartsWith(marker, StringComparison.Ordinal));
            if (at >= 0)
            {
                _run.Log.Line($"tmux screen ({Width}x{Height}) after: {command}\n" + string.Join("\n", screen.Take(at + 1)));
                return (int.Parse(screen[at][marker.Length..].Trim(), CultureInfo.InvariantCulture), screen.Take(at).ToList());
            }
            if (DateTime.UtcNow > deadline)
                throw new InteropException($"tmux: '{command}' did not end within {(timeout ?? TimeSpan.FromMinutes(3)).TotalSeconds} s; screen:\n{string.Join("\n", screen)}");
            Thread.Sleep(200);
        }
    }

    private List<string> Capture(string session)
    {
        // -J joins lines the terminal wrapped; -S - from the start of the scrollback.
        var r = Proc.Run("tmux", ["-L", _socket, "capture-pane", "-p", "-J", "-S", "-", "-t", session], TimeSpan.FromSeconds(30));
        if (!r.Ok)
            throw new InteropException($"tmux capture-pane failed: {r.Describe()}");
        var lines = r.Stdout.Replace("\r", "", StringComparison.Ordinal).Split('\n').Select(l => l.TrimEnd()).ToList();
        while (lines.Count > 0 && lines[^1].Length == 0)
            lines.RemoveAt(lines.Count - 1);
        return lines;
    }

    public void Dispose() => Proc.Run("tmux", ["-L", _socket, "kill-server"], TimeSpan.FromSeconds(30));
}
