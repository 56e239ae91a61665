using Ferry.Transports;
using Ferry.Transports.Daemon;

namespace Ferry.Tests.Transports;

public class ReferenceTests
{
    [Theory]
    [InlineData("x.tar", TransportKind.Path, "x.tar", null)]
    [InlineData("-", TransportKind.Path, "-", null)]
    [InlineData("docker-archive:/a/b.tar", TransportKind.DockerArchive, "/a/b.tar", null)]
    [InlineData("docker-archive:b.tar:ubuntu:20.04", TransportKind.DockerArchive, "b.tar", "ubuntu:20.04")]
    [InlineData("oci-archive:o.tar:docker.io/library/x:1", TransportKind.OciArchive, "o.tar", "docker.io/library/x:1")]
    [InlineData("oci:dir", TransportKind.OciDirectory, "dir", null)]
    [InlineData("docker-daemon:ubuntu:20.04", TransportKind.DockerDaemon, "", "ubuntu:20.04")]
    [InlineData("docker-daemon:sha256:abc", TransportKind.DockerDaemon, "", "sha256:abc")]
    [InlineData("docker://127.0.0.1:5000/a/b:1", TransportKind.Registry, "", "docker://127.0.0.1:5000/a/b:1")]
    public void ParsesSkopeoGrammar(string text, TransportKind kind, string path, string? name)
    {
        var r = ImageReference.Parse(text);
        Assert.Equal((kind, path, name), (r.Transport, r.Path, r.Name));
    }

    [Theory]
    [InlineData("docker-archive:")]
    [InlineData("docker://")]
    [InlineData("")]
    public void RejectsWhatItCannotDo(string text) => Assert.Throws<UsageException>(() => ImageReference.Parse(text));

    [Fact]
    public void DaemonFormatIsDockerArchiveAndConflictingFormatIsRejected()
    {
        Assert.Equal(Ferry.Copy.OutputFormat.DockerArchive, Ferry.Copy.CopyOperation.ResolveFormat(ImageReference.Parse("docker-daemon:x:1"), null));
        Assert.Throws<UsageException>(() => Ferry.Copy.CopyOperation.ResolveFormat(ImageReference.Parse("oci-archive:x.tar"), Ferry.Copy.OutputFormat.DockerArchive));
        Assert.Throws<UsageException>(() => Ferry.Copy.CopyOperation.ResolveFormat(ImageReference.Parse("-"), Ferry.Copy.OutputFormat.Oci));
    }

    [Fact]
    public async Task UnreachableDaemonIsAOneLineErrorNamingTheAddress()
    {
        using var client = new DockerEngineClient("unix:///nonexistent/ferry-test.sock");
        var e = await Assert.ThrowsAsync<FerryException>(() => client.NegotiateAsync());
        Assert.Equal("cannot connect to the docker daemon at unix:///nonexistent/ferry-test.sock: no such socket (is it running? set DOCKER_HOST or --host)", e.Message);
    }

    [Fact]
    public void UnsupportedHostScheme() => Assert.Throws<UsageException>(() => new DockerEngineClient("ssh://host"));

    [Theory]
    [InlineData("1.41", "1.42", -1)]
    [InlineData("1.43", "1.43", 0)]
    [InlineData("1.100", "1.43", 1)]
    public void ApiVersionsCompareNumerically(string a, string b, int sign) => Assert.Equal(sign, Math.Sign(DockerEngineClient.CompareVersions(a, b)));
}
