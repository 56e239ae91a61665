using Ferry.Interop.Tests.Infrastructure;

namespace Ferry.Interop.Tests.Fixture;

/// <summary>
/// Third-party archive fixtures: looked up in the Core tests' corpus (tests/Ferry.Core.Tests/Corpus/DIR/FILE) first,
/// then in the shared fixtures directory (/work/shared/fixtures, or FERRY_FIXTURES_DIR).
/// </summary>
public static class Corpus
{
    public static string Find(string relative, Transcript log)
    {
        var candidates = new List<string>();
        if (RepoRoot() is { } root)
            candidates.Add(Path.Combine(root, "tests", "Ferry.Core.Tests", "Corpus", relative));
        if (Environment.GetEnvironmentVariable("FERRY_FIXTURES_DIR") is { Length: > 0 } dir)
            candidates.Add(Path.Combine(dir, relative));
        candidates.Add(Path.Combine("/work/shared/fixtures", relative));
        foreach (var c in candidates)
        {
            if (File.Exists(c))
            {
                log.Line($"fixture {relative}: using {c}");
                return c;
            }
            log.Line($"fixture {relative}: not at {c}");
        }
        throw new InteropException($"fixture {relative} is in none of: {string.Join(", ", candidates)}");
    }

    /// <summary>The repository root (the directory holding Ferry.slnx above the test assembly), if any.</summary>
    public static string? RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "Ferry.slnx")))
                return d.FullName;
        }
        return null;
    }
}
