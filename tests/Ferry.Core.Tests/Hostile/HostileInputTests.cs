using System.Formats.Tar;
using System.Text;
using Ferry.Tests.TestSupport;

namespace Ferry.Tests.Hostile;

/// <summary>
/// Hostile and broken archives, generated deterministically: each gets a one-line error naming the entry and the rule,
/// its documented exit code, no output file, nothing outside the destination, and an untouched input.
/// </summary>
public class HostileInputTests
{
    private static readonly TestImage Img = ImageBuilder.Image(31, 2, "gzip", "docker.io/library/h:1");

    private static (int Code, string Err) Copy(TempDir dir, string input, params string[] extra)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        byte[] before = File.Exists(input) ? File.ReadAllBytes(input) : [];
        int code = Ferry.Cli.Program.Run(["copy", input, dir.Path("out.tar"), .. extra], o, e).GetAwaiter().GetResult();
        Assert.False(File.Exists(dir.Path("out.tar")), "no output may be left");
        Assert.DoesNotContain(dir.Listing(), n => n.Contains(".ferry-", StringComparison.Ordinal));
        if (File.Exists(input))
            Assert.Equal(before, File.ReadAllBytes(input));
        string err = e.ToString().Trim();
        Assert.Single(err.Split('\n'));
        Assert.StartsWith("ferry: ", err, StringComparison.Ordinal);
        return (code, err);
    }

    private static string Tar(TempDir dir, params (string Name, byte[]? Data, string? Link, TarEntryType Type)[] files)
    {
        string p = dir.Path("in.tar");
        ImageBuilder.WriteTar(p, files, TarEntryFormat.Gnu);
        return p;
    }

    private static (string, byte[]?, string?, TarEntryType) F(string name, string data) => (name, Encoding.UTF8.GetBytes(data), null, TarEntryType.RegularFile);

    private static (string, byte[]?, string?, TarEntryType) F(string name, byte[] data) => (name, data, null, TarEntryType.RegularFile);

    /// <summary>A valid OCI layout's files, for mutation.</summary>
    private static List<(string Name, byte[]? Data, string? Link, TarEntryType Type)> Oci(TestImage img, string? indexJson = null, string layout = "{\"imageLayoutVersion\":\"1.0.0\"}")
    {
        var m = img.OciManifest();
        var files = new List<(string, byte[]?, string?, TarEntryType)>
        {
            F("oci-layout", layout),
            F("blobs/sha256/" + img.ManifestDigest[7..], m),
            F("blobs/sha256/" + img.ImageId[7..], img.Config),
        };
        files.AddRange(img.Layers.Select(l => F("blobs/sha256/" + l.Digest[7..], l.Blob)));
        files.Add(F("index.json", indexJson ?? $"{{\"schemaVersion\":2,\"manifests\":[{{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"{img.ManifestDigest}\",\"size\":{m.Length}}}]}}"));
        return files;
    }

    [Fact]
    public void RandomBytes()
    {
        using var dir = new TempDir();
        var bytes = new byte[4096];
        new Random(7).NextBytes(bytes);
        File.WriteAllBytes(dir.Path("in.tar"), bytes);
        var (code, err) = Copy(dir, dir.Path("in.tar"));
        Assert.Equal(3, code);
        Assert.Contains("not a tar archive", err);
    }

    [Fact]
    public void TruncatedMidHeader()
    {
        using var dir = new TempDir();
        string p = Tar(dir, [.. Oci(Img)]);
        var bytes = File.ReadAllBytes(p);
        File.WriteAllBytes(p, bytes[..(512 + 512 + 256)]);
        Assert.Equal(3, Copy(dir, p).Code);
    }

    [Fact]
    public void TruncatedMidBlob()
    {
        using var dir = new TempDir();
        string p = Tar(dir, [.. Oci(Img)]);
        var bytes = File.ReadAllBytes(p);
        File.WriteAllBytes(p, bytes[..(bytes.Length / 2)]);
        var (code, err) = Copy(dir, p);
        Assert.Equal(3, code);
        Assert.Contains("truncated", err);
    }

    [Fact]
    public async Task TrailingGarbageAfterTheEndOfArchiveIsIgnored()
    {
        using var dir = new TempDir();
        string p = Tar(dir, [.. Oci(Img)]);
        File.AppendAllText(p, "garbage after the two zero blocks");
        var o = new StringWriter();
        var e = new StringWriter();
        Assert.Equal(0, await Ferry.Cli.Program.Run(["copy", p, dir.Path("out.tar"), "-q"], o, e));
    }

    [Theory]
    [InlineData("../evil", "escapes the archive")]
    [InlineData("/etc/evil", "absolute name")]
    [InlineData("blobs/\u0001evil", "control characters")]
    public void HostileEntryNames(string name, string rule)
    {
        using var dir = new TempDir();
        string p = Tar(dir, [.. Oci(Img), F(name, "x")]);
        var (code, err) = Copy(dir, p);
        Assert.Equal(3, code);
        Assert.Contains(rule, err);
    }

    [Theory]
    [InlineData("manifest.json", TarEntryType.SymbolicLink)]
    [InlineData("index.json", TarEntryType.HardLink)]
    public void IndexFileThatIsALink(string name, TarEntryType type)
    {
        using var dir = new TempDir();
        var files = Oci(Img);
        files.Add(F("real.json", "[]"));
        if (name == "index.json")
        {
            var idx = files.Single(f => f.Name == "index.json");
            files.Remove(idx);
            files.Add(("elsewhere.json", idx.Data, null, TarEntryType.RegularFile));
            files.Add((name, null, "elsewhere.json", type));
        }
        else
        {
            files.Add((name, null, "real.json", type));
        }
        var (code, err) = Copy(dir, Tar(dir, [.. files]));
        Assert.Equal(3, code);
        Assert.Contains(name + " is a link", err);
    }

    [Fact]
    public void LayerSymlinkOutsideTheArchive()
    {
        using var dir = new TempDir();
        string p = Tar(dir,
            F("manifest.json", $"[{{\"Config\":\"c.json\",\"RepoTags\":[\"x:1\"],\"Layers\":[\"l/layer.tar\"]}}]"),
            F("c.json", "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" + Img.Layers[0].DiffId + "\"]}}"),
            ("l/layer.tar", null, "../../../etc/passwd", TarEntryType.SymbolicLink));
        var (code, err) = Copy(dir, p);
        Assert.Equal(3, code);
        Assert.Contains("outside the archive", err);
    }

    [Fact]
    public void LayerLinksInACycle()
    {
        using var dir = new TempDir();
        string p = Tar(dir,
            F("manifest.json", $"[{{\"Config\":\"c.json\",\"RepoTags\":[\"x:1\"],\"Layers\":[\"a/layer.tar\"]}}]"),
            F("c.json", "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" + Img.Layers[0].DiffId + "\"]}}"),
            ("a/layer.tar", null, "../b/layer.tar", TarEntryType.SymbolicLink),
            ("b/layer.tar", null, "../a/layer.tar", TarEntryType.SymbolicLink));
        var (code, err) = Copy(dir, p);
        Assert.Equal(3, code);
        Assert.Contains("cycle", err);
    }

    [Fact]
    public void DuplicateIndexWithDifferentContent()
    {
        using var dir = new TempDir();
        var (code, err) = Copy(dir, Tar(dir, [.. Oci(Img), F("index.json", "{\"schemaVersion\":2,\"manifests\":[]}")]));
        Assert.Equal(3, code);
        Assert.Contains("ambiguous", err);
    }

    [Fact]
    public void BlobNotMatchingItsDigest()
    {
        using var dir = new TempDir();
        var files = Oci(Img);
        int i = files.FindIndex(f => f.Name.EndsWith(Img.Layers[1].Digest[7..], StringComparison.Ordinal));
        var data = (byte[])files[i].Data!.Clone();
        data[data.Length / 2] ^= 1;
        files[i] = (files[i].Name, data, null, TarEntryType.RegularFile);
        var (code, err) = Copy(dir, Tar(dir, [.. files]));
        Assert.Equal(4, code);
        Assert.Contains(Img.Layers[1].Digest, err);
    }

    [Theory]
    [InlineData(-1, "declared size")]
    [InlineData(+1, "declared size")]
    [InlineData(10L * 1024 * 1024 * 1024, "declared size is 10737418240")]
    public void BlobSizeDifferentFromDescriptor(long delta, string expected)
    {
        using var dir = new TempDir();
        var layer = Img.Layers[0];
        string claimed = (delta > 1 ? delta : layer.Blob.Length + delta).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var manifest = Encoding.UTF8.GetString(Img.OciManifest()).Replace($"\"digest\":\"{layer.Digest}\",\"size\":{layer.Blob.Length}", $"\"digest\":\"{layer.Digest}\",\"size\":{claimed}", StringComparison.Ordinal);
        var mBytes = Encoding.UTF8.GetBytes(manifest);
        string mDigest = Ferry.Digests.Digest.Sha256Of(mBytes).ToString();
        var files = Oci(Img, $"{{\"schemaVersion\":2,\"manifests\":[{{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"{mDigest}\",\"size\":{mBytes.Length}}}]}}");
        files.Add(F("blobs/sha256/" + mDigest[7..], mBytes));
        var (code, err) = Copy(dir, Tar(dir, [.. files]));
        Assert.Equal(4, code);
        Assert.Contains(expected, err);
    }

    [Theory]
    [InlineData("sha256:../../../../tmp/x", "invalid digest")]
    [InlineData("md5:d41d8cd98f00b204e9800998ecf8427e", "invalid digest")]
    [InlineData("sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", "invalid digest")]
    public void DigestStringsThatAreNotDigests(string digest, string rule)
    {
        using var dir = new TempDir();
        var (code, err) = Copy(dir, Tar(dir, [.. Oci(Img, $"{{\"schemaVersion\":2,\"manifests\":[{{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"{digest}\",\"size\":1}}]}}")]));
        Assert.Equal(3, code);
        Assert.Contains(rule, err);
        Assert.Contains("index.json", err);
    }

    [Fact]
    public void UnsupportedLayoutVersion()
    {
        using var dir = new TempDir();
        var (code, err) = Copy(dir, Tar(dir, [.. Oci(Img, layout: "{\"imageLayoutVersion\":\"2.0.0\"}")]));
        Assert.Equal(3, code);
        Assert.Contains("imageLayoutVersion '2.0.0'", err);
    }

    [Fact]
    public void MissingConfigAndMissingLayer()
    {
        using var dir = new TempDir();
        var files = Oci(Img).Where(f => !f.Name.EndsWith(Img.ImageId[7..], StringComparison.Ordinal)).ToList();
        var (code, err) = Copy(dir, Tar(dir, [.. files]));
        Assert.Equal(3, code);
        Assert.Contains($"config blob {Img.ImageId} is missing", err);

        files = Oci(Img).Where(f => !f.Name.EndsWith(Img.Layers[0].Digest[7..], StringComparison.Ordinal)).ToList();
        File.Delete(dir.Path("in.tar"));
        (code, err) = Copy(dir, Tar(dir, [.. files]));
        Assert.Equal(3, code);
        Assert.Contains($"layer 0 blob {Img.Layers[0].Digest} is missing", err);
    }

    [Fact]
    public void IndexesNestedTooDeep()
    {
        using var dir = new TempDir();
        var files = Oci(Img);
        var m = Img.OciManifest();
        string child = $"{{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"{Img.ManifestDigest}\",\"size\":{m.Length}}}";
        for (int i = 0; i < 12; i++)
        {
            var idx = Encoding.UTF8.GetBytes($"{{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":[{child}]}}");
            string d = Ferry.Digests.Digest.Sha256Of(idx).ToString();
            files.Add(F("blobs/sha256/" + d[7..], idx));
            child = $"{{\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"digest\":\"{d}\",\"size\":{idx.Length}}}";
        }
        files.RemoveAll(f => f.Name == "index.json");
        files.Add(F("index.json", $"{{\"schemaVersion\":2,\"manifests\":[{child}]}}"));
        var (code, err) = Copy(dir, Tar(dir, [.. files]));
        Assert.Equal(3, code);
        Assert.Contains("nested deeper than 8", err);
    }

    [Fact]
    public void IndexThatClaimsToContainItselfIsCaughtByItsDigest()
    {
        // A cycle needs a blob that contains its own digest, which content addressing makes impossible: the
        // blob's bytes do not hash to the name, and that is what is reported.
        using var dir = new TempDir();
        string self = "sha256:" + new string('c', 64);
        var idx = Encoding.UTF8.GetBytes($"{{\"schemaVersion\":2,\"manifests\":[{{\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"digest\":\"{self}\",\"size\":200}}]}}");
        var files = Oci(Img, $"{{\"schemaVersion\":2,\"manifests\":[{{\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"digest\":\"{self}\",\"size\":{idx.Length}}}]}}");
        files.Add(F("blobs/sha256/" + new string('c', 64), idx));
        var (code, err) = Copy(dir, Tar(dir, [.. files]));
        Assert.Equal(4, code);
        Assert.Contains(self, err);
    }

    [Theory]
    [InlineData("{\"Config\":\"c.json\"}", "not a JSON array")]
    [InlineData("null", "manifest.json is null")]
    [InlineData("[]", "lists no images")]
    [InlineData("[{\"Config\":\"c.json\",\"RepoTags\":[\"x:1\"],\"Layers\":[\"nothere/layer.tar\"]}]", "0 diff_ids")]
    [InlineData("[{\"Config\":\"missing.json\",\"RepoTags\":[\"x:1\"],\"Layers\":[]}]", "config 'missing.json' is not in the archive")]
    public void BadManifestJson(string manifest, string rule)
    {
        using var dir = new TempDir();
        var (code, err) = Copy(dir, Tar(dir, F("manifest.json", manifest), F("c.json", "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}")));
        Assert.Equal(3, code);
        Assert.Contains(rule, err);
    }

    [Fact]
    public void JsonOverTheSizeLimit()
    {
        using var dir = new TempDir();
        var big = "[" + new string(' ', Ferry.Model.Json.MaxDocumentBytes) + "]";
        var (code, err) = Copy(dir, Tar(dir, F("manifest.json", big)));
        Assert.Equal(3, code);
        Assert.Contains("limit", err);
    }

    [Fact]
    public void JsonNestedTooDeep()
    {
        using var dir = new TempDir();
        var deep = new string('[', 200) + new string(']', 200);
        var (code, err) = Copy(dir, Tar(dir, F("manifest.json", deep)));
        Assert.Equal(3, code);
        Assert.Contains("manifest.json", err);
        Assert.Contains("depth", err);
    }

    [Fact]
    public void GzipBombLayerStopsAtTheExpansionLimit()
    {
        using var dir = new TempDir();
        // 600 MiB of zeros gzip to ~0.6 MiB: far past 256:1 + 256 MiB.
        using var ms = new MemoryStream();
        using (var gz = new System.IO.Compression.GZipStream(ms, System.IO.Compression.CompressionLevel.SmallestSize, leaveOpen: true))
        {
            var zeros = new byte[1 << 20];
            for (int i = 0; i < 600; i++)
                gz.Write(zeros);
        }
        var bomb = new TestLayer(new byte[1024], ms.ToArray(), "gzip"); // the diff_id is a lie; the guard trips first
        var img = ImageBuilder.Image([bomb], 32, "docker.io/library/bomb:1");
        var files = Oci(img);
        string p = Tar(dir, [.. files]);
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var r = TestSupport.F.Verify(p);
        Assert.Contains(r.Findings, f => f.Message.Contains("decompression bomb", StringComparison.Ordinal));
        var (code, err) = Copy(dir, p, "--compress", "zstd", "--format", "oci-archive");
        Assert.Equal(3, code);
        Assert.Contains("decompression bomb", err);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(60));
    }

    [Fact]
    public void LayerWithEscapingContentConvertsUntouchedAndVerifyWarns()
    {
        using var dir = new TempDir();
        using var layerTar = new MemoryStream();
        using (var w = new TarWriter(layerTar, TarEntryFormat.Ustar, leaveOpen: true))
        {
            w.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, "../../etc/cron.d/evil") { DataStream = new MemoryStream("x"u8.ToArray()) });
        }
        var layer = new TestLayer(layerTar.ToArray(), layerTar.ToArray(), "none");
        var img = ImageBuilder.Image([layer], 33, "docker.io/library/odd:1");
        string p = Tar(dir, [.. Oci(img)]);
        F2.Copy(p, dir.Path("ok.tar"));
        Assert.Equal(layer.Blob, ImageBuilder.ReadTar(dir.Path("ok.tar"))["blobs/sha256/" + layer.Digest[7..]]);
        var r = TestSupport.F.Verify(dir.Path("ok.tar"));
        Assert.True(r.Ok);
        Assert.Contains(r.Findings, f => f.Severity == Ferry.Verify.Severity.Warning && f.Message.Contains("../../etc/cron.d/evil", StringComparison.Ordinal));
    }

    private static class F2
    {
        public static void Copy(string src, string dst) => TestSupport.F.Copy(src, dst);
    }
}
