using System.Text;
using Ferry.Sets;

namespace Ferry.Tests.Sets;

/// <summary>Resolving a set to digests through a catalog, and the lock file: deterministic bytes, strict reading, failures beside the lock.</summary>
public class LockTests
{
    private const string SetText = """
        version: 1
        platforms: [linux/amd64, linux/arm64]
        images:
          - docker.io/library/ubuntu:20.04
          - ref: registry.example.com/base:1
            platforms: all
            referrers: false
        repositories:
          - name: registry.example.com/team/app
            tags: { semver: ">=1.2.0 <2.0.0", exclude: ["-rc"], latest: 2 }
        """;

    private static FakeCatalog Catalog()
    {
        var c = new FakeCatalog();
        c.Tag("docker.io/library/ubuntu", "20.04", c.Index("2024-01-01T00:00:00Z", "linux/amd64", "linux/arm64/v8", "linux/s390x"));
        c.Tag("registry.example.com/base", "1", c.Index("2024-01-02T00:00:00Z", "linux/amd64", "linux/arm64"));
        foreach (var (tag, day) in new[] { ("1.1.0", 1), ("1.2.0", 2), ("1.3.0-rc.1", 3), ("1.3.0", 4), ("2.0.0", 5), ("latest", 5), ("sha-3f2a9c1", 5) })
            c.Tag("registry.example.com/team/app", tag, c.Index($"2024-02-0{day}T00:00:00Z", "linux/amd64", "linux/arm64"));
        return c;
    }

    private static ImageSetResolution Resolve(ImageSet set, FakeCatalog c, int parallelism = 4) =>
        ImageSetResolver.ResolveAsync(set, c, new ImageSetResolveOptions { Parallelism = parallelism }).GetAwaiter().GetResult();

    [Fact]
    public void ResolvesEveryEntryToDigests()
    {
        var set = ImageSet.Parse(SetText);
        var r = Resolve(set, Catalog());
        Assert.True(r.Succeeded, string.Join("; ", r.Failures));
        Assert.Equal(["docker.io/library/ubuntu:20.04", "registry.example.com/base:1", "registry.example.com/team/app:1.2.0", "registry.example.com/team/app:1.3.0"],
            r.Lock.Images.Select(i => i.Name.ToString()));
        var ubuntu = r.Lock.Images[0];
        Assert.True(ubuntu.IsIndex);
        Assert.Equal(["linux/amd64", "linux/arm64/v8"], ubuntu.Manifests.Select(m => m.Platform!.ToString()));
        Assert.Equal("docker://docker.io/library/ubuntu@" + ubuntu.Digest, ubuntu.SourceReference);
        var base1 = r.Lock.Images[1];
        Assert.True(base1.Platforms.IsAll);
        Assert.False(base1.Referrers);
        Assert.Equal(2, base1.Manifests.Count);
        var repo = Assert.Single(r.Lock.Repositories);
        Assert.Equal(["1.2.0", "1.3.0"], repo.Selected);
        Assert.Equal(["latest", "sha-3f2a9c1"], repo.NotSemver);
        Assert.Equal(TagOrdering.Semver, repo.Ordering);
        Assert.Equal(7, repo.Tags.Count);
        Assert.Equal("registry.example.com/team/app", r.Lock.Images[2].From);
        Assert.True(r.Lock.IsOf(set));
    }

    [Fact]
    public void TheSameBytesWhateverTheOrderOrParallelism()
    {
        var set = ImageSet.Parse(SetText);
        var a = Resolve(set, Catalog(), parallelism: 1).Lock.ToBytes();
        var c = Catalog();
        c.Reverse = true;
        var b = Resolve(set, c, parallelism: 8).Lock.ToBytes();
        Assert.Equal(Encoding.UTF8.GetString(a), Encoding.UTF8.GetString(b));
        // Read back and written again: the same bytes.
        Assert.Equal(a, ImageSetLock.Parse(a).ToBytes());
    }

