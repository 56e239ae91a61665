using Ferry.Tests.TestSupport;
using static Ferry.Tests.TestSupport.CliRun;

namespace Ferry.Tests.Cli;

/// <summary>What a new user reads when something is off: each message names the right thing, in one line.</summary>
public sealed class MessageTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private string Archive(string name = "docker.io/library/app:1", int seed = 91)
    {
        string p = _dir.Path($"src-{seed}.tar");
        ImageBuilder.WriteDockerArchive(p, [ImageBuilder.Image(seed, 2, "gzip", name)]);
        return p;
    }

    [Fact]
    public void RefusedCredentialsNameTheRegistryAndRepositoryNotALayer()
    {
        using var reg = new FakeRegistry("user:s3cret");
        var r = Run("copy", Archive(), $"docker://{reg.Address}/app:1", "--dest-creds", "user:wrong", "-q");
        Assert.Equal((1, $"ferry: registry {reg.Address}: repository app: 401 Unauthorized (check the credentials)\n"), (r.Code, r.Err));
    }

    [Fact]
    public void ASinceThatLeavesNothingOutSaysSo()
    {
        string week1 = _dir.Path("week1.tar");
        Ok(Run("copy", Archive("docker.io/library/other:1", 92), week1, "-q"));
        var r = Run("copy", Archive(), _dir.Path("week2.tar"), "--since", week1);
        Ok(r);
        Assert.Contains($"ferry: note: --since left nothing out: no layer of this image was shipped in week1.tar (", r.Err, StringComparison.Ordinal);
        Assert.Contains($"); {_dir.Path("week2.tar")} is complete\n", r.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void HelpOfAnUnknownCommandIsAUsageError()
    {
        var r = Run("help", "nosuch");
        Assert.Equal((2, "", "ferry: unknown command 'nosuch'\nRun 'ferry --help' for the commands.\n"), (r.Code, r.Out, r.Err));
        Assert.Equal((2, "ferry: unknown command 'cpy'; did you mean 'copy'?\nRun 'ferry --help' for the commands.\n"), (Run("help", "cpy").Code, Run("help", "cpy").Err));
    }

    [Theory]
    [InlineData(1, "1 ms")]
    [InlineData(250, "250 ms")]
    [InlineData(1500, "1.5 s")]
    [InlineData(30_000, "30 s")]
    [InlineData(300_000, "5 min")]
    public void ShortTimeoutsAreNotZeroSeconds(int milliseconds, string said) =>
        Assert.Equal(said, Ferry.Transports.Http.HttpLimits.Seconds(TimeSpan.FromMilliseconds(milliseconds)));

    [Fact]
    public void TagsOfAReferenceWithATagSaysTheTagIsIgnored()
    {
        using var reg = new FakeRegistry();
        Ok(Run("copy", Archive(), $"docker://{reg.Address}/app:1", "-q"));
        var r = Run("tags", $"{reg.Address}/app:1");
        Assert.Equal((0, "1\n", $"ferry: note: {reg.Address}/app:1: the tags of repository {reg.Address}/app are listed; the tag '1' is ignored\n"), (r.Code, r.Out, r.Err));
    }

    [Fact]
    public void ARefusedSparseIndexIsNamedByDigest()
    {
        using var reg = new FakeRegistry { ChecksIndexes = true };
        var amd = ImageBuilder.ImageFor([ImageBuilder.Layer(9410, compression: "gzip")], 941, "amd64", "docker.io/library/multi:1");
        var arm = ImageBuilder.ImageFor([ImageBuilder.Layer(9420, compression: "gzip")], 942, "arm64", "docker.io/library/multi:1");
        var index = ImageBuilder.Index([amd, arm]);
        string src = _dir.Path("multi.tar");
        ImageBuilder.WriteOciWithArtifacts(src, amd, "docker.io/library/multi:1", [], index, [amd, arm]);
        var r = Run("copy", src, $"docker://{reg.Address}/multi:1", "--platform", "linux/arm64", "--keep-index", "-q");
        Assert.Equal(1, r.Code);
        Assert.StartsWith($"ferry: registry {reg.Address}: multi@{index.Digest}: MANIFEST_BLOB_UNKNOWN", r.Err, StringComparison.Ordinal);
        Assert.Contains($"(index {index.Digest} is sparse, linux/amd64 absent,", r.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void ServingNothingFailsAtStart()
    {
        var r = Run("serve", Archive(), "--listen", "127.0.0.1:0");
        Assert.Equal((5, $"ferry: {Archive()}: nothing to serve: no image with a manifest (docker-archive images have none: ferry copy them to a portable archive first)\n"), (r.Code, r.Err[r.Err.IndexOf("ferry: " + Archive(), StringComparison.Ordinal)..]));
    }
}
