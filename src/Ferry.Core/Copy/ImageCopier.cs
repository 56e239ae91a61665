using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Ferry.Compression;
using Ferry.Digests;
using Ferry.Images;
using Ferry.Model;
using Ferry.Transports;

namespace Ferry.Copy;

/// <summary>
/// Copies images from any source to any destination: one pipeline for every pair, and the only code that walks
/// manifests. It selects images and names them, decides per layer whether its bytes pass through or are recompressed
/// (only when <see cref="CopyOptions.Compress"/> asks, or the destination cannot keep their compression), writes the
/// manifest tree (when the destination keeps manifests) and the one docker image per name (when it needs them), and
/// commits. Config bytes are never changed; manifests and indexes keep their bytes unless a layer's compression changes.
/// Every blob is verified against its digest and size as it is read.
/// </summary>
public static class ImageCopier
{
    /// <summary>Parses both references with <see cref="TransportRegistry.Default"/> and copies.</summary>
    /// <exception cref="FerryException">Anything that stops the copy; nothing is written then.</exception>
    public static Task<CopyResult> CopyAsync(string source, string destination, CopyOptions options, CancellationToken cancel = default) =>
        CopyAsync(TransportRegistry.Default.Parse(source), TransportRegistry.Default.Parse(destination), options, cancel);

    /// <summary>Opens the destination (checked before the source is read, which may mean a download), then the source, and copies.</summary>
    /// <exception cref="FerryException">Anything that stops the copy; nothing is written then.</exception>
    public static async Task<CopyResult> CopyAsync(ImageReference source, ImageReference destination, CopyOptions options, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(options);
        // Compared by real path (symlinks, .. and /proc/self/cwd resolved): writing through an alias would replace the input.
        // (An OCI layout directory is a store: adding to the one read from, as a retag does, rewrites none of its files but index.json, atomically.)
        if (source.LocalPath is string a && destination.LocalPath is string b && TemporaryFiles.RealPath(a) == TemporaryFiles.RealPath(b) && !IsLayoutStore(destination, options, b))
            throw new OutputException($"{b}: refusing to overwrite the input");
        // Names are checked where they enter, before anything is opened (which may mean a download).
        foreach (var t in options.Tags)
            ImageName.CheckGiven(t, $"--tag {t}", allowDigest: false);
        await using var dest = await destination.Transport.OpenDestinationAsync(destination, options.Destination with { Log = options.Destination.Log ?? options.Log, Progress = options.Destination.Progress ?? options.Progress }, cancel).ConfigureAwait(false);
        await using var src = await source.Transport.OpenSourceAsync(source, options.Source with { Log = options.Source.Log ?? options.Log, Progress = options.Source.Progress ?? options.Progress, Platforms = options.Source.Platforms ?? options.Platforms }, cancel).ConfigureAwait(false);
        return await CopyAsync(src, dest, options, cancel).ConfigureAwait(false);
    }

    private static bool IsLayoutStore(ImageReference destination, CopyOptions options, string path) =>
        destination is Transports.Archive.ArchiveReference r
        && (r.Transport is Transports.OciLayout.OciDirectoryTransport || (r.Transport is Transports.Archive.PathTransport && options.Destination.Format == OutputFormat.Oci))
        && File.Exists(Path.Combine(path, "oci-layout")) && File.Exists(Path.Combine(path, "index.json"));

    /// <summary>Copies the images of an opened source to an opened destination and commits it.</summary>
    /// <exception cref="FerryException">Anything that stops the copy; the destination is then not committed.</exception>
    public static async Task<CopyResult> CopyAsync(IImageSource source, IImageDestination destination, CopyOptions options, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(options);
        foreach (var w in source.Warnings)
            options.Log?.Invoke("warning: " + w);
        await using var run = new CopyRun(source, destination, options);
        try
        {
            return await run.RunAsync(cancel).ConfigureAwait(false);
        }
        catch (EndOfStreamException e)
        {
            throw new ArchiveFormatException($"{source.DisplayName}: ended early (was it truncated while it was read?): {e.Message}", e);
        }
    }
}

/// <summary>One copy: the plan, the staged layers, and the per-image writers.</summary>
internal sealed class CopyRun(IImageSource source, IImageDestination dest, CopyOptions options) : IAsyncDisposable
{
    private readonly DestinationCapabilities _caps = dest.Capabilities;
    private readonly ConcurrentDictionary<(Digest, CompressionKind), Staged> _staged = new();
    private readonly ConcurrentBag<string> _tempFiles = [];
    private int _warnedCompression;

    /// <summary>A layer recompressed into a temp file.</summary>
    private sealed record Staged(Digest Digest, long Size, string? Path, string? Codec);

    /// <summary>The gzip codec and level of this copy, resolved when the first layer is to be gzipped.</summary>
    private GzipEncoder? _gzip;

    /// <summary>The annotation on a layer descriptor that says which codec and level Ferry gzipped it with (for inspect; the layer's bytes carry no mark).</summary>
    internal const string GzipCodecAnnotation = "io.ferry.gzip.codec";

    /// <summary>One image to write (its root maybe a platform subset of the source's), with the names it gets.</summary>
    private sealed record Planned(NamedImage Image, List<ImageName> Names, List<string> RefNames);

    private int _warnedReferrers;

    /// <summary>Platforms a <see cref="CopyOptions.KeepIndex"/> subset leaves absent (said once, in the subset's note).</summary>
    private readonly HashSet<Digest> _leftOut = [];

    /// <summary>A layer (or config) as it goes out: its descriptor and where its bytes come from (null: not in the source; the reference is kept).</summary>
    private sealed record Outgoing(Descriptor Descriptor, BlobContent? Content)
    {
        /// <summary>A layer recompressed before it goes out: its bytes were counted by the recompression's item.</summary>
        public bool Recompressed { get; init; }
    }

    /// <summary>The blobs one writer was given, each once.</summary>
    private sealed class ImageState(IImageWriter writer)
    {
        public IImageWriter Writer { get; } = writer;
        public ConcurrentDictionary<Digest, Lazy<Task<CopiedBlob>>> Blobs { get; } = new();

        /// <summary>Manifests and indexes already written (an index graph may list one many times), by source digest.</summary>
        public Dictionary<Digest, Descriptor> Written { get; } = [];

        /// <summary>Layers of this image left out of an incremental archive.</summary>
        public ConcurrentDictionary<Digest, Descriptor> Omitted { get; } = new();
    }

