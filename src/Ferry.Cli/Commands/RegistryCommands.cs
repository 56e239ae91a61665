using System.CommandLine;
using Ferry.Copy;
using Ferry.Transports;
using Ferry.Transports.Registry;

namespace Ferry.Cli.Commands;

/// <summary><c>ferry pull</c> and <c>ferry push</c>: registries to one archive and back, as copies.</summary>
internal static class RegistryCommands
{
    public static Command Pull(CliIO io, Option<bool> debug)
    {
        var refs = new Argument<string[]>("REF") { Description = "Images to pull: [docker://]HOST[:PORT]/REPO[:TAG|@DIGEST]", Arity = ArgumentArity.OneOrMore };
        var output = new Option<string>("--output", "-o") { Description = "Where to write: a path ('-' for stdout) or any DEST of copy", Required = true };
        var format = FormatOption.Create("Output format (default: portable)");
        var flags = new CopyFlags();
        var cmd = new Command("pull", "Pull images (all their tags, whole multi-platform indexes unless --platform) from registries into one archive, shared layers stored once")
        {
            refs, output, format,
        };
        flags.AddTo(cmd);
        cmd.SetAction((parse, ct) => Guard.RunAsync(io, parse.GetValue(debug), async cancel =>
        {
            var references = parse.GetValue(refs)!.Select(t => (ImageReference)RegistryReference.Parse(t)).ToList();
            var dst = References.Parse(parse.GetValue(output)!, io, parse.GetValue(flags.Quiet));
            var options = flags.Read(parse, io, parse.GetValue(format));
            return await flags.RunAsync(parse, io, options, (o, c) => ImageCopier.CopyAsync(references, dst, o, c), dst.IsStdio, cancel, dst).ConfigureAwait(false);
        }, ct));
        return cmd;
    }

    public static Command Push(CliIO io, Option<bool> debug)
    {
        var archive = new Argument<string>("ARCHIVE") { Description = "What to push: any SOURCE of copy (an archive in any format Ferry reads, '-' for stdin, oci:DIR, …)" };
        var target = new Argument<string>("REGISTRY") { Description = "HOST[:PORT][/PREFIX]: each image goes to its own repository path under it; or [docker://]HOST/REPO:TAG for one image" };
        var flags = new CopyFlags();
        var cmd = new Command("push", "Push every image of an archive to a registry (re-rooted), skipping and mounting blobs it already has; digests unchanged")
        {
            archive, target,
        };
        flags.AddTo(cmd, host: false, writesArchives: false);
        cmd.SetAction((parse, ct) => Guard.RunAsync(io, parse.GetValue(debug), async cancel =>
        {
            var src = References.Parse(parse.GetValue(archive)!, io, parse.GetValue(flags.Quiet));
            io.RefuseTerminal(src);
            string t = parse.GetValue(target)!;
            // HOST/REPO:TAG (or @DIGEST) names one image, with or without docker://; HOST[/PREFIX] a place for all.
            string last = t[(t.LastIndexOf('/') + 1)..];
            bool one = !t.EndsWith('/') && (t.StartsWith("docker://", StringComparison.Ordinal) || (t.Contains('/', StringComparison.Ordinal) && (last.Contains(':', StringComparison.Ordinal) || last.Contains('@', StringComparison.Ordinal))));
            ImageReference dst = one ? RegistryReference.Parse(t) : RegistryPrefixReference.Parse(t);
            var options = flags.Read(parse, io);
            return await flags.RunAsync(parse, io, options, (o, c) => ImageCopier.CopyAsync(src, dst, o, c), toStdout: false, cancel).ConfigureAwait(false);
        }, ct));
        return cmd;
    }
}
