using System.Collections.Concurrent;
using Ferry.Compression;
using Ferry.Digests;
using Ferry.Images;
using Ferry.Incremental;
using Ferry.Model;
using Ferry.Transports;

namespace Ferry.Copy;

/// <summary>
/// One copy from an opened source to an opened destination, as named stages run in order:
/// <list type="number">
/// <item><see cref="Planner"/>: the images, their platforms and names, the signature guard;</item>
/// <item>admission (<see cref="CopyOptions.Admission"/>): an image a policy refuses is never written — the seam where
/// signature policies plug in, before the destination hears of any image;</item>
/// <item><see cref="LayerPolicy"/>: what each layer becomes (and whether the output is incremental);</item>
/// <item><see cref="Recompressor"/>: the layers whose compression changes, staged in parallel;</item>
/// <item>per image, <see cref="BlobTransfer"/> and <see cref="ManifestWriter"/>: blobs, then manifests children
/// before parents, then referrers and the docker image;</item>
/// <item>commit: only now does anything become visible.</item>
/// </list>
/// Every stage reads what the destination declares it can do (<see cref="DestinationCapabilities"/>).
/// </summary>
internal sealed class CopyJob(IImageSource source, IImageDestination destination, CopyOptions options) : IDisposable
{
    private readonly CopyContext _context = new(source, destination, options);
    private readonly ConcurrentDictionary<(Digest, CompressionKind), StagedLayer> _staged = new();
    private Recompressor? _recompressor;

    public async Task<CopyResult> RunAsync(CancellationToken cancellationToken)
    {
        var context = _context;
        var layers = new LayerPolicy(context, _staged);
        var planned = new Planner(context, layers).Plan();
        var refused = await AdmitAsync(planned, cancellationToken).ConfigureAwait(false);
        var transfer = new BlobTransfer(context, layers);
        var manifests = new ManifestWriter(context, layers, transfer);
        var states = new List<ImageState>();
        foreach (var p in planned)
            states.Add(new ImageState(await destination.BeginImageAsync(p.ToPlannedImage(), cancellationToken).ConfigureAwait(false)));
        await layers.CheckIncrementalAsync(planned, states, cancellationToken).ConfigureAwait(false);
        // The whole job is planned before its first byte: its items (each recompression, each blob that goes out) and
        // its bytes, each once (a recompressed layer's by its recompression).
        var work = layers.RecompressionWork(planned);
        options.Progress?.PlannedItems(work.Count + transfer.ItemsToWrite(planned).Count);
        options.Progress?.Planned(work.Values.Sum(l => l.Descriptor.Size) + transfer.BytesToWrite(planned));
        _recompressor = new Recompressor(context, layers, _staged);
        await _recompressor.RunAsync(work, cancellationToken).ConfigureAwait(false);
        var results = new List<CopiedImage>();
        for (int i = 0; i < planned.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            results.Add(await WriteImageAsync(planned[i], states[i], manifests, cancellationToken).ConfigureAwait(false));
        }
        if (options.Since is not null && context.Omitted.IsEmpty)
            context.Log($"note: --since left nothing out: no layer of {(results.Count == 1 ? "this image" : "these images")} was shipped in {string.Join(", ", options.Since.Archives)}; {destination.DisplayName} is complete");
        if (context.Incremental && !context.Omitted.IsEmpty)
        {
            var record = ShipRecord.Empty();
            foreach (var (digest, carrier) in context.Omitted.OrderBy(o => o.Key.ToString(), StringComparer.Ordinal))
                record.Add(digest, carrier);
            destination.RecordOmitted(record);
        }
        var messages = await destination.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new CopyResult(source.DisplayName, source.Format, destination.DisplayName, destination.Format, results, messages) { Refused = refused };
    }

