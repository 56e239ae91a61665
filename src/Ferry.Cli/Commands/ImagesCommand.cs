using System.CommandLine;
using System.Text;
using Ferry.Cli.Rendering;
using Ferry.Sets;

namespace Ferry.Cli.Commands;

/// <summary>
/// <c>ferry images FILE|DIR|-…</c>: the container images of Kubernetes manifests (<c>helm template … | ferry images -</c>
/// for a chart), one full name a line, or as a set file with <c>--set</c> (docs/sets.md).
/// </summary>
internal static class ImagesCommand
{
    public static Command Create(CliIO io, Option<bool> debug)
    {
        var inputs = new Argument<string[]>("FILE") { Description = "Kubernetes manifests: YAML or JSON files, directories (every .yaml, .yml, .json under them), or - for stdin", Arity = ArgumentArity.OneOrMore };
        var json = new Option<bool>("--json") { Description = "Print JSON (docs/json.md)" };
        var set = new Option<string?>("--set") { Description = "Also write the images as a set file (ferry.yaml, docs/sets.md)", HelpName = "FILE" };
        var cmd = new Command("images", "List the container images of Kubernetes manifests (every container, init and ephemeral container of every workload)") { inputs, json, set };
        cmd.SetAction((parse, ct) => Guard.RunAsync(io, parse.GetValue(debug), async cancel =>
        {
            var scans = new List<ManifestScan>();
            foreach (var input in parse.GetValue(inputs)!)
            {
                cancel.ThrowIfCancellationRequested();
                if (input == "-")
                {
                    await using var stdin = (io.Stdin ?? Console.OpenStandardInput)();
                    using var reader = new StreamReader(stdin, Encoding.UTF8);
                    scans.Add(KubernetesImages.Scan(await reader.ReadToEndAsync(cancel).ConfigureAwait(false), "-"));
                }
                else if (File.Exists(input) || Directory.Exists(input))
                    scans.Add(KubernetesImages.ScanPath(input));
                else
                    throw new UsageException($"{input}: no such file or directory");
            }
            var scan = ManifestScan.Combine(scans);
            foreach (var s in scan.Skipped)
                io.Message($"ferry: skipped {s.File}{(s.Line > 0 ? ":" + s.Line : "")}: {s.Reason}");
            var images = scan.Distinct;
            if (parse.GetValue(set) is { } setFile)
            {
                if (images.Count == 0)
                    throw new UsageException($"--set {setFile}: no image found, so no set to write");
                WriteAtomically(setFile, scan.ToSet().ToYaml());
                io.Message($"ferry: wrote {images.Count} image{(images.Count == 1 ? "" : "s")} to {setFile}");
            }
            if (parse.GetValue(json))
            {
                io.Out.WriteLine(JsonOut.Document(w =>
                {
                    w.WriteNumber("documents", scan.Documents);
                    w.WriteStartArray("images");
                    foreach (var name in images)
                    {
                        w.WriteStartObject();
                        w.WriteString("name", name.ToString());
                        w.WriteStartArray("found");
                        foreach (var i in scan.Images.Where(i => i.Name == name))
                        {
                            w.WriteStartObject();
                            w.WriteString("file", i.File);
                            w.WriteNumber("line", i.Line);
                            w.WriteString("kind", i.Kind);
                            w.WriteString("object", i.Object);
                            w.WriteString("container", i.Container);
                            w.WriteString("field", i.Field);
                            w.WriteString("written", i.Written);
                            w.WriteEndObject();
                        }
                        w.WriteEndArray();
                        w.WriteEndObject();
                    }
                    w.WriteEndArray();
                    w.WriteStartArray("skipped");
                    foreach (var s in scan.Skipped)
                    {
                        w.WriteStartObject();
                        w.WriteString("file", s.File);
                        w.WriteNumber("line", s.Line);
                        w.WriteString("reason", s.Reason);
                        w.WriteEndObject();
                    }
                    w.WriteEndArray();
                }));
            }
            else
            {
                foreach (var name in images)
                    io.Out.WriteLine(name.ToString());
                if (images.Count == 0)
                    io.Message($"ferry: no container image in {scan.Documents} document{(scan.Documents == 1 ? "" : "s")}");
            }
            return ExitCodes.Ok;
        }, ct));
        return cmd;
    }

    /// <summary>Writes a small text file through a temp file beside it, renamed into place.</summary>
    internal static void WriteAtomically(string path, string text)
    {
        string full = Path.GetFullPath(path);
        string temp = Path.Combine(Path.GetDirectoryName(full)!, "." + Path.GetFileName(full) + ".ferry-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            File.WriteAllText(temp, text, new UTF8Encoding(false));
            File.Move(temp, full, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            File.Delete(temp);
            throw new OutputException($"{path}: {e.Message}");
        }
    }
}
