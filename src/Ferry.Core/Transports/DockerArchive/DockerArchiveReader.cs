using System.Text.Json;
using Ferry.Compression;
using Ferry.Digests;
using Ferry.Model;

using Ferry.Images;
using Ferry.Transports.Files;

namespace Ferry.Transports.DockerArchive;

/// <summary>Reads docker-archive <c>manifest.json</c> (docker, podman, skopeo, Bazel, go-containerregistry).</summary>
internal static class DockerArchiveReader
{
    public static List<NamedImage> Read(IEntryStore store, List<string> warnings)
    {
        string where = store.DisplayName;
        var loc = store.Find("manifest.json") ?? throw new ArchiveFormatException($"{where}: no manifest.json");
        byte[] raw = loc.ReadDocument(null, null, "manifest.json");
        using var doc = Json.Parse(raw, $"{where}: manifest.json");
        var root = doc.RootElement;
        if (root.ValueKind == JsonValueKind.Null)
            throw new ArchiveFormatException($"{where}: manifest.json is null: the archive holds no images");
        if (root.ValueKind != JsonValueKind.Array)
            throw new ArchiveFormatException($"{where}: manifest.json is not a JSON array");
        var result = new List<NamedImage>();
        var byConfig = new Dictionary<Digest, NamedImage>();
        int i = 0;
        foreach (var item in root.EnumerateArray())
        {
            string what = $"{where}: manifest.json[{i++}]";
            if (item.ValueKind != JsonValueKind.Object)
                throw new ArchiveFormatException($"{what}: not a JSON object");
            string configPath = Json.ReqString(item, "Config", what);
            var image = ReadImage(store, item, configPath, what);
            if (!byConfig.TryGetValue(image.ImageId, out var entry))
            {
                entry = new NamedImage { Root = new ImageNode { Image = image } };
                byConfig[image.ImageId] = entry;
                result.Add(entry);
            }
            AddRepoTags(entry, item, what, warnings);
        }
        if (result.Count == 0)
            throw new ArchiveFormatException($"{where}: manifest.json lists no images");
        return result;
    }

    private static SourceImage ReadImage(IEntryStore store, JsonElement item, string configPath, string what)
    {
        var cfgLoc = store.Find(configPath) ?? throw new ArchiveFormatException($"{what}: config '{Digest.Describe(configPath)}' is not in the archive");
        byte[] cfgBytes = cfgLoc.ReadDocument(null, null, $"{what} config");
        var cfgDigest = Digest.Sha256Of(cfgBytes);
        if (DigestFromName(configPath) is Digest named && named != cfgDigest)
            throw new DigestMismatchException($"{store.DisplayName}: config '{configPath}' hashes to {cfgDigest}, not the digest its name says");
        var config = ImageConfig.Parse(cfgBytes, $"{store.DisplayName}: config '{configPath}'");
        var paths = Json.OptArray(item, "Layers") is JsonElement arr
            ? arr.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.String ? e.GetString()! : throw new ArchiveFormatException($"{what}: Layers holds a non-string")).ToList()
            : [];
        if (paths.Count != config.DiffIds.Count)
            throw new ArchiveFormatException($"{what}: {paths.Count} layers but the config has {config.DiffIds.Count} diff_ids");
        var layers = new List<SourceLayer>();
        for (int i = 0; i < paths.Count; i++)
        {
            var layerLoc = store.Find(paths[i]);
            if (layerLoc is null && DigestFromName(paths[i]) is Digest omitted && store.ExpectedElsewhere(omitted))
            {
                // The docker side of an incremental portable archive: an earlier archive carried this layer.
                layers.Add(new SourceLayer(new Descriptor(MediaTypes.LayerFor(CompressionKind.None, docker: false), omitted, 0), config.DiffIds[i], CompressionKind.None, null));
                continue;
            }
            if (layerLoc is null)
                throw new ArchiveFormatException($"{what}: layer '{Digest.Describe(paths[i])}' is not in the archive");
            layers.Add(DescribeLayer(layerLoc, config.DiffIds[i], DigestFromName(paths[i]), $"{store.DisplayName}: layer '{paths[i]}'"));
        }
        return new SourceImage
        {
            Config = config,
            ConfigDescriptor = new Descriptor(MediaTypes.OciConfig, cfgDigest, cfgBytes.LongLength),
            ConfigBlob = cfgLoc,
            Layers = layers,
        };
    }

    /// <summary>
    /// Works out a docker-archive layer's blob descriptor: the compression is sniffed from its bytes; the digest comes from a
    /// content-addressed name, or is the diff_id for an uncompressed layer (checked while copying), or is computed now.
    /// </summary>
    internal static SourceLayer DescribeLayer(LocalBlob loc, Digest diffId, Digest? named, string what)
    {
        var kind = Compressions.Sniff(loc.Head(Compressions.SniffLength));
        if (kind is CompressionKind.Xz or CompressionKind.Bzip2)
            throw new ArchiveFormatException($"{what}: {Compressions.Name(kind)}-compressed layers are not supported");
        Digest digest;
        if (named is Digest n)
            digest = n;
        else if (kind == CompressionKind.None)
            digest = diffId;
        else
        {
            using var v = loc.OpenVerified(null, loc.Length, what);
            digest = v.Drain();
        }
        return new SourceLayer(new Descriptor(MediaTypes.LayerFor(kind, docker: false), digest, loc.Length), diffId, kind, loc);
    }

    /// <summary>The digest a content-addressed entry name states: <c>blobs/sha256/HEX</c>, <c>HEX.json</c>, <c>HEX.tar</c>.</summary>
    internal static Digest? DigestFromName(string path)
    {
        string p = Ferry.Archive.TarIndex.Normalize(path, out _);
        if (p.StartsWith("blobs/sha256/", StringComparison.Ordinal) && Digest.TryFromSha256Hex(p[13..], out var d))
            return d;
        if (p.Length == 69 && (p.EndsWith(".json", StringComparison.Ordinal)) && Digest.TryFromSha256Hex(p[..64], out d))
            return d;
        return null;
    }

    private static void AddRepoTags(NamedImage entry, JsonElement item, string what, List<string> warnings)
    {
        if (!item.TryGetProperty("RepoTags", out var tags) || tags.ValueKind == JsonValueKind.Null)
            return;
        if (tags.ValueKind != JsonValueKind.Array)
            throw new ArchiveFormatException($"{what}: RepoTags is not an array");
        foreach (var t in tags.EnumerateArray())
        {
            string? text = t.ValueKind == JsonValueKind.String ? t.GetString() : null;
            if (!ImageName.TryParse(text, out var name, out string err))
            {
                // docker and podman refuse the whole archive; the image is still read, without that name.
                string problem = $"RepoTags entry '{Digest.Describe(text ?? t.GetRawText())}' is not a valid reference ({err}): docker and podman refuse to load it";
                entry.NameProblemList.Add(problem);
                warnings.Add($"{what}: {problem}; the image is read without it");
                continue;
            }
            if (name!.Tag is null)
            {
                string problem = $"RepoTags entry '{text}' has no tag: docker and podman refuse to load it";
                entry.NameProblemList.Add(problem);
                warnings.Add($"{what}: {problem}; reading it as '{name.WithDefaultTag().Familiar}'");
                name = name.WithDefaultTag();
            }
            entry.AddName(name);
        }
    }
}
