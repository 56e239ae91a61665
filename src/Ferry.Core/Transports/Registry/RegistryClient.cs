using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Ferry.Digests;
using Ferry.Model;

namespace Ferry.Transports.Registry;

/// <summary>
/// A client of one registry's OCI distribution API: manifests and blobs (with Docker-Content-Digest checks, resumed
/// downloads), uploads (HEAD first, cross-repository mount, monolithic PUT), anonymous, basic and bearer-token auth,
/// retries with backoff on 429, 5xx and broken connections; registry errors become one-line messages.
/// </summary>
internal sealed class RegistryClient : IDisposable
{
    public static readonly string[] ManifestAccept = [MediaTypes.OciManifest, MediaTypes.OciIndex, MediaTypes.DockerManifest, MediaTypes.DockerManifestList];

    private readonly HttpClient _http;
    private readonly RegistryOptions _options;
    private readonly string? _basic;
    private readonly Dictionary<string, string> _tokens = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _schemeLock = new(1, 1);
    private readonly Lock _tokenLock = new();
    private string? _scheme;

    /// <param name="registry"><c>host[:port]</c>.</param>
    /// <param name="options">Credentials, TLS and retry settings.</param>
    public RegistryClient(string registry, RegistryOptions options)
    {
        Registry = registry;
        _options = options;
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = true,
            MaxConnectionsPerServer = Math.Max(2, options.Concurrency * 2),
            ConnectTimeout = TimeSpan.FromSeconds(30),
        };
        bool local = IsLocal(registry);
        if (options.Insecure)
        {
#pragma warning disable CA5359 // --insecure asks for exactly this: TLS without verification, as skopeo --tls-verify=false
            handler.SslOptions.RemoteCertificateValidationCallback = (_, _, _, _) => true;
#pragma warning restore CA5359
        }
        else if (options.CaCertificate is string ca)
        {
            var roots = new X509Certificate2Collection();
            try
            {
                roots.ImportFromPemFile(ca);
            }
            catch (Exception e) when (e is IOException or System.Security.Cryptography.CryptographicException or UnauthorizedAccessException)
            {
                throw new UsageException($"--ca-cert {ca}: cannot read PEM certificates: {e.Message}");
            }
            handler.SslOptions.RemoteCertificateValidationCallback = (_, cert, _, errors) =>
            {
                if (errors == System.Net.Security.SslPolicyErrors.None)
                    return true;
                if (cert is null || (errors & System.Net.Security.SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
                    return false;
                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.AddRange(roots);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return chain.Build(new X509Certificate2(cert));
            };
        }
        _http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd("ferry/1.0");
        AllowHttp = options.Insecure || local;
        _basic = Credentials.Find(registry, options);
    }

    public string Registry { get; }

    /// <summary>How long the first contact (TLS or plain HTTP) may take.</summary>
    public static TimeSpan ProbeTimeout { get; } = TimeSpan.FromSeconds(15);

    /// <summary>Whether plain HTTP may be used (insecure, or a loopback registry).</summary>
    public bool AllowHttp { get; }

    internal static bool IsLocal(string registry)
    {
        string host = registry.StartsWith('[') ? registry[..(registry.IndexOf(']', StringComparison.Ordinal) + 1)] : registry.Split(':')[0];
        return host is "localhost" or "[::1]" || host.StartsWith("127.", StringComparison.Ordinal);
    }

    // ---- reading ---------------------------------------------------------------------------------------------------

    /// <summary>GETs a manifest or index; checks its digest (the reference's, or the Docker-Content-Digest header).</summary>
    public async Task<(byte[] Bytes, string MediaType, Digest Digest)> GetManifestAsync(string repo, string reference, CancellationToken cancel)
    {
        using var response = await SendAsync(() =>
        {
            var r = new HttpRequestMessage(HttpMethod.Get, $"v2/{repo}/manifests/{reference}");
            foreach (var a in ManifestAccept)
                r.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(a));
            return r;
        }, Scope(repo, push: false), $"manifest {repo}:{reference}", cancel).ConfigureAwait(false);
        await EnsureSuccess(response, $"{repo}:{reference}", cancel).ConfigureAwait(false);
        if (response.Content.Headers.ContentLength > Json.MaxDocumentBytes)
            throw new ArchiveFormatException($"registry {Registry}: manifest {repo}:{reference} is over the {Json.MaxDocumentBytes}-byte limit");
        byte[] bytes = Json.ReadLimited(await response.Content.ReadAsStreamAsync(cancel).ConfigureAwait(false), $"manifest {repo}:{reference}");
        var digest = Digest.Sha256Of(bytes);
        if (Digest.TryParse(reference, out var wanted) && wanted != digest)
            throw new DigestMismatchException($"registry {Registry}: manifest {repo}@{reference} hashes to {digest}");
        if (response.Headers.TryGetValues("Docker-Content-Digest", out var values) && Digest.TryParse(values.FirstOrDefault(), out var header) && header != digest)
            throw new DigestMismatchException($"registry {Registry}: manifest {repo}:{reference} hashes to {digest}, but Docker-Content-Digest says {header}");
        string mediaType = response.Content.Headers.ContentType?.MediaType ?? "";
        return (bytes, mediaType, digest);
    }

