using System.Buffers;
using System.IO.Pipelines;
using System.Globalization;
using System.Text;
using Ferry.Digests;
using Ferry.Images;
using Ferry.Model;
using Ferry.Transports;

namespace Ferry.Serve;

/// <summary>
/// An answer of <see cref="ArchiveRegistry.HandleAsync"/>: status, headers and a body that is either a small document
/// or a window of a blob, copied from the source when <c>WriteBodyAsync</c> is called (never buffered).
/// </summary>
public sealed class RegistryResponse
{
    private readonly byte[]? _document;
    private readonly BlobSource? _blob;
    private readonly long _offset;

    /// <summary>Where a blob's bytes are reported as they are sent, and the item's name.</summary>
    internal (Progress.ICopyProgress Sink, string Item)? Progress { get; set; }

    private RegistryResponse(int status, byte[]? document, BlobSource? blob, long offset, long length, bool head)
    {
        Status = status;
        _document = document;
        _blob = blob;
        _offset = offset;
        ContentLength = length;
        IsHead = head;
    }

    /// <summary>The HTTP status.</summary>
    public int Status { get; }

    /// <summary>Response headers (besides <c>Content-Length</c>).</summary>
    public Dictionary<string, string> Headers { get; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The body's length in bytes (also for HEAD, which sends none).</summary>
    public long ContentLength { get; }

    /// <summary>Whether the request was HEAD: headers only.</summary>
    public bool IsHead { get; }

    internal static RegistryResponse Document(int status, byte[] body, string contentType, bool head)
    {
        var r = new RegistryResponse(status, body, null, 0, body.LongLength, head);
        r.Headers["Content-Type"] = contentType;
        return r;
    }

    internal static RegistryResponse Blob(int status, BlobSource blob, long offset, long length, bool head, Digest? verify) =>
        new(status, null, blob, offset, length, head) { _verify = verify };

    internal static RegistryResponse Error(int status, string code, string message, bool head) =>
        Document(status, Json.Write(w =>
        {
            w.WriteStartObject();
            w.WriteStartArray("errors");
            w.WriteStartObject();
            w.WriteString("code", code);
            w.WriteString("message", message);
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteEndObject();
        }), "application/json", head);

    /// <summary>The digest a whole blob's bytes must have as they are sent (null for a range, or a document).</summary>
    private Digest? _verify;

    /// <summary>The size of each read from the source into the response: small, so a slow client holds little memory.</summary>
    internal const int ChunkBytes = 64 << 10;

    /// <summary>Writes the body (nothing for HEAD) to a stream.</summary>
    public async Task WriteBodyAsync(Stream destination, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        var writer = PipeWriter.Create(destination, new StreamPipeWriterOptions(minimumBufferSize: ChunkBytes, leaveOpen: true));
        await WriteBodyAsync(writer, cancellationToken).ConfigureAwait(false);
        await writer.CompleteAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Writes the body (nothing for HEAD). A blob is read from where the source holds it straight into the writer's
    /// buffers, <see cref="ChunkBytes"/> at a time, each flushed before the next is read (a slow client holds one chunk,
    /// not a copy of the blob). A whole blob is hashed as it goes and its last chunk is sent only when the bytes match
    /// the digest: a source whose file changed (or lies) gives the client a broken transfer, never wrong bytes.
    /// </summary>
    /// <exception cref="DigestMismatchException">The source's bytes do not match the blob's digest (nothing more is sent).</exception>
    public async Task WriteBodyAsync(PipeWriter destination, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        if (IsHead || ContentLength == 0)
            return;
        if (_document is not null)
        {
            await destination.WriteAsync(_document, cancellationToken).ConfigureAwait(false);
            return;
        }
        Stream s = await _blob!.OpenReadAsync(cancellationToken).ConfigureAwait(false);
        if (_verify is { } digest)
            s = new VerifyingStream(s, $"blob {digest} ({_blob.Name})", digest, ContentLength);
        await using var source = s;
        if (_offset > 0)
        {
            if (s.CanSeek)
                s.Seek(_offset, SeekOrigin.Begin);
            else
                await SkipAsync(s, _offset, cancellationToken).ConfigureAwait(false);
        }
        // A local file is read synchronously (a page-cache read takes microseconds, and allocates nothing, unlike an
        // async file read on Linux); the chunk comes from a small pool of its own and is copied into the writer's
        // pooled blocks, so serving allocates nothing per chunk and memory stays flat however many clients there are.
        bool local = _blob is LocalBlob;
        byte[] chunk = Chunks.Rent(ChunkBytes);
        Progress?.Sink.Started(Progress.Value.Item, ContentLength);
        try
        {
            long left = ContentLength;
            while (left > 0)
            {
                int want = (int)Math.Min(ChunkBytes, left);
                int n = local ? s.Read(chunk, 0, want) : await s.ReadAsync(chunk.AsMemory(0, want), cancellationToken).ConfigureAwait(false);
                if (n == 0)
                    throw new ArchiveFormatException($"{_blob.Name}: ended {left} bytes early");
                left -= n;
                if (left == 0 && s is VerifyingStream v)
                {
                    // The end of the content: reading it checks the digest before the last bytes go out.
                    _ = local ? v.Read(new byte[1], 0, 1) : await v.ReadAsync(new byte[1], cancellationToken).ConfigureAwait(false);
                }
                // Copied into the writer's pooled blocks, then flushed: the flush is where a host times a slow client.
                destination.Write(chunk.AsSpan(0, n));
                var flushed = await destination.FlushAsync(cancellationToken).ConfigureAwait(false);
                Progress?.Sink.Advanced(Progress.Value.Item, n);
                if (flushed.IsCanceled || flushed.IsCompleted)
                    throw new OperationCanceledException("the client went away");
            }
        }
        finally
        {
            Chunks.Return(chunk);
            Progress?.Sink.Finished(Progress.Value.Item);
        }
    }

    /// <summary>The chunks blobs are served in: a pool of their own (64 KiB arrays, reused; beyond 256 at once, allocated).</summary>
    private static readonly ArrayPool<byte> Chunks = ArrayPool<byte>.Create(ChunkBytes, 256);

    private static async Task SkipAsync(Stream s, long count, CancellationToken cancellationToken)
    {
        byte[] buf = ArrayPool<byte>.Shared.Rent(1 << 16);
        try
        {
            while (count > 0)
            {
                int n = await s.ReadAsync(buf.AsMemory(0, (int)Math.Min(buf.Length, count)), cancellationToken).ConfigureAwait(false);
                if (n == 0)
                    throw new EndOfStreamException("blob ended before the requested range");
                count -= n;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buf);
        }
    }
}

/// <summary>
/// The OCI distribution API, read-only, answered from image sources (archives, layouts; several as one): <c>/v2/</c>,
/// manifests by tag and digest, blobs (with <c>Range</c>), tag lists, the catalog and the referrers API. Each image is
/// under its name's repository path without the registry host (<c>registry.example.com/team/app:1</c> →
/// <c>team/app:1</c>, <c>docker.io/library/ubuntu:20.04</c> → <c>library/ubuntu:20.04</c>). A blob or manifest is
/// served by digest only under a repository whose images refer to it (a repository is no window onto the others). Bytes come straight from the sources by offset; only the tables of names
/// and digests are in memory.
/// This class knows no HTTP server: a host (Kestrel in <c>ferry serve</c>) passes each request to
/// <see cref="HandleAsync"/> and writes the response.
/// </summary>
public sealed class ArchiveRegistry : IAsyncDisposable
{
    private readonly List<IImageSource> _sources;
    private readonly Dictionary<Digest, (byte[] Raw, string MediaType)> _manifests = [];
    private readonly Dictionary<Digest, BlobSource> _blobs = [];
    private readonly SortedDictionary<string, SortedDictionary<string, Digest>> _tags = new(StringComparer.Ordinal);
    private readonly Dictionary<Digest, List<Descriptor>> _referrers = [];
    private readonly Dictionary<string, HashSet<Digest>> _content = new(StringComparer.Ordinal);
    private readonly List<string> _warnings = [];

    private ArchiveRegistry(List<IImageSource> sources)
    {
        _sources = sources;
        foreach (var s in sources)
            Add(s);
        // An increment served without its base: clients would fail on the layers it leaves out.
        foreach (var s in sources)
        {
            if (s.Incremental is not { } inc)
                continue;
            var missing = inc.Blobs.Where(b => !_blobs.ContainsKey(b)).ToList();
            if (missing.Count > 0)
                _warnings.Add($"{s.DisplayName} is incremental: {missing.Count} layer{(missing.Count == 1 ? "" : "s")} it leaves out (shipped in {string.Join(", ", missing.Select(inc.CarrierOf).Distinct())}) {(missing.Count == 1 ? "is" : "are")} in no archive served; serve {(missing.Count == 1 ? "that archive" : "those archives")} with it");
        }
    }

    /// <summary>
    /// Receives the blobs sent (each response is an item, <c>#N HEX12 blob</c>, N counting the blob responses); set it
    /// before serving.
    /// </summary>
    public Progress.ICopyProgress? Progress { get; set; }

    private int _sent;

    /// <summary>The most entries a tag list or the catalog returns at once (clients page with <c>n</c> and <c>last</c>).</summary>
    public const int MaxPage = 10_000;

    /// <summary>The repositories served, sorted.</summary>
    public IReadOnlyList<string> Repositories => [.. _tags.Keys];

    /// <summary>How many manifests (images, indexes, artifacts) and blobs are served.</summary>
    public (int Manifests, int Blobs) Counts => (_manifests.Count, _blobs.Count);

    /// <summary>What is not served, and why (a docker-archive image has no manifest; a tag in two sources).</summary>
    public IReadOnlyList<string> Warnings => _warnings;

    /// <summary>Opens the sources (later ones win a tag that several give) and indexes what they hold.</summary>
    /// <exception cref="FerryException">A source cannot be opened.</exception>
    public static async Task<ArchiveRegistry> OpenAsync(IReadOnlyList<ImageReference> sources, TransportOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sources);
        ArgumentNullException.ThrowIfNull(options);
        return new ArchiveRegistry(await ImageSources.OpenEachAsync(sources, options, cancellationToken).ConfigureAwait(false));
    }

    /// <summary>Serves sources already opened; they are disposed with the registry.</summary>
    public static ArchiveRegistry Create(IReadOnlyList<IImageSource> sources)
    {
        ArgumentNullException.ThrowIfNull(sources);
        return new ArchiveRegistry([.. sources]);
    }

    private void Add(IImageSource source)
    {
        foreach (var image in source.Images)
        {
            if (image.Root is ImageNode { Image.Manifest: null })
            {
                _warnings.Add($"{source.DisplayName}: {image.Label} is not served: a docker-archive image has no manifest (ferry copy it to a portable archive first)");
                continue;
            }
            // What the image's repositories serve by digest: its own graph and its referrers', nothing else.
            var held = new HashSet<Digest>();
            AddNode(image.Root, held);
            foreach (var r in image.Referrers)
            {
                AddNode(r.Artifact, held);
                if (r.Kind == ReferrerKind.Referrer)
                {
                    var m = r.Artifact.Manifest;
                    if (!_referrers.TryGetValue(r.Subject, out var list))
                        _referrers[r.Subject] = list = [];
                    if (list.All(d => d.Digest != m.Digest))
                        list.Add(new Descriptor(m.MediaType, m.Digest, m.Raw.LongLength) { ArtifactType = r.Artifact.Type, Annotations = m.ReadAnnotations() });
                }
            }
            if (image.Names.Count == 0)
                _warnings.Add($"{source.DisplayName}: {image.Label} has no name and is not served (a repository serves only the images named in it; name it with ferry copy --tag)");
            foreach (var name in image.Names)
            {
                if (name.Tag is { } tag)
                    Tag(source, name.Path, tag, image.Key);
                foreach (var r in image.Referrers.Where(r => r.Tag is not null))
                    Tag(source, name.Path, r.Tag!, r.Artifact.Manifest.Digest);
                if (!_tags.ContainsKey(name.Path))
                    _tags[name.Path] = new(StringComparer.Ordinal);
                if (!_content.TryGetValue(name.Path, out var content))
                    _content[name.Path] = content = [];
                content.UnionWith(held);
            }
        }
    }

    /// <summary>Whether <paramref name="repo"/> serves <paramref name="digest"/>: an image named in it refers to it.</summary>
    private bool Holds(string repo, Digest digest) => _content.TryGetValue(repo, out var held) && held.Contains(digest);

    private void Tag(IImageSource source, string repo, string tag, Digest digest)
    {
        if (!_tags.TryGetValue(repo, out var tags))
            _tags[repo] = tags = new(StringComparer.Ordinal);
        if (tags.TryGetValue(tag, out var before) && before != digest)
            _warnings.Add($"{source.DisplayName}: {repo}:{tag} is now {digest} (was {before} in an earlier source)");
        tags[tag] = digest;
    }

    private void AddNode(ManifestNode root, HashSet<Digest> held)
    {
        foreach (var node in ImageWalk.Nodes(root))
            node.Accept(new Indexer(this, held));
    }

    /// <summary>What serving each kind of node takes: its manifest's bytes, and the blobs the source holds.</summary>
    private sealed class Indexer(ArchiveRegistry registry, HashSet<Digest> held) : IManifestVisitor<bool>
    {
        private void Manifest(Digest digest, byte[] raw, string mediaType)
        {
            registry._manifests[digest] = (raw, mediaType);
            held.Add(digest);
        }

        private void Blob(Digest digest, BlobSource? blob)
        {
            // The image refers to it, so its repositories serve it, even when this source left it out (an incremental
            // archive) and another source served beside it (its base) holds the bytes.
            held.Add(digest);
            if (blob is not null)
                registry._blobs.TryAdd(digest, blob);
        }

        public bool Index(IndexNode node)
        {
            Manifest(node.Index.Digest, node.Index.Raw, node.Index.MediaType);
            return true;
        }

        public bool Image(ImageNode node)
        {
            if (node.Image.Manifest is not { } m)
                return false;
            Manifest(m.Digest, m.Raw, m.MediaType);
            registry._blobs[node.Image.ConfigDescriptor.Digest] = node.Image.ConfigBlob;
            held.Add(node.Image.ConfigDescriptor.Digest);
            foreach (var l in node.Image.Layers)
                Blob(l.Descriptor.Digest, l.Blob);
            return true;
        }

        public bool Artifact(ArtifactNode node)
        {
            Manifest(node.Manifest.Digest, node.Manifest.Raw, node.Manifest.MediaType);
            foreach (var (d, blob) in node.Blobs)
                Blob(d.Digest, blob);
            return true;
        }

        public bool Opaque(OpaqueNode node) => false;
    }

    /// <summary>
    /// Answers one request. <paramref name="path"/> is the URL path (<c>/v2/…</c>, percent-decoded), <paramref name="query"/>
    /// its query string without <c>?</c>, <paramref name="range"/> the <c>Range</c> header.
    /// </summary>
    public Task<RegistryResponse> HandleAsync(string method, string path, string? query, string? range, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(method);
        ArgumentNullException.ThrowIfNull(path);
        bool head = method == "HEAD";
        if (method != "GET" && !head)
            return Task.FromResult(RegistryResponse.Error(405, "UNSUPPORTED", "this registry is read-only (ferry serve)", head));
        var r = Route(path, ParseQuery(query), range, head);
        r.Headers["Docker-Distribution-API-Version"] = "registry/2.0";
        return Task.FromResult(r);
    }

    private RegistryResponse Route(string path, Dictionary<string, string> query, string? range, bool head)
    {
        if (path is "/v2" or "/v2/")
            return RegistryResponse.Document(200, "{}"u8.ToArray(), "application/json", head);
        if (!path.StartsWith("/v2/", StringComparison.Ordinal))
            return RegistryResponse.Error(404, "NOT_FOUND", "not a registry path (/v2/…)", head);
        string rest = path[4..];
        if (rest is "_catalog" or "_catalog/")
            return Catalog(query, head);
        if (rest.EndsWith("/tags/list", StringComparison.Ordinal))
            return TagList(rest[..^"/tags/list".Length], query, head);
        foreach (var (marker, handler) in new (string, Func<string, string, RegistryResponse>)[]
        {
            ("/manifests/", (repo, reference) => Manifest(repo, reference, head)),
            ("/blobs/", (repo, digest) => BlobOf(repo, digest, range, head)),
            ("/referrers/", (repo, digest) => Referrers(repo, digest, query, head)),
        })
        {
            int at = rest.LastIndexOf(marker, StringComparison.Ordinal);
            if (at > 0)
            {
                string repo = rest[..at];
                if (!ValidRepository(repo))
                    return RegistryResponse.Error(400, "NAME_INVALID", $"invalid repository name '{Describe(repo)}'", head);
                return handler(repo, rest[(at + marker.Length)..]);
            }
        }
        return RegistryResponse.Error(404, "NOT_FOUND", "unknown registry path", head);
    }

    private RegistryResponse Manifest(string repo, string reference, bool head)
    {
        Digest digest;
        if (Digest.TryParse(reference, out var d))
        {
            digest = d;
        }
        else if (ImageName.IsValidTag(reference) && _tags.TryGetValue(repo, out var tags) && tags.TryGetValue(reference, out var tagged))
        {
            digest = tagged;
        }
        else
        {
            return _tags.ContainsKey(repo) || !ImageName.IsValidTag(reference)
                ? RegistryResponse.Error(404, "MANIFEST_UNKNOWN", $"manifest unknown: {repo}:{Describe(reference)}", head)
                : RegistryResponse.Error(404, "NAME_UNKNOWN", $"repository name not known to registry: {repo}", head);
        }
        if (!_tags.ContainsKey(repo))
            return RegistryResponse.Error(404, "NAME_UNKNOWN", $"repository name not known to registry: {repo}", head);
        if (!Holds(repo, digest) || !_manifests.TryGetValue(digest, out var m))
            return RegistryResponse.Error(404, "MANIFEST_UNKNOWN", $"manifest unknown: {repo}@{digest}", head);
        var r = RegistryResponse.Document(200, m.Raw, m.MediaType, head);
        r.Headers["Docker-Content-Digest"] = digest.ToString();
        r.Headers["ETag"] = $"\"{digest}\"";
        return r;
    }

    private RegistryResponse BlobOf(string repo, string reference, string? range, bool head)
    {
        if (!Digest.TryParse(reference, out var digest))
            return RegistryResponse.Error(400, "DIGEST_INVALID", $"invalid digest '{Describe(reference)}'", head);
        if (!_tags.ContainsKey(repo))
            return RegistryResponse.Error(404, "NAME_UNKNOWN", $"repository name not known to registry: {repo}", head);
        BlobSource? blob = !Holds(repo, digest) ? null
            : _blobs.GetValueOrDefault(digest) ?? (_manifests.TryGetValue(digest, out var m) ? new BytesBlob(m.Raw, digest.ToString()) : null);
        if (blob is null)
            return RegistryResponse.Error(404, "BLOB_UNKNOWN", $"blob unknown to registry: {repo}@{digest}", head);
        long total = blob.Length;
        long start = 0, end = total - 1;
        int status = 200;
        // Several ranges (bytes=0-1,5-6) are answered with the whole blob, as RFC 9110 allows and every client takes.
        if (range is not null && !IsMultiRange(range))
        {
            if (!TryParseRange(range, total, out start, out end))
            {
                var bad = RegistryResponse.Error(416, "RANGE_INVALID", $"range '{Describe(range)}' is not satisfiable (the blob has {total} bytes)", head);
                bad.Headers["Content-Range"] = $"bytes */{total}";
                return bad;
            }
            status = 206;
        }
        var r = RegistryResponse.Blob(status, blob, start, end - start + 1, head, status == 200 ? digest : null);
        if (Progress is { } sink && !head)
            r.Progress = (sink, $"#{Interlocked.Increment(ref _sent)} {digest.Short} blob");
        r.Headers["Content-Type"] = "application/octet-stream";
        r.Headers["Docker-Content-Digest"] = digest.ToString();
        r.Headers["Accept-Ranges"] = "bytes";
        r.Headers["ETag"] = $"\"{digest}\"";
        r.Headers["Cache-Control"] = "max-age=31536000";
        if (status == 206)
            r.Headers["Content-Range"] = $"bytes {start}-{end}/{total}";
        return r;
    }

    /// <summary>Whether a <c>Range</c> header asks for several ranges (<c>bytes=0-1,5-6</c>).</summary>
    internal static bool IsMultiRange(string header) =>
        header.TrimStart().StartsWith("bytes=", StringComparison.OrdinalIgnoreCase) && header.Contains(',', StringComparison.Ordinal);

    /// <summary><c>bytes=A-B</c>, <c>bytes=A-</c> or <c>bytes=-N</c> (one range; several are not supported).</summary>
    internal static bool TryParseRange(string header, long total, out long start, out long end)
    {
        start = 0;
        end = total - 1;
        string h = header.Trim();
        if (!h.StartsWith("bytes=", StringComparison.OrdinalIgnoreCase) || h.Contains(',', StringComparison.Ordinal))
            return false;
        string spec = h[6..].Trim();
        int dash = spec.IndexOf('-', StringComparison.Ordinal);
        if (dash < 0)
            return false;
        string a = spec[..dash].Trim(), b = spec[(dash + 1)..].Trim();
        const NumberStyles digits = NumberStyles.None;
        if (a.Length == 0)
        {
            if (!long.TryParse(b, digits, CultureInfo.InvariantCulture, out long suffix) || suffix == 0 || total == 0)
                return false;
            start = Math.Max(0, total - suffix);
            return true;
        }
        if (!long.TryParse(a, digits, CultureInfo.InvariantCulture, out start) || start >= total)
            return false;
        if (b.Length > 0)
        {
            if (!long.TryParse(b, digits, CultureInfo.InvariantCulture, out end) || end < start)
                return false;
            end = Math.Min(end, total - 1);
        }
        return true;
    }

    private RegistryResponse Referrers(string repo, string reference, Dictionary<string, string> query, bool head)
    {
        if (!Digest.TryParse(reference, out var subject))
            return RegistryResponse.Error(400, "DIGEST_INVALID", $"invalid digest '{Describe(reference)}'", head);
        if (!_tags.ContainsKey(repo))
            return RegistryResponse.Error(404, "NAME_UNKNOWN", $"repository name not known to registry: {repo}", head);
        IEnumerable<Descriptor> list = Holds(repo, subject) ? (_referrers.GetValueOrDefault(subject) ?? []).Where(d => Holds(repo, d.Digest)) : [];
        bool filtered = query.TryGetValue("artifactType", out var type);
        if (filtered)
            list = list.Where(d => d.ArtifactType == type);
        var r = RegistryResponse.Document(200, ImageIndex.CreateOci([.. list]), MediaTypes.OciIndex, head);
        if (filtered)
            r.Headers["OCI-Filters-Applied"] = "artifactType";
        return r;
    }

    private RegistryResponse TagList(string repo, Dictionary<string, string> query, bool head)
    {
        if (!ValidRepository(repo))
            return RegistryResponse.Error(400, "NAME_INVALID", $"invalid repository name '{Describe(repo)}'", head);
        if (!_tags.TryGetValue(repo, out var tags))
            return RegistryResponse.Error(404, "NAME_UNKNOWN", $"repository name not known to registry: {repo}", head);
        return Listing(tags.Keys, query, repo, "tags", $"/v2/{repo}/tags/list", head);
    }

    private RegistryResponse Catalog(Dictionary<string, string> query, bool head) =>
        Listing(_tags.Keys, query, null, "repositories", "/v2/_catalog", head);

    /// <summary>A page of a tag list or the catalog (<c>{"name":…,"tags":[…]}</c>, <c>{"repositories":[…]}</c>), with a <c>Link</c> to the next.</summary>
    private static RegistryResponse Listing(IEnumerable<string> sorted, Dictionary<string, string> query, string? name, string array, string path, bool head)
    {
        if (query.TryGetValue("n", out var ns) && !int.TryParse(ns, NumberStyles.None, CultureInfo.InvariantCulture, out _))
            return RegistryResponse.Error(400, "PAGINATION_NUMBER_INVALID", $"invalid number of results requested: '{Describe(ns)}'", head);
        var (page, more) = Page(sorted, query);
        var r = RegistryResponse.Document(200, Json.Write(w =>
        {
            w.WriteStartObject();
            if (name is not null)
                w.WriteString("name", name);
            w.WriteStartArray(array);
            foreach (var t in page)
                w.WriteStringValue(t);
            w.WriteEndArray();
            w.WriteEndObject();
        }), "application/json", head);
        if (more)
            r.Headers["Link"] = $"<{path}?n={page.Count}&last={Uri.EscapeDataString(page[^1])}>; rel=\"next\"";
        return r;
    }

    /// <summary>The sorted names after <c>last</c>, at most <c>n</c> (capped at <see cref="MaxPage"/>), and whether more follow.</summary>
    private static (List<string> Page, bool More) Page(IEnumerable<string> sorted, Dictionary<string, string> query)
    {
        int n = query.TryGetValue("n", out var ns) && int.TryParse(ns, NumberStyles.None, CultureInfo.InvariantCulture, out int v) ? Math.Clamp(v, 0, MaxPage) : MaxPage;
        var after = query.TryGetValue("last", out var last) ? sorted.Where(s => string.CompareOrdinal(s, last) > 0) : sorted;
        var page = after.Take(n + 1).ToList();
        bool more = page.Count > n;
        if (more)
            page.RemoveAt(page.Count - 1);
        return (page, more && n > 0);
    }

    private static Dictionary<string, string> ParseQuery(string? query)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (string.IsNullOrEmpty(query))
            return result;
        foreach (var pair in query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries).Take(32))
        {
            int eq = pair.IndexOf('=', StringComparison.Ordinal);
            string k = Uri.UnescapeDataString(eq < 0 ? pair : pair[..eq]);
            string val = eq < 0 ? "" : Uri.UnescapeDataString(pair[(eq + 1)..].Replace('+', ' '));
            result.TryAdd(k, val);
        }
        return result;
    }

    /// <summary>distribution-spec: <c>[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*</c>.</summary>
    private static bool ValidRepository(string repo) =>
        repo.Length is > 0 and <= 255 && ImageName.TryParse("localhost/" + repo, out var n, out _) && n!.Path == repo && n.Tag is null && n.Digest is null;

    /// <summary>A client's text in a message: short and printable.</summary>
    private static string Describe(string text)
    {
        var sb = new StringBuilder();
        foreach (char c in text.Take(100))
            sb.Append(c is < ' ' or > '~' ? '?' : c);
        return text.Length > 100 ? sb + "…" : sb.ToString();
    }

    /// <summary>Closes the sources.</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var s in _sources)
            await s.DisposeAsync().ConfigureAwait(false);
    }
}
