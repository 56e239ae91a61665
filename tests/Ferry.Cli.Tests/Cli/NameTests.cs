using System.Formats.Tar;
using System.Text;
using Ferry.Tests.TestSupport;
using static Ferry.Tests.TestSupport.CliRun;

namespace Ferry.Tests.Cli;

/// <summary>
/// Every name Ferry writes is checked where it enters, in one grammar (distribution's: lowercase repository, tag
/// <c>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}</c>, digest), as a usage error naming the bad part; <c>verify</c> reports the
/// names loaders refuse as errors.
/// </summary>
public sealed class NameTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static string Sample => Corpus.Path("samples/ferry-sample.tar");

    [Fact]
    public void ADaemonDestinationNameIsCheckedBeforeTheDaemonIsAsked()
    {
        var r = Run("copy", Sample, "docker-daemon:Foo:1", "--host", "unix:///nonexistent.sock");
        Assert.Equal((2, "ferry: docker-daemon:Foo:1: invalid image name: repository 'Foo' must be lowercase\n"), (r.Code, r.Err));
    }

    [Fact]
    public void ATagIsCheckedBeforeAnythingIsRead()
    {
        var r = Run("copy", _dir.Path("missing.tar"), _dir.Path("y.tar"), "--tag", "Foo/bar:1");
        Assert.Equal((2, "ferry: --tag Foo/bar:1: invalid image name: repository 'Foo/bar' must be lowercase\n"), (r.Code, r.Err));
        Assert.Empty(_dir.Listing());
    }

    [Theory]
    [InlineData("app:bé", "invalid tag 'bé'")]
    [InlineData("app:.x", "invalid tag '.x'")]
    [InlineData("a..b:1", "invalid repository component 'a..b'")]
    [InlineData("app@sha256:abc", "invalid digest 'sha256:abc'")]
    public void TheBadPartIsNamed(string name, string part)
    {
        var r = Run("copy", Sample, _dir.Path("y.tar"), "--tag", name);
        Assert.Equal(2, r.Code);
        Assert.StartsWith($"ferry: --tag {name}: invalid image name: {part}", r.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void ADockerArchiveDestinationNameIsADockerReference()
    {
        var r = Run("copy", Sample, $"docker-archive:{_dir.Path("y.tar")}:Foo:1");
        Assert.Equal((2, $"ferry: docker-archive:{_dir.Path("y.tar")}:Foo:1: invalid image name: repository 'Foo' must be lowercase\n"), (r.Code, r.Err));
        Assert.Empty(_dir.Listing());
    }

    [Fact]
    public void AnOciLayoutTakesAnyOciRefName()
    {
        Ok(Run("copy", Sample, $"oci:{_dir.Path("layout")}:Release-1.0", "-q"));
        var r = Run("copy", Sample, $"oci:{_dir.Path("other")}:bad name");
        Assert.Equal(2, r.Code);
        Assert.StartsWith($"ferry: oci:{_dir.Path("other")}:bad name: invalid image name: ", r.Err, StringComparison.Ordinal);
    }

    private string WithRepoTags(string repoTags)
    {
        var files = ImageBuilder.ReadTar(Sample);
        string manifest = Encoding.UTF8.GetString(files["manifest.json"]);
        var doc = System.Text.Json.Nodes.JsonNode.Parse(manifest)!.AsArray();
        doc[0]!["RepoTags"] = System.Text.Json.Nodes.JsonNode.Parse(repoTags);
        files["manifest.json"] = Encoding.UTF8.GetBytes(doc.ToJsonString());
        string path = _dir.Path("named.tar");
        ImageBuilder.WriteTar(path, files.Select(f => (f.Key, (byte[]?)f.Value, (string?)null, TarEntryType.RegularFile)));
        return path;
    }

    [Theory]
    [InlineData("[\"Foo/bar:1\"]", "RepoTags entry 'Foo/bar:1' is not a valid reference (repository 'Foo/bar' must be lowercase): docker and podman refuse to load it")]
    [InlineData("[\"docker.io/library/app\"]", "RepoTags entry 'docker.io/library/app' has no tag: docker and podman refuse to load it")]
    public void VerifyReportsNamesLoadersRefuseAsErrors(string repoTags, string problem)
    {
        string path = WithRepoTags(repoTags);
        var r = Run("verify", path);
        Assert.Equal(1, r.Code);
        Assert.Contains($"error: sha256:22345e9880a282682f584f0617c4fcf05603e73d5c36fe4f57c7743342691632: {problem}\n", r.Err, StringComparison.Ordinal);
        Assert.DoesNotContain("warning", r.Out + r.Err, StringComparison.Ordinal);
        Assert.EndsWith($"{path}: FAILED (1 error)\n", r.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void AnArchiveWithARefusedNameIsStillReadWithoutIt()
    {
        string path = WithRepoTags("[\"Foo/bar:1\", \"docker.io/library/good:1\"]");
        var r = Run("copy", path, _dir.Path("out.tar"));
        Ok(r);
        Assert.Contains("is not a valid reference (repository 'Foo/bar' must be lowercase): docker and podman refuse to load it; the image is read without it", r.Err, StringComparison.Ordinal);
        using var s = F.Open(_dir.Path("out.tar"));
        Assert.Equal(["docker.io/library/good:1"], s.Images.Single().Names.Select(n => n.ToString()));
    }
}
