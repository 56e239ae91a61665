using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Ferry.IO;

/// <summary>
/// The programs Ferry runs (credential helpers), so that none outlives it: a program is run with its input given and
/// its output read within a byte limit and a time limit; on a timeout, on a signal (<see cref="EndAll"/>) and when it
/// leaves something running that holds its output, the program and every process it started are ended. What a
/// program prints is returned to the caller and never put into a message (a helper's output may hold secrets).
/// </summary>
internal static class ChildProcesses
{
    /// <summary>The running programs and the processes each has been seen to start (pid → start time).</summary>
    private static readonly ConcurrentDictionary<Process, ConcurrentDictionary<int, long>> Live = new();

    private static volatile bool _stopping;

    /// <summary>How a run ended.</summary>
    public enum Ending { Exited, TimedOut, TooMuchOutput, OutputHeldOpen }

    /// <summary>The result of <see cref="Run"/>: how it ended, the exit code (when it exited) and what it printed.</summary>
    public sealed record Result(Ending Ending, int ExitCode, string Output, TimeSpan Elapsed);

    /// <summary>
    /// Runs <paramref name="program"/> with <paramref name="arguments"/>, writes <paramref name="input"/> to its stdin and
    /// closes it, and reads its stdout (at most <paramref name="maxOutput"/> bytes; stderr is discarded) until it exits
    /// and closes its output, within <paramref name="timeout"/>.
    /// </summary>
    /// <exception cref="System.ComponentModel.Win32Exception">The program cannot be started (not found).</exception>
    public static Result Run(string program, IReadOnlyList<string> arguments, string input, int maxOutput, TimeSpan timeout)
    {
        var r = RunCore(program, arguments, input, maxOutput, timeout);
        // Ended because Ferry is being stopped: that is the outcome, not whatever the program's end looked like.
        if (_stopping)
            throw new OperationCanceledException("stopped by a signal");
        return r;
    }

