using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Ferry.Tests.TestSupport;

/// <summary>
/// An in-process registry speaking enough of the OCI distribution API for the conformance tests: <c>/v2/</c>, blobs
/// (HEAD, GET with Range, monolithic and chunked uploads, cross-repository mounts), manifests by tag and digest with
/// <c>Docker-Content-Digest</c>, tag lists, optional Basic auth. It checks every upload's digest, as distribution does,
/// counts what it was sent, and can be told to lie (serve a corrupted blob).
/// </summary>
public sealed class FakeRegistry : InProcessHttpServer
{
    private readonly ConcurrentDictionary<(string Repo, string Digest), byte[]> _blobs = new();
    private readonly ConcurrentDictionary<(string Repo, string Digest), (byte[] Bytes, string MediaType)> _manifests = new();
    private readonly ConcurrentDictionary<(string Repo, string Tag), string> _tags = new();
    private readonly ConcurrentDictionary<string, (string Repo, MemoryStream Data)> _uploads = new();
    private int _uploadsDone;

    /// <summary>Every upload received: repository and digest.</summary>
    public ConcurrentQueue<string> UploadLog { get; } = new();
    private int _mounts;

    private readonly ConcurrentDictionary<(string Repo, string Subject), ConcurrentDictionary<string, string>> _referrers = new();

    /// <param name="credentials">When given, every request needs Basic auth with this <c>user:password</c>.</param>
    /// <param name="referrersApi">Whether it has the OCI 1.1 referrers API (distribution 2.8 has not).</param>
    public FakeRegistry(string? credentials = null, bool referrersApi = false)
    {
        Credentials = credentials;
        ReferrersApi = referrersApi;
        Address = $"127.0.0.1:{Port}";
        Start();
    }

    /// <summary><c>127.0.0.1:PORT</c>.</summary>
    public string Address { get; }

    public string? Credentials { get; }

    public bool ReferrersApi { get; }

    /// <summary>The manifest (bytes) a tag or digest of a repository names, or null.</summary>
    public byte[]? Manifest(string repo, string reference)
    {
        string? d = reference.StartsWith("sha256:", StringComparison.Ordinal) ? reference : _tags.GetValueOrDefault((repo, reference));
        return d is not null && _manifests.TryGetValue((repo, d), out var m) ? m.Bytes : null;
    }

    /// <summary>Whether an index PUT needs every manifest it lists in the repository (distribution 2.8 refuses a sparse index).</summary>
    public bool ChecksIndexes { get; init; }

    /// <summary>Blobs whose bytes were received (monolithic or chunked).</summary>
    public int BlobUploads => _uploadsDone;

    /// <summary>Blobs mounted from another repository.</summary>
    public int Mounts => _mounts;

    /// <summary>Blobs served with one byte flipped (the registry lies).</summary>
    public ConcurrentDictionary<string, bool> Corrupt { get; } = new();

    /// <summary>The tags of a repository.</summary>
    /// <summary>The most tags one page of the tag list holds (distribution's default is larger; small here to page).</summary>
    public int TagPage { get; init; } = 1000;

    /// <summary>Whether DELETE of manifests is allowed (distribution: storage.delete.enabled).</summary>
    public bool DeleteEnabled { get; init; } = true;

    public IReadOnlyList<string> Tags(string repo) => [.. _tags.Keys.Where(k => k.Repo == repo).Select(k => k.Tag).Order(StringComparer.Ordinal)];

    /// <summary>The manifest digest a tag points at, or null.</summary>
    public string? Resolve(string repo, string tag) => _tags.GetValueOrDefault((repo, tag));

    public bool HasBlob(string repo, string digest) => _blobs.ContainsKey((repo, digest));



    private static async Task<byte[]> Body(HttpListenerRequest r)
    {
        using var ms = new MemoryStream();
        await r.InputStream.CopyToAsync(ms);
        return ms.ToArray();
    }

