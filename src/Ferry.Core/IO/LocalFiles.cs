using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Ferry.IO;

/// <summary>What a path names on this machine (the node itself, or what a link leads to when links are followed).</summary>
internal enum FileKind
{
    Missing,
    Regular,
    Directory,
    Symlink,
    Fifo,
    CharDevice,
    BlockDevice,
    Socket,
}

/// <summary>
/// Files on a host that may be shared with someone hostile: any path may be a symbolic link, a FIFO or a device. Opens
/// without following links where asked, never blocks on a FIFO that nobody writes to, tells regular files from special
/// ones, and reads small files (auth files, keys, records, htpasswd) with a byte limit instead of trusting the length
/// a file reports. Linux does this with <c>open(O_NOFOLLOW|O_NONBLOCK)</c>, <c>openat</c> and <c>statx</c> (glibc
/// 2.28); elsewhere the managed APIs are used.
/// </summary>
internal static partial class LocalFiles
{
    /// <summary>How long a small file that is a FIFO or a device may take to give its bytes.</summary>
    public static TimeSpan SpecialFileWait { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>What <paramref name="path"/> is: the node itself (<paramref name="follow"/> false) or what it leads to.</summary>
    public static FileKind KindOf(string path, bool follow)
    {
        if (!OperatingSystem.IsLinux())
            return ManagedKind(path, follow);
        var (kind, _, errno) = Stat(AtFdCwd, path, follow ? 0 : AtSymlinkNoFollow);
        return errno == 0 ? kind : FileKind.Missing;
    }

    /// <summary>Whether <paramref name="kind"/> is a node that is written in place, never replaced: a FIFO, a device or a socket.</summary>
    public static bool IsSpecial(FileKind kind) => kind is FileKind.Fifo or FileKind.CharDevice or FileKind.BlockDevice or FileKind.Socket;

    /// <summary>"a FIFO", "a character device", … for messages.</summary>
    public static string Describe(FileKind kind) => kind switch
    {
        FileKind.Regular => "a regular file",
        FileKind.Directory => "a directory",
        FileKind.Symlink => "a symbolic link",
        FileKind.Fifo => "a FIFO",
        FileKind.CharDevice => "a character device",
        FileKind.BlockDevice => "a block device",
        FileKind.Socket => "a socket",
        _ => "missing",
    };

    /// <summary>
    /// Opens <paramref name="path"/> for reading without blocking on a FIFO (the handle is made blocking again after the
    /// open), following links unless <paramref name="follow"/> is false (a link is then an error).
    /// </summary>
    /// <exception cref="IOException">It cannot be opened (the message says why, naming the path).</exception>
    public static (SafeFileHandle Handle, FileKind Kind, long Length) OpenRead(string path, bool follow = true)
    {
        if (!OperatingSystem.IsLinux())
        {
            var kind = ManagedKind(path, follow);
            if (kind == FileKind.Symlink)
                throw new IOException($"{path}: is a symbolic link");
            var h = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            return (h, kind, kind == FileKind.Regular ? RandomAccess.GetLength(h) : -1);
        }
        int fd = Open(path, ORdOnly | ONonBlock | OCloExec | (follow ? 0 : ONoFollow), 0);
        if (fd < 0)
            throw Error(Marshal.GetLastPInvokeError(), path, follow);
        return Adopt(fd, path);
    }

    /// <summary>
    /// Opens <paramref name="relative"/> (forward slashes) below the directory <paramref name="root"/> for reading, as
    /// Linux's <c>RESOLVE_BENEATH</c> does: a symbolic link on the way is followed only while it stays below the root
    /// (a relative link between files of a layout), never to an absolute path or out through <c>..</c>; the root itself
    /// may be a link (the user named it). What a layout names is read from the layout. Null when it does not exist.
    /// </summary>
    /// <exception cref="IOException">A link leads out of the root, a component is not a directory, or the file is not a regular file.</exception>
    public static (SafeFileHandle Handle, long Length)? OpenBeneath(string root, string relative)
    {
        if (!OperatingSystem.IsLinux())
            return ManagedOpenBeneath(root, relative);
        var pending = new Stack<string>(relative.Split('/', StringSplitOptions.RemoveEmptyEntries).Reverse());
        var at = new List<string>();
        int links = 0;
        int dir = Open(root, ORdOnly | ODirectory | OCloExec, 0);
        if (dir < 0)
            throw Error(Marshal.GetLastPInvokeError(), root, follow: true);
        try
        {
            while (pending.Count > 0)
            {
                string part = pending.Pop();
                if (part == ".")
                    continue;
                if (part == "..")
                {
                    if (at.Count == 0)
                        throw new IOException($"{relative} leads out of {root}");
                    at.RemoveAt(at.Count - 1);
                    _ = Close(dir);
                    dir = -1;
                    dir = Walk(root, at);
                    continue;
                }
                bool last = pending.Count == 0;
                string so = string.Join('/', at.Append(part));
                int fd = OpenAt(dir, part, ORdOnly | OCloExec | ONoFollow | (last ? ONonBlock : ODirectory), 0);
                if (fd >= 0)
                {
                    if (last)
                    {
                        var (h, k, length) = Adopt(fd, so);
                        if (k != FileKind.Regular)
                        {
                            h.Dispose();
                            throw new IOException($"{so} is {Describe(k)}, not a regular file");
                        }
                        return (h, length);
                    }
                    _ = Close(dir);
                    dir = fd;
                    at.Add(part);
                    continue;
                }
                int errno = Marshal.GetLastPInvokeError();
                if (errno == ENOENT)
                    return null;
                var (kind, _, _) = Stat(dir, part, AtSymlinkNoFollow);
                if (kind != FileKind.Symlink)
                    throw errno == ENOTDIR ? new IOException($"{so} is {Describe(kind)}, not a directory") : Error(errno, so, follow: false);
                if (++links > 40)
                    throw new IOException($"{relative}: too many levels of symbolic links");
                string target = ReadLinkAt(dir, part) ?? throw new IOException($"{so}: cannot read the link");
                if (target.StartsWith('/'))
                    throw new IOException($"{so} is a link to {target}, outside {root} (links out of a layout are not followed)");
                foreach (var p in target.Split('/', StringSplitOptions.RemoveEmptyEntries).Reverse())
                    pending.Push(p);
            }
            throw new IOException($"{relative}: names a directory, not a file");
        }
        finally
        {
            if (dir >= 0)
                _ = Close(dir);
        }
    }

    /// <summary>Opens the directory <paramref name="root"/>/<paramref name="at"/>, whose components are known to be directories, following no link.</summary>
    private static int Walk(string root, List<string> at)
    {
        int dir = Open(root, ORdOnly | ODirectory | OCloExec, 0);
        if (dir < 0)
            throw Error(Marshal.GetLastPInvokeError(), root, follow: true);
        foreach (var part in at)
        {
            int fd = OpenAt(dir, part, ORdOnly | OCloExec | ONoFollow | ODirectory, 0);
            int errno = Marshal.GetLastPInvokeError();
            _ = Close(dir);
            if (fd < 0)
                throw Error(errno, part, follow: false);
            dir = fd;
        }
        return dir;
    }

    private static unsafe string? ReadLinkAt(int dir, string name)
    {
        byte* buf = stackalloc byte[4096];
        nint n = NativeReadLinkAt(dir, name, buf, 4096);
        return n is < 0 or >= 4096 ? null : System.Text.Encoding.UTF8.GetString(buf, (int)n);
    }

    private static (SafeFileHandle, long)? ManagedOpenBeneath(string root, string relative)
    {
        string full = Path.GetFullPath(Path.Combine(root, relative));
        if (!File.Exists(full))
            return null;
        string realRoot = Path.GetFullPath(new DirectoryInfo(root).ResolveLinkTarget(true)?.FullName ?? root);
        string real = new FileInfo(full).ResolveLinkTarget(true)?.FullName ?? full;
        if (!Path.GetFullPath(real).StartsWith(realRoot.TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw new IOException($"{relative} leads out of {root} (links out of a layout are not followed)");
        var h = File.OpenHandle(full, FileMode.Open, FileAccess.Read, FileShare.Read);
        return (h, RandomAccess.GetLength(h));
    }

    /// <summary>
    /// Reads a small file whole: at most <paramref name="limit"/> bytes, however large it says it is (a device like
    /// <c>/dev/zero</c> never ends); a FIFO or device must give its bytes within <see cref="SpecialFileWait"/>.
    /// </summary>
    /// <param name="path">The file (links are followed: the user named it).</param>
    /// <param name="limit">The most bytes it may hold.</param>
    /// <param name="what">How the file is named in errors (<c>--authfile x</c>).</param>
    /// <exception cref="FerryException">Missing, a directory, too large, or a FIFO that gives nothing in time (exit 2).</exception>
    public static byte[] ReadSmall(string path, int limit, string what)
    {
        SafeFileHandle handle;
        FileKind kind;
        long length;
        try
        {
            (handle, kind, length) = OpenRead(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"{what}: {Unprefixed(e.Message, path)}");
        }
        using (handle)
        {
            if (kind == FileKind.Directory)
                throw new UsageException($"{what}: is a directory");
            if (kind == FileKind.Regular && length > limit)
                throw new UsageException($"{what}: {length} bytes, over the {Size(limit)} limit");
            byte[] bytes;
            try
            {
                if (kind == FileKind.Regular)
                {
                    bytes = ReadUpTo(handle, limit + 1, positional: true);
                }
                else
                {
                    // A FIFO's writer may keep it open and never write: the read is abandoned (the handle closed) in time.
                    var read = Task.Run(() => ReadUpTo(handle, limit + 1, positional: false));
                    if (!read.Wait(SpecialFileWait))
                        throw new UsageException($"{what}: {Describe(kind)} that gave no end of data within {SpecialFileWait.TotalSeconds:0} s");
                    bytes = read.GetAwaiter().GetResult();
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new UsageException($"{what}: cannot read: {Unprefixed(e.Message, path)}");
            }
            if (bytes.Length > limit)
                throw new UsageException($"{what}: {(kind == FileKind.Regular ? "more than" : $"{Describe(kind)} giving more than")} {Size(limit)}, over the limit");
            return bytes;
        }
    }

    private static byte[] ReadUpTo(SafeFileHandle handle, int max, bool positional)
    {
        using var ms = new MemoryStream();
        byte[] buf = new byte[Math.Min(max, 64 << 10)];
        long offset = 0;
        while (ms.Length < max)
        {
            int n = positional
                ? RandomAccess.Read(handle, buf.AsSpan(0, (int)Math.Min(buf.Length, max - ms.Length)), offset)
                : ReadStream(handle, buf.AsSpan(0, (int)Math.Min(buf.Length, max - ms.Length)));
            if (n <= 0)
                break;
            ms.Write(buf, 0, n);
            offset += n;
        }
        return ms.ToArray();
    }

    private static int ReadStream(SafeFileHandle handle, Span<byte> buffer)
    {
        if (!OperatingSystem.IsLinux())
        {
            using var fs = new FileStream(handle, FileAccess.Read, 1);
            return fs.Read(buffer);
        }
        unsafe
        {
            fixed (byte* p = buffer)
            {
                while (true)
                {
                    nint n = NativeRead(handle, p, buffer.Length);
                    if (n >= 0)
                        return (int)n;
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno != EINTR)
                        throw Error(errno, "read", follow: true);
                }
            }
        }
    }

    /// <summary>
    /// Where writing <paramref name="path"/> lands, as <c>cp</c> has it: through symbolic links to the file they name
    /// (which need not exist yet), and what is there now. A regular or missing target is written as a temp file beside
    /// it and renamed; a FIFO, device or socket is written in place (never replaced); a directory is refused.
    /// </summary>
    public static (string Path, FileKind Kind) ResolveForWriting(string path)
    {
        string full = Path.GetFullPath(path);
        for (int hops = 0; hops < 40; hops++)
        {
            var kind = KindOf(full, follow: false);
            if (kind != FileKind.Symlink)
                return (full, kind);
            string? target = new FileInfo(full).LinkTarget;
            if (target is null)
                return (full, KindOf(full, follow: true));
            full = Path.GetFullPath(target, Path.GetDirectoryName(full)!);
        }
        throw new IOException($"{path}: too many levels of symbolic links");
    }

    /// <summary>Opens a FIFO, device or socket that exists for writing in place (no truncation, nothing created).</summary>
    public static FileStream OpenSpecialForWriting(string path) =>
        new(path, new FileStreamOptions { Mode = FileMode.Open, Access = FileAccess.Write, Share = FileShare.ReadWrite, BufferSize = 1 << 16 });

    /// <summary>"1 MiB", "64 KiB" for limits.</summary>
    private static string Size(int bytes) => bytes >= 1 << 20 && bytes % (1 << 20) == 0 ? $"{bytes >> 20} MiB" : bytes >= 1 << 10 && bytes % (1 << 10) == 0 ? $"{bytes >> 10} KiB" : $"{bytes} bytes";

    private static string Unprefixed(string message, string path) =>
        message.StartsWith(path + ": ", StringComparison.Ordinal) ? message[(path.Length + 2)..] : message;

    /// <summary>The umask of this process (Linux: from <c>/proc/self/status</c>; 022 when it cannot be read).</summary>
    public static UnixFileMode Umask
    {
        get
        {
            if (_umask is { } known)
                return known;
            var mask = (UnixFileMode)Convert.ToInt32("022", 8);
            try
            {
                if (OperatingSystem.IsLinux())
                {
                    foreach (var line in File.ReadLines("/proc/self/status"))
                    {
                        if (line.StartsWith("Umask:", StringComparison.Ordinal))
                        {
                            mask = (UnixFileMode)Convert.ToInt32(line[6..].Trim(), 8);
                            break;
                        }
                    }
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
            {
            }
            _umask = mask;
            return mask;
        }
    }

    private static UnixFileMode? _umask;

    /// <summary>The mode a new file gets from <c>open(…, 0666)</c> under this process's umask.</summary>
    public static UnixFileMode NewFileMode => (UnixFileMode)Convert.ToInt32("666", 8) & ~Umask;

    /// <summary>The mode a new directory gets from <c>mkdir(…, 0777)</c> under this process's umask.</summary>
    public static UnixFileMode NewDirectoryMode => (UnixFileMode)Convert.ToInt32("777", 8) & ~Umask;

    /// <summary>Only the owner may read or write: every temp file Ferry makes.</summary>
    public const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>Creates a new file (never an existing one, never through a link), mode 0600, for writing (and reading).</summary>
    public static FileStream CreatePrivate(string path, int bufferSize = 1 << 16, FileOptions options = FileOptions.Asynchronous)
    {
        var o = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.ReadWrite, Share = FileShare.None, BufferSize = bufferSize, Options = options };
        if (!OperatingSystem.IsWindows())
            o.UnixCreateMode = OwnerOnly;
        return new FileStream(path, o);
    }

    private static (SafeFileHandle, FileKind, long) Adopt(int fd, string path)
    {
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        try
        {
            var (kind, size, errno) = Stat(fd, "", AtEmptyPath);
            if (errno != 0)
                throw Error(errno, path, follow: true);
            // Back to blocking reads: O_NONBLOCK only kept the open from waiting for a FIFO's writer.
            int flags = Fcntl(fd, FGetFl, 0);
            if (flags >= 0 && (flags & ONonBlock) != 0)
                _ = Fcntl(fd, FSetFl, flags & ~ONonBlock);
            return (handle, kind, kind == FileKind.Regular ? size : -1);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    private static FileKind ManagedKind(string path, bool follow)
    {
        var info = new FileInfo(path);
        if (!info.Exists && !Directory.Exists(path) && info.LinkTarget is null)
            return FileKind.Missing;
        if (info.LinkTarget is not null)
        {
            if (!follow)
                return FileKind.Symlink;
            var target = info.ResolveLinkTarget(returnFinalTarget: true);
            if (target is null || !target.Exists)
                return FileKind.Missing;
            return target is DirectoryInfo ? FileKind.Directory : FileKind.Regular;
        }
        return Directory.Exists(path) ? FileKind.Directory : FileKind.Regular;
    }

    private static unsafe (FileKind Kind, long Size, int Errno) Stat(int dirfd, string path, int flags)
    {
        byte* buf = stackalloc byte[256];
        if (StatX(dirfd, path, flags, StatxType | StatxMode | StatxSize, buf) != 0)
            return (FileKind.Missing, 0, Marshal.GetLastPInvokeError());
        int mode = *(ushort*)(buf + 28);
        long size = *(long*)(buf + 40);
        var kind = (mode & 0xF000) switch
        {
            0x8000 => FileKind.Regular,
            0x4000 => FileKind.Directory,
            0xA000 => FileKind.Symlink,
            0x1000 => FileKind.Fifo,
            0x2000 => FileKind.CharDevice,
            0x6000 => FileKind.BlockDevice,
            0xC000 => FileKind.Socket,
            _ => FileKind.Missing,
        };
        return (kind, size, 0);
    }

    private static IOException Error(int errno, string path, bool follow) => errno switch
    {
        ENOENT => new FileNotFoundException($"{path}: no such file or directory"),
        EACCES or EPERM => new IOException($"{path}: permission denied"),
        ELOOP when !follow => new IOException($"{path}: is a symbolic link"),
        ENOTDIR => new IOException($"{path}: a component of the path is not a directory"),
        EISDIR => new IOException($"{path}: is a directory"),
        _ => new IOException($"{path}: {Marshal.GetPInvokeErrorMessage(errno)}"),
    };

    // Linux constants. O_NOFOLLOW and O_DIRECTORY differ between x86-64 and arm64 (asm-generic).
    private const int AtFdCwd = -100;
    private const int ORdOnly = 0;
    private const int ONonBlock = 0x800;
    private const int OCloExec = 0x80000;
    private static int ONoFollow => RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.X86 ? 0x20000 : 0x8000;
    private static int ODirectory => RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.X86 ? 0x10000 : 0x4000;
    private const int AtSymlinkNoFollow = 0x100;
    private const int AtEmptyPath = 0x1000;
    private const uint StatxType = 0x1, StatxMode = 0x2, StatxSize = 0x200;
    private const int FGetFl = 3, FSetFl = 4;
    private const int EPERM = 1, ENOENT = 2, EINTR = 4, EACCES = 13, ENOTDIR = 20, EISDIR = 21, ELOOP = 40;

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "openat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int OpenAt(int dirfd, string path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static unsafe partial int StatX(int dirfd, string path, int flags, uint mask, byte* buffer);

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int Fcntl(int fd, int cmd, int arg);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static unsafe partial nint NativeRead(SafeFileHandle fd, byte* buffer, nint count);

    [LibraryImport("libc", EntryPoint = "readlinkat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static unsafe partial nint NativeReadLinkAt(int dirfd, string path, byte* buffer, nint size);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