    /// <summary>Opens a blob for reading (the first request is made now); a broken download resumes with a Range request.</summary>
    public async ValueTask<Stream> OpenBlobAsync(string repo, Digest digest, long size, CancellationToken cancel)
    {
        var first = await OpenBlobAtAsync(repo, digest, 0, cancel).ConfigureAwait(false);
        return new ResumingBlobStream(this, repo, digest, size, first, cancel);
    }

    internal async Task<Stream> OpenBlobAtAsync(string repo, Digest digest, long offset, CancellationToken cancel)
    {
        var response = await SendAsync(() =>
        {
            var r = new HttpRequestMessage(HttpMethod.Get, $"v2/{repo}/blobs/{digest}");
            if (offset > 0)
                r.Headers.Range = new RangeHeaderValue(offset, null);
            return r;
        }, Scope(repo, push: false), $"blob {repo}@{digest}", cancel, HttpCompletionOption.ResponseHeadersRead).ConfigureAwait(false);
        try
        {
            await EnsureSuccess(response, $"{repo}@{digest}", cancel).ConfigureAwait(false);
            if (offset > 0 && response.StatusCode != HttpStatusCode.PartialContent)
                throw new FerryException($"registry {Registry}: blob {repo}@{digest}: cannot resume the download (no Range support)");
            return new OwningStream(await response.Content.ReadAsStreamAsync(cancel).ConfigureAwait(false), response);
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    /// <summary>Whether the repository has the blob (HEAD).</summary>
    public async Task<bool> HasBlobAsync(string repo, Digest digest, CancellationToken cancel)
    {
        using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Head, $"v2/{repo}/blobs/{digest}"), Scope(repo, push: true), $"blob {repo}@{digest}", cancel).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
            return false;
        await EnsureSuccess(response, $"{repo}@{digest}", cancel).ConfigureAwait(false);
        return true;
    }

    // ---- writing ---------------------------------------------------------------------------------------------------

    /// <summary>Mounts a blob from another repository of this registry; false when the registry uploads instead (it then starts an upload we abandon).</summary>
    public async Task<bool> TryMountAsync(string repo, Digest digest, string from, CancellationToken cancel)
    {
        string scope = Scope(repo, push: true) + " " + Scope(from, push: false);
        using var start = await SendAsync(() => new HttpRequestMessage(HttpMethod.Post, $"v2/{repo}/blobs/uploads/?mount={digest}&from={Uri.EscapeDataString(from)}") { Content = new ByteArrayContent([]) },
            scope, $"mount {repo}@{digest} from {from}", cancel).ConfigureAwait(false);
        if (start.StatusCode == HttpStatusCode.Created)
            return true;
        await EnsureSuccess(start, $"{repo}: mount of {digest} from {from}", cancel).ConfigureAwait(false);
        return false;
    }

