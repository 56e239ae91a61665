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

    /// <summary>A read-only filesystem (a tmpfs mounted ro: root too is refused) as an oci: destination: exit 6, one line naming the user's path, no temp name.</summary>
    [InteropFact(Tool.Tmpfs)]
    public void Read_only_destination_is_one_line_naming_the_path()
    {
        var run = new Runner(_log);
        string mnt = Path.Combine(Path.GetTempPath(), "ferry-ro-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(mnt);
        Runner.Ensure(run.Raw("mount", ["-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", mnt]));
        try
        {
            string sample = Path.Combine(Corpus.RepoRoot() ?? throw new InteropException("repository root not found"), "samples", "ferry-sample.tar");
            var checks = new Checks(_log);
            foreach (var dest in new[] { "oci:" + Path.Combine(mnt, "layout"), Path.Combine(mnt, "out.tar") })
            {
                var r = run.Ferry("copy", sample, dest);
                checks.True(r.ExitCode == 6, $"{dest}: exit code {r.ExitCode}, want 6 (output error)");
                checks.True(r.Stderr.Trim().Split('\n').Length == 1 && r.Stderr.StartsWith("ferry: ", StringComparison.Ordinal), $"{dest}: not one line: {r.Stderr}");
                checks.True(r.Stderr.Contains(mnt, StringComparison.Ordinal) && !r.Stderr.Contains(".ferry-", StringComparison.Ordinal), $"{dest}: the message should name the user's path, not a temp name: {r.Stderr}");
                checks.True(r.Stderr.Contains("Read-only file system", StringComparison.Ordinal), $"{dest}: the message does not say why: {r.Stderr}");
            }
            checks.ThrowIfAny("read-only destination");
        }
        finally
        {
            run.Raw("umount", [mnt]);
            Directory.Delete(mnt, recursive: true);
        }
    }

    /// <summary>A full TMPDIR while stdin is spooled: exit 6, one line naming TMPDIR, nothing left there.</summary>
    [InteropFact(Tool.Tmpfs)]
    public void Full_tmpdir_is_one_line_and_leaves_nothing()
    {
        var run = new Runner(_log);
        string mnt = Path.Combine(Path.GetTempPath(), "ferry-tmpfull-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(mnt);
        Runner.Ensure(run.Raw("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt]));
        string outDir = Path.Combine(Path.GetTempPath(), "ferry-tmpfull-out-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(outDir);
        try
        {
            string sample = Path.Combine(Corpus.RepoRoot() ?? throw new InteropException("repository root not found"), "samples", "ferry-sample.tar");
            var r = run.Raw("/bin/sh", ["-c", $"TMPDIR='{mnt}' DOTNET_EnableDiagnostics=0 {FerryCli.ShellCommand($"copy - '{Path.Combine(outDir, "o.tar")}'")} < '{sample}'"], display: $"TMPDIR={mnt} ferry copy - o.tar < sample");
            var checks = new Checks(_log);
            checks.True(r.ExitCode == 6, $"exit code {r.ExitCode}, want 6");
            checks.True(r.Stderr.Trim().Split('\n').Length == 1 && r.Stderr.Contains(mnt, StringComparison.Ordinal) && r.Stderr.Contains("No space left on device", StringComparison.Ordinal),
                $"not one line naming TMPDIR and the reason: {r.Stderr}");
            checks.True(!Directory.EnumerateFileSystemEntries(mnt).Any(), $"left in TMPDIR: {string.Join(", ", Directory.EnumerateFileSystemEntries(mnt))}");
            checks.True(!Directory.EnumerateFileSystemEntries(outDir).Any(), $"left beside the destination: {string.Join(", ", Directory.EnumerateFileSystemEntries(outDir))}");
            checks.ThrowIfAny("full TMPDIR");
        }
        finally
        {
            run.Raw("umount", [mnt]);
            Directory.Delete(mnt, recursive: true);
            Directory.Delete(outDir, recursive: true);
        }
    }
}
