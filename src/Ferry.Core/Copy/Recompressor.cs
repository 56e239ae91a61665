using System.Collections.Concurrent;
using Ferry.Compression;
using Ferry.Digests;
using Ferry.Images;
using Ferry.Progress;

namespace Ferry.Copy;

/// <summary>A layer recompressed into a temp file (or, going out uncompressed, only measured: no file).</summary>
internal sealed record StagedLayer(Digest Digest, long Size, string? Path, string? Codec);

/// <summary>
/// Recompresses the layers whose compression changes, in parallel (one per core), each into a temp file beside the
/// destination, checking its digest and diff_id on the way: the digests the manifests need are known before anything
/// is written. Disposing deletes the temp files.
/// </summary>
internal sealed class Recompressor(CopyContext context, LayerPolicy layers, ConcurrentDictionary<(Digest, CompressionKind), StagedLayer> staged) : IDisposable
{
    private readonly ConcurrentBag<string> _tempFiles = [];

    /// <summary>The gzip codec and level of this copy, resolved when the first layer is to be gzipped.</summary>
    private GzipEncoder? _gzip;

    /// <summary>Recompresses, in parallel, the layers <see cref="LayerPolicy.RecompressionWork"/> found.</summary>
    public async Task RunAsync(Dictionary<(Digest, CompressionKind), SourceLayer> work, CancellationToken cancellationToken)
    {
        if (work.Count == 0)
        {
            // Options for compressing that found nothing to compress: said, not silently taken.
            if (context.Options.CompressionLevel is int level)
                context.Log($"warning: --compress-level {level} did nothing: no layer is compressed by this copy (layers are kept as they are unless --compress gzip|zstd asks, or a destination cannot keep them)");
            else if (context.Options.GzipCodec != GzipCodec.Auto)
                context.Log($"warning: --gzip-codec {GzipEncoder.Name(context.Options.GzipCodec)} did nothing: no layer is gzipped by this copy");
            return;
        }
        string dir = context.Caps.StagingDirectory ?? Path.GetTempPath();
        if (work.Keys.Any(k => k.Item2 == CompressionKind.Gzip))
        {
            _gzip = GzipEncoder.Resolve(context.Options.GzipCodec, context.Options.CompressionLevel);
            if (context.Options.GzipCodec == GzipCodec.Auto)
                context.Log($"note: layers are gzipped with {_gzip.Description}{(_gzip.Codec == GzipCodec.ZlibNg ? "" : $" (the fastest codec installed; --gzip-codec zlib-ng gives the bytes of machines without it)")}");
        }
        await Parallel.ForEachAsync(work, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, context.Options.Parallelism), CancellationToken = cancellationToken },
            async (kv, ct) => staged[kv.Key] = await RecompressAsync(kv.Value, kv.Key.Item2, dir, ct).ConfigureAwait(false)).ConfigureAwait(false);
    }

    /// <summary>
    /// Decompresses a layer (checking its digest, and its diff_id on the uncompressed bytes) and compresses it into a
    /// temp file. A layer that goes out uncompressed is not staged: this pass only measures it (size and digest, which
    /// the manifests need), and the destination decompresses it again as it writes it.
    /// </summary>
    private async Task<StagedLayer> RecompressAsync(SourceLayer layer, CompressionKind target, string dir, CancellationToken cancellationToken)
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
        context.Options.Progress?.Started(item, src.Size);
        try
        {
            await using var raw = await layer.Blob!.OpenVerifiedAsync(src.Digest, src.Size, $"layer {src.Digest}", cancellationToken).ConfigureAwait(false);
            await using var plain = BoundedDecompression.Open(new ProgressReadStream(raw, item, context.Options.Progress, finishes: false), layer.ActualCompression, $"{context.Source.DisplayName}: layer {src.Digest}");
            // An uncompressed layer's diff_id is its digest, which the raw stream checks: hashed once.
            if (layer.ActualCompression == CompressionKind.None)
                layers.CheckUncompressedDiffId(layer, "");
            await using var checkedPlain = layer.ActualCompression == CompressionKind.None ? null
                : new VerifyingStream(plain, $"layer {src.Digest} (uncompressed)", layer.DiffId, null, leaveOpen: true);
            if (!staging)
            {
                var digest = await checkedPlain!.DrainAsync(cancellationToken).ConfigureAwait(false);
                await raw.DrainAsync(cancellationToken).ConfigureAwait(false);
                Verified(layer);
                return new StagedLayer(digest, checkedPlain.BytesRead, null, null);
            }
            await using var file = IO.LocalFiles.CreatePrivate(temp!, options: FileOptions.None);
            using var hashing = new HashingWriteStream(file);
            await using (var compressor = Compressions.Compress(hashing, target, context.Options.CompressionLevel, _gzip))
            {
                Stream input = (Stream?)checkedPlain ?? plain;
                byte[] buf = System.Buffers.ArrayPool<byte>.Shared.Rent(1 << 20);
                try
                {
                    int n;
                    while ((n = await input.ReadAsync(buf, cancellationToken).ConfigureAwait(false)) > 0)
                        await compressor.WriteAsync(buf.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    System.Buffers.ArrayPool<byte>.Shared.Return(buf);
                }
            }
            if (checkedPlain is not null)
                await checkedPlain.DrainAsync(cancellationToken).ConfigureAwait(false);
            await raw.DrainAsync(cancellationToken).ConfigureAwait(false);
            if (checkedPlain is not null)
                Verified(layer);
            return new StagedLayer(hashing.ComputeDigest(), hashing.Length, temp, target == CompressionKind.Gzip ? _gzip!.Description : null);
        }
        catch (IOException e) when (e is not FileNotFoundException and not EndOfStreamException && e.InnerException is not FerryException)
        {
            throw new OutputException($"{dir}: cannot stage layer {src.Digest}: {(temp is null ? e.Message : e.Message.Replace(temp, dir, StringComparison.Ordinal))}", e);
        }
        finally
        {
            context.Options.Progress?.Finished(item);
        }
    }

    /// <summary>A layer whose compressed bytes and diff_id both matched while it was recompressed: the cache remembers the pair.</summary>
    private void Verified(SourceLayer layer)
    {
        if (layer.DiffId is { } diffId)
            context.LayerCache.Record(layer.Descriptor.Digest, layer.Descriptor.MediaType, diffId);
    }

    public void Dispose()
    {
        foreach (var f in _tempFiles)
            TemporaryFiles.Delete(f);
    }
}