    /// <summary>
    /// Uploads a blob: one PUT, or PATCH chunks for blobs over <see cref="RegistryOptions.ChunkSize"/>. The content is
    /// opened by <paramref name="open"/> (again for each attempt of a monolithic upload).
    /// </summary>
    public async Task UploadBlobAsync(string repo, Digest digest, long size, Func<CancellationToken, ValueTask<Stream>> open, CancellationToken cancel)
    {
        Uri location;
        using (var start = await SendAsync(() => new HttpRequestMessage(HttpMethod.Post, $"v2/{repo}/blobs/uploads/") { Content = new ByteArrayContent([]) },
                   Scope(repo, push: true), $"upload {repo}@{digest}", cancel).ConfigureAwait(false))
        {
            await EnsureSuccess(start, $"{repo}: start upload of {digest}", cancel).ConfigureAwait(false);
            location = start.Headers.Location ?? throw new FerryException($"registry {Registry}: {repo}: upload of {digest} gave no Location");
        }
        location = await Absolute(location, cancel).ConfigureAwait(false);
        if (size > _options.ChunkSize)
        {
            await PushChunkedAsync(repo, digest, size, open, location, cancel).ConfigureAwait(false);
            return;
        }
        var opened = new List<Stream>();
        try
        {
            using var done = await SendAsync(() =>
            {
                var content = new LazyStreamContent(open, size, opened);
                content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
                content.Headers.ContentLength = size;
                return new HttpRequestMessage(HttpMethod.Put, WithDigest(location, digest)) { Content = content };
            }, Scope(repo, push: true), $"upload {repo}@{digest}", cancel).ConfigureAwait(false);
            await EnsureSuccess(done, $"{repo}: upload of {digest}", cancel).ConfigureAwait(false);
        }
        finally
        {
            foreach (var s in opened)
                await s.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>A request body opened only when it is sent (asynchronously), so that every attempt reads the content anew.</summary>
    private sealed class LazyStreamContent(Func<CancellationToken, ValueTask<Stream>> open, long size, List<Stream> opened) : HttpContent
    {
        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            var source = await open(cancellationToken).ConfigureAwait(false);
            lock (opened)
                opened.Add(source);
            await source.CopyToAsync(stream, 1 << 20, cancellationToken).ConfigureAwait(false);
        }

        protected override bool TryComputeLength(out long length)
        {
            length = size;
            return true;
        }
    }

    private async Task<Uri> Absolute(Uri location, CancellationToken cancel) =>
        location.IsAbsoluteUri ? location : new Uri(new Uri(await BaseAsync(cancel).ConfigureAwait(false)), location);

    private static Uri WithDigest(Uri location, Digest digest) =>
        new(location + (location.Query.Length > 0 ? "&" : "?") + "digest=" + Uri.EscapeDataString(digest.ToString()));

    /// <summary>
    /// A chunked upload: PATCH the blob in <see cref="RegistryOptions.ChunkSize"/> pieces (each a window of the one source
    /// stream, never held in memory), following the Location each answer gives, then PUT with the digest.
    /// </summary>
    private async Task PushChunkedAsync(string repo, Digest digest, long size, Func<CancellationToken, ValueTask<Stream>> open, Uri location, CancellationToken cancel)
    {
        await using var source = await open(cancel).ConfigureAwait(false);
        long offset = 0;
        while (offset < size)
        {
            long length = Math.Min(_options.ChunkSize, size - offset);
            long from = offset;
            var target = location;
            // A chunk cannot be re-sent once read from the source stream: no retry here.
            using var response = await SendAsync(() =>
            {
                var content = new StreamContent(new WindowStream(source, length), 1 << 20);
                content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
                content.Headers.ContentLength = length;
                var r = new HttpRequestMessage(HttpMethod.Patch, target) { Content = content };
                r.Content.Headers.TryAddWithoutValidation("Content-Range", $"{from}-{from + length - 1}");
                return r;
            }, Scope(repo, push: true), $"upload {repo}@{digest} bytes {from}-{from + length - 1}", cancel, retry: false).ConfigureAwait(false);
            await EnsureSuccess(response, $"{repo}: chunk {from}-{from + length - 1} of {digest}", cancel).ConfigureAwait(false);
            location = await Absolute(response.Headers.Location ?? location, cancel).ConfigureAwait(false);
            offset += length;
        }
        using var done = await SendAsync(() => new HttpRequestMessage(HttpMethod.Put, WithDigest(location, digest)) { Content = new ByteArrayContent([]) },
            Scope(repo, push: true), $"upload {repo}@{digest}", cancel).ConfigureAwait(false);
        await EnsureSuccess(done, $"{repo}: upload of {digest}", cancel).ConfigureAwait(false);
        // Reading the end of the content checks its digest (the registry has checked it too).
        byte[] rest = new byte[1];
        if (await source.ReadAsync(rest, cancel).ConfigureAwait(false) != 0)
            throw new DigestMismatchException($"{repo}@{digest}: content is longer than its declared size {size}");
    }

    /// <summary>The next <c>length</c> bytes of a stream, without closing it.</summary>
    private sealed class WindowStream(Stream inner, long length) : Ferry.Archive.ReadOnlyStream
    {
        private long _left = length;

        public override int Read(Span<byte> buffer) => throw new NotSupportedException("read asynchronously");

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_left <= 0 || buffer.Length == 0)
                return 0;
            int n = await inner.ReadAsync(buffer[..(int)Math.Min(buffer.Length, _left)], cancellationToken).ConfigureAwait(false);
            if (n == 0)
                throw new DigestMismatchException($"blob ended {_left} bytes before its declared size");
            _left -= n;
            return n;
        }
    }

    /// <summary>PUTs a manifest or index under a tag or its digest; checks the digest the registry answers with.</summary>
    public async Task PutManifestAsync(string repo, string reference, byte[] bytes, string mediaType, CancellationToken cancel)
    {
        using var response = await SendAsync(() =>
        {
            var content = new ByteArrayContent(bytes);
            content.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
            return new HttpRequestMessage(HttpMethod.Put, $"v2/{repo}/manifests/{reference}") { Content = content };
        }, Scope(repo, push: true), $"manifest {repo}:{reference}", cancel).ConfigureAwait(false);
        await EnsureSuccess(response, $"{repo}:{reference}", cancel).ConfigureAwait(false);
        var digest = Digest.Sha256Of(bytes);
        if (response.Headers.TryGetValues("Docker-Content-Digest", out var values) && Digest.TryParse(values.FirstOrDefault(), out var header) && header != digest)
            throw new DigestMismatchException($"registry {Registry}: stored manifest {repo}:{reference} as {header}, not {digest}");
    }

    // ---- transport -------------------------------------------------------------------------------------------------

    private static string Scope(string repo, bool push) => $"repository:{repo}:{(push ? "pull,push" : "pull")}";

    /// <summary>https, or http for a registry that does not speak TLS when that is allowed.</summary>
    private async Task<string> BaseAsync(CancellationToken cancel)
    {
        if (_scheme is not null)
            return $"{_scheme}://{Registry}/";
        await _schemeLock.WaitAsync(cancel).ConfigureAwait(false);
        try
        {
            if (_scheme is not null)
                return $"{_scheme}://{Registry}/";
            // The probe is bounded in time: a server that never answers the TLS handshake must not hang us.
            using var probe = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            probe.CancelAfter(ProbeTimeout);
            try
            {
                using var r = await _http.GetAsync($"https://{Registry}/v2/", probe.Token).ConfigureAwait(false);
                _scheme = "https";
            }
            catch (Exception e) when (AllowHttp && !cancel.IsCancellationRequested &&
                                      (e is OperationCanceledException || e.InnerException is System.Security.Authentication.AuthenticationException or IOException))
            {
                using var plain = CancellationTokenSource.CreateLinkedTokenSource(cancel);
                plain.CancelAfter(ProbeTimeout);
                using var r = await _http.GetAsync($"http://{Registry}/v2/", plain.Token).ConfigureAwait(false);
                _scheme = "http";
            }
            catch (OperationCanceledException e) when (!cancel.IsCancellationRequested)
            {
                throw new FerryException($"registry {Registry}: unreachable: no answer within {ProbeTimeout.TotalSeconds:0} s", e);
            }
            return $"{_scheme}://{Registry}/";
        }
        catch (HttpRequestException e)
        {
            throw new FerryException($"registry {Registry}: unreachable: {Inner(e)}", e);
        }
        finally
        {
            _schemeLock.Release();
        }
    }

    private static string Inner(Exception e)
    {
        var x = e;
        while (x.InnerException is not null)
            x = x.InnerException;
        return x.Message;
    }

    /// <summary>Sends a request (made anew for each attempt), authenticating on 401 and retrying 429/5xx and broken connections.</summary>
    internal async Task<HttpResponseMessage> SendAsync(Func<HttpRequestMessage> make, string scope, string what, CancellationToken cancel,
        HttpCompletionOption completion = HttpCompletionOption.ResponseContentRead, bool retry = true)
    {
        string root = await BaseAsync(cancel).ConfigureAwait(false);
        bool authenticated = false;
        TimeSpan delay = _options.RetryDelay;
        for (int attempt = 1; ; attempt++)
        {
            using var request = make();
            if (!request.RequestUri!.IsAbsoluteUri)
                request.RequestUri = new Uri(new Uri(root), request.RequestUri);
            string? auth;
            lock (_tokenLock)
                auth = _tokens.GetValueOrDefault(scope);
            if (auth is not null)
                request.Headers.Authorization = AuthenticationHeaderValue.Parse(auth);
            HttpResponseMessage response;
            try
            {
                response = await _http.SendAsync(request, completion, cancel).ConfigureAwait(false);
            }
            catch (HttpRequestException e) when (retry && attempt < _options.Attempts && e.InnerException is not FerryException)
            {
                await Task.Delay(delay, cancel).ConfigureAwait(false);
                delay *= 2;
                continue;
            }
            catch (HttpRequestException e)
            {
                if (e.InnerException is FerryException f)
                    throw f;
                throw new FerryException($"registry {Registry}: {what}: {Inner(e)}", e);
            }
            if (response.StatusCode == HttpStatusCode.Unauthorized && !authenticated && response.Headers.WwwAuthenticate.FirstOrDefault() is { } challenge)
            {
                authenticated = true;
                string header = await AuthenticateAsync(challenge, scope, cancel).ConfigureAwait(false);
                lock (_tokenLock)
                    _tokens[scope] = header;
                response.Dispose();
                attempt--;
                continue;
            }
            if (retry && (response.StatusCode == HttpStatusCode.TooManyRequests || (int)response.StatusCode >= 500) && attempt < _options.Attempts)
            {
                var wait = response.Headers.RetryAfter?.Delta ?? delay;
                response.Dispose();
                await Task.Delay(wait < TimeSpan.FromSeconds(30) ? wait : TimeSpan.FromSeconds(30), cancel).ConfigureAwait(false);
                delay *= 2;
                continue;
            }
            return response;
        }
    }

    /// <summary>Answers a WWW-Authenticate challenge: Basic with the credentials, or a Bearer token from the realm.</summary>
    private async Task<string> AuthenticateAsync(AuthenticationHeaderValue challenge, string scope, CancellationToken cancel)
    {
        if (string.Equals(challenge.Scheme, "Basic", StringComparison.OrdinalIgnoreCase))
            return "Basic " + (_basic ?? throw new FerryException($"registry {Registry}: authentication required (use --creds or --authfile)"));
        if (!string.Equals(challenge.Scheme, "Bearer", StringComparison.OrdinalIgnoreCase))
            throw new FerryException($"registry {Registry}: unsupported authentication scheme {challenge.Scheme}");
        var p = ParseChallenge(challenge.Parameter ?? "");
        string realm = p.GetValueOrDefault("realm") ?? throw new FerryException($"registry {Registry}: bearer challenge without realm");
        var query = new StringBuilder();
        if (p.TryGetValue("service", out var service))
            query.Append("service=").Append(Uri.EscapeDataString(service));
        foreach (var s in scope.Split(' '))
            query.Append(query.Length > 0 ? "&" : "").Append("scope=").Append(Uri.EscapeDataString(s));
        using var request = new HttpRequestMessage(HttpMethod.Get, realm + (realm.Contains('?', StringComparison.Ordinal) ? "&" : "?") + query);
        if (_basic is not null)
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", _basic);
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, cancel).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new FerryException($"registry {Registry}: token server {realm}: {Inner(e)}", e);
        }
        using (response)
        {
            if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
                throw new FerryException($"registry {Registry}: token server {realm} refused the credentials ({(int)response.StatusCode})");
            if (!response.IsSuccessStatusCode)
                throw new FerryException($"registry {Registry}: token server {realm}: {(int)response.StatusCode} {response.ReasonPhrase}");
            using var doc = JsonDocument.Parse(await response.Content.ReadAsByteArrayAsync(cancel).ConfigureAwait(false));
            string token = Json.OptString(doc.RootElement, "token") ?? Json.OptString(doc.RootElement, "access_token")
                ?? throw new FerryException($"registry {Registry}: token server {realm} returned no token");
            return "Bearer " + token;
        }
    }

    internal static Dictionary<string, string> ParseChallenge(string parameter)
    {
        var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var m = System.Text.RegularExpressions.Regex.Matches(parameter, "([A-Za-z]+)=\"([^\"]*)\"", System.Text.RegularExpressions.RegexOptions.CultureInvariant);
        foreach (System.Text.RegularExpressions.Match x in m)
            result[x.Groups[1].Value] = x.Groups[2].Value;
        return result;
    }

    /// <summary>Turns an error response into a one-line exception: the registry's structured errors when it sends them.</summary>
    private async Task EnsureSuccess(HttpResponseMessage response, string what, CancellationToken cancel)
    {
        if (response.IsSuccessStatusCode)
            return;
        string body = "";
        try
        {
            body = await response.Content.ReadAsStringAsync(cancel).ConfigureAwait(false);
        }
        catch (HttpRequestException)
        {
        }
        string detail = $"{(int)response.StatusCode} {response.ReasonPhrase}";
        try
        {
            using var doc = JsonDocument.Parse(body);
            if (Json.OptArray(doc.RootElement, "errors") is JsonElement errors)
            {
                detail = string.Join("; ", errors.EnumerateArray().Select(e => $"{Json.OptString(e, "code")}: {Json.OptString(e, "message")}"));
            }
        }
        catch (JsonException)
        {
        }
        string message = $"registry {Registry}: {what}: {detail}";
        throw response.StatusCode switch
        {
            HttpStatusCode.NotFound => new ImageNotFoundException(message),
            HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden => new FerryException(message + (_basic is null ? " (no credentials: use --creds or --authfile)" : " (check the credentials)")),
            _ => new FerryException(message),
        };
    }

    public void Dispose()
    {
        _http.Dispose();
        _schemeLock.Dispose();
    }

    /// <summary>A response stream that disposes its response.</summary>
    private sealed class OwningStream(Stream inner, HttpResponseMessage owner) : Ferry.Archive.ReadOnlyStream
    {
        public override int Read(Span<byte> buffer) => inner.Read(buffer);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
                owner.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}

