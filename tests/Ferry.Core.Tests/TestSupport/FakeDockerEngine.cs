using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;
using Ferry.Copy;
using Ferry.Transports;

namespace Ferry.Tests.TestSupport;

/// <summary>
/// An in-process Docker Engine API on 127.0.0.1 (tcp://), in either image store: <c>/version</c>, <c>/info</c>,
/// <c>POST /images/load</c> and <c>GET /images/get</c>. It loads what docker would: the classic store only archives with a
/// <c>manifest.json</c> (else docker's own error), image IDs are config digests; the containerd store reads an OCI
/// layout's <c>index.json</c> first, and there an image's ID is its index.json entry's digest. It keeps what it was
/// sent, so tests can check what a destination chose to send. Saving re-exports with Ferry in the store's own shape.
/// </summary>
public sealed class FakeDockerEngine : InProcessHttpServer
{
    private readonly TempDir _dir = new();
    private readonly ConcurrentDictionary<string, (string Archive, string Id)> _images = new(StringComparer.Ordinal);
    private int _loads;

    /// <param name="containerdStore">Whether it keeps images in containerd's image store.</param>
    /// <param name="apiVersion">The API version it speaks (1.41 is docker 20.10: no zstd layers).</param>
    public FakeDockerEngine(bool containerdStore, string apiVersion = "1.45")
    {
        ContainerdStore = containerdStore;
        ApiVersion = apiVersion;
        Host = $"tcp://127.0.0.1:{Port}";
        Start();
    }

    public string Host { get; }

    public bool ContainerdStore { get; }

    public string ApiVersion { get; }

    /// <summary>Answers <c>/info</c> with 403, as docker-socket-proxy does by default.</summary>
    public bool RefusesInfo { get; init; }

    /// <summary>What the last load received: the format Ferry detects in it (e.g. docker-archive, portable).</summary>
    public string? LastLoadFormat { get; private set; }

    /// <summary>How many loads it answered.</summary>
    public int Loads => _loads;

    /// <summary>Every name and ID it has, with the image ID it gave.</summary>
    public IReadOnlyDictionary<string, string> Images => _images.ToDictionary(kv => kv.Key, kv => kv.Value.Id, StringComparer.Ordinal);


    private static async Task Json(HttpListenerResponse res, int status, string body)
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        res.StatusCode = status;
        res.ContentType = "application/json";
        res.ContentLength64 = bytes.Length;
        await res.OutputStream.WriteAsync(bytes);
    }

    protected override async Task HandleAsync(HttpListenerContext ctx)
    {
        string path = ctx.Request.Url!.AbsolutePath;
        int slash = path.IndexOf('/', 1);
        if (path.StartsWith("/v1.", StringComparison.Ordinal) && slash > 0)
            path = path[slash..];
        switch (path)
        {
            case "/version":
                await Json(ctx.Response, 200, $"{{\"Version\":\"fake\",\"ApiVersion\":\"{ApiVersion}\",\"MinAPIVersion\":\"1.24\"}}");
                return;
            case "/info" when RefusesInfo:
                await Json(ctx.Response, 403, "{\"message\":\"Forbidden\"}");
                return;
            case "/info":
                await Json(ctx.Response, 200, ContainerdStore
                    ? "{\"Driver\":\"overlayfs\",\"DriverStatus\":[[\"driver-type\",\"io.containerd.snapshotter.v1\"]]}"
                    : "{\"Driver\":\"vfs\",\"DriverStatus\":null}");
                return;
            case "/images/load":
                await LoadAsync(ctx);
                return;
            case "/images/get":
                await SaveAsync(ctx);
                return;
            default:
                await Json(ctx.Response, 404, "{\"message\":\"page not found\"}");
                return;
        }
    }

    private async Task LoadAsync(HttpListenerContext ctx)
    {
        string file = _dir.Path($"load-{Interlocked.Increment(ref _loads)}.tar");
        await using (var fs = File.Create(file))
            await ctx.Request.InputStream.CopyToAsync(fs);
        var lines = new StringBuilder();
        try
        {
            using var source = F.Open(file);
            LastLoadFormat = source.Format;
            bool hasManifestJson = source.TarIndex!.Contains("manifest.json");
            if (!ContainerdStore && !hasManifestJson)
                throw new InvalidOperationException("open /var/lib/docker/tmp/docker-import-1/blobs/json: no such file or directory");
            foreach (var image in source.Images)
            {
                string id = ContainerdStore && source.Format != "docker-archive" ? image.Key.ToString() : image.SelectImage(null)!.Image.ImageId.ToString();
                var names = image.Names.Where(n => n.Tag is not null).Select(n => n.Familiar).ToList();
                foreach (var n in names)
                {
                    _images[n] = (file, id);
                    lines.Append(JsonSerializer.Serialize(new Dictionary<string, string> { ["stream"] = $"Loaded image: {n}\n" })).Append("\r\n");
                }
                _images[id] = (file, id);
                if (names.Count == 0)
                    lines.Append(JsonSerializer.Serialize(new Dictionary<string, string> { ["stream"] = $"Loaded image ID: {id}\n" })).Append("\r\n");
            }
        }
        catch (Exception e) when (e is FerryException or InvalidOperationException)
        {
            lines.Append(JsonSerializer.Serialize(new Dictionary<string, object> { ["errorDetail"] = new Dictionary<string, string> { ["message"] = e.Message }, ["error"] = e.Message })).Append("\r\n");
        }
        await Json(ctx.Response, 200, lines.ToString());
    }

    private async Task SaveAsync(HttpListenerContext ctx)
    {
        var names = System.Web.HttpUtility.ParseQueryString(ctx.Request.Url!.Query).GetValues("names") ?? [];
        var found = names.Select(n => (Name: n, Found: _images.TryGetValue(n, out var x) ? x : default)).ToList();
        if (found.FirstOrDefault(f => f.Found.Archive is null) is { Name: not null } missing)
        {
            await Json(ctx.Response, 404, $"{{\"message\":\"reference does not exist: {missing.Name}\"}}");
            return;
        }
        string out1 = _dir.Path($"save-{Guid.NewGuid():N}.tar");
        var byArchive = found.GroupBy(f => f.Found.Archive).ToList();
        if (byArchive.Count != 1)
        {
            await Json(ctx.Response, 500, "{\"message\":\"the fake saves images of one load at a time\"}");
            return;
        }
        // The containerd store saves what it holds, byte for byte (zstd layers too): the load's own archive, when it holds just these images.
        int held;
        using (var loaded = F.Open(byArchive[0].Key))
            held = loaded.Images.Count;
        if (ContainerdStore && held == found.Select(f => f.Found.Id).Distinct().Count())
            out1 = byArchive[0].Key!;
        else
            await ImageCopier.CopyAsync(F.Ref(byArchive[0].Key!), F.Ref(out1), new CopyOptions
        {
            Images = [.. found.Select(f => f.Name.StartsWith("sha256:", StringComparison.Ordinal) ? f.Name : f.Name)],
            Destination = new TransportOptions { Archive = new ArchiveOptions { Format = ContainerdStore ? OutputFormat.Portable : OutputFormat.DockerArchive } },
        });
        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = "application/x-tar";
        await using var fs = File.OpenRead(out1);
        ctx.Response.ContentLength64 = fs.Length;
        await fs.CopyToAsync(ctx.Response.OutputStream);
    }

    protected override void Disposing() => _dir.Dispose();
}
