using Ferry.Digests;
using Ferry.Model;
using Ferry.Sets;
using Ferry.Transports.Registry;

namespace Ferry.Tests.Sets;

/// <summary>What sync --prune may delete: stale tags under the prefix only, never a manifest the lock keeps, never outside.</summary>
public class PruneTests
{
    private static Digest D(char c) => Digest.Parse("sha256:" + new string(c, 64));

    private static ImageSetLock Lock() => new(
        [
            new LockedImage(ImageName.Parse("registry.example.com/team/app:1.3.0"), D('a'), MediaTypes.OciIndex, PlatformSelection.All, true,
                [new LockedManifest(D('b'), MediaTypes.OciManifest, 500, Platform.Parse("linux/amd64"))]),
            new LockedImage(ImageName.Parse("registry.example.com/team/app:1.4.0"), D('c'), MediaTypes.OciManifest, PlatformSelection.All, true, []),
            new LockedImage(ImageName.Parse("docker.io/library/ubuntu:20.04"), D('d'), MediaTypes.OciManifest, PlatformSelection.All, true, []),
        ],
        [new LockedRepository(ImageName.Parse("registry.example.com/team/app"), new TagFilter(latest: 2), ["1.2.0", "1.3.0", "1.4.0"], ["1.3.0", "1.4.0"], [], TagOrdering.Semver),
         new LockedRepository(ImageName.Parse("registry.example.com/team/gone"), new TagFilter(semver: ">=9"), ["1.0.0"], [], [], TagOrdering.None)]);

    [Fact]
    public void ListsTheDestinationRepositories()
    {
        var map = new RepositoryMap(RegistryPrefixReference.Parse("mirror.internal:5000/airgap"));
        Assert.Equal(["mirror.internal:5000/airgap/library/ubuntu", "mirror.internal:5000/airgap/team/app", "mirror.internal:5000/airgap/team/gone"],
            ImageSetPrune.Repositories(map, Lock()).Select(r => r.ToString()));
    }

    [Fact]
    public void PlansOnlyStaleTagsUnderThePrefix()
    {
        var map = new RepositoryMap(RegistryPrefixReference.Parse("mirror.internal:5000/airgap"));
        var listing = new Dictionary<string, IReadOnlyDictionary<string, Digest>>
        {
            ["mirror.internal:5000/airgap/team/app"] = new Dictionary<string, Digest>
            {
                ["1.2.0"] = D('e'),                               // no longer selected: goes
                ["1.3.0"] = D('a'),                               // kept
                ["1.4.0"] = D('c'),                               // kept
                ["stable"] = D('c'),                              // another name of a kept manifest: deleting it would delete 1.4.0
                ["sha256-" + new string('a', 64) + ".sig"] = D('f'),   // the signature of a kept index: kept
                ["sha256-" + new string('e', 64) + ".sig"] = D('9'),   // the signature of 1.2.0: goes
            },
            ["mirror.internal:5000/airgap/team/gone"] = new Dictionary<string, Digest> { ["1.0.0"] = D('1') },
            ["mirror.internal:5000/other/team/app"] = new Dictionary<string, Digest> { ["old"] = D('2') },   // outside the prefix
            ["elsewhere.example/airgap/team/app"] = new Dictionary<string, Digest> { ["old"] = D('3') },
        };
        var plan = ImageSetPrune.Plan(map, Lock(), listing);
        Assert.Equal(
        [
            ("mirror.internal:5000/airgap/team/app:1.2.0", "the set no longer selects this tag"),
            ("mirror.internal:5000/airgap/team/app:sha256-" + new string('e', 64) + ".sig", "the set no longer selects this tag"),
            ("mirror.internal:5000/airgap/team/gone:1.0.0", "the set takes nothing from this repository any more"),
        ], plan.Select(p => (p.Tag.ToString(), p.Reason)));
        Assert.Equal(D('e'), plan[0].Digest);
    }

    [Fact]
    public void RewrittenRepositoriesAreUnderTheirMirrorPath()
    {
        var map = new RepositoryMap(RegistryPrefixReference.Parse("mirror.internal:5000/airgap"), [MirrorMapping.Parse("registry.example.com/team=mirror.internal:5000/apps")]);
        Assert.True(ImageSetPrune.IsUnder(map, ImageName.Parse("mirror.internal:5000/apps/app")));
        Assert.False(ImageSetPrune.IsUnder(map, ImageName.Parse("mirror.internal:5000/appsx/app")));
        var plan = ImageSetPrune.Plan(map, Lock(), new Dictionary<string, IReadOnlyDictionary<string, Digest>>
        {
            ["mirror.internal:5000/apps/app"] = new Dictionary<string, Digest> { ["1.4.0"] = D('c'), ["0.9"] = D('7') },
        });
        Assert.Equal(["mirror.internal:5000/apps/app:0.9"], plan.Select(p => p.Tag.ToString()));
    }
}