    [Fact]
    public void TheLockFileReadsWell()
    {
        var c = new FakeCatalog();
        c.Tag("registry.example.com/team/app", "1.2.0", c.Index("2024-02-01T00:00:00Z", "linux/amd64"));
        c.Tag("registry.example.com/team/app", "1.3.0-rc.1", c.Index("2024-02-02T00:00:00Z", "linux/amd64"));
        c.Tag("registry.example.com/team/app", "main", c.Manifest("linux/amd64"));
        var set = ImageSet.Parse("version: 1\nplatforms: [linux/amd64]\nrepositories:\n  - name: registry.example.com/team/app\n    tags: { semver: '^1.2.0' }\n");
        var lockFile = Resolve(set, c).Lock;
        string text = Encoding.UTF8.GetString(lockFile.ToBytes());
        var image = lockFile.Images[0];
        Assert.Equal($$"""
            {
              "lockVersion": 1,
              "set": "{{ImageSetLock.DigestOf(set)}}",
              "images": [
                {
                  "name": "registry.example.com/team/app:1.2.0",
                  "digest": "{{image.Digest}}",
                  "mediaType": "application/vnd.oci.image.index.v1+json",
                  "platforms": "linux/amd64",
                  "referrers": true,
                  "from": "registry.example.com/team/app",
                  "manifests": [
                    {
                      "platform": "linux/amd64",
                      "digest": "{{image.Manifests[0].Digest}}",
                      "mediaType": "application/vnd.oci.image.manifest.v1+json",
                      "size": {{image.Manifests[0].Size}}
                    }
                  ]
                }
              ],
              "repositories": [
                {
                  "name": "registry.example.com/team/app",
                  "filter": {
                    "semver": "^1.2.0"
                  },
                  "selected": [
                    "1.2.0"
                  ],
                  "notSemver": [
                    "main"
                  ],
                  "tags": [
                    "1.2.0",
                    "1.3.0-rc.1",
                    "main"
                  ]
                }
              ]
            }

            """.ReplaceLineEndings("\n"), text);
    }

    [Fact]
    public void ASingleManifestRecordsItsPlatform()
    {
        var c = new FakeCatalog();
        c.Tag("registry.example.com/tool", "1", c.Manifest("linux/arm64"));
        var r = Resolve(ImageSet.Parse("version: 1\nimages: [registry.example.com/tool:1]\n"), c);
        var i = Assert.Single(r.Lock.Images);
        Assert.False(i.IsIndex);
        Assert.Equal("linux/arm64", i.Platform!.ToString());
        Assert.Empty(i.Manifests);
        Assert.Contains("\"platform\": \"linux/arm64\"", Encoding.UTF8.GetString(r.Lock.ToBytes()), StringComparison.Ordinal);
    }

    [Fact]
    public void FailuresAreListedAndTheRestResolves()
    {
        var c = Catalog();
        c.Tag("quay.io/down/thing", "1", c.Index("2024-01-01T00:00:00Z", "linux/amd64"));
        c.Down.Add("quay.io");
        var set = ImageSet.Parse("""
            version: 1
            platforms: [linux/amd64, linux/ppc64le]
            images:
              - registry.example.com/base:1
              - registry.example.com/base:missing
              - quay.io/down/thing:1
            repositories:
              - name: registry.example.com/nothing-here
              - name: registry.example.com/team/app
                tags: { semver: "1.2.0" }
                platforms: [linux/arm64]
            """);
        var r = Resolve(set, c);
        Assert.False(r.Succeeded);
        Assert.Equal(
        [
            ("quay.io/down/thing:1", "resolve"),
            ("registry.example.com/base:1", "platforms"),
            ("registry.example.com/base:missing", "resolve"),
            ("registry.example.com/nothing-here", "list tags"),
        ], r.Failures.Select(f => (f.Image, f.Step)));
        Assert.Contains("has no linux/ppc64le (it has linux/amd64, linux/arm64)", r.Failures[1].Message, StringComparison.Ordinal);
        Assert.Contains("connection refused", r.Failures[0].Message, StringComparison.Ordinal);
        Assert.Equal(["registry.example.com/team/app:1.2.0"], r.Lock.Images.Select(i => i.Name.ToString()));
    }

