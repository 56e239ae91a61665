using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Ferry.Interop.Tests.Infrastructure;

/// <summary>The outcome of one command.</summary>
public sealed record ProcResult(string Command, int ExitCode, string Stdout, string Stderr, TimeSpan Elapsed, bool TimedOut)
{
    public bool Ok => ExitCode == 0 && !TimedOut;

    /// <summary>The command, its exit code and (shortened) output, as printed in the test log.</summary>
    public string Describe(int maxChars = 6000)
    {
        var sb = new StringBuilder();
        sb.Append("$ ").AppendLine(Command);
        sb.Append("  -> ").Append(TimedOut ? "TIMED OUT (killed)" : "exit " + ExitCode.ToString(CultureInfo.InvariantCulture))
          .Append(" in ").Append(Elapsed.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)).AppendLine(" s");
        AppendStream(sb, "stdout", Stdout, maxChars);
        AppendStream(sb, "stderr", Stderr, maxChars);
        return sb.ToString().TrimEnd();
    }

    private static void AppendStream(StringBuilder sb, string name, string text, int maxChars)
    {
        if (text.Length == 0)
            return;
        string shown = text.Length <= maxChars
            ? text
            : string.Concat(text.AsSpan(0, maxChars / 2), $"\n  [... {text.Length - maxChars} chars cut ...]\n", text.AsSpan(text.Length - (maxChars / 2)));
        sb.Append("  ").Append(name).AppendLine(":");
        foreach (var line in shown.TrimEnd('\n').Split('\n'))
            sb.Append("    ").AppendLine(line);
    }
}

/// <summary>Runs a child process with a timeout and captures its output.</summary>
public static class Proc
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(120);
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);

    public static ProcResult Run(string file, IReadOnlyList<string> args, TimeSpan? timeout = null, string? workDir = null,
        IReadOnlyDictionary<string, string>? env = null, string? display = null)
    {
        string command = display ?? Quote([file, .. args]);
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Utf8,
            StandardErrorEncoding = Utf8,
        };
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        if (workDir is not null)
            psi.WorkingDirectory = workDir;
        if (env is not null)
        {
            foreach (var (k, v) in env)
                psi.Environment[k] = v;
        }
        var limit = timeout ?? DefaultTimeout;
        var sw = Stopwatch.StartNew();
        using var p = new Process { StartInfo = psi };
        try
        {
            p.Start();
        }
        catch (Win32Exception e)
        {
            return new ProcResult(command, 127, "", $"cannot start '{file}': {e.Message}", sw.Elapsed, false);
        }
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        bool timedOut = !p.WaitForExit(limit);
        if (timedOut)
        {
            try
            {
                p.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // it exited just now
            }
            p.WaitForExit(TimeSpan.FromSeconds(10));
        }
        else
        {
            p.WaitForExit(); // drains the redirected streams
        }
        Task.WaitAll([stdout, stderr], TimeSpan.FromSeconds(10));
        string o = stdout.IsCompletedSuccessfully ? stdout.Result : "";
        string e2 = stderr.IsCompletedSuccessfully ? stderr.Result : "";
        int code = timedOut ? -1 : p.ExitCode;
        return new ProcResult(command, code, o, e2, sw.Elapsed, timedOut);
    }

    /// <summary>A copy-pasteable shell form of a command line.</summary>
    public static string Quote(IEnumerable<string> words) => string.Join(' ', words.Select(QuoteWord));

    public static string QuoteWord(string w)
    {
        if (w.Length > 0 && w.All(c => char.IsAsciiLetterOrDigit(c) || "-_./:=@,+%".Contains(c, StringComparison.Ordinal)))
            return w;
        return "'" + w.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
    }
}
