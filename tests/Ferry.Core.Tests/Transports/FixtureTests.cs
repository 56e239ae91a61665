using Ferry.Images;
using Ferry.Transports.Files;
using Ferry.Tests.TestSupport;

namespace Ferry.Tests.Transports;

/// <summary>Every archive in the corpus (written by other projects' tools) reads correctly or fails with the precise reason.</summary>
public class FixtureTests
{
    private static ArchiveSource Open(string relative) => F.Open(Corpus.Path(relative));

    private static string Id(NamedImage i) => i.SelectImage(null)!.Image.ImageId.ToString();

    [Fact]
    public void Docker25HybridWithNullManifestsReadsThroughManifestJson()
    {
        using var s = Open("gcr-hello-world-v25/hello-world-v25.tar");
        var img = Assert.Single(s.Images);
        Assert.Empty(img.Names);
        // The ID docker 20.10 reports for `docker load` of this file.
        Assert.Equal("sha256:ee301c921b8aadc002973b2e0c3da17d701dcd994b606769a7e6eaa100b81d44", Id(img));
        Assert.Equal("blobs/sha256/" + img.SelectImage(null)!.Image.Layers[0].Descriptor.Digest.Hex, img.SelectImage(null)!.Image.Layers[0].Blob!.Name);
    }

    [Fact]
    public void SymlinkedLayersAndTwoImages()
    {
        using var s = Open("gcr-test-link/test_link.tar");
        Assert.Equal(2, s.Images.Count);
        Assert.Equal("bazel/v1/tarball:test_image_1", s.Images[0].Names.Single().Familiar);
        Assert.Equal("sha256:6e0b05049ed9c17d02e1a55e80d6599dbfcce7f4f4b022e3c673e685789c470e", Id(s.Images[0]));
        Assert.Equal("sha256:d4c9adacde69c3d92446e0484cea29493e9fd573cf0c8febfc700d80c46697a4", Id(s.Images[1]));
        var linked = s.Images[1].SelectImage(null)!.Image.Layers[0];
        Assert.StartsWith("b159", linked.Blob!.Name, StringComparison.Ordinal);
        Assert.Equal(s.Images[0].SelectImage(null)!.Image.Layers[0].Descriptor.Digest, linked.Descriptor.Digest);
    }

    [Fact]
    public void RepoTagsWithoutTagAreReadAsLatestWithAWarning()
    {
        using var s = Open("gcr-test-bundle/test_bundle.tar");
        Assert.Equal(["docker.io/library/test_image_2:latest", "docker.io/library/test_image_1:latest"], s.Images.Select(i => i.Names.Single().ToString()));
        Assert.Contains(s.Warnings, w => w.Contains("'test_image_2' has no tag", StringComparison.Ordinal));
    }

    [Fact]
    public void LegacyArchiveWithoutManifestGetsDockersImageId()
    {
        using var s = Open("gcr-no-manifest/no_manifest.tar");
        Assert.Equal("docker-archive (legacy)", s.Format);
        var img = Assert.Single(s.Images);
        Assert.Equal("bazel/v1/tarball:test_image", img.Names.Single().Familiar);
        // What docker 20.10 `docker load` reports for this archive.
        Assert.Equal("sha256:a2673db3c3d86a802c915e140274aed9d62464681af1371c881d7f5821b05645", Id(img));
    }

    [Fact]
    public void LegacyArchiveWithEmptyLayerFileAndOldDockerVersionsGetsDockersImageId()
    {
        using var s = Open("moby-emptylayer-legacy/emptyLayer.tar");
        var img = Assert.Single(s.Images);
        Assert.Equal("matthughes/library-centos:6-2015.03.20", img.Names.Single().Familiar);
        Assert.Equal("sha256:a9e31d6f186fbbe2468c9961316dba93971266d344ba960f68911df6e29b564c", Id(img));
        var layers = img.SelectImage(null)!.Image.Layers;
        Assert.Equal(3, layers.Count);
        Assert.Contains(layers, l => l.DiffId == Ferry.Digests.Digest.EmptySha256 && l.Descriptor.Size == 0);
    }

    [Fact]
    public void NullManifestIsAPreciseError()
    {
        var e = Assert.Throws<ArchiveFormatException>(() => Open("gcr-null-manifest/null_manifest.tar"));
        Assert.Contains("manifest.json is null", e.Message);
        Assert.Equal(Ferry.Cli.ExitCodes.InvalidArchive, Ferry.Cli.ErrorCodes.Of(e));
    }

    [Fact]
    public void ManifestJsonLastAndNoDirectoryEntries()
    {
        using var s = Open("gcr-test-image-1/test_image_1.tar");
        Assert.Equal("sha256:6e0b05049ed9c17d02e1a55e80d6599dbfcce7f4f4b022e3c673e685789c470e", Id(Assert.Single(s.Images)));
    }

    [Fact]
    public void OldDockerSave()
    {
        using var s = Open("cimage-almostempty/almostempty.tar");
        var img = Assert.Single(s.Images);
        Assert.Equal("emptyimage:latest", img.Names.Single().Familiar);
        Assert.Equal("sha256:9d7f147c0d0c4d4538a04c7ef385809e56eb1aac7bf800fbe976612188025b68", Id(img));
    }

    [Fact]
    public void OciDirectoryWithNestedIndexesAndDockerManifestList()
    {
        using var s = Open("gcr-layout-test-index");
        Assert.Equal("oci", s.Format);
        Assert.Equal(["1", "2", "3", "4"], s.Images.Select(i => i.RefNames.Single()));
        Assert.IsType<IndexNode>(s.Images[2].Root);
        Assert.IsType<IndexNode>(s.Images[3].Root);
    }

    [Fact]
    public void InconsistentDescriptorSizeInFixtureIsReportedPrecisely()
    {
        // containers/image's fixture declares size 585 for a 584-byte config in one manifest.
        var e = Assert.Throws<DigestMismatchException>(() => Open("cimage-oci-multiple-images"));
        Assert.Contains("913cf3a39d377faf89ed388ad913a318a390488c9f34c46e43424795cdabffe8", e.Message);
        Assert.Contains("declared size is 585", e.Message);
    }

    [Fact]
    public void IndexWithAbsentBlobsListsNamesAndKeepsReferences()
    {
        using var s = Open("cimage-oci-name-lookups");
        Assert.Equal(["a", "b", "c", "d", "invalid-mime"], s.Images.Select(i => i.RefNames.Single()));
        Assert.All(s.Images, i => Assert.IsType<OpaqueNode>(i.Root));
    }

    [Theory]
    [InlineData("compressed/ti1.tar.xz", Ferry.Compression.CompressionKind.Xz)]
    [InlineData("compressed/ti1.tar.bz2", Ferry.Compression.CompressionKind.Bzip2)]
    public void WholeArchiveCompressionIsSniffed(string file, Ferry.Compression.CompressionKind kind)
    {
        using var s = Open(file);
        Assert.Equal(kind, s.ArchiveCompression);
        Assert.Equal("sha256:6e0b05049ed9c17d02e1a55e80d6599dbfcce7f4f4b022e3c673e685789c470e", Id(Assert.Single(s.Images)));
    }

    [Fact]
    public void SampleShippedInTheRepoReads()
    {
        using var s = Open("samples/ferry-sample.tar");
        Assert.Equal("sha256:22345e9880a282682f584f0617c4fcf05603e73d5c36fe4f57c7743342691632", Id(Assert.Single(s.Images)));
    }
}
