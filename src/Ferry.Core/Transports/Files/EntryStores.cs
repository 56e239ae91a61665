using Ferry.Archive;
using Ferry.Digests;
using Ferry.Images;

namespace Ferry.Transports.Files;

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

/// <summary>
/// The files of a layout (or extracted archive) directory. Every name is opened below the root without leaving it (a
/// link inside the layout is followed only while it stays inside; see <see cref="IO.LocalFiles.OpenBeneath"/>) and
/// must be a regular file, so whoever prepared the directory cannot make Ferry read (or <c>serve</c> hand out) a file
/// elsewhere, a FIFO or a device.
/// </summary>
internal sealed class DirectoryEntryStore(string root) : IEntryStore
{
    public string DisplayName => root;
    public bool Contains(string name) => Find(name) is not null;
    public bool IsLink(string name) => IO.LocalFiles.KindOf(Path.Combine(root, name), follow: false) == IO.FileKind.Symlink;

    /// <summary>Only fixed names and names built from validated digests reach this method.</summary>
    public LocalBlob? Find(string name)
    {
        var opened = Open(name);
        if (opened is not { } o)
            return null;
        o.Handle.Dispose();
        return new LayoutFileBlob(this, name, o.Length);
    }

    internal (Microsoft.Win32.SafeHandles.SafeFileHandle Handle, long Length)? Open(string name)
    {
        try
        {
            return IO.LocalFiles.OpenBeneath(root, name);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ArchiveFormatException($"{root}: {e.Message}", e);
        }
    }

    public void Dispose() { }
}

/// <summary>A file of a layout directory: opened anew below the root each time, and refused if it changed size since it was found.</summary>
internal sealed class LayoutFileBlob(DirectoryEntryStore store, string name, long length) : LocalBlob
{
    public override string Name => name;
    public override long Length => length;

    public override Stream OpenRead()
    {
        var (handle, now) = store.Open(name) ?? throw new ArchiveFormatException($"{store.DisplayName}: {name} is gone");
        if (now != length)
        {
            handle.Dispose();
            throw new ArchiveFormatException($"{store.DisplayName}: {name} changed while it was read ({length} bytes, now {now})");
        }
        return new FileStream(handle, FileAccess.Read, 1, isAsync: false);
    }
}

/// <summary>
/// The entries of an incremental archive: its own, then the layers its bases (<c>--base</c>) hold. A layer its record
/// says an earlier archive carried is expected elsewhere; with bases given, it must be in one of them.
/// </summary>
internal sealed class IncrementalEntryStore(IEntryStore inner, Incremental.ShipRecord record, IReadOnlyDictionary<Digest, LocalBlob> fromBases, IReadOnlyList<IDisposable> bases, string baseNames) : IEntryStore
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
