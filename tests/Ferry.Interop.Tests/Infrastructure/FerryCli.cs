using System.Diagnostics;
using System.Globalization;

namespace Ferry.Interop.Tests.Infrastructure;

/// <summary>Runs ferry in-process (<c>Ferry.Cli.Program.Run</c>) or, for stdin/stdout pipelines, as a child process.</summary>
public static class FerryCli
{
    public static ProcResult RunInProcess(IReadOnlyList<string> args)
    {
        var stdout = new StringWriter(CultureInfo.InvariantCulture);
        var stderr = new StringWriter(CultureInfo.InvariantCulture);
        var sw = Stopwatch.StartNew();
        string[] argv = [.. args];
        // Task.Run: no test synchronisation context under the blocking wait.
        int code = Task.Run(() => global::Ferry.Cli.Program.Run(argv, stdout, stderr)).GetAwaiter().GetResult();
        return new ProcResult("ferry " + Proc.Quote(args) + "    # in-process: Ferry.Cli.Program.Run", code,
            stdout.ToString(), stderr.ToString(), sw.Elapsed, false);
    }

    /// <summary>The built ferry.dll (copied next to the test assembly by the project reference).</summary>
    public static string DllPath
    {
        get
        {
            string p = Path.Combine(AppContext.BaseDirectory, "ferry.dll");
            if (!File.Exists(p))
                throw new InteropException($"ferry.dll not found next to the test assembly ({p}); is src/Ferry.Cli referenced?");
            return p;
        }
    }

    /// <summary>The dotnet host to run ferry.dll with: DOTNET_HOST_PATH (set by the SDK) or the one on PATH.</summary>
    public static string DotnetHost =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h && File.Exists(h) ? h : "dotnet";

    /// <summary>A shell command line that runs the built ferry with <paramref name="args"/> (already quoted as needed).</summary>
    public static string ShellCommand(string args) => $"{Proc.QuoteWord(DotnetHost)} {Proc.QuoteWord(DllPath)} {args}";
}
