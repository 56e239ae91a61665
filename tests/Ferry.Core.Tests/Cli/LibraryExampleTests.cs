using Ferry.Copy;
using Ferry.Tests.TestSupport;
using Ferry.Transports;
using Ferry.Verify;

namespace Ferry.Tests.Cli;

/// <summary>The README's library example, run against the in-process registry and Engine API (so it cannot rot).</summary>
public sealed class LibraryExampleTests
{
    [Fact]
    public async Task ReadmeLibraryExampleWorks()
    {
        using var dir = new TempDir();
        using var engine = new FakeDockerEngine(containerdStore: false);
        using var registry = new FakeRegistry("user:password");
        string archive = dir.Path("app.tar");
        ImageBuilder.WriteDockerArchive(archive, [ImageBuilder.Image(71, 2, "gzip", "docker.io/library/app:1")]);
        await ImageCopier.CopyAsync(archive, "docker-daemon:", new CopyOptions { Destination = new TransportOptions { DockerHost = engine.Host } });

        var result = await ImageCopier.CopyAsync("docker-daemon:app:1", $"docker://{registry.Address}/app:1", new CopyOptions
        {
            Source = new TransportOptions { DockerHost = engine.Host },
            Destination = new TransportOptions { Registry = new() { Credentials = "user:password" } },
        });
        var image = Assert.Single(result.Images);
        Assert.Equal([$"{registry.Address}/app:1"], image.References);
        Assert.Equal(registry.Resolve("app", "1"), image.ManifestDigest.ToString());

        await ImageCopier.CopyAsync(archive, "oci-archive:" + dir.Path("app.oci.tar"), new CopyOptions());
        var reference = TransportRegistry.Default.Parse("oci-archive:" + dir.Path("app.oci.tar"));
        await using (var source = await reference.Transport.OpenSourceAsync(reference, new TransportOptions()))
            Assert.Equal("app:1", Assert.Single(source.Images).Label);

        var report = await ImageValidator.VerifyAsync(TransportRegistry.Default.Parse($"docker://{registry.Address}/app:1"),
            new TransportOptions { Registry = new() { Credentials = "user:password" } });
        Assert.True(report.Ok, string.Join("\n", report.Findings));
    }
}
