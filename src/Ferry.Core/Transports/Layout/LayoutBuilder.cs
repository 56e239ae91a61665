using Ferry.Archive;
using Ferry.Digests;
using Ferry.Model;
using Microsoft.Win32.SafeHandles;

namespace Ferry.Transports.Layout;

/// <summary>
/// Collects what a copy writes into a layout (blobs, manifests, images with names) and writes it at the end, every
/// entry sorted by name and every tar header fixed, so the same input and options give the same bytes.
/// </summary>
internal sealed class LayoutBuilder(LayoutFormat format, long mtime)
{
    private readonly Dictionary<Digest, BlobContent> _blobs = [];
    private readonly Dictionary<Digest, BlobRole> _roles = [];
    private readonly List<LayoutImage> _images = [];
    private readonly List<LayoutReferrer> _referrers = [];
    private readonly Lock _lock = new();

    public LayoutFormat Format => format;

    /// <summary>How many referrers were recorded.</summary>
    public int ReferrerCount
    {
        get
        {
            lock (_lock)
                return _referrers.Count;
        }
    }

    /// <summary>The labels of images written under more than one name (each name is an index.json entry of its own).</summary>
    public IReadOnlyList<string> ImagesWithSeveralNames()
    {
        lock (_lock)
            return [.. _images.Where(i => i.Root is not null && i.Names.Count + i.RefNames.Count > 1).Select(i => i.Names.Count > 0 ? i.Names[0].Familiar : i.RefNames[0])];
    }

    public void AddBlob(Digest digest, BlobContent content)
    {
        lock (_lock)
            _blobs.TryAdd(digest, content);
    }

    public void AddImage(LayoutImage image)
    {
        lock (_lock)
        {
            _images.Add(image);
            if (image.Docker is { } d)
            {
                _roles[d.Config.Digest] = BlobRole.Config;
                foreach (var l in d.Layers)
                    _roles.TryAdd(l.Digest, BlobRole.Layer);
            }
        }
    }

    /// <summary>Records a referrer (its manifest already added as a blob) for index.json.</summary>
    public void AddReferrer(LayoutReferrer referrer)
    {
        lock (_lock)
            _referrers.Add(referrer);
    }

    private Dictionary<string, string>? _indexAnnotations;

    /// <summary>Makes the layout incremental: the record of what it leaves out is a blob, named by an index.json annotation.</summary>
    public void SetIncremental(Incremental.ShipRecord omitted)
    {
        byte[] json = omitted.ToJson();
        var digest = Digest.Sha256Of(json);
        lock (_lock)
        {
            _blobs[digest] = BlobContent.FromBytes(json, "record of shipped blobs");
            _indexAnnotations = new(StringComparer.Ordinal) { [Incremental.ShipRecord.IndexAnnotation] = digest.ToString() };
        }
    }

    /// <summary>Every entry of the layout, sorted by name: a directory (null content), a blob, or an index file.</summary>
    public IReadOnlyList<(string Name, BlobContent? Content)> Entries()
    {
        var entries = new SortedDictionary<string, BlobContent?>(StringComparer.Ordinal);
        foreach (var (digest, content) in _blobs)
        {
            var role = _roles.GetValueOrDefault(digest, BlobRole.Other);
            if (format.Naming.Name(digest, role) is not string name)
                continue;
            foreach (var dir in format.Naming.Directories(digest, role) ?? [])
                entries.TryAdd(dir, null);
            entries.TryAdd(name, content);
        }
        foreach (var index in format.Indexes)
        {
            foreach (var (name, bytes) in index.Files(_images, _referrers, format.Naming, _indexAnnotations))
                entries[name] = BlobContent.FromBytes(bytes, name);
        }
        return entries.Select(kv => (kv.Key, kv.Value)).ToList();
    }

