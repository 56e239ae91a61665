using Ferry.Archive;
using Ferry.Compression;
using Ferry.Model;
using Ferry.Transports.DockerArchive;
using Ferry.Transports.OciLayout;

namespace Ferry.Transports;

/// <summary>
/// An opened image source: an archive (docker-archive, oci-archive, both, legacy; whole-archive gzip/zstd/xz/bzip2 are
/// decompressed to a temp file first) or an OCI layout directory. Lists the images it holds and opens their blobs.
/// </summary>
public sealed class ArchiveSource : IDisposable
{
    private readonly IEntryStore _store;

    private ArchiveSource(IEntryStore store, string format, List<ArchiveImage> images, List<string> warnings)
    {
        _store = store;
        Format = format;
        Images = images;
        Warnings = warnings;
    }

    /// <summary>The source's name in messages.</summary>
    public string DisplayName => _store.DisplayName;

    /// <summary>What was detected: <c>docker-archive</c>, <c>docker-archive (legacy)</c>, <c>oci-archive</c>, <c>oci</c>, <c>portable</c> (OCI layout + manifest.json).</summary>
    public string Format { get; }

    /// <summary>The archive's compression, if the whole archive was compressed.</summary>
    public CompressionKind ArchiveCompression { get; private init; }

    public IReadOnlyList<ArchiveImage> Images { get; }

    /// <summary>Things worth telling the user that do not stop reading (odd names, legacy synthesis, …).</summary>
    public IReadOnlyList<string> Warnings { get; }

    /// <summary>The archive's entries (null for a directory source).</summary>
    public TarIndex? TarIndex => (_store as TarEntryStore)?.Index;

    /// <summary>A source whose images were built elsewhere (a registry); <paramref name="store"/> owns their resources.</summary>
    internal static ArchiveSource FromImages(IEntryStore store, string format, List<ArchiveImage> images, List<string> warnings) =>
        new(store, format, images, warnings);

    /// <summary>Opens an archive file under another name (e.g. a tar saved from a daemon), deleting it on dispose when asked.</summary>
    internal static ArchiveSource OpenTemporary(string path, string displayName, bool deleteOnDispose)
    {
        var store = new TarEntryStore(TarIndex.Open(path, displayName, deleteOnDispose ? () => TryDelete(path) : null));
        try
        {
            var warnings = new List<string>();
            var (format, images) = ReadImages(store, TransportKind.Path, warnings);
            return new ArchiveSource(store, format, images, warnings);
        }
        catch
        {
            store.Dispose();
            throw;
        }
    }

    /// <summary>Opens a source named by a reference; <c>-</c> reads the archive from stdin.</summary>
    /// <exception cref="FerryException">The source is missing, unreadable or malformed.</exception>
    public static ArchiveSource Open(ImageReference reference, Func<Stream>? stdin = null)
    {
        IEntryStore store;
        CompressionKind compression = CompressionKind.None;
        if (reference.IsDaemon)
            throw new UsageException("a docker-daemon: source is opened by CopyOperation (it needs a daemon client)");
        if (reference.IsStdio)
        {
            using var input = (stdin ?? Console.OpenStandardInput)();
            store = new TarEntryStore(Spool(input, "stdin", out compression));
        }
        else if (Directory.Exists(reference.Path))
        {
            if (reference.Transport is TransportKind.DockerArchive or TransportKind.OciArchive)
                throw new UsageException($"{reference.Path}: is a directory, not an archive");
            store = new DirectoryEntryStore(reference.Path);
        }
        else if (File.Exists(reference.Path))
        {
            if (reference.Transport == TransportKind.OciDirectory)
                throw new UsageException($"{reference.Path}: is a file, not an OCI layout directory");
            store = new TarEntryStore(OpenFile(reference.Path, out compression));
        }
        else
        {
            throw new ImageNotFoundException($"{reference.Path}: no such file or directory");
        }
        try
        {
            var warnings = new List<string>();
            var (format, images) = ReadImages(store, reference.Transport, warnings);
            images = Select(images, reference.Name, store.DisplayName);
            return new ArchiveSource(store, format, images, warnings) { ArchiveCompression = compression };
        }
        catch
        {
            store.Dispose();
            throw;
        }
    }

    /// <summary>The files that say what an archive holds; they must be regular files.</summary>
    internal static readonly string[] IndexFiles = ["manifest.json", "index.json", "oci-layout", "repositories"];

    private static (string Format, List<ArchiveImage> Images) ReadImages(IEntryStore store, TransportKind transport, List<string> warnings)
    {
        foreach (var name in IndexFiles.Where(store.IsLink))
            throw new ArchiveFormatException($"{store.DisplayName}: {name} is a link; index files must be regular files");
        bool hasManifestJson = store.Contains("manifest.json");
        bool isDir = store is DirectoryEntryStore;
        bool preferDocker = transport == TransportKind.DockerArchive;
        if (!preferDocker && store.Contains("index.json") && (OciLayoutReader.HasImages(store) || !hasManifestJson))
        {
            var images = OciLayoutReader.Read(store, warnings);
            if (hasManifestJson)
            {
                MergeDockerNames(store, images, warnings);
                return ("portable", images);
            }
            return (isDir ? "oci" : "oci-archive", images);
        }
        if (transport == TransportKind.OciArchive || transport == TransportKind.OciDirectory)
            throw new ArchiveFormatException($"{store.DisplayName}: not an OCI layout (no index.json listing images)");
        if (hasManifestJson)
            return ("docker-archive", DockerArchiveReader.Read(store, warnings));
        if (store.Contains("repositories"))
            return ("docker-archive (legacy)", LegacyArchiveReader.Read(store, warnings));
        throw new ArchiveFormatException($"{store.DisplayName}: not an image archive (no index.json, manifest.json or repositories)");
    }

