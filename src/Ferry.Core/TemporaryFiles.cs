using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace Ferry;

/// <summary>
/// The temp files and directories Ferry has open (a destination being written, a spooled input, a staged layer).
/// Each is removed when its owner is done; <see cref="DeleteAll"/> is for a host that must exit at once (a signal
/// handler whose operation is stuck in a read that cannot be cancelled). Temp names carry the process ID
/// (<c>.NAME.ferry-PID-GUID.tmp</c>, <c>ferry-spool-PID-GUID.tar</c>), so the leftovers of a process that died
/// (<c>kill -9</c>) are removed the next time Ferry writes beside them.
/// </summary>
internal static partial class TemporaryFiles
{
    private static readonly ConcurrentDictionary<string, bool> Live = new(StringComparer.Ordinal);

    /// <summary>Removes every temp file and directory this process still has (best effort; never throws).</summary>
    public static void DeleteAll()
    {
        foreach (var path in Live.Keys)
            TryDelete(path);
    }

    private static readonly ConcurrentDictionary<string, bool> Cleaned = new(StringComparer.Ordinal);

    /// <summary>
    /// A new temp path in <paramref name="directory"/>: <c>{prefix}ferry-{kind}{PID}-{GUID}{suffix}</c>, registered; the
    /// first time a directory is used, the leftovers of dead Ferry processes there are removed.
    /// </summary>
    internal static string New(string directory, string prefix, string kind, string suffix)
    {
        if (Cleaned.TryAdd(Path.GetFullPath(directory), true))
            RemoveStale(directory);
        return Register(Path.Combine(directory, $"{prefix}ferry-{kind}{Environment.ProcessId}-{Guid.NewGuid():N}{suffix}"));
    }

    internal static string Register(string path)
    {
        Live[path] = true;
        return path;
    }

    internal static void Unregister(string path) => Live.TryRemove(path, out _);

    /// <summary>Deletes a temp path Ferry made (a file or a directory tree) and forgets it.</summary>
    internal static void Delete(string path)
    {
        TryDelete(path);
        Unregister(path);
    }

    private static void TryDelete(string path)
    {
        try
        {
            if (Directory.Exists(path))
                Directory.Delete(path, recursive: true);
            else
                File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    [GeneratedRegex(@"(?:^|\.)ferry-(?:spool-|save-|layer-)?([0-9]+)-[0-9a-f]{32}\.(?:tmp|tar)$", RegexOptions.CultureInvariant)]
    private static partial Regex TempName();

    /// <summary>Removes the temp files and directories in <paramref name="directory"/> left by Ferry processes that are gone.</summary>
    internal static void RemoveStale(string directory)
    {
        IEnumerable<string> entries;
        try
        {
            entries = Directory.EnumerateFileSystemEntries(directory).ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return;
        }
        foreach (var entry in entries)
        {
            var m = TempName().Match(Path.GetFileName(entry));
            if (m.Success && int.TryParse(m.Groups[1].Value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int pid)
                && pid != Environment.ProcessId && !Alive(pid))
            {
                TryDelete(entry);
            }
        }
    }

    private static bool Alive(int pid)
    {
        if (OperatingSystem.IsLinux())
            return Directory.Exists($"/proc/{pid}");
        try
        {
            using var p = System.Diagnostics.Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>
    /// The real path of <paramref name="path"/>, every symlink and <c>..</c> resolved (for a path that does not exist
    /// yet: of its directory, plus its name). Two paths name the same file exactly when their real paths are equal.
    /// </summary>
    internal static string RealPath(string path)
    {
        string full = Path.GetFullPath(path).TrimEnd('/');
        if (full.Length == 0)
            full = "/";
        if (OperatingSystem.IsWindows())
            return full;
        if (Resolve(full) is string r)
            return r;
        string? dir = Path.GetDirectoryName(full);
        return dir is null ? full : Path.Combine(Resolve(dir) ?? dir, Path.GetFileName(full));
    }

    private static string? Resolve(string path)
    {
        nint p = NativeRealPath(path, 0);
        if (p == 0)
            return null;
        try
        {
            return Marshal.PtrToStringUTF8(p);
        }
        finally
        {
            Marshal.FreeHGlobal(p);
        }
    }

    [LibraryImport("libc", EntryPoint = "realpath", StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint NativeRealPath(string path, nint resolved);
}
