using Ferry.Archive;
using Ferry.Compression;
using Ferry.Images;
using Ferry.Transports.DockerArchive;
using Ferry.Transports.OciLayout;

namespace Ferry.Transports.Files;

/// <summary>What an archive reference expects to find.</summary>
internal enum ArchiveKind
{
    /// <summary>A plain path: anything Ferry reads, sniffed from the content.</summary>
    Any,
    DockerArchive,
    OciArchive,
    OciDirectory,
}

/// <summary>
/// An opened archive (docker-archive, oci-archive, both, legacy; whole-archive gzip/zstd/xz/bzip2 and stdin are
/// spooled to one temp file first) or OCI layout directory: the images it holds and their blobs.
/// </summary>
internal sealed class ArchiveSource : IImageSource, IDisposable
{
    private readonly IEntryStore _store;

    private ArchiveSource(IEntryStore store, string format, List<NamedImage> images, List<string> warnings, CompressionKind compression, string? displayName, Lineage lineage)
    {
        _store = store;
        Identity = lineage.Identity;
        Incremental = lineage.Omitted;
        Format = format;
        Images = images;
        Warnings = warnings;
        ArchiveCompression = compression;
        DisplayName = displayName ?? store.DisplayName;
    }

    public string DisplayName { get; }

    public string Format { get; }

    public CompressionKind ArchiveCompression { get; }

    public IReadOnlyList<NamedImage> Images { get; }

    public IReadOnlyList<string> Warnings { get; }

    /// <summary>What identifies the archive: the digest of its <c>index.json</c> (else of its <c>manifest.json</c>).</summary>
    public Digests.Digest Identity { get; }

    /// <summary>For an incremental archive read without its bases: the layers it leaves out and the archives that carried them.</summary>
    public Ferry.Incremental.ShipRecord? Incremental { get; }

    /// <summary>An archive's identity, and (incremental) the record of what it leaves out.</summary>
    private sealed record Lineage(Digests.Digest Identity, Ferry.Incremental.ShipRecord? Omitted);

    /// <summary>The archive's entries (null for a directory source).</summary>
    public TarIndex? TarIndex => (_store as TarEntryStore)?.Index;

