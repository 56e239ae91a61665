using System.CommandLine;
using Ferry.Cli.Rendering;
using Ferry.Copy;
using Ferry.Model;
using Ferry.Transports;
using Ferry.Transports.Registry;

namespace Ferry.Cli.Commands;

/// <summary>The options every command that talks to a registry takes.</summary>
internal sealed class RegistryFlags
{
    public Option<string> Creds { get; } = new("--creds") { Description = "USER:PASSWORD for the registry" };
    public Option<string> AuthFile { get; } = new("--authfile") { Description = "Auth file ({\"auths\":{HOST:{\"auth\":…}}}); default: $REGISTRY_AUTH_FILE, podman's auth.json, ~/.docker/config.json" };
    public Option<bool> Insecure { get; } = new("--insecure") { Description = "Allow plain HTTP and unverified TLS (always allowed for localhost/127.0.0.1)" };
    public Option<string> CaCert { get; } = new("--ca-cert") { Description = "PEM file of CA certificates to trust for the registry's TLS" };
    public Option<int?> ChunkMib { get; } = new("--chunk-size") { Description = "Upload blobs larger than this many MiB in chunks of that size (default 256)" };

    public void AddTo(Command c)
    {
        c.Options.Add(Creds);
        c.Options.Add(AuthFile);
        c.Options.Add(Insecure);
        c.Options.Add(CaCert);
        c.Options.Add(ChunkMib);
    }

    public RegistryOptions Read(ParseResult p) => new()
    {
        Credentials = p.GetValue(Creds),
        AuthFile = p.GetValue(AuthFile),
        Insecure = p.GetValue(Insecure),
        CaCertificate = p.GetValue(CaCert),
        ChunkSize = p.GetValue(ChunkMib) is int mib and > 0 ? mib * 1024L * 1024 : new RegistryOptions().ChunkSize,
    };
}

