using Ferry.Tests.TestSupport;
using Ferry.Verify;

namespace Ferry.Tests.Verify;

public class VerifyTests
{
    private static readonly TestImage Img = ImageBuilder.Image(21, 3, "gzip", "docker.io/library/v:1");

    [Fact]
    public void RealArchivesVerify()
    {
        foreach (var f in new[] { "gcr-test-link/test_link.tar", "gcr-hello-world-v25/hello-world-v25.tar", "cimage-almostempty/almostempty.tar", "moby-emptylayer-legacy/emptyLayer.tar", "samples/ferry-sample.tar", "gcr-layout-test-index" })
        {
            var r = F.Verify(Corpus.Path(f));
            Assert.True(r.Ok, f + ": " + string.Join("; ", r.Findings));
        }
    }

    /// <summary>A single flipped byte in any blob of an OCI archive is caught and the blob is named.</summary>
    [Fact]
    public void FlippedByteInEveryBlobIsCaughtAndNamed()
    {
        using var dir = new TempDir();
        string clean = dir.Path("clean.tar");
        ImageBuilder.WriteOciLayout(clean, [Img]);
        var blobs = new[] { Img.ManifestDigest, Img.ImageId }.Concat(Img.Layers.Select(l => l.Digest)).ToList();
        foreach (var digest in blobs)
        {
            string bad = dir.Path("bad.tar");
            File.Copy(clean, bad, overwrite: true);
            F.FlipByteOf(bad, "blobs/sha256/" + digest[7..]);
            var r = F.Verify(bad);
            Assert.False(r.Ok, digest);
            Assert.Contains(r.Findings, f => f.Severity == Severity.Error && f.ToString().Contains(digest[7..], StringComparison.Ordinal));
        }
    }

    /// <summary>A flipped byte that stops gzip from inflating is first of all a digest mismatch, as copy says it.</summary>
    [Fact]
    public void ACorruptedGzipLayerIsADigestMismatchFirst()
    {
        using var dir = new TempDir();
        string p = dir.Path("oci.tar");
        ImageBuilder.WriteOciLayout(p, [Img]);
        var layer = Img.Layers[1];
        long at;
        using (var index = Ferry.Archive.TarIndex.Open(p, p))
            at = index.Find("blobs/sha256/" + layer.Digest[7..])!.DataOffset + 2; // gzip's compression method
        using (var fs = File.OpenWrite(p))
        {
            fs.Position = at;
            fs.WriteByte(7);
        }
        var r = F.Verify(p);
        var errors = r.Findings.Where(f => f.Severity == Severity.Error).ToList();
        Assert.True(errors.Count == 2, string.Join("\n", r.Findings));
        Assert.Matches($"^layer \\(blobs/sha256/{layer.Digest[7..]}\\): content hashes to sha256:[0-9a-f]{{64}}, expected {layer.Digest}$", errors[0].Message);
        Assert.Equal($"layer {layer.Digest}: corrupt gzip data: The archive entry was compressed using an unsupported compression method.", errors[1].Message);
        Assert.All(errors, e => Assert.Equal($"blobs/sha256/{layer.Digest[7..]} ({layer.Digest})", e.Subject));
    }

    [Fact]
    public void FlippedByteInDockerArchiveLayerIsADiffIdMismatch()
    {
        using var dir = new TempDir();
        var plain = ImageBuilder.Image(22, 2, "none", "docker.io/library/p:1");
        string p = dir.Path("d.tar");
        ImageBuilder.WriteDockerArchive(p, [plain]);
        using (var s = F.Open(p))
        {
            string entry = s.Images[0].SelectImage(null)!.Image.Layers[1].Blob!.Name;
            s.Dispose();
            F.FlipByteOf(p, entry);
        }
        var r = F.Verify(p);
        var f = Assert.Single(r.Findings, x => x.Severity == Severity.Error);
        Assert.Contains(plain.Layers[1].DiffId, f.ToString());
        Assert.Contains("layer.tar", f.Subject);
    }

    [Fact]
    public void ReportsAllFindingsNotJustTheFirst()
    {
        using var dir = new TempDir();
        string p = dir.Path("x.tar");
        ImageBuilder.WriteOciLayout(p, [Img]);
        F.FlipByteOf(p, "blobs/sha256/" + Img.Layers[0].Digest[7..]);
        F.FlipByteOf(p, "blobs/sha256/" + Img.Layers[2].Digest[7..]);
        var r = F.Verify(p);
        Assert.Equal([Img.Layers[0].Digest, Img.Layers[2].Digest], r.Findings.Where(f => f.Severity == Severity.Error && f.Message.Contains("content hashes to", StringComparison.Ordinal)).Select(f => f.Subject[^72..^1]));
    }

