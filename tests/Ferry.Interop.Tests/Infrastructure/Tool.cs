using System.Collections.Concurrent;

namespace Ferry.Interop.Tests.Infrastructure;

/// <summary>The external tools the interop tests drive, and how each is probed (once per process).</summary>
public static class Tool
{
    public const string Docker = "docker";
    public const string Podman = "podman";
    public const string Skopeo = "skopeo";
    public const string Containerd = "containerd";
    public const string Umoci = "umoci";
    public const string Registry = "docker-registry";
    public const string Htpasswd = "htpasswd";
    public const string Openssl = "openssl";

    /// <summary>Docker 26 (Debian 13's docker.io) with the classic image store (.ci/lib.sh ci_start_dockerd26 DIR d26 classic).</summary>
    public const string Docker26 = "docker26";

    /// <summary>Docker 26 with the containerd image store (.ci/lib.sh ci_start_dockerd26 DIR d26c containerd).</summary>
    public const string Docker26Containerd = "docker26-containerd";

    /// <summary>cosign 2.5 (Debian 13's, fetched by .ci/lib.sh ci_fetch_sigstore: FERRY_COSIGN), else cosign on PATH.</summary>
    public const string Cosign = "cosign";

    /// <summary>
    /// A skopeo with sigstore (Debian 12's is built without it): Debian 13's 1.18, run through its own loader by the
    /// wrapper .ci/lib.sh ci_fetch_sigstore writes (FERRY_SKOPEO_SIGSTORE).
    /// </summary>
    public const string SkopeoSigstore = "skopeo-sigstore";

    /// <summary>buildah, on the isolated podman store (CONTAINERS_STORAGE_CONF), for multi-platform indexes.</summary>
    public const string Buildah = "buildah";

    /// <summary>Mounting a small tmpfs (root only), for the disk-full test.</summary>
    public const string Tmpfs = "tmpfs";

    /// <summary>tmux: a real terminal for the progress bars (issue 14).</summary>
    public const string Tmux = "tmux";

    /// <summary>zsh and fish: the completion scripts run in them (issue 14).</summary>
    public const string Zsh = "zsh";

    public const string Fish = "fish";

    /// <summary>clang: NativeAOT links with it (the release artefact test publishes one).</summary>
    public const string Clang = "clang";

    /// <summary>The docker 20.10 client. /usr/local/bin/docker may be a newer CLI that shadows it on PATH.</summary>
    public const string DockerPath = "/usr/bin/docker";

    public static readonly IReadOnlyList<string> All = [Docker, Podman, Skopeo, Containerd, Umoci, Registry, Htpasswd, Openssl, Tmpfs, Docker26, Docker26Containerd, Cosign, SkopeoSigstore, Buildah, Tmux, Zsh, Fish, Clang];

    /// <summary>The docker daemons the loader tests use: 20.10, and 26 in both image stores.</summary>
    public static readonly IReadOnlyList<string> Dockers = [Docker, Docker26, Docker26Containerd];

    /// <summary>Whether <paramref name="tool"/> keeps images in containerd's image store (image ID = manifest or index digest).</summary>
    public static bool UsesContainerdStore(string tool) => tool == Docker26Containerd;

    /// <summary>The Engine API address of a docker tool (for `ferry load --host`).</summary>
    public static string HostOf(string tool) => tool switch
    {
        Docker => DockerHost ?? "",
        Docker26 => Env("FERRY_DOCKER26_HOST") ?? "",
        Docker26Containerd => Env("FERRY_DOCKER26_CONTAINERD_HOST") ?? "",
        _ => throw new ArgumentException($"{tool} is not a docker", nameof(tool)),
    };

    /// <summary>Where the docker 26 CLI keeps its config (never ~/.docker).</summary>
    private static string Docker26Config => Path.Combine(Env("FERRY_CI_DIR") ?? Path.GetTempPath(), "docker26-cli");

    private static readonly ConcurrentDictionary<string, Lazy<string?>> Probes = new(StringComparer.Ordinal);

    /// <summary>Whether FERRY_INTEROP=required: missing tools then fail the tests instead of skipping them.</summary>
    public static bool Required =>
        string.Equals(Environment.GetEnvironmentVariable("FERRY_INTEROP")?.Trim(), "required", StringComparison.OrdinalIgnoreCase);