/// <summary>
/// Reads a blob; when the connection breaks, reopens it at the current offset with a Range request (3 times). Read
/// asynchronously only: a network read must not block a thread.
/// </summary>
internal sealed class ResumingBlobStream(RegistryClient client, string repo, Digest digest, long size, Stream first, CancellationToken cancel) : Ferry.Archive.ReadOnlyStream
{
    private Stream? _current = first;
    private long _position;
    private int _resumes;

    public override long Length => size;
    public override long Position { get => _position; set => throw new NotSupportedException(); }

    public override int Read(Span<byte> buffer) => throw new NotSupportedException("a registry blob is read asynchronously");

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancel, cancellationToken);
        while (true)
        {
            _current ??= await client.OpenBlobAtAsync(repo, digest, _position, linked.Token).ConfigureAwait(false);
            try
            {
                int n = await _current.ReadAsync(buffer, linked.Token).ConfigureAwait(false);
                _position += n;
                return n;
            }
            catch (Exception e) when (e is IOException or HttpRequestException && _resumes < 3 && _position < size && !linked.IsCancellationRequested)
            {
                _resumes++;
                await _current.DisposeAsync().ConfigureAwait(false);
                _current = null;
            }
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            _current?.Dispose();
        base.Dispose(disposing);
    }
}

