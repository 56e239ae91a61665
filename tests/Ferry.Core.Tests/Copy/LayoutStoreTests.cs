using System.Text.Json;
using Ferry.Tests.TestSupport;
using static Ferry.Tests.TestSupport.CliRun;

namespace Ferry.Tests.Copy;

/// <summary>
/// An OCI layout directory is a store, as skopeo has it: images are added to one that is there (blobs they share
/// stored once, index.json replaced in one rename), a name given again moves to the new image, and writing the same
/// image twice changes nothing.
/// </summary>
public sealed class LayoutStoreTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static readonly TestLayer Shared = ImageBuilder.Layer(3001, compression: "gzip");
    private static readonly TestImage A = ImageBuilder.Image([Shared, ImageBuilder.Layer(3002, compression: "gzip")], 30, "docker.io/library/a:1");
    private static readonly TestImage B = ImageBuilder.Image([Shared, ImageBuilder.Layer(3003, compression: "gzip")], 31, "docker.io/library/b:1");

    private string Archive(TestImage image)
    {
        string p = _dir.Path(image.ImageId[7..19] + ".tar");
        if (!File.Exists(p))
            ImageBuilder.WriteDockerArchive(p, [image]);
        return p;
    }

    private string Layout => _dir.Path("layout");

    private List<(string Name, string Digest)> Entries()
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Layout, "index.json")));
        return [.. doc.RootElement.GetProperty("manifests").EnumerateArray().Select(m =>
            (m.GetProperty("annotations").GetProperty("org.opencontainers.image.ref.name").GetString()!, m.GetProperty("digest").GetString()!))];
    }

    private string[] Blobs() => [.. Directory.GetFiles(Path.Combine(Layout, "blobs", "sha256")).Select(Path.GetFileName).Order(StringComparer.Ordinal)!];

    [Fact]
    public void AnImageIsAddedToALayoutThatIsThere()
    {
        Ok(Run("copy", Archive(A), $"oci:{Layout}:a", "-q"));
        var r = Run("copy", Archive(B), $"oci:{Layout}:b");
        Ok(r);
        Assert.Equal([("a", A.ManifestDigest), ("b", B.ManifestDigest)], Entries());
        // The shared layer once: the 4 blobs of A, then B's config, its own layer and its manifest.
        Assert.Equal(7, Blobs().Length);
        F.AssertValid(Layout);
        Assert.DoesNotContain(Directory.GetFiles(Layout, "*", SearchOption.AllDirectories), f => f.EndsWith(".tmp", StringComparison.Ordinal));
    }

    [Fact]
    public void ANameGivenAgainMovesToTheNewImage()
    {
        Ok(Run("copy", Archive(A), $"oci:{Layout}:app", "-q"));
        var r = Run("copy", Archive(B), $"oci:{Layout}:app");
        Ok(r);
        Assert.Equal([("app", B.ManifestDigest)], Entries());
        Assert.True(r.Err.Contains($"ferry: note: {Layout}: app moved from {A.ManifestDigest[7..19]} to {B.ManifestDigest[7..19]} (the blobs of {A.ManifestDigest[7..19]} stay in the layout)\n", StringComparison.Ordinal), r.Err);
    }

    [Fact]
    public void TheSameImageWrittenTwiceChangesNothing()
    {
        Ok(Run("copy", Archive(A), $"oci:{Layout}:a", "-q"));
        byte[] before = File.ReadAllBytes(Path.Combine(Layout, "index.json"));
        var blobs = Blobs();
        Ok(Run("copy", Archive(A), $"oci:{Layout}:a", "-q"));
        Assert.Equal(before, File.ReadAllBytes(Path.Combine(Layout, "index.json")));
        Assert.Equal(blobs, Blobs());
    }

    [Fact]
    public void AnImageOfTheLayoutGetsAnotherNameInIt()
    {
        Ok(Run("copy", Archive(A), $"oci:{Layout}:a", "-q"));
        Ok(Run("copy", $"oci:{Layout}:a", $"oci:{Layout}:also-a", "-q"));
        Assert.Equal([("a", A.ManifestDigest), ("also-a", A.ManifestDigest)], Entries());
    }

    [Fact]
    public void AFailedAddLeavesTheLayoutAsItWas()
    {
        Ok(Run("copy", Archive(A), $"oci:{Layout}:a", "-q"));
        byte[] before = File.ReadAllBytes(Path.Combine(Layout, "index.json"));
        var blobs = Blobs();
        string bad = Archive(B);
        F.FlipByteOf(bad, B.ImageId[7..] + ".json");
        var r = Run("copy", bad, $"oci:{Layout}:b");
        Assert.NotEqual(0, r.Code);
        Assert.Equal(before, File.ReadAllBytes(Path.Combine(Layout, "index.json")));
        Assert.Equal(blobs, Blobs());
    }

    [Fact]
    public void ADirectoryThatIsNoLayoutIsRefused()
    {
        Directory.CreateDirectory(Layout);
        File.WriteAllText(Path.Combine(Layout, "notes.txt"), "mine");
        var r = Run("copy", Archive(A), $"oci:{Layout}");
        Assert.Equal((6, $"ferry: {Layout}: directory exists, is not empty and is not an OCI layout (no oci-layout and index.json)\n"), (r.Code, r.Err));
    }
}