    /// <summary>Why <paramref name="tool"/> cannot be used, or null when it answered its probe.</summary>
    public static string? WhyUnavailable(string tool) =>
        Probes.GetOrAdd(tool, t => new Lazy<string?>(() => Probe(t), LazyThreadSafetyMode.ExecutionAndPublication)).Value;

    /// <summary>The attribute's skip text: "TOOL not available: WHY" for the first missing tool; null when none is missing or FERRY_INTEROP=required.</summary>
    public static string? SkipReason(IEnumerable<string> tools)
    {
        if (Required)
            return null;
        foreach (var t in tools)
        {
            if (WhyUnavailable(t) is { } why)
                return $"{t} not available: {why}";
        }
        return null;
    }

    /// <summary>Throws <see cref="ToolUnavailableException"/> with a clear message when <paramref name="tool"/> is missing.</summary>
    public static void Require(string tool)
    {
        if (WhyUnavailable(tool) is { } why)
        {
            throw new ToolUnavailableException(
                $"{tool} not available: {why}" + (Required ? " (FERRY_INTEROP=required, so the test fails instead of being skipped)" : ""));
        }
    }

    public static string? DockerHost => Env("DOCKER_HOST");

    public static string? ContainerdAddress => Env("CONTAINERD_ADDRESS");

