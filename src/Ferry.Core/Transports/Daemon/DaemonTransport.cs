using Ferry.Transports.Files;
using Ferry.Transports.Layout;

namespace Ferry.Transports.Daemon;

/// <summary>
/// <c>docker-daemon:NAME[:TAG]</c>, <c>docker-daemon:sha256:ID</c>, or several names separated by commas: images of a
/// Docker Engine (docker, or podman's service). As a destination the name, if given, renames the one image loaded.
/// </summary>
public sealed class DaemonReference : ImageReference
{
    internal DaemonReference(IReadOnlyList<string> names) => Names = names;

    /// <inheritdoc/>
    public override ITransport Transport => DaemonTransport.Instance;

    /// <summary>The names or IDs (empty: a destination that keeps the images' names).</summary>
    public IReadOnlyList<string> Names { get; }

    /// <inheritdoc/>
    public override string ToString() => "docker-daemon:" + string.Join(",", Names);
}

/// <summary>The <c>docker-daemon:</c> transport: the Docker Engine API over a unix socket or TCP.</summary>
internal sealed class DaemonTransport : ITransport
{
    public static DaemonTransport Instance { get; } = new();

    public string Name => "docker-daemon";

    public ImageReference ParseReference(string reference) =>
        new DaemonReference(reference.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    /// <summary>Saves the images (<c>GET /images/get</c>) into one temp file, deleted when the source is disposed, and reads it as an archive.</summary>
    public async ValueTask<IImageSource> OpenSourceAsync(ImageReference reference, TransportOptions options, CancellationToken cancellationToken = default)
    {
        var r = Check(reference);
        if (r.Names.Count == 0)
            throw new UsageException("docker-daemon: needs an image name or ID (docker-daemon:NAME[:TAG])");
        using var client = new DockerEngineClient(options.Daemon.Host, options.Timeout) { MaxSaveBytes = options.Daemon.MaxSaveBytes };
        await client.NegotiateAsync(cancellationToken).ConfigureAwait(false);
        string temp = TemporaryFiles.New(options.TempDir, "", "save-", ".tar");
        try
        {
            FileStream fs;
            try
            {
                fs = IO.LocalFiles.CreatePrivate(temp);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new OutputException($"{options.TempDir}: cannot spool the daemon's save there: {e.Message.Replace(temp, options.TempDir, StringComparison.Ordinal)}", e);
            }
            string item = $"docker save {string.Join(",", r.Names)}";
            options.Progress?.Started(item, -1);
            try
            {
                await using (fs)
                    await client.SaveAsync(r.Names, options.Progress is { } progress ? new Progress.ProgressWriteStream(fs, item, progress) : fs, options.TempDir, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                options.Progress?.Finished(item);
            }
            return ArchiveSource.OpenTemporary(temp, $"docker-daemon:{string.Join(",", r.Names)} ({client.Host})", null);
        }
        catch
        {
            TemporaryFiles.Delete(temp);
            throw;
        }
    }

    public async ValueTask<IImageDestination> OpenDestinationAsync(ImageReference reference, TransportOptions options, CancellationToken cancellationToken = default)
    {
        var r = Check(reference);
        if (r.Names.Count > 1)
            throw new UsageException($"'{r}': a destination takes at most one name");
        // docker keeps an image it cannot name untagged and says nothing: the name is checked first.
        if (r.Names.Count == 1)
            Model.ImageName.CheckGiven(r.Names[0], r.ToString(), allowDigest: false);
        if (options.Archive.Format is { } f)
            throw new UsageException($"--format {Layout.LayoutFormat.For(f).Name} applies to archives and layouts, not to the daemon destination '{r}'");
        var client = new DockerEngineClient(options.Daemon.Host, options.Timeout);
        try
        {
            await client.NegotiateAsync(cancellationToken).ConfigureAwait(false);
            bool? store = await client.UsesContainerdStoreAsync(cancellationToken).ConfigureAwait(false);
            if (store is null)
                options.Log?.Invoke($"note: {client.Peer} refuses GET /info (a socket proxy?), so its image store is unknown: loading a docker-archive, which both stores take (the containerd store then gives the image a new manifest digest)");
            bool containerd = store ?? false;
            return new DaemonDestination(client, containerd, r.Names.Count == 1 ? r.Names[0] : null, options);
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    private static DaemonReference Check(ImageReference reference) =>
        reference as DaemonReference ?? throw new ArgumentException($"'{reference}' is not a docker-daemon reference", nameof(reference));
}

/// <summary>
/// Loads images into a Docker Engine: at commit the layout is streamed into <c>POST /images/load</c> (chunked, no temp
/// file). The classic image store gets a docker-archive (what every docker loads); the containerd image store gets
/// the portable form (OCI layout + manifest.json), so that it keeps the source's manifest and index digests — which are
/// image IDs there — with their attestations. zstd layers become gzip for a daemon before API 1.42 (docker 23).
/// </summary>
internal sealed class DaemonDestination : IImageDestination
{
    private readonly DockerEngineClient _client;
    private readonly LayoutBuilder _builder;
    private readonly bool _containerdStore;
    private int _images;

    public DaemonDestination(DockerEngineClient client, bool containerdStore, string? requestedName, TransportOptions options)
    {
        _client = client;
        _containerdStore = containerdStore;
        _builder = new LayoutBuilder(LayoutFormat.For(containerdStore ? OutputFormat.Portable : OutputFormat.DockerArchive), options.Archive.Mtime);
        RequestedName = requestedName;
        var compressions = client.SupportsZstd ? DestinationCapabilities.AllLayerCompressions : DestinationCapabilities.DockerClassicLayerCompressions;
        Capabilities = new DestinationCapabilities
        {
            KeepsManifests = containerdStore,
            NeedsDockerImages = true,
            KeptLayerCompressions = compressions,
            AcceptedLayerCompressions = compressions,
            RecompressReason = client.SupportsZstd ? null : $"the docker daemon at {client.Host} (API {client.ApiVersion}) cannot apply zstd layers",
            StagingDirectory = options.TempDir,
        };
    }

    public string DisplayName => $"docker daemon at {_client.Host}";

    public string Format => _containerdStore ? "docker-daemon (containerd image store)" : "docker-daemon";

    public DestinationCapabilities Capabilities { get; }

    public string? RequestedName { get; }

    public ValueTask<IImageWriter> BeginImageAsync(PlannedImage image, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _images);
        return ValueTask.FromResult<IImageWriter>(new LayoutDestination.Writer(_builder, image.Names, image.RefNames,
            (root, docker) => _containerdStore && root is not null ? root.Digest : docker?.Config.Digest));
    }

    public async ValueTask<IReadOnlyList<string>> CommitAsync(CancellationToken cancellationToken = default)
    {
        var loaded = await _client.LoadAsync((stream, ct) => _builder.WriteTarAsync(stream, ct), cancellationToken).ConfigureAwait(false);
        if (_images > 0 && loaded.Count == 0)
            throw new FerryException($"docker daemon at {_client.Host} reported no loaded image");
        return loaded;
    }

    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        return ValueTask.CompletedTask;
    }
}
