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
    private readonly Option<bool> _passwordStdin = new("--password-stdin") { Description = "Read the password of --creds USER (or --src-creds/--dest-creds USER) from stdin, as docker login does" };

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
        c.Options.Add(_passwordStdin);
    }

    /// <summary>The options for <paramref name="side"/>: its own flags where given, else the plain ones.</summary>
    public RegistryOptions Read(ParseResult p, Side side, CliIO io)
    {
        var plain = _sides[Side.Both];
        var own = _sides.TryGetValue(side, out var o) ? o : plain;
        string? creds = p.GetValue(own.Creds) ?? p.GetValue(plain.Creds);
        if (p.GetValue(_passwordStdin))
        {
            var missing = _sides.Values.Select(x => p.GetValue(x.Creds)).Where(c => c is not null && !c.Contains(':', StringComparison.Ordinal)).Distinct().ToList();
            if (missing.Count == 0)
                throw new UsageException("--password-stdin needs --creds USER (without a password)");
            if (missing.Count > 1)
                throw new UsageException("--password-stdin gives one password, but several --creds lack one");
            if (creds is not null && !creds.Contains(':', StringComparison.Ordinal))
                creds = creds + ":" + io.Password();
        }
        return new RegistryOptions
        {
            Credentials = creds,
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
    public Option<int?> Level { get; } = new("--compress-level") { Description = "Level for layers Ferry compresses: gzip zlib-ng 1-9 (default 3; a level picks zlib-ng unless --gzip-codec says otherwise), isal 0-3 (default 2), libdeflate 1-12 (default 1); zstd 1-19 (default 3)" };
    public Option<string> GzipCodec { get; } = new("--gzip-codec") { Description = "Deflate used for layers Ferry gzips: auto (default: isal if libisal.so.2 is installed, else libdeflate if libdeflate.so.0 is, else zlib-ng), zlib-ng, isal, libdeflate; each gives its own bytes", DefaultValueFactory = _ => "auto" };
    public Option<string> Platform { get; } = new("--platform") { Description = "Copy only these platforms of multi-platform images: OS/ARCH[/VARIANT][,…] or all (default: all; docker gets the first, else this machine's)" };
    public Option<bool> KeepIndex { get; } = new("--keep-index") { Description = "With --platform: keep the original index (digest and signature kept), only the chosen platforms' blobs (a sparse index)" };
    public Option<bool> ExcludeReferrers { get; } = new("--exclude-referrers") { Description = "Leave signatures, attestations, SBOMs and other referrers out (they are carried by default)" };
    public Option<string> Referrers { get; } = new("--referrers") { Description = "Carry only these referrers: sig, att, sbom, or an artifactType; comma-separated" };
    public Option<bool> RemoveSignatures { get; } = new("--remove-signatures") { Description = "Copy without signatures, allowing signed manifests to change (recompression, platform subsets)" };
    public Option<string> Progress { get; } = ProgressOption.Create();
    public Option<bool> Quiet { get; } = new("--quiet", "-q") { Description = "Print nothing but errors" };
    public Option<bool> Json { get; } = new("--json") { Description = "Print a JSON summary (images, digests, references, blobs)" };
    public Option<string> Host { get; } = DaemonOptions.Host();
    public Option<string> Timeout { get; } = TimeoutOption.Create();
    public Option<bool> NoVerifyDiffIds { get; } = new("--no-verify-diff-ids") { Description = "Do not check layers against their config's diff_ids while copying (they are checked by default)" };
    public Option<bool> NoCache { get; } = new("--no-cache") { Description = "Do not use the verified-layer cache: inflate every compressed layer to check its diff_id, and remember nothing (FERRY_CACHE_DIR moves the cache; set empty, it is off)" };
    public Option<bool> Verbose { get; } = new("--verbose", "-v") { Description = "Also say how each layer was checked against its diff_id (now, or by the verified-layer cache)" };
    public Option<string> Split { get; } = new("--split") { Description = "Write the archive in parts of at most SIZE (4G, 4095M, 4700MB; K/M/G/T are powers of 1024, KB/MB/GB/TB of 1000): PATH.000, PATH.001, … and PATH.sha256" };
    public Option<string[]> Since { get; } = new("--since") { Description = "Write an incremental archive: leave out the layers this earlier archive (or its --record file) shipped; repeatable" };
    public Option<string> Record { get; } = new("--record") { Description = "Also write FILE: a small record of every layer the archive written (and those it extends) shipped, for a later --since" };
    public Option<string[]> Base { get; } = new("--base") { Description = "An archive that carried layers the (incremental) source leaves out; repeatable" };
    public RegistryFlags Registry { get; }

    public CopyFlags(params Side[] sides)
    {
        Compress.AcceptOnlyFromAmong("keep", "gzip", "zstd", "none");
        GzipCodec.AcceptOnlyFromAmong("auto", "zlib-ng", "isal", "libdeflate");
        Level.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int?>() is int l && (l < 0 || l > 19))
                r.AddError("--compress-level must be between 0 and 19 (gzip: zlib-ng 1-9, isal 0-3, libdeflate 1-12; zstd 1-19)");
        });
        Registry = new RegistryFlags(sides.Length == 0 ? [Side.Both] : sides);
    }

    private bool _writesArchives;

    /// <param name="c">The command.</param>
    /// <param name="host">Whether it talks to a Docker Engine (<c>--host</c>).</param>
    /// <param name="writesArchives">Whether its destination can be an archive file (<c>--split</c>).</param>
    public void AddTo(Command c, bool host = true, bool writesArchives = true)
    {
        foreach (var o in new Option[] { Image, Tag, Compress, Level, GzipCodec, Platform, Progress, Quiet, Json, Timeout, NoVerifyDiffIds, NoCache, Verbose, KeepIndex, ExcludeReferrers, Referrers, RemoveSignatures })
            c.Options.Add(o);
        _writesArchives = writesArchives;
        if (writesArchives)
        {
            c.Options.Add(Split);
            c.Options.Add(Since);
            c.Options.Add(Record);
        }
        c.Options.Add(Base);
        if (host)
            c.Options.Add(Host);
        Registry.AddTo(c);
    }

    /// <summary>The copy options the flags say; <paramref name="format"/> is the destination's archive format when given.</summary>
    public CopyOptions Read(ParseResult p, CliIO io, string? format = null)
    {
        bool quiet = p.GetValue(Quiet) || p.GetValue(Json);
        Action<string>? log = p.GetValue(Quiet) ? null : m => io.Message("ferry: " + m);
        string? host = p.GetValue(Host);
        var timeout = TimeoutOption.Read(p, Timeout);
        var platforms = p.GetValue(Platform) is string pl && pl != "all"
            ? pl.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(Model.Platform.Parse).ToList()
            : null;
        if (p.GetValue(KeepIndex) && platforms is null)
            throw new UsageException("--keep-index keeps an index while --platform picks some of its platforms: give --platform");
        if (p.GetValue(ExcludeReferrers) && p.GetValue(Referrers) is not null)
            throw new UsageException("--exclude-referrers and --referrers are exclusive");
        var referrers = p.GetValue(ExcludeReferrers) ? Images.ReferrerSelection.None
            : p.GetValue(Referrers) is string rs ? Images.ReferrerSelection.Only(rs.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            : Images.ReferrerSelection.All;
        return new CopyOptions
        {
            Platforms = platforms,
            KeepIndex = p.GetValue(KeepIndex),
            RemoveSignatures = p.GetValue(RemoveSignatures),
            Compress = ParseCompress(p.GetValue(Compress) ?? "keep"),
            Record = _writesArchives ? p.GetValue(Record) : null,
            CompressionLevel = p.GetValue(Level),
            GzipCodec = p.GetValue(GzipCodec) switch
            {
                "zlib-ng" => Ferry.Compression.GzipCodec.ZlibNg,
                "isal" => Ferry.Compression.GzipCodec.Isal,
                "libdeflate" => Ferry.Compression.GzipCodec.Libdeflate,
                _ => Ferry.Compression.GzipCodec.Auto,
            },
            VerifyDiffIds = !p.GetValue(NoVerifyDiffIds),
            UseLayerCache = !p.GetValue(NoCache),
            Images = p.GetValue(Image) ?? [],
            Tags = p.GetValue(Tag) ?? [],
            Log = log,
            Source = new TransportOptions { Registry = Registry.Read(p, Side.Source, io), Daemon = new Transports.DaemonOptions { Host = host }, Archive = new ArchiveOptions { Stdin = io.ArchiveStdin, Bases = p.GetValue(Base) ?? [] }, Log = log, Timeout = timeout, Referrers = referrers, Platforms = platforms },
            Destination = new TransportOptions
            {
                Registry = Registry.Read(p, Side.Destination, io),
                Timeout = timeout,
                Daemon = new Transports.DaemonOptions { Host = host },
                Archive = new ArchiveOptions
                {
                    Stdout = io.RawStdout,
                    Format = format is null ? null : FormatOption.Parse(format),
                    SplitSize = _writesArchives && p.GetValue(Split) is string split ? SizeOption.Parse(split, "--split") : null,
                },
                Log = log,
            },
        };
    }

    /// <summary><c>keep</c>, <c>gzip</c>, <c>zstd</c> or <c>none</c>.</summary>
    internal static CompressMode ParseCompress(string text) => text switch
    {
        "keep" => CompressMode.Keep,
        "gzip" => CompressMode.Gzip,
        "zstd" => CompressMode.Zstd,
        "none" => CompressMode.None,
        _ => throw new UsageException($"unknown compression '{text}' (want keep, gzip, zstd or none)"),
    };

    public ProgressMode Mode(ParseResult p) =>
        p.GetValue(Quiet) || p.GetValue(Json) ? ProgressMode.None : ProgressOption.Read(p, Progress);

    /// <summary>Runs the copy under a progress display, then prints its summary (JSON, or lines) unless quiet.</summary>
    /// <remarks><paramref name="destination"/> is needed for <c>--record</c> (an archive file).</remarks>
    public async Task<int> RunAsync(ParseResult p, CliIO io, CopyOptions options, Func<CopyOptions, CancellationToken, Task<CopyResult>> copy, bool toStdout, CancellationToken cancel, ImageReference? destination = null)
    {
        if (toStdout)
            io.RefuseTerminalOutput();
        if (_writesArchives && p.GetValue(Since) is { Length: > 0 } since)
            options = options with { Since = await Incremental.ShipRecord.LoadAsync(since, cancel).ConfigureAwait(false) };
        var result = await ProgressRunner.RunAsync(Mode(p), io, sink => copy(options with { Progress = sink }, cancel)).ConfigureAwait(false);
        // stdout carries only the archive (DEST -) or --json; the summary is a message, on stderr.
        if (p.GetValue(Json))
            (toStdout ? io.Err : io.Out).WriteLine(JsonOut.Copy(result));
        else if (!p.GetValue(Quiet))
            Summary.Write(io.Err, result, p.GetValue(Verbose));
        return ExitCodes.Ok;
    }
}