    public async Task<CopyResult> RunAsync(CancellationToken cancel)
    {
        var planned = Plan();
        var states = new List<ImageState>();
        foreach (var p in planned)
        {
            var writer = await dest.BeginImageAsync(new PlannedImage(p.Image.Key, p.Image.Label, p.Names, p.RefNames), cancel).ConfigureAwait(false);
            states.Add(new ImageState(writer));
        }
        await CheckIncrementalAsync(planned, states, cancel).ConfigureAwait(false);
        // The whole job is planned before its first byte: its items (each recompression, each blob that goes out) and
        // its bytes, each once (a recompressed layer's by its recompression).
        var work = RecompressionWork(planned);
        options.Progress?.PlannedItems(work.Count + ItemsToWrite(planned).Count);
        options.Progress?.Planned(work.Values.Sum(l => l.Descriptor.Size) + BytesToWrite(planned));
        await RecompressAllAsync(work, cancel).ConfigureAwait(false);
        var results = new List<CopiedImage>();
        for (int i = 0; i < planned.Count; i++)
        {
            cancel.ThrowIfCancellationRequested();
            var p = planned[i];
            var state = states[i];
            Descriptor? root = null;
            if (_caps.KeepsManifests)
            {
                root = await WriteNodeAsync(state, p.Image.Root, cancel).ConfigureAwait(false);
                await WriteReferrersAsync(state, p.Image, cancel).ConfigureAwait(false);
            }
            else if (p.Image.Referrers.Count > 0 && Interlocked.Exchange(ref _warnedReferrers, 1) == 0)
            {
                options.Log?.Invoke($"note: {p.Image.Label}: its {p.Image.Referrers.Count} referrer(s) (signatures, attestations, SBOMs) are left out: {dest.Format} has no place for them");
            }
            DockerImage? docker = null;
            ImageNode? chosen = p.Image.SelectImage(DockerPlatform);
            if (_caps.NeedsDockerImages)
            {
                if (p.Image.Root is ArtifactNode art)
                    options.Log?.Invoke($"note: {p.Image.Label} is an artifact ({art.Type}), not an image: {(_caps.KeepsManifests ? "kept on the OCI side only" : "left out")}");
                else if (chosen is null)
                    throw new ImageNotFoundException($"{source.DisplayName}: {p.Image.Label}: no image for platform {DockerPlatform ?? Platform.Host} (has: {string.Join(", ", p.Image.Images().Select(n => NamedImage.PlatformOf(n)?.ToString() ?? "?"))})");
                else
                    docker = await WriteDockerImageAsync(state, chosen.Image, cancel).ConfigureAwait(false);
            }
            var written = await state.Writer.FinishAsync(root, docker, cancel).ConfigureAwait(false);
            var blobs = new List<CopiedBlob>();
            foreach (var b in state.Blobs.Values)
                blobs.Add(await b.Value.ConfigureAwait(false));
            blobs.AddRange(state.Omitted.Values.Select(d => new CopiedBlob(d.Digest, d.Size, d.MediaType, BlobAction.Omitted)));
            var id = chosen?.Image.ImageId ?? p.Image.Key;
            var sorted = blobs.OrderBy(b => b.Digest.ToString(), StringComparer.Ordinal).ToList();
            results.Add(new CopiedImage([.. p.Names.Select(n => n.ToString()), .. p.RefNames], id, root?.Digest, written.References, written.DestinationId, sorted)
            {
                PerReference = written.BlobsByReference is { } per
                    ? [.. per.Select(kv => new CopiedReference(kv.Key, [.. sorted.Select(b => kv.Value.TryGetValue(b.Digest, out var a) ? b with { Action = a } : b)]))]
                    : [],
            });
        }
        if (options.Since is not null && _omitted.IsEmpty)
            options.Log?.Invoke($"note: --since left nothing out: no layer of {(results.Count == 1 ? "this image" : "these images")} was shipped in {string.Join(", ", options.Since.Archives)}; {dest.DisplayName} is complete");
        if (_incremental is not null && !_omitted.IsEmpty)
        {
            var record = ShipRecord.Empty();
            foreach (var (digest, carrier) in _omitted.OrderBy(o => o.Key.ToString(), StringComparer.Ordinal))
                record.Add(digest, carrier);
            _incremental.SetIncremental(record);
        }
        var messages = await dest.CommitAsync(cancel).ConfigureAwait(false);
        return new CopyResult(source.DisplayName, source.Format, dest.DisplayName, dest.Format, results, messages);
    }

    /// <summary>The platform docker gets: <see cref="CopyOptions.Platform"/>, else the first of <see cref="CopyOptions.Platforms"/>.</summary>
    private Platform? DockerPlatform => options.Platform ?? (options.Platforms is { Count: > 0 } list ? list[0] : null);

    // ---- platforms and signatures -------------------------------------------------------------------------------------

