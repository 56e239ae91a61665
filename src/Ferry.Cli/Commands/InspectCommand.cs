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
        var json = new Option<bool>("--json") { Description = "Print stable JSON instead of text" };
        var host = DaemonOptions.Host();
        var timeout = TimeoutOption.Create();
        var registry = new RegistryFlags(Side.Both);
        var bases = new Option<string[]>("--base") { Description = "An archive that carried layers the (incremental) source leaves out; repeatable" };
        var cmd = new Command("inspect", "Show the images of a source: names, digests, platform, config, history and layers") { source, json, host, timeout };
        registry.AddTo(cmd);
        cmd.Options.Add(bases);
        cmd.SetAction((parse, ct) => Guard.RunAsync(io, parse.GetValue(debug), async cancel =>
        {
            var reference = TransportRegistry.Default.Parse(parse.GetValue(source)!);
            io.RefuseTerminal(reference);
            var options = new TransportOptions { Registry = registry.Read(parse, Side.Source, io), DockerHost = parse.GetValue(host), Stdin = io.ArchiveStdin, Timeout = TimeoutOption.Read(parse, timeout), Bases = parse.GetValue(bases) ?? [], Log = m => io.Err.WriteLine("ferry: " + m) };
            await using var src = await reference.Transport.OpenSourceAsync(reference, options, cancel).ConfigureAwait(false);
            if (parse.GetValue(json))
            {
                io.Out.WriteLine(System.Text.Encoding.UTF8.GetString(ImageInspector.ToJson(src)));
                return ExitCodes.Ok;
            }
            Render(io.Out, src);
            foreach (var w in src.Warnings)
                io.Err.WriteLine("ferry: warning: " + w);
            return ExitCodes.Ok;
        }, ct));
        return cmd;
    }

    private static void Render(TextWriter o, IImageSource src)
    {
        o.WriteLine($"{src.DisplayName}: {src.Format}{(src.ArchiveCompression == CompressionKind.None ? "" : $" ({src.ArchiveCompression.ToString().ToLowerInvariant()}-compressed)")}, {src.Images.Count} image{(src.Images.Count == 1 ? "" : "s")}");
        if (src.Incremental is { } inc)
            o.WriteLine($"incremental: leaves out {inc.Blobs.Count} layer{(inc.Blobs.Count == 1 ? "" : "s")} shipped in {string.Join(", ", inc.Archives)} (read it with --base)");
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
            o.WriteLine($"      {kind,-12} {r.Artifact.Manifest.Digest} of {r.Subject.Hex[..12]}{(r.SignedBy is string by ? (by == "a key" ? ", signed with a key" : $", signed by {by}") : "")}");
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
