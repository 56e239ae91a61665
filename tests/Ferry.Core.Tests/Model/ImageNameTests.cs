using Ferry.Model;

namespace Ferry.Tests.Model;

public class ImageNameTests
{
    [Theory]
    [InlineData("ubuntu", "docker.io/library/ubuntu", "ubuntu")]
    [InlineData("ubuntu:20.04", "docker.io/library/ubuntu:20.04", "ubuntu:20.04")]
    [InlineData("library/ubuntu:20.04", "docker.io/library/ubuntu:20.04", "ubuntu:20.04")]
    [InlineData("docker.io/library/ubuntu:20.04", "docker.io/library/ubuntu:20.04", "ubuntu:20.04")]
    [InlineData("index.docker.io/library/ubuntu:20.04", "docker.io/library/ubuntu:20.04", "ubuntu:20.04")]
    [InlineData("bazel/v1/tarball:test_image_1", "docker.io/bazel/v1/tarball:test_image_1", "bazel/v1/tarball:test_image_1")]
    [InlineData("localhost/probe:1", "localhost/probe:1", "localhost/probe:1")]
    [InlineData("localhost:5000/a/b:c", "localhost:5000/a/b:c", "localhost:5000/a/b:c")]
    [InlineData("quay.io/podman/hello:latest", "quay.io/podman/hello:latest", "quay.io/podman/hello:latest")]
    [InlineData("a__b-c.d:v1.0-rc_1", "docker.io/library/a__b-c.d:v1.0-rc_1", "a__b-c.d:v1.0-rc_1")]
    public void NormalisesLikeDocker(string input, string full, string familiar)
    {
        var n = ImageName.Parse(input);
        Assert.Equal(full, n.ToString());
        Assert.Equal(familiar, n.Familiar);
    }

    [Fact]
    public void ParsesDigestReferences()
    {
        var n = ImageName.Parse("ubuntu@sha256:" + new string('a', 64));
        Assert.Null(n.Tag);
        Assert.NotNull(n.Digest);
        Assert.Equal("docker.io/library/ubuntu@sha256:" + new string('a', 64), n.ToString());
    }

    [Theory]
    [InlineData("Ubuntu:1")]
    [InlineData("Foo/bar:1")] // an uppercase first part is no registry (docker 20.10 and podman refuse it)
    [InlineData("app:bé")] // tags are ASCII
    [InlineData("ubuntu:")]
    [InlineData("ubuntu:-bad")]
    [InlineData("ubu ntu")]
    [InlineData("a//b")]
    [InlineData("ubuntu:20.04\n")]
    [InlineData("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    [InlineData("ubuntu@sha256:abc")]
    [InlineData("")]
    public void RejectsInvalidReferences(string input)
    {
        Assert.False(ImageName.TryParse(input, out _, out string err));
        Assert.NotEmpty(err);
        Assert.Throws<UsageException>(() => ImageName.Parse(input));
    }

    [Fact]
    public void DefaultTagIsLatest() => Assert.Equal("docker.io/library/busybox:latest", ImageName.Parse("busybox").WithDefaultTag().ToString());

    [Fact]
    public void TagLongerThan128IsRejected() => Assert.False(ImageName.TryParse("a:" + new string('t', 129), out _, out _));
}

public class PlatformAndMediaTypeTests
{
    [Theory]
    [InlineData("linux/amd64", "linux", "amd64", null)]
    [InlineData("linux/arm64/v8", "linux", "arm64", "v8")]
    public void ParsesPlatforms(string text, string os, string arch, string? variant)
    {
        var p = Platform.Parse(text);
        Assert.Equal((os, arch, variant), (p.Os, p.Architecture, p.Variant));
        Assert.Equal(text, p.ToString());
    }

    [Theory]
    [InlineData("linux")]
    [InlineData("linux//v8")]
    [InlineData("a/b/c/d")]
    public void RejectsBadPlatforms(string text) => Assert.Throws<UsageException>(() => Platform.Parse(text));

    [Fact]
    public void VariantIsOptionalWhenMatching() =>
        Assert.True(Platform.Parse("linux/arm64").Matches(new Platform("linux", "arm64", "v8")));

    [Theory]
    [InlineData(MediaTypes.OciLayerGzip, Ferry.Compression.CompressionKind.Gzip)]
    [InlineData(MediaTypes.DockerLayerGzip, Ferry.Compression.CompressionKind.Gzip)]
    [InlineData(MediaTypes.OciLayerZstd, Ferry.Compression.CompressionKind.Zstd)]
    [InlineData(MediaTypes.OciLayer, Ferry.Compression.CompressionKind.None)]
    [InlineData(MediaTypes.DockerForeignLayerGzip, Ferry.Compression.CompressionKind.Gzip)]
    public void LayerCompressionFromMediaType(string mediaType, Ferry.Compression.CompressionKind kind) =>
        Assert.Equal(kind, MediaTypes.LayerCompression(mediaType));

    [Theory]
    [InlineData(new byte[] { 0x1f, 0x8b, 8, 0 }, Ferry.Compression.CompressionKind.Gzip)]
    [InlineData(new byte[] { 0x28, 0xb5, 0x2f, 0xfd }, Ferry.Compression.CompressionKind.Zstd)]
    [InlineData(new byte[] { 0xfd, (byte)'7', (byte)'z', (byte)'X', (byte)'Z', 0 }, Ferry.Compression.CompressionKind.Xz)]
    [InlineData(new byte[] { (byte)'B', (byte)'Z', (byte)'h', (byte)'9' }, Ferry.Compression.CompressionKind.Bzip2)]
    [InlineData(new byte[] { (byte)'d', (byte)'i', (byte)'r', (byte)'/' }, Ferry.Compression.CompressionKind.None)]
    [InlineData(new byte[0], Ferry.Compression.CompressionKind.None)]
    public void SniffsCompressionFromBytes(byte[] head, Ferry.Compression.CompressionKind kind) =>
        Assert.Equal(kind, Ferry.Compression.Compressions.Sniff(head));
}
