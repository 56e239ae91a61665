using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Ferry.Digests;
using Ferry.Model;
using Ferry.Transports.Http;

namespace Ferry.Transports.Registry;

/// <summary>
/// A client of one registry's OCI distribution API: manifests and blobs (with Docker-Content-Digest checks, resumed
/// downloads), uploads (HEAD first, cross-repository mount, monolithic PUT or PATCH chunks), anonymous, basic and
/// bearer-token auth, retries with backoff on 429, 5xx and broken connections. The registry is a stranger: credentials
/// and tokens go only to its own origin (never to a redirect or an upload Location elsewhere, never to a realm that
/// downgrades from https); a TLS failure is reported, never retried as plain HTTP; every body is read with a limit and
/// every wait has a timeout (<see cref="TransportOptions.Timeout"/>); registry errors become one-line messages.
/// </summary>
internal sealed class RegistryClient : IDisposable
{
    public static readonly string[] ManifestAccept = [MediaTypes.OciManifest, MediaTypes.OciIndex, MediaTypes.DockerManifest, MediaTypes.DockerManifestList];

    /// <summary>The most redirects followed for one request.</summary>
    private const int MaxRedirects = 5;

    private readonly HttpClient _http;
    private readonly RegistryOptions _options;
    private readonly Lazy<string?> _basic;
    private readonly Dictionary<string, string> _tokens = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _schemeLock = new(1, 1);
    private readonly Lock _tokenLock = new();
    private string? _scheme;
    private string? _tlsProblem;
    private readonly TimeSpan _timeout;

