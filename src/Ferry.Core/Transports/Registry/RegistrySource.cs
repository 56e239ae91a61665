using System.Runtime.CompilerServices;
using Ferry.Digests;
using Ferry.Images;
using Ferry.Model;

namespace Ferry.Transports.Registry;

/// <summary>A blob in a registry: streamed on demand, resumed when the connection breaks, mountable into other repositories of the registry.</summary>
internal sealed class RegistryBlob(RegistryClient client, string repo, Digest digest, long size) : BlobSource
{
    public override string Name => $"docker://{client.Registry}/{repo}@{digest}";
    public override long Length => size;
    public override BlobOrigin Origin => new(client.Registry, repo);

    public override async ValueTask<Stream> OpenReadAsync(CancellationToken cancellationToken = default) =>
        await client.OpenBlobAsync(repo, digest, size, cancellationToken).ConfigureAwait(false);
}

/// <summary>Images in registries: manifests, indexes and configs are fetched when the source is opened, layers streamed when they are read.</summary>
internal sealed class RegistrySource : IImageSource
{
    private readonly List<RegistryClient> _clients;

    private RegistrySource(string displayName, List<NamedImage> images, List<RegistryClient> clients)
    {
        DisplayName = displayName;
        Images = images;
        _clients = clients;
    }

    public string DisplayName { get; }

    public string Format => "registry";

    public IReadOnlyList<NamedImage> Images { get; }

    public IReadOnlyList<string> Warnings => [];

    /// <summary>
    /// Fetches the manifests (whole indexes, less the children of platforms <see cref="TransportOptions.Platforms"/> leaves out) of
    /// <paramref name="references"/>. An image named twice (two tags of one manifest) is one image with both names; a
    /// reference by digest keeps its repository as a digest-pinned name.
    /// </summary>
    public static async ValueTask<RegistrySource> OpenAsync(IReadOnlyList<RegistryReference> references, TransportOptions options, CancellationToken cancellationToken)
    {
        var clients = new Dictionary<string, RegistryClient>(StringComparer.Ordinal);
        var fetched = new StrongBox<int>();
        try
        {
            var images = new List<NamedImage>();
            foreach (var r in references)
            {
                var name = r.Name;
                if (!clients.TryGetValue(r.Host, out var client))
                    clients[r.Host] = client = new RegistryClient(r.Host, options.Registry, options.Timeout);
                string reference = name.Digest?.ToString() ?? name.Tag!;
                var root = await new Walk(client, name.Path, options.Registry.MaxManifests, fetched).LoadNodeAsync(null, reference, 0, options.Platforms, cancellationToken).ConfigureAwait(false);
                var key = KeyOf(root);
                var image = images.FirstOrDefault(i => i.Key == key);
                if (image is null)
                {
                    image = new NamedImage { Root = root };
                    images.Add(image);
                }
                // A tag names the image; a digest alone pins it under its repository (with the digest of what was fetched,
                // which differs from the reference's when one platform was picked from an index).
                image.AddName(name.Tag is not null ? name.WithTag(name.Tag) : name.WithDigest(key));
                var selection = options.Referrers;
                if (!selection.IsNone)
                    await new Walk(client, name.Path, options.Registry.MaxManifests, fetched).ReferrersAsync(image, selection, cancellationToken).ConfigureAwait(false);
            }
            string display = "docker://" + string.Join(",", references.Select(x => x.Name.ToString()));
            return new RegistrySource(display, images, [.. clients.Values]);
        }
        catch
        {
            foreach (var c in clients.Values)
                c.Dispose();
            throw;
        }
    }

    private static Digest KeyOf(ManifestNode node) => node.Digest ?? node.Descriptor!.Digest;

    /// <summary>
    /// Reads one manifest graph: each digest is fetched once (a graph that lists the same index many times — a DAG —
    /// costs one request per distinct manifest), and all the walks of a source together fetch at most
    /// <see cref="RegistryOptions.MaxManifests"/> documents.
    /// </summary>
    private sealed class Walk(RegistryClient client, string repo, int maxManifests, StrongBox<int> fetched)
    {
        private readonly Dictionary<Digest, Task<ManifestNode>> _nodes = [];

        public async Task<ManifestNode> LoadNodeAsync(Descriptor? descriptor, string reference, int depth, IReadOnlyList<Platform>? platforms, CancellationToken cancellationToken)
        {
            if (depth > OciLayout.OciLayoutReader.MaxIndexDepth)
                throw new ArchiveFormatException($"registry {client.Registry}: {repo}: indexes nested deeper than {OciLayout.OciLayoutReader.MaxIndexDepth}");
            if (descriptor is not null)
            {
                if (!_nodes.TryGetValue(descriptor.Digest, out var known))
                    _nodes[descriptor.Digest] = known = FetchAsync(descriptor, reference, depth, platforms, cancellationToken);
                return Reparent(await known.ConfigureAwait(false), descriptor);
            }
            return await FetchAsync(descriptor, reference, depth, platforms, cancellationToken).ConfigureAwait(false);
        }

