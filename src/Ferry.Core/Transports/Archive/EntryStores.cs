using Ferry.Archive;
using Ferry.Digests;
using Ferry.Images;

namespace Ferry.Transports.Archive;

/// <summary>A tar entry's data, read as a window of the archive file by offset.</summary>
internal sealed class TarBlob(TarIndex index, TarIndexEntry entry, string name) : LocalBlob
{
    /// <summary>The entry's name; in a split archive also the parts its data is in (so a corrupt part is named).</summary>
    public override string Name => index.File.IsSplit
        ? $"{name} in {string.Join(", ", index.File.PartsOf(entry.DataOffset, entry.Length).Select(p => Path.GetFileName(p.Path)))}"
        : name;
    public override long Length => entry.Length;
    public override Stream OpenRead() => index.OpenRead(entry);
}

/// <summary>Named entries of a source: a tar archive or an OCI layout directory.</summary>
internal interface IEntryStore : IDisposable
{
    string DisplayName { get; }

    /// <summary>The regular file this name refers to (links followed), or null.</summary>
    LocalBlob? Find(string name);

    /// <summary>Whether a non-directory entry has exactly this name.</summary>
    bool Contains(string name);

    /// <summary>Whether an entry of this exact name is a symbolic or hard link.</summary>
    bool IsLink(string name);

    /// <summary>The blob file for a digest in the OCI layout's <c>blobs/ALG/HEX</c>, or null.</summary>
    LocalBlob? FindBlob(Digest digest) => Find($"blobs/{digest.Algorithm}/{digest.Hex}");

    /// <summary>Whether a blob that is not here was left out on purpose (an incremental archive: an earlier one carried it).</summary>
    bool ExpectedElsewhere(Digest digest) => false;
}

internal sealed class TarEntryStore(TarIndex index) : IEntryStore
{
    public TarIndex Index => index;
    public string DisplayName => index.DisplayName;
    public bool Contains(string name) => index.Contains(name);
    public bool IsLink(string name) => index.Entries.Any(e => e.Name == name && e.Kind is TarEntryKind.Symlink or TarEntryKind.HardLink);
    public LocalBlob? Find(string name) => index.Find(name) is { } e ? new TarBlob(index, e, TarIndex.Normalize(name, out _)) : null;
    public void Dispose() => index.Dispose();
}

internal sealed class DirectoryEntryStore(string root) : IEntryStore
{
    public string DisplayName => root;
    public bool Contains(string name) => Find(name) is not null;
    public bool IsLink(string name) => new FileInfo(Path.Combine(root, name)).LinkTarget is not null;

    /// <summary>Only fixed names and names built from validated digests reach this method.</summary>
    public LocalBlob? Find(string name)
    {
        string path = Path.Combine(root, name);
        return File.Exists(path) ? new FileBlob(path, name) : null;
    }

    public void Dispose() { }
}

/// <summary>
/// The entries of an incremental archive: its own, then the layers its bases (<c>--base</c>) hold. A layer its record
/// says an earlier archive carried is expected elsewhere; with bases given, it must be in one of them.
/// </summary>
internal sealed class IncrementalEntryStore(IEntryStore inner, Copy.ShipRecord record, IReadOnlyDictionary<Digest, LocalBlob> fromBases, IReadOnlyList<IDisposable> bases, string baseNames) : IEntryStore
{
    public string DisplayName => inner.DisplayName;
    public bool Contains(string name) => inner.Contains(name);
    public bool IsLink(string name) => inner.IsLink(name);

    public LocalBlob? Find(string name) =>
        inner.Find(name) ?? (DockerArchive.DockerArchiveReader.DigestFromName(name) is Digest d ? fromBases.GetValueOrDefault(d) : null);

    public bool ExpectedElsewhere(Digest digest)
    {
        if (record.CarrierOf(digest) is not { } carrier)
            return false;
        if (bases.Count > 0)
            throw new ArchiveFormatException($"{DisplayName}: layer {digest} (shipped in {carrier}) is in none of the --base archives ({baseNames})");
        return true;
    }

    public void Dispose()
    {
        inner.Dispose();
        foreach (var b in bases)
            b.Dispose();
    }
}
