namespace Ferry.Tests.TestSupport;

/// <summary>Paths of the committed corpus (copied next to the test assembly).</summary>
public static class Corpus
{
    public static string Path(string relative) => System.IO.Path.Combine(AppContext.BaseDirectory, "Corpus", relative);
}

/// <summary>A temp directory deleted at dispose.</summary>
public sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Root = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "ferry-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Root);
    }

    public string Root { get; }

    public string Path(string name) => System.IO.Path.Combine(Root, name);

    /// <summary>Names of everything in the directory (to check nothing was left behind).</summary>
    public string[] Listing() => Directory.EnumerateFileSystemEntries(Root).Select(System.IO.Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