    /// <summary>
    /// Asks <see cref="CopyOptions.Admission"/> about each planned image before anything is written: one it refuses
    /// stops the copy, or with <see cref="CopyOptions.ContinueOnError"/> is left out (and reported).
    /// </summary>
    private async Task<IReadOnlyList<RefusedImage>> AdmitAsync(List<PlannedEntry> planned, CancellationToken cancellationToken)
    {
        if (options.Admission is not { } admission)
            return [];
        var refused = new List<RefusedImage>();
        foreach (var p in planned.ToList())
        {
            var verdict = await admission.AdmitAsync(p.Image, source, cancellationToken).ConfigureAwait(false);
            if (verdict.Admitted)
                continue;
            var r = new RefusedImage(p.Image.Label, p.Image.Key, verdict.Reason ?? "refused");
            if (!options.ContinueOnError)
                throw new ImageRefusedException(r);
            refused.Add(r);
            planned.Remove(p);
            _context.Log($"warning: {r.Label}: not copied: {r.Reason}");
        }
        if (planned.Count == 0)
            throw new ImageRefusedException(refused[0], refused.Count);
        return refused;
    }

    /// <summary>Writes one planned image: its manifest tree and referrers (when kept), the docker image (when needed), and finishes it.</summary>
    private async Task<CopiedImage> WriteImageAsync(PlannedEntry p, ImageState state, ManifestWriter manifests, CancellationToken cancellationToken)
    {
        var caps = _context.Caps;
        Descriptor? root = null;
        if (caps.KeepsManifests)
        {
            root = await manifests.WriteNodeAsync(state, p.Image.Root, cancellationToken).ConfigureAwait(false);
            await manifests.WriteReferrersAsync(state, p.Image, cancellationToken).ConfigureAwait(false);
        }
        else if (p.Image.Referrers.Count > 0)
        {
            _context.Once("referrers", () => $"note: {p.Image.Label}: its {p.Image.Referrers.Count} referrer(s) (signatures, attestations, SBOMs) are left out: {destination.Format} has no place for them");
        }
        DockerImage? docker = null;
        var platform = _context.DockerPlatform;
        ImageNode? chosen = p.Image.SelectImage(platform);
        if (caps.NeedsDockerImages)
        {
            if (p.Image.Root is ArtifactNode art)
                _context.Log($"note: {p.Image.Label} is an artifact ({art.Type}), not an image: {(caps.KeepsManifests ? "kept on the OCI side only" : "left out")}");
            else if (chosen is null)
                throw new ImageNotFoundException($"{source.DisplayName}: {p.Image.Label}: no image for platform {platform ?? Platform.Host} (has: {string.Join(", ", p.Image.Images().Select(n => NamedImage.PlatformOf(n)?.ToString() ?? "?"))})");
            else
                docker = await manifests.WriteDockerImageAsync(state, chosen.Image, cancellationToken).ConfigureAwait(false);
        }
        var written = await state.Writer.FinishAsync(root, docker, cancellationToken).ConfigureAwait(false);
        var blobs = new List<CopiedBlob>();
        foreach (var b in state.Blobs.Values)
            blobs.Add(await b.Value.ConfigureAwait(false));
        blobs.AddRange(state.Omitted.Values.Select(d => new CopiedBlob(d.Digest, d.Size, d.MediaType, BlobAction.Omitted)));
        var id = chosen?.Image.ImageId ?? p.Image.Key;
        var sorted = blobs.OrderBy(b => b.Digest.ToString(), StringComparer.Ordinal).ToList();
        return new CopiedImage([.. p.Names.Select(n => n.ToString()), .. p.RefNames], id, root?.Digest, written.References, written.DestinationId, sorted)
        {
            PerReference = written.BlobsByReference is { } per
                ? [.. per.Select(kv => new CopiedReference(kv.Key, [.. sorted.Select(b => kv.Value.TryGetValue(b.Digest, out var a) ? b with { Action = a } : b)]))]
                : [],
        };
    }

    /// <summary>Frees staged layers, and keeps the pairs the verified-layer cache learnt (true whether or not the copy finished).</summary>
    public void Dispose()
    {
        _recompressor?.Dispose();
        _context.LayerCache.Flush();
    }
}
