using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using Ferry.Tests.TestSupport;

namespace Ferry.Tests.Serve;

/// <summary>
/// <c>ferry serve</c> facing clients that are many, slow or guessing (loopback only; a second loopback address,
/// 127.0.0.2, plays the other client): idle connections never lock a normal client out, slow readers are dropped and
/// cost little memory, user names cannot be found by timing, guessing is throttled per address while valid users stay
/// fast, and nothing a client sends can forge an access-log line.
/// </summary>
[Collection(Hostile.HostilePeerCollection.Name)]
public sealed class ServeAbuseTests : IDisposable
{
    private readonly TempDir _dir = new();

    public ServeAbuseTests() => Directory.CreateDirectory(_dir.Path("tmp"));

    public void Dispose() => _dir.Dispose();

    private static readonly TestImage App = ImageBuilder.Image(411, 2, "gzip", "registry.example.com/team/app:1");

    /// <summary>An image with one 24 MiB layer (random, so it does not compress): large enough to fill socket buffers.</summary>
    private static readonly Lazy<TestImage> Big = new(() =>
    {
        var rng = new Random(412);
        byte[] data = new byte[24 << 20];
        rng.NextBytes(data);
        using var ms = new MemoryStream();
        using (var w = new System.Formats.Tar.TarWriter(ms, System.Formats.Tar.TarEntryFormat.Ustar, leaveOpen: true))
            w.WriteEntry(new System.Formats.Tar.UstarTarEntry(System.Formats.Tar.TarEntryType.RegularFile, "big.bin") { DataStream = new MemoryStream(data), ModificationTime = DateTimeOffset.UnixEpoch });
        return ImageBuilder.Image([new TestLayer(ms.ToArray(), ms.ToArray(), "none")], 412, "registry.example.com/team/big:1");
    });

    private ServeProcess Serve(TestImage image, params string[] args)
    {
        string archive = _dir.Path($"{image.ManifestDigest[7..19]}.tar");
        if (!File.Exists(archive))
            ImageBuilder.WriteOciLayout(archive, [image]);
        return ServeProcess.Start(_dir.Path("tmp"), archive, args);
    }

