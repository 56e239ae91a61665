using System.CommandLine;
using Ferry.Compression;
using Ferry.Images;
using Ferry.Inspect;
using Ferry.Transports;

namespace Ferry.Cli.Commands;

internal static class InspectCommand
{
    public static Command Create(CliIO io, Option<bool> debug)
    {
        var source = new Argument<string>("SOURCE") { Description = "What to describe: any SOURCE of copy (path, '-', transport:PATH[:NAME], docker-daemon:NAME, docker://HOST/REPO[:TAG])" };
        var json = new Option<bool>("--json") { Description = "Print stable JSON instead of text (docs/json.md)" };
        var details = new Option<bool>("--details", "-v") { Description = "After the overview, every image's config, history, layers and referrers" };
        var host = DaemonOptions.Host();
        var timeout = TimeoutOption.Create();
        var registry = new RegistryFlags(Side.Both);
        var bases = new Option<string[]>("--base") { Description = "An archive that carried layers the (incremental) source leaves out; repeatable" };
        var cmd = new Command("inspect", "Show the images of a source: one line each (name, ID, platform, size, layers, created); --details for config, history and layers") { source, json, details, host, timeout };
        registry.AddTo(cmd);
        cmd.Options.Add(bases);
        cmd.SetAction((parse, ct) => Guard.RunAsync(io, parse.GetValue(debug), async cancel =>
        {
            var reference = References.Parse(parse.GetValue(source)!, io);
            io.RefuseTerminal(reference);
            var options = new TransportOptions { Registry = registry.Read(parse, Side.Source, io), Daemon = new Transports.DaemonOptions { Host = parse.GetValue(host) }, Archive = new ArchiveOptions { Stdin = io.ArchiveStdin, Bases = parse.GetValue(bases) ?? [] }, Timeout = TimeoutOption.Read(parse, timeout), Log = m => io.Message("ferry: " + m) };
            await using var src = await reference.Transport.OpenSourceAsync(reference, options, cancel).ConfigureAwait(false);
            if (parse.GetValue(json))
            {
                io.Out.WriteLine(System.Text.Encoding.UTF8.GetString(ImageInspector.ToJson(src)));
                return ExitCodes.Ok;
            }
            Overview(io.Out, src, Tty.StdoutColumns(io.Out));
            if (parse.GetValue(details))
                Render(io.Out, src);
            foreach (var w in src.Warnings)
                io.Err.WriteLine("ferry: warning: " + w);
            return ExitCodes.Ok;
        }, ct));
        return cmd;
    }

    /// <summary>
    /// The source in one line, then one line per image (per platform of an index), as <c>docker images</c> lists them:
    /// NAME, IMAGE ID (12 digits), PLATFORM, SIZE, LAYERS, CREATED. Written to a pipe or a file (null
    /// <paramref name="columns"/>) nothing is cut: scripts grep it, and <c>docker images</c> and <c>podman images</c> never
    /// cut names either. On a terminal the lines fit its width: a name too long for the room left is cut in the middle,
    /// keeping its start and, whole, its repository's last component and its tag.
    /// </summary>
    internal static void Overview(TextWriter o, IImageSource src, int? columns)
    {
        o.WriteLine($"{src.DisplayName}: {src.Format}{(src.ArchiveCompression == CompressionKind.None ? "" : $" ({src.ArchiveCompression.ToString().ToLowerInvariant()}-compressed)")}, {src.Images.Count} image{(src.Images.Count == 1 ? "" : "s")}");
        if (src.Incremental is { } inc)
            o.WriteLine($"incremental: leaves out {inc.Blobs.Count} layer{(inc.Blobs.Count == 1 ? "" : "s")} shipped in {string.Join(", ", inc.Archives)} (read it with --base)");
        if (src.Images.Count == 0)
            return;
        var rows = new List<(string Name, string More, string Id, string Platform, string Size, string Layers, string Created)>();
        foreach (var image in src.Images)
        {
            var names = image.Names.Select(x => x.Familiar).Concat(image.RefNames).ToList();
            string name = names.Count == 0 ? "<none>" : names[0];
            string more = names.Count > 1 ? $" (+{names.Count - 1})" : "";
            if (image.Root is ArtifactNode art)
            {
                rows.Add((name, more, art.Manifest.Digest.Short, "(artifact)", Size(art.Blobs.Sum(b => b.Descriptor.Size)), (art.Blobs.Count - 1).ToString(System.Globalization.CultureInfo.InvariantCulture), "-"));
                continue;
            }
            foreach (var c in ImageWalk.Nodes(image.Root).OfType<OpaqueNode>().Where(c => c.IsAbsentManifest))
                rows.Add((name, more, "(absent)", c.Descriptor?.Platform?.ToString() ?? "?", "-", "-", "-"));
            foreach (var node in image.Images().Where(n => !NamedImage.IsAttestation(n)))
            {
                var img = node.Image;
                rows.Add((name, more, img.ImageId.Short, NamedImage.PlatformOf(node)?.ToString() ?? "-", Size(img.Layers.Sum(l => l.Descriptor.Size)),
                    img.Layers.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), Created(img.Config.Created)));
            }
        }
        // IMAGE ID 12, SIZE 10, LAYERS 6, CREATED 10 and five 2-space gaps: 48 columns besides NAME and PLATFORM.
        int platformWidth = Math.Max("PLATFORM".Length, rows.Max(r => r.Platform.Length));
        int nameWidth = Math.Max("NAME".Length, rows.Max(r => r.Name.Length + r.More.Length));
        if (columns is int width)
        {
            platformWidth = Math.Min(platformWidth, Math.Max(13, width - 48 - nameWidth));
            nameWidth = Math.Min(nameWidth, Math.Max(19, width - 48 - platformWidth));
        }
        o.WriteLine();
        o.WriteLine(Row("NAME", "IMAGE ID", "PLATFORM", "SIZE", "LAYERS", "CREATED"));
        foreach (var r in rows)
            o.WriteLine(Row(Fit(r.Name, nameWidth - r.More.Length) + r.More, r.Id, Cut(r.Platform, platformWidth), r.Size, r.Layers, r.Created));

