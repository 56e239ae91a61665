using System.Text.Json;
using Ferry.Sets;
using Ferry.Tests.TestSupport;
using static Ferry.Tests.TestSupport.CliRun;

namespace Ferry.Tests.Sets;

/// <summary><c>ferry lock</c> against an in-process registry: digests, tag lists, the same bytes twice, nothing written on failure.</summary>
public sealed class LockCliTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly FakeRegistry _reg = new();

    public void Dispose()
    {
        _reg.Dispose();
        _dir.Dispose();
    }

    private void Push(string reference, int seed)
    {
        string src = _dir.Path($"src-{seed}.tar");
        ImageBuilder.WriteDockerArchive(src, [ImageBuilder.Image(seed, 1, "gzip", "docker.io/library/x:1")]);
        Ok(Run("copy", src, $"docker://{_reg.Address}/{reference}", "-q"));
    }

    private string Set(string body)
    {
        string path = _dir.Path("ferry.yaml");
        File.WriteAllText(path, body.Replace("REG", _reg.Address, StringComparison.Ordinal));
        return path;
    }

    [Fact]
    public void LocksTagsAndDigestsTheSameTwice()
    {
        Push("team/app:1.1.0", 91);
        Push("team/app:1.2.0", 92);
        Push("team/app:1.3.0-rc.1", 93);
        Push("team/app:main", 94);
        Push("base:1", 95);
        string set = Set("version: 1\nimages: [REG/base:1]\nrepositories:\n  - name: REG/team/app\n    tags: { semver: '>=1.1.0', latest: 1 }\n");
        var r = Run("lock", set, "-o", _dir.Path("a.lock"), "--json");
        Ok(r);
        Assert.Contains($"{_reg.Address}/team/app: 1 of 4 tags (1 is not a version, skipped by semver; latest by version)", r.Err, StringComparison.Ordinal);
        using (var doc = JsonDocument.Parse(r.Out))
        {
            SetCliTests.Conforms("lock", doc.RootElement);
            Assert.Equal(["1.2.0"], doc.RootElement.GetProperty("repositories")[0].GetProperty("selected").EnumerateArray().Select(e => e.GetString()));
        }
        var lockFile = ImageSetLock.Load(_dir.Path("a.lock"));
        Assert.Equal([$"{_reg.Address}/base:1", $"{_reg.Address}/team/app:1.2.0"], lockFile.Images.Select(i => i.Name.ToString()));
        Assert.Equal("sha256:" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(_reg.Manifest("team/app", "1.2.0")!)), lockFile.Images[1].Digest.ToString());
        Assert.True(lockFile.IsOf(ImageSet.Load(set)));
        // Again, to stdout: the same bytes.
        var again = Run("lock", set);
        Ok(again);
        Assert.Equal(File.ReadAllText(_dir.Path("a.lock")), again.Out);
    }

    [Fact]
    public void WritesNothingWhenAnEntryFails()
    {
        Push("base:1", 96);
        string set = Set("version: 1\nimages: [REG/base:1, REG/base:2]\nrepositories:\n  - name: REG/nothing\n");
        var r = Run("lock", set, "-o", _dir.Path("b.lock"), "--json");
        Assert.Equal(1, r.Code);
        Assert.False(File.Exists(_dir.Path("b.lock")));
        Assert.Contains($"ferry: {_reg.Address}/base:2: resolve: ", r.Err, StringComparison.Ordinal);
        Assert.Contains($"ferry: {_reg.Address}/nothing: list tags: ", r.Err, StringComparison.Ordinal);
        Assert.Contains("2 of the set's entries did not resolve; no lock was written", r.Err, StringComparison.Ordinal);
        using var doc = JsonDocument.Parse(r.Out);
        SetCliTests.Conforms("lock", doc.RootElement);
        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("lock").ValueKind);
        Assert.Equal(2, doc.RootElement.GetProperty("failures").GetArrayLength());
    }

    [Fact]
    public void UsageErrors()
    {
        string set = Set("version: 1\nimages: [REG/base:1]\n");
        Assert.Equal(2, Run("lock", set, "--json").Code);
        Assert.Equal(2, Run("lock", set, "--parallel", "0").Code);
        Assert.Equal(2, Run("lock", _dir.Path("none.yaml")).Code);
        File.WriteAllText(_dir.Path("bad.yaml"), "version: 1\nimage: [a]\n");
        var bad = Run("lock", _dir.Path("bad.yaml"));
        Assert.Equal(2, bad.Code);
        Assert.Contains("bad.yaml:2:1: unknown key 'image'", bad.Err, StringComparison.Ordinal);
    }
}
