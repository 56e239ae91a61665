using System.CommandLine;
using Ferry.Cli.Commands;

namespace Ferry.Cli;

public static partial class Program
{
    /// <summary>Cancelled by SIGINT (Ctrl-C) or SIGTERM: the running command stops, removes its temp files and exits 130.</summary>
    internal static CancellationTokenSource Interrupt { get; } = new();

    public static async Task<int> Main(string[] args)
    {
        using var sigint = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGINT, OnSignal);
        using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, OnSignal);
        try
        {
            return await Run(args, Console.Out, Console.Error, stderrIsTerminal: !Console.IsErrorRedirected, stdoutIsTerminal: !Console.IsOutputRedirected);
        }
        finally
        {
            IO.ChildProcesses.EndAll();
        }
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
        // A credential helper being waited for is ended now, with whatever it started: nothing of Ferry's outlives it.
        IO.ChildProcesses.EndAll();
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
    public static async Task<int> Run(string[] args, TextWriter stdout, TextWriter stderr, Func<Stream>? stdin = null, Func<Stream>? rawStdout = null, bool stderrIsTerminal = false, bool stdoutIsTerminal = false)
    {
        var debug = new Option<bool>("--debug") { Description = "Print stack traces of errors", Recursive = true };
        var root = new RootCommand("ferry: read, convert, inspect and verify container image archives (docker-archive, oci-archive, OCI layouts)");
        root.Options.Add(debug);
        var io = new CliIO(stdout, stderr, stdin, rawStdout) { StderrIsTerminal = stderrIsTerminal, StdoutIsTerminal = stdoutIsTerminal };
        root.Subcommands.Add(CopyCommand.Create(io, debug));
        root.Subcommands.Add(InspectCommand.Create(io, debug));
        root.Subcommands.Add(VerifyCommand.Create(io, debug));
        root.Subcommands.Add(VerifyBlobCommand.Create(io, debug));
        root.Subcommands.Add(DaemonCommands.Load(io, debug));
        root.Subcommands.Add(DaemonCommands.Save(io, debug));
        root.Subcommands.Add(RegistryCommands.Pull(io, debug));
        root.Subcommands.Add(RegistryCommands.Push(io, debug));
        root.Subcommands.Add(LoginCommands.Login(io, debug));
        root.Subcommands.Add(LoginCommands.Logout(io, debug));
        root.Subcommands.Add(ServeCommand.Create(io, debug));
        root.Subcommands.Add(RegistryVerbs.Tags(io, debug));
        root.Subcommands.Add(RegistryVerbs.Digest(io, debug));
        root.Subcommands.Add(RegistryVerbs.Manifest(io, debug));
        root.Subcommands.Add(RegistryVerbs.Delete(io, debug));
        root.Subcommands.Add(ImagesCommand.Create(io, debug));
        root.Subcommands.Add(SetCommand.Create(io, debug));
        root.Subcommands.Add(LockCommand.Create(io, debug));
        root.Subcommands.Add(Completion.Create(io));
        // A command's help ends with its examples (the list of commands stays one line each).
        if (root.Options.OfType<System.CommandLine.Help.HelpOption>().FirstOrDefault() is { Action: System.CommandLine.Help.HelpAction standard } help)
            help.Action = new ExamplesHelpAction(standard);
        // What the completion scripts ask: the candidates for the last word.
        if (args is ["__complete", .. var words])
            return Completion.Complete(root, words, stdout);
        // `ferry help [COMMAND]` is `ferry [COMMAND] --help`, as git and docker have it.
        if (args is ["help", .. var rest])
        {
            // `ferry help nosuch` is a mistyped command, not the list of commands.
            if (rest is [var name, ..] && !name.StartsWith('-') && !root.Subcommands.Any(c => c.Name == name || c.Aliases.Contains(name)))
            {
                foreach (var line in UsageErrors.Describe(root.Parse([name], new ParserConfiguration { ResponseFileTokenReplacer = null })))
                    await stderr.WriteLineAsync(line);
                return ExitCodes.Usage;
            }
            args = [.. rest, "--help"];
        }
        // `@N` selects the N-th image (--image @0): never a response file.
        var parse = root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        if (parse.Errors.Count > 0 || (parse.Action is not ExamplesHelpAction && UsageErrors.OptionLikeArguments(parse).Count > 0))
        {
            foreach (var line in UsageErrors.Describe(parse))
                await stderr.WriteLineAsync(line);
            return ExitCodes.Usage;
        }
        return await parse.InvokeAsync(new InvocationConfiguration { Output = stdout, Error = stderr, ProcessTerminationTimeout = null });
    }
}

public static partial class Program
{
    internal static string[]? ExamplesOf(string command) => Examples.GetValueOrDefault(command);

