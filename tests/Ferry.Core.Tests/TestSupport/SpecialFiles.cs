using System.Runtime.InteropServices;

namespace Ferry.Tests.TestSupport;

/// <summary>FIFOs and device nodes made in a test's own directory (never under /dev): mknod needs root, as CI runs.</summary>
public static class SpecialFiles
{
    [DllImport("libc", EntryPoint = "mknod", SetLastError = true)]
    private static extern int Mknod([MarshalAs(UnmanagedType.LPUTF8Str)] string path, uint mode, ulong dev);

    [DllImport("libc", EntryPoint = "mkfifo", SetLastError = true)]
    private static extern int Mkfifo([MarshalAs(UnmanagedType.LPUTF8Str)] string path, uint mode);

    /// <summary>A character device node (major, minor) at <paramref name="path"/>: 1,3 is null, 1,5 zero, 1,7 full.</summary>
    public static string CharDevice(string path, uint major, uint minor)
    {
        ulong dev = ((ulong)major << 8) | minor;
        Assert.True(Mknod(path, 0x2000 | 0x1b6, dev) == 0, $"mknod {path}: errno {Marshal.GetLastPInvokeError()} (these tests run as root, as CI does)");
        return path;
    }

    /// <summary>A FIFO at <paramref name="path"/>, mode 0600.</summary>
    public static string Fifo(string path)
    {
        Assert.True(Mkfifo(path, 0x180) == 0, $"mkfifo {path}: errno {Marshal.GetLastPInvokeError()}");
        return path;
    }
}
