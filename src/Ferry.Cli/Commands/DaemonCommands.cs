using System.CommandLine;
using Ferry.Copy;
using Ferry.Transports;

namespace Ferry.Cli.Commands;

/// <summary><c>ferry load</c> and <c>ferry save</c>: the docker load/save that work with every format, as copies to and from <c>docker-daemon:</c>.</summary>
internal static class DaemonCommands
{
    public static Command Load(CliIO io, Option<bool> debug)
    {
        var source = new Argument<string>("ARCHIVE") { Description = "What to load: any SOURCE of copy (an archive in any format Ferry reads, '-' for stdin, oci:DIR, docker://…)", DefaultValueFactory = _ => "-" };
        var flags = new CopyFlags();
        var cmd = new Command("load", "Load images into a Docker Engine (POST /images/load), converting on the fly: names, IDs and (in the containerd image store) manifest digests kept") { source };
        flags.AddTo(cmd, writesArchives: false);
        cmd.SetAction((parse, ct) => Guard.RunAsync(io, parse.GetValue(debug), async cancel =>
        {
            var src = References.Parse(parse.GetValue(source)!, io, parse.GetValue(flags.Quiet));
            io.RefuseTerminal(src);
            var dst = TransportRegistry.Default.Parse("docker-daemon:");
            var options = flags.Read(parse, io);
            return await flags.RunAsync(parse, io, options, (o, c) => ImageCopier.CopyAsync(src, dst, o, c), toStdout: false, cancel).ConfigureAwait(false);
        }, ct));
        return cmd;
    }

    public static Command Save(CliIO io, Option<bool> debug)
    {
        var names = new Argument<string[]>("NAME") { Description = "Images to save (names or IDs)", Arity = ArgumentArity.OneOrMore };
        var output = new Option<string>("--output", "-o") { Description = "Where to write: a path ('-' for stdout) or any DEST of copy", Required = true };
        var format = FormatOption.Create("Output format (default: portable)");
        var flags = new CopyFlags();
        var cmd = new Command("save", "Save images from a Docker Engine (GET /images/get) in any format, portable by default, names and IDs kept") { names, output, format };
        flags.AddTo(cmd);
        cmd.SetAction((parse, ct) => Guard.RunAsync(io, parse.GetValue(debug), async cancel =>
        {
            var src = TransportRegistry.Default.Parse("docker-daemon:" + string.Join(",", parse.GetValue(names)!));
            var dst = References.Parse(parse.GetValue(output)!, io, parse.GetValue(flags.Quiet));
            var options = flags.Read(parse, io, parse.GetValue(format));
            return await flags.RunAsync(parse, io, options, (o, c) => ImageCopier.CopyAsync(src, dst, o, c), dst.IsStdio, cancel, dst).ConfigureAwait(false);
        }, ct));
        return cmd;
    }
}
