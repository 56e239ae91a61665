using System.CommandLine;
using Ferry.Cli.Rendering;
using Ferry.Sets;
using Ferry.Transports;

namespace Ferry.Cli.Commands;

/// <summary>
/// <c>ferry lock SET -o SET.lock</c>: every entry of a set resolved to digests (index and platform manifests), with the
/// tag lists seen; the lock's bytes are the same for the same content (docs/sets.md). A lock is complete or not written:
/// if any entry fails, each failure is named and nothing is written.
/// </summary>
internal static class LockCommand
{
    public static Command Create(CliIO io, Option<bool> debug)
    {
        var setFile = new Argument<string>("SET") { Description = "The set file (ferry.yaml, docs/sets.md)" };
        var output = new Option<string?>("--output", "-o") { Description = "Write the lock here (default: stdout)", HelpName = "FILE" };
        var parallel = new Option<int?>("--parallel") { Description = "Registry requests in flight at once (default 4)", HelpName = "N" };
        var json = new Option<bool>("--json") { Description = "Print a JSON summary (docs/json.md); the lock then needs -o" };
        var timeout = TimeoutOption.Create();
        var registry = new RegistryFlags(Side.Both);
        var cmd = new Command("lock", "Resolve a set file to digests: a lock that reproduces the same images later") { setFile, output, parallel, json, timeout };
        registry.AddTo(cmd);
        cmd.SetAction((parse, ct) => Guard.RunAsync(io, parse.GetValue(debug), async cancel =>
        {
            string path = parse.GetValue(setFile)!;
            string? outPath = parse.GetValue(output);
            bool asJson = parse.GetValue(json);
            if (asJson && outPath is null)
                throw new UsageException("--json prints a summary on stdout: write the lock with -o FILE");
            if (parse.GetValue(parallel) is < 1)
                throw new UsageException("--parallel must be 1 or more");
            if (!File.Exists(path))
                throw new UsageException($"{path}: no such file");
            var set = ImageSet.Load(path);
            var options = new TransportOptions { Registry = registry.Read(parse, Side.Both, io), Timeout = TimeoutOption.Read(parse, timeout) };
            using var catalog = new RegistryCatalog(options);
            var result = await ImageSetResolver.ResolveAsync(set, catalog, new ImageSetResolveOptions { Parallelism = parse.GetValue(parallel) ?? 4 }, cancel).ConfigureAwait(false);
            foreach (var r in result.Lock.Repositories)
                io.Message("ferry: " + Describe(r));
            foreach (var f in result.Failures)
                io.Message($"ferry: {f.Image}: {f.Step}: {f.Message}");
            if (result.Succeeded)
            {
                if (outPath is null)
                {
                    io.Out.Write(System.Text.Encoding.UTF8.GetString(result.Lock.ToBytes()));
                }
                else
                {
                    result.Lock.Save(outPath);
                    io.Message($"ferry: locked {result.Lock.Images.Count} image{(result.Lock.Images.Count == 1 ? "" : "s")} in {outPath}");
                }
            }
            if (asJson)
            {
                io.Out.WriteLine(JsonOut.Document(w =>
                {
                    w.WriteString("set", path);
                    if (result.Succeeded)
                        w.WriteString("lock", outPath);
                    else
                        w.WriteNull("lock");
                    w.WriteStartArray("images");
                    foreach (var i in result.Lock.Images)
                    {
                        w.WriteStartObject();
                        w.WriteString("name", i.Name.ToString());
                        w.WriteString("digest", i.Digest.ToString());
                        w.WriteString("source", i.SourceReference);
                        w.WriteEndObject();
                    }
                    w.WriteEndArray();
                    w.WriteStartArray("repositories");
                    foreach (var r in result.Lock.Repositories)
                    {
                        w.WriteStartObject();
                        w.WriteString("name", r.Repository.FullRepository);
                        w.WriteNumber("tags", r.Tags.Count);
                        w.WriteStartArray("selected");
                        foreach (var t in r.Selected)
                            w.WriteStringValue(t);
                        w.WriteEndArray();
                        w.WriteNumber("notSemver", r.NotSemver.Count);
                        w.WriteString("ordering", r.Ordering switch { TagOrdering.Semver => "semver", TagOrdering.Created => "created", _ => "none" });
                        w.WriteEndObject();
                    }
                    w.WriteEndArray();
                    w.WriteStartArray("failures");
                    foreach (var f in result.Failures)
                    {
                        w.WriteStartObject();
                        w.WriteString("image", f.Image);
                        w.WriteString("step", f.Step);
                        w.WriteString("error", f.Message);
                        w.WriteEndObject();
                    }
                    w.WriteEndArray();
                }));
            }
            if (!result.Succeeded)
            {
                io.Message($"ferry: {result.Failures.Count} of the set's entries did not resolve; no lock was written");
                return ExitCodes.Failure;
            }
            return ExitCodes.Ok;
        }, ct));
        return cmd;
    }

    /// <summary><c>registry.example.com/team/app: 3 of 17 tags (2 are not versions, skipped by semver; latest by version)</c>.</summary>
    internal static string Describe(LockedRepository r)
    {
        var notes = new List<string>();
        if (r.NotSemver.Count > 0)
            notes.Add($"{r.NotSemver.Count} {(r.NotSemver.Count == 1 ? "is not a version" : "are not versions")}, skipped by semver");
        if (r.Ordering != TagOrdering.None)
            notes.Add(r.Ordering == TagOrdering.Semver ? "latest by version" : "latest by the config's created time (the tags are not all versions)");
        return $"{r.Repository.FullRepository}: {r.Selected.Count} of {r.Tags.Count} tag{(r.Tags.Count == 1 ? "" : "s")}" + (notes.Count > 0 ? $" ({string.Join("; ", notes)})" : "");
    }
}
