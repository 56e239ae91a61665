using Ferry.Sets;

namespace Ferry.Tests.Sets;

/// <summary>SemVer 2.0 parsing and precedence, and npm-style ranges (cases from the SemVer spec and node-semver's own tables).</summary>
public class SemverTests
{
    [Theory]
    [InlineData("1.2.3", true)]
    [InlineData("v1.2.3", true)]
    [InlineData("V1.2.3", true)]
    [InlineData("1.2.3-rc.1", true)]
    [InlineData("1.25.3-alpine", true)]
    [InlineData("1.2.3-alpine3.18", true)]
    [InlineData("0.0.0", true)]
    [InlineData("1.2.3+build.5", true)]
    [InlineData("1.2.3_build.5", true)]          // Helm writes '_' for '+' in tags
    [InlineData("10.20.30", true)]
    [InlineData("99999999999999999999999.1.1", true)]
    [InlineData("1.2", false)]
    [InlineData("1", false)]
    [InlineData("01.2.3", false)]
    [InlineData("1.02.3", false)]
    [InlineData("1.2.3-01", false)]              // numeric pre-release identifiers have no leading zero
    [InlineData("1.2.3-", false)]
    [InlineData("1.2.3-a..b", false)]
    [InlineData("latest", false)]
    [InlineData("sha-3f2a9c1", false)]
    [InlineData("20240115", false)]
    [InlineData("2024.01.15", false)]
    [InlineData("1.2.3.4", false)]
    [InlineData("vv1.2.3", false)]
    [InlineData("", false)]
    public void ParsesVersions(string tag, bool ok) => Assert.Equal(ok, SemanticVersion.TryParse(tag) is not null);

    [Fact]
    public void PrecedenceFollowsTheSpec()
    {
        // SemVer 2.0 §11's own example, then numbers of different lengths.
        string[] ordered = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.9.0", "1.10.0", "1.11.0", "2.0.0", "10.0.0"];
        for (int i = 0; i + 1 < ordered.Length; i++)
            Assert.True(SemanticVersion.TryParse(ordered[i])!.CompareTo(SemanticVersion.TryParse(ordered[i + 1])) < 0, $"{ordered[i]} < {ordered[i + 1]}");
        Assert.Equal(0, SemanticVersion.TryParse("1.0.0+a")!.CompareTo(SemanticVersion.TryParse("v1.0.0+b")));
    }

    [Theory]
    [InlineData(">=1.2.0 <2.0.0", "1.2.0", true)]
    [InlineData(">=1.2.0 <2.0.0", "1.9.9", true)]
    [InlineData(">=1.2.0 <2.0.0", "2.0.0", false)]
    [InlineData(">=1.2.0 <2.0.0", "1.1.9", false)]
    [InlineData(">=1.2.0 <2.0.0", "1.3.0-rc.1", false)]    // pre-releases need a comparator on the same version
    [InlineData(">=1.3.0-rc.1 <2.0.0", "1.3.0-rc.2", true)]
    [InlineData(">=1.3.0-rc.1 <2.0.0", "1.4.0-rc.1", false)]
    [InlineData(">= 1.2.0  < 2", "1.5.0", true)]            // a space after the operator
    [InlineData("1.2.3 - 2.3.4", "2.3.4", true)]
    [InlineData("1.2.3 - 2.3.4", "2.3.5", false)]
    [InlineData("1.2 - 2.3", "2.3.9", true)]
    [InlineData("1.2 - 2.3", "2.4.0", false)]
    [InlineData("1.2 - 2.3", "1.2.0", true)]
    [InlineData("1.x", "1.99.0", true)]
    [InlineData("1.x", "2.0.0", false)]
    [InlineData("1.2.x", "1.2.7", true)]
    [InlineData("1.2.x", "1.3.0", false)]
    [InlineData("1.2", "1.2.9", true)]
    [InlineData("1", "1.9.9", true)]
    [InlineData("*", "0.0.1", true)]
    [InlineData("*", "1.0.0-rc.1", false)]
    [InlineData("", "3.2.1", true)]
    [InlineData("1.2.3", "1.2.3", true)]
    [InlineData("=1.2.3", "1.2.4", false)]
    [InlineData("v1.2.3", "1.2.3", true)]
    [InlineData("~1.2.3", "1.2.9", true)]
    [InlineData("~1.2.3", "1.3.0", false)]
    [InlineData("~1.2", "1.2.0", true)]
    [InlineData("~1", "1.9.0", true)]
    [InlineData("~1", "2.0.0", false)]
    [InlineData("~0.2.3", "0.2.9", true)]
    [InlineData("~1.2.3-beta.2", "1.2.3-beta.4", true)]
    [InlineData("~1.2.3-beta.2", "1.2.4-beta.2", false)]
    [InlineData("^1.2.3", "1.9.9", true)]
    [InlineData("^1.2.3", "2.0.0", false)]
    [InlineData("^1.2.3", "2.0.0-rc.1", false)]
    [InlineData("^0.2.3", "0.2.9", true)]
    [InlineData("^0.2.3", "0.3.0", false)]
    [InlineData("^0.0.3", "0.0.3", true)]
    [InlineData("^0.0.3", "0.0.4", false)]
    [InlineData("^1.2.x", "1.9.0", true)]
    [InlineData("^0.0.x", "0.0.9", true)]
    [InlineData("^0.0.x", "0.1.0", false)]
    [InlineData("^0.x", "0.9.0", true)]
    [InlineData("^0.x", "1.0.0", false)]
    [InlineData(">1.2", "1.2.9", false)]
    [InlineData(">1.2", "1.3.0", true)]
    [InlineData(">1", "1.9.9", false)]
    [InlineData(">1", "2.0.0", true)]
    [InlineData("<=1.2", "1.2.9", true)]
    [InlineData("<=1.2", "1.3.0", false)]
    [InlineData("<1.2", "1.1.9", true)]
    [InlineData("<1.2", "1.2.0", false)]
    [InlineData(">=1.2", "1.2.0", true)]
    [InlineData("<1.0.0", "0.9.9", true)]
    [InlineData("1.x || >=2.5.0", "2.4.0", false)]
    [InlineData("1.x || >=2.5.0", "2.5.0", true)]
    [InlineData("1.x || >=2.5.0", "1.0.1", true)]
    [InlineData(">*", "1.0.0", false)]
    [InlineData("<=*", "1.0.0", true)]
    [InlineData("^99999999999999999999.0.0", "99999999999999999999.5.0", true)]
    public void RangesMatchAsNpmDoes(string range, string version, bool expected)
    {
        Assert.True(SemverRange.TryParse(range, out var r, out string error), error);
        Assert.Equal(expected, r!.Contains(SemanticVersion.TryParse(version)!));
    }

    [Fact]
    public void IncludingPrereleasesDropsNpmsRule()
    {
        Assert.True(SemverRange.TryParse(">=1.25.0 <1.26.0", out var r, out _));
        Assert.False(r!.Contains(SemanticVersion.TryParse("1.25.3-alpine")!));
        Assert.True(r.Contains(SemanticVersion.TryParse("1.25.3-alpine")!, includePrerelease: true));
    }

    [Theory]
    [InlineData(">=1.2.0.0")]
    [InlineData(">=a.b")]
    [InlineData("1.2.3 -")]
    [InlineData("1.2.3 - 2 - 3")]
    [InlineData("1.x.3")]
    [InlineData("1.2-rc.1")]
    [InlineData(">=01.2.3")]
    public void RejectsWhatIsNotARange(string range) => Assert.False(SemverRange.TryParse(range, out _, out _));
}
