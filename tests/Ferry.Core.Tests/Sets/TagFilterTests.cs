using Ferry.Sets;

namespace Ferry.Tests.Sets;

/// <summary>Tag filters on tag lists as registries list them (samples of the real lists of nginx, postgres, redis, ubuntu, kube-apiserver and an app with sha- and branch tags).</summary>
public class TagFilterTests
{
    /// <summary>docker.io/library/nginx (a sample of the real list).</summary>
    public static readonly string[] Nginx =
    [
        "1", "1-alpine", "1.24", "1.24.0", "1.24.0-alpine", "1.25", "1.25-alpine", "1.25.3", "1.25.3-alpine", "1.25.3-alpine-slim",
        "1.25.3-alpine3.18", "1.25.3-bookworm", "1.25.3-perl", "1.26", "1.26.0", "1.26.1", "1.27", "1.27.0", "1.27.1", "1.27.2",
        "1.27.3", "alpine", "alpine3.18", "bookworm", "latest", "mainline", "mainline-alpine", "perl", "stable", "stable-alpine",
    ];

    /// <summary>docker.io/library/postgres.</summary>
    public static readonly string[] Postgres =
    [
        "13", "13.13", "13.13-bullseye", "14", "14.10", "14.10-alpine", "15", "15.5", "16", "16-alpine", "16.1", "16.1-alpine",
        "16.1-alpine3.19", "16.1-bookworm", "17.0", "17.2", "17beta1", "17rc1", "alpine", "bookworm", "bullseye", "latest",
    ];

    /// <summary>docker.io/library/redis.</summary>
    public static readonly string[] Redis =
    [
        "6", "6.2", "6.2.14", "7", "7-alpine", "7.0.15", "7.2", "7.2.4", "7.2.4-alpine", "7.2.4-bookworm", "7.4-rc1", "7.4-rc2",
        "7.4-rc2-alpine", "7.4.0", "7.4.1", "7.4.2", "alpine", "latest",
    ];

    /// <summary>docker.io/library/ubuntu: dates and code names, no versions.</summary>
    public static readonly string[] Ubuntu =
    [
        "20.04", "22.04", "24.04", "devel", "focal", "focal-20240123", "focal-20240410", "jammy", "jammy-20240125", "jammy-20240405",
        "latest", "noble", "noble-20240423", "rolling",
    ];

    /// <summary>registry.k8s.io/kube-apiserver: v-prefixed, with alpha/beta/rc.</summary>
    public static readonly string[] KubeApiserver =
    [
        "v1.28.0", "v1.28.1", "v1.28.15", "v1.29.0-alpha.3", "v1.29.0-rc.0", "v1.29.0-rc.1", "v1.29.0", "v1.29.1", "v1.29.10",
        "v1.30.0-beta.0", "v1.30.0",
    ];

    /// <summary>A team's app: versions, release candidates, sha- and branch tags, cosign signature tags.</summary>
    public static readonly string[] App =
    [
        "1.0.0", "1.1.0", "1.2.0", "1.2.1", "1.3.0-rc.1", "1.3.0", "1.4.0", "2.0.0", "latest", "main", "sha-3f2a9c1",
        "sha256-0a6b4c3e8f5e2d1c7b9a8f6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c.sig",
    ];

    private static TagSelection Apply(TagFilter f, string[] tags, Dictionary<string, DateTimeOffset?>? created = null) =>
        f.ApplyAsync(tags, created is null ? null : (t, _) => Task.FromResult(created.GetValueOrDefault(t))).GetAwaiter().GetResult();

    [Fact]
    public void TheIssuesExample()
    {
        var s = Apply(new TagFilter(exclude: ["-rc"], semver: ">=1.2.0 <2.0.0", latest: 3), App);
        Assert.Equal(["1.2.1", "1.3.0", "1.4.0"], s.Selected);
        Assert.Equal(["latest", "main", "sha-3f2a9c1", "sha256-0a6b4c3e8f5e2d1c7b9a8f6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c.sig"], s.NotSemver);
        Assert.Equal(TagOrdering.Semver, s.Ordering);
        Assert.Equal(App.Length, s.Listed.Count);
    }

    [Fact]
    public void IncludeRegexOnRedis()
    {
        var s = Apply(new TagFilter(include: ["^7\\."]), Redis);
        Assert.Equal(["7.0.15", "7.2.4-alpine", "7.2.4-bookworm", "7.2.4", "7.4.0", "7.4.1", "7.4.2", "7.2", "7.4-rc1", "7.4-rc2", "7.4-rc2-alpine"], s.Selected);
        Assert.Equal(TagOrdering.None, s.Ordering);
        Assert.Empty(s.NotSemver);
    }

    [Fact]
    public void IncludeAndExcludeTogether()
    {
        var s = Apply(new TagFilter(include: ["^7\\.", "^6\\.2\\.\\d+$"], exclude: ["-rc", "alpine", "bookworm"]), Redis);
        Assert.Equal(["6.2.14", "7.0.15", "7.2.4", "7.4.0", "7.4.1", "7.4.2", "7.2"], s.Selected);
    }

