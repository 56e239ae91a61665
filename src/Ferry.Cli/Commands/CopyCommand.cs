using System.CommandLine;
using Ferry.Cli.Rendering;
using Ferry.Copy;
using Ferry.Model;
using Ferry.Transports;

namespace Ferry.Cli.Commands;

internal static class CopyCommand
{
    public static Command Create(CliIO io, Option<bool> debug)
    {
        var source = new Argument<string>("SOURCE") { Description = "Archive or layout to read: a path (format sniffed), '-' for stdin, or docker-archive:PATH[:NAME], oci-archive:PATH[:NAME], oci:DIR[:NAME]" };
        var dest = new Argument<string>("DEST") { Description = "Where to write: a path, '-' for stdout, or docker-archive:PATH[:NAME], oci-archive:PATH[:NAME], oci:DIR[:NAME] (NAME renames the image)" };
        var format = new Option<string>("--format", "-f") { Description = "Output format when DEST is a plain path (default: portable)" };
        format.AcceptOnlyFromAmong("portable", "docker-archive", "oci-archive", "oci");
        var image = new Option<string[]>("--image", "-i") { Description = "Copy only this image (name, @N, or image ID prefix); repeatable; default: all" };
        var tag = new Option<string[]>("--tag", "-t") { Description = "Give the (single) copied image this name as well; repeatable" };
        var compress = new Option<string>("--compress") { Description = "Layer compression: keep (default; zstd becomes gzip for docker-loadable outputs), gzip, zstd, none", DefaultValueFactory = _ => "keep" };
        compress.AcceptOnlyFromAmong("keep", "gzip", "zstd", "none");
        var level = new Option<int?>("--compress-level") { Description = "Level for layers Ferry compresses: gzip 1-9 (default 3), zstd 1-19 (default 3)" };
        level.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int?>() is int l && (l < 1 || l > 19))
                r.AddError("--compress-level must be between 1 and 19");
        });
        var platform = new Option<string>("--platform") { Description = "OS/ARCH[/VARIANT] picked from multi-platform images for docker's manifest.json (default: this machine's)" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Print nothing but errors" };
        var host = DaemonOptions.Host();
        var progress = new Option<string>("--progress") { Description = "Progress display: auto (bars on a terminal, nothing otherwise), plain (periodic lines on stderr), none", DefaultValueFactory = _ => "auto" };
        progress.AcceptOnlyFromAmong("auto", "plain", "none");
        var cmd = new Command("copy", "Convert an archive to another format (portable by default), keeping image IDs and names")
        {
            source, dest, format, image, tag, compress, level, platform, quiet, progress, host,
        };
        var registry = new RegistryFlags();
        registry.AddTo(cmd);
        cmd.Aliases.Add("convert");
        cmd.SetAction((parse, ct) => Task.FromResult(Guard.Run(io, parse.GetValue(debug), () =>
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, Program.Interrupt.Token);
            var cancel = linked.Token;
            var src = ImageReference.Parse(parse.GetValue(source)!);
            var dst = ImageReference.Parse(parse.GetValue(dest)!);
            bool q = parse.GetValue(quiet);
            var options = new CopyOptions
            {
                Format = parse.GetValue(format) is string f ? CopyOptions.ParseFormat(f) : null,
                Compress = CopyOptions.ParseCompress(parse.GetValue(compress) ?? "keep"),
                CompressionLevel = parse.GetValue(level),
                Images = parse.GetValue(image) ?? [],
                Tags = parse.GetValue(tag) ?? [],
                Platform = parse.GetValue(platform) is string p ? Platform.Parse(p) : null,
                Log = q ? null : m => io.Err.WriteLine("ferry: " + m),
                DockerHost = parse.GetValue(host),
                Registry = registry.Read(parse),
            };
            var mode = q ? ProgressMode.None : parse.GetValue(progress) switch { "plain" => ProgressMode.Plain, "none" => ProgressMode.None, _ => ProgressMode.Auto };
            var result = ProgressRunner.Run(mode, io.Err, io.StderrIsTerminal,
                sink => CopyOperation.Run(src, dst, options with { Progress = sink }, io.Stdin, io.RawStdout, cancel));
            if (!q)
                Report(dst.IsStdio ? io.Err : io.Out, dst, result);
            return ExitCodes.Ok;
        })));
        return cmd;
    }

    internal static void Report(TextWriter w, ImageReference dst, CopyResult result)
    {
        if (dst.IsRegistry)
        {
            foreach (var p in result.Pushed)
                w.WriteLine($"Pushed {p.Reference}@{p.Digest} ({p.Uploaded} blobs uploaded, {p.Mounted} mounted, {p.Existed} already there)");
            return;
        }
        if (dst.IsDaemon)
        {
            foreach (var l in result.Loaded)
                w.WriteLine(l.StartsWith("sha256:", StringComparison.Ordinal) ? "Loaded image ID: " + l : "Loaded image: " + l);
            return;
        }
        var images = result.Images;
        w.WriteLine($"Copied {images.Count} image{(images.Count == 1 ? "" : "s")} from {result.Source.Name} ({result.Source.Format}) to {(dst.IsStdio ? "stdout" : dst.Path)} ({CopyOptions.FormatName(result.Format)})");
        foreach (var i in images)
            w.WriteLine($"  {i.ImageId}  {(i.Names.Count == 0 ? "<untagged>" : string.Join(", ", i.Names))}");
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
