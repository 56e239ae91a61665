using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Ferry.Tests.TestSupport;

namespace Ferry.Tests.Hostile;

/// <summary>
/// Registries, token servers and Docker Engines that lie, stall, send forever or point elsewhere (in-process, on
/// loopback, one misbehaviour per case): no credential reaches another host, reading stops at the limit, every wait
/// ends, the error is one line naming the peer with the documented exit code, and nothing is left behind.
/// </summary>
[Collection(HostilePeerCollection.Name)]
public sealed class HostilePeerTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static (int Code, string Out, string Err, TimeSpan Took) Run(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        var sw = Stopwatch.StartNew();
        int code = Ferry.Cli.Program.Run(args, o, e).GetAwaiter().GetResult();
        return (code, o.ToString(), e.ToString(), sw.Elapsed);
    }

    private static void OneLine(string err, string mustContain)
    {
        var lines = err.Trim().Split('\n');
        Assert.True(lines.Length == 1, $"not one line: {err}");
        Assert.StartsWith("ferry: ", lines[0], StringComparison.Ordinal);
        Assert.Contains(mustContain, lines[0], StringComparison.Ordinal);
    }

    /// <summary>A tiny image a handler serves: one gzip layer, its config and manifest.</summary>
    private sealed class Tiny
    {
        public Tiny(int seed = 81)
        {
            var img = ImageBuilder.Image(seed, 1, "gzip", "docker.io/library/tiny:1");
            Layer = img.Layers[0].Blob;
            Config = img.Config;
            Manifest = img.OciManifest();
        }

        public byte[] Layer { get; }
        public byte[] Config { get; }
        public byte[] Manifest { get; }
        public string LayerDigest => Sha(Layer);
        public string ConfigDigest => Sha(Config);
        public string ManifestDigest => Sha(Manifest);

        public static string Sha(byte[] b) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(b));

        /// <summary>Answers what a registry holding this image answers; false for anything else.</summary>
        public async Task<bool> ServeAsync(HostileRequest r, HostileConnection c)
        {
            if (r.Path == "/v2/")
            {
                await c.RespondAsync(200, "{}");
                return true;
            }
            if (r.Path.EndsWith("/manifests/1", StringComparison.Ordinal) || r.Path.EndsWith("/manifests/" + ManifestDigest, StringComparison.Ordinal))
            {
                await c.RespondAsync(200, Manifest, ("Content-Type", "application/vnd.oci.image.manifest.v1+json"), ("Docker-Content-Digest", ManifestDigest));
                return true;
            }
            if (r.Path.EndsWith("/blobs/" + ConfigDigest, StringComparison.Ordinal))
            {
                await c.RespondAsync(200, Config);
                return true;
            }
            if (r.Path.EndsWith("/blobs/" + LayerDigest, StringComparison.Ordinal) && r.Method == "GET")
            {
                await c.RespondAsync(200, Layer);
                return true;
            }
            // Anything else (a signature tag, the referrers API): none here.
            await c.RespondAsync(404, "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"unknown\"}]}");
            return false;
        }
    }

    private string Archive()
    {
        string p = _dir.Path("src.tar");
        ImageBuilder.WriteDockerArchive(p, [ImageBuilder.Image(82, 1, "gzip", "docker.io/library/app:1")]);
        return p;
    }

    // ---------------------------------------------------------------- credentials

    [Fact]
    public void UploadLocationOnAnotherPortGetsNoCredentials()
    {
        using var elsewhere = new HostileServer(async (r, c) => await c.RespondAsync(201, "", ("Docker-Content-Digest", r.Target.Split("digest=").Last().Replace("%3A", ":", StringComparison.Ordinal))));
        using var registry = new HostileServer(async (r, c) =>
        {
            if (r.Header("Authorization") is null && r.Path != "/v2/")
            {
                await c.RespondAsync(401, "{}", ("WWW-Authenticate", "Basic realm=\"x\""));
                return;
            }
            if (r.Path == "/v2/")
                await c.RespondAsync(200, "{}");
            else if (r.Method == "HEAD")
                await c.RespondAsync(404);
            else if (r.Method == "POST")
                await c.RespondAsync(202, "", ("Location", $"http://{elsewhere.Address}/upload/1"));
            else
                await c.RespondAsync(201, "", ("Docker-Content-Digest", Tiny.Sha(r.Body)));
        });
        var res = Run("push", Archive(), registry.Address, "--creds", "user:s3cret", "-q");
        Assert.True(res.Code == 0, res.Err);
        Assert.NotEmpty(elsewhere.Requests);
        Assert.All(elsewhere.Requests, r => Assert.Null(r.Header("Authorization")));
        Assert.Contains(registry.Requests, r => r.Header("Authorization") is not null);
    }

    [Fact]
    public void BlobRedirectToAnotherHostGetsNoCredentials()
    {
        var tiny = new Tiny();
        using var storage = new HostileServer(async (r, c) => await c.RespondAsync(200, tiny.Layer));
        using var registry = new HostileServer(async (r, c) =>
        {
            if (r.Header("Authorization") != "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("user:s3cret")) && r.Path != "/v2/")
                await c.RespondAsync(401, "{}", ("WWW-Authenticate", "Basic realm=\"x\""));
            else if (r.Path.EndsWith(tiny.LayerDigest, StringComparison.Ordinal))
                await c.RespondAsync(307, "", ("Location", $"http://{storage.Address}/signed/{tiny.LayerDigest}?sig=abc"));
            else
                await tiny.ServeAsync(r, c);
        });
        var res = Run("copy", $"docker://{registry.Address}/tiny:1", _dir.Path("out.tar"), "--creds", "user:s3cret", "-q");
        Assert.True(res.Code == 0, res.Err);
        Assert.Single(storage.Requests);
        Assert.All(storage.Requests, r => Assert.Null(r.Header("Authorization")));
    }

    [Fact]
    public void TokenRealmThatDowngradesFromHttpsIsRefused()
    {
        var (cert, pem) = HostileServer.SelfSigned();
        string ca = _dir.Path("ca.pem");
        File.WriteAllText(ca, pem);
        using var realm = new HostileServer(async (r, c) => await c.RespondAsync(200, "{\"token\":\"t\"}"));
        using var registry = new HostileServer(async (r, c) => await c.RespondAsync(401, "{}", ("WWW-Authenticate", $"Bearer realm=\"http://{realm.Address}/token\",service=\"x\"")), cert);
        var res = Run("inspect", $"docker://{registry.Address}/tiny:1", "--ca-cert", ca, "--creds", "user:s3cret");
        Assert.Equal(1, res.Code);
        OneLine(res.Err, "plain http");
        Assert.Empty(realm.Requests);
    }

    [Fact]
    public void SelfSignedTlsIsNamedAndNeverRetriedAsPlainHttp()
    {
        var (cert, _) = HostileServer.SelfSigned();
        using var registry = new HostileServer(async (r, c) => await c.RespondAsync(200, "{}"), cert);
        var res = Run("inspect", $"docker://{registry.Address}/tiny:1");
        Assert.Equal(1, res.Code);
        OneLine(res.Err, "x509: certificate signed by unknown authority");
        Assert.Contains("--ca-cert", res.Err, StringComparison.Ordinal);
        Assert.Contains("--insecure", res.Err, StringComparison.Ordinal);
        Assert.Equal(0, registry.PlainHttpOnTls);
    }

    // ---------------------------------------------------------------- bounded bodies

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void EndlessManifestStopsAtTheLimit(bool chunked)
    {
        using var registry = new HostileServer(async (r, c) =>
        {
            if (r.Path == "/v2/")
                await c.RespondAsync(200, "{}");
            else
                await c.SendForeverAsync(200, (byte)' ', chunked, "application/vnd.oci.image.manifest.v1+json");
        });
        long before = GC.GetTotalAllocatedBytes(precise: true);
        var res = Run("inspect", $"docker://{registry.Address}/huge:1");
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        Assert.Equal(1, res.Code);
        OneLine(res.Err, "8388608-byte limit");
        Assert.Contains(registry.Address, res.Err, StringComparison.Ordinal);
        Assert.True(registry.BytesSent < 64L << 20, $"the registry sent {registry.BytesSent} bytes before Ferry stopped");
        Assert.True(allocated < 256L << 20, $"Ferry allocated {allocated >> 20} MiB reading it");
    }

    [Fact]
    public void EndlessTokenReplyAndErrorBodyStopAtTheirLimits()
    {
        using var realm = new HostileServer(async (r, c) => await c.SendForeverAsync(200, (byte)'a', chunked: true));
        using var registry = new HostileServer(async (r, c) =>
        {
            if (r.Path == "/v2/")
                await c.RespondAsync(200, "{}");
            else
                await c.RespondAsync(401, "{}", ("WWW-Authenticate", $"Bearer realm=\"http://{realm.Address}/token\""));
        });
        var res = Run("inspect", $"docker://{registry.Address}/x:1");
        Assert.Equal(1, res.Code);
        OneLine(res.Err, "token reply is larger than the 1048576-byte limit");
        Assert.True(realm.BytesSent < 32L << 20, $"the token server sent {realm.BytesSent} bytes");

        using var errors = new HostileServer(async (r, c) =>
        {
            if (r.Path == "/v2/")
                await c.RespondAsync(200, "{}");
            else
                await c.SendForeverAsync(404, (byte)'x', chunked: true);
        });
        var missing = Run("inspect", $"docker://{errors.Address}/x:1");
        Assert.Equal(5, missing.Code);
        OneLine(missing.Err, errors.Address);
        Assert.True(errors.BytesSent < 32L << 20, $"the registry sent {errors.BytesSent} bytes of error");
    }

    // ---------------------------------------------------------------- time

    [Fact]
    public void RegistryThatNeverAnswersTimesOut()
    {
        using var registry = new HostileServer(async (r, c) =>
        {
            if (r.Path == "/v2/")
                await c.RespondAsync(200, "{}");
            else
                await c.StallAsync(TimeSpan.FromSeconds(60));
        });
        var res = Run("inspect", $"docker://{registry.Address}/x:1", "--timeout", "1s");
        Assert.Equal(1, res.Code);
        OneLine(res.Err, "no answer within 1 s");
        Assert.True(res.Took < TimeSpan.FromSeconds(20), $"took {res.Took}");
    }

    [Fact]
    public void ManifestAtOneBytePerSecondHitsTheDeadline()
    {
        var tiny = new Tiny();
        using var registry = new HostileServer(async (r, c) =>
        {
            if (r.Path == "/v2/")
            {
                await c.RespondAsync(200, "{}");
                return;
            }
            await c.WriteAsync($"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\nContent-Length: {tiny.Manifest.Length}\r\n\r\n");
            await c.TrickleAsync(tiny.Manifest, TimeSpan.FromMilliseconds(200));
        });
        var res = Run("inspect", $"docker://{registry.Address}/x:1", "--timeout", "1s");
        Assert.Equal(1, res.Code);
        OneLine(res.Err, "not complete within 1 s");
        Assert.True(res.Took < TimeSpan.FromSeconds(20), $"took {res.Took}");
    }

    [Fact]
    public void StalledBlobResumesFromItsOffsetThenFailsNamingBlobAndRegistry()
    {
        var tiny = new Tiny();
        using var registry = new HostileServer(async (r, c) =>
        {
            if (r.Path.EndsWith(tiny.LayerDigest, StringComparison.Ordinal))
            {
                // Half the blob, then silence.
                int from = r.Header("Range") is string range ? int.Parse(range[6..].TrimEnd('-'), System.Globalization.CultureInfo.InvariantCulture) : 0;
                int half = Math.Max(1, (tiny.Layer.Length - from) / 2);
                await c.WriteAsync($"HTTP/1.1 {(from > 0 ? 206 : 200)} X\r\nContent-Length: {tiny.Layer.Length - from}\r\n\r\n");
                await c.WriteAsync(tiny.Layer[from..(from + half)]);
                await c.StallAsync(TimeSpan.FromSeconds(30));
                return;
            }
            await tiny.ServeAsync(r, c);
        });
        var res = Run("copy", $"docker://{registry.Address}/tiny:1", _dir.Path("out.tar"), "--timeout", "1s", "-q");
        Assert.Equal(1, res.Code);
        OneLine(res.Err, $"registry {registry.Address}: blob tiny@{tiny.LayerDigest}");
        Assert.Contains("after 3 resumes", res.Err, StringComparison.Ordinal);
        // The server logs a request when it has read it, which can be after the client gave up on it.
        for (int i = 0; i < 50 && registry.Requests.Count(r => r.Header("Range") is not null) < 3; i++)
            Thread.Sleep(100);
        Assert.Equal(3, registry.Requests.Count(r => r.Header("Range") is not null));
        Assert.Empty(_dir.Listing());
    }

    [Fact]
    public void PushWhoseManifestPutIsNeverAnsweredTimesOutAndSaysWhatIsThere()
    {
        var seen = new HashSet<string>();
        using var registry = new HostileServer(async (r, c) =>
        {
            if (r.Path == "/v2/")
                await c.RespondAsync(200, "{}");
            else if (r.Method == "HEAD")
                await c.RespondAsync(404);
            else if (r.Method == "POST")
                await c.RespondAsync(202, "", ("Location", "/v2/app/blobs/uploads/1"));
            else if (r.Path.Contains("/manifests/", StringComparison.Ordinal))
                await c.StallAsync(TimeSpan.FromSeconds(30));
            else
                await c.RespondAsync(201, "", ("Docker-Content-Digest", Tiny.Sha(r.Body)));
        });
        var res = Run("push", Archive(), registry.Address, "--timeout", "1s");
        Assert.Equal(1, res.Code);
        OneLine(res.Err, "no answer within 1 s");
        Assert.Contains("a retry uploads only what is missing", res.Err, StringComparison.Ordinal);
        Assert.True(res.Took < TimeSpan.FromSeconds(30), $"took {res.Took}");
    }

    // ---------------------------------------------------------------- a graph of many indexes

    [Fact]
    public void IndexGraphIsFetchedOncePerDigest()
    {
        // 7 levels of 16 indexes, each listing all 16 of the next level: 16^7 paths, 112 documents.
        var tiny = new Tiny();
        var levels = new List<List<(byte[] Bytes, string Digest)>>();
        var below = new List<(byte[] Bytes, string Digest)> { (tiny.Manifest, tiny.ManifestDigest) };
        for (int level = 0; level < 7; level++)
        {
            var these = new List<(byte[], string)>();
            for (int i = 0; i < 16; i++)
            {
                string children = string.Join(",", below.Select(b => $"{{\"mediaType\":\"{(levels.Count == 0 ? "application/vnd.oci.image.manifest.v1+json" : "application/vnd.oci.image.index.v1+json")}\",\"digest\":\"{b.Digest}\",\"size\":{b.Bytes.Length},\"annotations\":{{\"n\":\"{i}\"}}}}"));
                byte[] bytes = Encoding.UTF8.GetBytes($"{{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":[{children}],\"annotations\":{{\"level\":\"{level}\",\"i\":\"{i}\"}}}}");
                these.Add((bytes, Tiny.Sha(bytes)));
            }
            levels.Add(these);
            below = these;
        }
        var top = levels[^1][0];
        var docs = levels.SelectMany(l => l).Append((tiny.Manifest, tiny.ManifestDigest)).ToDictionary(d => d.Item2, d => d.Item1);
        using var registry = new HostileServer(async (r, c) =>
        {
            if (r.Path.Contains("/manifests/", StringComparison.Ordinal))
            {
                string reference = r.Path[(r.Path.LastIndexOf('/') + 1)..];
                if (reference != "1" && !docs.ContainsKey(reference))
                {
                    await c.RespondAsync(404, "{}");
                    return;
                }
                var (bytes, digest) = reference == "1" ? top : (docs[reference], reference);
                bool manifest = digest == tiny.ManifestDigest;
                await c.RespondAsync(200, bytes, ("Content-Type", manifest ? "application/vnd.oci.image.manifest.v1+json" : "application/vnd.oci.image.index.v1+json"), ("Docker-Content-Digest", digest));
                return;
            }
            await tiny.ServeAsync(r, c);
        });
        var sw = Stopwatch.StartNew();
        var res = Run("inspect", $"docker://{registry.Address}/dag:1", "--json");
        Assert.True(res.Code == 0, res.Err);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(30), $"took {sw.Elapsed}");
        var byDigest = registry.Requests.Where(r => r.Path.Contains("/manifests/sha256:", StringComparison.Ordinal)).GroupBy(r => r.Path).ToList();
        Assert.True(byDigest.Count <= 113, $"{byDigest.Count} documents fetched");
        Assert.True(byDigest.All(g => g.Count() == 1), $"fetched more than once: {string.Join(", ", byDigest.Where(g => g.Count() > 1).Select(g => g.Key))}");
        // Each manifest's referrers are looked for once too (3 cosign tags, the referrers API, its fallback tag).
        Assert.True(registry.Requests.Count < 113 * 7, $"{registry.Requests.Count} requests");
    }

    // ---------------------------------------------------------------- daemons

    /// <summary>An Engine API on tcp:// that answers every request with <paramref name="misbehave"/>.</summary>
    private static HostileServer Engine(Func<HostileRequest, HostileConnection, Task> misbehave) => new(misbehave);

    [Fact]
    public void DaemonWithAnEndlessVersionStopsAtTheLimit()
    {
        using var engine = Engine((r, c) => c.SendForeverAsync(200, (byte)' ', chunked: true));
        var res = Run("load", Archive(), "--host", $"tcp://{engine.Address}");
        Assert.Equal(1, res.Code);
        OneLine(res.Err, $"docker daemon at tcp://{engine.Address}: /version is larger than");
        Assert.True(engine.BytesSent < 32L << 20, $"the daemon sent {engine.BytesSent} bytes");
    }

    [Fact]
    public void DaemonThatHangsTimesOut()
    {
        using var engine = Engine((r, c) => c.StallAsync(TimeSpan.FromSeconds(60)));
        var res = Run("load", Archive(), "--host", $"tcp://{engine.Address}", "--timeout", "1s");
        Assert.Equal(1, res.Code);
        OneLine(res.Err, "no answer within 1 s");
        Assert.True(res.Took < TimeSpan.FromSeconds(20), $"took {res.Took}");
    }

    [Fact]
    public void DaemonVersionThatIsNotJsonIsOneLine()
    {
        using var engine = Engine((r, c) => c.RespondAsync(200, "<html>hello</html>"));
        var res = Run("load", Archive(), "--host", $"tcp://{engine.Address}");
        Assert.Equal(1, res.Code);
        OneLine(res.Err, "/version is not JSON");
    }

    [Theory]
    [InlineData("lines")]
    [InlineData("one line")]
    public void EndlessLoadAnswerStopsAtTheLimit(string kind)
    {
        using var engine = Engine(async (r, c) =>
        {
            if (r.Path.EndsWith("/version", StringComparison.Ordinal))
                await c.RespondAsync(200, "{\"ApiVersion\":\"1.41\"}");
            else if (r.Path.EndsWith("/info", StringComparison.Ordinal))
                await c.RespondAsync(200, "{\"DriverStatus\":null}");
            else if (kind == "lines")
            {
                await c.WriteAsync("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
                byte[] line = Encoding.ASCII.GetBytes("{\"stream\":\"Loaded image: x:1\\n\"}\r\n");
                byte[] block = [.. Enumerable.Range(0, 1000).SelectMany(_ => line)];
                byte[] chunk = [.. Encoding.ASCII.GetBytes($"{block.Length:x}\r\n"), .. block, (byte)'\r', (byte)'\n'];
                try
                {
                    while (true)
                        await c.WriteAsync(chunk);
                }
                catch (IOException)
                {
                    c.Close();
                }
            }
            else
            {
                await c.SendForeverAsync(200, (byte)'a', chunked: true);
            }
        });
        var res = Run("load", Archive(), "--host", $"tcp://{engine.Address}");
        Assert.Equal(1, res.Code);
        OneLine(res.Err, kind == "lines" ? "more than 100000 loaded images" : "a line of the answer is longer than 1024 KiB");
        Assert.True(engine.BytesSent < 64L << 20, $"the daemon sent {engine.BytesSent} bytes");
    }

    [Fact]
    public async Task EndlessSaveStopsAtItsLimitAndLeavesNothing()
    {
        using var engine = Engine(async (r, c) =>
        {
            if (r.Path.EndsWith("/version", StringComparison.Ordinal))
                await c.RespondAsync(200, "{\"ApiVersion\":\"1.41\"}");
            else
                await c.SendForeverAsync(200, 0, chunked: false, "application/x-tar");
        });
        string temp = _dir.Path("tmp");
        Directory.CreateDirectory(temp);
        var options = new Ferry.Transports.TransportOptions { Daemon = new Ferry.Transports.DaemonOptions { Host = $"tcp://{engine.Address}", MaxSaveBytes = 8L << 20 }, TempDirectory = temp };
        var reference = F.Ref("docker-daemon:x:1");
        var e = await Assert.ThrowsAsync<PeerException>(async () => await reference.Transport.OpenSourceAsync(reference, options));
        Assert.Contains("save sent more than 8 MiB", e.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(temp));
    }

    // ---------------------------------------------------------------- issue 21: peers that trickle, stall, half-answer

    [Fact]
    public void ABlobAtOneBytePerSecondIsGivenUpWithinTheTimeout()
    {
        var tiny = new Tiny();
        using var registry = new HostileServer(async (r, c) =>
        {
            if (r.Path.EndsWith(tiny.LayerDigest, StringComparison.Ordinal))
            {
                await c.WriteAsync($"HTTP/1.1 200 OK\r\nContent-Length: {tiny.Layer.Length}\r\n\r\n");
                await c.TrickleAsync(tiny.Layer, TimeSpan.FromMilliseconds(500));
                return;
            }
            await tiny.ServeAsync(r, c);
        });
        var res = Run("copy", $"docker://{registry.Address}/tiny:1", _dir.Path("out.tar"), "--timeout", "2s", "-q");
        Assert.Equal(1, res.Code);
        OneLine(res.Err, "below the 1 KiB/s minimum");
        Assert.Contains($"blob tiny@{tiny.LayerDigest}", res.Err, StringComparison.Ordinal);
        Assert.True(res.Took < TimeSpan.FromSeconds(10), $"took {res.Took}");
        Assert.Empty(_dir.Listing());
    }

    [Fact]
    public void ARegistryThatNeverSendsHeadersCostsOneTimeoutNotOnePerRetry()
    {
        using var registry = new HostileServer(async (r, c) =>
        {
            if (r.Path == "/v2/")
                await c.RespondAsync(200, "{}");
            else
                await c.StallAsync(TimeSpan.FromSeconds(60));
        });
        var res = Run("inspect", $"docker://{registry.Address}/x:1", "--timeout", "2s");
        Assert.Equal(1, res.Code);
        OneLine(res.Err, "no answer within 2 s (waited 2 s in all, 1 attempt)");
        Assert.True(res.Took < TimeSpan.FromSeconds(5), $"took {res.Took}");
    }

    [Fact]
    public void APlatformOfAWideIndexFetchesOnlyThatPlatformsManifest()
    {
        var tiny = new Tiny();
        // 500 platforms; only linux/amd64 is the tiny image, the others name manifests nobody should ask for.
        var others = Enumerable.Range(0, 499).Select(i => Tiny.Sha(Encoding.UTF8.GetBytes($"other {i}"))).ToList();
        var entries = others.Select((d, i) => $"{{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"{d}\",\"size\":100,\"platform\":{{\"os\":\"linux\",\"architecture\":\"arch{i}\"}}}}")
            .Append($"{{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"{tiny.ManifestDigest}\",\"size\":{tiny.Manifest.Length},\"platform\":{{\"os\":\"linux\",\"architecture\":\"amd64\"}}}}");
        byte[] index = Encoding.UTF8.GetBytes($"{{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":[{string.Join(",", entries)}]}}");
        using var registry = new HostileServer(async (r, c) =>
        {
            if (r.Path.EndsWith("/manifests/wide", StringComparison.Ordinal))
                await c.RespondAsync(200, index, ("Content-Type", "application/vnd.oci.image.index.v1+json"));
            else
                await tiny.ServeAsync(r, c);
        });
        var res = Run("copy", $"docker://{registry.Address}/tiny:wide", _dir.Path("out.tar"), "--platform", "linux/amd64", "--exclude-referrers", "-q");
        Assert.True(res.Code == 0, res.Err);
        Assert.DoesNotContain(registry.Requests, r => others.Any(o => r.Path.EndsWith(o, StringComparison.Ordinal)));
        Assert.True(registry.Requests.Count(r => r.Path.Contains("/manifests/", StringComparison.Ordinal)) <= 2, string.Join(", ", registry.Requests.Select(r => r.Path)));
        // kept as a sparse index: one note for the 499 absent platforms, none about each of them
        var sparse = Run("copy", $"docker://{registry.Address}/tiny:wide", _dir.Path("sparse.tar"), "--platform", "linux/amd64", "--keep-index", "--exclude-referrers");
        Assert.True(sparse.Code == 0, sparse.Err);
        Assert.DoesNotContain("referenced but not in", sparse.Err, StringComparison.Ordinal);
        Assert.Single(sparse.Err.Split('\n'), l => l.Contains("kept as it is, sparse:", StringComparison.Ordinal) && l.Contains("and 489 more absent", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("blob", 202)]
    [InlineData("blob", 200)]
    [InlineData("manifest", 202)]
    public void AnUploadAnsweredWithoutCreatedIsNotTakenAsPushed(string what, int status)
    {
        using var registry = new HostileServer(async (r, c) =>
        {
            if (r.Path == "/v2/")
                await c.RespondAsync(200, "{}");
            else if (r.Method == "HEAD" || r.Method == "GET")
                await c.RespondAsync(404);
            else if (r.Method == "POST")
                await c.RespondAsync(202, "", ("Location", "/v2/app/blobs/uploads/1"));
            else if (r.Path.Contains("/manifests/", StringComparison.Ordinal) == (what == "manifest"))
                await c.RespondAsync(status, "");
            else
                await c.RespondAsync(201, "", ("Docker-Content-Digest", Tiny.Sha(r.Body)));
        });
        var res = Run("push", Archive(), registry.Address, "-q");
        Assert.Equal(1, res.Code);
        OneLine(res.Err, $"answered {status} X where the distribution spec requires 201 Created");
    }

    [Fact]
    public void ARealmOnAnotherHostOverPlainHttpGetsNoCredentials()
    {
        using var realm = new HostileServer(async (r, c) => await c.RespondAsync(200, "{\"token\":\"t\"}"));
        var tiny = new Tiny();
        using var registry = new HostileServer(async (r, c) =>
        {
            if (r.Header("Authorization") != "Bearer t")
                await c.RespondAsync(401, "{}", ("WWW-Authenticate", $"Bearer realm=\"http://localhost:{realm.Port}/token\",service=\"x\""));
            else
                await tiny.ServeAsync(r, c);
        });
        var res = Run("inspect", $"docker://{registry.Address}/tiny:1", "--creds", "user:s3cret");
        Assert.True(res.Code == 0, res.Err);
        Assert.NotEmpty(realm.Requests);
        Assert.All(realm.Requests, r => Assert.Null(r.Header("Authorization")));
    }

    [Fact]
    public void ALoadThroughAProxyThatRefusesInfoFallsBackToTheClassicStoreAndSaysSo()
    {
        using var engine = new FakeDockerEngine(containerdStore: true) { RefusesInfo = true };
        var res = Run("load", Archive(), "--host", engine.Host);
        Assert.True(res.Code == 0, res.Err);
        Assert.Single(res.Err.Split('\n'), l => l.Contains("refuses GET /info", StringComparison.Ordinal));
        Assert.Equal("docker-archive", engine.LastLoadFormat);
    }
}
