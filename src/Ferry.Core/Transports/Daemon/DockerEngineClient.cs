using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Ferry.Model;

namespace Ferry.Transports.Daemon;

/// <summary>
/// A small client of the Docker Engine API (docker, and podman's compatible service) over a unix socket or TCP:
/// version negotiation, <c>POST /images/load</c> with a streamed body, and <c>GET /images/get</c>.
/// </summary>
internal sealed class DockerEngineClient : IDisposable
{
    /// <summary>The newest API version Ferry speaks; it uses min(this, the daemon's).</summary>
    public const string MaxApiVersion = "1.43";

    private readonly HttpClient _http;
    private string? _apiVersion;

    /// <param name="host">
    /// <c>unix:///path/to/docker.sock</c> or <c>tcp://host:port</c>; null means <c>DOCKER_HOST</c>, else
    /// <c>unix:///var/run/docker.sock</c>.
    /// </param>
    public DockerEngineClient(string? host = null)
    {
        Host = host ?? (Environment.GetEnvironmentVariable("DOCKER_HOST") is { Length: > 0 } env ? env : "unix:///var/run/docker.sock");
        if (Host.StartsWith("unix://", StringComparison.Ordinal))
        {
            string socketPath = Host["unix://".Length..];
            var handler = new SocketsHttpHandler
            {
                ConnectCallback = async (_, cancel) =>
                {
                    var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                    try
                    {
                        await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancel).ConfigureAwait(false);
                        return new NetworkStream(socket, ownsSocket: true);
                    }
                    catch
                    {
                        socket.Dispose();
                        throw;
                    }
                },
            };
            _http = new HttpClient(handler) { BaseAddress = new Uri("http://docker/"), Timeout = Timeout.InfiniteTimeSpan };
        }
        else if (Host.StartsWith("tcp://", StringComparison.Ordinal) || Host.StartsWith("http://", StringComparison.Ordinal))
        {
            _http = new HttpClient { BaseAddress = new Uri("http://" + Host[(Host.IndexOf("://", StringComparison.Ordinal) + 3)..].TrimEnd('/') + "/"), Timeout = Timeout.InfiniteTimeSpan };
        }
        else
        {
            throw new UsageException($"unsupported docker host '{Host}' (want unix:///path or tcp://host:port)");
        }
    }

    /// <summary>The daemon address, for messages.</summary>
    public string Host { get; }

    /// <summary>The API version in use, after <see cref="NegotiateAsync"/>.</summary>
    public string ApiVersion => _apiVersion ?? throw new InvalidOperationException("call NegotiateAsync first");

    /// <summary>The daemon's product version (e.g. <c>20.10.24</c>), after <see cref="NegotiateAsync"/>.</summary>
    public string? ServerVersion { get; private set; }

    /// <summary>Whether the daemon can apply zstd layers (docker 23 and later, API 1.42+).</summary>
    public bool SupportsZstd => CompareVersions(ApiVersion, "1.42") >= 0;

    /// <summary>Asks the daemon for its version and picks the API version to use.</summary>
    public async Task NegotiateAsync(CancellationToken cancel = default)
    {
        using var response = await SendAsync(new HttpRequestMessage(HttpMethod.Get, "version"), cancel).ConfigureAwait(false);
        await EnsureSuccess(response, "version", cancel).ConfigureAwait(false);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsByteArrayAsync(cancel).ConfigureAwait(false));
        string server = Json.OptString(doc.RootElement, "ApiVersion") ?? "1.24";
        ServerVersion = Json.OptString(doc.RootElement, "Version");
        _apiVersion = CompareVersions(server, MaxApiVersion) < 0 ? server : MaxApiVersion;
    }

    /// <summary>
    /// Whether the daemon keeps images in containerd's image store (Docker 24+ with the containerd-snapshotter
    /// feature, the default in Docker 29): there an image's ID is its manifest or index digest, and <c>docker load</c>
    /// keeps the manifests and indexes of an OCI layout. Read from <c>GET /info</c>: its <c>DriverStatus</c> then
    /// holds <c>["driver-type", "io.containerd.snapshotter.v1"]</c>.
    /// </summary>
    public async Task<bool> UsesContainerdStoreAsync(CancellationToken cancel = default)
    {
        using var response = await SendAsync(new HttpRequestMessage(HttpMethod.Get, $"v{ApiVersion}/info"), cancel).ConfigureAwait(false);
        await EnsureSuccess(response, "info", cancel).ConfigureAwait(false);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsByteArrayAsync(cancel).ConfigureAwait(false));
        if (Json.OptArray(doc.RootElement, "DriverStatus") is not JsonElement status)
            return false;
        foreach (var pair in status.EnumerateArray())
        {
            if (pair.ValueKind != JsonValueKind.Array)
                continue;
            foreach (var v in pair.EnumerateArray())
            {
                if (v.ValueKind == JsonValueKind.String && v.GetString()!.StartsWith("io.containerd.snapshotter.", StringComparison.Ordinal))
                    return true;
            }
        }
        return false;
    }

    /// <summary>Streams a tar into <c>POST /images/load</c>; returns the names (or IDs) the daemon reports as loaded.</summary>
    /// <exception cref="FerryException">The daemon is unreachable or rejects the archive.</exception>
    public async Task<IReadOnlyList<string>> LoadAsync(Func<Stream, CancellationToken, Task> writeTar, CancellationToken cancel = default)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"v{ApiVersion}/images/load?quiet=0")
        {
            Content = new StreamingContent(writeTar),
        };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/x-tar");
        using var response = await SendAsync(request, cancel, HttpCompletionOption.ResponseHeadersRead).ConfigureAwait(false);
        await EnsureSuccess(response, "load", cancel).ConfigureAwait(false);
        var loaded = new List<string>();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancel).ConfigureAwait(false));
        string? line;
        while ((line = await reader.ReadLineAsync(cancel).ConfigureAwait(false)) is not null)
        {
            if (line.Trim().Length == 0)
                continue;
            JsonDocument doc;
            try
            {
                doc = JsonDocument.Parse(line);
            }
            catch (JsonException)
            {
                continue;
            }
            using (doc)
            {
                if (Json.OptString(doc.RootElement, "error") is string error)
                    throw new FerryException($"docker daemon at {Host} rejected the archive: {error.Trim()}");
                if (Json.OptString(doc.RootElement, "stream") is string stream)
                {
                    foreach (var l in stream.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    {
                        if (l.StartsWith("Loaded image: ", StringComparison.Ordinal))
                            loaded.Add(l["Loaded image: ".Length..]);
                        else if (l.StartsWith("Loaded image ID: ", StringComparison.Ordinal))
                            loaded.Add(l["Loaded image ID: ".Length..]);
                    }
                }
            }
        }
        return loaded;
    }

    /// <summary>Writes <c>GET /images/get?names=…</c> (a docker-archive) into <paramref name="destination"/>.</summary>
    /// <exception cref="ImageNotFoundException">The daemon has no such image.</exception>
    public async Task SaveAsync(IReadOnlyList<string> names, Stream destination, CancellationToken cancel = default)
    {
        string query = string.Join("&", names.Select(n => "names=" + Uri.EscapeDataString(n)));
        using var response = await SendAsync(new HttpRequestMessage(HttpMethod.Get, $"v{ApiVersion}/images/get?{query}"), cancel, HttpCompletionOption.ResponseHeadersRead).ConfigureAwait(false);
        await EnsureSuccess(response, "save " + string.Join(" ", names), cancel).ConfigureAwait(false);
        using var body = await response.Content.ReadAsStreamAsync(cancel).ConfigureAwait(false);
        await body.CopyToAsync(destination, 1 << 20, cancel).ConfigureAwait(false);
    }

    /// <summary>Whether the daemon has an image of this name or ID.</summary>
    public async Task<bool> ExistsAsync(string name, CancellationToken cancel = default)
    {
        using var response = await SendAsync(new HttpRequestMessage(HttpMethod.Get, $"v{ApiVersion}/images/{Uri.EscapeDataString(name)}/json"), cancel).ConfigureAwait(false);
        return response.StatusCode == HttpStatusCode.OK;
    }

    private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancel, HttpCompletionOption completion = HttpCompletionOption.ResponseContentRead)
    {
        try
        {
            return await _http.SendAsync(request, completion, cancel).ConfigureAwait(false);
        }
        catch (HttpRequestException e) when (Find<FerryException>(e) is { } inner)
        {
            // The request body (our own archive writer) failed: that is the error to report.
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(inner).Throw();
            throw;
        }
        catch (HttpRequestException e) when (Find<OperationCanceledException>(e) is { } canceled)
        {
            throw canceled;
        }
        catch (HttpRequestException e) when (Find<SocketException>(e) is SocketException s)
        {
            if (Host.StartsWith("unix://", StringComparison.Ordinal) && !File.Exists(Host["unix://".Length..]))
                throw new FerryException($"cannot connect to the docker daemon at {Host}: no such socket (is it running? set DOCKER_HOST or --host)", e);
            throw s.SocketErrorCode switch
            {
                SocketError.AccessDenied => new FerryException($"permission denied on the docker daemon socket {Host} (run as root or join the docker group)", e),
                _ => new FerryException($"cannot connect to the docker daemon at {Host}: {s.Message} (is it running? set DOCKER_HOST or --host)", e),
            };
        }
        catch (HttpRequestException e)
        {
            throw new FerryException($"docker daemon at {Host}: {e.Message}", e);
        }
        finally
        {
            request.Dispose();
        }
    }

    private static T? Find<T>(Exception e) where T : Exception
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            if (x is T t)
                return t;
        }
        return null;
    }

    private async Task EnsureSuccess(HttpResponseMessage response, string what, CancellationToken cancel)
    {
        if (response.IsSuccessStatusCode)
            return;
        string body = await response.Content.ReadAsStringAsync(cancel).ConfigureAwait(false);
        string message = body;
        try
        {
            using var doc = JsonDocument.Parse(body);
            message = Json.OptString(doc.RootElement, "message") ?? body;
        }
        catch (JsonException)
        {
        }
        message = message.Trim();
        if (response.StatusCode == HttpStatusCode.NotFound)
            throw new ImageNotFoundException($"docker daemon at {Host}: {what}: {message}");
        throw new FerryException($"docker daemon at {Host}: {what}: {(int)response.StatusCode} {message}");
    }

    internal static int CompareVersions(string a, string b)
    {
        var x = a.Split('.');
        var y = b.Split('.');
        for (int i = 0; i < Math.Max(x.Length, y.Length); i++)
        {
            int p = i < x.Length && int.TryParse(x[i], System.Globalization.CultureInfo.InvariantCulture, out int pi) ? pi : 0;
            int q = i < y.Length && int.TryParse(y[i], System.Globalization.CultureInfo.InvariantCulture, out int qi) ? qi : 0;
            if (p != q)
                return p.CompareTo(q);
        }
        return 0;
    }

    public void Dispose() => _http.Dispose();

    /// <summary>A request body written by a callback as it is sent (chunked transfer encoding; no temp file).</summary>
    private sealed class StreamingContent(Func<Stream, CancellationToken, Task> write) : HttpContent
    {
        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => write(stream, CancellationToken.None);

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken) => write(stream, cancellationToken);

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
