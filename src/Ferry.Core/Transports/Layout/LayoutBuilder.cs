using Ferry.Archive;
using Ferry.Digests;
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
    public void SetIncremental(Copy.ShipRecord omitted)
    {
        byte[] json = omitted.ToJson();
        var digest = Digest.Sha256Of(json);
        lock (_lock)
        {
            _blobs[digest] = BlobContent.FromBytes(json, "record of shipped blobs");
            _indexAnnotations = new(StringComparer.Ordinal) { [Copy.ShipRecord.IndexAnnotation] = digest.ToString() };
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
    public async Task WriteTarAsync(Stream output, CancellationToken cancel)
    {
        using var tar = new DeterministicTarWriter(output, mtime, leaveOpen: true);
        foreach (var (name, content) in Entries())
        {
            cancel.ThrowIfCancellationRequested();
            if (content is null)
            {
                await tar.AddDirectoryAsync(name, cancel).ConfigureAwait(false);
                continue;
            }
            await using var src = await content.OpenAsync(cancel).ConfigureAwait(false);
            await tar.AddFileAsync(name, src, content.Size, cancel).ConfigureAwait(false);
        }
        await tar.FinishAsync(cancel).ConfigureAwait(false);
    }

    /// <summary>
    /// Writes the layout as a tar into <paramref name="file"/> (a new, empty file), the same bytes as
    /// <see cref="WriteTarAsync"/>: every entry's offset follows from the sizes, so the headers are written first and then
    /// up to <paramref name="parallelism"/> blobs are copied at once, largest first, each at its offset and each
    /// verified as it is read.
    /// </summary>
    public async Task WriteTarAtAsync(SafeFileHandle file, int parallelism, CancellationToken cancel)
    {
        var blobs = new List<(long Offset, string Name, BlobContent Content)>();
        long offset = 0;
        foreach (var (name, content) in Entries())
        {
            cancel.ThrowIfCancellationRequested();
            byte[] header = content is null ? DeterministicTarWriter.DirectoryHeader(name, mtime) : DeterministicTarWriter.FileHeader(name, content.Size, mtime);
            RandomAccess.Write(file, header, offset);
            if (content is not null)
                blobs.Add((offset + header.Length, name, content));
            offset += DeterministicTarWriter.EntryLength(content?.Size ?? 0);
        }
        // Padding and the two end blocks are the zeros a file extended past what was written reads as.
        RandomAccess.SetLength(file, offset + DeterministicTarWriter.EndLength);
        await Parallel.ForEachAsync(blobs.OrderByDescending(b => b.Content.Size), new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, parallelism), CancellationToken = cancel },
            async (b, ct) =>
            {
                await using var src = await b.Content.OpenAsync(ct).ConfigureAwait(false);
                await PositionalCopy.CopyAsync(src, file, b.Offset, b.Content.Size, b.Name, ct).ConfigureAwait(false);
            }).ConfigureAwait(false);
    }

    /// <summary>Writes the layout as files under <paramref name="root"/> (an empty directory Ferry created), up to <paramref name="parallelism"/> blobs at once.</summary>
    public async Task WriteDirectoryAsync(string root, int parallelism, CancellationToken cancel)
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
        await Parallel.ForEachAsync(files.OrderByDescending(f => f.Content.Size), new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, parallelism), CancellationToken = cancel },
            async (f, ct) =>
            {
                await using var src = await f.Content.OpenAsync(ct).ConfigureAwait(false);
                using var dst = File.OpenHandle(f.Path, FileMode.CreateNew, FileAccess.Write, FileShare.None, FileOptions.Asynchronous, preallocationSize: f.Content.Size);
                await PositionalCopy.CopyAsync(src, dst, 0, f.Content.Size, f.Name, ct).ConfigureAwait(false);
            }).ConfigureAwait(false);
    }
}