    /// <summary>
    /// The image as the copy writes it: with <see cref="CopyOptions.Platforms"/>, an index becomes the one chosen
    /// platform's manifest, or a new index of the chosen ones, or (<see cref="CopyOptions.KeepIndex"/>) the original index
    /// with the others absent.
    /// </summary>
    private NamedImage Subset(NamedImage image)
    {
        if (options.Platforms is not { Count: > 0 } wanted)
            return image;
        if (image.Root is not IndexNode index)
        {
            // A single-platform image is copied as it is; a --platform it does not match would otherwise pass unseen.
            if (image.Root is ImageNode single && NamedImage.PlatformOf(single) is { } own && !wanted.Any(w => w.Matches(own)))
                options.Log?.Invoke($"warning: {image.Label} is a single-platform image ({own}), not one of {string.Join(", ", wanted)}: --platform picks platforms of multi-platform images only; it is copied as it is");
            return image;
        }
        // Every platform of the tree, nested indexes too (containerd exports index → index → manifests); each wanted
        // platform takes the images that serve it best (linux/arm64 is linux/arm64/v8, linux/arm is linux/arm/v7).
        var images = index.Images().Where(n => !NamedImage.IsAttestation(n)).ToList();
        var keep = new HashSet<Digest>();
        foreach (var w in wanted)
            keep.UnionWith(NamedImage.ServingBest(images, w).Select(KeyOf));
        var chosen = images.Where(n => keep.Contains(KeyOf(n))).DistinctBy(KeyOf).ToList();
        if (chosen.Count == 0)
            throw new ImageNotFoundException($"{source.DisplayName}: {image.Label}: none of the platforms {string.Join(", ", wanted)} is in its index (has: {string.Join(", ", images.Select(n => NamedImage.PlatformOf(n)?.ToString() ?? "?"))})");
        // The indexes whose bytes the subset does not keep (a signature on one stays behind).
        var replaced = new HashSet<Digest>();
        ManifestNode root;
        if (options.KeepIndex)
        {
            var left = new List<(Descriptor Descriptor, Platform? Platform)>();
            root = Sparse(index, keep, left);
            foreach (var (d, _) in left)
                _leftOut.Add(d.Digest);
            if (left.Count > 0)
                options.Log?.Invoke($"note: {image.Label}: index {index.Index.Digest} kept as it is, sparse: {string.Join(", ", left.Take(10).Select(c => c.Platform?.ToString() ?? c.Descriptor.Digest.ToString()))}{(left.Count > 10 ? $" and {left.Count - 10} more" : "")} absent (ctr import then needs --platform; registries that check indexes refuse it)");
        }
        else if (chosen.Count == 1 && wanted.Count == 1)
        {
            root = chosen[0];
            replaced.UnionWith(index.IndexDigests());
        }
        else
        {
            root = Prune(index, keep, replaced) ?? index;
            if (root is IndexNode subset && subset.Index.Digest != index.Index.Digest)
                options.Log?.Invoke($"note: {image.Label}: index {index.Index.Digest} subset to {string.Join(", ", wanted)}: new index {subset.Index.Digest} (--keep-index keeps {index.Index.Digest.Short}…)");
        }
        var result = new NamedImage { Root = root };
        result.NameList.AddRange(image.Names);
        result.RefNameList.AddRange(image.RefNames);
        // The referrers of what is kept (and the referrers of those); a referrer of a platform left out goes with it.
        var subjects = result.ManifestDigests().ToHashSet();
        var carried = new HashSet<Referrer>();
        for (bool progress = true; progress;)
        {
            progress = false;
            foreach (var r in image.Referrers)
            {
                if (!carried.Contains(r) && subjects.Contains(r.Subject))
                {
                    carried.Add(r);
                    subjects.Add(r.Artifact.Manifest.Digest);
                    progress = true;
                }
            }
        }
        result.ReferrerList.AddRange(image.Referrers.Where(carried.Contains));
        // The index's signature stays with the index: a subset that replaces a signed index refuses, unless what it
        // carries instead is one platform's manifest with a signature of its own.
        var indexSignature = image.Referrers.FirstOrDefault(r => r.Kind == ReferrerKind.Signature && replaced.Contains(r.Subject) && !carried.Contains(r));
        if (indexSignature is not null && !options.RemoveSignatures)
        {
            bool childSigned = root is ImageNode { Image.Manifest: { } m } && result.Referrers.Any(r => r.Kind == ReferrerKind.Signature && r.Subject == m.Digest);
            if (!childSigned)
                throw new UsageException($"{image.Label}: index {indexSignature.Subject} is signed (signature {indexSignature.Artifact.Manifest.Digest}), and the platform subset {(root is IndexNode ? "makes a new index" : "carries an unsigned manifest instead")}: use --keep-index to keep the signed index (sparse), or --remove-signatures");
            options.Log?.Invoke($"note: {image.Label}: the index's signature stays with index {indexSignature.Subject.Short}…; {NamedImage.PlatformOf((ImageNode)root)}'s manifest carries its own");
        }
        return result;
    }

    private static Digest KeyOf(ImageNode n) => n.Image.Manifest?.Digest ?? n.Image.ImageId;

    /// <summary>The index with every image not in <paramref name="keep"/> absent (nested indexes too), its bytes kept: a sparse index.</summary>
    /// <summary>
    /// The index as it is, with only the images in <paramref name="keep"/> present; what is absent (images not kept, and
    /// children the source has only as references, such as those a registry source did not fetch for other platforms)
    /// goes to <paramref name="left"/>.
    /// </summary>
    private static IndexNode Sparse(IndexNode index, HashSet<Digest> keep, List<(Descriptor, Platform?)> left) => new()
    {
        Descriptor = index.Descriptor,
        Index = index.Index,
        Blob = index.Blob,
        Children = [.. index.Children.Select(c => c switch
        {
            ImageNode n when keep.Contains(KeyOf(n)) => c,
            ImageNode n => Absent(n, NamedImage.PlatformOf(n), left),
            IndexNode x => Sparse(x, keep, left),
            OpaqueNode { Blob: null, Descriptor: { } d } o => Absent(o, d.Platform, left),
            _ => c,
        })],
    };

    private static OpaqueNode Absent(ManifestNode n, Platform? platform, List<(Descriptor, Platform?)> left)
    {
        left.Add((n.Descriptor!, platform));
        return n as OpaqueNode ?? new OpaqueNode { Descriptor = n.Descriptor };
    }

    /// <summary>
    /// The index with only the images in <paramref name="keep"/> (and the nested indexes that hold some), rewritten
    /// where it loses children, with new digests up the tree; null when it keeps none. The original digests of the
    /// indexes rewritten go to <paramref name="replaced"/>.
    /// </summary>
    private static IndexNode? Prune(IndexNode index, HashSet<Digest> keep, HashSet<Digest> replaced)
    {
        var children = new List<ManifestNode>();
        var entries = new List<(int Position, Descriptor? Changed)>();
        bool changed = false;
        for (int i = 0; i < index.Children.Count; i++)
        {
            switch (index.Children[i])
            {
                case ImageNode n when keep.Contains(KeyOf(n)):
                    children.Add(n);
                    entries.Add((i, null));
                    break;
                case IndexNode x when Prune(x, keep, replaced) is { } pruned:
                    children.Add(pruned);
                    bool same = pruned.Index.Digest == x.Index.Digest;
                    entries.Add((i, same ? null : pruned.Descriptor));
                    changed |= !same;
                    break;
                default:
                    changed = true;
                    break;
            }
        }
        if (children.Count == 0)
            return null;
        if (!changed)
            return index;
        replaced.Add(index.Index.Digest);
        var node = JsonNode.Parse(index.Index.Raw)!.AsObject();
        var old = node["manifests"]!.AsArray();
        var kept = new JsonArray();
        foreach (var (position, newer) in entries)
        {
            var o = old[position]!.DeepClone().AsObject();
            if (newer is not null)
            {
                o["digest"] = newer.Digest.ToString();
                o["size"] = newer.Size;
            }
            kept.Add((JsonNode)o);
        }
        node["manifests"] = kept;
        byte[] raw = Json.Write(w => node.WriteTo(w));
        var subset = ImageIndex.Parse(raw, index.Index.MediaType, "platform subset");
        return new IndexNode
        {
            Descriptor = (index.Descriptor ?? index.Index.ToDescriptor()) with { Digest = subset.Digest, Size = raw.LongLength },
            Index = subset,
            Blob = new BytesBlob(raw, "platform subset"),
            Children = children,
        };
    }

    /// <summary>
    /// A signed manifest's bytes are never changed silently: when this copy would rewrite a manifest that a signature
    /// refers to (its layers recompressed, so its digest changes), it stops before anything is written, naming the
    /// signature, unless <see cref="CopyOptions.RemoveSignatures"/>.
    /// </summary>
    private void CheckSignatures(NamedImage image)
    {
        if (options.RemoveSignatures || image.Referrers.Count == 0 || !_caps.KeepsManifests)
            return;
        var changed = new HashSet<Digest>();
        Changes(image.Root, changed);
        foreach (var r in image.Referrers.Where(r => r.Kind == ReferrerKind.Signature && changed.Contains(r.Subject)))
            throw new UsageException($"{image.Label}: manifest {r.Subject} is signed (signature {r.Artifact.Manifest.Digest}); recompressing its layers would change its digest and break the signature: keep the compression (--compress keep), or use --remove-signatures");
    }

