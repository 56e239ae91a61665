using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Win32.SafeHandles;

namespace Ferry.Archive;

/// <summary>One file of a split archive: its path, where it starts in the joined archive, and its length.</summary>
internal sealed record ArchivePart(string Path, long Offset, long Length, string? Sha256);

/// <summary>
/// The bytes of an archive on this machine, read by offset: one file, or the parts <c>NAME.000</c>, <c>NAME.001</c>, …
/// of a split archive read as one (never joined on disk). Safe to read from several threads at once.
/// </summary>
internal sealed partial class ArchiveFile : IDisposable
{
    private readonly SafeFileHandle[] _handles;

    private ArchiveFile(string displayName, SafeFileHandle[] handles, IReadOnlyList<ArchivePart> parts, string? checksumFile)
    {
        DisplayName = displayName;
        _handles = handles;
        Parts = parts;
        ChecksumFile = checksumFile;
        Length = parts.Count == 0 ? 0 : parts[^1].Offset + parts[^1].Length;
    }

    /// <summary>The archive's name in messages.</summary>
    public string DisplayName { get; }

    /// <summary>The files, in order (one for an archive that is not split).</summary>
    public IReadOnlyList<ArchivePart> Parts { get; }

    /// <summary>Whether the archive is in parts.</summary>
    public bool IsSplit => ChecksumFile is not null || Parts.Count > 1 || Parts[0].Path.EndsWith(".000", StringComparison.Ordinal);

    /// <summary>The <c>NAME.sha256</c> file listing the parts, when there is one.</summary>
    public string? ChecksumFile { get; }

    /// <summary>The joined length.</summary>
    public long Length { get; }

    /// <summary>Opens one file.</summary>
    public static ArchiveFile OpenSingle(string path, string displayName)
    {
        var h = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        return new ArchiveFile(displayName, [h], [new ArchivePart(path, 0, RandomAccess.GetLength(h), null)], null);
    }

    [GeneratedRegex(@"^(?<base>.+)\.(?<n>[0-9]{3,})$", RegexOptions.CultureInvariant)]
    private static partial Regex PartName();

    /// <summary>
    /// The split archive a path names, or null when it names no split archive: <c>NAME.sha256</c> (the parts it lists),
    /// <c>NAME.000</c> (or any part: the parts beside it), or <c>NAME</c> when only its parts exist.
    /// </summary>
    /// <exception cref="ArchiveFormatException">A part is missing, or the checksum file is malformed.</exception>
    public static ArchiveFile? TryOpenSplit(string path)
    {
        // The file named is followed (the user chose it); its siblings are read beside where it really is, and must be
        // regular files there: a part replaced by a link (to a file of the same size elsewhere) is refused.
        string named = path;
        if (File.Exists(path))
            path = TemporaryFiles.RealPath(path);
        else if (Path.GetDirectoryName(Path.GetFullPath(path)) is { } parent && Directory.Exists(parent))
            path = Path.Combine(TemporaryFiles.RealPath(parent), Path.GetFileName(path));
        string? baseName = null;
        if (path.EndsWith(".sha256", StringComparison.Ordinal) && File.Exists(path))
            baseName = path[..^".sha256".Length];
        else if (PartName().Match(path) is { Success: true } m && File.Exists(path))
            baseName = m.Groups["base"].Value;
        else if (!File.Exists(path) && !Directory.Exists(path) && File.Exists(path + ".000"))
            baseName = path;
        if (baseName is null)
            return null;
        string checksums = baseName + ".sha256";
        List<(string Path, string? Sha)> listed;
        string display = PartName().Match(named) is { Success: true } nm ? nm.Groups["base"].Value
            : named.EndsWith(".sha256", StringComparison.Ordinal) ? named[..^".sha256".Length] : named;
        if (File.Exists(checksums))
        {
            listed = ReadChecksums(checksums, Path.GetDirectoryName(checksums) ?? "");
        }
        else
        {
            // No checksum file: the parts are NAME.000, NAME.001, … as long as they go; a gap names the missing one.
            string dir = Path.GetDirectoryName(baseName) ?? "";
            string prefix = Path.GetFileName(baseName) + ".";
            var numbers = Directory.EnumerateFiles(dir.Length == 0 ? "." : dir, prefix + "*")
                .Select(Path.GetFileName)
                .Select(f => f!.Length > prefix.Length && f[prefix.Length..].All(char.IsAsciiDigit) && f.Length - prefix.Length >= 3 ? f[prefix.Length..] : null)
                .Where(s => s is not null)
                .Select(s => (Text: s!, N: int.Parse(s!, CultureInfo.InvariantCulture)))
                .OrderBy(x => x.N)
                .ToList();
            if (numbers.Count == 0 || numbers[0].N != 0)
                throw new ArchiveFormatException($"{baseName}.000: missing part (the first part of the split archive)");
            int width = numbers[0].Text.Length;
            for (int i = 0; i < numbers.Count; i++)
            {
                if (numbers[i].N != i)
                    throw new ArchiveFormatException($"{baseName}.{i.ToString(CultureInfo.InvariantCulture).PadLeft(width, '0')}: missing part (the parts go on at .{numbers[i].Text})");
            }
            listed = [.. numbers.Select(x => (Path.Combine(dir, prefix + x.Text), (string?)null))];
        }
        var handles = new List<SafeFileHandle>();
        var parts = new List<ArchivePart>();
        try
        {
            long offset = 0;
            foreach (var (p, sha) in listed)
            {
                var kind = IO.LocalFiles.KindOf(p, follow: false);
                if (kind == IO.FileKind.Missing)
                    throw new ArchiveFormatException($"{p}: missing part{(File.Exists(checksums) ? $" (listed in {checksums})" : "")}");
                if (kind != IO.FileKind.Regular && p != path)
                    throw new ArchiveFormatException($"{p}: is {IO.LocalFiles.Describe(kind)}; the parts of a split archive must be regular files beside the first");
                Microsoft.Win32.SafeHandles.SafeFileHandle h;
                try
                {
                    (h, kind, _) = IO.LocalFiles.OpenRead(p, follow: false);
                }
                catch (IOException e)
                {
                    throw new ArchiveFormatException($"{p}: cannot open the part: {e.Message}", e);
                }
                handles.Add(h);
                if (kind != IO.FileKind.Regular)
                    throw new ArchiveFormatException($"{p}: is {IO.LocalFiles.Describe(kind)}; the parts of a split archive must be regular files");
                long len = RandomAccess.GetLength(h);
                parts.Add(new ArchivePart(p, offset, len, sha));
                offset += len;
            }
            return new ArchiveFile(display, [.. handles], parts, File.Exists(checksums) ? checksums : null);
        }
        catch
        {
            foreach (var h in handles)
                h.Dispose();
            throw;
        }
    }