    /// <summary>Extra podman flags for the isolated store (exported by .ci/lib.sh ci_setup_podman).</summary>
    public static IReadOnlyList<string> PodmanArgs =>
        (Env("FERRY_PODMAN_ARGS") ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>The executable and leading arguments that run <paramref name="tool"/>.</summary>
    public static (string File, IReadOnlyList<string> Prefix) Command(string tool) => tool switch
    {
        Docker => (DockerPath, []),
        Podman => ("podman", PodmanArgs),
        Skopeo => ("skopeo", []),
        Containerd => ("ctr", ContainerdAddress is { } a ? ["-a", a] : []),
        Umoci => ("umoci", []),
        Registry => ("docker-registry", []),
        Htpasswd => ("/usr/bin/htpasswd", []),
        Openssl => ("openssl", []),
        Tmpfs => ("mount", []),
        Cosign => (Env("FERRY_COSIGN") ?? "cosign", []),
        SkopeoSigstore => (Env("FERRY_SKOPEO_SIGSTORE") ?? "skopeo-sigstore-not-set", []),
        Buildah => ("buildah", []),
        Tmux => ("tmux", []),
        Zsh => ("zsh", []),
        Fish => ("fish", []),
        Clang => ("clang", []),
        Docker26 or Docker26Containerd => (Env("FERRY_DOCKER26_CLI") ?? "docker26-cli-not-set", ["--config", Docker26Config, "-H", HostOf(tool)]),
        _ => throw new ArgumentException($"unknown tool '{tool}' (want one of {string.Join(", ", All)})", nameof(tool)),
    };

    private static string? Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v : null;

    private static string? Probe(string tool)
    {
        if (!All.Contains(tool, StringComparer.Ordinal))
            return $"unknown tool name '{tool}' (want one of {string.Join(", ", All)})";
        switch (tool)
        {
            case Docker:
            {
                if (!File.Exists(DockerPath))
                    return $"{DockerPath} does not exist (install the docker.io package)";
                // The tests delete images and replace tags such as ubuntu:20.04: only a private daemon will do.
                if (DockerHost is null)
                    return "DOCKER_HOST is not set; these tests delete images and retag ubuntu:20.04, so they only run against a private dockerd (.ci/lib.sh: ci_start_dockerd DIR)";
                var r = Proc.Run(DockerPath, ["version", "--format", "{{.Server.Version}}"], TimeSpan.FromSeconds(30));
                return r.Ok ? null : $"'{r.Command}' failed against DOCKER_HOST={DockerHost}: {FirstLine(r)}";
            }
            case Docker26:
            case Docker26Containerd:
            {
                string var = tool == Docker26 ? "FERRY_DOCKER26_HOST" : "FERRY_DOCKER26_CONTAINERD_HOST";
                if (Env("FERRY_DOCKER26_CLI") is null || Env(var) is null)
                    return $"FERRY_DOCKER26_CLI or {var} is not set; start a private docker 26 (.ci/lib.sh: ci_start_dockerd26 DIR {(tool == Docker26 ? "d26 classic" : "d26c containerd")})";
                var (file, prefix) = Command(tool);
                var r = Proc.Run(file, [.. prefix, "info", "--format", "{{.ServerVersion}} {{.DriverStatus}}"], TimeSpan.FromSeconds(30));
                if (!r.Ok)
                    return $"'{r.Command}' failed: {FirstLine(r)}";
                bool containerd = r.Stdout.Contains("io.containerd.snapshotter", StringComparison.Ordinal);
                return containerd == (tool == Docker26Containerd) ? null : $"{Env(var)} is {(containerd ? "" : "not ")}in the containerd image store";
            }
            case Containerd:
            {
                var (file, prefix) = Command(Containerd);
                if (ContainerdAddress is null)
                    return "CONTAINERD_ADDRESS is not set; start a private containerd (.ci/lib.sh: ci_start_containerd DIR)";
                var r = Proc.Run(file, [.. prefix, "version"], TimeSpan.FromSeconds(30));
                return r.Ok ? null : $"'{r.Command}' failed: {FirstLine(r)}";
            }
            case Podman:
            {
                if (Env("CONTAINERS_STORAGE_CONF") is null && Env("FERRY_PODMAN_ARGS") is null)
                    return "neither CONTAINERS_STORAGE_CONF nor FERRY_PODMAN_ARGS is set; these tests delete images, so they only run on an isolated podman store (.ci/lib.sh: ci_setup_podman DIR)";
                var r = Proc.Run("podman", ["--version"], TimeSpan.FromSeconds(30));
                return r.Ok ? null : $"'podman --version' failed: {FirstLine(r)}";
            }
            case Tmpfs:
            {
                var r = Proc.Run("id", ["-u"], TimeSpan.FromSeconds(10));
                return r.Ok && r.Stdout.Trim() == "0" ? null : "mounting a tmpfs needs root";
            }
            case Cosign:
            {
                var (file, _) = Command(Cosign);
                var r = Proc.Run(file, ["version"], TimeSpan.FromSeconds(30));
                return r.Ok ? null : $"'{file} version' failed: {FirstLine(r)} (.ci/lib.sh: ci_fetch_sigstore DIR fetches Debian 13's cosign and sets FERRY_COSIGN)";
            }
            case SkopeoSigstore:
            {
                if (Env("FERRY_SKOPEO_SIGSTORE") is not string file)
                    return "FERRY_SKOPEO_SIGSTORE is not set; Debian 12's skopeo has sigstore disabled (.ci/lib.sh: ci_fetch_sigstore DIR fetches Debian 13's skopeo 1.18)";
                var r = Proc.Run(file, ["--version"], TimeSpan.FromSeconds(30));
                if (!r.Ok)
                    return $"'{file} --version' failed: {FirstLine(r)}";
                var m = System.Text.RegularExpressions.Regex.Match(r.Stdout, @"version (\d+)\.(\d+)");
                return m.Success && (int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) > 1 || int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture) >= 18)
                    ? null : $"{file} is '{r.Stdout.Trim()}', want skopeo 1.18 or later";
            }
            case Buildah:
            {
                if (Env("CONTAINERS_STORAGE_CONF") is null)
                    return "CONTAINERS_STORAGE_CONF is not set; buildah would use the system's image store (.ci/lib.sh: ci_setup_podman DIR)";
                var r = Proc.Run("buildah", ["--version"], TimeSpan.FromSeconds(30));
                return r.Ok ? null : $"'buildah --version' failed: {FirstLine(r)}";
            }
            case Tmux:
            {
                var r = Proc.Run("tmux", ["-V"], TimeSpan.FromSeconds(30));
                return r.Ok ? null : $"'tmux -V' failed: {FirstLine(r)} (install tmux)";
            }
            case Htpasswd:
                return File.Exists("/usr/bin/htpasswd") ? null : "/usr/bin/htpasswd does not exist (install apache2-utils)";
            case Openssl:
            {
                var r = Proc.Run("openssl", ["version"], TimeSpan.FromSeconds(30));
                return r.Ok ? null : $"'openssl version' failed: {FirstLine(r)}";
            }
            default:
            {
                var r = Proc.Run(tool, ["--version"], TimeSpan.FromSeconds(30));
                return r.Ok ? null : $"'{tool} --version' failed: {FirstLine(r)}";
            }
        }
    }

    private static string FirstLine(ProcResult r)
    {
        string text = (r.Stderr.Trim().Length > 0 ? r.Stderr : r.Stdout).Trim();
        if (r.TimedOut)
            return "timed out";
        return text.Length == 0 ? $"exit code {r.ExitCode}" : text.Split('\n')[0].Trim();
    }
}
