using System.CommandLine;
using Ferry.Cli.Commands;

namespace Ferry.Cli;

public static class Program
{
    public static Task<int> Main(string[] args) => Run(args, Console.Out, Console.Error, stderrIsTerminal: !Console.IsErrorRedirected);

    /// <summary>Runs the command line with the given writers (tests call this directly).</summary>
    public static async Task<int> Run(string[] args, TextWriter stdout, TextWriter stderr, Func<Stream>? stdin = null, Func<Stream>? rawStdout = null, bool stderrIsTerminal = false)
    {
        var debug = new Option<bool>("--debug") { Description = "Print stack traces of errors", Recursive = true };
        var root = new RootCommand("ferry: read, convert, inspect and verify container image archives (docker-archive, oci-archive, OCI layouts)");
        root.Options.Add(debug);
        var io = new CliIO(stdout, stderr, stdin, rawStdout) { StderrIsTerminal = stderrIsTerminal };
        root.Subcommands.Add(CopyCommand.Create(io, debug));
        root.Subcommands.Add(InspectCommand.Create(io, debug));
        root.Subcommands.Add(VerifyCommand.Create(io, debug));
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var e in parse.Errors)
                await stderr.WriteLineAsync("ferry: " + e.Message);
            await stderr.WriteLineAsync("Run 'ferry --help' for usage.");
            return ExitCodes.Usage;
        }
        return await parse.InvokeAsync(new InvocationConfiguration { Output = stdout, Error = stderr });
    }
}

/// <summary>The process's streams, replaceable for tests.</summary>
public sealed record CliIO(TextWriter Out, TextWriter Err, Func<Stream>? Stdin, Func<Stream>? RawStdout)
{
    /// <summary>Whether live progress bars may be drawn on stderr.</summary>
    public bool StderrIsTerminal { get; init; }
}

/// <summary>Runs a command body, turning exceptions into one-line messages and exit codes.</summary>
internal static class Guard
{
    public static int Run(CliIO io, bool debug, Func<int> body)
    {
        try
        {
            return body();
        }
        catch (FerryException e)
        {
            io.Err.WriteLine("ferry: " + e.Message);
            if (debug)
                io.Err.WriteLine(e.ToString());
            return e.ExitCode;
        }
        catch (OperationCanceledException)
        {
            io.Err.WriteLine("ferry: interrupted; nothing was written");
            return 130;
        }
        catch (Exception e)
        {
            io.Err.WriteLine($"ferry: internal error: {e.GetType().Name}: {e.Message}");
            if (debug)
                io.Err.WriteLine(e.ToString());
            else
                io.Err.WriteLine("ferry: run again with --debug for details");
            return ExitCodes.Failure;
        }
    }
}
