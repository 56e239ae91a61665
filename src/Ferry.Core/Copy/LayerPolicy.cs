using Ferry.Compression;
using Ferry.Digests;
using Ferry.Images;
using Ferry.Incremental;
using Ferry.Model;
using Ferry.Transports;

namespace Ferry.Copy;

/// <summary>A layer (or config) as it goes out: its descriptor and where its bytes come from (null: left out, or not in the source; the reference is kept).</summary>
internal sealed record Outgoing(Descriptor Descriptor, BlobContent? Content)
{
    /// <summary>A layer recompressed before it goes out: its bytes were counted by the recompression's item.</summary>
    public bool Recompressed { get; init; }

    /// <summary>How the layer is checked against its diff_id as it goes out.</summary>
    public LayerCheck Check { get; init; }
}

/// <summary>
/// The layer stage: what each layer becomes — kept as it is (its diff_id checked beside the copy), recompressed (what
/// <c>--compress</c> asks, or what the destination cannot keep), decompressed, or left out (an incremental archive) —
/// decided before the first blob is written.
/// </summary>
internal sealed class LayerPolicy(CopyContext context, IReadOnlyDictionary<(Digest, CompressionKind), StagedLayer> staged)
{
    /// <summary>What a layer of compression <paramref name="actual"/> goes out as: what <c>--compress</c> asks, else as it is when the destination keeps it, else gzip.</summary>
    public CompressionKind TargetCompression(CompressionKind actual, Digest digest)
    {
        CompressionKind? asked = context.Options.Compress switch
        {
            CompressMode.Gzip => CompressionKind.Gzip,
            CompressMode.Zstd => CompressionKind.Zstd,
            CompressMode.None => CompressionKind.None,
            _ => null,
        };
        if (asked is CompressionKind want)
        {
            if (!context.Caps.AcceptedLayerCompressions.Contains(want))
                throw new UsageException($"{context.Destination.DisplayName}: cannot take {Compressions.Name(want)} layers ({context.Caps.RecompressReason ?? "not supported"})");
            if (!context.Caps.KeptLayerCompressions.Contains(want))
                context.Once("compression", () => $"warning: {Compressions.Name(want)} layers in {context.Destination.DisplayName} ({context.Destination.Format}): {context.Caps.RecompressReason ?? "it may not load them"}");
            return want;
        }
        if (context.Caps.KeptLayerCompressions.Contains(actual))
            return actual;
        context.Once("compression", () =>
        {
            string hint = context.Caps.AcceptedLayerCompressions.Contains(actual) ? $"; use --compress {Compressions.Name(actual)} to keep them" : "";
            return $"note: {Compressions.Name(actual)} layers (first: {digest}) are recompressed as gzip, because {context.Caps.RecompressReason ?? $"{context.Destination.DisplayName} cannot keep them"}{hint}";
        });
        return CompressionKind.Gzip;
    }

    /// <summary>The layer as it goes out: passed through, or its staged recompression; <paramref name="dockerFamily"/> keeps Docker media types.</summary>
    public Outgoing OutgoingLayer(SourceLayer layer, bool dockerFamily, bool forDocker)
    {
        // An incremental output leaves out a layer the (incremental) source left out itself, and one an earlier
        // archive carried (--since, matched by the digest it goes out with).
        if (context.Incremental && layer.Blob is null && context.Source.Incremental?.CarrierOf(layer.Descriptor.Digest) is { } before)
            return Omit(new Outgoing(layer.Descriptor, null), before);
        var outgoing = OutgoingLayerOf(layer, dockerFamily, forDocker);
        if (context.Incremental && context.Options.Since?.CarrierOf(outgoing.Descriptor.Digest) is { } shipped)
            return Omit(outgoing, shipped);
        return outgoing;
    }

    private Outgoing Omit(Outgoing layer, ShippedArchive carrier)
    {
        context.Omitted.TryAdd(layer.Descriptor.Digest, carrier);
        return layer with { Content = null };
    }

    /// <summary>
    /// Before anything is written: decides whether the output is incremental, and checks that a layer the source leaves
    /// out can be done without: a registry must have it already (HEAD), an OCI archive records it as expected from the
    /// earlier archive, and anything else cannot take the image without it.
    /// </summary>
    public async Task CheckIncrementalAsync(List<PlannedEntry> planned, List<ImageState> states, CancellationToken cancellationToken)
    {
        bool canBeIncremental = context.Caps.KeepsIncremental;
        if (context.Options.Since is not null)
        {
            if (!canBeIncremental)
                throw new UsageException($"--since writes an incremental archive, which needs an OCI archive or layout (portable, oci-archive, oci), not {context.Destination.Format} ({context.Destination.DisplayName})");
            context.Incremental = true;
        }
        if (context.Source.Incremental is not { } record)
            return;
        for (int i = 0; i < planned.Count; i++)
        {
            var p = planned[i];
            foreach (var layer in context.ImagesWritten(p).SelectMany(n => n.Image.Layers).Where(l => l.Blob is null).DistinctBy(l => l.Descriptor.Digest))
            {
                if (record.CarrierOf(layer.Descriptor.Digest) is not { } carrier)
                    continue;
                string hint = $"it was shipped in {carrier}: give --base {carrier.Name}";
                if (canBeIncremental)
                {
                    context.Incremental = true;
                    continue;
                }
                if (!context.Caps.ReusesBlobs)
                    throw new ImageNotFoundException($"{context.Source.DisplayName} is incremental: {p.Image.Label} needs layer {layer.Descriptor.Digest}, which it leaves out, and {context.Destination.Format} keeps no reference to a layer it does not hold; {hint}");
                var reuse = await states[i].Writer.TryReuseBlobAsync(layer.Descriptor, null, cancellationToken).ConfigureAwait(false);
                if (reuse == BlobReuse.None)
                    throw new ImageNotFoundException($"{context.Destination.DisplayName}: does not have layer {layer.Descriptor.Digest} of {p.Image.Label}, which the incremental {context.Source.DisplayName} leaves out; {hint}, or push that archive first");
            }
        }
        if (context.Incremental && context.Options.Since is null)
            context.Log($"note: {context.Source.DisplayName} is incremental and no --base was given: {context.Destination.DisplayName} is incremental too (on {string.Join(", ", record.Archives)})");
    }

