namespace Ferry.Interop.Tests.Infrastructure;

/// <summary>Runs tools and ferry, writing every command and its output to a <see cref="Transcript"/>.</summary>
public sealed class Runner
{
    public Runner(Transcript log) => Log = log;

    public Transcript Log { get; }

    /// <summary>Runs <paramref name="tool"/> (a <see cref="Tool"/> name); fails clearly when the tool is not available.</summary>
    /// <remarks><paramref name="maxLog"/> caps how much of each output stream goes to the log (inspect dumps are long).</remarks>
    public ProcResult Exec(string tool, IReadOnlyList<string> args, TimeSpan? timeout = null, string? workDir = null,
        IReadOnlyDictionary<string, string>? env = null, int maxLog = 6000)
    {
        Tool.Require(tool);
        var (file, prefix) = Tool.Command(tool);
        var r = Proc.Run(file, [.. prefix, .. args], timeout, workDir, env);
        Log.Line(r.Describe(maxLog));
        return r;
    }

    /// <summary>Runs a command that must succeed; throws with its output otherwise.</summary>
    public ProcResult Must(string tool, IReadOnlyList<string> args, TimeSpan? timeout = null, string? workDir = null,
        IReadOnlyDictionary<string, string>? env = null) =>
        Ensure(Exec(tool, args, timeout, workDir, env));

    public ProcResult Docker(params string[] args) => Exec(Tool.Docker, args);

    public ProcResult Podman(params string[] args) => Exec(Tool.Podman, args);

    public ProcResult Skopeo(params string[] args) => Exec(Tool.Skopeo, args);

    public ProcResult Ctr(params string[] args) => Exec(Tool.Containerd, args);

    public ProcResult Umoci(params string[] args) => Exec(Tool.Umoci, args);

    public ProcResult MustDocker(params string[] args) => Must(Tool.Docker, args);

    public ProcResult MustPodman(params string[] args) => Must(Tool.Podman, args);

    public ProcResult MustSkopeo(params string[] args) => Must(Tool.Skopeo, args);

    public ProcResult MustCtr(params string[] args) => Must(Tool.Containerd, args);

    /// <summary>Runs an arbitrary program (no tool probe), e.g. /bin/sh for a pipeline.</summary>
    public ProcResult Raw(string file, IReadOnlyList<string> args, TimeSpan? timeout = null, string? display = null)
    {
        var r = Proc.Run(file, args, timeout, display: display);
        Log.Line(r.Describe());
        return r;
    }

    /// <summary>Ferry's command line, run in-process through <c>Ferry.Cli.Program.Run</c>.</summary>
    public ProcResult Ferry(params string[] args)
    {
        var r = FerryCli.RunInProcess(args);
        Log.Line(r.Describe());
        return r;
    }

    public ProcResult MustFerry(params string[] args) => Ensure(Ferry(args));

    public static ProcResult Ensure(ProcResult r)
    {
        if (!r.Ok)
            throw new InteropException("command failed:\n" + r.Describe());
        return r;
    }
}