    [Fact]
    public void WrongDiffIdInConfigIsReported()
    {
        using var dir = new TempDir();
        var a = ImageBuilder.Layer(1);
        var b = ImageBuilder.Layer(2);
        var img = ImageBuilder.Image([a], 3, "docker.io/library/w:1");
        var lying = img with { Layers = [b] };
        ImageBuilder.WriteOciLayout(dir.Path("w.tar"), [lying]);
        var r = F.Verify(dir.Path("w.tar"));
        Assert.Contains(r.Findings, f => f.Message.Contains("diff_id is " + a.DiffId, StringComparison.Ordinal));
    }

    [Fact]
    public void MediaTypeThatLiesAboutCompressionIsAWarning()
    {
        using var dir = new TempDir();
        var layer = ImageBuilder.Layer(4) with { Compression = "gzip" }; // says gzip, bytes are plain
        var img = ImageBuilder.Image([layer], 4, "docker.io/library/m:1");
        ImageBuilder.WriteOciLayout(dir.Path("m.tar"), [img]);
        var r = F.Verify(dir.Path("m.tar"));
        Assert.True(r.Ok);
        Assert.Contains(r.Findings, f => f.Severity == Severity.Warning && f.Message.Contains("does not match the bytes", StringComparison.Ordinal));
    }

    [Fact]
    public void UnreadableSourceIsOneErrorFinding()
    {
        var r = F.Verify(Corpus.Path("gcr-null-manifest/null_manifest.tar"));
        Assert.False(r.Ok);
        Assert.Contains("manifest.json is null", Assert.Single(r.Findings).Message);
    }

    [Fact]
    public void JsonReportIsStable()
    {
        var r = F.Verify(Corpus.Path("gcr-test-image-1/test_image_1.tar"));
        using var doc = System.Text.Json.JsonDocument.Parse(r.ToJson());
        Assert.True(doc.RootElement.GetProperty("ok").GetBoolean());
        Assert.Equal(1, doc.RootElement.GetProperty("images").GetInt32());
    }
}

public class RoundTripProperties
{
    /// <summary>docker → oci → docker keeps image IDs, diff_ids and names, for random images in every archive style.</summary>
    [FsCheck.Xunit.Property(MaxTest = 25)]
    public bool DockerToOciToDockerKeepsIdentity(byte seed, bool symlinks, bool dotSlash, bool manifestFirst, bool gzipLayers)
    {
        using var dir = new TempDir();
        var images = new[]
        {
            ImageBuilder.Image(seed, 1 + seed % 3, gzipLayers ? "gzip" : "none", $"docker.io/library/r{seed}:1"),
            ImageBuilder.Image(seed + 1000, 1 + (seed + 1) % 2, "none", $"localhost/s{seed}:2", $"localhost/s{seed}:3"),
        };
        string src = dir.Path("src.tar");
        ImageBuilder.WriteDockerArchive(src, images, new ImageBuilder.DockerStyle { SymlinkLayers = symlinks, DotSlash = dotSlash, ManifestFirst = manifestFirst });
        F.Copy(src, "oci-archive:" + dir.Path("oci.tar"));
        F.Copy(dir.Path("oci.tar"), "docker-archive:" + dir.Path("back.tar"));
        return F.Summary(src).SequenceEqual(F.Summary(dir.Path("back.tar"))) && F.Summary(src).SequenceEqual(F.Summary(dir.Path("oci.tar")));
    }

    /// <summary>oci → portable → oci keeps manifest digests when compression is kept.</summary>
    [FsCheck.Xunit.Property(MaxTest = 20)]
    public bool OciToPortableToOciKeepsManifestDigests(byte seed, bool zstd, bool podmanNames)
    {
        using var dir = new TempDir();
        var img = ImageBuilder.Image(seed, 1 + seed % 3, zstd ? "zstd" : "gzip", $"docker.io/library/o{seed}:v{seed}");
        ImageBuilder.WriteOciLayout(dir.Path("oci.tar"), [img], containerdNames: !podmanNames);
        F.Copy(dir.Path("oci.tar"), "oci-archive:" + dir.Path("mid.tar"));
        F.Copy(dir.Path("mid.tar"), "oci:" + dir.Path("dir"));
        using var s = F.Open(dir.Path("dir"));
        return s.Images.Single().Key.ToString() == img.ManifestDigest && s.Images.Single().Names.Single().ToString() == $"docker.io/library/o{seed}:v{seed}";
    }
}
