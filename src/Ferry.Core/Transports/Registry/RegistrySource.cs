using Ferry.Digests;
using Ferry.Model;

namespace Ferry.Transports.Registry;

/// <summary>A blob in a registry: read on demand (streamed, resumed when the connection breaks).</summary>
internal sealed class RegistryBlobLocation(RegistryClient client, string repo, Digest digest, long size) : BlobLocation
{
    public override string EntryName => $"docker://{client.Registry}/{repo}@{digest}";
    public override long Length => size;
    public override Stream OpenRead() => client.OpenBlob(repo, digest, size);
}

/// <summary>Bytes already fetched (a manifest, an index, a config).</summary>
internal sealed class BytesLocation(byte[] bytes, string name) : BlobLocation
{
    public override string EntryName => name;
    public override long Length => bytes.LongLength;
    public override Stream OpenRead() => new MemoryStream(bytes, writable: false);
}

/// <summary>Opens images in registries as an <see cref="ArchiveSource"/>: manifests and configs are fetched, layers are streamed when copied.</summary>
public static class RegistrySource
{
    /// <summary>A registry reference: <c>[docker://]HOST[:PORT]/REPO[:TAG|@DIGEST]</c>.</summary>
    public static ImageName ParseReference(string text)
    {
        string t = text.StartsWith("docker://", StringComparison.Ordinal) ? text["docker://".Length..] : text;
        var name = ImageName.Parse(t);
        return name.Digest is null ? name.WithDefaultTag() : name;
    }

    /// <summary>The host to connect to for a name's domain.</summary>
    public static string Host(ImageName name) => name.Domain == ImageName.DefaultDomain ? "registry-1.docker.io" : name.Domain;

    /// <summary>Fetches the manifests (whole indexes, or the one platform asked for) of <paramref name="references"/>.</summary>
    public static ArchiveSource Open(IReadOnlyList<string> references, RegistryOptions options, Platform? platform, CancellationToken cancel = default)
    {
        var clients = new Dictionary<string, RegistryClient>(StringComparer.Ordinal);
        try
        {
            var images = new List<ArchiveImage>();
            foreach (var text in references)
            {
                var name = ParseReference(text);
                string host = Host(name);
                if (!clients.TryGetValue(host, out var client))
                    clients[host] = client = new RegistryClient(host, options);
                string reference = name.Digest?.ToString() ?? name.Tag!;
                var root = LoadNode(client, name.Path, null, reference, 0, platform, cancel).GetAwaiter().GetResult();
                var existing = images.FirstOrDefault(i => i.Key == KeyOf(root));
                var image = existing ?? new ArchiveImage { Root = root };
                if (existing is null)
                    images.Add(image);
                if (name.Tag is not null && !image.Names.Contains(name))
                    image.Names.Add(name.Digest is null ? name : name.WithTag(name.Tag));
            }
            var owner = new ClientsOwner(clients.Values.ToList());
            return ArchiveSource.FromImages(new OwnedStore("docker://" + string.Join(",", references.Select(r => r.Replace("docker://", "", StringComparison.Ordinal))), owner),
                "registry", images, []);
        }
        catch
        {
            foreach (var c in clients.Values)
                c.Dispose();
            throw;
        }
    }

    private static Digest KeyOf(ManifestNode node) => node switch
    {
        ImageNode { Image.Manifest: { } m } => m.Digest,
        IndexNode x => x.Index.Digest,
        _ => node.Descriptor!.Digest,
    };

    private static async Task<ManifestNode> LoadNode(RegistryClient client, string repo, Descriptor? descriptor, string reference, int depth, Platform? platform, CancellationToken cancel)
    {
        if (depth > OciLayout.OciLayoutReader.MaxIndexDepth)
            throw new ArchiveFormatException($"registry {client.Registry}: {repo}: indexes nested deeper than {OciLayout.OciLayoutReader.MaxIndexDepth}");
        var (bytes, headerType, digest) = await client.GetManifestAsync(repo, reference, cancel).ConfigureAwait(false);
        string what = $"docker://{client.Registry}/{repo}@{digest}";
        using (var doc = Json.Parse(bytes, what))
        {
            string kind = Json.OptString(doc.RootElement, "mediaType") ?? (doc.RootElement.TryGetProperty("manifests", out _) ? MediaTypes.OciIndex : headerType);
            if (MediaTypes.IsIndex(kind) || MediaTypes.IsIndex(headerType))
            {
                var index = ImageIndex.Parse(bytes, MediaTypes.IsIndex(headerType) ? headerType : kind, what);
                if (platform is not null)
                {
                    var match = index.Manifests.FirstOrDefault(m => m.Platform is { } p && platform.Matches(p))
                        ?? throw new ImageNotFoundException($"{what}: no manifest for platform {platform}");
                    return await LoadNode(client, repo, match, match.Digest.ToString(), depth + 1, platform, cancel).ConfigureAwait(false);
                }
                var children = new List<ManifestNode>();
                foreach (var child in index.Manifests)
                    children.Add(await LoadNode(client, repo, child, child.Digest.ToString(), depth + 1, null, cancel).ConfigureAwait(false));
                return new IndexNode
                {
                    Descriptor = descriptor ?? new Descriptor(index.MediaType, digest, bytes.LongLength),
                    Index = index,
                    Children = children,
                    Location = new BytesLocation(bytes, what),
                };
            }
        }
        var manifest = ImageManifest.Parse(bytes, headerType, what);
        var cfgLoc = new RegistryBlobLocation(client, repo, manifest.Config.Digest, manifest.Config.Size);
        byte[] cfgBytes = cfgLoc.ReadDocument(manifest.Config.Digest, manifest.Config.Size, $"config {manifest.Config.Digest}");
        var config = ImageConfig.Parse(cfgBytes, $"docker://{client.Registry}/{repo} config {manifest.Config.Digest}");
        if (config.DiffIds.Count != manifest.Layers.Count)
            throw new ArchiveFormatException($"{what}: config has {config.DiffIds.Count} diff_ids but the manifest has {manifest.Layers.Count} layers");
        var layers = manifest.Layers.Select((l, i) => new SourceLayer(l, config.DiffIds[i], MediaTypes.LayerCompression(l.MediaType),
            MediaTypes.IsForeign(l.MediaType) ? null : new RegistryBlobLocation(client, repo, l.Digest, l.Size))).ToList();
        return new ImageNode
        {
            Descriptor = descriptor ?? new Descriptor(manifest.MediaType, digest, bytes.LongLength),
            Image = new SourceImage
            {
                Config = config,
                ConfigDescriptor = manifest.Config,
                ConfigLocation = new BytesLocation(cfgBytes, $"docker://{client.Registry}/{repo}@{manifest.Config.Digest}"),
                Manifest = manifest,
                Layers = layers,
            },
        };
    }

    private sealed class ClientsOwner(List<RegistryClient> clients) : IDisposable
    {
        public void Dispose()
        {
            foreach (var c in clients)
                c.Dispose();
        }
    }
}

/// <summary>An entry store with no entries that owns a resource (the registry clients of a registry source).</summary>
internal sealed class OwnedStore(string displayName, IDisposable owned) : IEntryStore
{
    public string DisplayName => displayName;
    public BlobLocation? Find(string name) => null;
    public bool Contains(string name) => false;
    public bool IsLink(string name) => false;
    public void Dispose() => owned.Dispose();
}
