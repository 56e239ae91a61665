using Ferry.Tests.TestSupport;
using Ferry.Transports;
using Ferry.Transports.Files;
using Ferry.Transports.Daemon;
using Ferry.Transports.Registry;

namespace Ferry.Tests.Transports;

public class ReferenceTests
{
    [Theory]
    [InlineData("x.tar", "path", "x.tar", null)]
    [InlineData("-", "path", "-", null)]
    [InlineData("a:b.tar", "path", "a:b.tar", null)]
    [InlineData("docker-archive:/a/b.tar", "docker-archive", "/a/b.tar", null)]
    [InlineData("docker-archive:b.tar:ubuntu:20.04", "docker-archive", "b.tar", "ubuntu:20.04")]
    [InlineData("oci-archive:o.tar:docker.io/library/x:1", "oci-archive", "o.tar", "docker.io/library/x:1")]
    [InlineData("oci:dir", "oci", "dir", null)]
    public void ParsesArchiveReferencesInSkopeosGrammar(string text, string transport, string path, string? name)
    {
        // "a:b.tar" is a path only when no transport is called "a" and the file exists.
        using var dir = new TempDir();
        if (text == "a:b.tar")
            text = dir.Path("a:b.tar");
        if (text.EndsWith("a:b.tar", StringComparison.Ordinal))
        {
            File.WriteAllText(text, "");
            path = text;
        }
        var r = Assert.IsType<ArchiveReference>(F.Ref(text));
        Assert.Equal((transport, path, name), (r.Transport.Name, r.Path, r.Name));
        Assert.Equal(text, r.ToString());
    }

    [Theory]
    [InlineData("127.0.0.1:5000/app:1", "127.0.0.1:5000/app:1")]
    [InlineData("localhost:5000/team/app", "localhost:5000/team/app:latest")]
    [InlineData("localhost/app:2", "localhost/app:2")]
    [InlineData("quay.io/podman/hello:latest", "quay.io/podman/hello:latest")]
    [InlineData("registry.local/app@sha256:0000000000000000000000000000000000000000000000000000000000000000", "registry.local/app@sha256:0000000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("registry.local:5000/backup.tar:1", "registry.local:5000/backup.tar:1")]
    public void ABareRegistryReferenceThatIsNoFileIsARegistrys(string text, string name)
    {
        var r = Assert.IsType<RegistryReference>(F.Ref(text));
        Assert.Equal(name, r.Name.ToString());
        Assert.True(r.Bare);
        Assert.False(((RegistryReference)F.Ref("docker://" + text)).Bare);
    }

    [Theory]
    [InlineData("dir/app:1")]
    [InlineData("out.d/x.tar")] // ends like an archive, no tag
    [InlineData("./127.0.0.1:5000/app:1")]
    [InlineData("Registry.local/App:1")] // no valid reference
    public void WhatCannotBeABareRegistryReferenceIsAPath(string text) =>
        Assert.IsType<ArchiveReference>(F.Ref(text));

    [Fact]
    public void AFileOrADirectoryOfThatNameStaysAPath()
    {
        using var dir = new TempDir();
        string cwd = Environment.CurrentDirectory;
        try
        {
            Environment.CurrentDirectory = dir.Root;
            File.WriteAllText("x.tar", "");
            Directory.CreateDirectory("registry.local");
            Assert.IsType<ArchiveReference>(F.Ref("registry.local/app:1"));
            Directory.CreateDirectory("host.d:5000");
            File.WriteAllText("host.d:5000/app", "");
            Assert.IsType<ArchiveReference>(F.Ref("host.d:5000/app"));
        }
        finally
        {
            Environment.CurrentDirectory = cwd;
        }
    }

    [Theory]
    [InlineData("docker-daemon:ubuntu:20.04", new[] { "ubuntu:20.04" })]
    [InlineData("docker-daemon:sha256:abc", new[] { "sha256:abc" })]
    [InlineData("docker-daemon:a:1,b:2", new[] { "a:1", "b:2" })]
    [InlineData("docker-daemon:", new string[0])]
    public void ParsesDaemonReferences(string text, string[] names)
    {
        var r = Assert.IsType<DaemonReference>(F.Ref(text));
        Assert.Equal(names, r.Names);
    }

    [Theory]
    [InlineData("docker://127.0.0.1:5000/a/b:1", "127.0.0.1:5000/a/b:1", "127.0.0.1:5000")]
    [InlineData("docker://ubuntu", "docker.io/library/ubuntu:latest", "registry-1.docker.io")]
    [InlineData("docker://r.example/x@sha256:0000000000000000000000000000000000000000000000000000000000000000", "r.example/x@sha256:0000000000000000000000000000000000000000000000000000000000000000", "r.example")]
    public void ParsesRegistryReferences(string text, string name, string host)
    {
        var r = Assert.IsType<RegistryReference>(F.Ref(text));
        Assert.Equal((name, host), (r.Name.ToString(), r.Host));
    }

    [Theory]
    [InlineData("docker://127.0.0.1:5000/", "127.0.0.1:5000", "")]
    [InlineData("docker://mirror.internal:5000/air/gap/", "mirror.internal:5000", "air/gap")]
    public void ATrailingSlashNamesARegistryPrefix(string text, string registry, string prefix)
    {
        var r = Assert.IsType<RegistryPrefixReference>(F.Ref(text));
        Assert.Equal((registry, prefix), (r.Registry, r.Prefix));
        Assert.Equal("mirror.internal:5000/air/gap/library/ubuntu:20.04", RegistryPrefixReference.Parse("mirror.internal:5000/air/gap").Reroot(Ferry.Model.ImageName.Parse("ubuntu:20.04")).ToString());
    }

    [Theory]
    [InlineData("docker-archive:")]
    [InlineData("docker://")]
    [InlineData("docker:x")]
    [InlineData("")]
    [InlineData("docker-archiv:x.tar")]
    [InlineData("oci-dir:layout")]
    public void RejectsWhatItCannotDo(string text) => Assert.Throws<UsageException>(() => F.Ref(text));

    [Fact]
    public void UnknownTransportListsTheKnownOnes()
    {
        var e = Assert.Throws<UsageException>(() => F.Ref("docker-archiv:x.tar"));
        Assert.Equal("'docker-archiv:x.tar': unknown transport 'docker-archiv' and no such file (transports: docker://, docker-archive:, docker-daemon:, oci:, oci-archive:; or a path)", e.Message);
    }

    [Fact]
    public void ConflictingFormatsAreRejected()
    {
        var ro = new TransportOptions { Archive = new ArchiveOptions { Format = OutputFormat.DockerArchive } };
        using var dir = new TempDir();
        Assert.Throws<UsageException>(() => F.Ref("oci-archive:" + dir.Path("x.tar")).Transport.OpenDestinationAsync(F.Ref("oci-archive:" + dir.Path("x.tar")), ro).AsTask().GetAwaiter().GetResult());
        Assert.Throws<UsageException>(() => F.Ref("-").Transport.OpenDestinationAsync(F.Ref("-"), new TransportOptions { Archive = new ArchiveOptions { Format = OutputFormat.Oci } }).AsTask().GetAwaiter().GetResult());
        Assert.Throws<UsageException>(() => F.Ref("docker://r.example/a:1").Transport.OpenDestinationAsync(F.Ref("docker://r.example/a:1"), ro).AsTask().GetAwaiter().GetResult());
        Assert.Empty(dir.Listing());
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
