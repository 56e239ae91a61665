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

    /// <summary>The temp directory to fill (directory targets only).</summary>
    public string? Directory => _directory ? _temp : null;

    /// <summary>A temp file beside <paramref name="path"/>, renamed to it on commit.</summary>
    public static OutputTarget CreateFile(string path)
    {
        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full)!;
        if (!System.IO.Directory.Exists(dir))
            throw new OutputException($"{path}: directory {dir} does not exist");
        if (System.IO.Directory.Exists(full))
            throw new OutputException($"{path}: is a directory");
        string temp = TemporaryFiles.New(dir, $".{Path.GetFileName(full)}.", "", ".tmp");
        try
        {
            var fs = new FileStream(temp, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.Asynchronous);
            // Overwriting keeps the existing file's mode (a 0600 archive stays 0600).
            if (!OperatingSystem.IsWindows() && File.Exists(full))
                File.SetUnixFileMode(temp, File.GetUnixFileMode(full));
            return new OutputTarget(full, temp, false, fs) { _file = fs };
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TemporaryFiles.Delete(temp);
            throw new OutputException($"{path}: cannot create: {Reason(e, temp, path)}", e);
        }
    }

    /// <summary>A temp directory beside <paramref name="path"/>, renamed to it on commit. The target must not exist or be empty.</summary>
    public static OutputTarget CreateDirectory(string path)
    {
        string full = Path.GetFullPath(path.TrimEnd('/'));
        if (File.Exists(full))
            throw new OutputException($"{path}: is a file, not a directory");
        if (System.IO.Directory.Exists(full) && System.IO.Directory.EnumerateFileSystemEntries(full).Any())
            throw new OutputException($"{path}: directory exists and is not empty");
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
            if (_file is not null)
            {
                _file.Flush(flushToDisk: true);
                _file.Dispose();
                File.Move(_temp!, _target!, overwrite: true);
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
            throw new OutputException($"{_target ?? "output"}: cannot write: {Reason(e, _temp, _target ?? "output")}", e);
        }
    }

    public void Dispose()
    {
        if (_committed)
            return;
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