    /// <summary>Collects the manifests and indexes this copy rewrites (their layers' compression changes); true when <paramref name="node"/> is one.</summary>
    private bool Changes(ManifestNode node, HashSet<Digest> changed)
    {
        switch (node)
        {
            case ImageNode { Image.Manifest: { } m } img when img.Image.Layers.Any(l => l.Blob is not null && TargetCompression(l.ActualCompression, l.Descriptor.Digest) != l.ActualCompression):
                changed.Add(m.Digest);
                return true;
            case IndexNode x:
                bool any = false;
                foreach (var c in x.Children)
                    any |= Changes(c, changed);
                if (any)
                    changed.Add(x.Index.Digest);
                return any;
            default:
                return false;
        }
    }

    /// <summary>
    /// Writes an image's referrers (subjects before the referrers that refer to them), each byte for byte, and tells the
    /// destination what each refers to. Signatures go when <see cref="CopyOptions.RemoveSignatures"/>; a referrer whose
    /// subject was rewritten is left out (it would refer to nothing).
    /// </summary>
    private async Task WriteReferrersAsync(ImageState state, NamedImage image, CancellationToken cancel)
    {
        if (image.Referrers.Count == 0)
            return;
        if (!_caps.KeepsReferrers)
        {
            if (Interlocked.Exchange(ref _warnedReferrers, 1) == 0)
                options.Log?.Invoke($"note: {image.Label}: its {image.Referrers.Count} referrer(s) (signatures, attestations, SBOMs) are left out: {dest.Format} keeps none");
            return;
        }
        var subjects = new Dictionary<Digest, Descriptor>();
        foreach (var (src, written) in state.Written)
            subjects[src] = written;
        foreach (var r in image.Referrers)
        {
            if (r.Kind == ReferrerKind.Signature && options.RemoveSignatures)
                continue;
            if (!subjects.TryGetValue(r.Subject, out var subject) || subject.Digest != r.Subject)
            {
                options.Log?.Invoke($"note: {image.Label}: {r.Name} {r.Artifact.Manifest.Digest} left out: {(subjects.ContainsKey(r.Subject) ? "the manifest it refers to changed" : "what it refers to is not copied")}");
                continue;
            }
            var d = await WriteArtifactAsync(state, r.Artifact, cancel).ConfigureAwait(false);
            subjects[r.Artifact.Manifest.Digest] = d;
            await state.Writer.PutReferrerAsync(d, r, cancel).ConfigureAwait(false);
        }
    }

    /// <summary>An artifact byte for byte: its blobs as they are (never recompressed), then its manifest.</summary>
    private async Task<Descriptor> WriteArtifactAsync(ImageState state, ArtifactNode artifact, CancellationToken cancel)
    {
        var m = artifact.Manifest;
        if (state.Written.TryGetValue(m.Digest, out var done))
            return done;
        var blobs = new List<Outgoing>();
        foreach (var (d, src) in artifact.Blobs)
        {
            if (src is null)
            {
                options.Log?.Invoke($"note: blob {d.Digest} of artifact {m.Digest} is not in {source.DisplayName}; the reference is kept");
                continue;
            }
            blobs.Add(new Outgoing(d, BlobContent.FromSource(src, d.Digest, d.Size, $"blob {d.Digest}")));
        }
        await PutBlobsAsync(state, blobs, cancel).ConfigureAwait(false);
        var desc = (artifact.Descriptor ?? m.ToDescriptor()) with { MediaType = m.MediaType, Digest = m.Digest, Size = m.Raw.LongLength };
        await state.Writer.PutManifestAsync(desc, m.Raw, cancel).ConfigureAwait(false);
        state.Written[m.Digest] = desc;
        return desc;
    }

    // ---- plan -------------------------------------------------------------------------------------------------------

    private List<Planned> Plan()
    {
        var images = ImageSelector.Select(source.Images, options.Images, source.DisplayName).ToList();
        if (_caps.NeedsNames)
        {
            foreach (var orphan in images.Where(i => i.OrphanOf is not null && i.Names.Count == 0).ToList())
            {
                options.Log?.Invoke($"note: {orphan.OrphanOf!.Name} {orphan.Key} left out: what it refers to ({orphan.OrphanOf.Subject}) is not in {source.DisplayName}, and it has no name to go under");
                images.Remove(orphan);
            }
        }
        if (images.Count == 0)
            throw new ImageNotFoundException($"{source.DisplayName}: holds no images; nothing to copy");
        if (_caps.NeedsDockerImages && !_caps.KeepsManifests && images.All(i => i.Root is ArtifactNode))
            throw new ImageNotFoundException($"{source.DisplayName}: nothing for {dest.Format}: {string.Join(", ", images.Select(i => $"{i.Label} is an artifact ({((ArtifactNode)i.Root).Type})"))}, not an image; an OCI format (oci-archive, oci, portable) or a registry keeps it");
        var planned = images.Select(i => new Planned(Subset(i), [.. i.Names], [.. i.RefNames])).ToList();
        foreach (var p in planned)
            CheckSignatures(p.Image);
        if (dest.RequestedName is string requested)
        {
            if (planned.Count != 1)
                throw new UsageException($"the destination names one image ('{requested}'), but {planned.Count} are selected (use --image)");
            planned[0].Names.Clear();
            planned[0].RefNames.Clear();
            AddName(planned[0], requested, dest.DisplayName, allowDigest: true, refName: _caps.TakesRefNames);
        }
        if (options.Tags.Count > 0)
        {
            if (planned.Count != 1)
                throw new UsageException($"--tag needs exactly one image, but {planned.Count} are selected (use --image)");
            foreach (var t in options.Tags)
                AddName(planned[0], t, $"--tag {t}", allowDigest: false, refName: false);
        }
        var owner = new Dictionary<ImageName, Planned>();
        foreach (var p in planned)
        {
            foreach (var n in p.Names)
            {
                if (owner.TryGetValue(n, out var other) && other != p)
                    throw new UsageException($"name '{n.Familiar}' would be given to two images ({other.Image.Label} and {p.Image.Label})");
                owner[n] = p;
            }
        }
        return planned;
    }

