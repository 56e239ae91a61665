using System.CommandLine;
using Ferry.Cli.Rendering;
using Ferry.Copy;
using Ferry.Transports;

namespace Ferry.Cli.Commands;

/// <summary><c>ferry load</c> and <c>ferry save</c>: the docker load/save that work with every format.</summary>
internal static class DaemonCommands
{
    public static Command Load(CliIO io, Option<bool> debug)
    {
        var source = new Argument<string>("ARCHIVE") { Description = "Archive to load (any format Ferry reads; '-' for stdin)", DefaultValueFactory = _ => "-" };
        var image = new Option<string[]>("--image", "-i") { Description = "Load only this image (name, @N, or ID prefix); repeatable" };
        var tag = new Option<string[]>("--tag", "-t") { Description = "Also give the (single) loaded image this name; repeatable" };
        var platform = new Option<string>("--platform") { Description = "OS/ARCH[/VARIANT] picked from multi-platform images" };
        var host = DaemonOptions.Host();
        var progress = new Option<string>("--progress") { Description = "auto, plain or none", DefaultValueFactory = _ => "auto" };
        progress.AcceptOnlyFromAmong("auto", "plain", "none");
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Print nothing but errors" };
        var cmd = new Command("load", "Load any archive into a Docker Engine (POST /images/load), converting it on the fly; zstd layers become gzip for docker before 23")
        {
            source, image, tag, platform, host, progress, quiet,
        };
        cmd.SetAction((parse, ct) => Task.FromResult(Guard.Run(io, parse.GetValue(debug), () =>
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, Program.Interrupt.Token);
            bool q = parse.GetValue(quiet);
            var options = new CopyOptions
            {
                Images = parse.GetValue(image) ?? [],
                Tags = parse.GetValue(tag) ?? [],
                Platform = parse.GetValue(platform) is string p ? Model.Platform.Parse(p) : null,
                DockerHost = parse.GetValue(host),
                Log = q ? null : m => io.Err.WriteLine("ferry: " + m),
            };
            var dst = ImageReference.Parse("docker-daemon:");
            var mode = q ? ProgressMode.None : parse.GetValue(progress) switch { "plain" => ProgressMode.Plain, "none" => ProgressMode.None, _ => ProgressMode.Auto };
            var result = ProgressRunner.Run(mode, io.Err, io.StderrIsTerminal,
                sink => CopyOperation.Run(ImageReference.Parse(parse.GetValue(source)!), dst, options with { Progress = sink }, io.Stdin, io.RawStdout, linked.Token));
            if (!q)
                CopyCommand.Report(io.Out, dst, result);
            return ExitCodes.Ok;
        })));
        return cmd;
    }

    public static Command Save(CliIO io, Option<bool> debug)
    {
        var names = new Argument<string[]>("NAME") { Description = "Images to save (names or IDs)", Arity = ArgumentArity.OneOrMore };
        var output = new Option<string>("--output", "-o") { Description = "Where to write ('-' for stdout)", Required = true };
        var format = new Option<string>("--format", "-f") { Description = "Output format (default: portable)" };
        format.AcceptOnlyFromAmong("portable", "docker-archive", "oci-archive", "oci");
        var compress = new Option<string>("--compress") { Description = "keep (default), gzip, zstd or none", DefaultValueFactory = _ => "keep" };
        compress.AcceptOnlyFromAmong("keep", "gzip", "zstd", "none");
        var host = DaemonOptions.Host();
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Print nothing but errors" };
        var cmd = new Command("save", "Save images from a Docker Engine (GET /images/get) in any format, portable by default, names and IDs kept")
        {
            names, output, format, compress, host, quiet,
        };
        cmd.SetAction((parse, ct) => Task.FromResult(Guard.Run(io, parse.GetValue(debug), () =>
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, Program.Interrupt.Token);
            bool q = parse.GetValue(quiet);
            var options = new CopyOptions
            {
                Format = parse.GetValue(format) is string f ? CopyOptions.ParseFormat(f) : null,
                Compress = CopyOptions.ParseCompress(parse.GetValue(compress) ?? "keep"),
                DockerHost = parse.GetValue(host),
                Log = q ? null : m => io.Err.WriteLine("ferry: " + m),
            };
            var src = ImageReference.Parse("docker-daemon:" + string.Join(",", parse.GetValue(names)!));
            var dst = ImageReference.Parse(parse.GetValue(output)!);
            var result = CopyOperation.Run(src, dst, options, io.Stdin, io.RawStdout, linked.Token);
            if (!q)
                CopyCommand.Report(dst.IsStdio ? io.Err : io.Out, dst, result);
            return ExitCodes.Ok;
        })));
        return cmd;
    }
}