    private Outgoing OutgoingLayerOf(SourceLayer layer, bool dockerFamily, bool forDocker)
    {
        var src = layer.Descriptor;
        if (layer.Blob is null)
        {
            if (forDocker)
                throw new ArchiveFormatException($"{context.Source.DisplayName}: layer {src.Digest} ({src.MediaType}) is not in the source; docker cannot load an image without it");
            return new Outgoing(src, null);
        }
        var target = TargetCompression(layer.ActualCompression, src.Digest);
        if (target == layer.ActualCompression)
        {
            var content = BlobContent.FromSource(layer.Blob, src.Digest, src.Size, $"layer {src.Digest}");
            if (context.Options.VerifyDiffIds && layer.DiffId is Digest diffId)
            {
                if (layer.ActualCompression == CompressionKind.None)
                {
                    // An uncompressed layer's digest is its diff_id: nothing to read to check it.
                    CheckUncompressedDiffId(layer, " (--no-verify-diff-ids copies it anyway)");
                }
                else if (layer.ActualCompression is CompressionKind.Gzip or CompressionKind.Zstd)
                {
                    // A layer whose pair the verified-layer cache holds is not inflated again (its compressed bytes are
                    // hashed on every byte as always); any other is inflated beside the copy, and remembered once it matched.
                    if (context.LayerCache.Check(src.Digest, src.MediaType, diffId) == Caching.DiffIdCheck.Cache)
                        return new Outgoing(src, content) { Check = LayerCheck.Cached };
                    string what = $"{context.Source.DisplayName}: layer {src.Digest}";
                    var cache = context.LayerCache;
                    content = content.Through(s => cache.RecordAtEnd(new DiffIdVerifyingStream(s, layer.ActualCompression, diffId, what), src.Digest, src.MediaType, diffId));
                    return new Outgoing(src, content) { Check = LayerCheck.Inflated };
                }
            }
            return new Outgoing(src, content);
        }
        var done = staged[(src.Digest, target)];
        var annotations = src.Annotations;
        if (done.Codec is string codec)
            annotations = new Dictionary<string, string>(annotations ?? new Dictionary<string, string>(), StringComparer.Ordinal) { [MediaTypes.GzipCodecAnnotation] = codec };
        var desc = new Descriptor(MediaTypes.LayerFor(target, dockerFamily && target != CompressionKind.Zstd), done.Digest, done.Size) { Annotations = annotations, Urls = src.Urls };
        string label = $"layer {done.Digest}";
        return new Outgoing(desc, done.Path is string path ? BlobContent.FromStagedFile(path, done.Digest, done.Size, label)
            : BlobContent.Decompressed(layer.Blob, src.Digest, src.Size, layer.ActualCompression, done.Digest, done.Size, label, $"{context.Source.DisplayName}: layer {src.Digest}"))
        { Recompressed = true, Check = layer.ActualCompression == CompressionKind.None || !context.Options.VerifyDiffIds ? LayerCheck.None : LayerCheck.Inflated };
    }

    /// <summary>An uncompressed layer's digest is its diff_id: a config that says otherwise is refused without reading a byte.</summary>
    public void CheckUncompressedDiffId(SourceLayer layer, string hint)
    {
        if (layer.DiffId is Digest diffId && diffId != layer.Descriptor.Digest)
            throw new DigestMismatchException($"{context.Source.DisplayName}: layer {layer.Descriptor.Digest} is uncompressed, so its diff_id must be the same digest, but the config says {diffId}{hint}");
    }

    /// <summary>Every layer of the selected images whose compression changes, once per target compression.</summary>
    public Dictionary<(Digest, CompressionKind), SourceLayer> RecompressionWork(List<PlannedEntry> planned)
    {
        var work = new Dictionary<(Digest, CompressionKind), SourceLayer>();
        foreach (var p in planned)
        {
            foreach (var layer in context.ImagesWritten(p).SelectMany(i => i.Image.Layers).Where(l => l.Blob is not null))
            {
                var target = TargetCompression(layer.ActualCompression, layer.Descriptor.Digest);
                if (target != layer.ActualCompression)
                    work.TryAdd((layer.Descriptor.Digest, target), layer);
            }
        }
        return work;
    }
}