    [Fact]
    public void LatestByCreatedReadsConfigs()
    {
        var c = new FakeCatalog();
        c.Tag("docker.io/library/ubuntu", "jammy-20240125", c.Index("2024-01-25T00:00:00Z", "linux/amd64", "linux/arm64"));
        c.Tag("docker.io/library/ubuntu", "jammy-20240405", c.Index("2024-04-05T00:00:00Z", "linux/amd64", "linux/arm64"));
        c.Tag("docker.io/library/ubuntu", "noble-20240423", c.Manifest("linux/amd64", "2024-04-23T00:00:00Z"));
        c.Tag("docker.io/library/ubuntu", "latest", c.Index("2024-04-23T00:00:00Z", "linux/amd64"));
        var set = ImageSet.Parse("version: 1\nrepositories:\n  - name: ubuntu\n    tags: { include: ['-\\d{8}$'], latest: 2 }\n");
        var r = Resolve(set, c);
        Assert.True(r.Succeeded, string.Join("; ", r.Failures));
        var repo = Assert.Single(r.Lock.Repositories);
        Assert.Equal(TagOrdering.Created, repo.Ordering);
        Assert.Equal(["jammy-20240405", "noble-20240423"], repo.Selected);
        Assert.Contains("\"ordering\": \"created\"", Encoding.UTF8.GetString(r.Lock.ToBytes()), StringComparison.Ordinal);
    }

    [Fact]
    public void TheSetDigestIgnoresCommentsAndLayout()
    {
        var a = ImageSet.Parse("version: 1\nimages: [alpine:3.20]\n");
        var b = ImageSet.Parse("# the site's images\nversion: 1\nimages:\n  - docker.io/library/alpine:3.20   # pinned by the lock\n");
        var c = ImageSet.Parse("version: 1\nimages: [alpine:3.21]\n");
        Assert.Equal(ImageSetLock.DigestOf(a), ImageSetLock.DigestOf(b));
        Assert.NotEqual(ImageSetLock.DigestOf(a), ImageSetLock.DigestOf(c));
    }

    [Theory]
    [InlineData("{\"lockVersion\": 2, \"images\": [], \"repositories\": []}", "lockVersion 2 is not one this ferry reads")]
    [InlineData("{\"lockVersion\": 1, \"images\": [], \"repositories\": [], \"extra\": 1}", "the lock: unknown field 'extra'")]
    [InlineData("{\"lockVersion\": 1, \"images\": [{\"name\": \"a:1\", \"digest\": \"sha256:00\", \"mediaType\": \"x\", \"platforms\": \"all\", \"referrers\": true}], \"repositories\": []}", "images[0].digest: not a digest")]
    [InlineData("{\"lockVersion\": 1, \"images\": [], \"repositories\": [{\"name\": \"r.example/a\", \"filter\": {\"semver\": \">=x.y.z.w\"}, \"tags\": [], \"selected\": []}]}", "repositories[0].filter: semver range")]
    [InlineData("{\"lockVersion\": 1, \"images\": []}", "the lock: no 'repositories'")]
    [InlineData("{\"lockVersion\": 1,\n \"images\": [}", "ferry.lock:2:")]
    public void BadLocksAreRefused(string json, string problem)
    {
        var e = Assert.Throws<ImageSetFormatException>(() => ImageSetLock.Parse(Encoding.UTF8.GetBytes(json)));
        Assert.Contains(problem, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TellsALockFromASet()
    {
        Assert.True(ImageSetLock.LooksLikeLock("{\n  \"lockVersion\": 1,"u8));
        Assert.False(ImageSetLock.LooksLikeLock("version: 1\nimages: []\n"u8));
    }

    [Fact]
    public void SavesAtomically()
    {
        using var dir = new Ferry.Tests.TestSupport.TempDir();
        var r = Resolve(ImageSet.Parse(SetText), Catalog());
        r.Lock.Save(dir.Path("ferry.lock"));
        Assert.Equal(["ferry.lock"], dir.Listing());
        Assert.Equal(r.Lock.ToBytes(), ImageSetLock.Load(dir.Path("ferry.lock")).ToBytes());
    }
}