/// <summary>SOURCE and DEST as every command reads them.</summary>
internal static class References
{
    /// <summary>
    /// Parses a reference; one written without <c>docker://</c> and taken as a registry's (no such file exists) is said
    /// on stderr unless <paramref name="quiet"/> (<c>--json</c> says it too: its source or destination is <c>docker://…</c>).
    /// </summary>
    public static ImageReference Parse(string text, CliIO io, bool quiet = false)
    {
        var reference = TransportRegistry.Default.Parse(text);
        if (reference is RegistryReference { Bare: true } && !quiet)
            io.Message($"ferry: note: {text} is no file here: taken as {reference}");
        return reference;
    }
}

/// <summary><c>--progress auto|plain|none</c>, as every long command has it.</summary>
internal static class ProgressOption
{
    public static Option<string> Create()
    {
        var o = new Option<string>("--progress")
        {
            Description = "Progress display: auto (bars on a terminal, nothing otherwise), plain (periodic lines on stderr), none",
            DefaultValueFactory = _ => "auto",
        };
        o.AcceptOnlyFromAmong("auto", "plain", "none");
        return o;
    }

    public static ProgressMode Read(ParseResult p, Option<string> option) => p.GetValue(option) switch
    {
        "plain" => ProgressMode.Plain,
        "none" => ProgressMode.None,
        _ => ProgressMode.Auto,
    };
}

