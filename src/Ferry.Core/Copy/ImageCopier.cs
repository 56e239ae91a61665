using Ferry.Incremental;
using Ferry.Model;
using Ferry.Transports;

namespace Ferry.Copy;

/// <summary>
/// Copies images from any source to any destination: one pipeline for every pair, run as named stages (plan,
/// admission, layer policy, recompression, transfer, manifests, commit; see <c>CopyJob</c>). It selects images and
/// names them, decides per layer whether its bytes pass through or are recompressed (only when
/// <see cref="CopyOptions.Compress"/> asks, or the destination cannot keep their compression), writes the manifest tree
/// (when the destination keeps manifests) and the one docker image per name (when it needs them), and commits. Config
/// bytes are never changed; manifests and indexes keep their bytes unless a layer's compression changes. Every blob is
/// verified against its digest and size as it is read.
/// </summary>
public static class ImageCopier
{
    /// <summary>Parses both references with <see cref="TransportRegistry.Default"/> and copies.</summary>
    /// <exception cref="FerryException">Anything that stops the copy; nothing is written then.</exception>
    public static Task<CopyResult> CopyAsync(string source, string destination, CopyOptions options, CancellationToken cancellationToken = default) =>
        CopyAsync(TransportRegistry.Default.Parse(source), TransportRegistry.Default.Parse(destination), options, cancellationToken);

    /// <summary>Opens the destination (checked before the source is read, which may mean a download), then the source, and copies.</summary>
    /// <exception cref="FerryException">Anything that stops the copy; nothing is written then.</exception>
    public static Task<CopyResult> CopyAsync(ImageReference source, ImageReference destination, CopyOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        return CopyAsync([source], destination, options, cancellationToken);
    }

    /// <summary>
    /// Copies the images of several sources as one (as <c>pull REF...</c> does: an image named by several references is
    /// one image with all their names, blobs shared between images written once) to one destination. The destination
    /// is opened first (checked before any source is read, which may mean a download). With
    /// <see cref="CopyOptions.Record"/>, the record of the archive written is written after it.
    /// </summary>
    /// <exception cref="FerryException">Anything that stops the copy; nothing is written then.</exception>
    public static async Task<CopyResult> CopyAsync(IReadOnlyList<ImageReference> sources, ImageReference destination, CopyOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sources);
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(options);
        // Compared by real path (symlinks, .. and /proc/self/cwd resolved): writing through an alias would replace the input.
        // (An OCI layout directory is a store: adding to the one read from, as a retag does, rewrites none of its files but index.json, atomically.)
        foreach (var source in sources)
        {
            if (source.LocalPath is string a && destination.LocalPath is string b && TemporaryFiles.RealPath(a) == TemporaryFiles.RealPath(b) && !IsLayoutStore(destination, options, b))
                throw new OutputException($"{b}: refusing to overwrite the input");
        }
        if (options.Record is not null && destination.LocalPath is null)
            throw new UsageException("--record records an archive written on this machine: DEST must be a file");
        // Names are checked where they enter, before anything is opened (which may mean a download).
        foreach (var t in options.Tags)
            ImageName.CheckGiven(t, $"--tag {t}", allowDigest: false);
        CopyResult result;
        await using (var dest = await destination.Transport.OpenDestinationAsync(destination, options.Destination with { Log = options.Destination.Log ?? options.Log, Progress = options.Destination.Progress ?? options.Progress }, cancellationToken).ConfigureAwait(false))
        {
            var sourceOptions = options.Source with { Log = options.Source.Log ?? options.Log, Progress = options.Source.Progress ?? options.Progress, Platforms = options.Source.Platforms ?? options.Platforms };
            await using var src = await ImageSources.OpenAsync(sources, sourceOptions, cancellationToken).ConfigureAwait(false);
            result = await CopyAsync(src, dest, options, cancellationToken).ConfigureAwait(false);
        }
        // What the archive just written shipped (its own layers, and what it extends), for a later Since.
        if (options.Record is string record)
            await (await ShipRecord.LoadAsync(destination.LocalPath!, cancellationToken).ConfigureAwait(false)).WriteAsync(record, cancellationToken).ConfigureAwait(false);
        return result;
    }

    private static bool IsLayoutStore(ImageReference destination, CopyOptions options, string path) =>
        destination is Transports.Files.ArchiveReference r
        && (r.Transport is Transports.OciLayout.OciDirectoryTransport || (r.Transport is Transports.Files.PathTransport && options.Destination.Archive.Format == OutputFormat.Oci))
        && File.Exists(Path.Combine(path, "oci-layout")) && File.Exists(Path.Combine(path, "index.json"));

    /// <summary>Copies the images of an opened source to an opened destination and commits it.</summary>
    /// <exception cref="FerryException">Anything that stops the copy; the destination is then not committed.</exception>
    public static async Task<CopyResult> CopyAsync(IImageSource source, IImageDestination destination, CopyOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(options);
        foreach (var w in source.Warnings)
            options.Log?.Invoke("warning: " + w);
        using var job = new CopyJob(source, destination, options);
        try
        {
            return await job.RunAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (EndOfStreamException e)
        {
            throw new ArchiveFormatException($"{source.DisplayName}: ended early (was it truncated while it was read?): {e.Message}", e);
        }
    }
}