    /// <summary>
    /// Adds a name (<paramref name="where"/>: what the user typed it in); a text that is no full reference becomes a
    /// bare OCI ref name where <paramref name="refName"/> allows it (an OCI layout's own <c>:NAME</c>).
    /// </summary>
    private static void AddName(Planned p, string text, string where, bool allowDigest, bool refName)
    {
        ImageName.CheckGiven(text, where, refName, allowDigest);
        if (!ImageName.TryParse(text, out var name, out _))
        {
            // oci:DIR:NAME and oci-archive:PATH:NAME take any ref name (a bare tag, as skopeo writes it).
            p.RefNames.Add(text);
            return;
        }
        name = name!.WithDefaultTag();
        if (!p.Names.Contains(name))
            p.Names.Add(name);
    }

    // ---- layers -----------------------------------------------------------------------------------------------------

    private CompressionKind TargetCompression(CompressionKind actual, Digest digest)
    {
        CompressionKind? asked = options.Compress switch
        {
            CompressMode.Gzip => CompressionKind.Gzip,
            CompressMode.Zstd => CompressionKind.Zstd,
            CompressMode.None => CompressionKind.None,
            _ => null,
        };
        if (asked is CompressionKind want)
        {
            if (!_caps.AcceptedLayerCompressions.Contains(want))
                throw new UsageException($"{dest.DisplayName}: cannot take {Compressions.Name(want)} layers ({_caps.RecompressReason ?? "not supported"})");
            if (!_caps.KeptLayerCompressions.Contains(want) && Interlocked.Exchange(ref _warnedCompression, 1) == 0)
                options.Log?.Invoke($"warning: {Compressions.Name(want)} layers in {dest.DisplayName} ({dest.Format}): {_caps.RecompressReason ?? "it may not load them"}");
            return want;
        }
        if (_caps.KeptLayerCompressions.Contains(actual))
            return actual;
        if (Interlocked.Exchange(ref _warnedCompression, 1) == 0)
        {
            string hint = _caps.AcceptedLayerCompressions.Contains(actual) ? $"; use --compress {Compressions.Name(actual)} to keep them" : "";
            options.Log?.Invoke($"note: {Compressions.Name(actual)} layers (first: {digest}) are recompressed as gzip, because {_caps.RecompressReason ?? $"{dest.DisplayName} cannot keep them"}{hint}");
        }
        return CompressionKind.Gzip;
    }

    /// <summary>The layer as it goes out: passed through, or its staged recompression; <paramref name="dockerFamily"/> keeps Docker media types.</summary>
    private Outgoing OutgoingLayer(SourceLayer layer, bool dockerFamily, bool forDocker)
    {
        // An incremental output leaves out a layer the (incremental) source left out itself, and one an earlier
        // archive carried (--since, matched by the digest it goes out with).
        if (_incremental is not null && layer.Blob is null && source.Incremental?.CarrierOf(layer.Descriptor.Digest) is { } before)
            return Omit(new Outgoing(layer.Descriptor, null), before);
        var outgoing = OutgoingLayerOf(layer, dockerFamily, forDocker);
        if (_incremental is not null && options.Since?.CarrierOf(outgoing.Descriptor.Digest) is { } shipped)
            return Omit(outgoing, shipped);
        return outgoing;
    }

    private Outgoing Omit(Outgoing layer, ShippedArchive carrier)
    {
        _omitted.TryAdd(layer.Descriptor.Digest, carrier);
        return layer with { Content = null };
    }

    /// <summary>The destination when it writes an incremental archive (<see cref="CopyOptions.Since"/>, or an incremental source without its bases).</summary>
    private IIncrementalDestination? _incremental;

    /// <summary>The layers left out of an incremental archive, and the archives that carried them.</summary>
    private readonly ConcurrentDictionary<Digest, ShippedArchive> _omitted = new();

    /// <summary>
    /// Before anything is written: decides whether the output is incremental, and checks that a layer the source leaves
    /// out can be done without: a registry must have it already (HEAD), an OCI archive records it as expected from the
    /// earlier archive, and anything else cannot take the image without it.
    /// </summary>
    private async Task CheckIncrementalAsync(List<Planned> planned, List<ImageState> states, CancellationToken cancel)
    {
        var inc = dest as IIncrementalDestination;
        if (options.Since is not null)
        {
            if (inc is not { CanBeIncremental: true })
                throw new UsageException($"--since writes an incremental archive, which needs an OCI archive or layout (portable, oci-archive, oci), not {dest.Format} ({dest.DisplayName})");
            _incremental = inc;
        }
        if (source.Incremental is not { } record)
            return;
        for (int i = 0; i < planned.Count; i++)
        {
            var p = planned[i];
            foreach (var layer in ImagesWritten(p).SelectMany(n => n.Image.Layers).Where(l => l.Blob is null).DistinctBy(l => l.Descriptor.Digest))
            {
                if (record.CarrierOf(layer.Descriptor.Digest) is not { } carrier)
                    continue;
                string hint = $"it was shipped in {carrier}: give --base {carrier.Name}";
                if (inc is { CanBeIncremental: true })
                {
                    _incremental = inc;
                    continue;
                }
                if (!_caps.ReusesBlobs)
                    throw new ImageNotFoundException($"{source.DisplayName} is incremental: {p.Image.Label} needs layer {layer.Descriptor.Digest}, which it leaves out, and {dest.Format} keeps no reference to a layer it does not hold; {hint}");
                var reuse = await states[i].Writer.TryReuseBlobAsync(layer.Descriptor, null, cancel).ConfigureAwait(false);
                if (reuse == BlobReuse.None)
                    throw new ImageNotFoundException($"{dest.DisplayName}: does not have layer {layer.Descriptor.Digest} of {p.Image.Label}, which the incremental {source.DisplayName} leaves out; {hint}, or push that archive first");
            }
        }
        if (_incremental is not null && options.Since is null)
            options.Log?.Invoke($"note: {source.DisplayName} is incremental and no --base was given: {dest.DisplayName} is incremental too (on {string.Join(", ", record.Archives)})");
    }