/// <summary>Options shared by the commands that talk to a Docker Engine.</summary>
internal static class DaemonOptions
{
    public static Option<string> Host() => new("--host", "-H")
    {
        Description = "Docker Engine address for docker-daemon: (unix:///path or tcp://host:port; default: $DOCKER_HOST, else unix:///var/run/docker.sock)",
    };
}

/// <summary><c>--timeout DURATION</c>: how long a peer may keep Ferry waiting.</summary>
internal static class TimeoutOption
{
    public static Option<string> Create() => new("--timeout")
    {
        Description = "How long a registry or daemon may keep Ferry waiting (to connect, to answer, for the next byte): e.g. 30s, 5m (default 2m)",
    };

    public static TimeSpan Read(ParseResult p, Option<string> option) =>
        p.GetValue(option) is string text ? Parse(text) : new TransportOptions().Timeout;

    /// <summary><c>500ms</c>, <c>30s</c>, <c>5m</c>, <c>1h</c>, or seconds.</summary>
    public static TimeSpan Parse(string text)
    {
        var m = System.Text.RegularExpressions.Regex.Match(text.Trim(), "^([0-9]+(?:\\.[0-9]+)?)(ms|s|m|h)?$", System.Text.RegularExpressions.RegexOptions.CultureInvariant);
        if (!m.Success || !double.TryParse(m.Groups[1].Value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double v))
            throw new UsageException($"--timeout {text}: want a duration such as 30s, 5m or 1h");
        var t = m.Groups[2].Value switch
        {
            "ms" => TimeSpan.FromMilliseconds(v),
            "m" => TimeSpan.FromMinutes(v),
            "h" => TimeSpan.FromHours(v),
            _ => TimeSpan.FromSeconds(v),
        };
        if (t <= TimeSpan.Zero || t > TimeSpan.FromDays(1))
            throw new UsageException($"--timeout {text}: want more than 0 and at most a day");
        return t;
    }
}

