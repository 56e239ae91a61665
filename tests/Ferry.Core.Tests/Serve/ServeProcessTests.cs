using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Ferry.Tests.TestSupport;

namespace Ferry.Tests.Serve;

/// <summary>
/// <c>ferry serve</c> as a process on Kestrel: it says where it listens, answers HTTP (TLS and basic auth when asked),
/// takes 32 pulls at once, logs each request, and stops cleanly (exit 0) on SIGTERM.
/// </summary>
[Collection(Hostile.HostilePeerCollection.Name)]
public sealed class ServeProcessTests : IDisposable
{
    private readonly TempDir _dir = new();

    public ServeProcessTests() => Directory.CreateDirectory(_dir.Path("tmp"));

    public void Dispose() => _dir.Dispose();

    private static readonly TestImage App = ImageBuilder.Image(401, 3, "gzip", "registry.example.com/team/app:1");

    private ServeProcess Serve(params string[] args)
    {
        string archive = _dir.Path("app.tar");
        if (!File.Exists(archive))
            ImageBuilder.WriteOciLayout(archive, [App]);
        return ServeProcess.Start(_dir.Path("tmp"), archive, args);
    }

    [Fact]
    public async Task ItServesLogsAndStopsCleanlyOnSigterm()
    {
        using var s = Serve();
        using var http = new HttpClient { BaseAddress = s.Root, Timeout = TimeSpan.FromSeconds(30) };
        using var ping = await http.GetAsync("/v2/");
        Assert.Equal(HttpStatusCode.OK, ping.StatusCode);
        Assert.Equal("registry/2.0", ping.Headers.GetValues("Docker-Distribution-API-Version").Single());
        var layer = App.Layers[1];
        using var req = new HttpRequestMessage(HttpMethod.Get, $"/v2/team/app/blobs/{layer.Digest}");
        req.Headers.Range = new RangeHeaderValue(3, 12);
        using var part = await http.SendAsync(req);
        Assert.Equal(HttpStatusCode.PartialContent, part.StatusCode);
        Assert.Equal(layer.Blob[3..13], await part.Content.ReadAsByteArrayAsync());
        // 32 pulls at once
        var all = await Task.WhenAll(Enumerable.Range(0, 32).Select(async i =>
            await http.GetByteArrayAsync($"/v2/team/app/blobs/{App.Layers[i % 3].Digest}")));
        for (int i = 0; i < 32; i++)
            Assert.Equal(App.Layers[i % 3].Blob, all[i]);
        using var put = await http.PutAsync("/v2/team/app/manifests/2", new ByteArrayContent([]));
        Assert.Equal(HttpStatusCode.MethodNotAllowed, put.StatusCode);
        FerryProcess.Signal(s.Process, "TERM");
        Assert.True(s.Process.WaitForExit(10_000), "serve did not stop within 10 s of SIGTERM");
        s.Process.WaitForExit(); // and the redirected stderr is read to its end
        Assert.Equal(0, s.Process.ExitCode);
        Assert.Contains($"GET /v2/team/app/blobs/{layer.Digest} 206 10 ", s.Err, StringComparison.Ordinal);
        Assert.Contains("serve: stopped", s.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BasicAuthOverTls()
    {
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest("CN=127.0.0.1", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        File.WriteAllText(_dir.Path("cert.pem"), cert.ExportCertificatePem());
        File.WriteAllText(_dir.Path("key.pem"), rsa.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(_dir.Path("htpasswd"), $"# users\nalice:{BCrypt.Net.BCrypt.HashPassword("s3cret", 4).Replace("$2a$", "$2y$", StringComparison.Ordinal)}\n");
        using var s = Serve("--tls-cert", _dir.Path("cert.pem"), "--tls-key", _dir.Path("key.pem"), "--htpasswd", _dir.Path("htpasswd"), "-q");
        Assert.Equal("https", s.Root.Scheme);
        using var handler = new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, c, _, _) => c?.Thumbprint == cert.Thumbprint };
        using var http = new HttpClient(handler) { BaseAddress = s.Root, Timeout = TimeSpan.FromSeconds(30) };
        using var anonymous = await http.GetAsync("/v2/team/app/manifests/1");
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal("Basic", anonymous.Headers.WwwAuthenticate.Single().Scheme);
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String("alice:wrong"u8.ToArray()));
        using var wrong = await http.GetAsync("/v2/team/app/manifests/1");
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String("alice:s3cret"u8.ToArray()));
        using var ok = await http.GetAsync("/v2/team/app/manifests/1");
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal(App.OciManifest(), await ok.Content.ReadAsByteArrayAsync());
        Assert.DoesNotContain("GET /v2/", s.Err, StringComparison.Ordinal); // -q: no access log
    }

    [Theory]
    [InlineData("--listen", "nowhere", "--listen nowhere")]
    [InlineData("--tls-cert", "x.pem", "--tls-cert and --tls-key go together")]
    public void BadOptionsAreUsageErrors(string option, string value, string message)
    {
        string archive = _dir.Path("app.tar");
        ImageBuilder.WriteOciLayout(archive, [App]);
        var r = CliRun.Run("serve", archive, option, value);
        Assert.Equal(2, r.Code);
        Assert.Contains(message, r.Err, StringComparison.Ordinal);
    }
}
