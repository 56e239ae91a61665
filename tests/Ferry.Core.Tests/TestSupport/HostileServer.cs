using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Ferry.Tests.TestSupport;

/// <summary>One request a <see cref="HostileServer"/> received.</summary>
public sealed record HostileRequest(string Method, string Target, IReadOnlyDictionary<string, string> Headers, byte[] Body)
{
    public string Path => Target.Split('?')[0];

    public string? Header(string name) => Headers.GetValueOrDefault(name.ToLowerInvariant());
}

/// <summary>
/// A raw HTTP/1.1 server on 127.0.0.1 that does whatever a test's handler does with the connection: answer, lie,
/// stall, send forever, redirect elsewhere. It records every request and counts the bytes it sent, so a test can
/// check that Ferry stopped reading (bounded memory) and what headers went where (credentials). With a certificate
/// it speaks TLS only, and counts the connections that tried plain HTTP instead.
/// </summary>
public sealed class HostileServer : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Func<HostileRequest, HostileConnection, Task> _handler;
    private readonly X509Certificate2? _certificate;
    private readonly Task _serve;
    private long _sent;
    private int _plainOnTls;

    public HostileServer(Func<HostileRequest, HostileConnection, Task> handler, X509Certificate2? tls = null)
    {
        _handler = handler;
        _certificate = tls;
        _listener.Start();
        _serve = Task.Run(ServeAsync);
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary><c>127.0.0.1:PORT</c>.</summary>
    public string Address => $"127.0.0.1:{Port}";

    public ConcurrentQueue<HostileRequest> Requests { get; } = new();

    /// <summary>Bytes written to clients so far.</summary>
    public long BytesSent => Interlocked.Read(ref _sent);

    /// <summary>Connections to a TLS server that spoke plain HTTP.</summary>
    public int PlainHttpOnTls => _plainOnTls;

    internal void CountSent(int n) => Interlocked.Add(ref _sent, n);

    /// <summary>A self-signed certificate for 127.0.0.1 (and its PEM, to trust it with --ca-cert).</summary>
    public static (X509Certificate2 Certificate, string Pem) SelfSigned()
    {
        using var key = RSA.Create(2048);
        var req = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        req.CertificateExtensions.Add(san.Build());
        req.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using var cert = req.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(7));
        var withKey = X509CertificateLoader.LoadPkcs12(cert.Export(X509ContentType.Pfx), null);
        return (withKey, cert.ExportCertificatePem());
    }

    private async Task ServeAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }
            _ = Task.Run(() => ConnectionAsync(client));
        }
    }

    private async Task ConnectionAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                Stream stream = client.GetStream();
                byte[] first = new byte[1];
                // Asynchronously: a blocked pool thread per idle connection starves the server under load.
                int peeked = await client.Client.ReceiveAsync(first, SocketFlags.Peek);
                if (peeked == 0)
                    return;
                if (_certificate is not null)
                {
                    if (first[0] != 0x16)
                    {
                        Interlocked.Increment(ref _plainOnTls);
                        return;
                    }
                    var ssl = new SslStream(stream);
                    await ssl.AuthenticateAsServerAsync(_certificate);
                    stream = ssl;
                }
                else if (first[0] == 0x16)
                {
                    return; // a TLS hello to a plain server: hang up, as a plain-HTTP registry does
                }
                var connection = new HostileConnection(this, stream);
                while (!_stop.IsCancellationRequested)
                {
                    var request = await connection.ReadRequestAsync();
                    if (request is null)
                        return;
                    Requests.Enqueue(request);
                    await _handler(request, connection);
                    if (connection.Closed)
                        return;
                }
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or System.Security.Authentication.AuthenticationException or OperationCanceledException)
            {
            }
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        try
        {
            _serve.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }
        _certificate?.Dispose();
    }
}

/// <summary>One client connection of a <see cref="HostileServer"/>: read requests, write answers (well-formed or not).</summary>
public sealed class HostileConnection(HostileServer server, Stream stream)
{
    public bool Closed { get; private set; }

