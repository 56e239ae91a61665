using System.CommandLine;
using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Ferry.Serve;
using Ferry.Transports;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Ferry.Cli.Commands;

/// <summary>
/// <c>ferry serve ARCHIVE...</c>: the archives answer as a read-only registry. The protocol is
/// <see cref="ArchiveRegistry"/>'s (in the library); this is only its Kestrel host: listening, TLS, basic auth, the
/// access log and shutdown.
/// </summary>
internal static class ServeCommand
{
    public static Command Create(CliIO io, Option<bool> debug)
    {
        var archives = new Argument<string[]>("ARCHIVE") { Description = "Archives to serve (any SOURCE of copy: a path, oci:DIR, a split archive's first part); several are served as one, later ones winning a tag", Arity = ArgumentArity.OneOrMore };
        var listen = new Option<string>("--listen", "-l") { Description = "ADDRESS:PORT to listen on (default 127.0.0.1:5000; port 0 picks a free one; 0.0.0.0:PORT or [::]:PORT for every interface)", DefaultValueFactory = _ => "127.0.0.1:5000" };
        var cert = new Option<string>("--tls-cert") { Description = "PEM certificate (chain) to serve HTTPS with (needs --tls-key)" };
        var key = new Option<string>("--tls-key") { Description = "PEM private key of --tls-cert" };
        var htpasswd = new Option<string>("--htpasswd") { Description = "Require basic auth with the users of this htpasswd file (bcrypt entries: htpasswd -B)" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "No access log (one line per request on stderr)" };
        var minRate = new Option<string>("--min-rate") { Description = "Close a download slower than RATE bytes/s for 10 s (K/M suffixes; 0: never), so slow clients cannot hold the server (default 16K)", DefaultValueFactory = _ => "16K" };
        var progress = ProgressOption.Create();
        var json = new Option<bool>("--json") { Description = "Once listening, print where and what is served as one JSON document on stdout (docs/json.md): for scripts that pick a free port with --listen 127.0.0.1:0" };
        var cmd = new Command("serve", "Serve archives as a read-only OCI registry (GET/HEAD of manifests, blobs with Range, tags, catalog, referrers) straight from the files, by offset")
        {
            archives, listen, cert, key, htpasswd, quiet, minRate, progress, json,
        };
        cmd.SetAction((parse, ct) => Guard.RunAsync(io, parse.GetValue(debug), async cancel =>
        {
            var endpoint = ParseListen(parse.GetValue(listen)!);
            string? certFile = parse.GetValue(cert), keyFile = parse.GetValue(key);
            if ((certFile is null) != (keyFile is null))
                throw new UsageException("--tls-cert and --tls-key go together");
            X509Certificate2? certificate = certFile is null ? null : LoadCertificate(certFile, keyFile!);
            var users = parse.GetValue(htpasswd) is string h ? new AuthGate(Htpasswd.Load(h)) : null;
            var refs = parse.GetValue(archives)!.Select(TransportRegistry.Default.Parse).ToList();
            // Messages and the access log go through the progress display (the blobs being sent), when there is one.
            var log = io.Messages;
            await using var registry = await ArchiveRegistry.OpenAsync(refs, new TransportOptions { Log = m => log.WriteLine("ferry: " + m) }, cancel).ConfigureAwait(false);
            foreach (var w in registry.Warnings)
                log.WriteLine("ferry: warning: " + w);
            // Nothing servable (docker-archive images only): said at start, not "serving 0 repositories".
            if (registry.Counts.Manifests == 0)
                throw new ImageNotFoundException($"{string.Join(", ", refs)}: nothing to serve: no image with a manifest (docker-archive images have none: ferry copy them to a portable archive first)");
            if (users is not null && certificate is null && !IPAddress.IsLoopback(endpoint.Address))
                log.WriteLine("ferry: warning: basic auth over plain HTTP on a non-loopback address sends passwords in the clear; give --tls-cert/--tls-key");
            return await Rendering.ProgressRunner.RunAsync(ProgressOption.Read(parse, progress), io, sink =>
            {
                registry.Progress = sink;
                var limits = new ServeLimits { MinRate = ParseRate(parse.GetValue(minRate)!) };
                return RunAsync(registry, endpoint, certificate, users, limits, parse.GetValue(quiet) ? null : log, log, parse.GetValue(json) ? io.Out : null, cancel);
            }).ConfigureAwait(false);
        }, ct));
        return cmd;
    }