    private static string Sha(byte[] b) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(b));

    private static async Task Send(HttpListenerResponse res, int status, byte[]? body = null, string? contentType = null)
    {
        res.StatusCode = status;
        if (contentType is not null)
            res.ContentType = contentType;
        res.ContentLength64 = body?.Length ?? 0;
        if (body is { Length: > 0 })
            await res.OutputStream.WriteAsync(body);
    }

    private static Task Error(HttpListenerResponse res, int status, string code, string message) =>
        Send(res, status, Encoding.UTF8.GetBytes($"{{\"errors\":[{{\"code\":\"{code}\",\"message\":\"{message}\"}}]}}"), "application/json");

    protected override async Task HandleAsync(HttpListenerContext ctx)
    {
        var req = ctx.Request;
        var res = ctx.Response;
        if (Credentials is not null)
        {
            string want = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(Credentials));
            if (req.Headers["Authorization"] != want)
            {
                res.AddHeader("WWW-Authenticate", "Basic realm=\"fake\"");
                await Error(res, 401, "UNAUTHORIZED", "authentication required");
                return;
            }
        }
        string path = req.Url!.AbsolutePath;
        if (path is "/v2/" or "/v2")
        {
            await Send(res, 200, "{}"u8.ToArray(), "application/json");
            return;
        }
        if (!path.StartsWith("/v2/", StringComparison.Ordinal))
        {
            await Error(res, 404, "NOT_FOUND", "not found");
            return;
        }
        string rest = path[4..];
        int m;
        if ((m = rest.LastIndexOf("/blobs/uploads/", StringComparison.Ordinal)) >= 0)
        {
            await UploadAsync(ctx, rest[..m], rest[(m + "/blobs/uploads/".Length)..]);
            return;
        }
        if ((m = rest.LastIndexOf("/blobs/", StringComparison.Ordinal)) >= 0)
        {
            await BlobAsync(ctx, rest[..m], rest[(m + "/blobs/".Length)..]);
            return;
        }
        if ((m = rest.LastIndexOf("/manifests/", StringComparison.Ordinal)) >= 0)
        {
            await ManifestAsync(ctx, rest[..m], rest[(m + "/manifests/".Length)..]);
            return;
        }
        if ((m = rest.LastIndexOf("/referrers/", StringComparison.Ordinal)) >= 0)
        {
            if (!ReferrersApi)
            {
                await Send(res, 404, "404 page not found"u8.ToArray(), "text/plain");
                return;
            }
            string repo = rest[..m], subject = rest[(m + "/referrers/".Length)..];
            var list = _referrers.GetValueOrDefault((repo, subject))?.Values.ToList() ?? [];
            await Send(res, 200, Encoding.UTF8.GetBytes($"{{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":[{string.Join(",", list)}]}}"), "application/vnd.oci.image.index.v1+json");
            return;
        }
        if (rest.EndsWith("/tags/list", StringComparison.Ordinal))
        {
            // Paged as distribution pages: n, last, and a Link to the next page.
            string repo = rest[..^"/tags/list".Length];
            var query = System.Web.HttpUtility.ParseQueryString(req.Url.Query);
            if (Tags(repo).Count == 0)
            {
                await Error(res, 404, "NAME_UNKNOWN", "repository name not known to registry");
                return;
            }
            var all = Tags(repo).Where(t => query["last"] is not string last || string.CompareOrdinal(t, last) > 0).ToList();
            int n = int.TryParse(query["n"], out int v) ? Math.Min(v, TagPage) : TagPage;
            var page = all.Take(n).ToList();
            if (all.Count > n)
                res.AddHeader("Link", $"</v2/{repo}/tags/list?n={n}&last={page[^1]}>; rel=\"next\"");
            await Send(res, 200, JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object> { ["name"] = repo, ["tags"] = page }), "application/json");
            return;
        }
        await Error(res, 404, "NOT_FOUND", "not found");
    }

    private async Task BlobAsync(HttpListenerContext ctx, string repo, string digest)
    {
        var res = ctx.Response;
        if (!_blobs.TryGetValue((repo, digest), out var data))
        {
            await Error(res, 404, "BLOB_UNKNOWN", "blob unknown to registry");
            return;
        }
        if (Corrupt.ContainsKey(digest))
        {
            data = (byte[])data.Clone();
            data[data.Length / 2] ^= 0xff;
        }
        res.AddHeader("Docker-Content-Digest", digest);
        if (ctx.Request.HttpMethod == "HEAD")
        {
            res.StatusCode = 200;
            res.ContentLength64 = data.Length;
            return;
        }
        long from = 0;
        if (ctx.Request.Headers["Range"] is string range && range.StartsWith("bytes=", StringComparison.Ordinal))
        {
            from = long.Parse(range[6..].TrimEnd('-').Split('-')[0], System.Globalization.CultureInfo.InvariantCulture);
            res.AddHeader("Content-Range", $"bytes {from}-{data.Length - 1}/{data.Length}");
            await Send(res, 206, data[(int)from..], "application/octet-stream");
            return;
        }
        await Send(res, 200, data, "application/octet-stream");
    }

    private async Task UploadAsync(HttpListenerContext ctx, string repo, string id)
    {
        var req = ctx.Request;
        var res = ctx.Response;
        var query = System.Web.HttpUtility.ParseQueryString(req.Url!.Query);
        if (req.HttpMethod == "POST")
        {
            await Body(req);
            if (query["mount"] is string mount && query["from"] is string from)
            {
                if (_blobs.TryGetValue((from, mount), out var data))
                {
                    _blobs[(repo, mount)] = data;
                    Interlocked.Increment(ref _mounts);
                    UploadLog.Enqueue($"mount {repo} {mount} from {from}");
                    res.AddHeader("Location", $"/v2/{repo}/blobs/{mount}");
                    res.AddHeader("Docker-Content-Digest", mount);
                    await Send(res, 201);
                    return;
                }
            }
            string uuid = Guid.NewGuid().ToString("N");
            _uploads[uuid] = (repo, new MemoryStream());
            res.AddHeader("Location", $"/v2/{repo}/blobs/uploads/{uuid}");
            res.AddHeader("Range", "0-0");
            await Send(res, 202);
            return;
        }
        if (!_uploads.TryGetValue(id, out var upload))
        {
            await Error(res, 404, "BLOB_UPLOAD_UNKNOWN", "upload unknown");
            return;
        }
        var body = await Body(req);
        upload.Data.Write(body);
        if (req.HttpMethod == "PATCH")
        {
            res.AddHeader("Location", $"/v2/{repo}/blobs/uploads/{id}");
            res.AddHeader("Range", $"0-{upload.Data.Length - 1}");
            await Send(res, 202);
            return;
        }
        // PUT ?digest=
        var bytes = upload.Data.ToArray();
        _uploads.TryRemove(id, out _);
        string? want = query["digest"];
        if (want is null || Sha(bytes) != want)
        {
            await Error(res, 400, "DIGEST_INVALID", "provided digest did not match uploaded content");
            return;
        }
        _blobs[(repo, want)] = bytes;
        Interlocked.Increment(ref _uploadsDone);
        UploadLog.Enqueue($"{repo} {want}");
        res.AddHeader("Location", $"/v2/{repo}/blobs/{want}");
        res.AddHeader("Docker-Content-Digest", want);
        await Send(res, 201);
    }

    private async Task ManifestAsync(HttpListenerContext ctx, string repo, string reference)
    {
        var req = ctx.Request;
        var res = ctx.Response;
        bool byDigest = reference.StartsWith("sha256:", StringComparison.Ordinal);
        if (req.HttpMethod == "DELETE")
        {
            if (!DeleteEnabled)
            {
                await Error(res, 405, "UNSUPPORTED", "The operation is unsupported.");
                return;
            }
            if (!byDigest)
            {
                await Error(res, 400, "DIGEST_INVALID", "provided digest did not match uploaded content");
                return;
            }
            if (!_manifests.TryRemove((repo, reference), out _))
            {
                await Error(res, 404, "MANIFEST_UNKNOWN", "manifest unknown");
                return;
            }
            foreach (var k in _tags.Where(kv => kv.Key.Repo == repo && kv.Value == reference).Select(kv => kv.Key).ToList())
                _tags.TryRemove(k, out _);
            res.StatusCode = 202;
            return;
        }
        if (req.HttpMethod == "PUT")
        {
            var bytes = await Body(req);
            string digest = Sha(bytes);
            if (byDigest && digest != reference)
            {
                await Error(res, 400, "DIGEST_INVALID", "manifest digest did not match");
                return;
            }
            // As distribution does: every blob a manifest refers to must be in the repository.
            using (var doc = JsonDocument.Parse(bytes))
            {
                var refs = new List<string>();
                if (doc.RootElement.TryGetProperty("config", out var cfg))
                    refs.Add(cfg.GetProperty("digest").GetString()!);
                if (doc.RootElement.TryGetProperty("layers", out var layers))
                    refs.AddRange(layers.EnumerateArray().Where(l => !l.TryGetProperty("urls", out _)).Select(l => l.GetProperty("digest").GetString()!));
                if (refs.FirstOrDefault(d => !_blobs.ContainsKey((repo, d))) is string missing)
                {
                    await Error(res, 400, "MANIFEST_BLOB_UNKNOWN", $"blob unknown to registry: {missing}");
                    return;
                }
                if (ChecksIndexes && doc.RootElement.TryGetProperty("manifests", out var children)
                    && children.EnumerateArray().Select(c => c.GetProperty("digest").GetString()!).FirstOrDefault(d => !_manifests.ContainsKey((repo, d))) is string absent)
                {
                    await Error(res, 400, "MANIFEST_BLOB_UNKNOWN", $"blob unknown to registry: {absent}");
                    return;
                }
            }
            _manifests[(repo, digest)] = (bytes, req.ContentType ?? "application/vnd.oci.image.manifest.v1+json");
            if (!byDigest)
                _tags[(repo, reference)] = digest;
            using (var doc = JsonDocument.Parse(bytes))
            {
                if (ReferrersApi && doc.RootElement.TryGetProperty("subject", out var subject))
                {
                    string sd = subject.GetProperty("digest").GetString()!;
                    string type = doc.RootElement.TryGetProperty("artifactType", out var at) ? at.GetString()! : doc.RootElement.GetProperty("config").GetProperty("mediaType").GetString()!;
                    _referrers.GetOrAdd((repo, sd), _ => new())[digest] = $"{{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"{digest}\",\"size\":{bytes.Length},\"artifactType\":\"{type}\"}}";
                    res.AddHeader("OCI-Subject", sd);
                }
            }
            res.AddHeader("Docker-Content-Digest", digest);
            res.AddHeader("Location", $"/v2/{repo}/manifests/{digest}");
            await Send(res, 201);
            return;
        }
        string? d = byDigest ? reference : _tags.GetValueOrDefault((repo, reference));
        if (d is null || !_manifests.TryGetValue((repo, d), out var m))
        {
            await Error(res, 404, "MANIFEST_UNKNOWN", "manifest unknown");
            return;
        }
        res.AddHeader("Docker-Content-Digest", d);
        if (req.HttpMethod == "HEAD")
        {
            res.StatusCode = 200;
            res.ContentType = m.MediaType;
            res.ContentLength64 = m.Bytes.Length;
            return;
        }
        await Send(res, 200, m.Bytes, m.MediaType);
    }
}