    /// <summary>What each command's help shows under "Examples:" (commands a user would type first).</summary>
    private static readonly Dictionary<string, string[]> Examples = new(StringComparer.Ordinal)
    {
        ["copy"] =
        [
            "ferry copy app.tar app.portable.tar                  # any archive → portable (loads everywhere)",
            "ferry copy app.oci.tar docker-archive:app.tar         # oci-archive → docker-archive",
            "ferry copy multi.tar one.tar --image @1 --tag app:2   # one image of many, with another name",
            "ferry copy app.tar oci:layout-dir:app:1               # into an OCI layout directory",
            "docker save app | ferry copy - app.tar --compress gzip",
        ],
        ["inspect"] = ["ferry inspect app.tar", "ferry inspect --json docker://registry.example:5000/app:1 | jq .images[0].imageId"],
        ["verify"] = ["ferry verify app.tar", "ferry verify week2.tar --base week1.tar", "ferry verify app.tar --key cosign.pub"],
        ["load"] = ["ferry load app.tar                   # into docker (DOCKER_HOST) or podman's API socket", "ferry pull ghcr.io/org/app:1 -o - | ferry load"],
        ["save"] = ["ferry save app:1 base:2 -o images.tar", "ferry save app:1 -o - | gzip > app.tar.gz"],
        ["pull"] = ["ferry pull ghcr.io/org/app:1 docker.io/library/alpine:3.20 -o images.tar", "ferry pull registry.example/app:1 -o week2.tar --since week1.rec --record week2.rec"],
        ["push"] = ["ferry push images.tar mirror.internal:5000/airgap      # every image under that prefix", "ferry push app.tar docker://mirror.internal:5000/team/app:1"],
        ["login"] = ["echo \"$TOKEN\" | ferry login ghcr.io -u me --password-stdin"],
        ["logout"] = ["ferry logout ghcr.io"],
        ["tags"] = ["ferry tags registry.example:5000/team/app", "ferry tags docker://localhost:5000/app --json | jq -r '.tags[]'"],
        ["digest"] = ["ferry digest registry.example:5000/team/app:1", "ferry pull \"registry.example:5000/team/app@$(ferry digest registry.example:5000/team/app:1)\" -o app.tar"],
        ["manifest"] = ["ferry manifest registry.example:5000/team/app:1 | jq .", "ferry manifest registry.example:5000/team/app:1 | sha256sum   # the digest"],
        ["delete"] = ["ferry delete localhost:5000/team/app:old"],
        ["images"] = ["ferry images k8s/                       # every image of the manifests under k8s/", "helm template my-chart | ferry images - --set ferry.yaml"],
        ["set"] = ["ferry set check ferry.yaml"],
        ["lock"] = ["ferry lock ferry.yaml -o ferry.lock", "ferry lock ferry.yaml -o ferry.lock --json | jq '.repositories[].selected'"],
        ["completion"] =
        [
            "source <(ferry completion bash)                        # bash, now; for good: > /etc/bash_completion.d/ferry",
            "ferry completion zsh > \"${fpath[1]}/_ferry\"            # zsh",
            "ferry completion fish > ~/.config/fish/completions/ferry.fish",
            "ferry completion pwsh | Out-String | Invoke-Expression  # PowerShell (add it to $PROFILE)",
        ],
        ["serve"] = ["ferry serve images.tar                 # a read-only registry on 127.0.0.1:5000", "ferry serve week1.tar week2.tar --listen 0.0.0.0:5000 --htpasswd users.htpasswd"],
    };
}

/// <summary>The standard help, then the command's examples (or, for <c>ferry --help</c>, how to get them).</summary>
internal sealed class ExamplesHelpAction(System.CommandLine.Help.HelpAction standard) : System.CommandLine.Invocation.SynchronousCommandLineAction
{
    /// <summary>As the standard help: <c>ferry copy --help</c> needs no SOURCE.</summary>
    public override bool ClearsParseErrors => true;

    public override int Invoke(ParseResult parseResult)
    {
        int rc = standard.Invoke(parseResult);
        var output = parseResult.InvocationConfiguration.Output;
        var command = parseResult.CommandResult.Command;
        if (command is RootCommand)
            output.WriteLine("Run 'ferry help COMMAND' (or 'ferry COMMAND --help') for a command's options and examples.");
        else if (Program.ExamplesOf(command.Name) is { } lines)
        {
            output.WriteLine("Examples:");
            foreach (var l in lines)
                output.WriteLine("  " + l);
        }
        return rc;
    }
}

/// <summary>The process's streams, replaceable for tests.</summary>
public sealed record CliIO(TextWriter Out, TextWriter Err, Func<Stream>? Stdin, Func<Stream>? RawStdout)
{
    /// <summary>Whether live progress bars may be drawn on stderr.</summary>
    public bool StderrIsTerminal { get; init; }

    /// <summary>Whether stdout is a terminal: an archive is never written there (as docker save refuses).</summary>
    public bool StdoutIsTerminal { get; init; }

    /// <summary>The terminal's columns and rows (for the bars); tests replace it.</summary>
    public Func<(int Width, int Height)> TerminalSize { get; init; } = Rendering.Terminal.Size;

    /// <summary>The progress display running now, if any: messages go through it so they do not tear its bars.</summary>
    internal Rendering.IProgressDisplay? LiveProgress { get; set; }

    /// <summary>A message line on stderr (through the progress display while one runs).</summary>
    public void Message(string line)
    {
        if (LiveProgress is { } live)
            live.Interject(line);
        else
            lock (Err)
                Err.WriteLine(line);
    }

    /// <summary>A TextWriter whose lines are <see cref="Message"/>s (for code that logs to a writer).</summary>
    public TextWriter Messages => _messages ??= new Rendering.LineWriter(Message);

    private TextWriter? _messages;

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

    /// <summary>Refuses, before anything else happens, an archive destination that is stdout on a terminal.</summary>
    public void RefuseTerminalOutput()
    {
        if (StdoutIsTerminal)
            throw new UsageException("refusing to write an archive to a terminal: redirect stdout (> FILE, | …) or name a file");
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
            return ErrorCodes.Of(f);
        }
    }
}
