using System.Collections.Concurrent;
using Ferry.Digests;
using Ferry.Images;
using Ferry.Model;

namespace Ferry.Transports.Registry;

/// <summary>
/// Writes images to a registry: to the one repository a <see cref="RegistryReference"/> names, or each image to its own
/// repository under a <see cref="RegistryPrefixReference"/>. Blobs the repository has are skipped, blobs in another
/// repository of the registry (the source's, or one this run pushed to) are mounted, manifests keep their bytes (so
/// digests do not change) and are put by digest as they come; tags are set only at commit.
/// </summary>
internal sealed class RegistryDestination : IImageDestination
{
    private readonly RegistryReference? _single;
    private readonly RegistryPrefixReference? _prefix;
    private readonly TransportOptions _options;
    private readonly Dictionary<string, RegistryClient> _clients = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private readonly ConcurrentDictionary<(string Registry, Digest Digest), string> _pushedIn = new();
    private readonly List<(RegistryClient Client, string Repo, string Tag, byte[] Bytes, string MediaType)> _tags = [];

    public RegistryDestination(RegistryReference? single, RegistryPrefixReference? prefix, TransportOptions options)
    {
        _single = single;
        _prefix = prefix;
        _options = options;
        Capabilities = new DestinationCapabilities
        {
            KeepsManifests = true,
            ReusesBlobs = true,
            MaxParallelBlobs = Math.Max(1, options.Registry.Concurrency),
            StagingDirectory = options.TempDir,
        };
    }

    public string DisplayName => (_single as ImageReference ?? _prefix!).ToString()!;

    public string Format => "registry";

    public DestinationCapabilities Capabilities { get; }

    public string? RequestedName => _single?.Name.ToString();

    private RegistryClient Client(string host)
    {
        lock (_lock)
        {
            if (!_clients.TryGetValue(host, out var c))
                _clients[host] = c = new RegistryClient(host, _options.Registry, _options.Timeout);
            return c;
        }
    }

    public ValueTask<IImageWriter> BeginImageAsync(PlannedImage image, CancellationToken cancel = default)
    {
        var targets = new List<ImageName>();
        if (_single is not null)
        {
            targets.Add(_single.Name);
        }
        else
        {
            foreach (var n in image.Names)
                targets.Add(_prefix!.Reroot(n));
        }
        if (targets.Count == 0)
        {
            string refs = image.RefNames.Count > 0 ? $" (only the OCI ref name{(image.RefNames.Count == 1 ? "" : "s")} {string.Join(", ", image.RefNames.Select(r => $"'{r}'"))})" : "";
            throw new UsageException($"{image.Label}: image has no repository name{refs}; nothing to push it under: give it one with --tag NAME, or push it alone to docker://HOST/REPO:TAG");
        }
        return ValueTask.FromResult<IImageWriter>(new Writer(this, targets));
    }

    public async ValueTask<IReadOnlyList<string>> CommitAsync(CancellationToken cancel = default)
    {
        foreach (var (client, repo, tag, bytes, mediaType) in _tags)
        {
            try
            {
                await client.PutManifestAsync(repo, tag, bytes, mediaType, cancel).ConfigureAwait(false);
            }
            catch (FerryException e) when (e is not UsageException)
            {
                throw new PeerException($"{e.Message} (blobs and manifests are in {client.Registry}/{repo} already, the tag is not; a retry uploads nothing more)", e, e.ExitCode);
            }
        }
        return [];
    }

