using FsCheck;
using FsCheck.Fluent;
using Ferry.Images;
using Ferry.Tests.TestSupport;
using Ferry.Transports;

namespace Ferry.Tests.Conformance;

/// <summary>
/// What every source promises, without the copier: every blob it names opens and verifies against its digest and size,
/// and disposing it leaves no temp file behind (stdin is spooled into one). And, as a property over generated images:
/// any image survives every pair of archive formats byte for byte (configs, layers, image IDs).
/// </summary>
public sealed class SourceContractTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>Every blob a source names (configs, layers, artifacts' blobs), each once with its descriptor.</summary>
    private static IEnumerable<(Ferry.Model.Descriptor Descriptor, BlobSource Blob)> Blobs(NamedImage image)
    {
        foreach (var node in ImageWalk.Nodes(image.Root).Concat(image.Referrers.Select(r => (ManifestNode)r.Artifact)))
        {
            if (node is ImageNode i)
            {
                yield return (i.Image.ConfigDescriptor, i.Image.ConfigBlob);
                foreach (var l in i.Image.Layers.Where(l => l.Blob is not null))
                    yield return (l.Descriptor, l.Blob!);
            }
            else if (node is ArtifactNode a)
            {
                foreach (var (d, b) in a.Blobs)
                {
                    if (b is not null)
                        yield return (d, b);
                }
            }
        }
    }

    public static TheoryData<string> Kinds() => ["docker-archive", "oci-archive", "oci", "portable", "stdin"];

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task EveryBlobVerifiesAndDisposingFreesItsTempFiles(string kind)
    {
        var amd = ImageBuilder.ImageFor([ImageBuilder.Layer(701, compression: "gzip"), ImageBuilder.Layer(702)], 70, "amd64", "docker.io/library/contract:1");
        var arm = ImageBuilder.ImageFor([ImageBuilder.Layer(703, compression: "zstd")], 71, "arm64", "docker.io/library/contract:1");
        string index = _dir.Path("index.tar");
        ImageBuilder.WriteOciIndexArchive(index, [amd, arm], "docker.io/library/contract:1");
        string reference = kind switch
        {
            "stdin" => "-",
            "portable" => _dir.Path("p.tar"),
            "oci" => "oci:" + _dir.Path("layout"),
            _ => $"{kind}:{_dir.Path(kind + ".tar")}",
        };
        if (kind != "stdin")
            F.Copy(index, reference);
        string tmp = _dir.Path("tmp");
        Directory.CreateDirectory(tmp);
        var r = F.Ref(reference);
        var options = new TransportOptions { TempDirectory = tmp, Archive = new ArchiveOptions { Stdin = () => File.OpenRead(index) } };
        int blobs = 0;
        await using (var source = await r.Transport.OpenSourceAsync(r, options))
        {
            foreach (var image in source.Images)
            {
                foreach (var (d, blob) in Blobs(image).DistinctBy(b => b.Descriptor.Digest))
                {
                    await using var s = await blob.OpenVerifiedAsync(d.Digest, d.Size, d.Digest.ToString(), default);
                    await s.DrainAsync();
                    blobs++;
                }
            }
            if (kind == "stdin")
                Assert.NotEmpty(Directory.GetFiles(tmp));
        }
        Assert.True(blobs >= 3, $"{blobs} blobs read");
        Assert.Empty(Directory.GetFiles(tmp));
    }

    private static readonly string[] Formats = ["portable", "docker-archive", "oci-archive", "oci"];

    /// <summary>An image generated from a seed: one to three layers, each gzip, zstd or uncompressed.</summary>
    private static TestImage Generated(int seed, int layers, string[] compressions) =>
        ImageBuilder.Image([.. Enumerable.Range(0, layers).Select(i => ImageBuilder.Layer(seed * 10 + i, files: 2, maxSize: 3000, compression: compressions[i % compressions.Length]))], seed, $"docker.io/library/gen{seed}:1");

    [FsCheck.Xunit.Property(MaxTest = 12)]
    public Property AnyImageSurvivesEveryFormatPairByteForByte() =>
        Prop.ForAll(
            Gen.Choose(1, 100_000).ToArbitrary(),
            Gen.Choose(1, 3).ToArbitrary(),
            Gen.Elements("gzip", "none").ArrayOf(3).ToArbitrary(),
            (seed, layers, compressions) =>
            {
                var img = Generated(seed, layers, compressions);
                using var dir = new TempDir();
                string src = dir.Path("src.tar");
                ImageBuilder.WriteOciLayout(src, [img]);
                foreach (var from in Formats)
                {
                    string a = Place(dir, from, "a");
                    F.Copy(src, a);
                    foreach (var to in Formats)
                    {
                        string b = Place(dir, to, $"b-{from}");
                        F.Copy(a, b);
                        F.AssertValid(b);
                        using var read = F.OpenAny(b);
                        var image = read.Images.Single().Images().Single().Image;
                        if (image.ImageId.ToString() != img.ImageId)
                            return false;
                        // Layers are kept as they are (gzip and plain go everywhere): the same digests, in order.
                        if (!image.Layers.Select(l => l.Descriptor.Digest.ToString()).SequenceEqual(img.Layers.Select(l => l.Digest)))
                            return false;
                    }
                }
                return true;
            });

    private static string Place(TempDir dir, string format, string name) => format switch
    {
        "portable" => dir.Path(name + ".tar"),
        "oci" => "oci:" + dir.Path(name + "-layout"),
        _ => $"{format}:{dir.Path(name + "-" + format + ".tar")}",
    };
}
