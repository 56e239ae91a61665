using System.Runtime.CompilerServices;

namespace Ferry.Tests.TestSupport;

/// <summary>
/// The verified-layer cache of a test run is its own (<c>FERRY_CACHE_DIR</c> under the temp directory, removed at exit),
/// so that tests neither read nor fill the cache of whoever runs them; set beforehand, the variable is left alone.
/// </summary>
internal static class IsolatedCache
{
    public static string? Directory { get; private set; }

    [ModuleInitializer]
    internal static void Isolate()
    {
        if (Environment.GetEnvironmentVariable("FERRY_CACHE_DIR") is not null)
            return;
        Directory = Path.Combine(Path.GetTempPath(), $"ferry-test-cache-{Environment.ProcessId}");
        Environment.SetEnvironmentVariable("FERRY_CACHE_DIR", Directory);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                System.IO.Directory.Delete(Directory, recursive: true);
            }
            catch (IOException)
            {
            }
        };
    }
}