    [Fact]
    public void VPrefixedKubernetesVersionsWithoutPrereleases()
    {
        var s = Apply(new TagFilter(semver: ">=1.28.0 <1.30.0"), KubeApiserver);
        Assert.Equal(["v1.28.0", "v1.28.1", "v1.28.15", "v1.29.0", "v1.29.1", "v1.29.10"], s.Selected);
        var latest = Apply(new TagFilter(semver: "^1.28.0", latest: 2), KubeApiserver);
        Assert.Equal(["v1.29.10", "v1.30.0"], latest.Selected);
    }

    [Fact]
    public void PrereleasesWhenAsked()
    {
        var s = Apply(new TagFilter(semver: ">=1.30.0-0 <1.31.0", prerelease: false), KubeApiserver);
        Assert.Equal(["v1.30.0-beta.0", "v1.30.0"], s.Selected);
        var alpine = Apply(new TagFilter(include: ["-alpine$"], semver: "~1.25", prerelease: true), Nginx);
        Assert.Equal(["1.25.3-alpine"], alpine.Selected);
        Assert.Equal(["1-alpine", "1.25-alpine", "mainline-alpine", "stable-alpine"], alpine.NotSemver);
    }

    [Fact]
    public void NginxMinorLine()
    {
        var s = Apply(new TagFilter(semver: "~1.27"), Nginx);
        Assert.Equal(["1.27.0", "1.27.1", "1.27.2", "1.27.3"], s.Selected);
        Assert.Equal(Nginx.Count(t => SemanticVersion.TryParse(t) is null), s.NotSemver.Count);
    }

    [Fact]
    public void UbuntuHasNoVersionsAtAll()
    {
        var s = Apply(new TagFilter(semver: "*"), Ubuntu);
        Assert.Empty(s.Selected);
        Assert.Equal(Ubuntu.Length, s.NotSemver.Count);
    }

    [Fact]
    public void LatestByCreatedWhenTagsAreNotVersions()
    {
        var created = new Dictionary<string, DateTimeOffset?>
        {
            ["focal-20240123"] = DateTimeOffset.Parse("2024-01-23T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture),
            ["focal-20240410"] = DateTimeOffset.Parse("2024-04-10T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture),
            ["jammy-20240125"] = DateTimeOffset.Parse("2024-01-25T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture),
            ["jammy-20240405"] = DateTimeOffset.Parse("2024-04-05T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture),
            ["noble-20240423"] = null,
        };
        var s = Apply(new TagFilter(include: ["^[a-z]+-\\d{8}$"], latest: 2), Ubuntu, created);
        Assert.Equal(TagOrdering.Created, s.Ordering);
        Assert.Equal(["focal-20240410", "jammy-20240405"], s.Selected);
        Assert.Equal(["noble-20240423"], s.Undated);
    }

    [Fact]
    public void LatestByCreatedOnPostgresMajorMinorTags()
    {
        var times = new Dictionary<string, DateTimeOffset?>
        {
            ["13.13"] = DateTimeOffset.UnixEpoch.AddDays(1),
            ["14.10"] = DateTimeOffset.UnixEpoch.AddDays(2),
            ["15.5"] = DateTimeOffset.UnixEpoch.AddDays(3),
            ["16.1"] = DateTimeOffset.UnixEpoch.AddDays(4),
            ["17.0"] = DateTimeOffset.UnixEpoch.AddDays(5),
            ["17.2"] = DateTimeOffset.UnixEpoch.AddDays(5),
        };
        var s = Apply(new TagFilter(include: ["^\\d+\\.\\d+$"], latest: 3), Postgres, times);
        Assert.Equal(TagOrdering.Created, s.Ordering);
        Assert.Equal(["16.1", "17.0", "17.2"], s.Selected);
    }

    [Fact]
    public void LatestBySemverNeverAsksForTimes()
    {
        var s = Apply(new TagFilter(include: ["^\\d+\\.\\d+\\.\\d+$"], latest: 2), Redis);
        Assert.Equal(TagOrdering.Semver, s.Ordering);
        Assert.Equal(["7.4.1", "7.4.2"], s.Selected);
    }

    [Fact]
    public void NoFilterTakesEveryTag()
    {
        var s = Apply(TagFilter.All, Postgres);
        Assert.Equal(Postgres.Length, s.Selected.Count);
        Assert.True(TagFilter.All.TakesAll);
    }

    [Fact]
    public void BadFiltersAreRefused()
    {
        Assert.Throws<ArgumentException>(() => new TagFilter(include: ["("]));
        Assert.Throws<ArgumentException>(() => new TagFilter(semver: ">=1.2.3.4"));
        Assert.Throws<ArgumentException>(() => new TagFilter(latest: 0));
    }

    [Fact]
    public void ListsAreInVersionOrderThenByName()
    {
        Assert.Equal(["1.2.0", "1.10.0", "v2.0.0", "a", "b"], TagFilter.Sorted(["b", "v2.0.0", "1.10.0", "a", "1.2.0"]));
    }
}