/// <summary>Sizes on the command line: <c>4G</c>, <c>4095M</c>, <c>4700MB</c>, <c>512KiB</c>, or bytes.</summary>
internal static class SizeOption
{
    /// <summary>K, M, G, T (and KiB, MiB, …) are powers of 1024, as coreutils' split has them; KB, MB, GB, TB powers of 1000.</summary>
    public static long Parse(string text, string option)
    {
        var m = System.Text.RegularExpressions.Regex.Match(text.Trim(), "^([0-9]+)\\s*([KMGT]?)(i?B)?$", System.Text.RegularExpressions.RegexOptions.CultureInvariant | System.Text.RegularExpressions.RegexOptions.IgnoreCase);
        if (!m.Success || !long.TryParse(m.Groups[1].Value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long n))
            throw new UsageException($"{option} {text}: want a size such as 4G, 4095M or 4700MB");
        string unit = m.Groups[2].Value.ToUpperInvariant();
        string suffix = m.Groups[3].Value;
        bool decimalUnit = suffix.Equals("B", StringComparison.OrdinalIgnoreCase) && unit.Length > 0;
        long factor = unit switch { "K" => 1, "M" => 2, "G" => 3, "T" => 4, _ => 0 } is int e and > 0
            ? (long)Math.Pow(decimalUnit ? 1000 : 1024, e)
            : 1;
        if (n <= 0 || n > long.MaxValue / factor)
            throw new UsageException($"{option} {text}: want a size above 0");
        return n * factor;
    }
}

/// <summary>The <c>--format</c> option of the verbs that write an archive.</summary>
internal static class FormatOption
{
    public static Option<string> Create(string description = "Output format when DEST is a plain path (default: portable)")
    {
        var format = new Option<string>("--format", "-f") { Description = description };
        format.AcceptOnlyFromAmong([.. Transports.Layout.LayoutFormat.All.Select(f => f.Name)]);
        return format;
    }

    /// <summary>The format a word of <c>--format</c> names.</summary>
    public static OutputFormat Parse(string word) =>
        Transports.Layout.LayoutFormat.Named(word)?.Format
        ?? throw new UsageException($"unknown format '{word}' (want {string.Join(", ", Transports.Layout.LayoutFormat.All.Select(f => f.Name))})");
}
