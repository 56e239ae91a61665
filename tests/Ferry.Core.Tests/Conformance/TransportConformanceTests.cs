using Ferry.Copy;
using Ferry.Images;
using Ferry.Model;
using Ferry.Tests.TestSupport;
using Ferry.Transports;

namespace Ferry.Tests.Conformance;

/// <summary>
/// One suite for every destination and every source: a generated image goes in, is read back through the same
/// transport, the validator passes, and names, image IDs and manifest digests are what the destination promises.
/// Registries and daemons are in-process fakes (<see cref="FakeRegistry"/>, <see cref="FakeDockerEngine"/>); the
/// interop tests run the same flows against the real tools.
/// </summary>
public sealed class TransportConformanceTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly FakeRegistry _registry = new();
    private readonly Lazy<FakeDockerEngine> _classic = new(() => new FakeDockerEngine(containerdStore: false));
    private readonly Lazy<FakeDockerEngine> _classic2010 = new(() => new FakeDockerEngine(containerdStore: false, apiVersion: "1.41"));
    private readonly Lazy<FakeDockerEngine> _containerd = new(() => new FakeDockerEngine(containerdStore: true));

    public void Dispose()
    {
        _registry.Dispose();
        foreach (var e in new[] { _classic, _classic2010, _containerd }.Where(l => l.IsValueCreated))
            e.Value.Dispose();
        _dir.Dispose();
    }

    public static readonly string[] SourceKinds = ["docker-archive", "oci-index", "oci-zstd"];

    /// <summary>
    /// The fixtures of every transport <see cref="TransportRegistry.Default"/> knows (the plain path's under its name):
    /// each variant is a destination <see cref="For"/> makes. A transport registered without fixtures fails
    /// <see cref="EveryTransportHasFixtures"/>, so none can skip this suite unseen.
    /// </summary>
    private static readonly Dictionary<string, string[]> Fixtures = new(StringComparer.Ordinal)
    {
        ["path"] = ["portable"],
        ["docker-archive"] = ["docker-archive"],
        ["oci-archive"] = ["oci-archive"],
        ["oci"] = ["oci"],
        ["docker"] = ["registry"],
        ["docker-daemon"] = ["daemon-classic", "daemon-20.10", "daemon-containerd"],
    };

    private static IEnumerable<string> TransportNames =>
        TransportRegistry.Default.Transports.Select(t => t.Name).Append(TransportRegistry.Default.Fallback.Name);

    public static readonly string[] DestinationKinds = [.. TransportNames.SelectMany(n => Fixtures.GetValueOrDefault(n) ?? [])];

    [Fact]
    public void EveryTransportHasFixtures()
    {
        foreach (var name in TransportNames)
            Assert.True(Fixtures.ContainsKey(name), $"transport '{name}' has no fixtures in the conformance suite");
    }

    public static TheoryData<string, string> Pairs()
    {
        var data = new TheoryData<string, string>();
        foreach (var s in SourceKinds)
        {
            foreach (var d in DestinationKinds)
                data.Add(s, d);
        }
        return data;
    }

    public static TheoryData<string> Destinations() => [.. DestinationKinds];

    /// <summary>A generated source: where it is, its root digest, its names, and the image IDs of every image in its tree.</summary>
    private sealed record Generated(string Path, string RootDigest, string[] Names, string[] ImageIds, bool Zstd, bool HasManifest);

    private Generated Make(string kind)
    {
        switch (kind)
        {
            case "docker-archive":
                {
                    var img = ImageBuilder.Image(41, 2, "gzip", "docker.io/library/conf:1", "docker.io/library/conf:latest");
                    string p = _dir.Path("src-docker.tar");
                    ImageBuilder.WriteDockerArchive(p, [img]);
                    return new(p, img.ImageId, ["docker.io/library/conf:1", "docker.io/library/conf:latest"], [img.ImageId], false, false);
                }
            case "oci-index":
                {
                    var shared = ImageBuilder.Layer(4200, compression: "gzip");
                    var amd = ImageBuilder.ImageFor([shared, ImageBuilder.Layer(4201, compression: "gzip")], 42, "amd64", "docker.io/library/multi:2");
                    var arm = ImageBuilder.ImageFor([shared, ImageBuilder.Layer(4202, compression: "gzip")], 43, "arm64", "docker.io/library/multi:2");
                    string p = _dir.Path("src-index.tar");
                    string digest = ImageBuilder.WriteOciIndexArchive(p, [amd, arm], "docker.io/library/multi:2");
                    return new(p, digest, ["docker.io/library/multi:2"], [amd.ImageId, arm.ImageId], false, true);
                }
            default:
                {
                    var img = ImageBuilder.Image(44, 2, "zstd", "quay.io/ferry/zst:3");
                    string p = _dir.Path("src-zstd.tar");
                    ImageBuilder.WriteOciLayout(p, [img]);
                    return new(p, img.ManifestDigest, ["quay.io/ferry/zst:3"], [img.ImageId], true, true);
                }
        }
    }

    /// <summary>What a destination kind is: its reference, how to read an image back, the options it needs, and what it keeps.</summary>
    private sealed record Target(string Reference, Func<string, string> ReadBack, TransportOptions Options, bool KeepsManifests, bool KeepsZstd, bool OnePlatform, FakeDockerEngine? Engine);

    private Target For(string kind)
    {
        switch (kind)
        {
            case "portable":
            case "docker-archive":
            case "oci-archive":
                {
                    string p = _dir.Path($"out-{kind}.tar");
                    string r = kind == "portable" ? p : kind + ":" + p;
                    return new(r, _ => r, new(), kind != "docker-archive", kind == "oci-archive", kind == "docker-archive", null);
                }
            case "oci":
                {
                    string r = "oci:" + _dir.Path("out-oci");
                    return new(r, _ => r, new(), true, true, false, null);
                }
            case "registry":
                return new($"docker://{_registry.Address}/mirror/", n => $"docker://{_registry.Address}/mirror/{ImageName.Parse(n).Path}:{ImageName.Parse(n).Tag}", new(), true, true, false, null);
            default:
                {
                    var engine = kind switch
                    {
                        "daemon-classic" => _classic.Value,
                        "daemon-20.10" => _classic2010.Value,
                        "daemon-containerd" => _containerd.Value,
                        _ => throw new ArgumentException($"no fixture for destination '{kind}'", nameof(kind)),
                    };
                    return new("docker-daemon:", n => "docker-daemon:" + ImageName.Parse(n).Familiar, new TransportOptions { Daemon = new DaemonOptions { Host = engine.Host } },
                        engine.ContainerdStore, engine.ApiVersion != "1.41", !engine.ContainerdStore, engine);
                }
        }
    }

    private static CopyResult Copy(string src, string dst, TransportOptions options, CopyOptions? extra = null) =>
        ImageCopier.CopyAsync(F.Ref(src), F.Ref(dst), (extra ?? new CopyOptions()) with { Source = options, Destination = options }).GetAwaiter().GetResult();

    private static async Task<(IReadOnlyList<NamedImage> Images, Ferry.Verify.ValidationReport Report)> ReadBackAsync(string reference, TransportOptions options)
    {
        var r = F.Ref(reference);
        await using var source = await r.Transport.OpenSourceAsync(r, options);
        var report = await Ferry.Verify.ImageValidator.VerifyAsync(source);
        return (source.Images, report);
    }

    [Theory]
    [MemberData(nameof(Pairs))]
    public async Task ImageGoesInAndComesBackWithIdsNamesAndDigests(string sourceKind, string destinationKind)
    {
        var src = Make(sourceKind);
        var target = For(destinationKind);
        var result = Copy(src.Path, target.Reference, target.Options);
        var copied = Assert.Single(result.Images);
        Assert.Equal(src.Names.Order(StringComparer.Ordinal), copied.Names.Order(StringComparer.Ordinal));

        bool recompressed = src.Zstd && !target.KeepsZstd;
        foreach (string name in src.Names)
        {
            var (images, report) = await ReadBackAsync(target.ReadBack(name), target.Options);
            Assert.True(report.Ok, string.Join("\n", report.Findings));
            var image = Assert.Single(images);
            // Image IDs: every image of the tree, or the one docker gets.
            var ids = image.Images().Select(i => i.Image.ImageId.ToString()).ToList();
            if (target.OnePlatform)
                Assert.Equal([src.ImageIds[0]], ids);
            else
                Assert.Equal(src.ImageIds, ids);
            // Manifest digests: kept where manifests are kept, unless layers had to be recompressed.
            if (target.KeepsManifests && src.HasManifest && !recompressed)
            {
                Assert.Equal(src.RootDigest, image.Key.ToString());
                Assert.Equal(src.RootDigest, copied.ManifestDigest?.ToString());
            }
            if (recompressed)
                Assert.All(image.Images().SelectMany(i => i.Image.Layers), l => Assert.Equal(Ferry.Compression.CompressionKind.Gzip, l.ActualCompression));
            // The daemon says which digest became the image ID: the config's (classic), the index.json entry's (containerd store).
            if (target.Engine is { } engine)
            {
                string expectedId = engine.ContainerdStore ? copied.ManifestDigest!.Value.ToString() : src.ImageIds[0];
                Assert.Equal(expectedId, copied.DestinationId?.ToString());
                Assert.Equal(expectedId, engine.Images[ImageName.Parse(name).Familiar]);
                Assert.Equal(engine.ContainerdStore ? "portable" : "docker-archive", engine.LastLoadFormat);
            }
        }
        if (destinationKind == "registry")
            Assert.All(src.Names, n => Assert.Equal(copied.ManifestDigest!.Value.ToString(), _registry.Resolve("mirror/" + ImageName.Parse(n).Path, ImageName.Parse(n).Tag!)));
    }

    [Theory]
    [MemberData(nameof(Destinations))]
    public async Task DisposingWithoutCommitLeavesNothing(string destinationKind)
    {
        var src = Make("oci-index");
        var target = For(destinationKind);
        var r = F.Ref(target.Reference);
        var sourceRef = F.Ref(src.Path);
        await using (var source = await sourceRef.Transport.OpenSourceAsync(sourceRef, new TransportOptions()))
        await using (var dest = await r.Transport.OpenDestinationAsync(r, target.Options))
        {
            var image = source.Images[0];
            var writer = await dest.BeginImageAsync(new PlannedImage(image.Key, image.Label, image.Names, image.RefNames));
            var node = image.SelectImage(null)!;
            foreach (var layer in node.Image.Layers)
                await writer.PutBlobAsync(layer.Descriptor, BlobContent.FromSource(layer.Blob!, layer.Descriptor.Digest, layer.Descriptor.Size, "layer"));
            await writer.PutBlobAsync(node.Image.ConfigDescriptor, BlobContent.FromSource(node.Image.ConfigBlob, node.Image.ConfigDescriptor.Digest, node.Image.ConfigDescriptor.Size, "config"));
            if (dest.Capabilities.KeepsManifests)
                await writer.PutManifestAsync(node.Descriptor!, node.Image.Manifest!.Raw);
            await writer.FinishAsync(dest.Capabilities.KeepsManifests ? node.Descriptor : null, new DockerImage(node.Image.ConfigDescriptor, [.. node.Image.Layers.Select(l => l.Descriptor)]));
            // no commit
        }
        Assert.Equal(["src-index.tar"], _dir.Listing());
        Assert.Empty(_registry.Tags("mirror/library/multi"));
        if (target.Engine is { } engine)
            Assert.Equal(0, engine.Loads);
    }

    [Theory]
    [MemberData(nameof(Destinations))]
    public void EverySourceReadsBackWhatItHolds(string sourceKind)
    {
        // Put the generated image into the source transport with Ferry, then read it from there into a portable archive.
        var gen = Make("oci-index");
        var holder = For(sourceKind);
        Copy(gen.Path, holder.Reference, holder.Options);
        string from = holder.ReadBack(gen.Names[0]);
        string back = _dir.Path("back.tar");
        var result = Copy(from, back, holder.Options);
        var copied = Assert.Single(result.Images);
        F.AssertValid(back);
        using var s = F.Open(back);
        var image = Assert.Single(s.Images);
        Assert.Contains(gen.ImageIds[0], image.Images().Select(i => i.Image.ImageId.ToString()));
        if (holder.KeepsManifests)
            Assert.Equal(gen.RootDigest, image.Key.ToString());
        Assert.Equal(ImageName.Parse(from.Contains("docker://", StringComparison.Ordinal) ? from["docker://".Length..] : gen.Names[0]).ToString(), image.Names.Single().ToString());
        Assert.Equal(copied.ManifestDigest, image.Key);
    }
}
