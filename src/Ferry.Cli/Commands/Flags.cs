using System.CommandLine;
using Ferry.Cli.Rendering;
using Ferry.Copy;
using Ferry.Transports;
using Ferry.Transports.Registry;

namespace Ferry.Cli.Commands;

/// <summary>Which side of a copy a set of registry options is for.</summary>
internal enum Side
{
    Both,
    Source,
    Destination,
}

/// <summary>
/// The registry options in skopeo's grammar: <c>--creds</c>, <c>--authfile</c>, <c>--insecure</c>, <c>--ca-cert</c> for both
/// sides, and their <c>--src-</c> / <c>--dest-</c> forms for one side, which win over the plain ones.
/// </summary>
internal sealed class RegistryFlags
{
    private readonly Dictionary<Side, (Option<string> Creds, Option<string> AuthFile, Option<bool> Insecure, Option<string> CaCert)> _sides = [];
    private readonly Option<int?> _chunk = new("--chunk-size") { Description = "Upload blobs larger than this many MiB in chunks of that size (default 256)" };

    /// <param name="sides">The sides offered: a copy has both and each; a command with one registry end only the plain forms.</param>
    public RegistryFlags(params Side[] sides)
    {
        foreach (var side in sides)
        {
            string p = side switch { Side.Source => "--src-", Side.Destination => "--dest-", _ => "--" };
            string which = side switch { Side.Source => " of the source registry", Side.Destination => " of the destination registry", _ => "" };
            _sides[side] = (
                new Option<string>(p + "creds") { Description = $"USER:PASSWORD{which}" },
                new Option<string>(p + "authfile") { Description = $"Auth file{which} ({{\"auths\":{{HOST:{{\"auth\":…}}}}}}); default: $REGISTRY_AUTH_FILE, podman's auth.json, ~/.docker/config.json" },
                new Option<bool>(p + "insecure") { Description = $"Allow plain HTTP and unverified TLS{which} (plain HTTP is always allowed for localhost/127.0.0.1)" },
                new Option<string>(p + "ca-cert") { Description = $"PEM file of CA certificates to trust for the TLS{which}" });
        }
    }

    public void AddTo(Command c)
    {
        foreach (var (creds, auth, insecure, ca) in _sides.Values)
        {
            c.Options.Add(creds);
            c.Options.Add(auth);
            c.Options.Add(insecure);
            c.Options.Add(ca);
        }
        c.Options.Add(_chunk);
    }

    /// <summary>The options for <paramref name="side"/>: its own flags where given, else the plain ones.</summary>
    public RegistryOptions Read(ParseResult p, Side side)
    {
        var plain = _sides[Side.Both];
        var own = _sides.TryGetValue(side, out var o) ? o : plain;
        return new RegistryOptions
        {
            Credentials = p.GetValue(own.Creds) ?? p.GetValue(plain.Creds),
            AuthFile = p.GetValue(own.AuthFile) ?? p.GetValue(plain.AuthFile),
            Insecure = p.GetValue(own.Insecure) || p.GetValue(plain.Insecure),
            CaCertificate = p.GetValue(own.CaCert) ?? p.GetValue(plain.CaCert),
            ChunkSize = p.GetValue(_chunk) is int mib and > 0 ? mib * 1024L * 1024 : new RegistryOptions().ChunkSize,
        };
    }
}

/// <summary>The options every copying verb (copy, load, save, pull, push) shares, each with one name and one meaning.</summary>
internal sealed class CopyFlags
{
    public Option<string[]> Image { get; } = new("--image", "-i") { Description = "Copy only this image (name, @N, or image ID / digest prefix); repeatable; default: all" };
    public Option<string[]> Tag { get; } = new("--tag", "-t") { Description = "Give the (single) copied image this name as well; repeatable" };
    public Option<string> Compress { get; } = new("--compress") { Description = "Layer compression: keep (default; zstd becomes gzip where docker before 23 must load it), gzip, zstd, none", DefaultValueFactory = _ => "keep" };
    public Option<int?> Level { get; } = new("--compress-level") { Description = "Level for layers Ferry compresses: gzip 1-9 (default 3), zstd 1-19 (default 3)" };
    public Option<string> Platform { get; } = new("--platform") { Description = "OS/ARCH[/VARIANT] picked from multi-platform images where one is needed (docker's manifest.json, docker load); default: this machine's" };
    public Option<string> Progress { get; } = new("--progress") { Description = "Progress display: auto (bars on a terminal, nothing otherwise), plain (periodic lines on stderr), none", DefaultValueFactory = _ => "auto" };
    public Option<bool> Quiet { get; } = new("--quiet", "-q") { Description = "Print nothing but errors" };
    public Option<bool> Json { get; } = new("--json") { Description = "Print a JSON summary (images, digests, references, blobs)" };
    public Option<string> Host { get; } = DaemonOptions.Host();
    public RegistryFlags Registry { get; }

