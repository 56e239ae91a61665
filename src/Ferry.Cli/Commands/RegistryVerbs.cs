using System.CommandLine;
using Ferry.Cli.Rendering;
using Ferry.Transports;
using Ferry.Transports.Registry;

namespace Ferry.Cli.Commands;

/// <summary>
/// <c>ferry tags</c>, <c>ferry digest</c>, <c>ferry manifest</c>, <c>ferry delete</c>: what skopeo's <c>list-tags</c> and
/// crane's <c>digest</c>/<c>manifest</c>/<c>delete</c> do, with the registry options of every other command.
/// </summary>
internal static class RegistryVerbs
{
    public static Command Tags(CliIO io, Option<bool> debug) => Verb(io, debug, "tags", "REPO", "[docker://]HOST[:PORT]/REPO",
        "List the tags of a repository (every page), one per line", async (reference, options, json, cancel) =>
        {
            // A tag or digest names an image, not a repository: listed is the repository's, and that is said.
            var given = Model.ImageName.Parse(reference.StartsWith("docker://", StringComparison.Ordinal) ? reference["docker://".Length..] : reference);
            if (given.Tag is not null || given.Digest is not null)
                io.Message($"ferry: note: {reference}: the tags of repository {given.FullRepository} are listed; {(given.Digest is not null ? $"the digest {given.Digest}" : $"the tag '{given.Tag}'")} is ignored");
            var tags = await RegistryOperations.ListTagsAsync(reference, options, cancel).ConfigureAwait(false);
            if (json)
            {
                io.Out.WriteLine(JsonOut.Document(w =>
                {
                    w.WriteString("repository", "docker://" + RegistryReference.Parse(reference).Name.FullRepository);
                    w.WriteStartArray("tags");
                    foreach (var t in tags)
                        w.WriteStringValue(t);
                    w.WriteEndArray();
                }));
            }
            else
            {
                foreach (var t in tags)
                    io.Out.WriteLine(t);
            }
        });

    public static Command Digest(CliIO io, Option<bool> debug) => Verb(io, debug, "digest", "REF", "[docker://]HOST[:PORT]/REPO[:TAG|@DIGEST] (default tag: latest)",
        "Print the digest of an image's manifest or index (what docker pull NAME@DIGEST pins)", async (reference, options, json, cancel) =>
        {
            var m = await RegistryOperations.GetManifestAsync(reference, options, cancel).ConfigureAwait(false);
            io.Out.WriteLine(json ? Describe(m, withManifest: false) : m.Digest.ToString());
        });

    public static Command Manifest(CliIO io, Option<bool> debug) => Verb(io, debug, "manifest", "REF", "[docker://]HOST[:PORT]/REPO[:TAG|@DIGEST] (default tag: latest)",
        "Print an image's manifest or index exactly as the registry holds it (the bytes its digest is of)", async (reference, options, json, cancel) =>
        {
            var m = await RegistryOperations.GetManifestAsync(reference, options, cancel).ConfigureAwait(false);
            if (json)
            {
                io.Out.WriteLine(Describe(m, withManifest: true));
                return;
            }
            // The bytes as they are (the digest is of them), not re-encoded text.
            if (io.RawStdout is not null || ReferenceEquals(io.Out, Console.Out))
            {
                io.Out.Flush();
                var s = (io.RawStdout ?? Console.OpenStandardOutput)();
                await s.WriteAsync(m.Bytes, cancel).ConfigureAwait(false);
                await s.FlushAsync(cancel).ConfigureAwait(false);
            }
            else
            {
                io.Out.Write(System.Text.Encoding.UTF8.GetString(m.Bytes));
            }
        });

    public static Command Delete(CliIO io, Option<bool> debug) => Verb(io, debug, "delete", "REF", "[docker://]HOST[:PORT]/REPO[:TAG|@DIGEST]: a tag is resolved to its digest, and the manifest deleted (with every tag of it)",
        "Delete an image's manifest from a registry (registries delete by digest: its other tags go too)", async (reference, options, json, cancel) =>
        {
            var digest = await RegistryOperations.DeleteAsync(reference, options, cancel).ConfigureAwait(false);
            var name = RegistryReference.Parse(reference).Name;
            if (json)
            {
                io.Out.WriteLine(JsonOut.Document(w =>
                {
                    w.WriteString("reference", "docker://" + name);
                    w.WriteString("deleted", $"docker://{name.FullRepository}@{digest}");
                    w.WriteString("digest", digest.ToString());
                }));
            }
            else
            {
                io.Err.WriteLine($"Deleted {name.FullRepository}@{digest}");
            }
        });

    private static string Describe(RegistryManifest m, bool withManifest) => JsonOut.Document(w =>
    {
        w.WriteString("reference", m.Reference);
        w.WriteString("mediaType", m.MediaType);
        w.WriteString("digest", m.Digest.ToString());
        w.WriteNumber("size", m.Bytes.LongLength);
        if (withManifest)
        {
            w.WritePropertyName("manifest");
            using var doc = System.Text.Json.JsonDocument.Parse(m.Bytes);
            doc.RootElement.WriteTo(w);
        }
    });

    private static Command Verb(CliIO io, Option<bool> debug, string name, string argument, string argumentHelp, string description,
        Func<string, TransportOptions, bool, CancellationToken, Task> body)
    {
        var reference = new Argument<string>(argument) { Description = argumentHelp };
        var json = new Option<bool>("--json") { Description = "Print JSON (docs/json.md)" };
        var timeout = TimeoutOption.Create();
        var registry = new RegistryFlags(Side.Both);
        var cmd = new Command(name, description) { reference, json, timeout };
        registry.AddTo(cmd);
        cmd.SetAction((parse, ct) => Guard.RunAsync(io, parse.GetValue(debug), async cancel =>
        {
            var options = new TransportOptions { Registry = registry.Read(parse, Side.Both, io), Timeout = TimeoutOption.Read(parse, timeout) };
            await body(parse.GetValue(reference)!, options, parse.GetValue(json), cancel).ConfigureAwait(false);
            return ExitCodes.Ok;
        }, ct));
        return cmd;
    }
}
