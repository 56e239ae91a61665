using System.Text.Json;
using System.Text.Json.Nodes;
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
    private readonly List<(RegistryClient Client, string Repo, string Tag, byte[] Bytes, string MediaType)> _signatureTags = [];
    private readonly List<(RegistryClient Client, string Repo, Digest Subject, Descriptor Artifact)> _fallback = [];

    public RegistryDestination(RegistryReference? single, RegistryPrefixReference? prefix, TransportOptions options)
    {
        _single = single;
        _prefix = prefix;
        _options = options;
        Capabilities = new DestinationCapabilities
        {
            KeepsManifests = true,
            KeepsReferrers = true,
            NeedsNames = single is null,
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

    public ValueTask<IImageWriter> BeginImageAsync(PlannedImage image, CancellationToken cancellationToken = default)
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

    /// <summary>
    /// Makes the images visible, in the order that keeps every name pointing at something complete: the images' tags,
    /// then the cosign tags of their signatures, attestations and SBOMs (<c>sha256-HEX.sig</c>, in the same repository),
    /// then, where the registry has no referrers API, the <c>sha256-HEX</c> fallback indexes of their OCI 1.1 referrers.
    /// </summary>
    public async ValueTask<IReadOnlyList<string>> CommitAsync(CancellationToken cancellationToken = default)
    {
        foreach (var (client, repo, tag, bytes, mediaType, signature) in _tags.Select(t => (t.Client, t.Repo, t.Tag, t.Bytes, t.MediaType, false))
                     .Concat(_signatureTags.Select(t => (t.Client, t.Repo, t.Tag, t.Bytes, t.MediaType, true))))
        {
            try
            {
                byte[] put = bytes;
                if (signature)
                {
                    if (await MergeSignaturesAsync(client, repo, tag, bytes, cancellationToken).ConfigureAwait(false) is not { } merged)
                        continue;
                    put = merged.Bytes;
                    if (merged.Added > 0)
                        _options.Log?.Invoke($"note: {client.Registry}/{repo}:{tag} already held signatures; the carried ones were added to them ({merged.Added} added)");
                }
                await client.PutManifestAsync(repo, tag, put, mediaType, cancellationToken).ConfigureAwait(false);
            }
            catch (FerryException e) when (e is not UsageException)
            {
                throw new PeerException($"{e.Message} (blobs and manifests are in {client.Registry}/{repo} already, the tag is not; a retry uploads nothing more)", e);
            }
        }
        foreach (var group in _fallback.GroupBy(f => (f.Client, f.Repo, f.Subject)))
        {
            var (client, repo, subject) = group.Key;
            await UpdateFallbackAsync(client, repo, subject, [.. group.Select(g => g.Artifact)], cancellationToken).ConfigureAwait(false);
        }
        return [];
    }

    /// <summary>
    /// What to put under a cosign tag: <paramref name="ours"/> when the tag is free; null when it already holds every
    /// signature of ours; else (a signature already there: the site's own, another signer's) the manifest cosign
    /// itself would make, the one there with our signature layers appended (and its config's diff_ids with them), so
    /// a push never drops a signature. The tag schema's manifests are not themselves signed.
    /// </summary>
    private static async Task<(byte[] Bytes, int Added)?> MergeSignaturesAsync(RegistryClient client, string repo, string tag, byte[] ours, CancellationToken cancellationToken)
    {
        byte[] existing;
        try
        {
            (existing, _, _) = await client.GetManifestAsync(repo, tag, cancellationToken).ConfigureAwait(false);
        }
        catch (ImageNotFoundException)
        {
            return (ours, 0);
        }
        if (existing.AsSpan().SequenceEqual(ours))
            return null;
        JsonObject there, mine;
        try
        {
            there = JsonNode.Parse(existing)!.AsObject();
            mine = JsonNode.Parse(ours)!.AsObject();
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or NullReferenceException)
        {
            return (ours, 0);
        }
        static string Key(JsonNode? layer) => $"{layer?["digest"]?.GetValue<string>()} {layer?["annotations"]?[Images.Signatures.SignatureAnnotation]?.GetValue<string>()}";
        if (there["layers"] is not JsonArray layers || mine["layers"] is not JsonArray add || there["config"]?["digest"]?.GetValue<string>() is not string configDigest)
            return (ours, 0);
        var have = layers.Select(Key).ToHashSet(StringComparer.Ordinal);
        var missing = add.Where(l => !have.Contains(Key(l))).ToList();
        if (missing.Count == 0)
            return null;
        foreach (var l in missing)
            layers.Add(l!.DeepClone());
        // The config lists the layers' digests as its diff_ids (the payloads are not compressed).
        var configBytes = await ReadConfigAsync(client, repo, Digest.Parse(configDigest), cancellationToken).ConfigureAwait(false);
        if (configBytes is not null && JsonNode.Parse(configBytes) is JsonObject config && config["rootfs"] is JsonObject rootfs)
        {
            rootfs["diff_ids"] = new JsonArray([.. layers.Select(l => (JsonNode?)JsonValue.Create(l!["digest"]!.GetValue<string>()))]);
            byte[] newConfig = Json.Write(w => config.WriteTo(w));
            var d = Digest.Sha256Of(newConfig);
            await client.UploadBlobAsync(repo, d, newConfig.LongLength, _ => ValueTask.FromResult<Stream>(new MemoryStream(newConfig, writable: false)), cancellationToken).ConfigureAwait(false);
            there["config"]!["digest"] = d.ToString();
            there["config"]!["size"] = newConfig.LongLength;
        }
        return (Json.Write(w => there.WriteTo(w)), missing.Count);
    }

    private static async Task<byte[]?> ReadConfigAsync(RegistryClient client, string repo, Digest digest, CancellationToken cancellationToken)
    {
        try
        {
            await using var s = await client.OpenBlobAtAsync(repo, digest, 0, cancellationToken).ConfigureAwait(false);
            byte[] buffer = new byte[1 << 20];
            int n = await s.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            // A signature's config is a few hundred bytes; one that is not, or does not match its digest, is left as it is.
            return n < buffer.Length && Digest.Sha256Of(buffer.AsSpan(0, n)) == digest ? buffer[..n] : null;
        }
        catch (ImageNotFoundException)
        {
            return null;
        }
    }

    /// <summary>Adds referrers to the <c>sha256-HEX</c> index of a subject (distribution-spec: the client keeps it where the registry has no referrers API).</summary>
    private static async Task UpdateFallbackAsync(RegistryClient client, string repo, Digest subject, List<Descriptor> add, CancellationToken cancellationToken)
    {
        string tag = Referrer.TagOf(subject, null);
        var existing = new List<Descriptor>();
        try
        {
            var (bytes, _, _) = await client.GetManifestAsync(repo, tag, cancellationToken).ConfigureAwait(false);
            existing.AddRange(ImageIndex.Parse(bytes, MediaTypes.OciIndex, $"{client.Registry}/{repo}:{tag}").Manifests);
        }
        catch (ImageNotFoundException)
        {
        }
        var all = existing.Concat(add.Where(a => existing.All(e => e.Digest != a.Digest))).ToList();
        if (all.Count == existing.Count)
            return;
        await client.PutManifestAsync(repo, tag, ImageIndex.CreateOci(all), MediaTypes.OciIndex, cancellationToken).ConfigureAwait(false);
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
        private readonly ConcurrentDictionary<(RegistryClient, string, Digest), bool> _indexedBy = new();

        /// <summary>What became of each blob in each target repository (uploaded, mounted, there already).</summary>
        private readonly ConcurrentDictionary<(RegistryClient Client, string Repo), ConcurrentDictionary<Digest, BlobAction>> _actions = new();

        private BlobReuse Record(RegistryClient client, string repo, Digest digest, BlobReuse reuse)
        {
            if (reuse != BlobReuse.None)
                _actions.GetOrAdd((client, repo), _ => new())[digest] = reuse == BlobReuse.Mounted ? BlobAction.Mounted : BlobAction.Present;
            return reuse;
        }

        public Writer(RegistryDestination dest, List<ImageName> targets)
        {
            _dest = dest;
            _targets = targets;
            _repos = targets.Select(t => (dest.Client(RegistryTransport.HostOf(t)), t.Path)).Distinct().ToList();
        }

        public async ValueTask<BlobReuse> TryReuseBlobAsync(Descriptor blob, BlobOrigin? origin, CancellationToken cancellationToken = default)
        {
            var result = BlobReuse.Present;
            foreach (var (client, repo) in _repos)
            {
                var r = Record(client, repo, blob.Digest, await ReuseOneAsync(client, repo, blob.Digest, origin, cancellationToken).ConfigureAwait(false));
                if (r == BlobReuse.None)
                    return BlobReuse.None;
                if (r == BlobReuse.Mounted)
                    result = BlobReuse.Mounted;
            }
            return result;
        }

        private async Task<BlobReuse> ReuseOneAsync(RegistryClient client, string repo, Digest digest, BlobOrigin? origin, CancellationToken cancellationToken)
        {
            if (await client.HasBlobAsync(repo, digest, cancellationToken).ConfigureAwait(false))
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
                if (await client.TryMountAsync(repo, digest, from, cancellationToken).ConfigureAwait(false))
                {
                    _dest._pushedIn.TryAdd((client.Registry, digest), repo);
                    return BlobReuse.Mounted;
                }
            }
            return BlobReuse.None;
        }

        public async ValueTask PutBlobAsync(Descriptor blob, BlobContent content, CancellationToken cancellationToken = default)
        {
            foreach (var (client, repo) in _repos)
            {
                if (Record(client, repo, blob.Digest, await ReuseOneAsync(client, repo, blob.Digest, content.Origin, cancellationToken).ConfigureAwait(false)) != BlobReuse.None)
                    continue;
                await client.UploadBlobAsync(repo, blob.Digest, content.Size, content.OpenAsync, cancellationToken).ConfigureAwait(false);
                _dest._pushedIn.TryAdd((client.Registry, blob.Digest), repo);
                _actions.GetOrAdd((client, repo), _ => new())[blob.Digest] = BlobAction.Written;
            }
        }

        public async ValueTask PutManifestAsync(Descriptor manifest, ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken = default)
        {
            byte[] raw = bytes.ToArray();
            _manifests[manifest.Digest] = (raw, manifest.MediaType);
            foreach (var (client, repo) in _repos)
            {
                try
                {
                    bool indexed = await client.PutManifestAsync(repo, manifest.Digest.ToString(), raw, manifest.MediaType, cancellationToken).ConfigureAwait(false);
                    if (indexed)
                        _indexedBy.TryAdd((client, repo, manifest.Digest), true);
                }
                catch (FerryException e) when (e is not UsageException)
                {
                    if (MediaTypes.IsIndex(manifest.MediaType) && AbsentChildren(raw, manifest.MediaType) is { Count: > 0 } absent)
                        throw new PeerException($"{e.Message} (index {manifest.Digest} is sparse, {string.Join(", ", absent)} absent, and registries that check indexes refuse one: push the platforms present as a new index (--platform without --keep-index), or to a registry that accepts sparse indexes)", e);
                    throw new PeerException($"{e.Message} (the image's blobs are in {client.Registry}/{repo} already; a retry uploads only what is missing)", e);
                }
            }
        }

        /// <summary>The children of an index this push has not put (a sparse index), by platform where the index says it.</summary>
        private List<string> AbsentChildren(byte[] raw, string mediaType)
        {
            var index = ImageIndex.Parse(raw, mediaType, "index");
            return [.. index.Manifests.Where(m => MediaTypes.IsManifestOrIndex(m.MediaType) && !_manifests.ContainsKey(m.Digest)).Select(m => m.Platform?.ToString() ?? m.Digest.ToString())];
        }

        public ValueTask PutReferrerAsync(Descriptor artifact, Referrer referrer, CancellationToken cancellationToken = default)
        {
            if (!_manifests.TryGetValue(artifact.Digest, out var m))
                throw new InvalidOperationException("the referrer's manifest was not put before PutReferrerAsync");
            foreach (var (client, repo) in _repos)
            {
                lock (_dest._lock)
                {
                    if (referrer.Tag is string tag)
                        _dest._signatureTags.Add((client, repo, tag, m.Bytes, m.MediaType));
                    else if (!_indexedBy.ContainsKey((client, repo, artifact.Digest)))
                        _dest._fallback.Add((client, repo, referrer.Subject, artifact with
                        {
                            ArtifactType = referrer.Artifact.Manifest.ArtifactType ?? referrer.Artifact.Manifest.Config.MediaType,
                            Annotations = referrer.Artifact.Manifest.ReadAnnotations(),
                        }));
                }
            }
            return ValueTask.CompletedTask;
        }

        public ValueTask<WrittenImage> FinishAsync(Descriptor? root, DockerImage? docker, CancellationToken cancellationToken = default)
        {
            if (root is null || !_manifests.TryGetValue(root.Digest, out var m))
                throw new InvalidOperationException("the root manifest was not put before FinishAsync");
            var refs = new List<string>();
            var byReference = new Dictionary<string, IReadOnlyDictionary<Digest, BlobAction>>(StringComparer.Ordinal);
            foreach (var t in _targets)
            {
                var client = _dest.Client(RegistryTransport.HostOf(t));
                if (_actions.TryGetValue((client, t.Path), out var actions))
                    byReference[t.Tag is not null ? $"{t.FullRepository}:{t.Tag}" : $"{t.FullRepository}@{root.Digest}"] = actions.ToDictionary();
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
            // Each reference with its own blobs, when they went differently (uploaded to one repository, mounted into the next).
            bool differ = byReference.Values.Select(a => string.Join(",", a.OrderBy(x => x.Key.ToString(), StringComparer.Ordinal).Select(x => $"{x.Key}={x.Value}"))).Distinct(StringComparer.Ordinal).Count() > 1;
            return ValueTask.FromResult(new WrittenImage(refs, null) { BlobsByReference = differ ? byReference : null });
        }
    }
}