    public CopyFlags(params Side[] sides)
    {
        Compress.AcceptOnlyFromAmong("keep", "gzip", "zstd", "none");
        Progress.AcceptOnlyFromAmong("auto", "plain", "none");
        Level.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int?>() is int l && (l < 1 || l > 19))
                r.AddError("--compress-level must be between 1 and 19");
        });
        Registry = new RegistryFlags(sides.Length == 0 ? [Side.Both] : sides);
    }

    public void AddTo(Command c, bool host = true)
    {
        foreach (var o in new Option[] { Image, Tag, Compress, Level, Platform, Progress, Quiet, Json })
            c.Options.Add(o);
        if (host)
            c.Options.Add(Host);
        Registry.AddTo(c);
    }

    /// <summary>The copy options the flags say; <paramref name="format"/> is the destination's archive format when given.</summary>
    public CopyOptions Read(ParseResult p, CliIO io, string? format = null)
    {
        bool quiet = p.GetValue(Quiet) || p.GetValue(Json);
        Action<string>? log = p.GetValue(Quiet) ? null : m => io.Err.WriteLine("ferry: " + m);
        string? host = p.GetValue(Host);
        return new CopyOptions
        {
            Compress = CopyOptions.ParseCompress(p.GetValue(Compress) ?? "keep"),
            CompressionLevel = p.GetValue(Level),
            Images = p.GetValue(Image) ?? [],
            Tags = p.GetValue(Tag) ?? [],
            Platform = p.GetValue(Platform) is string pl ? Model.Platform.Parse(pl) : null,
            Log = log,
            Source = new TransportOptions { Registry = Registry.Read(p, Side.Source), DockerHost = host, Stdin = io.Stdin, Log = log },
            Destination = new TransportOptions
            {
                Registry = Registry.Read(p, Side.Destination),
                DockerHost = host,
                Stdout = io.RawStdout,
                Format = format is null ? null : OutputFormats.Parse(format),
                Log = log,
            },
        };
    }

    public ProgressMode Mode(ParseResult p) =>
        p.GetValue(Quiet) || p.GetValue(Json) ? ProgressMode.None : p.GetValue(Progress) switch { "plain" => ProgressMode.Plain, "none" => ProgressMode.None, _ => ProgressMode.Auto };

    /// <summary>Runs the copy under a progress display, then prints its summary (JSON, or lines) unless quiet.</summary>
    public async Task<int> RunAsync(ParseResult p, CliIO io, CopyOptions options, Func<CopyOptions, CancellationToken, Task<CopyResult>> copy, bool toStdout, CancellationToken cancel)
    {
        var result = await ProgressRunner.RunAsync(Mode(p), io.Err, io.StderrIsTerminal, sink => copy(options with { Progress = sink }, cancel)).ConfigureAwait(false);
        var w = toStdout ? io.Err : io.Out;
        if (p.GetValue(Json))
            w.WriteLine(JsonOut.Copy(result));
        else if (!p.GetValue(Quiet))
            Summary.Write(w, result);
        return ExitCodes.Ok;
    }
}

/// <summary>Options shared by the commands that talk to a Docker Engine.</summary>
internal static class DaemonOptions
{
    public static Option<string> Host() => new("--host", "-H")
    {
        Description = "Docker Engine address for docker-daemon: (unix:///path or tcp://host:port; default: $DOCKER_HOST, else unix:///var/run/docker.sock)",
    };
}

/// <summary>The <c>--format</c> option of the verbs that write an archive.</summary>
internal static class FormatOption
{
    public static Option<string> Create(string description = "Output format when DEST is a plain path (default: portable)")
    {
        var format = new Option<string>("--format", "-f") { Description = description };
        format.AcceptOnlyFromAmong("portable", "docker-archive", "oci-archive", "oci");
        return format;
    }
}