    /// <summary><c>127.0.0.1:5000</c>, <c>[::1]:5000</c>, <c>localhost:5000</c>, <c>0.0.0.0:5000</c>, or a bare port (loopback).</summary>
    internal static IPEndPoint ParseListen(string text)
    {
        string t = text.Trim();
        if (int.TryParse(t, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int bare) && bare <= 65535)
            return new IPEndPoint(IPAddress.Loopback, bare);
        if (t.StartsWith("localhost:", StringComparison.OrdinalIgnoreCase) && int.TryParse(t[10..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int lp) && lp <= 65535)
            return new IPEndPoint(IPAddress.Loopback, lp);
        if (IPEndPoint.TryParse(t, out var ep) && t.Contains(':', StringComparison.Ordinal) && (t.StartsWith('[') || !t.Contains("::", StringComparison.Ordinal)) && t.LastIndexOf(':') > t.LastIndexOf(']'))
            return ep;
        throw new UsageException($"--listen {text}: want ADDRESS:PORT, e.g. 127.0.0.1:5000, [::1]:5000 or 0.0.0.0:5000");
    }

    private static X509Certificate2 LoadCertificate(string certFile, string keyFile)
    {
        string certPem = Encoding.UTF8.GetString(IO.LocalFiles.ReadSmall(certFile, 1 << 20, $"--tls-cert {certFile}"));
        string keyPem = Encoding.UTF8.GetString(IO.LocalFiles.ReadSmall(keyFile, 1 << 20, $"--tls-key {keyFile}"));
        try
        {
            using var pem = X509Certificate2.CreateFromPem(certPem, keyPem);
            // An ephemeral key from PEM cannot be used by SslStream on every platform: re-import it as PKCS#12.
            return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            throw new UsageException($"--tls-cert {certFile} / --tls-key {keyFile}: cannot load: {e.Message}");
        }
    }

    /// <summary><c>16K</c>, <c>1M</c>, <c>0</c>: bytes per second (K and M are powers of 1024).</summary>
    internal static long ParseRate(string text)
    {
        string t = text.Trim();
        long unit = t.EndsWith('K') || t.EndsWith('k') ? 1024 : t.EndsWith('M') || t.EndsWith('m') ? 1024 * 1024 : 1;
        string digits = unit == 1 ? t : t[..^1];
        if (!long.TryParse(digits, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long n) || n > long.MaxValue / unit)
            throw new UsageException($"--min-rate {text}: want bytes per second, e.g. 16K, 1M or 0");
        return n * unit;
    }

    private static async Task<int> RunAsync(ArchiveRegistry registry, IPEndPoint endpoint, X509Certificate2? certificate, AuthGate? users, ServeLimits limits, TextWriter? access, TextWriter log, TextWriter? json, CancellationToken cancel)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ApplicationName = "ferry" });
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<IHostLifetime, QuietLifetime>();
        var gate = new ConnectionGate(limits.MaxConnections, limits.MaxPerAddress);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = 1 << 20;
            k.Limits.MaxRequestHeadersTotalSize = 64 << 10;
            // The gate bounds connections (closing idle ones to make room); Kestrel's own limit would refuse instead.
            k.Limits.MaxConcurrentConnections = null;
            k.Limits.RequestHeadersTimeout = limits.HeadersTimeout;
            k.Limits.KeepAliveTimeout = limits.KeepAlive;
            // Kestrel holds at most this much of a response per connection before it waits for the client.
            k.Limits.MaxResponseBufferSize = ArchiveRegistryChunk;
            k.Limits.MinResponseDataRate = limits.MinRate > 0 ? new Microsoft.AspNetCore.Server.Kestrel.Core.MinDataRate(limits.MinRate, limits.MinRateGrace) : null;
            k.Listen(endpoint, l =>
            {
                l.Use(next => c => gate.RunAsync(c, next));
                if (certificate is not null)
                    l.UseHttps(certificate);
            });
        });
        await using var app = builder.Build();
        app.Run(ctx => HandleAsync(ctx, registry, users, gate, access));
        try
        {
            await app.StartAsync(cancel).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            throw new OutputException($"serve: cannot listen on {endpoint}: {e.Message}", e);
        }
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault() ?? endpoint.ToString();
        var (manifests, blobs) = registry.Counts;
        log.WriteLine($"ferry: serving {registry.Repositories.Count} repositories ({manifests} manifests, {blobs} blobs) on {address}");
        if (json is not null)
        {
            json.WriteLine(Rendering.JsonOut.Document(w =>
            {
                w.WriteString("address", address);
                w.WriteStartArray("repositories");
                foreach (var r in registry.Repositories)
                    w.WriteStringValue(r);
                w.WriteEndArray();
                w.WriteNumber("manifests", manifests);
                w.WriteNumber("blobs", blobs);
            }));
            json.Flush();
        }
        // SIGTERM/SIGINT are how serve ends: stop taking connections, give those in flight a moment, exit 0.
        Program.ExitOnSignal(0, "ferry: serve: stopped");
        try
        {
            await KeepMemoryFlatAsync(cancel).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        using var grace = new CancellationTokenSource(TimeSpan.FromMilliseconds(800));
        await app.StopAsync(grace.Token).ConfigureAwait(false);
        log.WriteLine("ferry: serve: stopped");
        return ExitCodes.Ok;
    }

    /// <summary>How much a server allocates between two of its own young-generation collections.</summary>
    internal const long CollectEveryBytes = 8 << 20;

    /// <summary>
    /// Runs until <paramref name="cancel"/>, collecting the young generation whenever the server has allocated
    /// <see cref="CollectEveryBytes"/> since the last time. Serving allocates a little per request and per chunk; left
    /// to itself the GC sizes its young generation from the CPU cache (on a VM reporting a 260 MiB L3 that is ~80 MiB),
    /// so a server moving gigabytes would grow to that. A collection of what is all garbage costs microseconds, and
    /// memory then stays at what is live plus a few MiB.
    /// </summary>
    private static async Task KeepMemoryFlatAsync(CancellationToken cancel)
    {
        long last = GC.GetTotalAllocatedBytes();
        while (true)
        {
            await Task.Delay(100, cancel).ConfigureAwait(false);
            long now = GC.GetTotalAllocatedBytes();
            if (now - last >= CollectEveryBytes)
            {
                GC.Collect(0, GCCollectionMode.Forced, blocking: true);
                last = now;
            }
        }
    }

    /// <summary>What Kestrel may buffer of a response per connection: one chunk of a blob.</summary>
    private const int ArchiveRegistryChunk = 64 << 10;

    private static async Task HandleAsync(HttpContext ctx, ArchiveRegistry registry, AuthGate? users, ConnectionGate gate, TextWriter? access)
    {
        long started = Stopwatch.GetTimestamp();
        var req = ctx.Request;
        string path = req.Path.Value ?? "/";
        int status;
        long sent = 0;
        gate.RequestStarted(ctx.Connection.Id);
        try
        {
            var (outcome, retryAfter) = users is null ? (AuthGate.Outcome.Allowed, default) : await users.CheckAsync(req.Headers.Authorization.ToString(), ctx.Connection.RemoteIpAddress, ctx.RequestAborted).ConfigureAwait(false);
            if (outcome != AuthGate.Outcome.Allowed)
            {
                bool throttled = outcome == AuthGate.Outcome.Throttled;
                status = throttled ? 429 : 401;
                ctx.Response.StatusCode = status;
                if (throttled)
                    ctx.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
                else
                    ctx.Response.Headers.WWWAuthenticate = "Basic realm=\"ferry\"";
                ctx.Response.Headers["Docker-Distribution-API-Version"] = "registry/2.0";
                ctx.Response.ContentType = "application/json";
                byte[] body = throttled
                    ? "{\"errors\":[{\"code\":\"TOOMANYREQUESTS\",\"message\":\"too many failed logins from this address; try again later\"}]}"u8.ToArray()
                    : "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication required\"}]}"u8.ToArray();
                ctx.Response.ContentLength = body.Length;
                if (!HttpMethods.IsHead(req.Method))
                    await ctx.Response.Body.WriteAsync(body, ctx.RequestAborted).ConfigureAwait(false);
            }
            else
            {
                var r = await registry.HandleAsync(req.Method, path, req.QueryString.HasValue ? req.QueryString.Value : null,
                    req.Headers.Range.Count > 0 ? req.Headers.Range.ToString() : null, ctx.RequestAborted).ConfigureAwait(false);
                status = r.Status;
                ctx.Response.StatusCode = r.Status;
                foreach (var (name, value) in r.Headers)
                    ctx.Response.Headers[name] = value;
                ctx.Response.ContentLength = r.ContentLength;
                try
                {
                    await r.WriteBodyAsync(ctx.Response.BodyWriter, ctx.RequestAborted).ConfigureAwait(false);
                    sent = r.IsHead ? 0 : r.ContentLength;
                }
                catch (Exception e) when (e is OperationCanceledException or IOException or Microsoft.AspNetCore.Connections.ConnectionAbortedException)
                {
                    // The client went away (or was too slow): nothing to answer.
                    status = 499;
                }
                catch (FerryException e)
                {
                    access?.WriteLine($"ferry: serve: {LogText.Escape(path)}: {e.Message}");
                    ctx.Abort();
                    status = 500;
                }
            }
        }
        catch (OperationCanceledException)
        {
            status = 499;
        }
        finally
        {
            gate.RequestEnded(ctx.Connection.Id);
        }
        if (access is not null)
        {
            double ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            access.WriteLine($"ferry: {ctx.Connection.RemoteIpAddress} {LogText.Escape(req.Method)} {LogText.Escape(path)}{LogText.Escape(req.QueryString.Value)} {status} {sent} {ms:F0}ms");
        }
    }

    /// <summary>The host's lifetime without console handling: <see cref="Program"/> owns SIGINT/SIGTERM.</summary>
    private sealed class QuietLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}