    internal async Task<HostileRequest?> ReadRequestAsync()
    {
        string? line = await ReadLineAsync();
        if (string.IsNullOrEmpty(line))
            return null;
        var parts = line.Split(' ');
        var headers = new Dictionary<string, string>(StringComparer.Ordinal);
        string? h;
        while (!string.IsNullOrEmpty(h = await ReadLineAsync()))
        {
            int colon = h.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0)
                headers[h[..colon].Trim().ToLowerInvariant()] = h[(colon + 1)..].Trim();
        }
        byte[] body = [];
        if (headers.TryGetValue("content-length", out var cl) && long.TryParse(cl, out long length) && length > 0)
        {
            body = new byte[Math.Min(length, 64L << 20)];
            await stream.ReadExactlyAsync(body);
            for (long left = length - body.Length; left > 0;)
            {
                byte[] skip = new byte[Math.Min(left, 1 << 20)];
                int n = await stream.ReadAsync(skip);
                if (n == 0)
                    break;
                left -= n;
            }
        }
        else if (headers.TryGetValue("transfer-encoding", out var te) && te.Contains("chunked", StringComparison.OrdinalIgnoreCase))
        {
            using var ms = new MemoryStream();
            while (true)
            {
                string size = (await ReadLineAsync() ?? "0").Split(';')[0];
                int n = Convert.ToInt32(size, 16);
                if (n == 0)
                {
                    await ReadLineAsync();
                    break;
                }
                byte[] chunk = new byte[n];
                await stream.ReadExactlyAsync(chunk);
                if (ms.Length < (64L << 20))
                    ms.Write(chunk);
                await ReadLineAsync();
            }
            body = ms.ToArray();
        }
        return new HostileRequest(parts[0], parts.Length > 1 ? parts[1] : "/", headers, body);
    }

    private async Task<string?> ReadLineAsync()
    {
        var sb = new StringBuilder();
        byte[] one = new byte[1];
        while (true)
        {
            int n = await stream.ReadAsync(one);
            if (n == 0)
                return sb.Length == 0 ? null : sb.ToString();
            if (one[0] == '\n')
                return sb.ToString().TrimEnd('\r');
            sb.Append((char)one[0]);
            if (sb.Length > 65536)
                throw new IOException("header line too long");
        }
    }

    /// <summary>Writes raw bytes (counted).</summary>
    public async Task WriteAsync(byte[] data)
    {
        await stream.WriteAsync(data);
        await stream.FlushAsync();
        server.CountSent(data.Length);
    }

    public Task WriteAsync(string text) => WriteAsync(Encoding.ASCII.GetBytes(text));

    /// <summary>A complete answer with a Content-Length.</summary>
    public Task RespondAsync(int status, string? body = null, params (string Name, string Value)[] headers) =>
        RespondAsync(status, body is null ? [] : Encoding.UTF8.GetBytes(body), headers);

    public async Task RespondAsync(int status, byte[] body, params (string Name, string Value)[] headers)
    {
        var sb = new StringBuilder($"HTTP/1.1 {status} X\r\n");
        foreach (var (n, v) in headers)
            sb.Append(n).Append(": ").Append(v).Append("\r\n");
        sb.Append("Content-Length: ").Append(body.Length).Append("\r\n\r\n");
        await WriteAsync(Encoding.ASCII.GetBytes(sb.ToString()));
        if (body.Length > 0)
            await WriteAsync(body);
    }

    /// <summary>Headers, then <paramref name="filler"/> forever (chunked, or with a huge Content-Length) until the client hangs up.</summary>
    public async Task SendForeverAsync(int status, byte filler, bool chunked, string contentType = "application/json", params (string Name, string Value)[] headers)
    {
        var sb = new StringBuilder($"HTTP/1.1 {status} X\r\nContent-Type: {contentType}\r\n");
        foreach (var (n, v) in headers)
            sb.Append(n).Append(": ").Append(v).Append("\r\n");
        sb.Append(chunked ? "Transfer-Encoding: chunked\r\n\r\n" : $"Content-Length: {1L << 40}\r\n\r\n");
        await WriteAsync(sb.ToString());
        byte[] block = new byte[64 << 10];
        Array.Fill(block, filler);
        byte[] chunk = chunked ? [.. Encoding.ASCII.GetBytes($"{block.Length:x}\r\n"), .. block, (byte)'\r', (byte)'\n'] : block;
        try
        {
            while (true)
                await WriteAsync(chunk);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            Closed = true;
        }
    }

    /// <summary>Says nothing until the client gives up (or the test ends).</summary>
    public async Task StallAsync(TimeSpan max)
    {
        try
        {
            byte[] one = new byte[1];
            using var cts = new CancellationTokenSource(max);
            _ = await stream.ReadAsync(one, cts.Token);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
        {
        }
        Closed = true;
    }

    /// <summary>Sends <paramref name="data"/> one byte per <paramref name="interval"/>.</summary>
    public async Task TrickleAsync(byte[] data, TimeSpan interval)
    {
        try
        {
            foreach (byte b in data)
            {
                await WriteAsync([b]);
                await Task.Delay(interval);
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
        }
        Closed = true;
    }

    public void Close() => Closed = true;
}