        string Row(string name, string id, string platform, string size, string layers, string created) =>
            $"{name.PadRight(nameWidth)}  {id,-12}  {platform.PadRight(platformWidth)}  {size,10}  {layers,6}  {created}".TrimEnd();
    }

    /// <summary>
    /// A name within <paramref name="max"/> columns, cut in the middle: its start, then <c>…</c>, then its repository's
    /// last component with its tag, whole (<c>127.0…/hello:latest</c>); a digest is shortened to 12 digits first
    /// (<c>base@sha256:1a2b3c4d5e6f…</c>). The last component and the tag are never cut: a name that has no room
    /// for them takes more than <paramref name="max"/>.
    /// </summary>
    internal static string Fit(string s, int max)
    {
        if (s.Length <= max)
            return s;
        int slash = s.LastIndexOf('/', s.IndexOf('@', StringComparison.Ordinal) is int at and >= 0 ? at : s.Length - 1);
        string head = slash < 0 ? "" : s[..slash];
        string last = slash < 0 ? s : s[(slash + 1)..];
        if (last.IndexOf("@sha256:", StringComparison.Ordinal) is int pin and >= 0 && last.Length > pin + 8 + 12)
            last = last[..(pin + 8 + 12)] + "…";
        if (head.Length == 0)
            return last;
        string tail = "/" + last;
        if (head.Length + tail.Length <= max)
            return head + tail;
        int keep = max - tail.Length - 1;
        return keep > 0 ? head[..keep] + "…" + tail : "…" + tail;
    }

    /// <summary>The date of an RFC 3339 time (<c>2024-01-01</c>), or "-".</summary>
    private static string Created(string? created) => created is { Length: >= 10 } c && c[4] == '-' ? c[..10] : "-";

    private static void Render(TextWriter o, IImageSource src)
    {
        int n = 0;
        foreach (var image in src.Images)
        {
            o.WriteLine();
            o.WriteLine($"[{n++}] {(image.Names.Count + image.RefNames.Count == 0 ? "<untagged>" : string.Join(", ", image.Names.Select(x => x.Familiar).Concat(image.RefNames)))}");
            if (image.Root is IndexNode idx)
            {
                o.WriteLine($"    index         {idx.Index.Digest} ({idx.Index.MediaType}, {idx.Children.Count} entries)");
                // Attestation manifests (platform unknown/unknown) are not platforms: they are counted, and shown with their image.
                bool Attestation(ManifestNode c) => c is ImageNode an ? NamedImage.IsAttestation(an)
                    : c.Descriptor?.Annotations?.GetValueOrDefault(Model.MediaTypes.DockerReferenceTypeAnnotation) == Model.MediaTypes.AttestationManifestType;
                var platforms = idx.Children.Where(c => !Attestation(c)).Select(c => (c.Descriptor?.Platform?.ToString() ?? (c is ImageNode pn ? NamedImage.PlatformOf(pn)?.ToString() : null) ?? "?")
                    + (c is OpaqueNode { Blob: null } ? " (absent)" : "")).ToList();
                int attestations = idx.Children.Count(Attestation);
                o.WriteLine($"    platforms     {string.Join(", ", platforms)}{(attestations > 0 ? $" (+{attestations} attestation{(attestations == 1 ? "" : "s")})" : "")}");
            }
            if (image.Root is ArtifactNode art)
            {
                o.WriteLine($"    artifact      {art.Manifest.Digest} ({art.Type}), {art.Blobs.Count - 1} layer{(art.Blobs.Count == 2 ? "" : "s")}, {Size(art.Blobs.Sum(b => b.Descriptor.Size))}");
            }
            foreach (var node in image.Images())
            {
                var img = node.Image;
                var c = img.Config;
                if (NamedImage.IsAttestation(node))
                {
                    string? of = node.Descriptor?.Annotations?.GetValueOrDefault(Model.MediaTypes.DockerReferenceDigestAnnotation);
                    o.WriteLine($"    attestation   {img.Manifest?.Digest}{(of is null ? "" : $" (of {of})")}, {img.Layers.Count} statement{(img.Layers.Count == 1 ? "" : "s")}");
                    continue;
                }
                o.WriteLine($"    image ID      {img.ImageId}");
                o.WriteLine($"    manifest      {(img.Manifest is { } m ? $"{m.Digest} ({m.MediaType})" : "(none: docker-archive)")}");
                o.WriteLine($"    platform      {NamedImage.PlatformOf(node)?.ToString() ?? "-"}");
                o.WriteLine($"    created       {c.Created ?? "-"}");
                o.WriteLine($"    size          {Size(img.Layers.Sum(l => l.Descriptor.Size))} in {img.Layers.Count} layer{(img.Layers.Count == 1 ? "" : "s")}");
                if (c.Entrypoint is { Count: > 0 })
                    o.WriteLine($"    entrypoint    {System.Text.Json.JsonSerializer.Serialize(c.Entrypoint, CliJson.Default.IReadOnlyListString)}");
                if (c.Cmd is { Count: > 0 })
                    o.WriteLine($"    cmd           {System.Text.Json.JsonSerializer.Serialize(c.Cmd, CliJson.Default.IReadOnlyListString)}");
                if (c.WorkingDir is { Length: > 0 })
                    o.WriteLine($"    workdir       {c.WorkingDir}");
                if (c.User is { Length: > 0 })
                    o.WriteLine($"    user          {c.User}");
                foreach (var e in c.Env ?? [])
                    o.WriteLine($"    env           {e}");
                foreach (var kv in (c.Labels ?? new Dictionary<string, string>()).OrderBy(k => k.Key, StringComparer.Ordinal))
                    o.WriteLine($"    label         {kv.Key}={kv.Value}");
                foreach (var p in c.ExposedPorts)
                    o.WriteLine($"    port          {p}");
                if (c.History.Count > 0)
                {
                    o.WriteLine("    history");
                    foreach (var h in c.History)
                        o.WriteLine($"      {h.Created ?? "-",-30} {(h.EmptyLayer ? "(empty) " : "")}{Cut(h.CreatedBy ?? h.Comment ?? "", 90)}");
                }
                o.WriteLine("    layers");
                o.WriteLine($"      {"DIGEST",-71} {"COMPRESSION",-11} {"SIZE",10}  DIFF_ID");
                foreach (var l in img.Layers)
                    o.WriteLine($"      {l.Descriptor.Digest,-71} {l.ActualCompression.ToString().ToLowerInvariant(),-11} {Size(l.Descriptor.Size),10}  {l.DiffId?.ToString() ?? "-"}{(ImageInspector.GzipCodecOf(l) is string codec ? $"  (gzipped by {codec})" : "")}");
            }
            RenderReferrers(o, image);
        }
    }

    private static void RenderReferrers(TextWriter o, NamedImage image)
    {
        if (image.Referrers.Count == 0)
            return;
        o.WriteLine("    referrers");
        foreach (var r in image.Referrers)
        {
            string kind = r.Kind switch { ReferrerKind.Signature => "signature", ReferrerKind.Attestation => "attestation", ReferrerKind.Sbom => "sbom", _ => r.Artifact.Type };
            o.WriteLine($"      {kind,-12} {r.Artifact.Manifest.Digest} of {r.Subject.Short}{(r.SignedBy is string by ? (by == "a key" ? ", signed with a key" : $", signed by {by}") : "")}");
        }
    }

    private static string Cut(string s, int max) => s.Length <= max ? s : s[..(max - 1)] + "…";

    internal static string Size(long bytes) => bytes switch
    {
        < 1024 => $"{bytes} B",
        < 1024 * 1024 => $"{bytes / 1024.0:0.0} KiB",
        < 1024L * 1024 * 1024 => $"{bytes / 1048576.0:0.0} MiB",
        _ => $"{bytes / 1073741824.0:0.00} GiB",
    };
}

[System.Text.Json.Serialization.JsonSerializable(typeof(IReadOnlyList<string>))]
internal sealed partial class CliJson : System.Text.Json.Serialization.JsonSerializerContext;
