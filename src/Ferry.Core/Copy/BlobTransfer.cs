using System.Collections.Concurrent;
using Ferry.Digests;
using Ferry.Images;
using Ferry.Model;
using Ferry.Progress;
using Ferry.Transports;

namespace Ferry.Copy;

/// <summary>What one image's writer was given: each blob once, each manifest once (by source digest), the layers left out.</summary>
internal sealed class ImageState(IImageWriter writer)
{
    public IImageWriter Writer { get; } = writer;
    public ConcurrentDictionary<Digest, Lazy<Task<CopiedBlob>>> Blobs { get; } = new();

    /// <summary>Manifests and indexes already written (an index graph may list one many times), by source digest.</summary>
    public Dictionary<Digest, Descriptor> Written { get; } = [];

    /// <summary>Layers of this image left out of an incremental archive.</summary>
    public ConcurrentDictionary<Digest, Descriptor> Omitted { get; } = new();
}

/// <summary>
/// The transfer stage: hands blobs to the destination's writers — each digest once per image, reused (present, or
/// mounted from another repository) where the destination can, else put, several at once — and reports progress. It
/// also says, before the first byte, what the job will move (<see cref="ItemsToWrite"/>).
/// </summary>
internal sealed class BlobTransfer(CopyContext context, LayerPolicy layers)
{
    /// <summary>
    /// The blobs this copy hands to the destination (configs and layers as they go out, artifacts' and referrers'
    /// blobs, layers an index lists as they are), each digest once; what an incremental copy leaves out is not among them.
    /// </summary>
    public Dictionary<string, (long Size, bool Recompressed)> ItemsToWrite(List<PlannedEntry> planned)
    {
        var items = new Dictionary<string, (long, bool)>(StringComparer.Ordinal);
        void Add(Outgoing o)
        {
            if (o.Content is not null)
                items.TryAdd(o.Descriptor.Digest.ToString(), (o.Descriptor.Size, false));
        }
        var loose = new LooseBlobs();
        foreach (var p in planned)
        {
            foreach (var image in context.ImagesWritten(p).Select(n => n.Image))
            {
                Add(new Outgoing(image.ConfigDescriptor, BlobContent.FromSource(image.ConfigBlob, image.ConfigDescriptor.Digest, image.ConfigDescriptor.Size, "")));
                // As the layer goes out: kept (one left out has no content), or its recompression, whose digest the
                // recompression tells and whose bytes it counts.
                foreach (var l in image.Layers.Where(l => l.Blob is not null))
                {
                    var target = layers.TargetCompression(l.ActualCompression, l.Descriptor.Digest);
                    if (target != l.ActualCompression)
                        items.TryAdd($"{l.Descriptor.Digest}→{target}", (0, true));
                    else
                        Add(layers.OutgoingLayer(l, dockerFamily: false, forDocker: false));
                }
            }
            if (!context.Caps.KeepsManifests)
                continue;
            foreach (var o in ImageWalk.Visit(p.Image.Root, loose).SelectMany(x => x))
                Add(o);
            if (context.Caps.KeepsReferrers)
            {
                foreach (var r in p.Image.Referrers.Where(r => !(r.Kind == ReferrerKind.Signature && context.Options.RemoveSignatures)))
                {
                    foreach (var o in loose.Artifact(r.Artifact))
                        Add(o);
                }
            }
        }
        return items;
    }

    /// <summary>The blobs of a graph that go out as they are, besides images' configs and layers: artifacts' blobs, and layers an index lists.</summary>
    private sealed class LooseBlobs : IManifestVisitor<IEnumerable<Outgoing>>
    {
        public IEnumerable<Outgoing> Index(IndexNode node) => [];

        public IEnumerable<Outgoing> Image(ImageNode node) => [];

        public IEnumerable<Outgoing> Artifact(ArtifactNode node) =>
            node.Blobs.Where(b => b.Source is not null).Select(b => new Outgoing(b.Descriptor, BlobContent.FromSource(b.Source!, b.Descriptor.Digest, b.Descriptor.Size, "")));

        public IEnumerable<Outgoing> Opaque(OpaqueNode node) =>
            node is { Blob: { } blob, Descriptor: { } d } && (MediaTypes.IsLayer(d.MediaType) || d.Size > Json.MaxDocumentBytes)
                ? [new Outgoing(d, BlobContent.FromSource(blob, d.Digest, d.Size, ""))]
                : [];
    }

    /// <summary>
    /// The bytes of the blobs this copy hands to the destination (<see cref="ItemsToWrite"/>) that no recompression
    /// counted: what progress calls the write.
    /// </summary>
    public long BytesToWrite(List<PlannedEntry> planned) =>
        ItemsToWrite(planned).Values.Where(o => !o.Recompressed).Sum(o => o.Size);

    /// <summary>Hands one blob to a writer, once per writer: reused (present or mounted) when the destination can, else put.</summary>
    public Task<CopiedBlob> PutBlobAsync(ImageState state, Outgoing blob, CancellationToken cancellationToken)
    {
        var d = blob.Descriptor;
        var lazy = state.Blobs.GetOrAdd(d.Digest, _ => new Lazy<Task<CopiedBlob>>(async () =>
        {
            var content = blob.Content!;
            string item = ProgressNames.Of(d);
            if (context.Caps.ReusesBlobs)
            {
                var reuse = await state.Writer.TryReuseBlobAsync(d, content.Origin, cancellationToken).ConfigureAwait(false);
                if (reuse != BlobReuse.None)
                {
                    context.Options.Progress?.Skipped(item, d.Size);
                    // Not read: its diff_id is known only when the verified-layer cache vouches for it.
                    return new CopiedBlob(d.Digest, d.Size, d.MediaType, reuse == BlobReuse.Mounted ? BlobAction.Mounted : BlobAction.Present)
                    { Check = blob.Check == LayerCheck.Cached ? LayerCheck.Cached : LayerCheck.None };
                }
            }
            await state.Writer.PutBlobAsync(d, content.Reporting(context.Options.Progress, item, countedBefore: blob.Recompressed), cancellationToken).ConfigureAwait(false);
            return new CopiedBlob(d.Digest, d.Size, d.MediaType, BlobAction.Written) { Check = blob.Check };
        }));
        return lazy.Value;
    }

    /// <summary>Puts the blobs (configs, layers) of one image, up to <see cref="DestinationCapabilities.MaxParallelBlobs"/> at once.</summary>
    public async Task PutBlobsAsync(ImageState state, IEnumerable<Outgoing> blobs, CancellationToken cancellationToken)
    {
        var all = blobs.ToList();
        foreach (var b in all.Where(b => b.Content is null && context.Omitted.ContainsKey(b.Descriptor.Digest)))
            state.Omitted.TryAdd(b.Descriptor.Digest, b.Descriptor);
        var list = all.Where(b => b.Content is not null).DistinctBy(b => b.Descriptor.Digest).ToList();
        await Parallel.ForEachAsync(list, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, context.Caps.MaxParallelBlobs), CancellationToken = cancellationToken },
            async (b, ct) => await PutBlobAsync(state, b, ct).ConfigureAwait(false)).ConfigureAwait(false);
    }
}
