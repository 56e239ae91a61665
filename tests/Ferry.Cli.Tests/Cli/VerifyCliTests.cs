using Ferry.Tests.TestSupport;
using static Ferry.Tests.TestSupport.CliRun;

namespace Ferry.Tests.Cli;

/// <summary>
/// <c>verify</c> follows the rule of every command: what stops it from reading the source is one line,
/// <c>ferry: WHERE: problem</c>, with the documented exit code (5 not found, 3 invalid archive); what it finds in a
/// source it could read is its report (every line with the <c>ferry:</c> prefix), exit 1 when there is an error.
/// </summary>
public sealed class VerifyCliTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void AMissingFileIsNotFound()
    {
        string missing = _dir.Path("x.tar");
        var r = Run("verify", missing);
        Assert.Equal((5, "", $"ferry: {missing}: no such file or directory\n"), (r.Code, r.Out, r.Err));
        var json = Run("verify", missing, "--json");
        Assert.Equal((5, "", $"ferry: {missing}: no such file or directory\n"), (json.Code, json.Out, json.Err));
    }

    [Fact]
    public void AFileThatIsNoArchiveIsAnInvalidArchive()
    {
        string path = _dir.Path("x.tar");
        File.WriteAllText(path, "hello\n");
        var r = Run("verify", path);
        Assert.Equal((3, "", $"ferry: {path}: not a tar archive (only 6 bytes)\n"), (r.Code, r.Out, r.Err));
    }

    [Fact]
    public void FindingsCarryTheFerryPrefix()
    {
        var img = ImageBuilder.Image(81, 1, "gzip");
        string path = _dir.Path("untagged.tar");
        ImageBuilder.WriteOciLayout(path, [img]);
        var r = Run("verify", path);
        Ok(r);
        Assert.Equal($"ferry: warning: {img.ManifestDigest}: image has no name\n{path}: OK (oci-archive: 1 image, 3 blobs verified, 1 warning)\n", r.Out);
    }
}