/// <summary><c>ferry pull</c> and <c>ferry push</c>: registries to one archive and back.</summary>
internal static class RegistryCommands
{
    public static Command Pull(CliIO io, Option<bool> debug)
    {
        var refs = new Argument<string[]>("REF") { Description = "Images to pull: [docker://]HOST[:PORT]/REPO[:TAG|@DIGEST]", Arity = ArgumentArity.OneOrMore };
        var output = new Option<string>("--output", "-o") { Description = "Archive to write ('-' for stdout)", Required = true };
        var format = new Option<string>("--format", "-f") { Description = "Output format (default: portable)" };
        format.AcceptOnlyFromAmong("portable", "docker-archive", "oci-archive", "oci");
        var platform = new Option<string>("--platform") { Description = "Pull only this OS/ARCH[/VARIANT] of multi-platform images (default: whole indexes)" };
        var json = new Option<bool>("--json") { Description = "Print a JSON summary" };
        var progress = new Option<string>("--progress") { Description = "auto, plain or none", DefaultValueFactory = _ => "auto" };
        progress.AcceptOnlyFromAmong("auto", "plain", "none");
        var flags = new RegistryFlags();
        var cmd = new Command("pull", "Pull images (all their tags, whole multi-platform indexes) from registries into one archive, layers shared stored once")
        {
            refs, output, format, platform, json, progress,
        };
        flags.AddTo(cmd);
        cmd.SetAction((parse, ct) => Task.FromResult(Guard.Run(io, parse.GetValue(debug), () =>
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, Program.Interrupt.Token);
            var registry = flags.Read(parse);
            var options = new CopyOptions
            {
                Format = parse.GetValue(format) is string f ? CopyOptions.ParseFormat(f) : null,
                Platform = parse.GetValue(platform) is string p ? Platform.Parse(p) : null,
                Registry = registry,
                Log = m => io.Err.WriteLine("ferry: " + m),
            };
            var dst = ImageReference.Parse(parse.GetValue(output)!);
            var mode = parse.GetValue(json) ? ProgressMode.None : parse.GetValue(progress) switch { "plain" => ProgressMode.Plain, "none" => ProgressMode.None, _ => ProgressMode.Auto };
            var result = ProgressRunner.Run(mode, io.Err, io.StderrIsTerminal, sink =>
            {
                using var src = RegistrySource.Open(parse.GetValue(refs)!, registry, options.Platform, linked.Token);
                return CopyOperation.RunFrom(src, dst, options with { Progress = sink }, io.RawStdout, linked.Token);
            });
            var w = dst.IsStdio ? io.Err : io.Out;
            if (parse.GetValue(json))
                w.WriteLine(System.Text.Encoding.UTF8.GetString(Json.Write(x =>
                {
                    x.WriteStartObject();
                    x.WriteString("output", dst.ToString());
                    x.WriteString("format", CopyOptions.FormatName(result.Format));
                    x.WriteStartArray("images");
                    foreach (var i in result.Images)
                    {
                        x.WriteStartObject();
                        x.WriteStartArray("names");
                        foreach (var n in i.Names)
                            x.WriteStringValue(n);
                        x.WriteEndArray();
                        x.WriteString("imageId", i.ImageId.ToString());
                        x.WriteString("digest", i.ManifestDigest?.ToString());
                        x.WriteEndObject();
                    }
                    x.WriteEndArray();
                    x.WriteEndObject();
                }, indented: true)));
            else
                CopyCommand.Report(w, dst, result);
            return ExitCodes.Ok;
        })));
        return cmd;
    }

    public static Command Push(CliIO io, Option<bool> debug)
    {
        var archive = new Argument<string>("ARCHIVE") { Description = "Archive (any format Ferry reads; '-' for stdin)" };
        var target = new Argument<string?>("REGISTRY") { Description = "HOST[:PORT][/PREFIX]: each image goes to its own repository path under it", Arity = ArgumentArity.ZeroOrOne };
        var image = new Option<string>("--image") { Description = "Push the one selected image to this docker://HOST/REPO:TAG instead" };
        var select = new Option<string[]>("--select") { Description = "Push only this image (name, @N, or ID prefix); repeatable" };
        var compress = new Option<string>("--compress") { Description = "keep (default: digests unchanged), gzip, zstd or none", DefaultValueFactory = _ => "keep" };
        compress.AcceptOnlyFromAmong("keep", "gzip", "zstd", "none");
        var json = new Option<bool>("--json") { Description = "Print a JSON summary" };
        var flags = new RegistryFlags();
        var cmd = new Command("push", "Push every image of an archive to a registry (re-rooted), skipping and mounting blobs it already has; digests unchanged")
        {
            archive, target, image, select, compress, json,
        };
        flags.AddTo(cmd);
        cmd.SetAction((parse, ct) => Task.FromResult(Guard.Run(io, parse.GetValue(debug), () =>
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, Program.Interrupt.Token);
            var options = new CopyOptions
            {
                Images = parse.GetValue(select) ?? [],
                Compress = CopyOptions.ParseCompress(parse.GetValue(compress) ?? "keep"),
                Log = m => io.Err.WriteLine("ferry: " + m),
            };
            using var src = ArchiveSource.Open(ImageReference.Parse(parse.GetValue(archive)!), io.Stdin);
            var pushed = RegistryPusher.Push(src, parse.GetValue(target), parse.GetValue(image), options, flags.Read(parse), linked.Token);
            if (parse.GetValue(json))
            {
                io.Out.WriteLine(System.Text.Encoding.UTF8.GetString(Json.Write(x =>
                {
                    x.WriteStartArray();
                    foreach (var p in pushed)
                    {
                        x.WriteStartObject();
                        x.WriteString("reference", p.Reference);
                        x.WriteString("digest", p.Digest.ToString());
                        x.WriteNumber("uploaded", p.Uploaded);
                        x.WriteNumber("mounted", p.Mounted);
                        x.WriteNumber("existed", p.Existed);
                        x.WriteEndObject();
                    }
                    x.WriteEndArray();
                }, indented: true)));
            }
            else
            {
                foreach (var p in pushed)
                    io.Out.WriteLine($"Pushed {p.Reference}@{p.Digest} ({p.Uploaded} blobs uploaded, {p.Mounted} mounted, {p.Existed} already there)");
            }
            return ExitCodes.Ok;
        })));
        return cmd;
    }
}
