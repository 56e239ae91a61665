using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Ferry.Interop.Tests.Infrastructure;

/// <summary>How a test registry authenticates.</summary>
public enum RegistryAuth
{
    None,
    Basic,
    Token,
}

/// <summary>
/// Debian's docker-registry (distribution 2.8) on 127.0.0.1 with a free port, in a temp dir: no auth, htpasswd basic
/// auth, or bearer tokens from a small token server run here (JWTs signed with a key made in the test); optionally
/// behind TLS with a self-signed CA made by openssl. Stopped and deleted at dispose.
/// </summary>
public sealed class RegistryServer : IDisposable
{
    public const string User = "ferry";
    public const string Password = "s3cret-pass";

    private readonly Process _process;
    private readonly TokenServer? _tokens;

    public RegistryServer(Runner run, RegistryAuth auth = RegistryAuth.None, bool tls = false)
    {
        Dir = Path.Combine(Path.GetTempPath(), "ferry-registry-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Dir);
        int port = FreePort();
        Address = $"127.0.0.1:{port}";
        var config = new StringBuilder();
        config.AppendLine("version: 0.1").AppendLine("log:").AppendLine("  level: warn");
        config.AppendLine("storage:").AppendLine("  filesystem:").AppendLine($"    rootdirectory: {Dir}/data");
        config.AppendLine("http:").AppendLine($"  addr: {Address}");
        if (tls)
        {
            CaCert = Path.Combine(Dir, "ca.pem");
            string key = Path.Combine(Dir, "server.key");
            string cert = Path.Combine(Dir, "server.pem");
            string cakey = Path.Combine(Dir, "ca.key");
            Runner.Ensure(run.Raw("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", cakey, "-out", CaCert, "-days", "2", "-subj", "/CN=ferry-test-ca"]));
            Runner.Ensure(run.Raw("openssl", ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", Path.Combine(Dir, "server.csr"), "-subj", "/CN=127.0.0.1"]));
            File.WriteAllText(Path.Combine(Dir, "ext.cnf"), "subjectAltName=IP:127.0.0.1\n");
            Runner.Ensure(run.Raw("openssl", ["x509", "-req", "-in", Path.Combine(Dir, "server.csr"), "-CA", CaCert, "-CAkey", cakey, "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", Path.Combine(Dir, "ext.cnf")]));
            config.AppendLine("  tls:").AppendLine($"    certificate: {cert}").AppendLine($"    key: {key}");
        }
        if (auth == RegistryAuth.Basic)
        {
            string htpasswd = Path.Combine(Dir, "htpasswd");
            Runner.Ensure(run.Raw("/usr/bin/htpasswd", ["-Bbc", htpasswd, User, Password]));
            config.AppendLine("auth:").AppendLine("  htpasswd:").AppendLine("    realm: ferry-test").AppendLine($"    path: {htpasswd}");
        }
        else if (auth == RegistryAuth.Token)
        {
            _tokens = new TokenServer(Dir);
            config.AppendLine("auth:").AppendLine("  token:").AppendLine($"    realm: {_tokens.Realm}").AppendLine("    service: ferry-registry")
                .AppendLine("    issuer: ferry-test").AppendLine($"    rootcertbundle: {_tokens.CertPath}");
        }
        File.WriteAllText(Path.Combine(Dir, "config.yml"), config.ToString());
        var psi = new ProcessStartInfo("docker-registry", ["serve", Path.Combine(Dir, "config.yml")])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        _process = Process.Start(psi)!;
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (Log) Log.AppendLine(e.Data); };
        _process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (Log) Log.AppendLine(e.Data); };
        _process.BeginErrorReadLine();
        _process.BeginOutputReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
                throw new InteropException($"docker-registry exited: {Log}");
            try
            {
                using var c = new TcpClient();
                c.Connect(IPAddress.Loopback, port);
                run.Log.Line($"registry on {Address} (auth {auth}, tls {tls}) in {Dir}");
                return;
            }
            catch (SocketException)
            {
                Thread.Sleep(100);
            }
        }
        throw new InteropException($"docker-registry did not listen on {Address}: {Log}");
    }

    public string Dir { get; }
    public string Address { get; }
    public string? CaCert { get; }
    public StringBuilder Log { get; } = new();

    /// <summary>skopeo flags to reach this registry.</summary>
    public IReadOnlyList<string> SkopeoFlags(bool creds = true) =>
        [.. CaCert is null ? ["--tls-verify=false"] : new[] { "--cert-dir", CertDir() }, .. creds ? new[] { "--creds", $"{User}:{Password}" } : []];

    private string CertDir()
    {
        string d = Path.Combine(Dir, "certs.d");
        Directory.CreateDirectory(d);
        File.Copy(CaCert!, Path.Combine(d, "ca.crt"), overwrite: true);
        return d;
    }

    private static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
        }
        _process.Dispose();
        _tokens?.Dispose();
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>
    /// A token server for distribution's token auth: checks basic credentials and hands out RS256 JWTs whose x5c
    /// header carries the self-signed certificate the registry trusts.
    /// </summary>
    private sealed class TokenServer : IDisposable
    {
        private readonly HttpListener _listener = new();
        private readonly RSA _key = RSA.Create(2048);
        private readonly X509Certificate2 _cert;
        private readonly Task _loop;

        public TokenServer(string dir)
        {
            var req = new CertificateRequest("CN=ferry-test-token", _key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            _cert = req.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(2));
            CertPath = Path.Combine(dir, "token.pem");
            File.WriteAllText(CertPath, _cert.ExportCertificatePem());
            int port = FreePort();
            Realm = $"http://127.0.0.1:{port}/token";
            _listener.Prefixes.Add($"http://127.0.0.1:{port}/");
            _listener.Start();
            _loop = Task.Run(Serve);
        }

        public string Realm { get; }
        public string CertPath { get; }

        private async Task Serve()
        {
            while (_listener.IsListening)
            {
                HttpListenerContext ctx;
                try
                {
                    ctx = await _listener.GetContextAsync();
                }
                catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
                {
                    return;
                }
                string? auth = ctx.Request.Headers["Authorization"];
                string expected = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{User}:{Password}"));
                if (auth != expected)
                {
                    ctx.Response.StatusCode = 401;
                    ctx.Response.Close();
                    continue;
                }
                var access = (ctx.Request.QueryString.GetValues("scope") ?? [])
                    .SelectMany(s => s.Split(' '))
                    .Select(s => s.Split(':'))
                    .Where(p => p.Length == 3)
                    .Select(p => $"{{\"type\":\"{p[0]}\",\"name\":\"{p[1]}\",\"actions\":[{string.Join(",", p[2].Split(',').Select(a => $"\"{a}\""))}]}}");
                long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
                string header = $"{{\"alg\":\"RS256\",\"typ\":\"JWT\",\"x5c\":[\"{Convert.ToBase64String(_cert.RawData)}\"]}}";
                string claims = $"{{\"iss\":\"ferry-test\",\"sub\":\"{User}\",\"aud\":\"ferry-registry\",\"exp\":{now + 600},\"nbf\":{now - 60},\"iat\":{now},\"jti\":\"{Guid.NewGuid():N}\",\"access\":[{string.Join(",", access)}]}}";
                string signingInput = B64(Encoding.UTF8.GetBytes(header)) + "." + B64(Encoding.UTF8.GetBytes(claims));
                string token = signingInput + "." + B64(_key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));
                byte[] body = Encoding.UTF8.GetBytes($"{{\"token\":\"{token}\",\"expires_in\":600}}");
                ctx.Response.ContentType = "application/json";
                await ctx.Response.OutputStream.WriteAsync(body);
                ctx.Response.Close();
            }
        }

        private static string B64(byte[] b) => Convert.ToBase64String(b).TrimEnd('=').Replace('+', '-').Replace('/', '_');

        public void Dispose()
        {
            _listener.Stop();
            _listener.Close();
            try
            {
                _loop.Wait(5000);
            }
            catch (AggregateException)
            {
            }
            _key.Dispose();
            _cert.Dispose();
        }
    }
}
