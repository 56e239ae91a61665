using System.Runtime.InteropServices;
using Ferry.IO;
using Microsoft.Win32.SafeHandles;

namespace Ferry.Caching;

/// <summary>
/// The few system calls the cache needs beyond <see cref="LocalFiles"/>: who owns a file and its mode (to refuse a
/// cache someone else could have written), and an advisory lock (<c>flock</c>) that the kernel releases when its holder
/// dies, so a killed run never leaves the cache locked. Linux only; elsewhere ownership is not checked and the lock is
/// the runtime's exclusive share mode.
/// </summary>
internal static partial class CacheFiles
{
    /// <summary>What a path or an open file is, its owner and its permission bits.</summary>
    internal readonly record struct Status(FileKind Kind, uint Owner, int Mode);

    /// <summary>The effective user ID of this process.</summary>
    public static uint EffectiveUser => OperatingSystem.IsLinux() ? GetEuid() : 0;

    /// <summary>What <paramref name="path"/> leads to (links followed); null with the errno when it cannot be examined.</summary>
    public static Status? StatPath(string path, out int errno) => StatAt(AtFdCwd, path, 0, out errno);

    /// <summary>What the open <paramref name="handle"/> is.</summary>
    public static Status? StatHandle(SafeFileHandle handle)
    {
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            return StatAt((int)handle.DangerousGetHandle(), "", AtEmptyPath, out _);
        }
        finally
        {
            if (added)
                handle.DangerousRelease();
        }
    }

    /// <summary>
    /// Why a cache directory or file with <paramref name="status"/> cannot be trusted — owned by another user, or
    /// writable by its group or by others (who could then write well-formed pairs of their choosing) — or null. Root's
    /// files are trusted by root.
    /// </summary>
    public static string? Distrust(Status status)
    {
        uint me = EffectiveUser;
        if (status.Owner != me)
            return $"it is owned by user {status.Owner}, not by this user ({me})";
        if ((status.Mode & 0x12) != 0) // 0022: group or others may write
            return $"it is writable by {((status.Mode & 0x10) != 0 ? "its group" : "others")} (mode {Convert.ToString(status.Mode & 0xFFF, 8)})";
        return null;
    }

    /// <summary>
    /// Opens (creating it, mode 0600) the lock file at <paramref name="path"/>, never through a symbolic link and never
    /// waiting on a FIFO.
    /// </summary>
    /// <exception cref="IOException">It cannot be opened or created, or it is not a regular file.</exception>
    public static SafeFileHandle OpenLock(string path)
    {
        if (!OperatingSystem.IsLinux())
            return File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        int fd = Open(path, ORdWr | OCreat | ONonBlock | OCloExec | ONoFollow, 0x180);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException(errno == ELoop ? $"{path}: is a symbolic link" : $"{path}: {Marshal.GetPInvokeErrorMessage(errno)}");
        }
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        var status = StatHandle(handle);
        if (status?.Kind != FileKind.Regular)
        {
            handle.Dispose();
            throw new IOException($"{path}: is {LocalFiles.Describe(status?.Kind ?? FileKind.Missing)}, not a regular file");
        }
        return handle;
    }

    /// <summary>Takes the exclusive lock on an open lock file without waiting: false when another holds it.</summary>
    /// <exception cref="IOException">The lock cannot be taken for another reason.</exception>
    public static bool TryLock(SafeFileHandle handle, string path)
    {
        if (!OperatingSystem.IsLinux())
            return true; // the handle was opened with FileShare.None: holding it is the lock
        while (true)
        {
            if (Flock(handle, LockEx | LockNb) == 0)
                return true;
            int errno = Marshal.GetLastPInvokeError();
            if (errno == EWouldBlock)
                return false;
            if (errno != EIntr)
                throw new IOException($"{path}: cannot lock: {Marshal.GetPInvokeErrorMessage(errno)}");
        }
    }

    private static unsafe Status? StatAt(int dirfd, string path, int flags, out int errno)
    {
        errno = 0;
        if (!OperatingSystem.IsLinux())
        {
            var kind = LocalFiles.KindOf(path, follow: true);
            return kind == FileKind.Missing ? null : new Status(kind, 0, 0);
        }
        byte* buf = stackalloc byte[256];
        if (StatX(dirfd, path, flags, StatxType | StatxMode | StatxUid, buf) != 0)
        {
            errno = Marshal.GetLastPInvokeError();
            return null;
        }
        uint uid = *(uint*)(buf + 20);
        int mode = *(ushort*)(buf + 28);
        var k = (mode & 0xF000) switch
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
        return new Status(k, uid, mode & 0xFFF);
    }

    private const int AtFdCwd = -100;
    private const int AtEmptyPath = 0x1000;
    private const uint StatxType = 0x1, StatxMode = 0x2, StatxUid = 0x8;
    private const int ORdWr = 2, OCreat = 0x40, ONonBlock = 0x800, OCloExec = 0x80000;
    private static int ONoFollow => RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.X86 ? 0x20000 : 0x8000;
    private const int LockEx = 2, LockNb = 4;
    private const int EIntr = 4, EWouldBlock = 11, ELoop = 40;

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
    private static partial int Flock(SafeFileHandle fd, int operation);

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static unsafe partial int StatX(int dirfd, string path, int flags, uint mask, byte* buffer);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEuid();
}
