namespace Ferry.Transports.Layout;

/// <summary>
/// A destination file or directory written atomically: everything goes to a temp path beside the target, which is
/// renamed over the target only by <see cref="Commit"/>. Disposing without commit deletes the temp path, leaving an
/// existing target as it was.
/// </summary>
internal sealed class OutputTarget : IDisposable
{
    private readonly string? _target;
    private readonly string? _temp;
    private readonly bool _directory;
    private FileStream? _file;
    private bool _committed;

    private OutputTarget(string? target, string? temp, bool directory, Stream stream)
    {
        _target = target;
        _temp = temp;
        _directory = directory;
        Stream = stream;
    }

    /// <summary>Where to write a tar (null for a directory target).</summary>
    public Stream Stream { get; }

    /// <summary>The temp file to fill at any offset (one-file targets only: not parts, not a stream).</summary>
    public Microsoft.Win32.SafeHandles.SafeFileHandle? FileHandle => _file?.SafeFileHandle;

    /// <summary>The temp directory to fill (directory targets only; null for a <see cref="Store"/>).</summary>
    public string? Directory => _directory ? _temp : null;

    /// <summary>An OCI layout directory there already, which the images are added to (instead of a new directory).</summary>
    public string? Store { get; private init; }

    /// <summary>
    /// A temp file beside <paramref name="path"/> (mode 0600 while it is written), renamed to it on commit. A symbolic
    /// link is written through (the file it names is replaced, the link stays); a FIFO, device or socket is written in
    /// place, sequentially, as standard output is (it is never replaced by a regular file).
    /// </summary>
    public static OutputTarget CreateFile(string path)
    {
        var (full, kind) = Resolve(path);
        if (IO.LocalFiles.IsSpecial(kind))
        {
            try
            {
                var node = IO.LocalFiles.OpenSpecialForWriting(full);
                return new OutputTarget(null, null, false, node) { _special = node, _specialName = path };
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new OutputException($"{path}: cannot open {IO.LocalFiles.Describe(kind)} for writing: {e.Message}", e);
            }
        }
        string dir = Path.GetDirectoryName(full)!;
        string temp = TemporaryFiles.New(dir, $".{Path.GetFileName(full)}.", "", ".tmp");
        try
        {
            var fs = IO.LocalFiles.CreatePrivate(temp);
            return new OutputTarget(full, temp, false, fs) { _file = fs, _mode = FinalMode(full, kind) };
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TemporaryFiles.Delete(temp);
            throw new OutputException($"{path}: cannot create: {Reason(e, temp, path)}", e);
        }
    }

    /// <summary>Where a file written to <paramref name="path"/> lands (through links), checked: its directory exists, it is no directory.</summary>
    internal static (string Full, IO.FileKind Kind) Resolve(string path)
    {
        string full;
        IO.FileKind kind;
        try
        {
            (full, kind) = IO.LocalFiles.ResolveForWriting(path);
        }
        catch (IOException e)
        {
            throw new OutputException(e.Message, e);
        }
        string dir = Path.GetDirectoryName(full)!;
        string shown = full == Path.GetFullPath(path) ? path : $"{path} (a link to {full})";
        if (!System.IO.Directory.Exists(dir))
            throw new OutputException($"{shown}: directory {dir} does not exist");
        if (kind == IO.FileKind.Directory)
            throw new OutputException($"{shown}: is a directory");
        return (full, kind);
    }

    /// <summary>The mode the file gets on commit: the one it replaces keeps its mode (a 0600 archive stays 0600), a new one gets 0666 less the umask.</summary>
    internal static UnixFileMode? FinalMode(string full, IO.FileKind kind)
    {
        if (OperatingSystem.IsWindows())
            return null;
        return kind == IO.FileKind.Regular ? File.GetUnixFileMode(full) : IO.LocalFiles.NewFileMode;
    }

    /// <summary>
    /// Parts <c>PATH.000</c>, <c>PATH.001</c>, … of at most <paramref name="partSize"/> bytes each, written as temp files
    /// beside <paramref name="path"/> and renamed on commit, with <c>PATH.sha256</c> (one <c>sha256sum</c> line per part).
    /// </summary>
    public static OutputTarget CreateSplit(string path, long partSize)
    {
        var (full, kind) = Resolve(path);
        if (IO.LocalFiles.IsSpecial(kind))
            throw new UsageException($"--split: {path} is {IO.LocalFiles.Describe(kind)}; parts are files (give a file name)");
        var parts = new SplitWriteStream(full, path, partSize);
        return new OutputTarget(full, null, false, parts) { _split = parts };
    }

    private FileStream? _special;
    private string? _specialName;
    private UnixFileMode? _mode;

    private SplitWriteStream? _split;

