using System.Text.Json;
using Ferry.Tests.TestSupport;
using static Ferry.Tests.TestSupport.CliRun;

namespace Ferry.Tests.Cli;

/// <summary>
/// The verbs over every transport, end to end through the command line, against the in-process registry and Engine API:
/// inspect and verify of registry and daemon references, digest-pinned pulls and pushes, mounts, per-side credentials.
/// </summary>
public sealed class TransportCommandTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private string Archive(string name = "docker.io/library/app:1", int seed = 61)
    {
        string p = _dir.Path($"src-{seed}.tar");
        ImageBuilder.WriteDockerArchive(p, [ImageBuilder.Image(seed, 2, "gzip", name)]);
        return p;
    }

    [Fact]
    public void InspectAndVerifyWorkOnRegistryAndDaemonReferences()
    {
        using var reg = new FakeRegistry();
        using var engine = new FakeDockerEngine(containerdStore: false);
        string src = Archive();
        Ok(Run("copy", src, $"docker://{reg.Address}/app:1", "-q"));
        Ok(Run("load", src, "--host", engine.Host, "-q"));
        foreach (var (reference, extra) in new[] { ($"docker://{reg.Address}/app:1", Array.Empty<string>()), ("docker-daemon:app:1", new[] { "--host", engine.Host }) })
        {
            var inspect = Run(["inspect", reference, "--json", .. extra]);
            Ok(inspect);
            using var doc = JsonDocument.Parse(inspect.Out);
            Assert.Equal(ImageBuilder.Image(61, 2, "gzip").ImageId, doc.RootElement.GetProperty("images")[0].GetProperty("manifests")[0].GetProperty("imageId").GetString());
            Ok(Run(["inspect", reference, .. extra]));
            var verify = Run(["verify", reference, .. extra]);
            Ok(verify);
            Assert.Contains(": OK (", verify.Out, StringComparison.Ordinal);
            var json = Run(["verify", reference, "--json", .. extra]);
            Ok(json);
            using var v = JsonDocument.Parse(json.Out);
            Assert.True(v.RootElement.GetProperty("ok").GetBoolean());
        }
    }

    [Fact]
    public void VerifyOfARegistryImageWithACorruptedBlobNamesTheBlob()
    {
        using var reg = new FakeRegistry();
        var img = ImageBuilder.Image(62, 2, "gzip", "docker.io/library/bad:1");
        string src = _dir.Path("bad.tar");
        ImageBuilder.WriteDockerArchive(src, [img]);
        Ok(Run("copy", src, $"docker://{reg.Address}/bad:1", "-q"));
        string layer = img.Layers[1].Digest;
        reg.Corrupt[layer] = true;
        var r = Run("verify", $"docker://{reg.Address}/bad:1");
        Assert.Equal(1, r.Code);
        Assert.Contains(layer, r.Err, StringComparison.Ordinal);
        // The digest mismatch first, then what the gzip reader made of the changed byte.
        Assert.Contains($"expected {layer}\n", r.Err, StringComparison.Ordinal);
        Assert.Contains("FAILED (2 errors)", r.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void CopyBetweenRepositoriesOfOneRegistryMountsEveryBlob()
    {
        using var reg = new FakeRegistry();
        Ok(Run("copy", Archive(), $"docker://{reg.Address}/a:1", "-q"));
        int uploads = reg.BlobUploads;
        Assert.True(3 == uploads, string.Join("\n", reg.UploadLog));
        var r = Run("copy", $"docker://{reg.Address}/a:1", $"docker://{reg.Address}/b:1");
        Ok(r);
        Assert.Equal(uploads, reg.BlobUploads);
        Assert.True(3 == reg.Mounts, string.Join("\n", reg.UploadLog));
        Assert.Contains("0 blobs uploaded, 3 mounted", r.Err, StringComparison.Ordinal);
        Assert.Equal(reg.Resolve("a", "1"), reg.Resolve("b", "1"));
    }

    [Fact]
    public void ABareRegistryReferenceIsTakenAsDockerInEveryCommand()
    {
        using var reg = new FakeRegistry();
        string src = Archive();
        var copy = Run("copy", src, $"{reg.Address}/app:1", "--json");
        Ok(copy);
        Assert.Equal($"ferry: note: {reg.Address}/app:1 is no file here: taken as docker://{reg.Address}/app:1\n", copy.Err);
        using (var doc = JsonDocument.Parse(copy.Out))
        {
            Assert.Equal($"docker://{reg.Address}/app:1", doc.RootElement.GetProperty("destination").GetString());
            Assert.Equal("registry", doc.RootElement.GetProperty("destinationFormat").GetString());
        }
        var inspect = Run("inspect", $"{reg.Address}/app:1", "--json");
        Ok(inspect);
        using (var doc = JsonDocument.Parse(inspect.Out))
            Assert.Equal(("registry", $"docker://{reg.Address}/app:1"), (doc.RootElement.GetProperty("format").GetString(), doc.RootElement.GetProperty("source").GetString()));
        var verify = Run("verify", $"{reg.Address}/app:1");
        Ok(verify);
        Assert.StartsWith($"docker://{reg.Address}/app:1: OK (registry: 1 image", verify.Out, StringComparison.Ordinal);
        Ok(Run("copy", $"{reg.Address}/app:1", _dir.Path("back.tar"), "-q"));
        // push takes HOST/REPO:TAG as one image, as it takes docker://HOST/REPO:TAG.
        var push = Run("push", src, $"{reg.Address}/other/app:2");
        Ok(push);
        Assert.StartsWith($"Pushed {reg.Address}/other/app:2@sha256:", push.Err, StringComparison.Ordinal);
        Assert.Equal(F.Summary(src).Values, F.Summary(_dir.Path("back.tar")).Values);
    }

    [Fact]
    public void EachPushedReferenceReportsItsOwnBlobs()
    {
        using var reg = new FakeRegistry();
        var shared = ImageBuilder.Layer(7001, compression: "gzip");
        var one = ImageBuilder.Image([shared, ImageBuilder.Layer(7002, compression: "gzip")], 70, "docker.io/library/one:1");
        var two = ImageBuilder.Image([ImageBuilder.Layer(7004, compression: "gzip")], 72, "docker.io/library/two:1", "docker.io/other/two:1");
        string src = _dir.Path("set.tar");
        ImageBuilder.WriteDockerArchive(src, [one, two]);
        var r = Run("push", src, $"{reg.Address}/m");
        Ok(r);
        Assert.Equal(
        [
            $"Pushed {reg.Address}/m/library/one:1@{one.ManifestDigest} (3 blobs uploaded, 0 mounted, 0 already there)",
            $"Pushed {reg.Address}/m/library/two:1@{two.ManifestDigest} (2 blobs uploaded, 0 mounted, 0 already there)",
            $"Pushed {reg.Address}/m/other/two:1@{two.ManifestDigest} (0 blobs uploaded, 2 mounted, 0 already there)",
        ], r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("Pushed", StringComparison.Ordinal)));
        var json = Run("push", src, $"{reg.Address}/n", "--json");
        Ok(json);
        using var doc = JsonDocument.Parse(json.Out);
        var per = doc.RootElement.GetProperty("images")[1].GetProperty("perReference");
        Assert.Equal([($"{reg.Address}/n/library/two:1", 2, 0), ($"{reg.Address}/n/other/two:1", 0, 2)],
            per.EnumerateArray().Select(x => (x.GetProperty("reference").GetString()!, x.GetProperty("written").GetInt32(), x.GetProperty("mounted").GetInt32())));
    }

    [Fact]
    public void DigestPinnedPullKeepsItsRepositoryAndIsPushedByDigest()
    {
        using var r1 = new FakeRegistry();
        using var r2 = new FakeRegistry();
        Ok(Run("copy", Archive("docker.io/library/base:1"), $"docker://{r1.Address}/library/base:1", "-q"));
        string digest = r1.Resolve("library/base", "1")!;
        string set = _dir.Path("set.tar");
        Ok(Run("pull", $"{r1.Address}/library/base@{digest}", "-o", set, "-q"));
        using (var s = F.Open(set))
            Assert.Equal($"{r1.Address}/library/base@{digest}", s.Images.Single().Names.Single().ToString());
        F.AssertValid(set);
        var push = Run("push", set, $"{r2.Address}/airgap");
        Ok(push);
        Assert.Contains($"Pushed {r2.Address}/airgap/library/base@{digest}", push.Err, StringComparison.Ordinal);
        // The pinned manifest is there by digest: pull it back from the mirror.
        string back = _dir.Path("back.tar");
        Ok(Run("pull", $"{r2.Address}/airgap/library/base@{digest}", "-o", back, "-q"));
        using var b = F.Open(back);
        Assert.Equal(digest, b.Images.Single().Key.ToString());
    }

    [Fact]
    public void PushingAnImageWithoutARepositoryFailsUpFront()
    {
        using var reg = new FakeRegistry();
        string src = _dir.Path("untagged.tar");
        ImageBuilder.WriteDockerArchive(src, [ImageBuilder.Image(63, 2, "gzip")]);
        var r = Run("push", src, $"{reg.Address}/mirror");
        Assert.Equal(2, r.Code);
        Assert.Contains("has no repository name", r.Err, StringComparison.Ordinal);
        Assert.Single(r.Err.Trim().Split('\n'));
        Assert.Equal(0, reg.BlobUploads);
        // Given a name, it goes.
        Ok(Run("push", src, $"{reg.Address}/mirror", "--tag", "named:1", "-q"));
        Assert.NotNull(reg.Resolve("mirror/library/named", "1"));
    }

    [Fact]
    public void EachSideHasItsOwnCredentials()
    {
        using var r1 = new FakeRegistry("u1:p1");
        using var r2 = new FakeRegistry("u2:p2");
        Ok(Run("copy", Archive(), $"docker://{r1.Address}/a:1", "--creds", "u1:p1", "-q"));
        var wrong = Run("copy", $"docker://{r1.Address}/a:1", $"docker://{r2.Address}/b:1", "--creds", "u1:p1");
        Assert.Equal(1, wrong.Code);
        Assert.Contains(r2.Address, wrong.Err, StringComparison.Ordinal);
        Assert.Empty(r2.Tags("b"));
        Ok(Run("copy", $"docker://{r1.Address}/a:1", $"docker://{r2.Address}/b:1", "--src-creds", "u1:p1", "--dest-creds", "u2:p2", "-q"));
        Assert.Equal(r1.Resolve("a", "1"), r2.Resolve("b", "1"));
    }

    [Fact]
    public void LoadTakesCompressAndPushTakesQuiet()
    {
        using var modern = new FakeDockerEngine(containerdStore: false);
        using var old = new FakeDockerEngine(containerdStore: false, apiVersion: "1.41");
        using var reg = new FakeRegistry();
        string src = Archive();
        Ok(Run("load", src, "--host", modern.Host, "--compress", "zstd", "-q"));
        var refused = Run("load", src, "--host", old.Host, "--compress", "zstd");
        Assert.Equal(2, refused.Code);
        Assert.Contains("cannot apply zstd layers", refused.Err, StringComparison.Ordinal);
        Assert.Equal(0, old.Loads);
        var push = Run("push", src, reg.Address, "-q");
        Ok(push);
        Assert.Equal("", push.Out + push.Err);
    }

    [Fact]
    public void LoadSendsWhatKeepsDigestsAndJsonSaysWhichDigestBecameTheId()
    {
        using var classic = new FakeDockerEngine(containerdStore: false);
        using var containerd = new FakeDockerEngine(containerdStore: true);
        var gz = ImageBuilder.Image(64, 2, "gzip", "docker.io/library/oci:1");
        string src = _dir.Path("oci.tar");
        ImageBuilder.WriteOciLayout(src, [gz]);
        foreach (var (engine, id, format) in new[] { (classic, gz.ImageId, "docker-archive"), (containerd, gz.ManifestDigest, "portable") })
        {
            var r = Run("load", src, "--host", engine.Host, "--json");
            Ok(r);
            using var doc = JsonDocument.Parse(r.Out);
            Assert.Equal(id, doc.RootElement.GetProperty("images")[0].GetProperty("destinationImageId").GetString());
            Assert.Equal(format, engine.LastLoadFormat);
            Assert.Equal(id, engine.Images["oci:1"]);
        }
    }
}
