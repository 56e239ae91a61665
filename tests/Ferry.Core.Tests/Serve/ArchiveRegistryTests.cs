using System.Text;
using System.Text.Json;
using Ferry.Serve;
using Ferry.Tests.TestSupport;
using Ferry.Transports;
using static Ferry.Tests.TestSupport.CliRun;

namespace Ferry.Tests.Serve;

/// <summary>The read-only distribution API of <c>ferry serve</c>, answered from archives (no HTTP server here: <see cref="ArchiveRegistry.HandleAsync"/>).</summary>
public sealed class ArchiveRegistryTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static readonly TestImage App = ImageBuilder.Image(301, 2, "gzip", "registry.example.com/team/app:1");
    private static readonly TestImage Ubuntu = ImageBuilder.Image(302, 1, "gzip", "docker.io/library/ubuntu:20.04");
    private static readonly TestImage Big = ImageBuilder.Image(303, 1, "gzip", "localhost/big:1");

    private string Archive()
    {
        string p = _dir.Path("src.tar");
        ImageBuilder.WriteOciLayout(p, [App, Ubuntu, Big]);
        return p;
    }

    private static async Task<ArchiveRegistry> OpenAsync(params string[] paths) =>
        await ArchiveRegistry.OpenAsync([.. paths.Select(p => TransportRegistry.Default.Parse(p))], new TransportOptions());

    private static async Task<(int Status, byte[] Body, Dictionary<string, string> Headers)> GetAsync(ArchiveRegistry r, string path, string method = "GET", string? range = null)
    {
        int q = path.IndexOf('?', StringComparison.Ordinal);
        var resp = await r.HandleAsync(method, q < 0 ? path : path[..q], q < 0 ? null : path[(q + 1)..], range);
        using var ms = new MemoryStream();
        await resp.WriteBodyAsync(ms);
        if (method == "HEAD")
            Assert.Equal(0, ms.Length);
        else
            Assert.Equal(resp.ContentLength, ms.Length);
        return (resp.Status, ms.ToArray(), resp.Headers);
    }

    [Fact]
    public async Task ImagesAreServedUnderTheirRepositoryPathWithoutTheHost()
    {
        await using var r = await OpenAsync(Archive());
        Assert.Equal(["big", "library/ubuntu", "team/app"], r.Repositories);
        var (status, body, headers) = await GetAsync(r, "/v2/team/app/manifests/1");
        Assert.Equal(200, status);
        Assert.Equal(App.OciManifest(), body);
        Assert.Equal(App.ManifestDigest, headers["Docker-Content-Digest"]);
        Assert.Equal("application/vnd.oci.image.manifest.v1+json", headers["Content-Type"]);
        Assert.Equal(200, (await GetAsync(r, "/v2/library/ubuntu/manifests/20.04")).Status);
        Assert.Equal(200, (await GetAsync(r, "/v2/big/manifests/1")).Status);
        // by digest, under its own repository
        Assert.Equal(Ubuntu.OciManifest(), (await GetAsync(r, $"/v2/library/ubuntu/manifests/{Ubuntu.ManifestDigest}")).Body);
        var headOnly = await GetAsync(r, "/v2/team/app/manifests/1", "HEAD");
        Assert.Equal(200, headOnly.Status);
        Assert.Equal(App.ManifestDigest, headOnly.Headers["Docker-Content-Digest"]);
        Assert.Equal("registry/2.0", headOnly.Headers["Docker-Distribution-API-Version"]);
    }

    [Fact]
    public async Task BlobsAreServedWholeAndByRange()
    {
        await using var r = await OpenAsync(Archive());
        var layer = App.Layers[0];
        var whole = await GetAsync(r, $"/v2/team/app/blobs/{layer.Digest}");
        Assert.Equal(200, whole.Status);
        Assert.Equal(layer.Blob, whole.Body);
        Assert.Equal("bytes", whole.Headers["Accept-Ranges"]);
        var part = await GetAsync(r, $"/v2/team/app/blobs/{layer.Digest}", range: "bytes=10-19");
        Assert.Equal(206, part.Status);
        Assert.Equal(layer.Blob[10..20], part.Body);
        Assert.Equal($"bytes 10-19/{layer.Blob.Length}", part.Headers["Content-Range"]);
        var tail = await GetAsync(r, $"/v2/team/app/blobs/{layer.Digest}", range: "bytes=-5");
        Assert.Equal(layer.Blob[^5..], tail.Body);
        var open = await GetAsync(r, $"/v2/team/app/blobs/{layer.Digest}", range: $"bytes={layer.Blob.Length - 3}-");
        Assert.Equal(layer.Blob[^3..], open.Body);
        var bad = await GetAsync(r, $"/v2/team/app/blobs/{layer.Digest}", range: $"bytes={layer.Blob.Length}-");
        Assert.Equal(416, bad.Status);
        Assert.Equal($"bytes */{layer.Blob.Length}", bad.Headers["Content-Range"]);
        Assert.Equal(App.Config, (await GetAsync(r, $"/v2/team/app/blobs/{App.ImageId}")).Body);
        var missing = await GetAsync(r, "/v2/team/app/blobs/sha256:" + new string('0', 64));
        Assert.Equal(404, missing.Status);
        Assert.Contains("BLOB_UNKNOWN", Encoding.UTF8.GetString(missing.Body), StringComparison.Ordinal);
        Assert.Equal(400, (await GetAsync(r, "/v2/team/app/blobs/sha256:zz")).Status);
    }

    private sealed class Sent : Ferry.Progress.ICopyProgress
    {
        public List<string> Calls { get; } = [];

        public void Started(string item, long totalBytes)
        {
            lock (Calls)
                Calls.Add($"start {item} {totalBytes}");
        }

        public void Advanced(string item, long bytes)
        {
            lock (Calls)
                Calls.Add($"+{bytes} {item}");
        }

        public void Finished(string item)
        {
            lock (Calls)
                Calls.Add($"end {item}");
        }
    }

    [Fact]
    public async Task EachBlobSentIsAProgressItemAndHeadsAndManifestsAreNot()
    {
        await using var r = await OpenAsync(Archive());
        var sent = new Sent();
        r.Progress = sent;
        var layer = App.Layers[0];
        string hex = layer.Digest[7..19];
        await GetAsync(r, $"/v2/team/app/blobs/{layer.Digest}");
        await GetAsync(r, $"/v2/team/app/blobs/{layer.Digest}", "HEAD");
        await GetAsync(r, "/v2/team/app/manifests/1");
        await GetAsync(r, $"/v2/team/app/blobs/{layer.Digest}", range: "bytes=10-19");
        Assert.Equal(
        [
            $"start #1 {hex} blob {layer.Blob.Length}", $"+{layer.Blob.Length} #1 {hex} blob", $"end #1 {hex} blob",
            $"start #2 {hex} blob 10", $"+10 #2 {hex} blob", $"end #2 {hex} blob",
        ], sent.Calls);
    }

    [Fact]
    public async Task TagsAndTheCatalogPage()
    {
        await using var r = await OpenAsync(Archive());
        var tags = JsonDocument.Parse((await GetAsync(r, "/v2/team/app/tags/list")).Body).RootElement;
        Assert.Equal("team/app", tags.GetProperty("name").GetString());
        Assert.Equal(["1"], tags.GetProperty("tags").EnumerateArray().Select(t => t.GetString()));
        var first = await GetAsync(r, "/v2/_catalog?n=2");
        Assert.Equal(["big", "library/ubuntu"], JsonDocument.Parse(first.Body).RootElement.GetProperty("repositories").EnumerateArray().Select(t => t.GetString()));
        Assert.Equal("</v2/_catalog?n=2&last=library%2Fubuntu>; rel=\"next\"", first.Headers["Link"]);
        var next = await GetAsync(r, "/v2/_catalog?n=2&last=library%2Fubuntu");
        Assert.Equal(["team/app"], JsonDocument.Parse(next.Body).RootElement.GetProperty("repositories").EnumerateArray().Select(t => t.GetString()));
        Assert.False(next.Headers.ContainsKey("Link"));
        var unknown = await GetAsync(r, "/v2/nope/tags/list");
        Assert.Equal(404, unknown.Status);
        Assert.Contains("NAME_UNKNOWN", Encoding.UTF8.GetString(unknown.Body), StringComparison.Ordinal);
        Assert.Equal(404, (await GetAsync(r, "/v2/team/app/manifests/2")).Status);
        Assert.Equal(400, (await GetAsync(r, "/v2/Team/App/manifests/1")).Status);
    }

    [Theory]
    [InlineData("PUT")]
    [InlineData("POST")]
    [InlineData("DELETE")]
    [InlineData("PATCH")]
    public async Task WritesAreRefused(string method)
    {
        await using var r = await OpenAsync(Archive());
        var (status, body, _) = await GetAsync(r, "/v2/team/app/manifests/1", method);
        Assert.Equal(405, status);
        Assert.Contains("UNSUPPORTED", Encoding.UTF8.GetString(body), StringComparison.Ordinal);
    }

    [Fact]
    public async Task SignaturesAreTagsAndReferrersAreListed()
    {
        var sig = ImageBuilder.CosignSignature(App.ManifestDigest);
        var sbom = ImageBuilder.Sbom(App.ManifestDigest, App.OciManifest().Length);
        string p = _dir.Path("signed.tar");
        ImageBuilder.WriteOciWithArtifacts(p, App, "registry.example.com/team/app:1", [(sig, $"sha256-{App.ManifestDigest[7..]}.sig"), (sbom, null)]);
        await using var r = await OpenAsync(p);
        var tags = JsonDocument.Parse((await GetAsync(r, "/v2/team/app/tags/list")).Body).RootElement.GetProperty("tags").EnumerateArray().Select(t => t.GetString()).ToList();
        Assert.Equal(["1", $"sha256-{App.ManifestDigest[7..]}.sig"], tags);
        Assert.Equal(sig.Digest, (await GetAsync(r, $"/v2/team/app/manifests/sha256-{App.ManifestDigest[7..]}.sig")).Headers["Docker-Content-Digest"]);
        var referrers = await GetAsync(r, $"/v2/team/app/referrers/{App.ManifestDigest}");
        Assert.Equal(200, referrers.Status);
        Assert.Equal("application/vnd.oci.image.index.v1+json", referrers.Headers["Content-Type"]);
        var list = JsonDocument.Parse(referrers.Body).RootElement.GetProperty("manifests").EnumerateArray().ToList();
        Assert.Equal(sbom.Digest, Assert.Single(list).GetProperty("digest").GetString());
        Assert.True(list[0].TryGetProperty("artifactType", out _));
        var filtered = await GetAsync(r, $"/v2/team/app/referrers/{App.ManifestDigest}?artifactType=application%2Fnone");
        Assert.Empty(JsonDocument.Parse(filtered.Body).RootElement.GetProperty("manifests").EnumerateArray());
        Assert.Equal("artifactType", filtered.Headers["OCI-Filters-Applied"]);
        // every blob of the SBOM is there
        foreach (var (digest, bytes) in sbom.Blobs.Select(b => ("sha256:" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(b.Bytes)), b.Bytes)))
            Assert.Equal(bytes, (await GetAsync(r, $"/v2/team/app/blobs/{digest}")).Body);
    }

    [Fact]
    public async Task SeveralArchivesAreOneRegistryAndTheLastWinsATag()
    {
        string a = _dir.Path("a.tar"), b = _dir.Path("b.tar");
        var v1 = ImageBuilder.Image(311, 1, "gzip", "docker.io/library/app:latest");
        var v2 = ImageBuilder.Image(312, 1, "gzip", "docker.io/library/app:latest");
        ImageBuilder.WriteOciLayout(a, [v1]);
        ImageBuilder.WriteOciLayout(b, [v2, Big]);
        await using var r = await OpenAsync(a, b);
        Assert.Equal(v2.ManifestDigest, (await GetAsync(r, "/v2/library/app/manifests/latest")).Headers["Docker-Content-Digest"]);
        Assert.Equal(200, (await GetAsync(r, $"/v2/library/app/manifests/{v1.ManifestDigest}")).Status);
        Assert.Equal(v1.Layers[0].Blob, (await GetAsync(r, $"/v2/library/app/blobs/{v1.Layers[0].Digest}")).Body);
        Assert.Contains(r.Warnings, w => w.Contains("library/app:latest is now", StringComparison.Ordinal));
    }

    [Fact]
    public async Task DockerArchiveImagesAreNotServedAndSaySo()
    {
        string p = _dir.Path("docker.tar");
        ImageBuilder.WriteDockerArchive(p, [ImageBuilder.Image(321, 1, "none", "docker.io/library/old:1")]);
        await using var r = await OpenAsync(p);
        Assert.Contains(r.Warnings, w => w.Contains("has no manifest", StringComparison.Ordinal));
        // the same image converted by Ferry (portable, the default) is served
        Ok(Run("copy", p, _dir.Path("portable.tar"), "-q"));
        await using var r2 = await OpenAsync(_dir.Path("portable.tar"));
        Assert.Equal(200, (await GetAsync(r2, "/v2/library/old/manifests/1")).Status);
    }

    [Fact]
    public async Task ASplitArchiveIsServedFromItsParts()
    {
        Ok(Run("copy", Archive(), _dir.Path("s.tar"), "--split", "3K", "-q"));
        await using var r = await OpenAsync(_dir.Path("s.tar.000"));
        foreach (var l in App.Layers)
            Assert.Equal(l.Blob, (await GetAsync(r, $"/v2/team/app/blobs/{l.Digest}")).Body);
    }

    [Fact]
    public async Task ARepositoryServesOnlyWhatItsImagesReferTo()
    {
        await using var r = await OpenAsync(Archive());
        // another repository's manifest, config and layer, by digest: unknown here
        var manifest = await GetAsync(r, $"/v2/team/app/manifests/{Ubuntu.ManifestDigest}");
        Assert.Equal(404, manifest.Status);
        Assert.Contains("MANIFEST_UNKNOWN", Encoding.UTF8.GetString(manifest.Body), StringComparison.Ordinal);
        foreach (var digest in new[] { Ubuntu.Layers[0].Digest, Ubuntu.ImageId, Ubuntu.ManifestDigest })
        {
            var blob = await GetAsync(r, $"/v2/team/app/blobs/{digest}", "HEAD");
            Assert.Equal(404, blob.Status);
        }
        // a repository nobody named: nothing at all, as its tag list says
        Assert.Equal(404, (await GetAsync(r, "/v2/team/app/tags/list".Replace("team/app", "x/anything", StringComparison.Ordinal))).Status);
        var unnamed = await GetAsync(r, $"/v2/x/anything/blobs/{App.Layers[0].Digest}", "HEAD");
        Assert.Equal(404, unnamed.Status);
        Assert.Equal(404, (await GetAsync(r, $"/v2/x/anything/manifests/{App.ManifestDigest}")).Status);
        // its own, yes
        Assert.Equal(200, (await GetAsync(r, $"/v2/team/app/blobs/{App.Layers[0].Digest}", "HEAD")).Status);
        Assert.Equal(200, (await GetAsync(r, $"/v2/team/app/blobs/{App.ManifestDigest}", "HEAD")).Status);
    }

    [Fact]
    public async Task AnIncrementalArchiveServedWithItsBaseServesTheLayersItLeftOutUnderEveryRepositoryThatUsesThem()
    {
        // week1 ships app; week2 ships app again and other, which shares app's first layer: both leave it out.
        var other = ImageBuilder.Image([App.Layers[0], ImageBuilder.Layer(304, compression: "gzip")], 304, "registry.example.com/team/other:1");
        string up1 = _dir.Path("up1.tar"), up2 = _dir.Path("up2.tar"), week1 = _dir.Path("week1.tar"), week2 = _dir.Path("week2.tar");
        ImageBuilder.WriteOciLayout(up1, [App]);
        ImageBuilder.WriteOciLayout(up2, [App, other]);
        Ok(Run("copy", up1, week1, "-q"));
        Ok(Run("copy", up2, week2, "--since", week1, "-q"));

        await using var r = await OpenAsync(week1, week2);
        var shared = await GetAsync(r, $"/v2/team/other/blobs/{App.Layers[0].Digest}");
        Assert.Equal(200, shared.Status);
        Assert.Equal(App.Layers[0].Blob, shared.Body);
        Assert.Equal(200, (await GetAsync(r, $"/v2/team/other/blobs/{other.Layers[1].Digest}", "HEAD")).Status);
        // and still nothing of app's that other does not use
        Assert.Equal(404, (await GetAsync(r, $"/v2/team/other/blobs/{App.Layers[1].Digest}", "HEAD")).Status);
        // Served alone, the incremental archive cannot serve the bytes it left out.
        await using var alone = await OpenAsync(week2);
        Assert.Equal(404, (await GetAsync(alone, $"/v2/team/other/blobs/{App.Layers[0].Digest}", "HEAD")).Status);
    }

    [Fact]
    public async Task ReferrersAreListedOnlyUnderTheirSubjectsRepository()
    {
        var sbom = ImageBuilder.Sbom(App.ManifestDigest, App.OciManifest().Length);
        string p = _dir.Path("signed.tar");
        ImageBuilder.WriteOciWithArtifacts(p, App, "registry.example.com/team/app:1", [(sbom, null)]);
        string q = _dir.Path("other.tar");
        ImageBuilder.WriteOciLayout(q, [Ubuntu]);
        await using var r = await OpenAsync(p, q);
        Assert.Single(JsonDocument.Parse((await GetAsync(r, $"/v2/team/app/referrers/{App.ManifestDigest}")).Body).RootElement.GetProperty("manifests").EnumerateArray());
        var elsewhere = await GetAsync(r, $"/v2/library/ubuntu/referrers/{App.ManifestDigest}");
        Assert.Equal(200, elsewhere.Status);
        Assert.Empty(JsonDocument.Parse(elsewhere.Body).RootElement.GetProperty("manifests").EnumerateArray());
        Assert.Equal(404, (await GetAsync(r, $"/v2/library/ubuntu/manifests/{sbom.Digest}")).Status);
    }

    [Fact]
    public async Task SeveralRangesGetTheWholeBlob()
    {
        await using var r = await OpenAsync(Archive());
        var layer = App.Layers[0];
        var whole = await GetAsync(r, $"/v2/team/app/blobs/{layer.Digest}", range: "bytes=0-1,5-6");
        Assert.Equal(200, whole.Status);
        Assert.Equal(layer.Blob, whole.Body);
        Assert.False(whole.Headers.ContainsKey("Content-Range"));
    }

    [Theory]
    [InlineData("/v2/team/app/tags/list?n=abc")]
    [InlineData("/v2/team/app/tags/list?n=-1")]
    [InlineData("/v2/_catalog?n=1e3")]
    public async Task ANumberOfResultsThatIsNoNumberIsRefused(string path)
    {
        await using var r = await OpenAsync(Archive());
        var (status, body, _) = await GetAsync(r, path);
        Assert.Equal(400, status);
        Assert.Contains("PAGINATION_NUMBER_INVALID", Encoding.UTF8.GetString(body), StringComparison.Ordinal);
    }

    /// <summary>An OCI layout directory of <see cref="App"/>, whose first layer's blob file is then replaced by <paramref name="replace"/>.</summary>
    private string LayoutWith(Action<string> replace)
    {
        string dir = _dir.Path("layout");
        ImageBuilder.WriteOciLayout(dir, [App], asDirectory: true);
        replace(Path.Combine(dir, "blobs", "sha256", App.Layers[0].Digest[7..]));
        return dir;
    }

    [Fact]
    public async Task ALayoutBlobThatIsALinkOutOfTheLayoutIsNeverServed()
    {
        string outside = _dir.Path("secret");
        File.WriteAllText(outside, "root:x:0:0:root:/root:/bin/bash\n");
        string dir = LayoutWith(blob =>
        {
            File.Delete(blob);
            File.CreateSymbolicLink(blob, outside);
        });
        var e = await Assert.ThrowsAsync<ArchiveFormatException>(() => OpenAsync("oci:" + dir));
        Assert.Contains("outside", e.Message, StringComparison.Ordinal);
        Assert.Contains(App.Layers[0].Digest[7..], e.Message, StringComparison.Ordinal);
        // the same through a relative link that climbs out of the layout
        File.Delete(Path.Combine(dir, "blobs", "sha256", App.Layers[0].Digest[7..]));
        File.CreateSymbolicLink(Path.Combine(dir, "blobs", "sha256", App.Layers[0].Digest[7..]), "../../../secret");
        e = await Assert.ThrowsAsync<ArchiveFormatException>(() => OpenAsync("oci:" + dir));
        Assert.Contains("leads out of", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ALinkBetweenFilesOfTheLayoutIsFollowed()
    {
        string dir = LayoutWith(blob =>
        {
            File.Move(blob, blob + ".real");
            File.CreateSymbolicLink(blob, Path.GetFileName(blob) + ".real");
        });
        await using var r = await OpenAsync("oci:" + dir);
        Assert.Equal(App.Layers[0].Blob, (await GetAsync(r, $"/v2/team/app/blobs/{App.Layers[0].Digest}")).Body);
    }

    [Fact]
    public async Task ALayoutFileThatIsAFifoIsRefusedWithoutWaiting()
    {
        string dir = LayoutWith(blob =>
        {
            File.Delete(blob);
            SpecialFiles.Fifo(blob);
        });
        var open = OpenAsync("oci:" + dir);
        Assert.True(await Task.WhenAny(open, Task.Delay(TimeSpan.FromSeconds(10))) == open, "opening a layout with a FIFO blob hangs");
        var e = await Assert.ThrowsAsync<ArchiveFormatException>(() => open);
        Assert.Contains("a FIFO, not a regular file", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ABlobWhoseBytesChangedIsCutShortBeforeItsLastChunk()
    {
        // A layout blob rewritten (same size, other bytes) after the server indexed it: the client must not get it whole.
        string dir = _dir.Path("big-layout");
        var big = ImageBuilder.Image([ImageBuilder.Layer(331, files: 4, maxSize: 200_000)], 331, "registry.example.com/team/big:1");
        ImageBuilder.WriteOciLayout(dir, [big], asDirectory: true);
        await using var r = await OpenAsync("oci:" + dir);
        string blob = Path.Combine(dir, "blobs", "sha256", big.Layers[0].Digest[7..]);
        byte[] bytes = File.ReadAllBytes(blob);
        bytes[^1] ^= 0xff;
        File.WriteAllBytes(blob, bytes);
        var resp = await r.HandleAsync("GET", $"/v2/team/big/blobs/{big.Layers[0].Digest}", null, null);
        using var ms = new MemoryStream();
        var e = await Assert.ThrowsAsync<DigestMismatchException>(() => resp.WriteBodyAsync(ms));
        Assert.Contains(big.Layers[0].Digest, e.Message, StringComparison.Ordinal);
        Assert.True(ms.Length < bytes.Length, $"sent {ms.Length} of {bytes.Length} bytes");
    }

    [Theory]
    [InlineData("bytes=0-0", 0, 0)]
    [InlineData("bytes=5-", 5, 99)]
    [InlineData("bytes=-1", 99, 99)]
    [InlineData("bytes=90-200", 90, 99)]
    public void RangesFollowRfc9110(string header, long start, long end)
    {
        Assert.True(ArchiveRegistry.TryParseRange(header, 100, out long s, out long e));
        Assert.Equal((start, end), (s, e));
    }

    [Theory]
    [InlineData("bytes=100-")]
    [InlineData("bytes=5-4")]
    [InlineData("bytes=0-1,3-4")]
    [InlineData("items=0-1")]
    [InlineData("bytes=-0")]
    [InlineData("bytes=x-1")]
    public void BadRangesAreUnsatisfiable(string header) =>
        Assert.False(ArchiveRegistry.TryParseRange(header, 100, out _, out _));
}