    /// <summary>An HTTP client whose connections come from <paramref name="local"/> (127.0.0.1 or 127.0.0.2).</summary>
    private static HttpClient From(Uri root, string local, TimeSpan timeout)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (ctx, ct) =>
            {
                var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                s.Bind(new IPEndPoint(IPAddress.Parse(local), 0));
                await s.ConnectAsync(ctx.DnsEndPoint.Host, ctx.DnsEndPoint.Port, ct);
                return new NetworkStream(s, ownsSocket: true);
            },
        };
        return new HttpClient(handler) { BaseAddress = root, Timeout = timeout };
    }

    private static async Task<TimeSpan> TimeGetAsync(HttpClient http, string path, HttpStatusCode expect)
    {
        var sw = Stopwatch.StartNew();
        using var r = await http.GetAsync(path);
        Assert.Equal(expect, r.StatusCode);
        return sw.Elapsed;
    }

    [Fact]
    public async Task IdleConnectionsNeverLockANormalClientOut()
    {
        using var s = Serve(App, "-q");
        var idle = new List<Socket>();
        try
        {
            // More idle connections than the server keeps, some from each address.
            for (int i = 0; i < 1100; i++)
            {
                var sock = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                sock.Bind(new IPEndPoint(IPAddress.Parse(i % 2 == 0 ? "127.0.0.1" : "127.0.0.2"), 0));
                await sock.ConnectAsync(s.Root.Host, s.Root.Port);
                idle.Add(sock);
            }
            await Task.Delay(500);
            using var http = From(s.Root, "127.0.0.1", TimeSpan.FromSeconds(10));
            var took = await TimeGetAsync(http, "/v2/team/app/manifests/1", HttpStatusCode.OK);
            Assert.True(took < TimeSpan.FromSeconds(3), $"a normal request took {took.TotalMilliseconds:F0} ms with 1,100 idle connections open");
            var (_, peak) = s.RssMiB();
            Assert.True(peak < 256, $"peak RSS {peak:F0} MiB with 1,100 idle connections");
        }
        finally
        {
            foreach (var sock in idle)
                sock.Dispose();
        }
    }

    [Fact]
    public async Task SlowReadersAreDroppedAndCostLittle()
    {
        var big = Big.Value;
        using var s = Serve(big, "-q", "--min-rate", "256K");
        var (baseline, _) = s.RssMiB();
        string path = $"/v2/team/big/blobs/{big.Layers[0].Digest}";
        var readers = new List<(Socket Socket, Task<bool> Dropped)>();
        try
        {
            for (int i = 0; i < 200; i++)
            {
                var sock = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
                await sock.ConnectAsync(s.Root.Host, s.Root.Port);
                await sock.SendAsync(Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n"));
                readers.Add((sock, DrainSlowlyAsync(sock)));
            }
            await Task.Delay(TimeSpan.FromSeconds(4));
            var (during, _) = s.RssMiB();
            Assert.True(during - baseline < 96, $"200 slow readers took RSS from {baseline:F0} to {during:F0} MiB");
            using var http = From(s.Root, "127.0.0.2", TimeSpan.FromSeconds(10));
            var took = await TimeGetAsync(http, "/v2/team/big/manifests/1", HttpStatusCode.OK);
            Assert.True(took < TimeSpan.FromSeconds(3), $"a normal request took {took.TotalMilliseconds:F0} ms beside 200 slow readers");
            // Below the minimum rate past the grace period, each is dropped.
            var all = Task.WhenAll(readers.Select(r => r.Dropped));
            Assert.True(await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(40))) == all, "slow readers were not dropped within 40 s");
            Assert.All(await all, Assert.True);
        }
        finally
        {
            foreach (var (sock, _) in readers)
                sock.Dispose();
        }
    }

    /// <summary>Reads 1 KiB a second until the server closes the connection (true) or the whole blob arrived (false).</summary>
    private static async Task<bool> DrainSlowlyAsync(Socket sock)
    {
        byte[] buf = new byte[1024];
        long total = 0;
        try
        {
            while (true)
            {
                int n = await sock.ReceiveAsync(buf, SocketFlags.None);
                if (n == 0)
                    return total < (24 << 20);
                total += n;
                await Task.Delay(1000);
            }
        }
        catch (SocketException)
        {
            return true;
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
    }

    private string Users(int cost = 10)
    {
        string path = _dir.Path("htpasswd");
        File.WriteAllText(path, $"alice:{BCrypt.Net.BCrypt.HashPassword("s3cret", cost).Replace("$2a$", "$2y$", StringComparison.Ordinal)}\n");
        return path;
    }

    private static AuthenticationHeaderValue Basic(string user, string password) => new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));

    [Fact]
    public async Task AnUnknownUserTakesAsLongAsAWrongPassword()
    {
        using var s = Serve(App, "-q", "--htpasswd", Users());
        using var http = From(s.Root, "127.0.0.1", TimeSpan.FromSeconds(30));
        async Task<double> Median(string user)
        {
            var times = new List<double>();
            for (int i = 0; i < 3; i++)
            {
                using var req = new HttpRequestMessage(HttpMethod.Get, "/v2/");
                req.Headers.Authorization = Basic(user, "wrong" + i);
                var sw = Stopwatch.StartNew();
                using var r = await http.SendAsync(req);
                Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode);
                times.Add(sw.Elapsed.TotalMilliseconds);
            }
            return times.Order().ElementAt(1);
        }
        double known = await Median("alice"), unknown = await Median("mallory");
        Assert.True(unknown > known / 3, $"an unknown user is refused in {unknown:F1} ms, a known one with a wrong password in {known:F1} ms");
    }

    [Fact]
    public async Task GuessingIsThrottledPerAddressAndValidUsersStayFast()
    {
        using var s = Serve(App, "-q", "--htpasswd", Users(cost: 8));
        using var attacker = From(s.Root, "127.0.0.2", TimeSpan.FromSeconds(30));
        using var user = From(s.Root, "127.0.0.1", TimeSpan.FromSeconds(30));
        // a valid user known from before the attack
        user.DefaultRequestHeaders.Authorization = Basic("alice", "s3cret");
        await TimeGetAsync(user, "/v2/", HttpStatusCode.OK);
        // 32 parallel guessers from one address: after ten failures it gets 429 with Retry-After, no more bcrypt
        var statuses = await Task.WhenAll(Enumerable.Range(0, 64).Select(async i =>
        {
            using var req = new HttpRequestMessage(HttpMethod.Get, "/v2/");
            req.Headers.Authorization = Basic("alice", "guess" + i);
            using var r = await attacker.SendAsync(req);
            if (r.StatusCode == HttpStatusCode.TooManyRequests)
                Assert.True(r.Headers.RetryAfter?.Delta > TimeSpan.Zero, "429 without Retry-After");
            return r.StatusCode;
        }));
        Assert.Contains(HttpStatusCode.TooManyRequests, statuses);
        Assert.True(statuses.Count(x => x == HttpStatusCode.Unauthorized) <= 16, $"{statuses.Count(x => x == HttpStatusCode.Unauthorized)} guesses were checked");
        // even the right password from the throttled address waits now, unless it was verified before
        using var again = new HttpRequestMessage(HttpMethod.Get, "/v2/");
        again.Headers.Authorization = Basic("alice", "s3cret");
        using (var r = await attacker.SendAsync(again))
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        // the other address is untouched and fast
        var took = await TimeGetAsync(user, "/v2/team/app/manifests/1", HttpStatusCode.OK);
        Assert.True(took < TimeSpan.FromSeconds(1), $"a valid user waited {took.TotalMilliseconds:F0} ms during the attack");
    }

    [Fact]
    public async Task NothingAClientSendsForgesALogLine()
    {
        using var s = Serve(App);
        using var client = new TcpClient();
        await client.ConnectAsync(s.Root.Host, s.Root.Port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes("GET /v2/x%0d%0aferry:%20127.0.0.1%20GET%20/v2/forged%20200%200%201ms%1b[31m/tags/list?q=%0a%1b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
        byte[] buf = new byte[4096];
        while (await stream.ReadAsync(buf) > 0)
        {
        }
        await Task.Delay(300);
        string log = s.Err;
        Assert.DoesNotContain("\u001b", log, StringComparison.Ordinal);
        Assert.DoesNotContain(log.Split('\n'), l => l.StartsWith("ferry: 127.0.0.1 GET /v2/forged", StringComparison.Ordinal));
        Assert.Contains(@"/v2/x\x0d\x0aferry: 127.0.0.1 GET /v2/forged 200 0 1ms\x1b[31m/tags/list", log, StringComparison.Ordinal);
    }
}