    /// <summary>The most parts a checksum file may list, and its largest size.</summary>
    internal const int MaxParts = 100_000;

    private static List<(string, string?)> ReadChecksums(string file, string dir)
    {
        byte[] bytes;
        try
        {
            bytes = IO.LocalFiles.ReadSmall(file, MaxParts * 200, file);
        }
        catch (UsageException e)
        {
            throw new ArchiveFormatException(e.Message.Replace("over the", "too large for a list of parts: over the", StringComparison.Ordinal));
        }
        var result = new List<(string, string?)>();
        int lineNo = 0;
        foreach (var raw in System.Text.Encoding.UTF8.GetString(bytes).Split('\n'))
        {
            lineNo++;
            string line = raw.TrimEnd('\r');
            if (line.Length == 0)
                continue;
            // sha256sum's format: 64 hex digits, a space, a space or '*', the file name.
            if (line.Length < 67 || !line[..64].All(char.IsAsciiHexDigit) || line[64] != ' ' || (line[65] != ' ' && line[65] != '*'))
                throw new ArchiveFormatException($"{file}: line {lineNo} is not 'SHA256  FILE'");
            string name = line[66..];
            if (name.Contains('/') || name.Contains('\\') || name is "." or "..")
                throw new ArchiveFormatException($"{file}: line {lineNo}: part '{name}' is not a file name beside it");
            result.Add((Path.Combine(dir, name), line[..64].ToLowerInvariant()));
        }
        if (result.Count == 0)
            throw new ArchiveFormatException($"{file}: lists no parts");
        return result;
    }

    /// <summary>Hashes every part listed with a checksum (two at a time) and returns those whose content does not match it.</summary>
    public async Task<IReadOnlyList<ArchivePart>> BadPartsAsync(CancellationToken cancellationToken)
    {
        var bad = new System.Collections.Concurrent.ConcurrentBag<ArchivePart>();
        await Parallel.ForEachAsync(Parts.Where(p => p.Sha256 is not null), new ParallelOptions { MaxDegreeOfParallelism = 2, CancellationToken = cancellationToken }, async (p, ct) =>
        {
            await using var fs = new FileStream(p.Path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.Asynchronous | FileOptions.SequentialScan);
            byte[] hash = await System.Security.Cryptography.SHA256.HashDataAsync(fs, ct).ConfigureAwait(false);
            if (Convert.ToHexStringLower(hash) != p.Sha256)
                bad.Add(p);
        }).ConfigureAwait(false);
        return [.. bad.OrderBy(p => p.Offset)];
    }

    /// <summary>The parts that hold bytes <paramref name="offset"/> to <paramref name="offset"/> + <paramref name="length"/>.</summary>
    public IEnumerable<ArchivePart> PartsOf(long offset, long length) =>
        Parts.Where(p => p.Offset < offset + Math.Max(1, length) && offset < p.Offset + p.Length);

    /// <summary>Reads at <paramref name="offset"/> of the joined archive; returns 0 only at its end.</summary>
    public int Read(Span<byte> buffer, long offset)
    {
        if (_handles.Length == 1)
            return RandomAccess.Read(_handles[0], buffer, offset);
        int i = Locate(offset);
        if (i < 0)
            return 0;
        var p = Parts[i];
        long inPart = offset - p.Offset;
        int n = (int)Math.Min(buffer.Length, p.Length - inPart);
        return RandomAccess.Read(_handles[i], buffer[..n], inPart);
    }

    /// <summary>Reads at <paramref name="offset"/> of the joined archive; returns 0 only at its end.</summary>
    public ValueTask<int> ReadAsync(Memory<byte> buffer, long offset, CancellationToken cancellationToken)
    {
        if (_handles.Length == 1)
            return RandomAccess.ReadAsync(_handles[0], buffer, offset, cancellationToken);
        int i = Locate(offset);
        if (i < 0)
            return ValueTask.FromResult(0);
        var p = Parts[i];
        long inPart = offset - p.Offset;
        int n = (int)Math.Min(buffer.Length, p.Length - inPart);
        return RandomAccess.ReadAsync(_handles[i], buffer[..n], inPart, cancellationToken);
    }

    private int Locate(long offset)
    {
        int lo = 0, hi = Parts.Count - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) / 2;
            var p = Parts[mid];
            if (offset < p.Offset)
                hi = mid - 1;
            else if (offset >= p.Offset + p.Length)
                lo = mid + 1;
            else
                return mid;
        }
        return -1;
    }

    /// <summary>A seekable read-only stream over the joined archive.</summary>
    public Stream OpenRead() => new FileWindowStream(this, 0, Length);

    public void Dispose()
    {
        foreach (var h in _handles)
            h.Dispose();
    }
}