    /// <summary>
    /// A temp directory beside <paramref name="path"/>, renamed to it on commit; the target must not exist or be empty.
    /// An OCI layout there already (<c>oci-layout</c> and <c>index.json</c>) is a store the images are added to
    /// (<see cref="Store"/>): nothing is written until commit.
    /// </summary>
    public static OutputTarget CreateDirectory(string path)
    {
        string full = Path.GetFullPath(path.TrimEnd('/'));
        if (File.Exists(full))
            throw new OutputException($"{path}: is a file, not a directory");
        if (System.IO.Directory.Exists(full) && System.IO.Directory.EnumerateFileSystemEntries(full).Any())
        {
            if (File.Exists(Path.Combine(full, "oci-layout")) && File.Exists(Path.Combine(full, "index.json")))
                return new OutputTarget(full, null, true, Stream.Null) { Store = full };
            throw new OutputException($"{path}: directory exists, is not empty and is not an OCI layout (no oci-layout and index.json)");
        }
        string parent = Path.GetDirectoryName(full)!;
        if (!System.IO.Directory.Exists(parent))
            throw new OutputException($"{path}: directory {parent} does not exist");
        string temp = TemporaryFiles.New(parent, $".{Path.GetFileName(full)}.", "", ".tmp");
        try
        {
            System.IO.Directory.CreateDirectory(temp);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TemporaryFiles.Delete(temp);
            throw new OutputException($"{path}: cannot create: {Reason(e, temp, path)}", e);
        }
        return new OutputTarget(full, temp, true, Stream.Null);
    }

    /// <summary>Standard output (or any stream): no temp file; nothing to roll back.</summary>
    public static OutputTarget ForStream(Stream stream) => new(null, null, false, stream);

    /// <summary>An I/O error's message with the temp path replaced by the user's (temp names mean nothing to people).</summary>
    internal static string Reason(Exception e, string? temp, string user) =>
        temp is null ? e.Message : e.Message.Replace(temp, user, StringComparison.Ordinal);

    /// <summary>The temp path being written (null for a stream target).</summary>
    public string? Temp => _temp;

    /// <summary>The target path (null for a stream target).</summary>
    public string? Target => _target;

    /// <summary>Flushes to disk and moves the temp path onto the target.</summary>
    public void Commit()
    {
        try
        {
            if (_split is not null)
            {
                _split.Commit();
            }
            else if (_file is not null)
            {
                _file.Flush(flushToDisk: true);
                _file.Dispose();
                if (_mode is { } mode && !OperatingSystem.IsWindows())
                    File.SetUnixFileMode(_temp!, mode);
                File.Move(_temp!, _target!, overwrite: true);
            }
            else if (Store is not null)
            {
                // Added to in place by the builder, index.json last.
            }
            else if (_directory)
            {
                if (System.IO.Directory.Exists(_target))
                    System.IO.Directory.Delete(_target!);
                System.IO.Directory.Move(_temp!, _target!);
            }
            else
            {
                Stream.Flush();
            }
            _committed = true;
            if (_temp is not null)
                TemporaryFiles.Unregister(_temp);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new OutputException($"{_target ?? _specialName ?? "output"}: cannot write: {Reason(e, _temp, _target ?? "output")}", e);
        }
    }

    public void Dispose()
    {
        try
        {
            _special?.Dispose();
        }
        catch (IOException)
        {
            // A FIFO whose reader went away: nothing to keep.
        }
        if (_committed)
            return;
        _split?.Abort();
        try
        {
            _file?.Dispose();
        }
        catch (IOException)
        {
            // A full disk fails the final flush too; the temp file goes anyway.
        }
        if (_temp is not null)
            TemporaryFiles.Delete(_temp);
    }
}

/// <summary>
/// Writes one stream as the parts of a split archive: each part goes to a temp file beside the target (hashed as it is
/// written); <see cref="Commit"/> renames them to <c>NAME.000</c>, <c>NAME.001</c>, … and writes <c>NAME.sha256</c>;
/// <see cref="Abort"/> deletes them. Parts of an earlier, longer split of the same name are removed on commit.
/// </summary>
internal sealed class SplitWriteStream(string target, string userPath, long partSize) : Stream
{
    /// <summary>Parts are numbered with three digits, so that <c>cat NAME.0*</c> and sorted globs keep their order.</summary>
    public const int MaxParts = 1000;

    private readonly List<(string Temp, string Sha256)> _done = [];
    private FileStream? _current;
    private System.Security.Cryptography.IncrementalHash? _hash;
    private string? _currentTemp;
    private long _inPart;
    private long _total;

    private string Dir => Path.GetDirectoryName(target)!;

    /// <summary>The final name of part <paramref name="i"/>.</summary>
    public static string PartPath(string target, int i) => $"{target}.{i.ToString("D3", System.Globalization.CultureInfo.InvariantCulture)}";

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => _total;
    public override long Position { get => _total; set => throw new NotSupportedException(); }