/// <summary>The bounds <c>ferry serve</c> keeps under load (see README Safety).</summary>
internal sealed record ServeLimits
{
    /// <summary>Connections open at once; idle ones are closed to make room beyond it.</summary>
    public int MaxConnections { get; init; } = 1024;

    /// <summary>Connections one client address may hold (half the total, so one address cannot take them all).</summary>
    public int MaxPerAddress { get; init; } = 512;

    /// <summary>How long a client may take to send its request headers.</summary>
    public TimeSpan HeadersTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long an idle keep-alive connection is kept.</summary>
    public TimeSpan KeepAlive { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>A download slower than this (bytes/s) after <see cref="MinRateGrace"/> is closed; 0: never.</summary>
    public long MinRate { get; init; } = 16 << 10;

    public TimeSpan MinRateGrace { get; init; } = TimeSpan.FromSeconds(10);
}

/// <summary>An htpasswd file's bcrypt entries (<c>user:$2y$…</c>), as distribution's registry reads them.</summary>
internal sealed class Htpasswd
{
    private readonly Dictionary<string, string> _hashes;

    private Htpasswd(Dictionary<string, string> hashes, int workFactor)
    {
        _hashes = hashes;
        WorkFactor = workFactor;
    }

    /// <summary>The bcrypt cost of the entries (the highest), for the dummy hash unknown users are checked against.</summary>
    public int WorkFactor { get; }

