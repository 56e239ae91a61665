using System.Formats.Tar;

namespace Ferry.Archive;

/// <summary>What an indexed tar entry is.</summary>
internal enum TarEntryKind
{
    File,
    Directory,
    Symlink,
    HardLink,
    Other,
}

/// <summary>One entry of an indexed tar: its normalised name and where its data lies.</summary>
internal sealed record TarIndexEntry(string Name, TarEntryKind Kind, long DataOffset, long Length, string? LinkTarget, int Ordinal);

/// <summary>
/// A tar archive on a seekable file, indexed once (headers only, data skipped), whose regular-file entries are then
/// read as windows by offset. Names are normalised (<c>./</c> and empty components dropped); symlinks and hard links
/// are resolved inside the archive. Names are only ever looked up, never joined into host paths.
/// </summary>
internal sealed class TarIndex : IDisposable
{
    /// <summary>The most links followed while resolving one name.</summary>
    public const int MaxLinkDepth = 16;

    /// <summary>The most entries an archive may have.</summary>
    public const int MaxEntries = 1_000_000;

    private readonly ArchiveFile _file;
    private readonly Dictionary<string, List<TarIndexEntry>> _byName = new(StringComparer.Ordinal);
    private readonly List<TarIndexEntry> _entries = [];
    private readonly Action? _onDispose;

    private TarIndex(ArchiveFile file, string displayName, Action? onDispose)
    {
        _file = file;
        DisplayName = displayName;
        _onDispose = onDispose;
    }

    /// <summary>The archive's name in messages (the user's path, or "stdin").</summary>
    public string DisplayName { get; }

    public IReadOnlyList<TarIndexEntry> Entries => _entries;

    /// <summary>Indexes the tar at <paramref name="path"/>.</summary>
    /// <param name="path">A seekable, uncompressed tar file.</param>
    /// <param name="displayName">How to name the archive in errors.</param>
    /// <param name="onDispose">Called after the file is closed (used to delete a spooled temp file).</param>
    /// <exception cref="ArchiveFormatException">The file is not a valid tar, or holds names that escape it.</exception>
    public static TarIndex Open(string path, string displayName, Action? onDispose = null) =>
        Open(ArchiveFile.OpenSingle(path, displayName), displayName, onDispose);

    /// <summary>Indexes the tar in <paramref name="file"/> (one file or the parts of a split archive), which it then owns.</summary>
    public static TarIndex Open(ArchiveFile file, string displayName, Action? onDispose = null)
    {
        var index = new TarIndex(file, displayName, onDispose);
        try
        {
            index.Scan();
            return index;
        }
        catch
        {
            index.Dispose();
            throw;
        }
    }

    /// <summary>The archive's bytes (one file or split parts).</summary>
    public ArchiveFile File => _file;

    private void Scan()
    {
        using var fs = _file.OpenRead();
        using var reader = new TarReader(fs, leaveOpen: true);
        string lastName = "(start of archive)";
        while (true)
        {
            TarEntry? e;
            try
            {
                e = reader.GetNextEntry(copyData: false);
            }
            catch (Exception ex) when (ex is InvalidDataException or EndOfStreamException or FormatException or OverflowException
                                           or NotSupportedException or ArgumentException or IOException)
            {
                throw new ArchiveFormatException($"{DisplayName}: corrupt or unsupported tar after entry '{lastName}': {ex.Message}", ex);
            }
            if (e is null)
                break;
            if (_entries.Count >= MaxEntries)
                throw new ArchiveFormatException($"{DisplayName}: more than {MaxEntries} entries");
            lastName = e.Name;
            string name = Normalize(e.Name, out string? problem);
            if (problem is not null)
                throw new ArchiveFormatException($"{DisplayName}: entry '{Ferry.Digests.Digest.Describe(e.Name)}': {problem}");
            var kind = e.EntryType switch
            {
                TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile => TarEntryKind.File,
                TarEntryType.Directory => TarEntryKind.Directory,
                TarEntryType.SymbolicLink => TarEntryKind.Symlink,
                TarEntryType.HardLink => TarEntryKind.HardLink,
                _ => TarEntryKind.Other,
            };
            if (kind == TarEntryKind.File && e.DataOffset < 0)
                throw new ArchiveFormatException($"{DisplayName}: entry '{name}' has no data offset");
            if (kind == TarEntryKind.File && e.DataOffset + e.Length > _file.Length)
                throw new ArchiveFormatException($"{DisplayName}: entry '{name}' is truncated (archive ends inside its data)");
            string? link = kind is TarEntryKind.Symlink or TarEntryKind.HardLink ? e.LinkName : null;
            var entry = new TarIndexEntry(name, kind, kind == TarEntryKind.File ? e.DataOffset : -1, kind == TarEntryKind.File ? e.Length : 0, link, _entries.Count);
            _entries.Add(entry);
            if (name.Length == 0)
                continue;
            if (!_byName.TryGetValue(name, out var list))
                _byName[name] = list = [];
            list.Add(entry);
        }
    }