    /// <summary>Writes the layout as a tar to <paramref name="output"/> (left open).</summary>
    public async Task WriteTarAsync(Stream output, CancellationToken cancellationToken)
    {
        using var tar = new DeterministicTarWriter(output, mtime, leaveOpen: true);
        foreach (var (name, content) in Entries())
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (content is null)
            {
                await tar.AddDirectoryAsync(name, cancellationToken).ConfigureAwait(false);
                continue;
            }
            await using var src = await content.OpenAsync(cancellationToken).ConfigureAwait(false);
            await tar.AddFileAsync(name, src, content.Size, cancellationToken).ConfigureAwait(false);
        }
        await tar.FinishAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Writes the layout as a tar into <paramref name="file"/> (a new, empty file), the same bytes as
    /// <see cref="WriteTarAsync"/>: every entry's offset follows from the sizes, so the headers are written first and then
    /// up to <paramref name="parallelism"/> blobs are copied at once, largest first, each at its offset and each
    /// verified as it is read.
    /// </summary>
    public async Task WriteTarAtAsync(SafeFileHandle file, int parallelism, CancellationToken cancellationToken)
    {
        var blobs = new List<(long Offset, string Name, BlobContent Content)>();
        long offset = 0;
        foreach (var (name, content) in Entries())
        {
            cancellationToken.ThrowIfCancellationRequested();
            byte[] header = content is null ? DeterministicTarWriter.DirectoryHeader(name, mtime) : DeterministicTarWriter.FileHeader(name, content.Size, mtime);
            RandomAccess.Write(file, header, offset);
            if (content is not null)
                blobs.Add((offset + header.Length, name, content));
            offset += DeterministicTarWriter.EntryLength(content?.Size ?? 0);
        }
        // Padding and the two end blocks are the zeros a file extended past what was written reads as.
        RandomAccess.SetLength(file, offset + DeterministicTarWriter.EndLength);
        await Parallel.ForEachAsync(blobs.OrderByDescending(b => b.Content.Size), new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, parallelism), CancellationToken = cancellationToken },
            async (b, ct) =>
            {
                await using var src = await b.Content.OpenAsync(ct).ConfigureAwait(false);
                await PositionalCopy.CopyAsync(src, file, b.Offset, b.Content.Size, b.Name, ct).ConfigureAwait(false);
            }).ConfigureAwait(false);
    }

    /// <summary>
    /// Adds what was collected to the OCI layout directory <paramref name="root"/> that is there already, as skopeo does:
    /// a layout is a store. The blobs it lacks are written, each to a temp name beside its place and renamed once all
    /// are written (blobs it has are kept: they are named by their digest); then index.json is replaced in one rename
    /// by its entries and these images': a name given here moves to the new image (said through
    /// <paramref name="log"/>), an entry written again is not doubled. On failure index.json is as it was.
    /// </summary>
    public async Task AddToLayoutAsync(string root, string displayName, int parallelism, Action<string>? log, CancellationToken cancellationToken)
    {
        var oci = format.Indexes.OfType<OciLayout.OciIndexFiles>().Single();
        string indexPath = Path.Combine(root, "index.json");
        byte[] existingBytes;
        await using (var f = new FileStream(indexPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous))
            existingBytes = await Json.ReadLimitedAsync(f, $"{displayName}/index.json", cancellationToken).ConfigureAwait(false);
        var existing = ImageIndex.Parse(existingBytes, MediaTypes.OciIndex, $"{displayName}/index.json");
        Dictionary<string, string> annotations;
        using (var doc = Json.Parse(existingBytes, $"{displayName}/index.json"))
            annotations = Json.OptStringMap(doc.RootElement, "annotations")?.ToDictionary(StringComparer.Ordinal) ?? new(StringComparer.Ordinal);
        foreach (var (k, v) in _indexAnnotations ?? [])
            annotations[k] = v;
        var entries = MergeIndex(existing.Manifests, oci.Descriptors(_images, _referrers), log, displayName);

        var temps = new List<(string Temp, string Final)>();
        try
        {
            var files = new List<(string Temp, string Name, BlobContent Content)>();
            foreach (var (digest, content) in _blobs.OrderBy(b => b.Key.ToString(), StringComparer.Ordinal))
            {
                string name = format.Naming.Name(digest, BlobRole.Other)!;
                string final = Path.Combine(root, name);
                if (File.Exists(final) && new FileInfo(final).Length == content.Size)
                    continue;
                string dir = Path.GetDirectoryName(final)!;
                Directory.CreateDirectory(dir);
                string temp = TemporaryFiles.New(dir, ".", "", ".tmp");
                temps.Add((temp, final));
                files.Add((temp, name, content));
            }
            await Parallel.ForEachAsync(files.OrderByDescending(f => f.Content.Size), new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, parallelism), CancellationToken = cancellationToken },
                async (f, ct) =>
                {
                    await using var src = await f.Content.OpenAsync(ct).ConfigureAwait(false);
                    using var dst = File.OpenHandle(f.Temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, FileOptions.Asynchronous, preallocationSize: f.Content.Size);
                    await PositionalCopy.CopyAsync(src, dst, 0, f.Content.Size, f.Name, ct).ConfigureAwait(false);
                }).ConfigureAwait(false);
            foreach (var (temp, final) in temps)
            {
                File.Move(temp, final, overwrite: true);
                TemporaryFiles.Unregister(temp);
            }
            temps.Clear();
            string indexTemp = TemporaryFiles.New(root, ".index.json.", "", ".tmp");
            temps.Add((indexTemp, indexPath));
            await File.WriteAllBytesAsync(indexTemp, ImageIndex.CreateOci(entries, annotations), cancellationToken).ConfigureAwait(false);
            if (!OperatingSystem.IsWindows())
                File.SetUnixFileMode(indexTemp, File.GetUnixFileMode(indexPath));
            File.Move(indexTemp, indexPath, overwrite: true);
            TemporaryFiles.Unregister(indexTemp);
            temps.Clear();
        }
        finally
        {
            foreach (var (temp, _) in temps)
                TemporaryFiles.Delete(temp);
        }
    }

    /// <summary>
    /// The entries of an index.json there already with these added: an entry that has a name given again (its
    /// containerd name or its ref.name) gives it up to the new one, an entry written again is kept once.
    /// </summary>
    internal static List<Descriptor> MergeIndex(IReadOnlyList<Descriptor> existing, IReadOnlyList<Descriptor> added, Action<string>? log, string displayName)
    {
        static List<string> NamesOf(Descriptor d) =>
            [.. new[] { OciLayout.OciIndexFiles.RefNameAnnotation, OciLayout.OciIndexFiles.ContainerdNameAnnotation }.Select(k => d.Annotations?.GetValueOrDefault(k)).OfType<string>()];
        static bool Same(Descriptor a, Descriptor b) =>
            a.Digest == b.Digest && a.MediaType == b.MediaType
            && (a.Annotations ?? new Dictionary<string, string>()).OrderBy(k => k.Key, StringComparer.Ordinal).SequenceEqual((b.Annotations ?? new Dictionary<string, string>()).OrderBy(k => k.Key, StringComparer.Ordinal));
        var given = added.SelectMany(d => NamesOf(d).Select(n => (Name: n, d.Digest))).ToLookup(x => x.Name, x => x.Digest, StringComparer.Ordinal);
        var result = new List<Descriptor>();
        foreach (var e in existing)
        {
            if (added.Any(a => Same(a, e)))
                continue;
            var taken = NamesOf(e).Where(given.Contains).ToList();
            if (taken.Count > 0)
            {
                var to = given[taken[0]].First();
                log?.Invoke(to == e.Digest
                    ? $"note: {displayName}: {taken[0]} is written again ({to.Short}), its entry replaced"
                    : $"note: {displayName}: {taken[0]} moved from {e.Digest.Short} to {to.Short} (the blobs of {e.Digest.Short} stay in the layout)");
                continue;
            }
            result.Add(e);
        }
        result.AddRange(added);
        return result;
    }

    /// <summary>Writes the layout as files under <paramref name="root"/> (an empty directory Ferry created), up to <paramref name="parallelism"/> blobs at once.</summary>
    public async Task WriteDirectoryAsync(string root, int parallelism, CancellationToken cancellationToken)
    {
        var files = new List<(string Path, string Name, BlobContent Content)>();
        foreach (var (name, content) in Entries())
        {
            // Names are fixed or built from validated digests.
            string path = Path.Combine(root, name);
            Directory.CreateDirectory(content is null ? path : Path.GetDirectoryName(path)!);
            if (content is not null)
                files.Add((path, name, content));
        }
        await Parallel.ForEachAsync(files.OrderByDescending(f => f.Content.Size), new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, parallelism), CancellationToken = cancellationToken },
            async (f, ct) =>
            {
                await using var src = await f.Content.OpenAsync(ct).ConfigureAwait(false);
                using var dst = File.OpenHandle(f.Path, FileMode.CreateNew, FileAccess.Write, FileShare.None, FileOptions.Asynchronous, preallocationSize: f.Content.Size);
                await PositionalCopy.CopyAsync(src, dst, 0, f.Content.Size, f.Name, ct).ConfigureAwait(false);
            }).ConfigureAwait(false);
    }
}