    private Outgoing OutgoingLayerOf(SourceLayer layer, bool dockerFamily, bool forDocker)
    {
        var src = layer.Descriptor;
        if (layer.Blob is null)
        {
            if (forDocker)
                throw new ArchiveFormatException($"{source.DisplayName}: layer {src.Digest} ({src.MediaType}) is not in the source; docker cannot load an image without it");
            return new Outgoing(src, null);
        }
        var target = TargetCompression(layer.ActualCompression, src.Digest);
        if (target == layer.ActualCompression)
        {
            var content = BlobContent.FromSource(layer.Blob, src.Digest, src.Size, $"layer {src.Digest}");
            if (options.VerifyDiffIds && layer.DiffId is Digest diffId)
            {
                if (layer.ActualCompression == CompressionKind.None)
                {
                    // An uncompressed layer's digest is its diff_id: nothing to read to check it.
                    CheckUncompressedDiffId(layer, " (--no-verify-diff-ids copies it anyway)");
                }
                else if (layer.ActualCompression is CompressionKind.Gzip or CompressionKind.Zstd)
                {
                    string what = $"{source.DisplayName}: layer {src.Digest}";
                    content = content.Through(s => new DiffIdVerifyingStream(s, layer.ActualCompression, diffId, what));
                }
            }
            return new Outgoing(src, content);
        }
        var staged = _staged[(src.Digest, target)];
        var annotations = src.Annotations;
        if (staged.Codec is string codec)
            annotations = new Dictionary<string, string>(annotations ?? new Dictionary<string, string>(), StringComparer.Ordinal) { [GzipCodecAnnotation] = codec };
        var desc = new Descriptor(MediaTypes.LayerFor(target, dockerFamily && target != CompressionKind.Zstd), staged.Digest, staged.Size) { Annotations = annotations, Urls = src.Urls };
        string label = $"layer {staged.Digest}";
        return new Outgoing(desc, staged.Path is string path ? BlobContent.FromStagedFile(path, staged.Digest, staged.Size, label)
            : BlobContent.Decompressed(layer.Blob, src.Digest, src.Size, layer.ActualCompression, staged.Digest, staged.Size, label, $"{source.DisplayName}: layer {src.Digest}"))
        { Recompressed = true };
    }

    /// <summary>An uncompressed layer's digest is its diff_id: a config that says otherwise is refused without reading a byte.</summary>
    private void CheckUncompressedDiffId(SourceLayer layer, string hint)
    {
        if (layer.DiffId is Digest diffId && diffId != layer.Descriptor.Digest)
            throw new DigestMismatchException($"{source.DisplayName}: layer {layer.Descriptor.Digest} is uncompressed, so its diff_id must be the same digest, but the config says {diffId}{hint}");
    }

    /// <summary>The images of a planned entry this copy writes: every image of its tree (manifests kept), and the one docker gets.</summary>
    private List<ImageNode> ImagesWritten(Planned p)
    {
        var images = new List<ImageNode>();
        if (_caps.KeepsManifests)
            images.AddRange(p.Image.Images());
        if (_caps.NeedsDockerImages && p.Image.SelectImage(DockerPlatform) is { } chosen)
            images.Add(chosen);
        return images;
    }

    /// <summary>
    /// The blobs this copy hands to the destination (configs and layers as they go out, artifacts' and referrers'
    /// blobs, layers an index lists as they are), each digest once; what an incremental copy leaves out is not among them.
    /// </summary>
    private Dictionary<string, (long Size, bool Recompressed)> ItemsToWrite(List<Planned> planned)
    {
        var items = new Dictionary<string, (long, bool)>(StringComparer.Ordinal);
        void Add(Outgoing o)
        {
            if (o.Content is not null)
                items.TryAdd(o.Descriptor.Digest.ToString(), (o.Descriptor.Size, false));
        }
        void Artifact(ArtifactNode a)
        {
            foreach (var (d, src) in a.Blobs.Where(b => b.Source is not null))
                Add(new Outgoing(d, BlobContent.FromSource(src!, d.Digest, d.Size, "")));
        }
        void Walk(ManifestNode node, HashSet<ManifestNode> seen)
        {
            if (!seen.Add(node))
                return;
            switch (node)
            {
                case IndexNode x:
                    foreach (var c in x.Children)
                        Walk(c, seen);
                    break;
                case ArtifactNode a:
                    Artifact(a);
                    break;
                case OpaqueNode { Blob: { } blob } o when MediaTypes.IsLayer(o.Descriptor!.MediaType) || o.Descriptor.Size > Json.MaxDocumentBytes:
                    Add(new Outgoing(o.Descriptor, BlobContent.FromSource(blob, o.Descriptor.Digest, o.Descriptor.Size, "")));
                    break;
            }
        }
        foreach (var p in planned)
        {
            foreach (var image in ImagesWritten(p).Select(n => n.Image))
            {
                Add(new Outgoing(image.ConfigDescriptor, BlobContent.FromSource(image.ConfigBlob, image.ConfigDescriptor.Digest, image.ConfigDescriptor.Size, "")));
                // As the layer goes out: kept (one left out has no content), or its recompression, whose digest the
                // recompression tells and whose bytes it counts.
                foreach (var l in image.Layers.Where(l => l.Blob is not null))
                {
                    var target = TargetCompression(l.ActualCompression, l.Descriptor.Digest);
                    if (target != l.ActualCompression)
                        items.TryAdd($"{l.Descriptor.Digest}→{target}", (0, true));
                    else
                        Add(OutgoingLayer(l, dockerFamily: false, forDocker: false));
                }
            }
            if (!_caps.KeepsManifests)
                continue;
            Walk(p.Image.Root, []);
            if (_caps.KeepsReferrers)
            {
                foreach (var r in p.Image.Referrers.Where(r => !(r.Kind == ReferrerKind.Signature && options.RemoveSignatures)))
                    Artifact(r.Artifact);
            }
        }
        return items;
    }

    /// <summary>
    /// The bytes of the blobs this copy hands to the destination (<see cref="ItemsToWrite"/>) that no recompression
    /// counted: what progress calls the write.
    /// </summary>
    private long BytesToWrite(List<Planned> planned) =>
        ItemsToWrite(planned).Values.Where(o => !o.Recompressed).Sum(o => o.Size);

    /// <summary>Every layer of the selected images whose compression changes, once per target compression.</summary>
    private Dictionary<(Digest, CompressionKind), SourceLayer> RecompressionWork(List<Planned> planned)
    {
        var work = new Dictionary<(Digest, CompressionKind), SourceLayer>();
        foreach (var p in planned)
        {
            foreach (var layer in ImagesWritten(p).SelectMany(i => i.Image.Layers).Where(l => l.Blob is not null))
            {
                var target = TargetCompression(layer.ActualCompression, layer.Descriptor.Digest);
                if (target != layer.ActualCompression)
                    work.TryAdd((layer.Descriptor.Digest, target), layer);
            }
        }
        return work;
    }