    /// <summary>Normalises a tar entry name: drops <c>./</c> and empty components; rejects escapes and control characters.</summary>
    internal static string Normalize(string raw, out string? problem)
    {
        problem = null;
        if (raw.Any(c => c < 0x20 || c == 0x7f))
        {
            problem = "name contains NUL or control characters";
            return raw;
        }
        if (raw.StartsWith('/'))
        {
            problem = "absolute name";
            return raw;
        }
        var parts = new List<string>();
        foreach (var part in raw.Split('/'))
        {
            if (part.Length == 0 || part == ".")
                continue;
            if (part == "..")
            {
                problem = "name escapes the archive ('..')";
                return raw;
            }
            parts.Add(part);
        }
        return string.Join('/', parts);
    }

    /// <summary>Whether a (non-directory) entry with this exact normalised name exists, without following links.</summary>
    public bool Contains(string name) => _byName.TryGetValue(name, out var l) && l.Any(e => e.Kind != TarEntryKind.Directory);

    /// <summary>
    /// Finds the regular file a name refers to, following symlinks (relative to the link's directory) and hard links
    /// (relative to the archive root), also in directory components. Returns null when there is no such entry.
    /// </summary>
    /// <exception cref="ArchiveFormatException">A link escapes the archive, links form a cycle, or the name is ambiguous.</exception>
    public TarIndexEntry? Find(string name)
    {
        string normalized = Normalize(name, out string? problem);
        if (problem is not null)
            throw new ArchiveFormatException($"{DisplayName}: reference '{Ferry.Digests.Digest.Describe(name)}': {problem}");
        return Resolve(normalized, name, 0);
    }

    private TarIndexEntry? Resolve(string path, string original, int depth)
    {
        if (depth > MaxLinkDepth)
            throw new ArchiveFormatException($"{DisplayName}: '{original}': too many levels of links (a cycle?)");
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var resolved = new List<string>();
        for (int i = 0; i < parts.Length; i++)
        {
            string part = parts[i];
            if (part == ".")
                continue;
            if (part == "..")
            {
                if (resolved.Count == 0)
                    throw new ArchiveFormatException($"{DisplayName}: '{original}': link points outside the archive");
                resolved.RemoveAt(resolved.Count - 1);
                continue;
            }
            resolved.Add(part);
            string candidate = string.Join('/', resolved);
            var entry = Pick(candidate);
            if (entry is null)
            {
                if (i == parts.Length - 1)
                    return null;
                continue; // an implicit directory
            }
            string rest = string.Join('/', parts.Skip(i + 1));
            switch (entry.Kind)
            {
                case TarEntryKind.Symlink:
                    {
                        string target = entry.LinkTarget ?? "";
                        if (target.StartsWith('/'))
                            throw new ArchiveFormatException($"{DisplayName}: '{original}': symlink '{candidate}' -> '{target}' points outside the archive");
                        resolved.RemoveAt(resolved.Count - 1);
                        string next = string.Join('/', resolved.Append(target).Append(rest).Where(s => s.Length > 0));
                        return Resolve(next, original, depth + 1);
                    }
                case TarEntryKind.HardLink:
                    {
                        string target = Normalize(entry.LinkTarget ?? "", out string? problem);
                        if (problem is not null)
                            throw new ArchiveFormatException($"{DisplayName}: '{original}': hard link '{candidate}' -> '{entry.LinkTarget}': {problem}");
                        if (target.Length == 0)
                            throw new ArchiveFormatException($"{DisplayName}: '{original}': hard link '{candidate}' has no target");
                        string next = rest.Length == 0 ? target : target + "/" + rest;
                        return Resolve(next, original, depth + 1);
                    }
                case TarEntryKind.File when i == parts.Length - 1:
                    return entry;
                case TarEntryKind.Directory when i < parts.Length - 1:
                    continue;
                default:
                    return null;
            }
        }
        return null;
    }