/// <summary>Credentials for a registry: --creds, --authfile, REGISTRY_AUTH_FILE, podman's auth.json, docker's config.json.</summary>
internal static class Credentials
{
    /// <summary>base64(user:password) for <paramref name="registry"/>, or null.</summary>
    public static string? Find(string registry, RegistryOptions options)
    {
        if (options.Credentials is string creds)
        {
            if (!creds.Contains(':', StringComparison.Ordinal))
                throw new UsageException("--creds wants USER:PASSWORD");
            return Convert.ToBase64String(Encoding.UTF8.GetBytes(creds));
        }
        var files = new List<string?>
        {
            options.AuthFile,
            Environment.GetEnvironmentVariable("REGISTRY_AUTH_FILE"),
            Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR") is { Length: > 0 } run ? Path.Combine(run, "containers", "auth.json") : null,
            Path.Combine(Environment.GetEnvironmentVariable("DOCKER_CONFIG") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".docker"), "config.json"),
        };
        foreach (var file in files.Where(f => f is not null && File.Exists(f)))
        {
            try
            {
                using var doc = JsonDocument.Parse(File.ReadAllBytes(file!));
                if (Json.OptObject(doc.RootElement, "auths") is not JsonElement auths)
                    continue;
                foreach (var entry in auths.EnumerateObject())
                {
                    string key = entry.Name;
                    if (key.Contains("://", StringComparison.Ordinal))
                        key = new Uri(key).Authority;
                    key = key.TrimEnd('/');
                    if ((key == registry || (registry == "docker.io" && key is "index.docker.io" or "registry-1.docker.io")) && Json.OptString(entry.Value, "auth") is { Length: > 0 } auth)
                        return auth;
                }
            }
            catch (JsonException)
            {
                throw new UsageException($"{file}: not a valid auth file (JSON)");
            }
        }
        if (options.AuthFile is string missing && !File.Exists(missing))
            throw new UsageException($"--authfile {missing}: no such file");
        return null;
    }
}