    /// <summary>Recompresses, in parallel, the layers <see cref="RecompressionWork"/> found.</summary>
    private async Task RecompressAllAsync(Dictionary<(Digest, CompressionKind), SourceLayer> work, CancellationToken cancel)
    {
        if (work.Count == 0)
        {
            // Options for compressing that found nothing to compress: said, not silently taken.
            if (options.CompressionLevel is int level)
                options.Log?.Invoke($"warning: --compress-level {level} did nothing: no layer is compressed by this copy (layers are kept as they are unless --compress gzip|zstd asks, or a destination cannot keep them)");
            else if (options.GzipCodec != GzipCodec.Auto)
                options.Log?.Invoke($"warning: --gzip-codec {GzipEncoder.Name(options.GzipCodec)} did nothing: no layer is gzipped by this copy");
            return;
        }
        string dir = _caps.StagingDirectory ?? Path.GetTempPath();
        if (work.Keys.Any(k => k.Item2 == CompressionKind.Gzip))
        {
            _gzip = GzipEncoder.Resolve(options.GzipCodec, options.CompressionLevel);
            if (options.GzipCodec == GzipCodec.Auto)
                options.Log?.Invoke($"note: layers are gzipped with {_gzip.Description}{(_gzip.Codec == GzipCodec.ZlibNg ? "" : $" (the fastest codec installed; --gzip-codec zlib-ng gives the bytes of machines without it)")}");
        }
        await Parallel.ForEachAsync(work, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, options.Parallelism), CancellationToken = cancel },
            async (kv, ct) => _staged[kv.Key] = await RecompressAsync(kv.Value, kv.Key.Item2, dir, ct).ConfigureAwait(false)).ConfigureAwait(false);
    }

    /// <summary>
    /// Decompresses a layer (checking its digest, and its diff_id on the uncompressed bytes) and compresses it into a
    /// temp file. A layer that goes out uncompressed is not staged: this pass only measures it (size and digest, which
    /// the manifests need), and the destination decompresses it again as it writes it.
    /// </summary>
    private async Task<Staged> RecompressAsync(SourceLayer layer, CompressionKind target, string dir, CancellationToken cancel)
    {
        var src = layer.Descriptor;
        bool staging = target != CompressionKind.None;
        string? temp = null;
        if (staging)
        {
            temp = TemporaryFiles.New(dir, ".", "layer-", ".tmp");
            _tempFiles.Add(temp);
        }
        string item = $"{src.Digest.Short} {Compressions.Name(layer.ActualCompression)}→{Compressions.Name(target)}";
        options.Progress?.Started(item, src.Size);
        try
        {
            await using var raw = await layer.Blob!.OpenVerifiedAsync(src.Digest, src.Size, $"layer {src.Digest}", cancel).ConfigureAwait(false);
            await using var plain = BoundedDecompression.Open(new ProgressReadStream(raw, item, options.Progress, finishes: false), layer.ActualCompression, $"{source.DisplayName}: layer {src.Digest}");
            // An uncompressed layer's diff_id is its digest, which the raw stream checks: hashed once.
            if (layer.ActualCompression == CompressionKind.None)
                CheckUncompressedDiffId(layer, "");
            await using var checkedPlain = layer.ActualCompression == CompressionKind.None ? null
                : new VerifyingStream(plain, $"layer {src.Digest} (uncompressed)", layer.DiffId, null, leaveOpen: true);
            if (!staging)
            {
                var digest = await checkedPlain!.DrainAsync(cancel).ConfigureAwait(false);
                await raw.DrainAsync(cancel).ConfigureAwait(false);
                return new Staged(digest, checkedPlain.BytesRead, null, null);
            }
            await using var file = IO.LocalFiles.CreatePrivate(temp!, options: FileOptions.None);
            using var hashing = new HashingWriteStream(file);
            await using (var compressor = Compressions.Compress(hashing, target, options.CompressionLevel, _gzip))
            {
                Stream input = (Stream?)checkedPlain ?? plain;
                byte[] buf = System.Buffers.ArrayPool<byte>.Shared.Rent(1 << 20);
                try
                {
                    int n;
                    while ((n = await input.ReadAsync(buf, cancel).ConfigureAwait(false)) > 0)
                        await compressor.WriteAsync(buf.AsMemory(0, n), cancel).ConfigureAwait(false);
                }
                finally
                {
                    System.Buffers.ArrayPool<byte>.Shared.Return(buf);
                }
            }
            if (checkedPlain is not null)
                await checkedPlain.DrainAsync(cancel).ConfigureAwait(false);
            await raw.DrainAsync(cancel).ConfigureAwait(false);
            return new Staged(hashing.ComputeDigest(), hashing.Length, temp, target == CompressionKind.Gzip ? _gzip!.Description : null);
        }
        catch (IOException e) when (e is not FileNotFoundException and not EndOfStreamException && e.InnerException is not FerryException)
        {
            throw new OutputException($"{dir}: cannot stage layer {src.Digest}: {(temp is null ? e.Message : e.Message.Replace(temp, dir, StringComparison.Ordinal))}", e);
        }
        finally
        {
            options.Progress?.Finished(item);
        }
    }

    /// <summary>Hands one blob to a writer, once per writer: reused (present or mounted) when the destination can, else put.</summary>
    private Task<CopiedBlob> PutBlobAsync(ImageState state, Outgoing blob, CancellationToken cancel)
    {
        var d = blob.Descriptor;
        var lazy = state.Blobs.GetOrAdd(d.Digest, _ => new Lazy<Task<CopiedBlob>>(async () =>
        {
            var content = blob.Content!;
            string item = ProgressNames.Of(d);
            if (_caps.ReusesBlobs)
            {
                var reuse = await state.Writer.TryReuseBlobAsync(d, content.Origin, cancel).ConfigureAwait(false);
                if (reuse != BlobReuse.None)
                {
                    options.Progress?.Skipped(item, d.Size);
                    return new CopiedBlob(d.Digest, d.Size, d.MediaType, reuse == BlobReuse.Mounted ? BlobAction.Mounted : BlobAction.Present);
                }
            }
            await state.Writer.PutBlobAsync(d, content.Reporting(options.Progress, item, countedBefore: blob.Recompressed), cancel).ConfigureAwait(false);
            return new CopiedBlob(d.Digest, d.Size, d.MediaType, BlobAction.Written);
        }));
        return lazy.Value;
    }

    /// <summary>Puts the blobs (configs, layers) of one image, up to <see cref="DestinationCapabilities.MaxParallelBlobs"/> at once.</summary>
    private async Task PutBlobsAsync(ImageState state, IEnumerable<Outgoing> blobs, CancellationToken cancel)
    {
        var all = blobs.ToList();
        foreach (var b in all.Where(b => b.Content is null && _omitted.ContainsKey(b.Descriptor.Digest)))
            state.Omitted.TryAdd(b.Descriptor.Digest, b.Descriptor);
        var list = all.Where(b => b.Content is not null).DistinctBy(b => b.Descriptor.Digest).ToList();
        await Parallel.ForEachAsync(list, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, _caps.MaxParallelBlobs), CancellationToken = cancel },
            async (b, ct) => await PutBlobAsync(state, b, ct).ConfigureAwait(false)).ConfigureAwait(false);
    }

    // ---- manifest tree ----------------------------------------------------------------------------------------------

    /// <summary>Writes a manifest tree, children before parents; returns the descriptor of its (possibly rewritten) root.</summary>
    private async Task<Descriptor> WriteNodeAsync(ImageState state, ManifestNode node, CancellationToken cancel)
    {
        cancel.ThrowIfCancellationRequested();
        switch (node)
        {
            case IndexNode idx when state.Written.TryGetValue(idx.Index.Digest, out var done):
                return (idx.Descriptor ?? idx.Index.ToDescriptor()) with { MediaType = done.MediaType, Digest = done.Digest, Size = done.Size };
            case ImageNode { Image.Manifest: { } m } img when state.Written.TryGetValue(m.Digest, out var done):
                return (img.Descriptor ?? m.ToDescriptor()) with { MediaType = done.MediaType, Digest = done.Digest, Size = done.Size };
            case ImageNode img:
                return await WriteOciImageAsync(state, img, cancel).ConfigureAwait(false);
            case ArtifactNode artifact:
                return await WriteArtifactAsync(state, artifact, cancel).ConfigureAwait(false);
            case IndexNode idx:
                {
                    var children = new List<Descriptor>();
                    foreach (var c in idx.Children)
                        children.Add(await WriteNodeAsync(state, c, cancel).ConfigureAwait(false));
                    bool changed = children.Zip(idx.Index.Manifests).Any(x => x.First.Digest != x.Second.Digest);
                    byte[] raw = changed ? RewriteIndex(idx.Index.Raw, children) : idx.Index.Raw;
                    var digest = changed ? Digest.Sha256Of(raw) : idx.Index.Digest;
                    var d = (idx.Descriptor ?? idx.Index.ToDescriptor()) with { Digest = digest, Size = raw.LongLength };
                    await state.Writer.PutManifestAsync(d, raw, cancel).ConfigureAwait(false);
                    state.Written[idx.Index.Digest] = d;
                    return d;
                }
            case OpaqueNode opaque:
                {
                    var d = opaque.Descriptor!;
                    if (opaque.Blob is null)
                    {
                        if (!_leftOut.Contains(d.Digest))
                            options.Log?.Invoke($"note: {d.Digest} ({d.MediaType}{(d.Platform is { } p ? ", " + p : "")}) is referenced but not in {source.DisplayName}; the reference is kept");
                        return d;
                    }
                    if (MediaTypes.IsLayer(d.MediaType) || d.Size > Json.MaxDocumentBytes)
                        await PutBlobAsync(state, new Outgoing(d, BlobContent.FromSource(opaque.Blob, d.Digest, d.Size, $"blob {d.Digest}")), cancel).ConfigureAwait(false);
                    else
                        await state.Writer.PutManifestAsync(d, await opaque.Blob.ReadDocumentAsync(d.Digest, d.Size, $"manifest {d.Digest}", cancel).ConfigureAwait(false), cancel).ConfigureAwait(false);
                    return d;
                }
            default:
                throw new InvalidOperationException("unknown node");
        }
    }

    private async Task<Descriptor> WriteOciImageAsync(ImageState state, ImageNode node, CancellationToken cancel)
    {
        var image = node.Image;
        var manifest = image.Manifest;
        bool dockerManifest = manifest is not null && MediaTypes.IsDocker(manifest.MediaType);
        var layers = image.Layers.Select(l => OutgoingLayer(l, dockerManifest, forDocker: false)).ToList();
        var config = new Outgoing(image.ConfigDescriptor, BlobContent.FromSource(image.ConfigBlob, image.ConfigDescriptor.Digest, image.ConfigDescriptor.Size, $"config {image.ConfigDescriptor.Digest}"));
        await PutBlobsAsync(state, layers.Append(config), cancel).ConfigureAwait(false);
        var layerDescs = layers.Select(l => l.Descriptor).ToList();
        bool anyZstd = layerDescs.Any(l => l.MediaType == MediaTypes.OciLayerZstd);
        ImageManifest result;
        if (manifest is null)
            result = ImageManifest.CreateOci(image.ConfigDescriptor with { MediaType = MediaTypes.OciConfig }, layerDescs);
        else if (layerDescs.Zip(manifest.Layers).All(x => x.First.Digest == x.Second.Digest))
            result = manifest;
        else
            result = ImageManifest.Parse(RewriteManifest(manifest.Raw, layerDescs, toOci: dockerManifest && anyZstd), null, "rewritten manifest");
        var d = (node.Descriptor ?? result.ToDescriptor()) with { MediaType = result.MediaType, Digest = result.Digest, Size = result.Raw.LongLength };
        await state.Writer.PutManifestAsync(d, result.Raw, cancel).ConfigureAwait(false);
        if (manifest is not null)
            state.Written[manifest.Digest] = d;
        return d;
    }

    /// <summary>Puts the config and layers of the one image docker gets.</summary>
    private async Task<DockerImage> WriteDockerImageAsync(ImageState state, SourceImage image, CancellationToken cancel)
    {
        var cfg = image.ConfigDescriptor;
        var layers = image.Layers.Select(l => OutgoingLayer(l, dockerFamily: false, forDocker: true)).ToList();
        var config = new Outgoing(cfg, BlobContent.FromSource(image.ConfigBlob, cfg.Digest, cfg.Size, $"config {cfg.Digest}"));
        await PutBlobsAsync(state, layers.Append(config), cancel).ConfigureAwait(false);
        return new DockerImage(cfg, [.. layers.Select(l => l.Descriptor)]);
    }

    private static byte[] RewriteManifest(byte[] raw, List<Descriptor> layers, bool toOci)
    {
        var node = JsonNode.Parse(raw)!.AsObject();
        var arr = node["layers"]!.AsArray();
        for (int i = 0; i < layers.Count; i++)
        {
            var o = arr[i]!.AsObject();
            o["mediaType"] = layers[i].MediaType;
            o["digest"] = layers[i].Digest.ToString();
            o["size"] = layers[i].Size;
        }
        if (toOci)
        {
            node["mediaType"] = MediaTypes.OciManifest;
            node["config"]!.AsObject()["mediaType"] = MediaTypes.OciConfig;
            for (int i = 0; i < layers.Count; i++)
            {
                var o = arr[i]!.AsObject();
                string mt = o["mediaType"]!.GetValue<string>();
                if (MediaTypes.IsDocker(mt))
                    o["mediaType"] = MediaTypes.LayerFor(MediaTypes.LayerCompression(mt), docker: false);
            }
        }
        return Json.Write(w => node.WriteTo(w));
    }

    private static byte[] RewriteIndex(byte[] raw, List<Descriptor> children)
    {
        var node = JsonNode.Parse(raw)!.AsObject();
        var arr = node["manifests"]!.AsArray();
        for (int i = 0; i < children.Count; i++)
        {
            var o = arr[i]!.AsObject();
            o["mediaType"] = children[i].MediaType;
            o["digest"] = children[i].Digest.ToString();
            o["size"] = children[i].Size;
        }
        return Json.Write(w => node.WriteTo(w));
    }

    public ValueTask DisposeAsync()
    {
        foreach (var f in _tempFiles)
            TemporaryFiles.Delete(f);
        return ValueTask.CompletedTask;
    }
}