    /// <summary>The entry for an exact name; when it occurs several times, all occurrences must have equal content.</summary>
    private TarIndexEntry? Pick(string name)
    {
        if (!_byName.TryGetValue(name, out var list))
            return null;
        var last = list[^1];
        if (list.Count > 1 && list.Any(e => e.Kind != TarEntryKind.Directory))
        {
            foreach (var other in list)
            {
                if (!SameContent(other, last))
                    throw new ArchiveFormatException($"{DisplayName}: entry '{name}' occurs {list.Count} times with different content (the archive is ambiguous)");
            }
        }
        return last;
    }

    private bool SameContent(TarIndexEntry a, TarIndexEntry b)
    {
        if (a.Kind != b.Kind || a.Length != b.Length || a.LinkTarget != b.LinkTarget)
            return false;
        if (a.Kind != TarEntryKind.File || a.DataOffset == b.DataOffset)
            return true;
        // Streamed: a duplicated layer may be gigabytes.
        using var sa = new Ferry.Digests.VerifyingStream(OpenRead(a), a.Name, null, null);
        using var sb = new Ferry.Digests.VerifyingStream(OpenRead(b), b.Name, null, null);
        return sa.Drain() == sb.Drain();
    }

    /// <summary>A read-only, seekable window over a regular file entry's data.</summary>
    public Stream OpenRead(TarIndexEntry entry)
    {
        if (entry.Kind != TarEntryKind.File)
            throw new ArgumentException("only regular file entries have data", nameof(entry));
        return new FileWindowStream(_file, entry.DataOffset, entry.Length);
    }

    /// <summary>Reads the first bytes of an entry (for compression sniffing).</summary>
    public ReadOnlySpan<byte> Head(TarIndexEntry entry, int count)
    {
        byte[] buf = new byte[(int)Math.Min(count, entry.Length)];
        int n = _file.Read(buf, entry.DataOffset);
        return buf.AsSpan(0, n);
    }

    public void Dispose()
    {
        _file.Dispose();
        _onDispose?.Invoke();
    }
}

/// <summary>A read-only seekable window of an archive file, read by offset (safe to use several at once).</summary>
internal sealed class FileWindowStream(ArchiveFile file, long offset, long length) : Stream
{
    private long _position;

    public override bool CanRead => true;
    public override bool CanSeek => true;
    public override bool CanWrite => false;
    public override long Length => length;

    public override long Position
    {
        get => _position;
        set => _position = value is >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value));
    }

    public override int Read(byte[] buffer, int offset1, int count) => Read(buffer.AsSpan(offset1, count));

    public override int Read(Span<byte> buffer)
    {
        long left = length - _position;
        if (left <= 0 || buffer.Length == 0)
            return 0;
        if (buffer.Length > left)
            buffer = buffer[..(int)left];
        int n = file.Read(buffer, offset + _position);
        if (n == 0)
            throw new EndOfStreamException("archive file ended inside an entry");
        _position += n;
        return n;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        long left = length - _position;
        if (left <= 0 || buffer.Length == 0)
            return 0;
        if (buffer.Length > left)
            buffer = buffer[..(int)left];
        int n = await file.ReadAsync(buffer, offset + _position, cancellationToken).ConfigureAwait(false);
        if (n == 0)
            throw new EndOfStreamException("archive file ended inside an entry");
        _position += n;
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset1, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset1, count), cancellationToken).AsTask();

    public override long Seek(long offset1, SeekOrigin origin) => Position = origin switch
    {
        SeekOrigin.Begin => offset1,
        SeekOrigin.Current => _position + offset1,
        _ => length + offset1,
    };

    public override void Flush() { }
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset1, int count) => throw new NotSupportedException();
}