    private static Result RunCore(string program, IReadOnlyList<string> arguments, string input, int maxOutput, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(program)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in arguments)
            info.ArgumentList.Add(a);
        var started = Stopwatch.GetTimestamp();
        using var p = Process.Start(info) ?? throw new System.ComponentModel.Win32Exception($"cannot start {program}");
        var seen = new ConcurrentDictionary<int, long>();
        Live[p] = seen;
        try
        {
            p.ErrorDataReceived += (_, _) => { };
            p.BeginErrorReadLine();
            try
            {
                p.StandardInput.Write(input);
                p.StandardInput.Close();
            }
            catch (IOException)
            {
                // It did not read its input: what it prints still says how it went.
            }
            var output = new MemoryStream();
            bool tooMuch = false;
            var read = Task.Run(() =>
            {
                var s = p.StandardOutput.BaseStream;
                byte[] buf = new byte[8192];
                int n;
                while ((n = s.Read(buf, 0, buf.Length)) > 0)
                {
                    if (output.Length + n > maxOutput)
                    {
                        tooMuch = true;
                        return;
                    }
                    output.Write(buf, 0, n);
                }
            });
            var deadline = started + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
            Ending? ending = null;
            long exitedAt = 0;
            while (true)
            {
                Remember(p.Id, seen);
                bool exited = p.WaitForExit(100);
                if (tooMuch)
                {
                    ending = Ending.TooMuchOutput;
                    break;
                }
                if (exited && read.IsCompleted)
                    break;
                if (exited)
                {
                    // It is gone, but its output is still open: something it started holds it.
                    exitedAt = exitedAt == 0 ? Stopwatch.GetTimestamp() : exitedAt;
                    if (Stopwatch.GetElapsedTime(exitedAt) > TimeSpan.FromSeconds(1))
                    {
                        ending = Ending.OutputHeldOpen;
                        break;
                    }
                }
                if (Stopwatch.GetTimestamp() > deadline)
                {
                    ending = Ending.TimedOut;
                    break;
                }
            }
            if (ending is { } end)
            {
                EndTree(p, seen);
                // What it left running that holds its output (started and orphaned before it was seen) goes too.
                if (PipeInode(p.StandardOutput.BaseStream) is { } pipe)
                    EndHolders(pipe);
                return new Result(end, p.HasExited ? p.ExitCode : -1, "", Stopwatch.GetElapsedTime(started));
            }
            return new Result(Ending.Exited, p.ExitCode, Encoding.UTF8.GetString(output.ToArray()), Stopwatch.GetElapsedTime(started));
        }
        finally
        {
            Live.TryRemove(p, out _);
        }
    }

    /// <summary>Ends every program still running and what it started (a signal, or the process exiting).</summary>
    public static void EndAll()
    {
        _stopping = true;
        foreach (var (p, seen) in Live)
        {
            Remember(SafeId(p), seen);
            EndTree(p, seen);
        }
    }

    private static int SafeId(Process p)
    {
        try
        {
            return p.Id;
        }
        catch (InvalidOperationException)
        {
            return -1;
        }
    }

    /// <summary>Ends the program and every process it was seen to start that is still the same process (its start time unchanged).</summary>
    private static void EndTree(Process p, ConcurrentDictionary<int, long> seen)
    {
        try
        {
            if (!p.HasExited)
                p.Kill(entireProcessTree: true);
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception or NotSupportedException)
        {
        }
        foreach (var (pid, start) in seen)
        {
            if (StartTime(pid) == start)
            {
                try
                {
                    using var child = Process.GetProcessById(pid);
                    child.Kill();
                }
                catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
                {
                }
            }
        }
    }

    /// <summary>The pipe a stream reads (<c>pipe:[INODE]</c>, as /proc shows it), or null.</summary>
    private static string? PipeInode(Stream stream)
    {
        if (!OperatingSystem.IsLinux() || stream is not System.IO.Pipes.PipeStream pipe)
            return null;
        try
        {
            string fd = pipe.SafePipeHandle.DangerousGetHandle().ToString(CultureInfo.InvariantCulture);
            return new FileInfo($"/proc/self/fd/{fd}").LinkTarget;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ObjectDisposedException)
        {
            return null;
        }
    }

    /// <summary>Ends every other process that has <paramref name="pipe"/> open (Linux: from /proc/PID/fd).</summary>
    private static void EndHolders(string pipe)
    {
        foreach (var d in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(d), NumberStyles.None, CultureInfo.InvariantCulture, out int pid) || pid == Environment.ProcessId)
                continue;
            try
            {
                if (!Directory.EnumerateFileSystemEntries(Path.Combine(d, "fd")).Any(f => new FileInfo(f).LinkTarget == pipe))
                    continue;
                using var holder = Process.GetProcessById(pid);
                holder.Kill();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
            {
            }
        }
    }

    /// <summary>Adds the descendants of <paramref name="root"/> now running to <paramref name="seen"/> (Linux: from /proc).</summary>
    private static void Remember(int root, ConcurrentDictionary<int, long> seen)
    {
        if (root <= 0 || !OperatingSystem.IsLinux())
            return;
        var children = new Dictionary<int, List<int>>();
        IEnumerable<string> dirs;
        try
        {
            dirs = Directory.EnumerateDirectories("/proc");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return;
        }
        foreach (var d in dirs)
        {
            if (!int.TryParse(Path.GetFileName(d), NumberStyles.None, CultureInfo.InvariantCulture, out int pid) || Stat(pid) is not { } st)
                continue;
            if (!children.TryGetValue(st.Parent, out var list))
                children[st.Parent] = list = [];
            list.Add(pid);
        }
        var todo = new Stack<int>([root]);
        while (todo.Count > 0)
        {
            int pid = todo.Pop();
            if (!children.TryGetValue(pid, out var kids))
                continue;
            foreach (var k in kids)
            {
                if (Stat(k) is { } st)
                    seen.TryAdd(k, st.Start);
                todo.Push(k);
            }
        }
    }

    private static long? StartTime(int pid) => Stat(pid)?.Start;

    /// <summary>The parent and start time of a process, from <c>/proc/PID/stat</c> (fields 4 and 22).</summary>
    private static (int Parent, long Start)? Stat(int pid)
    {
        try
        {
            string text = File.ReadAllText($"/proc/{pid}/stat");
            int close = text.LastIndexOf(')');
            var f = text[(close + 2)..].Split(' ');
            return (int.Parse(f[1], CultureInfo.InvariantCulture), long.Parse(f[19], CultureInfo.InvariantCulture));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException or ArgumentOutOfRangeException)
        {
            return null;
        }
    }
}
