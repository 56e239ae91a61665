using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace Ferry.Tests.TestSupport;

/// <summary><c>ferry serve</c> as a real process (ferry.dll under the dotnet host): where it listens, its stderr, its memory.</summary>
public sealed partial class ServeProcess : IDisposable
{
    private readonly StringBuilder _err;

    private ServeProcess(Process process, Uri root, StringBuilder err)
    {
        Process = process;
        Root = root;
        _err = err;
    }

    public Process Process { get; }

    public Uri Root { get; }

    public string Err
    {
        get
        {
            lock (_err)
                return _err.ToString();
        }
    }

    [GeneratedRegex(@"on (https?)://([0-9.]+):([0-9]+)")]
    private static partial Regex Listening();

    /// <summary>Starts <c>ferry serve ARCHIVE --listen 127.0.0.1:0 ARGS</c> and waits until it says where it listens.</summary>
    public static ServeProcess Start(string tmp, string archive, params string[] args)
    {
        var p = FerryProcess.Start(tmp, ["serve", archive, "--listen", "127.0.0.1:0", .. args]);
        var err = new StringBuilder();
        var ready = new TaskCompletionSource<Uri>();
        p.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null)
                return;
            lock (err)
                err.AppendLine(e.Data);
            if (Listening().Match(e.Data) is { Success: true } m)
                ready.TrySetResult(new Uri($"{m.Groups[1].Value}://{m.Groups[2].Value}:{m.Groups[3].Value}/"));
        };
        p.BeginErrorReadLine();
        if (!ready.Task.Wait(TimeSpan.FromSeconds(30)))
        {
            p.Kill(true);
            Assert.Fail("ferry serve did not say where it listens within 30 s: " + err);
        }
        return new ServeProcess(p, ready.Task.Result, err);
    }

    /// <summary>The process's resident memory now and at its peak (VmRSS, VmHWM of /proc/PID/status), in MiB.</summary>
    public (double Now, double Peak) RssMiB()
    {
        double now = 0, peak = 0;
        foreach (var line in File.ReadLines($"/proc/{Process.Id}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                now = Kib(line) / 1024.0;
            else if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                peak = Kib(line) / 1024.0;
        }
        return (now, peak);

        static long Kib(string line) => long.Parse(line.Split(':')[1].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
    }

    public void Dispose()
    {
        if (!Process.HasExited)
            Process.Kill(entireProcessTree: true);
        Process.Dispose();
    }
}
