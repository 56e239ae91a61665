using System.Text.Json;
using Ferry.Serve;
using Ferry.Tests.TestSupport;
using Ferry.Transports;
using static Ferry.Tests.TestSupport.CliRun;

namespace Ferry.Tests.Copy;

/// <summary>
/// Incremental archives (<c>--since</c>, <c>--record</c>, <c>--base</c>): the week's archive holds every manifest,
/// config and referrer and only the layers not shipped before; the far side verifies it, reconstitutes the full
/// archive byte for byte, pushes it where the base layers already are, and refuses cleanly where they are not.
/// </summary>
public sealed class IncrementalTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static readonly TestLayer Base1 = ImageBuilder.Layer(501, files: 6, maxSize: 20_000, compression: "gzip");
    private static readonly TestLayer Base2 = ImageBuilder.Layer(502, files: 6, maxSize: 20_000, compression: "gzip");
    private static readonly TestLayer Top2 = ImageBuilder.Layer(503, files: 2, maxSize: 3000, compression: "gzip");
    private static readonly TestLayer Top3 = ImageBuilder.Layer(504, files: 2, maxSize: 3000, compression: "gzip");
    private static readonly TestImage V1 = ImageBuilder.Image([Base1, Base2], 511, "registry.example.com/team/app:1");
    private static readonly TestImage V2 = ImageBuilder.Image([Base1, Base2, Top2], 512, "registry.example.com/team/app:2");
    private static readonly TestImage V3 = ImageBuilder.Image([Base1, Base2, Top2, Top3], 513, "registry.example.com/team/app:3");

    /// <summary>The images "upstream" holds in a given week, as an OCI layout (what a pull would see).</summary>
    private string Upstream(string name, params TestImage[] images)
    {
        string p = _dir.Path(name);
        ImageBuilder.WriteOciLayout(p, images);
        return p;
    }

    private (string Week1, string Full2, string Week2) TwoWeeks(bool viaRecord = false)
    {
        string week1 = _dir.Path("week1.tar");
        Ok(Run("copy", Upstream("up1.tar", V1), week1, "--record", _dir.Path("week1.rec"), "-q"));
        string up2 = Upstream("up2.tar", V1, V2);
        string full2 = _dir.Path("full2.tar");
        Ok(Run("copy", up2, full2, "-q"));
        string week2 = _dir.Path("week2.tar");
        Ok(Run("copy", up2, week2, "--since", viaRecord ? _dir.Path("week1.rec") : week1, "--record", _dir.Path("week2.rec"), "-q"));
        return (week1, full2, week2);
    }

    private static string Blob(TestLayer l) => "blobs/sha256/" + l.Digest[7..];

    [Fact]
    public void TheWeeksArchiveHoldsOnlyTheNewLayersAndEverythingElse()
    {
        var (_, full2, week2) = TwoWeeks();
        var entries = ImageBuilder.ReadTar(week2);
        Assert.Contains(Blob(Top2), entries.Keys);
        Assert.DoesNotContain(Blob(Base1), entries.Keys);
        Assert.DoesNotContain(Blob(Base2), entries.Keys);
        Assert.Contains("blobs/sha256/" + V1.ManifestDigest[7..], entries.Keys);
        Assert.Contains("blobs/sha256/" + V2.ImageId[7..], entries.Keys);
        // one changed top layer: the size of that layer plus the JSON documents (and tar headers)
        long saved = Base1.Blob.Length + Base2.Blob.Length;
        Assert.True(new FileInfo(week2).Length < new FileInfo(full2).Length - saved + 8 * 1024, $"{new FileInfo(week2).Length} vs full {new FileInfo(full2).Length}");
        // it records what it extends: the first week's archive, by identity
        var json = Run("inspect", week2, "--json");
        Ok(json);
        using var doc = JsonDocument.Parse(json.Out);
        var extends = doc.RootElement.GetProperty("incremental").GetProperty("extends");
        Assert.Equal("week1.tar", Assert.Single(extends.EnumerateArray()).GetProperty("name").GetString());
        Assert.Equal(2, extends[0].GetProperty("layers").GetInt32());
        var text = Run("inspect", week2);
        Assert.Contains("incremental: leaves out 2 layers shipped in week1.tar (sha256:", text.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void VerifyWithoutTheBaseReportsTheExpectedLayersAsSuchNotAsErrors()
    {
        var (week1, _, week2) = TwoWeeks();
        var r = Run("verify", week2);
        Ok(r);
        Assert.Contains("note: incremental: 2 layers are expected from week1.tar (sha256:", r.Out, StringComparison.Ordinal);
        Assert.Contains("incremental)", r.Out, StringComparison.Ordinal);
        var based = Run("verify", week2, "--base", week1);
        Ok(based);
        Assert.DoesNotContain("incremental", based.Out, StringComparison.Ordinal);
        // a layer missing that the record does not explain is still an error
        var other = _dir.Path("other.tar");
        Ok(Run("copy", Upstream("up-other.tar", ImageBuilder.Image(521, 1, "gzip", "docker.io/library/x:1")), other, "-q"));
        var wrongBase = Run("verify", week2, "--base", other);
        Assert.NotEqual(0, wrongBase.Code);
        Assert.Contains("in none of the --base archives", wrongBase.Err + wrongBase.Out, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TheBaseReconstitutesTheFullArchiveByteForByte(bool viaRecord)
    {
        var (week1, full2, week2) = TwoWeeks(viaRecord);
        Ok(Run("copy", week2, _dir.Path("recon.tar"), "--base", week1, "-q"));
        Assert.Equal(File.ReadAllBytes(full2), File.ReadAllBytes(_dir.Path("recon.tar")));
        Ok(Run("verify", _dir.Path("recon.tar")));
    }

    [Fact]
    public void ARecordAndTheArchiveGiveTheSameIncrement()
    {
        var (_, _, week2) = TwoWeeks();
        byte[] viaArchive = File.ReadAllBytes(week2);
        var (_, _, week2b) = TwoWeeks(viaRecord: true);
        Assert.Equal(viaArchive, File.ReadAllBytes(week2b));
    }

    [Fact]
    public void IncrementsChainAndARecordIsCumulative()
    {
        var (week1, _, week2) = TwoWeeks();
        string up3 = Upstream("up3.tar", V1, V2, V3);
        Ok(Run("copy", up3, _dir.Path("full3.tar"), "-q"));
        // week2's record holds week1's layers too: one --since is enough
        Ok(Run("copy", up3, _dir.Path("week3.tar"), "--since", _dir.Path("week2.rec"), "-q"));
        var entries = ImageBuilder.ReadTar(_dir.Path("week3.tar"));
        Assert.Contains(Blob(Top3), entries.Keys);
        Assert.DoesNotContain(Blob(Top2), entries.Keys);
        Assert.DoesNotContain(Blob(Base1), entries.Keys);
        var inspect = Run("inspect", _dir.Path("week3.tar"));
        Assert.Contains("week1.tar (sha256:", inspect.Out, StringComparison.Ordinal);
        Assert.Contains("week2.tar (sha256:", inspect.Out, StringComparison.Ordinal);
        Ok(Run("copy", _dir.Path("week3.tar"), _dir.Path("recon3.tar"), "--base", week1, "--base", week2, "-q"));
        Assert.Equal(File.ReadAllBytes(_dir.Path("full3.tar")), File.ReadAllBytes(_dir.Path("recon3.tar")));
        var missing = Run("copy", _dir.Path("week3.tar"), _dir.Path("nope.tar"), "--base", week1);
        Assert.Equal(3, missing.Code);
        Assert.Contains($"layer {Top2.Digest} (shipped in week2.tar", missing.Err, StringComparison.Ordinal);
        Assert.False(File.Exists(_dir.Path("nope.tar")));
    }

    [Fact]
    public void PushNeedsTheBaseLayersInTheRegistryAndChecksBeforeWriting()
    {
        var (week1, _, week2) = TwoWeeks();
        using var reg = new FakeRegistry();
        var refused = Run("push", week2, reg.Address + "/mirror");
        Assert.Equal(5, refused.Code);
        Assert.Single(refused.Err.Trim().Split('\n'));
        Assert.Contains("which the incremental", refused.Err, StringComparison.Ordinal);
        Assert.Contains("week1.tar", refused.Err, StringComparison.Ordinal);
        Assert.Equal(0, reg.BlobUploads);
        Assert.Empty(reg.Tags("mirror/team/app"));
        // the base first, then the increment: only the new layer goes up
        Ok(Run("push", week1, reg.Address + "/mirror", "-q"));
        int before = reg.BlobUploads;
        Ok(Run("push", week2, reg.Address + "/mirror", "-q"));
        Assert.Equal(V2.ManifestDigest, reg.Resolve("mirror/team/app", "2"));
        Assert.Equal(before + 2, reg.BlobUploads); // Top2 and V2's config
        // and what the registry holds is the whole image
        Ok(Run("copy", $"docker://{reg.Address}/mirror/team/app:2", _dir.Path("back.tar"), "-q"));
        Ok(Run("verify", _dir.Path("back.tar")));
        // with --base, the increment alone fills an empty registry
        using var fresh = new FakeRegistry();
        Ok(Run("push", week2, fresh.Address + "/mirror", "--base", week1, "-q"));
        Assert.Equal(V2.ManifestDigest, fresh.Resolve("mirror/team/app", "2"));
        Assert.True(fresh.HasBlob("mirror/team/app", Base1.Digest));
    }

    [Fact]
    public void DestinationsThatCannotReferToALayerTheyDoNotHoldAskForTheBase()
    {
        var (week1, _, week2) = TwoWeeks();
        var docker = Run("copy", week2, "docker-archive:" + _dir.Path("d.tar"));
        Assert.Equal(5, docker.Code);
        Assert.Contains("give --base week1.tar", docker.Err, StringComparison.Ordinal);
        Assert.False(File.Exists(_dir.Path("d.tar")));
        Ok(Run("copy", week2, "docker-archive:" + _dir.Path("d.tar"), "--base", week1, "-q"));
        // an OCI destination without the base stays incremental, and says so
        var oci = Run("copy", week2, "oci-archive:" + _dir.Path("w2-oci.tar"));
        Ok(oci);
        Assert.Contains("is incremental too", oci.Err, StringComparison.Ordinal);
        Ok(Run("verify", _dir.Path("w2-oci.tar")));
        Assert.Contains("incremental", Run("inspect", _dir.Path("w2-oci.tar")).Out, StringComparison.Ordinal);
    }

    [Fact]
    public void SinceIsForOciArchives()
    {
        var (week1, _, _) = TwoWeeks();
        var r = Run("copy", Upstream("up.tar", V1, V2), "docker-archive:" + _dir.Path("x.tar"), "--since", week1);
        Assert.Equal(2, r.Code);
        Assert.Contains("--since writes an incremental archive, which needs an OCI archive or layout", r.Err, StringComparison.Ordinal);
        Assert.False(File.Exists(_dir.Path("x.tar")));
    }

    [Fact]
    public async Task ServedWithItsBaseAnIncrementIsWhole()
    {
        var (week1, _, week2) = TwoWeeks();
        await using var r = await ArchiveRegistry.OpenAsync([TransportRegistry.Default.Parse(week1), TransportRegistry.Default.Parse(week2)], new TransportOptions());
        foreach (var l in V2.Layers)
        {
            var resp = await r.HandleAsync("GET", $"/v2/team/app/blobs/{l.Digest}", null, null);
            Assert.Equal(200, resp.Status);
        }
        Assert.Empty(r.Warnings);
        await using var alone = await ArchiveRegistry.OpenAsync([TransportRegistry.Default.Parse(week2)], new TransportOptions());
        Assert.Contains(alone.Warnings, w => w.Contains("week1.tar", StringComparison.Ordinal));
    }
}
