using System.Text.Json;
using Ferry.Tests.TestSupport;
using static Ferry.Tests.TestSupport.CliRun;

namespace Ferry.Tests.Cli;

/// <summary><c>ferry tags</c>, <c>digest</c>, <c>manifest</c>, <c>delete</c> against the in-process registry.</summary>
public sealed class RegistryVerbTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private void Push(FakeRegistry reg, string repo, int seed, params string[] tags)
    {
        string p = _dir.Path($"src-{seed}.tar");
        ImageBuilder.WriteDockerArchive(p, [ImageBuilder.Image(seed, 1, "gzip", "docker.io/library/x:1")]);
        foreach (var t in tags)
            Ok(Run("copy", p, $"docker://{reg.Address}/{repo}:{t}", "-q"));
    }

    [Fact]
    public void TagsListsEveryPageInOrder()
    {
        using var reg = new FakeRegistry { TagPage = 2 };
        Push(reg, "team/app", 71, "1.0", "1.1", "2.0", "latest", "rc");
        var r = Run("tags", $"{reg.Address}/team/app");
        Ok(r);
        Assert.Equal("1.0\n1.1\n2.0\nlatest\nrc\n", r.Out.Replace("\r\n", "\n", StringComparison.Ordinal));
        var json = Run("tags", $"docker://{reg.Address}/team/app", "--json");
        Ok(json);
        using var doc = JsonDocument.Parse(json.Out);
        Assert.Equal(1, doc.RootElement.GetProperty("schemaVersion").GetInt32());
        Assert.Equal($"docker://{reg.Address}/team/app", doc.RootElement.GetProperty("repository").GetString());
        Assert.Equal(["1.0", "1.1", "2.0", "latest", "rc"], doc.RootElement.GetProperty("tags").EnumerateArray().Select(t => t.GetString()!).ToArray());
        var missing = Run("tags", $"{reg.Address}/nothing/here");
        Assert.Equal(5, missing.Code);
        Assert.Single(missing.Err.Trim().Split('\n'));
    }

    [Fact]
    public async Task DigestAndManifestAreTheRegistrysBytes()
    {
        using var reg = new FakeRegistry();
        Push(reg, "app", 72, "1");
        string digest = reg.Resolve("app", "1")!;
        var d = Run("digest", $"{reg.Address}/app:1");
        Ok(d);
        Assert.Equal(digest, d.Out.Trim());
        var raw = new MemoryStream();
        int code = await Ferry.Cli.Program.Run(["manifest", $"{reg.Address}/app:1"], new StringWriter(), new StringWriter(), null, () => raw);
        Assert.Equal(0, code);
        Assert.Equal(reg.Manifest("app", "1"), raw.ToArray());
        var json = Run("manifest", $"{reg.Address}/app@{digest}", "--json");
        Ok(json);
        using var doc = JsonDocument.Parse(json.Out);
        Assert.Equal(digest, doc.RootElement.GetProperty("digest").GetString());
        Assert.Equal($"docker://{reg.Address}/app@{digest}", doc.RootElement.GetProperty("reference").GetString());
        Assert.Equal(2, doc.RootElement.GetProperty("manifest").GetProperty("schemaVersion").GetInt32());
        Assert.Equal(reg.Manifest("app", "1")!.Length, doc.RootElement.GetProperty("size").GetInt32());
    }

    [Fact]
    public void DeleteResolvesATagAndRemovesTheManifestWithItsTags()
    {
        using var reg = new FakeRegistry();
        Push(reg, "app", 73, "1", "stable");
        Push(reg, "app", 74, "2");
        string digest = reg.Resolve("app", "1")!;
        var r = Run("delete", $"{reg.Address}/app:1", "--json");
        Ok(r);
        using (var doc = JsonDocument.Parse(r.Out))
            Assert.Equal($"docker://{reg.Address}/app@{digest}", doc.RootElement.GetProperty("deleted").GetString());
        Assert.Equal(["2"], reg.Tags("app"));
        Assert.Null(reg.Manifest("app", digest));
        var again = Run("delete", $"{reg.Address}/app@{digest}");
        Assert.Equal(5, again.Code);
        Assert.Single(again.Err.Trim().Split('\n'));
    }

    [Fact]
    public void ARegistryThatRefusesDeletesSaysSo()
    {
        using var reg = new FakeRegistry { DeleteEnabled = false };
        Push(reg, "app", 75, "1");
        var r = Run("delete", $"{reg.Address}/app:1");
        Assert.Equal(1, r.Code);
        Assert.Equal($"ferry: registry {reg.Address}: app@{reg.Resolve("app", "1")}: the registry does not allow deletes (405; docker-registry needs storage.delete.enabled)", r.Err.Trim());
        Assert.Equal(["1"], reg.Tags("app"));
    }
}