    /// <summary>Opens an archive, a layout directory, or stdin (<c>-</c>), keeping the images <paramref name="selector"/> names (all when null).</summary>
    /// <exception cref="FerryException">The source is missing, unreadable or malformed.</exception>
    public static async ValueTask<ArchiveSource> OpenAsync(string path, ArchiveKind kind, string? selector, TransportOptions options, CancellationToken cancellationToken)
    {
        IEntryStore store;
        CompressionKind compression = CompressionKind.None;
        if (path == "-")
        {
            if (kind == ArchiveKind.OciDirectory)
                throw new UsageException("an OCI layout directory cannot be read from stdin");
            await using var input = (options.Archive.Stdin ?? Console.OpenStandardInput)();
            (var index, compression) = await SpoolAsync(input, "stdin", options.TempDir, options.Progress, cancellationToken).ConfigureAwait(false);
            store = new TarEntryStore(index);
        }
        else if (ArchiveFile.TryOpenSplit(path) is { } split)
        {
            if (kind == ArchiveKind.OciDirectory)
            {
                split.Dispose();
                throw new UsageException($"{path}: is a split archive, not an OCI layout directory");
            }
            (var index, compression) = await OpenFileAsync(split, options.TempDir, options.Progress, cancellationToken).ConfigureAwait(false);
            store = new TarEntryStore(index);
        }
        else if (Directory.Exists(path))
        {
            if (kind is ArchiveKind.DockerArchive or ArchiveKind.OciArchive)
                throw new UsageException($"{path}: is a directory, not an archive");
            store = new DirectoryEntryStore(path);
        }
        else if (File.Exists(path))
        {
            if (kind == ArchiveKind.OciDirectory)
                throw new UsageException($"{path}: is a file, not an OCI layout directory");
            (var index, compression) = await OpenFileAsync(OpenInput(path), options.TempDir, options.Progress, cancellationToken).ConfigureAwait(false);
            store = new TarEntryStore(index);
        }
        else
        {
            throw new ImageNotFoundException($"{path}: no such file or directory");
        }
        Lineage lineage;
        try
        {
            (store, lineage) = await WithBasesAsync(store, options, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            store.Dispose();
            throw;
        }
        return Read(store, kind, selector, compression, null, options.Referrers, lineage);
    }

    /// <summary>The identity of a store's archive and, when it is incremental, the record of what it leaves out.</summary>
    private static Lineage LineageOf(IEntryStore store)
    {
        foreach (var name in new[] { "index.json", "manifest.json", "repositories" })
        {
            if (store.Find(name) is not { } loc)
                continue;
            byte[] bytes = loc.ReadDocument(null, null, $"{store.DisplayName}: {name}");
            var id = Digests.Digest.Sha256Of(bytes);
            if (name != "index.json")
                return new Lineage(id, null);
            using var doc = Model.Json.Parse(bytes, $"{store.DisplayName}: index.json");
            if (doc.RootElement.ValueKind != System.Text.Json.JsonValueKind.Object
                || Model.Json.OptStringMap(doc.RootElement, "annotations")?.GetValueOrDefault(Ferry.Incremental.ShipRecord.IndexAnnotation) is not string text)
                return new Lineage(id, null);
            if (!Digests.Digest.TryParse(text, out var recordDigest))
                throw new ArchiveFormatException($"{store.DisplayName}: index.json: annotation {Ferry.Incremental.ShipRecord.IndexAnnotation} is not a digest");
            var blob = store.FindBlob(recordDigest) ?? throw new ArchiveFormatException($"{store.DisplayName}: incremental, but its record of shipped blobs ({recordDigest}) is missing");
            string what = $"{store.DisplayName}: record of shipped blobs";
            return new Lineage(id, Ferry.Incremental.ShipRecord.Parse(blob.ReadDocument(recordDigest, null, what), what));
        }
        return new Lineage(default, null);
    }

    /// <summary>An incremental archive reads the layers it leaves out from its bases (<see cref="ArchiveOptions.Bases"/>), when given.</summary>
    private static async ValueTask<(IEntryStore, Lineage)> WithBasesAsync(IEntryStore store, TransportOptions options, CancellationToken cancellationToken)
    {
        var lineage = LineageOf(store);
        if (lineage.Omitted is not { } record)
        {
            if (options.Archive.Bases.Count > 0)
                options.Log?.Invoke($"note: {store.DisplayName} is not incremental; --base {string.Join(", ", options.Archive.Bases)} is not needed");
            return (store, lineage);
        }
        var bases = new List<ArchiveSource>();
        var blobs = new Dictionary<Digests.Digest, LocalBlob>();
        try
        {
            foreach (var path in options.Archive.Bases)
            {
                var b = await OpenAsync(path, ArchiveKind.Any, null, options with { Archive = options.Archive with { Bases = [] } }, cancellationToken).ConfigureAwait(false);
                bases.Add(b);
                if (record.Archives.All(a => a.Id != b.Identity))
                    options.Log?.Invoke($"warning: --base {path} ({b.Identity}) is not one of the archives {store.DisplayName} extends ({string.Join(", ", record.Archives)}); its layers are used where their digests match");
                foreach (var layer in b.Images.SelectMany(i => i.Images()).SelectMany(n => n.Image.Layers))
                {
                    if (layer.Blob is LocalBlob local)
                        blobs.TryAdd(layer.Descriptor.Digest, local);
                }
            }
        }
        catch
        {
            foreach (var b in bases)
                b.Dispose();
            throw;
        }
        var wrapped = new IncrementalEntryStore(store, record, blobs, bases, string.Join(", ", options.Archive.Bases));
        return (wrapped, lineage with { Omitted = bases.Count > 0 ? null : record });
    }

    /// <summary>Opens an archive file Ferry spooled itself (a daemon's save), deleting it when the source is disposed.</summary>
    public static ArchiveSource OpenTemporary(string path, string displayName, string? selector)
    {
        var store = new TarEntryStore(TarIndex.Open(path, displayName, () => TemporaryFiles.Delete(path)));
        return Read(store, ArchiveKind.Any, selector, CompressionKind.None, displayName, ReferrerSelection.All, LineageOf(store));
    }

    private static ArchiveSource Read(IEntryStore store, ArchiveKind kind, string? selector, CompressionKind compression, string? displayName, ReferrerSelection referrers, Lineage lineage)
    {
        try
        {
            var warnings = new List<string>();
            var (format, images) = ReadImages(store, kind, warnings, referrers);
            if (selector is not null)
                images = [.. ImageSelector.Select(images, [selector], store.DisplayName)];
            return new ArchiveSource(store, format, images, warnings, compression, displayName, lineage);
        }
        catch
        {
            store.Dispose();
            throw;
        }
    }

    /// <summary>The files that say what an archive holds; they must be regular files.</summary>
    internal static readonly string[] IndexFiles = ["manifest.json", "index.json", "oci-layout", "repositories"];

    private static (string Format, List<NamedImage> Images) ReadImages(IEntryStore store, ArchiveKind kind, List<string> warnings, ReferrerSelection referrers)
    {
        foreach (var name in IndexFiles.Where(store.IsLink))
            throw new ArchiveFormatException($"{store.DisplayName}: {name} is a link; index files must be regular files");
        bool hasManifestJson = store.Contains("manifest.json");
        bool isDir = store is DirectoryEntryStore;
        bool preferDocker = kind == ArchiveKind.DockerArchive;
        if (!preferDocker && store.Contains("index.json") && (OciLayoutReader.HasImages(store) || !hasManifestJson))
        {
            var images = OciLayoutReader.Read(store, warnings, referrers);
            if (hasManifestJson)
            {
                MergeDockerNames(store, images, warnings);
                return ("portable", images);
            }
            return (isDir ? "oci" : "oci-archive", images);
        }
        if (kind is ArchiveKind.OciArchive or ArchiveKind.OciDirectory)
            throw new ArchiveFormatException($"{store.DisplayName}: not an OCI layout (no index.json listing images)");
        if (hasManifestJson)
            return ("docker-archive", DockerArchiveReader.Read(store, warnings));
        if (store.Contains("repositories"))
            return ("docker-archive (legacy)", LegacyArchiveReader.Read(store, warnings));
        throw new ArchiveFormatException($"{store.DisplayName}: not an image archive (no index.json, manifest.json or repositories)");
    }

    /// <summary>In a hybrid archive (Docker 25+, Ferry's portable), RepoTags of manifest.json name the OCI images with the same config.</summary>
    private static void MergeDockerNames(IEntryStore store, List<NamedImage> images, List<string> warnings)
    {
        List<NamedImage> docker;
        try
        {
            docker = DockerArchiveReader.Read(store, []);
        }
        catch (FerryException e)
        {
            warnings.Add($"{store.DisplayName}: manifest.json ignored: {e.Message}");
            return;
        }
        var named = images.SelectMany(i => i.Names).ToHashSet();
        foreach (var d in docker)
        {
            var id = ((ImageNode)d.Root).Image.ImageId;
            // A name index.json already gives stays where it is (one config can be in several images: an index and one
            // of its platforms under another name); another goes to the image docker would load for it.
            var missing = d.Names.Where(n => !named.Contains(n)).ToList();
            if (d.Names.Count > 0 && missing.Count == 0)
                continue;
            var match = images.FirstOrDefault(i => i.SelectImage(null)?.Image.ImageId == id) ?? images.FirstOrDefault(i => i.Images().Any(n => n.Image.ImageId == id));
            if (match is null)
            {
                warnings.Add($"{store.DisplayName}: manifest.json names image {id}, which index.json does not list");
                continue;
            }
            foreach (var n in missing)
                match.AddName(n);
        }
    }

    /// <summary>Indexes an archive file (one file or split parts), spooling it first when it is compressed as a whole.</summary>
    private static async ValueTask<(TarIndex, CompressionKind)> OpenFileAsync(ArchiveFile file, string tempDir, Progress.ICopyProgress? progress, CancellationToken cancellationToken)
    {
        string path = file.DisplayName;
        try
        {
            byte[] head = new byte[512];
            int n = 0;
            while (n < head.Length && await file.ReadAsync(head.AsMemory(n), n, cancellationToken).ConfigureAwait(false) is > 0 and int got)
                n += got;
            if (n == 0)
                throw new ArchiveFormatException($"{path}: empty file");
            var compression = Compressions.Sniff(head.AsSpan(0, n));
            if (compression == CompressionKind.None)
            {
                CheckTarHeader(head.AsSpan(0, n), path);
                return (TarIndex.Open(file, path), compression);
            }
            TarIndex spooled;
            await using (var joined = file.OpenRead())
                (spooled, _) = await SpoolAsync(joined, path, tempDir, progress, cancellationToken).ConfigureAwait(false);
            file.Dispose();
            return (spooled, compression);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private static ArchiveFile OpenInput(string path)
    {
        try
        {
            return ArchiveFile.OpenSingle(path, path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new FerryException($"{path}: cannot open: {e.Message}", e);
        }
    }

    /// <summary>Recognises a tar header (ustar/GNU magic, or a v7 header with a valid checksum); explains what it is otherwise.</summary>
    internal static void CheckTarHeader(ReadOnlySpan<byte> head, string what)
    {
        if (head.Length >= 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4)
            throw new ArchiveFormatException($"{what}: is a zip file, not a tar archive");
        if (head.Length < 512)
            throw new ArchiveFormatException($"{what}: not a tar archive (only {head.Length} bytes)");
        if (head.Slice(257, 5).SequenceEqual("ustar"u8))
            return;
        if (head.IndexOfAnyExcept((byte)0) < 0)
            return; // an empty archive: two zero blocks; the reader reports that it holds nothing
        long sum = 0;
        for (int i = 0; i < 512; i++)
            sum += i is >= 148 and < 156 ? 32 : head[i];
        long stored = 0;
        int digits = 0;
        foreach (byte b in head.Slice(148, 8))
        {
            if (b is (byte)' ' or 0)
            {
                if (digits > 0)
                    break;
                continue;
            }
            if (b is < (byte)'0' or > (byte)'7')
            {
                digits = 0;
                break;
            }
            stored = stored * 8 + (b - '0');
            digits++;
        }
        if (digits > 0 && stored == sum)
            return;
        throw new ArchiveFormatException($"{what}: not a tar archive (and not gzip, zstd, xz or bzip2 compressed)");
    }

    /// <summary>Copies a non-seekable or compressed input into one temp file (deleted on dispose) and indexes it.</summary>
    private static async ValueTask<(TarIndex, CompressionKind)> SpoolAsync(Stream input, string displayName, string tempDir, Progress.ICopyProgress? progress, CancellationToken cancellationToken)
    {
        var buffered = new BufferedStream(input, 1 << 16);
        // Sniff without losing bytes: the prefix read here is replayed in front of the rest.
        byte[] prefix = new byte[Compressions.SniffLength];
        int n = await buffered.ReadAtLeastAsync(prefix, prefix.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        if (n == 0)
            throw new ArchiveFormatException($"{displayName}: empty input");
        var compression = Compressions.Sniff(prefix.AsSpan(0, n));
        var joined = new PrefixedStream(prefix.AsMemory(0, n), buffered);
        string temp = TemporaryFiles.New(tempDir, "", "spool-", ".tar");
        try
        {
            try
            {
                string item = $"{displayName} (spooled)";
                progress?.Started(item, -1);
                await using var src = BoundedDecompression.Open(new Progress.ProgressReadStream(joined, item, progress), compression, displayName);
                await using var dst = IO.LocalFiles.CreatePrivate(temp);
                await CopyToSpoolAsync(src, dst, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SpoolWriteException or UnauthorizedAccessException || (e is IOException && e is not EndOfStreamException && e.InnerException is null && !File.Exists(temp)))
            {
                throw new OutputException($"{displayName}: cannot spool the archive to {tempDir}: {(e.InnerException ?? e).Message.Replace(temp, tempDir, StringComparison.Ordinal)}", e);
            }
            using (var check = File.OpenRead(temp))
            {
                byte[] h = new byte[512];
                int m = check.ReadAtLeast(h, 512, throwOnEndOfStream: false);
                CheckTarHeader(h.AsSpan(0, m), displayName);
            }
            return (TarIndex.Open(temp, displayName, () => TemporaryFiles.Delete(temp)), compression);
        }
        catch
        {
            TemporaryFiles.Delete(temp);
            throw;
        }
    }

    /// <summary>A write to the spool file failed (the disk is full): the error is the temp directory's, not the input's.</summary>
    private sealed class SpoolWriteException(IOException inner) : IOException(inner.Message, inner);

    /// <summary>Copies the input into the spool file; a failed write is told apart from a failed read.</summary>
    private static async Task CopyToSpoolAsync(Stream src, Stream dst, CancellationToken cancellationToken)
    {
        byte[] buf = System.Buffers.ArrayPool<byte>.Shared.Rent(1 << 20);
        try
        {
            int n;
            while ((n = await src.ReadAsync(buf, cancellationToken).ConfigureAwait(false)) > 0)
            {
                try
                {
                    await dst.WriteAsync(buf.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                }
                catch (IOException e)
                {
                    throw new SpoolWriteException(e);
                }
            }
            try
            {
                await dst.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (IOException e)
            {
                throw new SpoolWriteException(e);
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buf);
        }
    }

    internal static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    public void Dispose() => _store.Dispose();

    public ValueTask DisposeAsync()
    {
        _store.Dispose();
        return ValueTask.CompletedTask;
    }

    private sealed class PrefixedStream(ReadOnlyMemory<byte> prefix, Stream rest) : ReadOnlyStream
    {
        private ReadOnlyMemory<byte> _prefix = prefix;

        public override int Read(Span<byte> buffer)
        {
            if (_prefix.Length > 0)
            {
                int n = Math.Min(buffer.Length, _prefix.Length);
                _prefix.Span[..n].CopyTo(buffer);
                _prefix = _prefix[n..];
                return n;
            }
            return rest.Read(buffer);
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            _prefix.Length > 0 ? ValueTask.FromResult(Read(buffer.Span)) : rest.ReadAsync(buffer, cancellationToken);
    }
}