    /// <summary>In a hybrid archive (Docker 25+, Ferry's portable), RepoTags of manifest.json name the OCI images with the same config.</summary>
    private static void MergeDockerNames(IEntryStore store, List<ArchiveImage> images, List<string> warnings)
    {
        List<ArchiveImage> docker;
        try
        {
            docker = DockerArchiveReader.Read(store, []);
        }
        catch (FerryException e)
        {
            warnings.Add($"{store.DisplayName}: manifest.json ignored: {e.Message}");
            return;
        }
        foreach (var d in docker)
        {
            var id = ((ImageNode)d.Root).Image.ImageId;
            var match = images.FirstOrDefault(i => i.SelectImage(null)?.Image.ImageId == id || (i.Root is IndexNode x && x.Images().Any(n => n.Image.ImageId == id)));
            if (match is null)
            {
                warnings.Add($"{store.DisplayName}: manifest.json names image {id}, which index.json does not list");
                continue;
            }
            foreach (var n in d.Names.Where(n => !match.Names.Contains(n)))
                match.Names.Add(n);
        }
    }

    /// <summary>Keeps the images a <c>:NAME</c> suffix selects: a name, a bare ref name, <c>@N</c> (index), or an ID/digest prefix.</summary>
    internal static List<ArchiveImage> Select(List<ArchiveImage> images, string? selector, string where)
    {
        if (selector is null)
            return images;
        var found = images.Where(i => Matches(i, selector, images)).ToList();
        if (found.Count == 0)
            throw new ImageNotFoundException($"{where}: no image named '{selector}' (has: {string.Join(", ", images.Select(i => i.Label))})");
        return found;
    }

    internal static bool Matches(ArchiveImage image, string selector, List<ArchiveImage> all)
    {
        if (selector.StartsWith('@') && int.TryParse(selector[1..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int n))
            return n < all.Count && ReferenceEquals(all[n], image);
        if (image.RefNames.Contains(selector))
            return true;
        if (ImageName.TryParse(selector, out var name, out _) && image.Names.Contains(name!.WithDefaultTag()))
            return true;
        string hex = selector.StartsWith("sha256:", StringComparison.Ordinal) ? selector[7..] : selector;
        if (hex.Length >= 12 && hex.All(Uri.IsHexDigit))
        {
            var ids = new List<string> { image.Key.Hex };
            if (image.SelectImage(null) is { } img)
                ids.Add(img.Image.ImageId.Hex);
            return ids.Any(id => id.StartsWith(hex, StringComparison.Ordinal));
        }
        return false;
    }

    private static TarIndex OpenFile(string path, out CompressionKind compression)
    {
        using (var fs = OpenInput(path))
        {
            Span<byte> head = stackalloc byte[512];
            int n = fs.ReadAtLeast(head, 512, throwOnEndOfStream: false);
            if (n == 0)
                throw new ArchiveFormatException($"{path}: empty file");
            compression = Compressions.Sniff(head[..n]);
            if (compression == CompressionKind.None)
            {
                CheckTarHeader(head[..n], path);
                return TarIndex.Open(path, path);
            }
            fs.Position = 0;
            return Spool(fs, path, out _);
        }
    }

    private static FileStream OpenInput(string path)
    {
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
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
    private static TarIndex Spool(Stream input, string displayName, out CompressionKind compression)
    {
        var buffered = new BufferedStream(input, 1 << 16);
        // Sniff without losing bytes: the prefix read here is replayed in front of the rest.
        byte[] prefix = new byte[Compressions.SniffLength];
        int n = buffered.ReadAtLeast(prefix, prefix.Length, throwOnEndOfStream: false);
        if (n == 0)
            throw new ArchiveFormatException($"{displayName}: empty input");
        compression = Compressions.Sniff(prefix.AsSpan(0, n));
        var joined = new PrefixedStream(prefix.AsMemory(0, n), buffered);
        string temp = Path.Combine(Path.GetTempPath(), $"ferry-spool-{Environment.ProcessId}-{Guid.NewGuid():N}.tar");
        try
        {
            using (var src = BoundedDecompression.Open(joined, compression, displayName))
            using (var dst = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                try
                {
                    src.CopyTo(dst, 1 << 20);
                }
                catch (IOException e)
                {
                    throw new OutputException($"{displayName}: cannot spool the archive to {Path.GetTempPath()}: {e.Message}", e);
                }
            }
            using (var check = File.OpenRead(temp))
            {
                byte[] h = new byte[512];
                int m = check.ReadAtLeast(h, 512, throwOnEndOfStream: false);
                CheckTarHeader(h.AsSpan(0, m), displayName);
            }
            return TarIndex.Open(temp, displayName, () => TryDelete(temp));
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
    }

    public void Dispose() => _store.Dispose();

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
    }
}