        /// <summary>Whether an index child is left unfetched: it declares a platform none of the wanted ones matches (a nested index or a child without a platform is always read).</summary>
        private static bool LeftOut(Descriptor child, IReadOnlyList<Platform>? platforms) =>
            platforms is { Count: > 0 } && child.Platform is { } p && !MediaTypes.IsIndex(child.MediaType) && !platforms.Any(w => w.Matches(p));

        private static ManifestNode Reparent(ManifestNode node, Descriptor descriptor) =>
            ReferenceEquals(node.Descriptor, descriptor) ? node : node.WithDescriptor(descriptor);

        private async Task<ManifestNode> FetchAsync(Descriptor? descriptor, string reference, int depth, IReadOnlyList<Platform>? platforms, CancellationToken cancellationToken)
        {
            if (Interlocked.Increment(ref fetched.Value) > maxManifests)
                throw new ArchiveFormatException($"registry {client.Registry}: {repo}: more than {maxManifests} manifests and indexes in one copy (a hostile index graph?)");
            var (bytes, headerType, digest) = await client.GetManifestAsync(repo, reference, cancellationToken).ConfigureAwait(false);
            string what = $"docker://{client.Registry}/{repo}@{digest}";
            string kind;
            using (var doc = Json.Parse(bytes, what))
                kind = Json.OptString(doc.RootElement, "mediaType") ?? (doc.RootElement.TryGetProperty("manifests", out _) ? MediaTypes.OciIndex : headerType);
            if (MediaTypes.IsIndex(kind) || MediaTypes.IsIndex(headerType))
            {
                var index = ImageIndex.Parse(bytes, MediaTypes.IsIndex(headerType) ? headerType : kind, what);
                // Children of platforms the copy leaves out are not fetched (a 10,000-wide index costs one request).
                var children = new List<ManifestNode>();
                foreach (var child in index.Manifests)
                    children.Add(LeftOut(child, platforms) ? new OpaqueNode { Descriptor = child } : await LoadChildAsync(child, depth + 1, platforms, cancellationToken).ConfigureAwait(false));
                return new IndexNode
                {
                    Descriptor = descriptor ?? new Descriptor(index.MediaType, digest, bytes.LongLength),
                    Index = index,
                    Children = children,
                    Blob = new BytesBlob(bytes, what),
                };
            }
            bool imageLike = MediaTypes.IsImageManifest(kind) || MediaTypes.IsImageManifest(headerType) || MediaTypes.IsSchema1(kind) || MediaTypes.IsSchema1(headerType)
                             || kind is "" or MediaTypes.OciDescriptor;
            if (!imageLike)
            {
                // An artifact manifest (or anything else): carried as it is.
                return new OpaqueNode { Descriptor = descriptor ?? new Descriptor(kind, digest, bytes.LongLength), Blob = new BytesBlob(bytes, what) };
            }
            var manifest = ImageManifest.Parse(bytes, headerType, what);
            if (!manifest.IsRunnableImage)
            {
                return new ArtifactNode
                {
                    Descriptor = descriptor ?? new Descriptor(manifest.MediaType, digest, bytes.LongLength),
                    Manifest = manifest,
                    Blob = new BytesBlob(bytes, what),
                    Blobs = [.. manifest.Layers.Prepend(manifest.Config).Select(b => (b, (BlobSource?)new RegistryBlob(client, repo, b.Digest, b.Size)))],
                };
            }
            var cfgBlob = new RegistryBlob(client, repo, manifest.Config.Digest, manifest.Config.Size);
            byte[] cfgBytes = await cfgBlob.ReadDocumentAsync(manifest.Config.Digest, manifest.Config.Size, $"config {manifest.Config.Digest}", cancellationToken).ConfigureAwait(false);
            var config = ImageConfig.Parse(cfgBytes, $"docker://{client.Registry}/{repo} config {manifest.Config.Digest}");
            if (config.DiffIds.Count != manifest.Layers.Count)
                throw new ArchiveFormatException($"{what}: config has {config.DiffIds.Count} diff_ids but the manifest has {manifest.Layers.Count} layers");
            var layers = manifest.Layers.Select((l, i) => new SourceLayer(l, config.DiffIds[i], MediaTypes.LayerCompression(l.MediaType),
                MediaTypes.IsForeign(l.MediaType) ? null : new RegistryBlob(client, repo, l.Digest, l.Size))).ToList();
            return new ImageNode
            {
                Descriptor = descriptor ?? new Descriptor(manifest.MediaType, digest, bytes.LongLength),
                Image = new SourceImage
                {
                    Config = config,
                    ConfigDescriptor = manifest.Config,
                    ConfigBlob = new BytesBlob(cfgBytes, $"docker://{client.Registry}/{repo}@{manifest.Config.Digest}", cfgBlob.Origin),
                    Manifest = manifest,
                    Layers = layers,
                },
            };
        }

        /// <summary>How deep referrers of referrers are followed (a signature of an SBOM of an image is depth 2).</summary>
        private const int MaxReferrerDepth = 3;

