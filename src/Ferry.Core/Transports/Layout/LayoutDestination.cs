using Ferry.Images;
using Ferry.Model;

namespace Ferry.Transports.Layout;

/// <summary>
/// A destination that is an archive or layout on this machine (or stdout): a <see cref="LayoutFormat"/> collected by a
/// <see cref="LayoutBuilder"/> and written at commit into an <see cref="OutputTarget"/> (a temp file or directory
/// beside the target, renamed into place).
/// </summary>
internal sealed class LayoutDestination : IImageDestination
{
    private readonly LayoutBuilder _builder;
    private readonly OutputTarget _target;
    private Action<string>? _log;
    private int _parallelism = 1;

    private LayoutDestination(LayoutFormat format, OutputTarget target, string displayName, string? requestedName, string stagingDirectory, long mtime)
    {
        _builder = new LayoutBuilder(format, mtime);
        _target = target;
        DisplayName = displayName;
        RequestedName = requestedName;
        bool docker = format.NeedsDockerImages;
        Capabilities = new DestinationCapabilities
        {
            KeepsManifests = format.NeedsManifests,
            KeepsReferrers = format.KeepsReferrers,
            NeedsDockerImages = format.NeedsDockerImages,
            KeptLayerCompressions = docker ? DestinationCapabilities.DockerClassicLayerCompressions : DestinationCapabilities.AllLayerCompressions,
            RecompressReason = docker ? "docker before 23.0 cannot load zstd layers" : null,
            KeepsIncremental = format.HasOciIndex,
            StagingDirectory = stagingDirectory,
            TakesRefNames = format.HasOciIndex,
        };
    }

    public string DisplayName { get; }

    public string Format => _builder.Format.Name;

    public DestinationCapabilities Capabilities { get; }

    public string? RequestedName { get; }

    /// <summary>Opens <paramref name="path"/> (<c>-</c>: <paramref name="options"/>' stdout) for writing in <paramref name="format"/>.</summary>
    public static LayoutDestination Open(string path, OutputFormat format, string? requestedName, TransportOptions options)
    {
        var layout = LayoutFormat.For(format);
        bool stdio = path == "-";
        if (requestedName is not null)
            ImageName.CheckGiven(requestedName, $"{layout.Name}:{path}:{requestedName}", ociRefName: layout.HasOciIndex);
        if (layout.IsDirectory && stdio)
            throw new UsageException("an OCI layout directory cannot be written to stdout; use --format oci-archive");
        if (options.Archive.SplitSize is { } split && (stdio || layout.IsDirectory || split < 1))
            throw new UsageException(split < 1 ? "--split: the part size must be at least 1 byte" : $"--split writes archive files in parts, not {(stdio ? "standard output" : "an OCI layout directory")}");
        var target = stdio ? OutputTarget.ForStream((options.Archive.Stdout ?? Console.OpenStandardOutput)())
            : layout.IsDirectory ? OutputTarget.CreateDirectory(path)
            : options.Archive.SplitSize is { } size ? OutputTarget.CreateSplit(path, size)
            : OutputTarget.CreateFile(path);
        string staging = stdio ? options.TempDir : Path.GetDirectoryName(Path.GetFullPath(path.TrimEnd('/')))!;
        return new LayoutDestination(layout, target, stdio ? "stdout" : path, requestedName, staging, options.Archive.Mtime) { _log = options.Log, _parallelism = options.Archive.Parallelism };
    }


    public void RecordOmitted(Incremental.ShipRecord omitted) => _builder.SetIncremental(omitted);

