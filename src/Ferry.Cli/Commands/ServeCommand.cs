using System.Collections.Concurrent;
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
        var progress = ProgressOption.Create();
        var json = new Option<bool>("--json") { Description = "Once listening, print where and what is served as one JSON document on stdout (docs/json.md): for scripts that pick a free port with --listen 127.0.0.1:0" };
        var cmd = new Command("serve", "Serve archives as a read-only OCI registry (GET/HEAD of manifests, blobs with Range, tags, catalog, referrers) straight from the files, by offset")
        {
            archives, listen, cert, key, htpasswd, quiet, progress, json,
        };
        cmd.SetAction((parse, ct) => Guard.RunAsync(io, parse.GetValue(debug), async cancel =>
        {
            var endpoint = ParseListen(parse.GetValue(listen)!);
            string? certFile = parse.GetValue(cert), keyFile = parse.GetValue(key);
            if ((certFile is null) != (keyFile is null))
                throw new UsageException("--tls-cert and --tls-key go together");
            X509Certificate2? certificate = certFile is null ? null : LoadCertificate(certFile, keyFile!);
            var users = parse.GetValue(htpasswd) is string h ? Htpasswd.Load(h) : null;
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
                return RunAsync(registry, endpoint, certificate, users, parse.GetValue(quiet) ? null : log, log, parse.GetValue(json) ? io.Out : null, cancel);
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
        try
        {
            using var pem = X509Certificate2.CreateFromPemFile(certFile, keyFile);
            // An ephemeral key from PEM cannot be used by SslStream on every platform: re-import it as PKCS#12.
            return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new UsageException($"--tls-cert {certFile} / --tls-key {keyFile}: cannot load: {e.Message}");
        }
    }

    private static async Task<int> RunAsync(ArchiveRegistry registry, IPEndPoint endpoint, X509Certificate2? certificate, Htpasswd? users, TextWriter? access, TextWriter log, TextWriter? json, CancellationToken cancel)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ApplicationName = "ferry" });
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<IHostLifetime, QuietLifetime>();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = 1 << 20;
            k.Limits.MaxRequestHeadersTotalSize = 64 << 10;
            k.Limits.MaxConcurrentConnections = 1024;
            k.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(30);
            k.Limits.KeepAliveTimeout = TimeSpan.FromMinutes(2);
            k.Listen(endpoint, l =>
            {
                if (certificate is not null)
                    l.UseHttps(certificate);
            });
        });
        await using var app = builder.Build();
        app.Run(ctx => HandleAsync(ctx, registry, users, access));
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
            await Task.Delay(Timeout.Infinite, cancel).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        using var grace = new CancellationTokenSource(TimeSpan.FromMilliseconds(800));
        await app.StopAsync(grace.Token).ConfigureAwait(false);
        log.WriteLine("ferry: serve: stopped");
        return ExitCodes.Ok;
    }

    private static async Task HandleAsync(HttpContext ctx, ArchiveRegistry registry, Htpasswd? users, TextWriter? access)
    {
        long started = Stopwatch.GetTimestamp();
        var req = ctx.Request;
        string path = req.Path.Value ?? "/";
        int status;
        long sent = 0;
        if (users is not null && !users.Allows(req.Headers.Authorization.ToString()))
        {
            status = 401;
            ctx.Response.StatusCode = status;
            ctx.Response.Headers.WWWAuthenticate = "Basic realm=\"ferry\"";
            ctx.Response.Headers["Docker-Distribution-API-Version"] = "registry/2.0";
            ctx.Response.ContentType = "application/json";
            byte[] body = "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication required\"}]}"u8.ToArray();
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
                await r.WriteBodyAsync(ctx.Response.Body, ctx.RequestAborted).ConfigureAwait(false);
                sent = r.IsHead ? 0 : r.ContentLength;
            }
            catch (Exception e) when (e is OperationCanceledException or IOException)
            {
                // The client went away: nothing to answer.
                status = 499;
            }
            catch (FerryException e)
            {
                access?.WriteLine($"ferry: serve: {path}: {e.Message}");
                ctx.Abort();
                status = 500;
            }
        }
        if (access is not null)
        {
            double ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            access.WriteLine($"ferry: {ctx.Connection.RemoteIpAddress} {req.Method} {path}{req.QueryString} {status} {sent} {ms:F0}ms");
        }
    }

    /// <summary>The host's lifetime without console handling: <see cref="Program"/> owns SIGINT/SIGTERM.</summary>
    private sealed class QuietLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}

/// <summary>An htpasswd file's bcrypt entries (<c>user:$2y$…</c>), as distribution's registry reads them.</summary>
internal sealed class Htpasswd
{
    private readonly Dictionary<string, string> _hashes;
    private readonly ConcurrentDictionary<string, bool> _verified = new(StringComparer.Ordinal);

    private Htpasswd(Dictionary<string, string> hashes) => _hashes = hashes;

    public static Htpasswd Load(string path)
    {
        string[] lines;
        try
        {
            if (new FileInfo(path).Length > 1 << 20)
                throw new UsageException($"--htpasswd {path}: larger than 1 MiB");
            lines = File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"--htpasswd {path}: {e.Message}");
        }
        var hashes = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].Trim();
            if (line.Length == 0 || line.StartsWith('#'))
                continue;
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            string hash = colon < 0 ? "" : line[(colon + 1)..];
            if (colon <= 0 || !(hash.StartsWith("$2y$", StringComparison.Ordinal) || hash.StartsWith("$2a$", StringComparison.Ordinal) || hash.StartsWith("$2b$", StringComparison.Ordinal)))
                throw new UsageException($"--htpasswd {path}: line {i + 1} is not 'user:BCRYPT-HASH' (make it with htpasswd -B)");
            hashes[line[..colon]] = hash;
        }
        if (hashes.Count == 0)
            throw new UsageException($"--htpasswd {path}: no users");
        return new Htpasswd(hashes);
    }

    /// <summary>Whether an <c>Authorization: Basic …</c> header names a user with the right password (bcrypt is slow: a success is remembered).</summary>
    public bool Allows(string authorization)
    {
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
        if (colon <= 0 || !_hashes.TryGetValue(decoded[..colon], out var hash))
            return false;
        string key = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(decoded)));
        if (_verified.ContainsKey(key))
            return true;
        bool ok;
        try
        {
            ok = BCrypt.Net.BCrypt.Verify(decoded[(colon + 1)..], hash);
        }
        catch (BCrypt.Net.SaltParseException)
        {
            ok = false;
        }
        if (ok && _verified.Count < 1000)
            _verified[key] = true;
        return ok;
    }
}
