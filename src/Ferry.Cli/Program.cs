using System.CommandLine;
using Ferry.Cli.Commands;

namespace Ferry.Cli;

public static class Program
{
    /// <summary>Cancelled by SIGINT (Ctrl-C) or SIGTERM: the running command stops, removes its temp files and exits 130.</summary>
    internal static CancellationTokenSource Interrupt { get; } = new();

    public static async Task<int> Main(string[] args)
    {
        using var sigint = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGINT, OnSignal);
        using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, OnSignal);
        return await Run(args, Console.Out, Console.Error, stderrIsTerminal: !Console.IsErrorRedirected);
    }

    /// <summary>How long a command has, after a signal, to stop on its own before the process exits anyway.</summary>
    internal static TimeSpan SignalGrace { get; } = TimeSpan.FromSeconds(1);

    private static int _signalled;
    private static int _signalExitCode = 130;
    private static string _signalMessage = "ferry: interrupted; nothing was written";

    /// <summary>For a command whose normal end is a signal (serve): the exit code and message when it is stopped.</summary>
    internal static void ExitOnSignal(int code, string message)
    {
        _signalExitCode = code;
        _signalMessage = message;
    }

    private static void OnSignal(System.Runtime.InteropServices.PosixSignalContext context)
    {
        // Keep the process alive: the command sees the cancellation, cleans up and returns 130.
        context.Cancel = true;
        Interrupt.Cancel();
        if (Interlocked.Exchange(ref _signalled, 1) != 0)
            return;
        // A read that cannot be cancelled (stdin, a pipe) would keep it waiting: after the grace period the temp files
        // go and the process exits regardless.
        _ = Task.Run(async () =>
        {
            await Task.Delay(SignalGrace).ConfigureAwait(false);
            TemporaryFiles.DeleteAll();
            await Console.Error.WriteLineAsync(_signalMessage).ConfigureAwait(false);
            Environment.Exit(_signalExitCode);
        });
    }

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
        root.Subcommands.Add(DaemonCommands.Load(io, debug));
        root.Subcommands.Add(DaemonCommands.Save(io, debug));
        root.Subcommands.Add(RegistryCommands.Pull(io, debug));
        root.Subcommands.Add(RegistryCommands.Push(io, debug));
        root.Subcommands.Add(LoginCommands.Login(io, debug));
        root.Subcommands.Add(LoginCommands.Logout(io, debug));
        root.Subcommands.Add(ServeCommand.Create(io, debug));
        // `@N` selects the N-th image (--image @0): never a response file.
        var parse = root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        if (parse.Errors.Count > 0)
        {
            foreach (var e in parse.Errors)
                await stderr.WriteLineAsync("ferry: " + e.Message);
            await stderr.WriteLineAsync("Run 'ferry --help' for usage.");
            return ExitCodes.Usage;
        }
        return await parse.InvokeAsync(new InvocationConfiguration { Output = stdout, Error = stderr, ProcessTerminationTimeout = null });
    }
}

/// <summary>The process's streams, replaceable for tests.</summary>
public sealed record CliIO(TextWriter Out, TextWriter Err, Func<Stream>? Stdin, Func<Stream>? RawStdout)
{
    /// <summary>Whether live progress bars may be drawn on stderr.</summary>
    public bool StderrIsTerminal { get; init; }

    private string? _password;

    /// <summary>
    /// Standard input as an archive source: a terminal is refused at once (as docker does), since nobody types an
    /// archive and Ferry would wait silently.
    /// </summary>
    public Func<Stream> ArchiveStdin => Stdin ?? (() =>
    {
        if (!Console.IsInputRedirected)
            throw new UsageException("refusing to read an archive from a terminal: name a file, or pipe one in (… | ferry load)");
        return Console.OpenStandardInput();
    });

    /// <summary>Refuses, before anything else happens, a source that is a terminal on stdin.</summary>
    public void RefuseTerminal(Ferry.Transports.ImageReference source)
    {
        if (source.IsStdio && Stdin is null && !Console.IsInputRedirected)
            throw new UsageException("refusing to read an archive from a terminal: name a file, or pipe one in (… | ferry load)");
    }

    /// <summary>The password given on stdin (<c>--password-stdin</c>): its first line, read once.</summary>
    public string Password()
    {
        if (_password is not null)
            return _password;
        using var input = (Stdin ?? Console.OpenStandardInput)();
        using var reader = new StreamReader(input, System.Text.Encoding.UTF8, leaveOpen: true);
        var buf = new char[4096];
        int n = reader.ReadBlock(buf, 0, buf.Length);
        string text = new string(buf, 0, n);
        int nl = text.IndexOfAny(['\r', '\n']);
        _password = (nl < 0 ? text : text[..nl]);
        if (_password.Length == 0)
            throw new UsageException("--password-stdin: stdin holds no password");
        return _password;
    }
}

/// <summary>Runs a command body, turning exceptions into one-line messages and exit codes.</summary>
internal static class Guard
{
    /// <summary>Runs an asynchronous body with a token cancelled by the command line's token or by SIGINT/SIGTERM.</summary>
    public static async Task<int> RunAsync(CliIO io, bool debug, Func<CancellationToken, Task<int>> body, CancellationToken token)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(token, Program.Interrupt.Token);
        try
        {
            return await body(linked.Token).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            return Report(io, debug, e);
        }
    }

    public static int Run(CliIO io, bool debug, Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e)
        {
            return Report(io, debug, e);
        }
    }

    private static int Report(CliIO io, bool debug, Exception e)
    {
        switch (e)
        {
            case FerryException:
                break;
            case OperationCanceledException:
                io.Err.WriteLine("ferry: interrupted; nothing was written");
                return 130;
            case AggregateException { InnerExceptions: [var only] }:
                return Report(io, debug, only);
            // Outside failures that escaped the library's translation still get one line (the stack with --debug).
            case IOException or UnauthorizedAccessException:
                io.Err.WriteLine($"ferry: {e.Message}");
                if (debug)
                    io.Err.WriteLine(e.ToString());
                return ExitCodes.OutputError;
            case HttpRequestException or System.Text.Json.JsonException or TimeoutException:
                io.Err.WriteLine($"ferry: {e.Message}");
                if (debug)
                    io.Err.WriteLine(e.ToString());
                return ExitCodes.Failure;
            default:
                io.Err.WriteLine($"ferry: internal error: {e.GetType().Name}: {e.Message}");
                if (debug)
                    io.Err.WriteLine(e.ToString());
                else
                    io.Err.WriteLine("ferry: run again with --debug for details");
                return ExitCodes.Failure;
        }
        {
            var f = (FerryException)e;
            io.Err.WriteLine("ferry: " + f.Message);
            if (debug)
                io.Err.WriteLine(f.ToString());
            return f.ExitCode;
        }
    }
}
