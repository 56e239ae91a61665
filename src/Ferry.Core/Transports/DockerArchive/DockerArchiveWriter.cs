using Ferry.Digests;
using Ferry.Model;
using Ferry.Transports.Layout;

namespace Ferry.Transports.DockerArchive;

/// <summary>docker save's naming: a config as <c>HEX.json</c>, a layer as <c>HEX/layer.tar</c>; no place for manifests.</summary>
internal sealed class DockerBlobNaming : IBlobNaming
{
    public static DockerBlobNaming Instance { get; } = new();

    public IEnumerable<string>? Directories(Digest digest, BlobRole role) => role == BlobRole.Layer ? [$"{digest.Hex}/"] : role == BlobRole.Config ? [] : null;

    public string? Name(Digest digest, BlobRole role) => role switch
    {
        BlobRole.Config => $"{digest.Hex}.json",
        BlobRole.Layer => $"{digest.Hex}/layer.tar",
        _ => null,
    };
}

/// <summary><c>manifest.json</c> and <c>repositories</c>: full names in RepoTags (docker shows them short; podman would read short names as localhost/…).</summary>
internal sealed class DockerIndexFiles : ILayoutIndex
{
    public static DockerIndexFiles Instance { get; } = new();

    public bool NeedsManifests => false;

    public bool NeedsDockerImages => true;

    public bool KeepsReferrers => false;

    public IEnumerable<(string Name, byte[] Bytes)> Files(IReadOnlyList<LayoutImage> images, IReadOnlyList<LayoutReferrer> referrers, IBlobNaming naming, IReadOnlyDictionary<string, string>? indexAnnotations)
    {
        var entries = images.Where(i => i.Docker is not null)
            .Select(i => (Config: naming.Name(i.Docker!.Config.Digest, BlobRole.Config)!, i.Names,
                          Layers: i.Docker.Layers.Select(l => naming.Name(l.Digest, BlobRole.Layer)!).ToList(), TopLayer: i.Docker.Layers.Count > 0 ? i.Docker.Layers[^1] : null))
            .ToList();
        yield return ("manifest.json", Json.Write(w =>
        {
            w.WriteStartArray();
            foreach (var (config, names, layers, _) in entries)
            {
                w.WriteStartObject();
                w.WriteString("Config", config);
                var tagged = names.Where(n => n.Tag is not null).ToList();
                if (tagged.Count == 0)
                    w.WriteNull("RepoTags");
                else
                {
                    w.WriteStartArray("RepoTags");
                    foreach (var n in tagged)
                        w.WriteStringValue(n.ToString());
                    w.WriteEndArray();
                }
                w.WriteStartArray("Layers");
                foreach (var l in layers)
                    w.WriteStringValue(l);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }));
        // The legacy repositories file: repository → tag → top layer's ID (its blob's hex, as the names above use).
        var repos = new SortedDictionary<string, SortedDictionary<string, string>>(StringComparer.Ordinal);
        foreach (var (_, names, _, top) in entries)
        {
            if (top is null)
                continue;
            foreach (var n in names.Where(n => n.Tag is not null))
            {
                if (!repos.TryGetValue(n.FullRepository, out var tags))
                    repos[n.FullRepository] = tags = new(StringComparer.Ordinal);
                tags[n.Tag!] = top.Digest.Hex;
            }
        }
        if (repos.Count > 0)
        {
            yield return ("repositories", Json.Write(w =>
            {
                w.WriteStartObject();
                foreach (var (repo, tags) in repos)
                {
                    w.WriteStartObject(repo);
                    foreach (var (tag, id) in tags)
                        w.WriteString(tag, id);
                    w.WriteEndObject();
                }
                w.WriteEndObject();
            }));
        }
    }
}

/// <summary><c>docker-archive</c>: what <c>docker save</c> writes (docker's naming and index files only).</summary>
internal static class DockerArchiveFormat
{
    public static LayoutFormat Archive { get; } = new(OutputFormat.DockerArchive, "docker-archive", ["docker"], DockerBlobNaming.Instance, [DockerIndexFiles.Instance], false);
}