        /// <summary>
        /// Finds the referrers of every manifest of the image's graph, and theirs in turn: the cosign tags
        /// (<c>sha256-HEX.sig/.att/.sbom</c>) and the OCI 1.1 referrers (the referrers API, else its <c>sha256-HEX</c>
        /// fallback tag).
        /// </summary>
        public async Task ReferrersAsync(NamedImage image, ReferrerSelection selection, CancellationToken cancellationToken)
        {
            var queue = new Queue<(Digest Subject, int Depth)>(image.ManifestDigests().Select(d => (d, 0)));
            var seen = new HashSet<Digest>(queue.Select(q => q.Subject));
            while (queue.Count > 0)
            {
                var (subject, depth) = queue.Dequeue();
                var found = new List<Referrer>();
                foreach (var (suffix, kind) in new[] { ("sig", ReferrerKind.Signature), ("att", ReferrerKind.Attestation), ("sbom", ReferrerKind.Sbom) })
                {
                    if (selection.WantsTag(suffix) && await TryArtifactAsync(Referrer.TagOf(subject, suffix), null, cancellationToken).ConfigureAwait(false) is { } art)
                        found.Add(new Referrer(subject, art, kind));
                }
                if (selection.WantsOciReferrers)
                {
                    var listed = await client.GetReferrersAsync(repo, subject, cancellationToken).ConfigureAwait(false);
                    if (listed is null && await TryDocumentAsync(Referrer.TagOf(subject, null), cancellationToken).ConfigureAwait(false) is { } fallback)
                        listed = ImageIndex.Parse(fallback, MediaTypes.OciIndex, $"docker://{client.Registry}/{repo}:{Referrer.TagOf(subject, null)}").Manifests;
                    foreach (var d in listed ?? [])
                    {
                        if (found.Any(f => f.Artifact.Manifest.Digest == d.Digest) || !MediaTypes.IsImageManifest(d.MediaType))
                            continue;
                        if (await TryArtifactAsync(d.Digest.ToString(), d, cancellationToken).ConfigureAwait(false) is { } art)
                            found.Add(new Referrer(subject, art, ReferrerKind.Referrer));
                    }
                }
                foreach (var r in found.Where(selection.Includes))
                {
                    image.AddReferrer(r);
                    if (depth + 1 < MaxReferrerDepth && seen.Add(r.Artifact.Manifest.Digest))
                        queue.Enqueue((r.Artifact.Manifest.Digest, depth + 1));
                }
            }
        }

        /// <summary>A manifest as an artifact (its blobs read from the registry when copied), or null when the registry has no such tag.</summary>
        private async Task<ArtifactNode?> TryArtifactAsync(string reference, Descriptor? descriptor, CancellationToken cancellationToken)
        {
            if (Interlocked.Increment(ref fetched.Value) > maxManifests)
                throw new ArchiveFormatException($"registry {client.Registry}: {repo}: more than {maxManifests} manifests and referrers in one copy");
            (byte[] Bytes, string MediaType, Digest Digest) got;
            try
            {
                got = await client.GetManifestAsync(repo, reference, cancellationToken).ConfigureAwait(false);
            }
            catch (ImageNotFoundException)
            {
                return null;
            }
            string what = $"docker://{client.Registry}/{repo}@{got.Digest}";
            var manifest = ImageManifest.Parse(got.Bytes, got.MediaType, what);
            return new ArtifactNode
            {
                Descriptor = descriptor ?? new Descriptor(manifest.MediaType, got.Digest, got.Bytes.LongLength),
                Manifest = manifest,
                Blob = new BytesBlob(got.Bytes, what),
                Blobs = [.. manifest.Layers.Prepend(manifest.Config).Select(b => (b, (BlobSource?)new RegistryBlob(client, repo, b.Digest, b.Size)))],
            };
        }

        /// <summary>A manifest or index's bytes by tag, or null when there is none.</summary>
        private async Task<byte[]?> TryDocumentAsync(string tag, CancellationToken cancellationToken)
        {
            try
            {
                return (await client.GetManifestAsync(repo, tag, cancellationToken).ConfigureAwait(false)).Bytes;
            }
            catch (ImageNotFoundException)
            {
                return null;
            }
        }

        /// <summary>An index child; a child the registry lacks (a sparse index) is kept as a reference, as an OCI layout may.</summary>
        private async Task<ManifestNode> LoadChildAsync(Descriptor child, int depth, IReadOnlyList<Platform>? platforms, CancellationToken cancellationToken)
        {
            try
            {
                return await LoadNodeAsync(child, child.Digest.ToString(), depth, platforms, cancellationToken).ConfigureAwait(false);
            }
            catch (ImageNotFoundException) when (child.Platform is not null)
            {
                return new OpaqueNode { Descriptor = child };
            }
        }
    }

    public ValueTask DisposeAsync()
    {
        foreach (var c in _clients)
            c.Dispose();
        return ValueTask.CompletedTask;
    }
}
