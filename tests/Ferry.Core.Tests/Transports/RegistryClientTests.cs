using System.Net;
using System.Net.Sockets;
using System.Text;
using Ferry.Digests;
using Ferry.Transports.Registry;

namespace Ferry.Tests.Transports;

/// <summary>The registry client against a small in-process HTTP server that misbehaves on purpose.</summary>
public sealed class RegistryClientTests : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly byte[] _blob = new byte[300_000];
    private readonly Digest _digest;
    private int _blobGets;
    private int _manifestGets;
    private readonly List<string> _ranges = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _serve;

    public RegistryClientTests()
    {
        new Random(3).NextBytes(_blob);
        _digest = Digest.Sha256Of(_blob);
        _listener.Start();
        _serve = Task.Run(Serve);
    }

    private string Address => $"127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

    /// <summary>
    /// A raw HTTP/1.1 server: the first blob GET sends a third of the body and drops the connection; a GET with Range
    /// answers 206 with the rest. The first manifest GET answers 503, then 200.
    /// </summary>
    private async Task Serve()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            _ = Task.Run(async () =>
            {
                using (client)
                {
                    var stream = client.GetStream();
                    var reader = new StreamReader(stream, Encoding.ASCII);
                    while (true)
                    {
                        // A TLS hello is not HTTP: hang up, as a plain-HTTP registry does.
                        int first = stream.Socket.Poll(5_000_000, SelectMode.SelectRead) ? PeekByte(stream.Socket) : -1;
                        if (first is -1 or 0x16)
                            return;
                        string? requestLine = await reader.ReadLineAsync();
                        if (string.IsNullOrEmpty(requestLine))
                            return;
                        string? range = null;
                        string? line;
                        while (!string.IsNullOrEmpty(line = await reader.ReadLineAsync()))
                        {
                            if (line.StartsWith("Range:", StringComparison.OrdinalIgnoreCase))
                                range = line[6..].Trim();
                        }
                        string path = requestLine.Split(' ')[1];
                        if (path == "/v2/")
                        {
                            await Write(stream, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
                        }
                        else if (path.Contains("/manifests/", StringComparison.Ordinal))
                        {
                            if (Interlocked.Increment(ref _manifestGets) == 1)
                            {
                                await Write(stream, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
                                continue;
                            }
                            const string body = "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest unknown\"}]}";
                            await Write(stream, $"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n{body}");
                        }
                        else if (path.Contains("/blobs/", StringComparison.Ordinal))
                        {
                            int n = Interlocked.Increment(ref _blobGets);
                            if (range is null)
                            {
                                await Write(stream, $"HTTP/1.1 200 OK\r\nContent-Length: {_blob.Length}\r\n\r\n");
                                await stream.WriteAsync(_blob.AsMemory(0, _blob.Length / 3));
                                client.Client.Shutdown(SocketShutdown.Both);
                                return;
                            }
                            lock (_ranges)
                                _ranges.Add(range);
                            int from = int.Parse(range["bytes=".Length..].TrimEnd('-'), System.Globalization.CultureInfo.InvariantCulture);
                            await Write(stream, $"HTTP/1.1 206 Partial Content\r\nContent-Length: {_blob.Length - from}\r\nContent-Range: bytes {from}-{_blob.Length - 1}/{_blob.Length}\r\n\r\n");
                            await stream.WriteAsync(_blob.AsMemory(from));
                        }
                        else
                        {
                            await Write(stream, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
                        }
                    }
                }
            });
        }
    }

    private static int PeekByte(Socket s)
    {
        var b = new byte[1];
        return s.Receive(b, SocketFlags.Peek) == 1 ? b[0] : -1;
    }

    private static Task Write(NetworkStream s, string text) => s.WriteAsync(Encoding.ASCII.GetBytes(text)).AsTask();

    [Fact]
    public async Task InterruptedDownloadResumesWithRangeAndVerifies()
    {
        using var client = new RegistryClient(Address, new RegistryOptions { RetryDelay = TimeSpan.FromMilliseconds(10) }, TimeSpan.FromSeconds(30));
        await using var blob = new VerifyingStream(await client.OpenBlobAsync("repo/x", _digest, _blob.Length, CancellationToken.None), "blob", _digest, _blob.Length);
        Assert.Equal(_digest, await blob.DrainAsync());
        Assert.Equal(2, _blobGets);
        Assert.Equal($"bytes={_blob.Length / 3}-", Assert.Single(_ranges));
    }

    [Fact]
    public async Task RetriesA503ThenReportsTheRegistrysError()
    {
        using var client = new RegistryClient(Address, new RegistryOptions { RetryDelay = TimeSpan.FromMilliseconds(10) }, TimeSpan.FromSeconds(30));
        var e = await Assert.ThrowsAsync<ImageNotFoundException>(() => client.GetManifestAsync("repo/x", "1", CancellationToken.None));
        Assert.Equal($"registry {Address}: repo/x:1: MANIFEST_UNKNOWN: manifest unknown", e.Message);
        Assert.Equal(2, _manifestGets);
    }

    [Fact]
    public void ChallengeParameters() =>
        Assert.Equal(new Dictionary<string, string> { ["realm"] = "https://auth.example/token", ["service"] = "reg", ["scope"] = "repository:a/b:pull" },
            RegistryClient.ParseChallenge("realm=\"https://auth.example/token\",service=\"reg\",scope=\"repository:a/b:pull\""));

    [Theory]
    [InlineData("localhost:5000", true)]
    [InlineData("127.0.0.1:5000", true)]
    [InlineData("registry.example.com", false)]
    public void PlainHttpOnlyForLoopback(string registry, bool local) => Assert.Equal(local, RegistryClient.IsLocal(registry));

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        _stop.Dispose();
    }
}
