using Ferry.Model;
using Ferry.Sets;

namespace Ferry.Tests.Sets;

/// <summary>The set file: the issue's example, defaults, and every error naming its line and column.</summary>
public class ImageSetParseTests
{
    private const string Example = """
        version: 1
        platforms: [linux/amd64, linux/arm64]       # default for every entry; "all" keeps whole indexes
        referrers: true                             # signatures, attestations, SBOMs (default true)
        images:
          - docker.io/library/ubuntu:20.04
          - ref: registry.example.com/base@sha256:0a6b4c3e8f5e2d1c7b9a8f6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c
            platforms: [linux/amd64]
        repositories:
          - name: registry.example.com/team/app
            tags: { semver: ">=1.2.0 <2.0.0", exclude: ["-rc"], latest: 3 }   # also include: [regex…]
          - name: registry.example.com/team/db
            tags: { include: ["^7\\."] }
        """;

    [Fact]
    public void ReadsTheIssuesExample()
    {
        var set = ImageSet.Parse(Example);
        Assert.Equal("linux/amd64,linux/arm64", set.Platforms.ToString());
        Assert.True(set.Referrers);
        Assert.Equal(2, set.Images.Count);
        Assert.Equal("docker.io/library/ubuntu:20.04", set.Images[0].Reference.ToString());
        Assert.Null(set.Images[0].Platforms);
        Assert.Equal(5, set.Images[0].Line);
        Assert.Equal("linux/amd64", set.PlatformsOf(set.Images[1]).ToString());
        Assert.NotNull(set.Images[1].Reference.Digest);
        var app = set.Repositories[0];
        Assert.Equal("registry.example.com/team/app", app.Repository.FullRepository);
        Assert.Equal(">=1.2.0 <2.0.0", app.Tags.Semver);
        Assert.Equal(["-rc"], app.Tags.Exclude);
        Assert.Equal(3, app.Tags.Latest);
        Assert.Equal(["^7\\."], set.Repositories[1].Tags.Include);
        Assert.Equal(["docker.io", "registry.example.com"], set.SourceRegistries);
    }

    [Fact]
    public void Defaults()
    {
        var set = ImageSet.Parse("version: 1\nimages: [alpine, 'ghcr.io/org/tool:v2']\nrepositories:\n  - name: quay.io/org/all-tags\n");
        Assert.True(set.Platforms.IsAll);
        Assert.True(set.Referrers);
        Assert.Equal("docker.io/library/alpine:latest", set.Images[0].Reference.ToString());
        Assert.True(set.Repositories[0].Tags.TakesAll);
        Assert.True(ImageSet.Parse("version: 1\nplatforms: all\nreferrers: false\nimages: [a]\n").Platforms.IsAll);
        Assert.False(ImageSet.Parse("version: 1\nreferrers: false\nimages: [a]\n").Referrers);
    }

    [Fact]
    public void WritesWhatItReads()
    {
        var set = ImageSet.Parse(Example);
        string yaml = set.ToYaml();
        Assert.Equal("""
            version: 1
            platforms: [linux/amd64, linux/arm64]
            referrers: true
            images:
              - docker.io/library/ubuntu:20.04
              - ref: registry.example.com/base@sha256:0a6b4c3e8f5e2d1c7b9a8f6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c
                platforms: [linux/amd64]
            repositories:
              - name: registry.example.com/team/app
                tags: { exclude: ["-rc"], semver: ">=1.2.0 <2.0.0", latest: 3 }
              - name: registry.example.com/team/db
                tags: { include: ["^7\\."] }

            """.ReplaceLineEndings("\n"), yaml);
        Assert.Equal(yaml, ImageSet.Parse(yaml).ToYaml());
    }