    public ValueTask DisposeAsync()
    {
        foreach (var c in _clients.Values)
            c.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>One image: its target repositories (one per distinct repository among its names).</summary>
    private sealed class Writer : IImageWriter
    {
        private readonly RegistryDestination _dest;
        private readonly List<ImageName> _targets;
        private readonly List<(RegistryClient Client, string Repo)> _repos;
        private readonly ConcurrentDictionary<Digest, (byte[] Bytes, string MediaType)> _manifests = new();

        public Writer(RegistryDestination dest, List<ImageName> targets)
        {
            _dest = dest;
            _targets = targets;
            _repos = targets.Select(t => (dest.Client(RegistryTransport.HostOf(t)), t.Path)).Distinct().ToList();
        }

        public async ValueTask<BlobReuse> TryReuseBlobAsync(Descriptor blob, BlobOrigin? origin, CancellationToken cancel = default)
        {
            var result = BlobReuse.Present;
            foreach (var (client, repo) in _repos)
            {
                var r = await ReuseOneAsync(client, repo, blob.Digest, origin, cancel).ConfigureAwait(false);
                if (r == BlobReuse.None)
                    return BlobReuse.None;
                if (r == BlobReuse.Mounted)
                    result = BlobReuse.Mounted;
            }
            return result;
        }

        private async Task<BlobReuse> ReuseOneAsync(RegistryClient client, string repo, Digest digest, BlobOrigin? origin, CancellationToken cancel)
        {
            if (await client.HasBlobAsync(repo, digest, cancel).ConfigureAwait(false))
            {
                _dest._pushedIn.TryAdd((client.Registry, digest), repo);
                return BlobReuse.Present;
            }
            var sources = new List<string>();
            if (origin is not null && origin.Registry == client.Registry && origin.Repository != repo)
                sources.Add(origin.Repository);
            if (_dest._pushedIn.TryGetValue((client.Registry, digest), out var other) && other != repo && !sources.Contains(other))
                sources.Add(other);
            foreach (var from in sources)
            {
                if (await client.TryMountAsync(repo, digest, from, cancel).ConfigureAwait(false))
                {
                    _dest._pushedIn.TryAdd((client.Registry, digest), repo);
                    return BlobReuse.Mounted;
                }
            }
            return BlobReuse.None;
        }

        public async ValueTask PutBlobAsync(Descriptor blob, BlobContent content, CancellationToken cancel = default)
        {
            foreach (var (client, repo) in _repos)
            {
                if (await ReuseOneAsync(client, repo, blob.Digest, content.Origin, cancel).ConfigureAwait(false) != BlobReuse.None)
                    continue;
                await client.UploadBlobAsync(repo, blob.Digest, content.Size, content.OpenAsync, cancel).ConfigureAwait(false);
                _dest._pushedIn.TryAdd((client.Registry, blob.Digest), repo);
            }
        }

        public async ValueTask PutManifestAsync(Descriptor manifest, ReadOnlyMemory<byte> bytes, CancellationToken cancel = default)
        {
            byte[] raw = bytes.ToArray();
            _manifests[manifest.Digest] = (raw, manifest.MediaType);
            foreach (var (client, repo) in _repos)
            {
                try
                {
                    await client.PutManifestAsync(repo, manifest.Digest.ToString(), raw, manifest.MediaType, cancel).ConfigureAwait(false);
                }
                catch (FerryException e) when (e is not UsageException)
                {
                    throw new PeerException($"{e.Message} (the image's blobs are in {client.Registry}/{repo} already; a retry uploads only what is missing)", e, e.ExitCode);
                }
            }
        }

        public ValueTask<WrittenImage> FinishAsync(Descriptor? root, DockerImage? docker, CancellationToken cancel = default)
        {
            if (root is null || !_manifests.TryGetValue(root.Digest, out var m))
                throw new InvalidOperationException("the root manifest was not put before FinishAsync");
            var refs = new List<string>();
            foreach (var t in _targets)
            {
                var client = _dest.Client(RegistryTransport.HostOf(t));
                if (t.Tag is not null)
                {
                    lock (_dest._lock)
                        _dest._tags.Add((client, t.Path, t.Tag, m.Bytes, m.MediaType));
                    refs.Add($"{t.FullRepository}:{t.Tag}");
                }
                else
                {
                    if (t.Digest is { } pinned && pinned != root.Digest)
                    {
                        if (_dest._single is not null)
                            throw new DigestMismatchException($"{_dest.DisplayName}: the image's manifest digest is {root.Digest}, not the one the destination names");
                        _dest._options.Log?.Invoke($"note: {t.FullRepository}@{pinned} is pushed as {root.Digest}: its manifest changed (layers were recompressed)");
                    }
                    refs.Add($"{t.FullRepository}@{root.Digest}");
                }
            }
            return ValueTask.FromResult(new WrittenImage(refs, null));
        }
    }
}
