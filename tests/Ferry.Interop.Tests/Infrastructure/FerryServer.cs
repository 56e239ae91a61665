using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace Ferry.Interop.Tests.Infrastructure;

/// <summary>`ferry serve ARCHIVE... --listen 127.0.0.1:0` as a child process; its address is read from its first line.</summary>
public sealed partial class FerryServer : IDisposable
{
    private readonly Process _process;

    [GeneratedRegex(@"on https?://(127\.0\.0\.1:[0-9]+)")]
    private static partial Regex Listening();

    public FerryServer(Runner run, params string[] archives)
    {
        var psi = new ProcessStartInfo(FerryCli.DotnetHost)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { FerryCli.DllPath, "serve" }.Concat(archives).Concat(["--listen", "127.0.0.1:0"]))
            psi.ArgumentList.Add(a);
        run.Log.Line($"$ ferry serve {string.Join(' ', archives)} --listen 127.0.0.1:0    # background");
        _process = Process.Start(psi)!;
        var ready = new TaskCompletionSource<string>();
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null)
                return;
            lock (Log)
                Log.AppendLine(e.Data);
            if (Listening().Match(e.Data) is { Success: true } m)
                ready.TrySetResult(m.Groups[1].Value);
        };
        _process.BeginErrorReadLine();
        if (!ready.Task.Wait(TimeSpan.FromSeconds(60)))
        {
            Dispose();
            throw new InteropException($"ferry serve did not say where it listens within 60 s: {Log}");
        }
        Address = ready.Task.Result;
        run.Log.Line($"ferry serve on {Address}");
    }

    public string Address { get; }

    public StringBuilder Log { get; } = new();

    public Process Process => _process;

    public void Dispose()
    {
        if (!_process.HasExited)
            _process.Kill(entireProcessTree: true);
        _process.WaitForExit(10_000);
        _process.Dispose();
    }
}