    /// <param name="registry"><c>host[:port]</c>.</param>
    /// <param name="options">Credentials, TLS and retry settings.</param>
    /// <param name="timeout">How long the registry may keep us waiting (see <see cref="TransportOptions.Timeout"/>).</param>
    public RegistryClient(string registry, RegistryOptions options, TimeSpan timeout)
    {
        Registry = registry;
        _options = options;
        _timeout = timeout;
        var handler = new SocketsHttpHandler
        {
            // Redirects are followed by hand: credentials must not follow them to another host.
            AllowAutoRedirect = false,
            MaxConnectionsPerServer = Math.Max(2, options.Concurrency * 2),
            ConnectTimeout = timeout < TimeSpan.FromSeconds(30) ? timeout : TimeSpan.FromSeconds(30),
            MaxResponseHeadersLength = 64,
        };
        X509Certificate2Collection? roots = null;
        if (!options.Insecure && options.CaCertificate is string ca)
        {
            roots = [];
            string pem = Encoding.UTF8.GetString(IO.LocalFiles.ReadSmall(ca, 4 << 20, $"--ca-cert {ca}"));
            try
            {
                roots.ImportFromPem(pem);
            }
            catch (System.Security.Cryptography.CryptographicException e)
            {
                throw new UsageException($"--ca-cert {ca}: cannot read PEM certificates: {e.Message}");
            }
        }
        handler.SslOptions.RemoteCertificateValidationCallback = (_, cert, chain, errors) => Validate(cert, chain, errors, roots);
        _http = new HttpClient(handler) { Timeout = System.Threading.Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd("ferry/1.0");
        AllowHttp = options.Insecure || IsLocal(registry);
        // Found on first use: a credential helper runs only when the registry asks for credentials.
        _basic = new Lazy<string?>(() => Credentials.Find(registry, options, timeout), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    public string Registry { get; }

    /// <summary>How long the first contact (TLS or plain HTTP) may take.</summary>
    public TimeSpan ProbeTimeout => _timeout < TimeSpan.FromSeconds(15) ? _timeout : TimeSpan.FromSeconds(15);

    /// <summary>Whether plain HTTP may be used (insecure, or a loopback registry).</summary>
    public bool AllowHttp { get; }

    internal static bool IsLocal(string registry)
    {
        string host = registry.StartsWith('[') ? registry[..(registry.IndexOf(']', StringComparison.Ordinal) + 1)] : registry.Split(':')[0];
        return host is "localhost" or "[::1]" || host.StartsWith("127.", StringComparison.Ordinal);
    }

    /// <summary>Checks the registry's certificate (the system's roots, or <c>--ca-cert</c>'s, or none with <c>--insecure</c>) and remembers why it failed.</summary>
    private bool Validate(X509Certificate? cert, X509Chain? chain, SslPolicyErrors errors, X509Certificate2Collection? roots)
    {
        if (_options.Insecure || errors == SslPolicyErrors.None)
            return true;
        if (cert is not null && roots is not null && (errors & SslPolicyErrors.RemoteCertificateNameMismatch) == 0)
        {
            using var custom = new X509Chain();
            custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            custom.ChainPolicy.CustomTrustStore.AddRange(roots);
            custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            if (custom.Build(new X509Certificate2(cert)))
                return true;
            chain = custom;
        }
        _tlsProblem = (errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0 ? $"x509: certificate is not valid for {Registry}"
            : (errors & SslPolicyErrors.RemoteCertificateNotAvailable) != 0 ? "x509: the registry sent no certificate"
            : chain?.ChainStatus.Any(s => s.Status == X509ChainStatusFlags.NotTimeValid) == true ? "x509: certificate has expired or is not yet valid"
            : "x509: certificate signed by unknown authority";
        return false;
    }

    private string? Basic => _basic.Value;

    // ---- reading ---------------------------------------------------------------------------------------------------

    /// <summary>GETs a manifest or index (within <see cref="Json.MaxDocumentBytes"/> and the timeout); checks its digest (the reference's, or the Docker-Content-Digest header).</summary>
    public async Task<(byte[] Bytes, string MediaType, Digest Digest)> GetManifestAsync(string repo, string reference, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(() =>
        {
            var r = new HttpRequestMessage(HttpMethod.Get, $"v2/{repo}/manifests/{reference}");
            foreach (var a in ManifestAccept)
                r.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(a));
            return r;
        }, Scope(repo, push: false), $"manifest {At(repo, reference)}", cancellationToken).ConfigureAwait(false);
        await EnsureSuccess(response, At(repo, reference), cancellationToken, repo).ConfigureAwait(false);
        byte[] bytes = await HttpLimits.ReadBodyAsync(response, Json.MaxDocumentBytes, _timeout, $"registry {Registry}", $"manifest {At(repo, reference)}", cancellationToken).ConfigureAwait(false);
        var digest = Digest.Sha256Of(bytes);
        if (Digest.TryParse(reference, out var wanted) && wanted != digest)
            throw new DigestMismatchException($"registry {Registry}: manifest {repo}@{reference} hashes to {digest}") { Expected = wanted, Actual = digest };
        if (response.Headers.TryGetValues("Docker-Content-Digest", out var values) && Digest.TryParse(values.FirstOrDefault(), out var header) && header != digest)
            throw new DigestMismatchException($"registry {Registry}: manifest {At(repo, reference)} hashes to {digest}, but Docker-Content-Digest says {header}");
        string mediaType = response.Content.Headers.ContentType?.MediaType ?? "";
        return (bytes, mediaType, digest);
    }

    /// <summary>Opens a blob for reading (the first request is made now); a broken or stalled download resumes with a Range request.</summary>
    public async ValueTask<Stream> OpenBlobAsync(string repo, Digest digest, long size, CancellationToken cancellationToken)
    {
        var first = await OpenBlobAtAsync(repo, digest, 0, cancellationToken).ConfigureAwait(false);
        return new ResumingBlobStream(this, repo, digest, size, first, _options.Resumes, cancellationToken);
    }

    internal async Task<Stream> OpenBlobAtAsync(string repo, Digest digest, long offset, CancellationToken cancellationToken)
    {
        var response = await SendAsync(() =>
        {
            var r = new HttpRequestMessage(HttpMethod.Get, $"v2/{repo}/blobs/{digest}");
            if (offset > 0)
                r.Headers.Range = new RangeHeaderValue(offset, null);
            return r;
        }, Scope(repo, push: false), $"blob {repo}@{digest}", cancellationToken).ConfigureAwait(false);
        try
        {
            await EnsureSuccess(response, $"{repo}: blob {digest}", cancellationToken, repo).ConfigureAwait(false);
            if (offset > 0 && response.StatusCode != HttpStatusCode.PartialContent)
                throw new PeerException($"registry {Registry}: blob {repo}@{digest}: cannot resume the download at byte {offset} (no Range support)");
            var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            return new IdleTimeoutStream(body, _timeout, response, HttpLimits.MinTransferRate);
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The referrers of a manifest through the OCI 1.1 referrers API (<c>GET /v2/REPO/referrers/DIGEST</c>), or null when
    /// the registry has no such API (404: the caller then reads the <c>sha256-HEX</c> fallback tag).
    /// </summary>
    public async Task<IReadOnlyList<Descriptor>?> GetReferrersAsync(string repo, Digest digest, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(() =>
        {
            var r = new HttpRequestMessage(HttpMethod.Get, $"v2/{repo}/referrers/{digest}");
            r.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(MediaTypes.OciIndex));
            return r;
        }, Scope(repo, push: false), $"referrers of {repo}@{digest}", cancellationToken).ConfigureAwait(false);
        if (response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.MethodNotAllowed or HttpStatusCode.BadRequest)
            return null;
        await EnsureSuccess(response, $"referrers of {repo}@{digest}", cancellationToken, repo).ConfigureAwait(false);
        if (response.Content.Headers.ContentType?.MediaType is string type && type != MediaTypes.OciIndex && !type.Contains("json", StringComparison.Ordinal))
            return null;
        byte[] body = await HttpLimits.ReadBodyAsync(response, Json.MaxDocumentBytes, _timeout, $"registry {Registry}", $"referrers of {repo}@{digest}", cancellationToken).ConfigureAwait(false);
        return ImageIndex.Parse(body, MediaTypes.OciIndex, $"registry {Registry}: referrers of {repo}@{digest}").Manifests;
    }

    /// <summary>The most tags <see cref="ListTagsAsync"/> collects (over every page): a registry that sends more is refused, not followed.</summary>
    public const int MaxTags = 100_000;

    /// <summary>
    /// Every tag of a repository (<c>GET /v2/REPO/tags/list</c>), following the <c>Link</c> header's next pages on the
    /// registry's own origin, each page within <see cref="Json.MaxDocumentBytes"/>, at most <see cref="MaxTags"/> in all.
    /// </summary>
    public async Task<IReadOnlyList<string>> ListTagsAsync(string repo, CancellationToken cancellationToken)
    {
        var tags = new List<string>();
        string? next = $"v2/{repo}/tags/list?n=1000";
        for (int page = 0; next is not null; page++)
        {
            string url = next;
            using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Get, url), Scope(repo, push: false), $"tags of {repo}", cancellationToken).ConfigureAwait(false);
            await EnsureSuccess(response, $"tags of {repo}", cancellationToken, repo).ConfigureAwait(false);
            byte[] body = await HttpLimits.ReadBodyAsync(response, Json.MaxDocumentBytes, _timeout, $"registry {Registry}", $"tags of {repo}", cancellationToken).ConfigureAwait(false);
            try
            {
                using var doc = JsonDocument.Parse(body);
                if (Json.OptArray(doc.RootElement, "tags") is JsonElement list)
                {
                    foreach (var t in list.EnumerateArray())
                    {
                        if (t.ValueKind == JsonValueKind.String && t.GetString() is string tag)
                            tags.Add(tag);
                    }
                }
            }
            catch (JsonException e)
            {
                throw new PeerException($"registry {Registry}: tags of {repo}: not a tag list: {e.Message}", e);
            }
            if (tags.Count > MaxTags)
                throw new PeerException($"registry {Registry}: tags of {repo}: more than {MaxTags} tags");
            next = NextPage(response, repo);
        }
        return tags;
    }

    /// <summary>The next page of a listing from its <c>Link: &lt;URL&gt;; rel="next"</c> header: a path on this registry, or null.</summary>
    private string? NextPage(HttpResponseMessage response, string repo)
    {
        if (!response.Headers.TryGetValues("Link", out var links))
            return null;
        foreach (var link in links)
        {
            int open = link.IndexOf('<', StringComparison.Ordinal), close = link.IndexOf('>', StringComparison.Ordinal);
            if (open < 0 || close < open || !link.Contains("rel=\"next\"", StringComparison.Ordinal))
                continue;
            string target = link[(open + 1)..close];
            // Only the registry's own listing: a Link elsewhere would carry the credentials off.
            if (!target.StartsWith($"/v2/{repo}/tags/list", StringComparison.Ordinal))
                throw new PeerException($"registry {Registry}: tags of {repo}: the next page is not this repository's tag list ({Digest.Describe(target)})");
            return target[1..];
        }
        return null;
    }

    /// <summary>
    /// Deletes a manifest by digest (<c>DELETE /v2/REPO/manifests/DIGEST</c>): every tag pointing at it goes with it,
    /// as the distribution spec has it. A registry that does not allow deletes says so (405).
    /// </summary>
    public async Task DeleteManifestAsync(string repo, Digest digest, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Delete, $"v2/{repo}/manifests/{digest}"), $"repository:{repo}:delete,pull,push", $"manifest {repo}@{digest}", cancellationToken, retry: false).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.MethodNotAllowed)
            throw new PeerException($"registry {Registry}: {repo}@{digest}: the registry does not allow deletes (405; docker-registry needs storage.delete.enabled)");
        await EnsureSuccess(response, $"{repo}@{digest}", cancellationToken, repo).ConfigureAwait(false);
    }

    /// <summary>Whether the repository has the blob (HEAD).</summary>
    public async Task<bool> HasBlobAsync(string repo, Digest digest, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Head, $"v2/{repo}/blobs/{digest}"), Scope(repo, push: true), $"blob {repo}@{digest}", cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
            return false;
        await EnsureSuccess(response, $"{repo}: blob {digest}", cancellationToken, repo).ConfigureAwait(false);
        return true;
    }

    /// <summary>Checks that the registry takes the credentials (<c>GET /v2/</c>, authenticating when challenged), for <c>ferry login</c>.</summary>
    public async Task CheckLoginAsync(CancellationToken cancellationToken)
    {
        using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Get, "v2/"), "", "login", cancellationToken).ConfigureAwait(false);
        await EnsureSuccess(response, "login", cancellationToken).ConfigureAwait(false);
    }

    // ---- writing ---------------------------------------------------------------------------------------------------

    /// <summary>Mounts a blob from another repository of this registry; false when the registry uploads instead (it then starts an upload we abandon).</summary>
    public async Task<bool> TryMountAsync(string repo, Digest digest, string from, CancellationToken cancellationToken)
    {
        string scope = Scope(repo, push: true) + " " + Scope(from, push: false);
        using var start = await SendAsync(() => new HttpRequestMessage(HttpMethod.Post, $"v2/{repo}/blobs/uploads/?mount={digest}&from={Uri.EscapeDataString(from)}") { Content = new ByteArrayContent([]) },
            scope, $"mount {repo}@{digest} from {from}", cancellationToken).ConfigureAwait(false);
        if (start.StatusCode == HttpStatusCode.Created)
            return true;
        await EnsureSuccess(start, $"{repo}: mount of {digest} from {from}", cancellationToken, repo).ConfigureAwait(false);
        return false;
    }

    /// <summary>
    /// Uploads a blob: one PUT, or PATCH chunks for blobs over <see cref="RegistryOptions.ChunkSize"/>. The content is
    /// opened by <paramref name="open"/> (again for each attempt of a monolithic upload).
    /// </summary>
    public async Task UploadBlobAsync(string repo, Digest digest, long size, Func<CancellationToken, ValueTask<Stream>> open, CancellationToken cancellationToken)
    {
        Uri location;
        using (var start = await SendAsync(() => new HttpRequestMessage(HttpMethod.Post, $"v2/{repo}/blobs/uploads/") { Content = new ByteArrayContent([]) },
                   Scope(repo, push: true), $"upload {repo}@{digest}", cancellationToken).ConfigureAwait(false))
        {
            await EnsureSuccess(start, $"{repo}: start upload of {digest}", cancellationToken, repo).ConfigureAwait(false);
            location = start.Headers.Location ?? throw new PeerException($"registry {Registry}: {repo}: upload of {digest} gave no Location");
        }
        location = await Absolute(location, cancellationToken).ConfigureAwait(false);
        if (size > _options.ChunkSize)
        {
            await PushChunkedAsync(repo, digest, size, open, location, cancellationToken).ConfigureAwait(false);
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
            }, Scope(repo, push: true), $"upload {repo}@{digest}", cancellationToken).ConfigureAwait(false);
            await EnsureSuccess(done, $"{repo}: upload of {digest}", cancellationToken, repo).ConfigureAwait(false);
            RequireCreated(done, $"{repo}: upload of {digest}");
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

    private async Task<Uri> Absolute(Uri location, CancellationToken cancellationToken) =>
        location.IsAbsoluteUri ? location : new Uri(new Uri(await BaseAsync(cancellationToken).ConfigureAwait(false)), location);

    private static Uri WithDigest(Uri location, Digest digest) =>
        new(location + (location.Query.Length > 0 ? "&" : "?") + "digest=" + Uri.EscapeDataString(digest.ToString()));

    /// <summary>
    /// A chunked upload: PATCH the blob in <see cref="RegistryOptions.ChunkSize"/> pieces (each a window of the one source
    /// stream, never held in memory), following the Location each answer gives, then PUT with the digest.
    /// </summary>
    private async Task PushChunkedAsync(string repo, Digest digest, long size, Func<CancellationToken, ValueTask<Stream>> open, Uri location, CancellationToken cancellationToken)
    {
        await using var source = await open(cancellationToken).ConfigureAwait(false);
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
            }, Scope(repo, push: true), $"upload {repo}@{digest} bytes {from}-{from + length - 1}", cancellationToken, retry: false).ConfigureAwait(false);
            await EnsureSuccess(response, $"{repo}: chunk {from}-{from + length - 1} of {digest}", cancellationToken, repo).ConfigureAwait(false);
            location = await Absolute(response.Headers.Location ?? location, cancellationToken).ConfigureAwait(false);
            offset += length;
        }
        using var done = await SendAsync(() => new HttpRequestMessage(HttpMethod.Put, WithDigest(location, digest)) { Content = new ByteArrayContent([]) },
            Scope(repo, push: true), $"upload {repo}@{digest}", cancellationToken).ConfigureAwait(false);
        await EnsureSuccess(done, $"{repo}: upload of {digest}", cancellationToken, repo).ConfigureAwait(false);
        RequireCreated(done, $"{repo}: upload of {digest}");
        // Reading the end of the content checks its digest (the registry has checked it too).
        byte[] rest = new byte[1];
        if (await source.ReadAsync(rest, cancellationToken).ConfigureAwait(false) != 0)
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

    /// <summary>
    /// PUTs a manifest or index under a tag or its digest; checks the digest the registry answers with. Returns whether
    /// the registry says it indexed the manifest's <c>subject</c> (an <c>OCI-Subject</c> header: it has the referrers API).
    /// </summary>
    public async Task<bool> PutManifestAsync(string repo, string reference, byte[] bytes, string mediaType, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(() =>
        {
            var content = new ByteArrayContent(bytes);
            content.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
            return new HttpRequestMessage(HttpMethod.Put, $"v2/{repo}/manifests/{reference}") { Content = content };
        }, Scope(repo, push: true), $"manifest {At(repo, reference)}", cancellationToken).ConfigureAwait(false);
        await EnsureSuccess(response, At(repo, reference), cancellationToken, repo).ConfigureAwait(false);
        RequireCreated(response, $"manifest {At(repo, reference)}");
        var digest = Digest.Sha256Of(bytes);
        if (response.Headers.TryGetValues("Docker-Content-Digest", out var values) && Digest.TryParse(values.FirstOrDefault(), out var header) && header != digest)
            throw new DigestMismatchException($"registry {Registry}: stored manifest {At(repo, reference)} as {header}, not {digest}");
        return response.Headers.Contains("OCI-Subject");
    }

    /// <summary>
    /// The distribution spec answers a finished blob upload and a manifest PUT with <c>201 Created</c>; any other success
    /// (202 Accepted: still in progress, 200) does not say the content is stored, so it is not taken as pushed.
    /// </summary>
    private void RequireCreated(HttpResponseMessage response, string what)
    {
        if (response.StatusCode != HttpStatusCode.Created)
            throw new PeerException($"registry {Registry}: {what}: answered {(int)response.StatusCode} {response.ReasonPhrase} where the distribution spec requires 201 Created; not taken as stored");
    }

    // ---- transport -------------------------------------------------------------------------------------------------

    private static string Scope(string repo, bool push) => $"repository:{repo}:{(push ? "pull,push" : "pull")}";

    /// <summary>
    /// https, or http for a registry that does not speak TLS at all when that is allowed (loopback, <c>--insecure</c>).
    /// A TLS registry whose certificate fails is an error naming the reason, never a fall back to plain HTTP.
    /// </summary>
    private async Task<string> BaseAsync(CancellationToken cancellationToken)
    {
        if (_scheme is not null)
            return $"{_scheme}://{Registry}/";
        await _schemeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_scheme is not null)
                return $"{_scheme}://{Registry}/";
            using var probe = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            probe.CancelAfter(ProbeTimeout);
            try
            {
                using var r = await _http.GetAsync($"https://{Registry}/v2/", HttpCompletionOption.ResponseHeadersRead, probe.Token).ConfigureAwait(false);
                _scheme = "https";
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested && _tlsProblem is not null)
            {
                throw new PeerException($"registry {Registry}: {_tlsProblem} (trust its CA with --ca-cert FILE, or skip verification with --insecure)", e);
            }
            catch (Exception e) when (AllowHttp && !cancellationToken.IsCancellationRequested &&
                                      (e is OperationCanceledException || e.InnerException is System.Security.Authentication.AuthenticationException or IOException))
            {
                // Not TLS at all (a plain-HTTP registry hangs up on the handshake, or answers with something else).
                using var plain = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                plain.CancelAfter(ProbeTimeout);
                using var r = await _http.GetAsync($"http://{Registry}/v2/", HttpCompletionOption.ResponseHeadersRead, plain.Token).ConfigureAwait(false);
                _scheme = "http";
            }
            return $"{_scheme}://{Registry}/";
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new PeerException($"registry {Registry}: unreachable: no answer within {HttpLimits.Seconds(ProbeTimeout)}", e);
        }
        catch (HttpRequestException e)
        {
            throw new PeerException($"registry {Registry}: unreachable: {HttpLimits.Innermost(e)}", e);
        }
        finally
        {
            _schemeLock.Release();
        }
    }

    /// <summary>
    /// Sends a request (made anew for each attempt): the answer's headers must come within the timeout once the body is
    /// sent. Authenticates on 401 (credentials and tokens only ever go to the registry's own origin), follows redirects
    /// by hand (without credentials when they leave it), and retries 429/5xx, broken connections and timeouts.
    /// The response body is not read: callers read it with a limit.
    /// </summary>
    internal async Task<HttpResponseMessage> SendAsync(Func<HttpRequestMessage> make, string scope, string what, CancellationToken cancellationToken, bool retry = true)
    {
        var root = new Uri(await BaseAsync(cancellationToken).ConfigureAwait(false));
        bool authenticated = false;
        TimeSpan delay = _options.RetryDelay;
        long started = Stopwatch.GetTimestamp();
        for (int attempt = 1; ; attempt++)
        {
            Uri? redirected = null;
            HttpResponseMessage response;
            for (int hop = 0; ; hop++)
            {
                using var request = make();
                if (redirected is not null)
                {
                    request.RequestUri = redirected;
                    if (request.Method == HttpMethod.Post || request.Method == HttpMethod.Put || request.Method == HttpMethod.Patch)
                        throw new PeerException($"registry {Registry}: {what}: the registry redirected a {request.Method} (not followed)");
                }
                else if (!request.RequestUri!.IsAbsoluteUri)
                {
                    request.RequestUri = new Uri(root, request.RequestUri);
                }
                if (HttpLimits.SameOrigin(request.RequestUri!, root))
                {
                    string? auth;
                    lock (_tokenLock)
                        auth = _tokens.GetValueOrDefault(scope);
                    if (auth is not null)
                        request.Headers.Authorization = AuthenticationHeaderValue.Parse(auth);
                }
                else if (request.RequestUri!.Scheme != Uri.UriSchemeHttps && root.Scheme == Uri.UriSchemeHttps)
                {
                    throw new PeerException($"registry {Registry}: {what}: the registry sent Ferry from https to plain http ({request.RequestUri!.GetLeftPart(UriPartial.Authority)}); not followed");
                }
                try
                {
                    response = await SendWithTimeoutAsync(request, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (retry && attempt < _options.Attempts && e is HttpRequestException && e.InnerException is not FerryException)
                {
                    // A broken connection is tried again; no answer at all (a timeout) is not: the whole wait of a
                    // request is one --timeout, not one per attempt.
                    response = null!;
                    break;
                }
                catch (HttpRequestException e)
                {
                    if (e.InnerException is FerryException f)
                        throw f;
                    throw new PeerException($"registry {Registry}: {what}: {HttpLimits.Innermost(e)}", e);
                }
                catch (TimeoutException e)
                {
                    throw new PeerException($"registry {Registry}: {what}: no answer within {HttpLimits.Seconds(_timeout)} (waited {HttpLimits.Seconds(Stopwatch.GetElapsedTime(started))} in all, {attempt} attempt{(attempt == 1 ? "" : "s")})", e);
                }
                if (!HttpLimits.IsRedirect(response.StatusCode) || response.Headers.Location is not Uri location)
                    break;
                response.Dispose();
                if (hop >= MaxRedirects)
                    throw new PeerException($"registry {Registry}: {what}: more than {MaxRedirects} redirects");
                redirected = location.IsAbsoluteUri ? location : new Uri(request.RequestUri!, location);
            }
            if (response is null)
            {
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                delay *= 2;
                continue;
            }
            if (response.StatusCode == HttpStatusCode.Unauthorized && !authenticated && response.Headers.WwwAuthenticate.FirstOrDefault() is { } challenge)
            {
                authenticated = true;
                response.Dispose();
                string header = await AuthenticateAsync(challenge, scope, root, cancellationToken).ConfigureAwait(false);
                lock (_tokenLock)
                    _tokens[scope] = header;
                attempt--;
                continue;
            }
            if (retry && (response.StatusCode == HttpStatusCode.TooManyRequests || (int)response.StatusCode >= 500) && attempt < _options.Attempts
                && Stopwatch.GetElapsedTime(started) + (response.Headers.RetryAfter?.Delta ?? delay) < _timeout)
            {
                var wait = response.Headers.RetryAfter?.Delta ?? delay;
                response.Dispose();
                await Task.Delay(wait < TimeSpan.FromSeconds(30) ? wait : TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
                delay *= 2;
                continue;
            }
            return response;
        }
    }

    /// <summary>Sends and waits for the answer's headers: the timeout runs from the last byte of the request body on.</summary>
    private async Task<HttpResponseMessage> SendWithTimeoutAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        using var watchdog = new CancellationTokenSource();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, watchdog.Token);
        watchdog.CancelAfter(_timeout);
        if (request.Content is not null)
            request.Content = new WatchedContent(request.Content, watchdog, _timeout);
        try
        {
            return await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested && watchdog.IsCancellationRequested)
        {
            throw new TimeoutException("no answer", e);
        }
    }

    /// <summary>A request body that re-arms the answer's timeout while it is being sent.</summary>
    private sealed class WatchedContent : HttpContent
    {
        private readonly HttpContent _inner;
        private readonly CancellationTokenSource _watchdog;
        private readonly TimeSpan _timeout;

        public WatchedContent(HttpContent inner, CancellationTokenSource watchdog, TimeSpan timeout)
        {
            _inner = inner;
            _watchdog = watchdog;
            _timeout = timeout;
            foreach (var h in inner.Headers)
                Headers.TryAddWithoutValidation(h.Key, h.Value);
        }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            await using var watched = new ActivityStream(stream, _watchdog, _timeout);
            await _inner.CopyToAsync(watched, context, cancellationToken).ConfigureAwait(false);
        }

        protected override bool TryComputeLength(out long length)
        {
            length = _inner.Headers.ContentLength ?? -1;
            return length >= 0;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
                _inner.Dispose();
            base.Dispose(disposing);
        }
    }

    /// <summary>
    /// Answers a WWW-Authenticate challenge: Basic with the credentials (only ever to the registry itself), or a Bearer
    /// token from the realm. A realm that downgrades from https to http is refused (unless the registry is on loopback
    /// and <c>--insecure</c> is given); the token reply is read with a limit and a timeout.
    /// </summary>
    private async Task<string> AuthenticateAsync(AuthenticationHeaderValue challenge, string scope, Uri root, CancellationToken cancellationToken)
    {
        if (string.Equals(challenge.Scheme, "Basic", StringComparison.OrdinalIgnoreCase))
            return "Basic " + (Basic ?? throw new PeerException($"registry {Registry}: authentication required (use --creds, --authfile or ferry login)"));
        if (!string.Equals(challenge.Scheme, "Bearer", StringComparison.OrdinalIgnoreCase))
            throw new PeerException($"registry {Registry}: unsupported authentication scheme {challenge.Scheme}");
        var p = ParseChallenge(challenge.Parameter ?? "");
        string realmText = p.GetValueOrDefault("realm") ?? throw new PeerException($"registry {Registry}: bearer challenge without realm");
        if (!Uri.TryCreate(realmText, UriKind.Absolute, out var realm) || (realm.Scheme != Uri.UriSchemeHttps && realm.Scheme != Uri.UriSchemeHttp))
            throw new PeerException($"registry {Registry}: bearer realm '{Digest.Describe(realmText)}' is not an http(s) URL");
        if (realm.Scheme == Uri.UriSchemeHttp && root.Scheme == Uri.UriSchemeHttps && !(_options.Insecure && IsLocal(realm.Authority)))
            throw new PeerException($"registry {Registry}: its token server {realm.GetLeftPart(UriPartial.Authority)} is plain http although the registry speaks https; credentials are not sent there");
        var query = new StringBuilder();
        if (p.TryGetValue("service", out var service))
            query.Append("service=").Append(Uri.EscapeDataString(service));
        foreach (var s in scope.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            query.Append(query.Length > 0 ? "&" : "").Append("scope=").Append(Uri.EscapeDataString(s));
        using var request = new HttpRequestMessage(HttpMethod.Get, realmText + (realmText.Contains('?', StringComparison.Ordinal) ? "&" : "?") + query);
        // The realm is where the registry sends its users to log in: it gets the registry's credentials, as docker does
        // (registries whose token server is another host need it) — over HTTPS only, unless it is the registry's own host.
        if (Basic is not null && (realm.Scheme == Uri.UriSchemeHttps || string.Equals(realm.IdnHost, root.IdnHost, StringComparison.OrdinalIgnoreCase)))
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Basic);
        HttpResponseMessage response;
        try
        {
            response = await SendWithTimeoutAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new PeerException($"registry {Registry}: token server {realm.GetLeftPart(UriPartial.Authority)}: {HttpLimits.Innermost(e)}", e);
        }
        catch (TimeoutException e)
        {
            throw new PeerException($"registry {Registry}: token server {realm.GetLeftPart(UriPartial.Authority)}: no answer within {HttpLimits.Seconds(_timeout)}", e);
        }
        using (response)
        {
            string server = $"registry {Registry}: token server {realm.GetLeftPart(UriPartial.Authority)}";
            if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
                throw new PeerException($"{server} refused the credentials ({(int)response.StatusCode})");
            if (!response.IsSuccessStatusCode)
                throw new PeerException($"{server}: {(int)response.StatusCode} {response.ReasonPhrase}");
            byte[] body = await HttpLimits.ReadBodyAsync(response, HttpLimits.MaxTokenBytes, _timeout, server, "token reply", cancellationToken).ConfigureAwait(false);
            try
            {
                using var doc = JsonDocument.Parse(body);
                string token = Json.OptString(doc.RootElement, "token") ?? Json.OptString(doc.RootElement, "access_token")
                    ?? throw new PeerException($"{server} returned no token");
                if (token.Any(c => c is < ' ' or > '~'))
                    throw new PeerException($"{server} returned a token with characters a header cannot carry");
                return "Bearer " + token;
            }
            catch (JsonException)
            {
                throw new PeerException($"{server}: the token reply is not JSON");
            }
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

    /// <summary>Turns an error response into a one-line exception: the registry's structured errors when it sends them (read with a limit).</summary>
    /// <summary><c>repo:tag</c>, or <c>repo@sha256:…</c> for a reference that is a digest.</summary>
    private static string At(string repo, string reference) => repo + (Digest.TryParse(reference, out _) ? "@" : ":") + reference;

    /// <remarks>
    /// Refused credentials are said of the registry and the repository (<paramref name="repo"/>) they were refused for,
    /// not of the blob or manifest that happened to be asked for first.
    /// </remarks>
    private async Task EnsureSuccess(HttpResponseMessage response, string what, CancellationToken cancellationToken, string? repo = null)
    {
        if (response.IsSuccessStatusCode)
            return;
        string detail = $"{(int)response.StatusCode} {response.ReasonPhrase}";
        string? code = null;
        try
        {
            byte[] body = await HttpLimits.ReadBodyAsync(response, HttpLimits.MaxErrorBytes, _timeout, $"registry {Registry}", "error", cancellationToken).ConfigureAwait(false);
            using var doc = JsonDocument.Parse(body);
            if (Json.OptArray(doc.RootElement, "errors") is JsonElement errors)
            {
                detail = string.Join("; ", errors.EnumerateArray().Take(5).Select(e => Digest.Describe($"{Json.OptString(e, "code")}: {Json.OptString(e, "message")}")));
                code = errors.EnumerateArray().Select(e => Json.OptString(e, "code")).FirstOrDefault(c => c is not null);
            }
        }
        catch (Exception e) when (e is JsonException or PeerException)
        {
        }
        string message = $"registry {Registry}: {what}: {detail}";
        int status = (int)response.StatusCode;
        throw response.StatusCode switch
        {
            HttpStatusCode.NotFound => new ImageNotFoundException(message),
            HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden => new RegistryException((repo is null ? message : $"registry {Registry}: repository {repo}: {detail}")
                + (Basic is null ? " (no credentials: use --creds, --authfile or ferry login)" : " (check the credentials)"), Registry, repo, status, code),
            _ => new RegistryException(message, Registry, repo, status, code),
        };
    }

    public void Dispose()
    {
        _http.Dispose();
        _schemeLock.Dispose();
    }
}

/// <summary>
/// Reads a blob; when the connection breaks or stalls (no byte within the timeout), reopens it at the current offset
/// with a Range request, a bounded number of times, then fails naming the blob and the registry. Read asynchronously
/// only: a network read must not block a thread.
/// </summary>
internal sealed class ResumingBlobStream(RegistryClient client, string repo, Digest digest, long size, Stream first, int resumes, CancellationToken downloadCancellation) : Ferry.Archive.ReadOnlyStream
{
    private Stream? _current = first;
    private long _position;
    private int _resumes;

    public override long Length => size;
    public override long Position { get => _position; set => throw new NotSupportedException(); }

    public override int Read(Span<byte> buffer) => throw new NotSupportedException("a registry blob is read asynchronously");

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(downloadCancellation, cancellationToken);
        while (true)
        {
            _current ??= await client.OpenBlobAtAsync(repo, digest, _position, linked.Token).ConfigureAwait(false);
            try
            {
                int n = await _current.ReadAsync(buffer, linked.Token).ConfigureAwait(false);
                if (n == 0 && _position < size)
                    throw new IOException($"the body ended at byte {_position} of {size}");
                _position += n;
                return n;
            }
            catch (TooSlowException e)
            {
                // A peer that trickles is slow again after a resume: it is given up, not resumed.
                throw new PeerException($"registry {client.Registry}: blob {repo}@{digest}: {e.Message}, at byte {_position} of {size}; given up", e);
            }
            catch (Exception e) when (e is IOException or HttpRequestException && !linked.IsCancellationRequested)
            {
                await _current.DisposeAsync().ConfigureAwait(false);
                _current = null;
                if (_resumes++ >= resumes)
                    throw new PeerException($"registry {client.Registry}: blob {repo}@{digest}: download failed at byte {_position} of {size} after {resumes} resumes: {HttpLimits.Innermost(e)}", e);
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
