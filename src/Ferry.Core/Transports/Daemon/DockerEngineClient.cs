using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Ferry.Model;
using Ferry.Transports.Http;

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
    /// <param name="timeout">How long the daemon may keep us waiting (see <see cref="TransportOptions.Timeout"/>).</param>
    public DockerEngineClient(string? host = null, TimeSpan? timeout = null)
    {
        Timeout = timeout ?? TimeSpan.FromMinutes(2);
        Host = host ?? (Environment.GetEnvironmentVariable("DOCKER_HOST") is { Length: > 0 } env ? env : "unix:///var/run/docker.sock");
        if (Host.StartsWith("unix://", StringComparison.Ordinal))
        {
            string socketPath = Host["unix://".Length..];
            var handler = new SocketsHttpHandler
            {
                ConnectCallback = async (_, cancellationToken) =>
                {
                    var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                    try
                    {
                        await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken).ConfigureAwait(false);
                        return new NetworkStream(socket, ownsSocket: true);
                    }
                    catch
                    {
                        socket.Dispose();
                        throw;
                    }
                },
            };
            _http = new HttpClient(handler) { BaseAddress = new Uri("http://docker/"), Timeout = System.Threading.Timeout.InfiniteTimeSpan };
        }
        else if (Host.StartsWith("tcp://", StringComparison.Ordinal) || Host.StartsWith("http://", StringComparison.Ordinal))
        {
            _http = new HttpClient { BaseAddress = new Uri("http://" + Host[(Host.IndexOf("://", StringComparison.Ordinal) + 3)..].TrimEnd('/') + "/"), Timeout = System.Threading.Timeout.InfiniteTimeSpan };
        }
        else
        {
            throw new UsageException($"unsupported docker host '{Host}' (want unix:///path or tcp://host:port)");
        }
    }

    /// <summary>The daemon address, for messages.</summary>
    public string Host { get; }

    /// <summary>How long the daemon may keep us waiting for an answer or the next byte.</summary>
    public TimeSpan Timeout { get; }

    /// <summary>The most a save may send: it stops here, or when the temp directory's free space runs low (default 1 TiB).</summary>
    public long MaxSaveBytes { get; init; } = 1L << 40;

    /// <summary>The free space kept on the temp directory's disk while a save is spooled: 256 MiB.</summary>
    public long SaveReserveBytes { get; init; } = 256L << 20;

    /// <summary>The most bytes of answer a load may send (progress lines included): 256 MiB.</summary>
    public const long MaxLoadAnswerBytes = 256L << 20;

    /// <summary>The longest line of a load's answer: 1 MiB.</summary>
    public const int MaxLoadLineBytes = 1 << 20;

    /// <summary>The most "Loaded image" names read from one load.</summary>
    public const int MaxLoadedNames = 100_000;

    internal string Peer => $"docker daemon at {Host}";

    /// <summary>The API version in use, after <see cref="NegotiateAsync"/>.</summary>
    public string ApiVersion => _apiVersion ?? throw new InvalidOperationException("call NegotiateAsync first");

    /// <summary>The daemon's product version (e.g. <c>20.10.24</c>), after <see cref="NegotiateAsync"/>.</summary>
    public string? ServerVersion { get; private set; }

    /// <summary>Whether the daemon can apply zstd layers (docker 23 and later, API 1.42+).</summary>
    public bool SupportsZstd => CompareVersions(ApiVersion, "1.42") >= 0;

    /// <summary>Asks the daemon for its version and picks the API version to use.</summary>
    public async Task NegotiateAsync(CancellationToken cancellationToken = default)
    {
        using var doc = await GetJsonAsync("version", "/version", cancellationToken).ConfigureAwait(false);
        string server = Json.OptString(doc.RootElement, "ApiVersion") ?? "1.24";
        ServerVersion = Json.OptString(doc.RootElement, "Version");
        _apiVersion = CompareVersions(server, MaxApiVersion) < 0 ? server : MaxApiVersion;
    }

    /// <summary>GETs a small JSON document (<c>/version</c>, <c>/info</c>) within a size limit and the timeout.</summary>
    private async Task<JsonDocument> GetJsonAsync(string path, string what, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(new HttpRequestMessage(HttpMethod.Get, path), cancellationToken).ConfigureAwait(false);
        await EnsureSuccess(response, what.TrimStart('/'), cancellationToken).ConfigureAwait(false);
        byte[] body = await HttpLimits.ReadBodyAsync(response, HttpLimits.MaxDaemonDocumentBytes, Timeout, Peer, what, cancellationToken).ConfigureAwait(false);
        try
        {
            return JsonDocument.Parse(body);
        }
        catch (JsonException)
        {
            throw new PeerException($"{Peer}: {what} is not JSON (is it a Docker Engine API?)");
        }
    }

    /// <summary>
    /// Whether the daemon keeps images in containerd's image store (Docker 24+ with the containerd-snapshotter
    /// feature, the default in Docker 29): there an image's ID is its manifest or index digest, and <c>docker load</c>
    /// keeps the manifests and indexes of an OCI layout. Read from <c>GET /info</c>: its <c>DriverStatus</c> then
    /// holds <c>["driver-type", "io.containerd.snapshotter.v1"]</c>.
    /// </summary>
    /// <returns>Null when the daemon does not answer <c>/info</c> (a socket proxy such as docker-socket-proxy blocks it by default).</returns>
    public async Task<bool?> UsesContainerdStoreAsync(CancellationToken cancellationToken = default)
    {
        using (var probe = await SendAsync(new HttpRequestMessage(HttpMethod.Get, $"v{ApiVersion}/info"), cancellationToken).ConfigureAwait(false))
        {
            if (probe.StatusCode is System.Net.HttpStatusCode.Forbidden or System.Net.HttpStatusCode.Unauthorized or System.Net.HttpStatusCode.NotFound or System.Net.HttpStatusCode.MethodNotAllowed)
                return null;
        }
        using var doc = await GetJsonAsync($"v{ApiVersion}/info", "/info", cancellationToken).ConfigureAwait(false);
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

    /// <summary>
    /// Streams a tar into <c>POST /images/load</c> (the answer must start within the timeout once the tar is sent, and
    /// each line must follow within it); returns the names (or IDs) the daemon reports as loaded. The answer is read
    /// line by line, within limits.
    /// </summary>
    /// <exception cref="FerryException">The daemon is unreachable, stalls, or rejects the archive.</exception>
    public async Task<IReadOnlyList<string>> LoadAsync(Func<Stream, CancellationToken, Task> writeTar, CancellationToken cancellationToken = default)
    {
        using var watchdog = new CancellationTokenSource();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, watchdog.Token);
        var request = new HttpRequestMessage(HttpMethod.Post, $"v{ApiVersion}/images/load?quiet=0")
        {
            Content = new StreamingContent((stream, ct) => writeTar(new ActivityStream(stream, watchdog, Timeout), ct)),
        };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/x-tar");
        watchdog.CancelAfter(Timeout);
        HttpResponseMessage response;
        try
        {
            response = await SendAsync(request, linked.Token, ownTimeout: false).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && watchdog.IsCancellationRequested)
        {
            throw new PeerException($"{Peer}: load: no answer within {HttpLimits.Seconds(Timeout)}");
        }
        using (response)
        {
            await EnsureSuccess(response, "load", cancellationToken).ConfigureAwait(false);
            var loaded = new List<string>();
            await using var body = new IdleTimeoutStream(await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false), Timeout);
            var lines = new BoundedLineReader(body, MaxLoadLineBytes, MaxLoadAnswerBytes);
            try
            {
                while (await lines.ReadLineAsync(cancellationToken).ConfigureAwait(false) is string line)
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
                            throw new PeerException($"{Peer} rejected the archive: {Digests.Digest.Describe(error.Trim())}");
                        if (Json.OptString(doc.RootElement, "stream") is not string stream)
                            continue;
                        foreach (var l in stream.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                        {
                            string? name = l.StartsWith("Loaded image: ", StringComparison.Ordinal) ? l["Loaded image: ".Length..]
                                : l.StartsWith("Loaded image ID: ", StringComparison.Ordinal) ? l["Loaded image ID: ".Length..] : null;
                            if (name is null)
                                continue;
                            if (loaded.Count >= MaxLoadedNames)
                                throw new PeerException($"{Peer}: load reported more than {MaxLoadedNames} loaded images");
                            loaded.Add(Digests.Digest.Describe(name));
                        }
                    }
                }
            }
            catch (LineTooLongException e)
            {
                throw new PeerException($"{Peer}: load: {e.Message}");
            }
            catch (IOException e)
            {
                throw new PeerException($"{Peer}: load: the answer broke off: {HttpLimits.Innermost(e)}", e);
            }
            return loaded;
        }
    }

    /// <summary>
    /// Writes <c>GET /images/get?names=…</c> into <paramref name="destination"/> (a file in <paramref name="tempDir"/>):
    /// each byte must follow within the timeout, and the save stops at <see cref="MaxSaveBytes"/> or when the disk's
    /// free space falls to <see cref="SaveReserveBytes"/> (the daemon declares no size).
    /// </summary>
    /// <exception cref="ImageNotFoundException">The daemon has no such image.</exception>
    public async Task SaveAsync(IReadOnlyList<string> names, Stream destination, string tempDir, CancellationToken cancellationToken = default)
    {
        string query = string.Join("&", names.Select(n => "names=" + Uri.EscapeDataString(n)));
        using var watchdog = new CancellationTokenSource(Timeout);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, watchdog.Token);
        HttpResponseMessage response;
        try
        {
            response = await SendAsync(new HttpRequestMessage(HttpMethod.Get, $"v{ApiVersion}/images/get?{query}"), linked.Token, ownTimeout: false).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && watchdog.IsCancellationRequested)
        {
            throw new PeerException($"{Peer}: save: no answer within {HttpLimits.Seconds(Timeout)}");
        }
        using (response)
        {
            await EnsureSuccess(response, "save " + string.Join(" ", names), cancellationToken).ConfigureAwait(false);
            await using var body = new IdleTimeoutStream(await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false), Timeout);
            byte[] buf = System.Buffers.ArrayPool<byte>.Shared.Rent(1 << 20);
            try
            {
                long total = 0, checkedAt = 0;
                int n;
                while ((n = await body.ReadAsync(buf, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    total += n;
                    if (total > MaxSaveBytes)
                        throw new PeerException($"{Peer}: save sent more than {(MaxSaveBytes >= 1L << 30 ? $"{MaxSaveBytes >> 30} GiB" : $"{MaxSaveBytes >> 20} MiB")}; stopped");
                    if (total - checkedAt >= 64L << 20)
                    {
                        checkedAt = total;
                        long free = FreeSpace(tempDir);
                        if (free >= 0 && free < SaveReserveBytes)
                            throw new OutputException($"{tempDir}: only {free >> 20} MiB left after {total >> 20} MiB of the save; stopped (set TMPDIR to a bigger disk)");
                    }
                    try
                    {
                        await destination.WriteAsync(buf.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                    }
                    catch (IOException e)
                    {
                        throw new OutputException($"{tempDir}: cannot spool the save: {e.Message}", e);
                    }
                }
            }
            catch (IOException e)
            {
                throw new PeerException($"{Peer}: save: the transfer broke off: {HttpLimits.Innermost(e)}", e);
            }
            finally
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(buf);
            }
        }
    }

    private static long FreeSpace(string dir)
    {
        try
        {
            return new DriveInfo(Path.GetFullPath(dir)).AvailableFreeSpace;
        }
        catch (Exception e) when (e is IOException or ArgumentException or UnauthorizedAccessException)
        {
            return -1;
        }
    }

    /// <summary>Sends a request and waits for the answer's headers (within the timeout, unless the caller keeps its own watchdog); the body is not read.</summary>
    private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken, bool ownTimeout = true)
    {
        using var timer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (ownTimeout)
            timer.CancelAfter(Timeout);
        try
        {
            return await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timer.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException e) when (ownTimeout && !cancellationToken.IsCancellationRequested && timer.IsCancellationRequested)
        {
            throw new PeerException($"{Peer}: {request.RequestUri}: no answer within {HttpLimits.Seconds(Timeout)}", e);
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
            throw new PeerException($"{Peer}: {HttpLimits.Innermost(e)}", e);
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

    private async Task EnsureSuccess(HttpResponseMessage response, string what, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode)
            return;
        string message = $"{(int)response.StatusCode} {response.ReasonPhrase}";
        try
        {
            byte[] body = await HttpLimits.ReadBodyAsync(response, HttpLimits.MaxErrorBytes, Timeout, Peer, "error", cancellationToken).ConfigureAwait(false);
            message = System.Text.Encoding.UTF8.GetString(body);
            using var doc = JsonDocument.Parse(body);
            message = Json.OptString(doc.RootElement, "message") ?? message;
        }
        catch (Exception e) when (e is JsonException or PeerException)
        {
        }
        message = Digests.Digest.Describe(message.Trim().Split('\n')[0]);
        if (response.StatusCode == HttpStatusCode.NotFound)
            throw new ImageNotFoundException($"{Peer}: {what}: {message}");
        throw new PeerException($"{Peer}: {what}: {(int)response.StatusCode} {message}");
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

/// <summary>A line longer than a reader's limit.</summary>
internal sealed class LineTooLongException(string message) : Exception(message);

/// <summary>Reads UTF-8 lines from a stream with a limit on each line and on the whole stream (a peer may send endless lines).</summary>
internal sealed class BoundedLineReader(Stream stream, int maxLine, long maxTotal)
{
    private readonly byte[] _buf = new byte[64 << 10];
    private int _start;
    private int _end;
    private long _total;

    public async Task<string?> ReadLineAsync(CancellationToken cancellationToken)
    {
        using var line = new MemoryStream();
        while (true)
        {
            if (_start == _end)
            {
                _start = 0;
                _end = await stream.ReadAsync(_buf, cancellationToken).ConfigureAwait(false);
                if (_end == 0)
                    return line.Length == 0 ? null : System.Text.Encoding.UTF8.GetString(line.ToArray());
                _total += _end;
                if (_total > maxTotal)
                    throw new LineTooLongException($"the answer is longer than {maxTotal >> 20} MiB");
            }
            int nl = Array.IndexOf(_buf, (byte)'\n', _start, _end - _start);
            int stop = nl < 0 ? _end : nl;
            if (line.Length + (stop - _start) > maxLine)
                throw new LineTooLongException($"a line of the answer is longer than {maxLine >> 10} KiB");
            line.Write(_buf, _start, stop - _start);
            _start = nl < 0 ? _end : nl + 1;
            if (nl >= 0)
                return System.Text.Encoding.UTF8.GetString(line.ToArray());
        }
    }
}