    public ValueTask<IImageWriter> BeginImageAsync(PlannedImage image, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult<IImageWriter>(new Writer(_builder, image.Names, image.RefNames, null) { NameAsGiven = _builder.Format.HasOciIndex ? RequestedName : null });

    public async ValueTask<IReadOnlyList<string>> CommitAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            if (_target.Store is string store)
                await _builder.AddToLayoutAsync(store, DisplayName, _parallelism, _log, cancellationToken).ConfigureAwait(false);
            else if (_target.Directory is string dir)
                await _builder.WriteDirectoryAsync(dir, _parallelism, cancellationToken).ConfigureAwait(false);
            else if (_target.FileHandle is { } file)
                await _builder.WriteTarAtAsync(file, _parallelism, cancellationToken).ConfigureAwait(false);
            else
                await _builder.WriteTarAsync(_target.Stream, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is UnauthorizedAccessException || (e is IOException && e is not FileNotFoundException and not EndOfStreamException && e.InnerException is not FerryException))
        {
            throw new OutputException($"{DisplayName}: cannot write: {OutputTarget.Reason(e, _target.Temp, DisplayName)}", e);
        }
        _target.Commit();
        // Said once the archive is written (an error stays one line).
        if (_builder.Format.Format == OutputFormat.OciArchive && _builder.ImagesWithSeveralNames() is { Count: > 0 } several)
            _log?.Invoke($"note: {DisplayName}: {string.Join(", ", several.Take(3))}{(several.Count > 3 ? $" and {several.Count - 3} more" : "")} {(several.Count == 1 ? "has" : "have")} several names, one index.json entry each: podman load refuses such an oci-archive (\"more than one image in oci, choose an image\"); the portable format (the default) loads with every name, or give one name (oci-archive:{DisplayName}:NAME)");
        if (_builder.Format.Format == OutputFormat.OciArchive)
            _log?.Invoke("note: docker's classic image store (docker 20.10, and 25+ unless the containerd image store is on) cannot load an oci-archive; the portable format (the default) loads everywhere");
        if (_builder.ReferrerCount > 0 && !_builder.Format.IsDirectory)
        {
            // Loaders that take every index.json entry as an image trip on them (measured with ctr 1.6/1.7 and podman 4.3).
            string podman = _builder.Format.Format == OutputFormat.OciArchive ? $"; podman load and skopeo need the image named (oci-archive:{DisplayName}:NAME)" : "";
            _log?.Invoke($"note: {DisplayName} keeps {_builder.ReferrerCount} referrer(s) (signatures, attestations, SBOMs) as unnamed index.json entries: ctr import --digests (kind load) cannot unpack them{podman}; --exclude-referrers leaves them out");
        }
        return [];
    }

    public ValueTask DisposeAsync()
    {
        _target.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// One image of a layout: blobs and manifests go into the builder (each once), the names at the end. A daemon
    /// destination passes the image ID it will give the image (for <see cref="WrittenImage.DestinationId"/>).
    /// </summary>
    internal sealed class Writer(LayoutBuilder builder, IReadOnlyList<ImageName> names, IReadOnlyList<string> refNames, Func<Descriptor?, DockerImage?, Digests.Digest?>? idOf) : IImageWriter
    {
        /// <summary>The destination's own name as the user typed it (OCI layouts write it so in ref.name).</summary>
        public string? NameAsGiven { get; init; }

        public ValueTask<BlobReuse> TryReuseBlobAsync(Descriptor blob, BlobOrigin? origin, CancellationToken cancellationToken = default) => ValueTask.FromResult(BlobReuse.None);

        public ValueTask PutBlobAsync(Descriptor blob, BlobContent content, CancellationToken cancellationToken = default)
        {
            builder.AddBlob(blob.Digest, content);
            return ValueTask.CompletedTask;
        }

        public ValueTask PutManifestAsync(Descriptor manifest, ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken = default)
        {
            builder.AddBlob(manifest.Digest, BlobContent.FromBytes(bytes, $"manifest {manifest.Digest}"));
            return ValueTask.CompletedTask;
        }

        private readonly List<(Descriptor Artifact, Referrer Referrer)> _referrers = [];

        public ValueTask PutReferrerAsync(Descriptor artifact, Referrer referrer, CancellationToken cancellationToken = default)
        {
            _referrers.Add((artifact, referrer));
            return ValueTask.CompletedTask;
        }

        public ValueTask<WrittenImage> FinishAsync(Descriptor? root, DockerImage? docker, CancellationToken cancellationToken = default)
        {
            builder.AddImage(new LayoutImage(root, names, refNames, docker) { NameAsGiven = NameAsGiven });
            foreach (var (artifact, referrer) in _referrers)
                builder.AddReferrer(new LayoutReferrer(artifact, referrer, root?.Digest));
            var refs = names.Select(n => n.Tag is null && n.Digest is not null && root is not null ? n.WithDigest(root.Digest).ToString() : n.ToString())
                .Concat(refNames).ToList();
            return ValueTask.FromResult(new WrittenImage(refs, idOf?.Invoke(root, docker)));
        }
    }
}
