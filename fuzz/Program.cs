using Ferry.Tests.Fuzz;
using SharpFuzz;

namespace Ferry.Fuzz;

/// <summary>
/// AFL++ entry point. <c>Ferry.Fuzz TARGET</c> runs under afl-fuzz (or replays one input from stdin when started without
/// AFL). <c>Ferry.Fuzz TARGET FILE...</c> replays files one by one and prints each outcome.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length == 0 || !FuzzTargets.Names.Contains(args[0]))
        {
            Console.Error.WriteLine($"usage: Ferry.Fuzz {{{string.Join('|', FuzzTargets.Names)}}} [FILE...]   (no FILE: input on stdin / from afl-fuzz)");
            return 2;
        }
        string target = args[0];
        if (args.Length > 1)
            return Replay(target, args[1..]);
        string[] ignore = (Environment.GetEnvironmentVariable("FERRY_FUZZ_IGNORE") ?? "").Split('|', StringSplitOptions.RemoveEmptyEntries);
        Fuzzer.OutOfProcess.Run(stream => RunIgnoring(target, ReadAll(stream), ignore));
        return 0;
    }

    /// <summary>
    /// Runs the target; with FERRY_FUZZ_IGNORE set (substrings separated by '|'), a crash whose exception text
    /// (type, message, stack) contains one of them is treated as known and not reported, so that a run can look past
    /// bugs already found. The regression tests never ignore anything.
    /// </summary>
    private static void RunIgnoring(string target, byte[] data, string[] ignore)
    {
        if (ignore.Length == 0)
        {
            FuzzTargets.Run(target, data);
            return;
        }
        try
        {
            FuzzTargets.Run(target, data);
        }
        catch (Exception e) when (IsIgnored(e, ignore))
        {
        }
    }

    private static bool IsIgnored(Exception e, string[] ignore)
    {
        string text = e.ToString();
        return ignore.Any(i => text.Contains(i, StringComparison.Ordinal));
    }

    /// <summary>
    /// Outside <see cref="Fuzzer.OutOfProcess.Run(Action{Stream})"/> nothing sets up the coverage map that the
    /// instrumented Ferry.Core.dll writes to, so give it a private one (the uninstrumented build ignores it).
    /// </summary>
    private static unsafe void EnsureTraceBuffer()
    {
        if (SharpFuzz.Common.Trace.SharedMem == null)
            SharpFuzz.Common.Trace.SharedMem = (byte*)System.Runtime.InteropServices.NativeMemory.AllocZeroed(1 << 20);
    }

    private static byte[] ReadAll(Stream stream)
    {
        using var ms = new MemoryStream();
        stream.CopyTo(ms);
        return ms.ToArray();
    }

    /// <summary>Runs each file through the target outside AFL; exit code 1 when any of them crashed.</summary>
    private static int Replay(string target, string[] files)
    {
        EnsureTraceBuffer();
        int failed = 0;
        foreach (var file in files)
        {
            var watch = System.Diagnostics.Stopwatch.StartNew();
            try
            {
                FuzzTargets.Run(target, File.ReadAllBytes(file));
                Console.WriteLine($"ok    {watch.Elapsed.TotalMilliseconds,8:F0} ms  {file}");
            }
#pragma warning disable CA1031 // the point is to report every crash, whatever its type
            catch (Exception e)
#pragma warning restore CA1031
            {
                failed++;
                Console.WriteLine($"CRASH {watch.Elapsed.TotalMilliseconds,8:F0} ms  {file}");
                Console.WriteLine(e.ToString());
            }
        }
        return failed == 0 ? 0 : 1;
    }
}
