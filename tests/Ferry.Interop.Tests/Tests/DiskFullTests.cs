using Ferry.Interop.Tests.Fixture;
using Ferry.Interop.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Ferry.Interop.Tests.Tests;

/// <summary>A full disk: a clear error (exit 6), and nothing left on the full filesystem, not even a temp file.</summary>
public sealed class DiskFullTests(ITestOutputHelper output)
{
    private readonly Transcript _log = new(output);

    [InteropFact(Tool.Tmpfs)]
    public void Disk_full_gives_a_clear_error_and_leaves_nothing()
    {
        var run = new Runner(_log);
        string mnt = Path.Combine(Path.GetTempPath(), "ferry-full-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(mnt);
        Runner.Ensure(run.Raw("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt]));
        try
        {
            // The sample is 2 MB: it cannot fit in 1 MiB.
            string sample = Path.Combine(Corpus.RepoRoot() ?? throw new InteropException("repository root not found"), "samples", "ferry-sample.tar");
            var r = run.Ferry("copy", sample, Path.Combine(mnt, "out.tar"));
            var checks = new Checks(_log);
            checks.True(r.ExitCode == 6, $"exit code {r.ExitCode}, want 6 (output error)");
            checks.True(r.Stderr.Contains("No space left on device", StringComparison.Ordinal), $"message does not say the disk is full: {r.Stderr}");
            checks.True(r.Stderr.Trim().Split('\n').Length == 1, $"not one line: {r.Stderr}");
            var left = Directory.EnumerateFileSystemEntries(mnt).ToList();
            checks.True(left.Count == 0, $"left on the full filesystem: {string.Join(", ", left)}");
            checks.ThrowIfAny("disk full");
        }
        finally
        {
            run.Raw("umount", [mnt]);
            Directory.Delete(mnt, recursive: true);
        }
    }
}