    /// <summary>The most an htpasswd file may hold: 1 MiB (read with that limit, whatever the file says its size is).</summary>
    public const int MaxBytes = 1 << 20;

    public static Htpasswd Load(string path)
    {
        string[] lines = Encoding.UTF8.GetString(IO.LocalFiles.ReadSmall(path, MaxBytes, $"--htpasswd {path}")).Split('\n');
        var hashes = new Dictionary<string, string>(StringComparer.Ordinal);
        int cost = 4;
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].Trim();
            if (line.Length == 0 || line.StartsWith('#'))
                continue;
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            string hash = colon < 0 ? "" : line[(colon + 1)..];
            if (colon <= 0 || !(hash.StartsWith("$2y$", StringComparison.Ordinal) || hash.StartsWith("$2a$", StringComparison.Ordinal) || hash.StartsWith("$2b$", StringComparison.Ordinal))
                || hash.Length < 7 || !int.TryParse(hash.AsSpan(4, 2), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int c) || c is < 4 or > 31)
                throw new UsageException($"--htpasswd {path}: line {i + 1} is not 'user:BCRYPT-HASH' (make it with htpasswd -B)");
            hashes[line[..colon]] = hash;
            cost = Math.Max(cost, c);
        }
        if (hashes.Count == 0)
            throw new UsageException($"--htpasswd {path}: no users");
        return new Htpasswd(hashes, cost);
    }

    /// <summary>The bcrypt hash of a user, or null.</summary>
    public string? HashOf(string user) => _hashes.GetValueOrDefault(user);

    /// <summary>The user and password of an <c>Authorization: Basic …</c> header.</summary>
    public static bool TryDecode(string authorization, out string user, out string password)
    {
        user = password = "";
        if (!authorization.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase) || authorization.Length > 4096)
            return false;
        string decoded;
        try
        {
            decoded = Encoding.UTF8.GetString(Convert.FromBase64String(authorization[6..].Trim()));
        }
        catch (FormatException)
        {
            return false;
        }
        int colon = decoded.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0)
            return false;
        user = decoded[..colon];
        password = decoded[(colon + 1)..];
        return true;
    }

    /// <summary>bcrypt's check (constant time in the comparison; a malformed hash is a mismatch).</summary>
    public static bool Verify(string password, string hash)
    {
        try
        {
            return BCrypt.Net.BCrypt.Verify(password, hash);
        }
        catch (BCrypt.Net.SaltParseException)
        {
            return false;
        }
    }
}
