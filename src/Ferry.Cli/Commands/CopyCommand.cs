using System.CommandLine;
using Ferry.Copy;

namespace Ferry.Cli.Commands;

internal static class CopyCommand
{
    public static Command Create(CliIO io, Option<bool> debug)
    {
        var source = new Argument<string>("SOURCE") { Description = "What to read: a path (format sniffed), '-' for stdin, docker-archive:PATH[:NAME], oci-archive:PATH[:NAME], oci:DIR[:NAME], docker-daemon:NAME, docker://HOST/REPO[:TAG|@DIGEST]" };
        var dest = new Argument<string>("DEST") { Description = "Where to write: a path, '-' for stdout, docker-archive:PATH[:NAME], oci-archive:PATH[:NAME], oci:DIR[:NAME], docker-daemon:[NAME], docker://HOST/REPO[:TAG] or docker://HOST/[PREFIX/] (NAME renames the one image)" };
        var format = FormatOption.Create();
        var flags = new CopyFlags(Side.Both, Side.Source, Side.Destination);
        var cmd = new Command("copy", "Copy images between archives, layouts, the Docker daemon and registries (a path is written as portable), keeping image IDs, digests and names")
        {
            source, dest, format,
        };
        flags.AddTo(cmd);
        cmd.Aliases.Add("convert");
        cmd.SetAction((parse, ct) => Guard.RunAsync(io, parse.GetValue(debug), async cancel =>
        {
            bool quiet = parse.GetValue(flags.Quiet);
            var src = References.Parse(parse.GetValue(source)!, io, quiet);
            io.RefuseTerminal(src);
            var dst = References.Parse(parse.GetValue(dest)!, io, quiet);
            var options = flags.Read(parse, io, parse.GetValue(format));
            return await flags.RunAsync(parse, io, options, (o, c) => ImageCopier.CopyAsync(src, dst, o, c), dst.IsStdio, cancel, dst).ConfigureAwait(false);
        }, ct));
        return cmd;
    }
}