    private void StartPart()
    {
        int i = _done.Count;
        if (i >= MaxParts)
            throw new OutputException($"{userPath}: --split {partSize} would make more than {MaxParts} parts; choose a larger size");
        _currentTemp = TemporaryFiles.New(Dir, $".{Path.GetFileName(PartPath(target, i))}.", "", ".tmp");
        try
        {
            _current = IO.LocalFiles.CreatePrivate(_currentTemp);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TemporaryFiles.Delete(_currentTemp);
            throw new OutputException($"{userPath}: cannot create part {i}: {OutputTarget.Reason(e, _currentTemp, PartPath(userPath, i))}", e);
        }
        _hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        _inPart = 0;
    }

    private void EndPart()
    {
        _current!.Flush(flushToDisk: true);
        _current.Dispose();
        _done.Add((_currentTemp!, Convert.ToHexStringLower(_hash!.GetHashAndReset())));
        _hash.Dispose();
        _current = null;
        _hash = null;
    }

    /// <summary>How much of <paramref name="wanted"/> bytes the current part takes, starting the next part when it is full.</summary>
    private int Room(int wanted)
    {
        if (_current is null)
            StartPart();
        else if (_inPart == partSize)
        {
            EndPart();
            StartPart();
        }
        return (int)Math.Min(wanted, partSize - _inPart);
    }

    /// <summary>Accounts for bytes written to the current part.</summary>
    private void Wrote(ReadOnlySpan<byte> chunk)
    {
        _hash!.AppendData(chunk);
        _inPart += chunk.Length;
        _total += chunk.Length;
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        while (buffer.Length > 0)
        {
            int n = Room(buffer.Length);
            _current!.Write(buffer[..n]);
            Wrote(buffer[..n]);
            buffer = buffer[n..];
        }
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (buffer.Length > 0)
        {
            int n = Room(buffer.Length);
            await _current!.WriteAsync(buffer[..n], cancellationToken).ConfigureAwait(false);
            Wrote(buffer.Span[..n]);
            buffer = buffer[n..];
        }
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush() => _current?.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => _current?.FlushAsync(cancellationToken) ?? Task.CompletedTask;

    /// <summary>Renames the parts into place, writes <c>NAME.sha256</c> and removes parts an earlier split left beyond the last.</summary>
    public void Commit()
    {
        if (_current is null && _done.Count == 0)
            StartPart(); // an empty stream is one empty part
        if (_current is not null)
            EndPart();
        // Every place checked before the first rename: a refused one leaves the earlier split as it was.
        var finals = Enumerable.Range(0, _done.Count).Select(i => Final(PartPath(target, i), PartPath(userPath, i))).ToList();
        var sumsFinal = Final(target + ".sha256", userPath + ".sha256");
        var lines = new System.Text.StringBuilder();
        for (int i = 0; i < _done.Count; i++)
        {
            Move(_done[i].Temp, finals[i]);
            TemporaryFiles.Unregister(_done[i].Temp);
            lines.Append(_done[i].Sha256).Append("  ").Append(Path.GetFileName(PartPath(target, i))).Append('\n');
        }
        for (int i = _done.Count; i < MaxParts && IO.LocalFiles.KindOf(PartPath(target, i), follow: false) is IO.FileKind.Regular or IO.FileKind.Symlink; i++)
            File.Delete(PartPath(target, i));
        string sums = target + ".sha256";
        string temp = TemporaryFiles.New(Dir, $".{Path.GetFileName(sums)}.", "", ".tmp");
        try
        {
            using (var fs = IO.LocalFiles.CreatePrivate(temp, options: FileOptions.None))
                fs.Write(System.Text.Encoding.UTF8.GetBytes(lines.ToString()));
            Move(temp, sumsFinal);
        }
        finally
        {
            TemporaryFiles.Delete(temp);
        }
        _done.Clear();
    }

    /// <summary>Where a finished file goes (through a link there; a FIFO or device there is refused, never replaced) and its mode.</summary>
    private static (string Full, UnixFileMode? Mode) Final(string path, string shown)
    {
        var (full, kind) = OutputTarget.Resolve(path);
        if (IO.LocalFiles.IsSpecial(kind))
            throw new OutputException($"{shown}: is {IO.LocalFiles.Describe(kind)}; a part is not written over it");
        return (full, OutputTarget.FinalMode(full, kind));
    }

    private static void Move(string temp, (string Full, UnixFileMode? Mode) final)
    {
        if (final.Mode is { } mode && !OperatingSystem.IsWindows())
            File.SetUnixFileMode(temp, mode);
        File.Move(temp, final.Full, overwrite: true);
    }

    /// <summary>Deletes every part written so far.</summary>
    public void Abort()
    {
        try
        {
            _current?.Dispose();
        }
        catch (IOException)
        {
            // A full disk fails the final flush too; the part goes anyway.
        }
        _current = null;
        _hash?.Dispose();
        if (_currentTemp is not null)
            TemporaryFiles.Delete(_currentTemp);
        foreach (var (temp, _) in _done)
            TemporaryFiles.Delete(temp);
        _done.Clear();
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