    [Theory]
    [InlineData("version: 1\nimages: [a]\ntag: x\n", 3, 1, "unknown key 'tag' in the set (known: version, platforms, referrers, images, repositories)")]
    [InlineData("version: 1\nimages:\n  - ref: a\n    platform: [linux/amd64]\n", 4, 5, "unknown key 'platform' in an image")]
    [InlineData("version: 1\nrepositories:\n  - name: r.example/a\n    tags: { semvar: '>=1' }\n", 4, 13, "unknown key 'semvar' in tags (known: include, exclude, semver, prerelease, latest)")]
    [InlineData("version: 1\nrepositories:\n  - name: r.example/a\n    tags: { semver: '>=1.2.3.4' }\n", 4, 21, "semver '>=1.2.3.4': '1.2.3.4' is not a version")]
    [InlineData("version: 1\nrepositories:\n  - name: r.example/a\n    tags: { include: ['(unclosed'] }\n", 4, 23, "regular expression '(unclosed'")]
    [InlineData("version: 1\nrepositories:\n  - name: r.example/a\n    tags: { latest: three }\n", 4, 21, "latest must be a whole number, not 'three'")]
    [InlineData("version: 1\nrepositories:\n  - name: r.example/a\n    tags: { latest: 0 }\n", 4, 21, "latest must be 1 or more")]
    [InlineData("version: 1\nrepositories:\n  - name: r.example/a:1\n", 3, 11, "a repository has no tag or digest here")]
    [InlineData("version: 1\nimages: [app/UPPER]\n", 2, 10, "must be lowercase")]
    [InlineData("version: 1\nplatforms: [linux]\nimages: [a]\n", 2, 13, "invalid platform 'linux'")]
    [InlineData("version: 1\nplatforms: [all, linux/amd64]\nimages: [a]\n", 2, 12, "'all' stands alone")]
    [InlineData("version: 1\nreferrers: yes\nimages: [a]\n", 2, 12, "referrers must be true or false, not 'yes'")]
    [InlineData("version: 2\nimages: [a]\n", 1, 10, "version 2 is not one this ferry reads")]
    [InlineData("images: [a]\n", 1, 1, "no 'version'")]
    [InlineData("version: 1\n", 1, 1, "names no image and no repository")]
    [InlineData("version: 1\nimages: [a, docker.io/library/a:latest]\n", 2, 0, "docker.io/library/a:latest is listed twice (first on line 2)")]
    [InlineData("version: 1\nimages: a\n", 2, 9, "images must be a list, not 'a'")]
    [InlineData("version: 1\nversion: 1\nimages: [a]\n", 2, 1, "not valid YAML: Duplicate key")]
    [InlineData("version: 1\nimages: [a\n", 3, 1, "not valid YAML")]
    [InlineData("version: 1\nimages:\n  - ref: 'x\n", 3, 10, "not valid YAML")]
    [InlineData("- a\n", 1, 1, "the set must be a mapping")]
    [InlineData("version: 1\nimages: [a]\n---\nversion: 1\n", 4, 1, "more than one YAML document")]
    [InlineData("", 0, 0, "the file is empty")]
    [InlineData("version: 1\nimages:\n  - platforms: all\n", 3, 5, "an image needs 'ref: NAME[:TAG|@DIGEST]'")]
    public void ErrorsNameLineAndColumn(string text, int line, int column, string problem)
    {
        var e = Assert.Throws<ImageSetFormatException>(() => ImageSet.Parse(text, "site.yaml"));
        Assert.Equal((line, column), (e.Line, e.Column));
        Assert.Contains(problem, e.Message, StringComparison.Ordinal);
        Assert.StartsWith(line == 0 ? "site.yaml: " : column == 0 ? $"site.yaml:{line}: " : $"site.yaml:{line}:{column}: ", e.Message, StringComparison.Ordinal);
        Assert.Equal(Ferry.Cli.ExitCodes.Usage, Ferry.Cli.ErrorCodes.Of(e));
    }

    [Fact]
    public void BuiltInCode()
    {
        var set = new ImageSet([new ImageSetImage(ImageName.Parse("alpine:3.20"))], [], PlatformSelection.Of([Platform.Parse("linux/arm64/v8")]));
        Assert.Equal("version: 1\nplatforms: [linux/arm64/v8]\nreferrers: true\nimages:\n  - docker.io/library/alpine:3.20\n", set.ToYaml());
        Assert.Throws<ArgumentException>(() => new ImageSet([], []));
        Assert.Throws<ArgumentException>(() => new ImageSet([new ImageSetImage(ImageName.Parse("a:1")), new ImageSetImage(ImageName.Parse("docker.io/library/a:1"))], []));
    }

    [Fact]
    public void ScalarsThatLookLikeOtherThingsAreQuoted()
    {
        var set = new ImageSet([], [new ImageSetRepository(ImageName.Parse("r.example/a"), new TagFilter(include: ["^1\\.20$", "yes"], semver: "1.x || >=2.5.0"))]);
        string yaml = set.ToYaml();
        Assert.Contains("tags: { include: [\"^1\\\\.20$\", \"yes\"], semver: \"1.x || >=2.5.0\" }", yaml, StringComparison.Ordinal);
        Assert.Equal(["^1\\.20$", "yes"], ImageSet.Parse(yaml).Repositories[0].Tags.Include);
    }
}
