using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ferry.IO;
using Ferry.Model;

namespace Ferry.Transports.Registry;

/// <summary>
/// Credentials for a registry, found as docker and podman find them: <c>--creds</c>, then the auth file
/// (<c>--authfile</c>, <c>$REGISTRY_AUTH_FILE</c>, podman's <c>$XDG_RUNTIME_DIR/containers/auth.json</c>, docker's
/// <c>config.json</c>): its <c>credHelpers</c> entry for the host, its <c>auths</c> entry, then its <c>credsStore</c>
/// (a <c>docker-credential-NAME get</c> helper). They are only ever attached to requests for that registry's host.
/// </summary>
internal static class Credentials
{
    /// <summary>The most a credential helper may print: 64 KiB.</summary>
    private const int MaxHelperOutput = 64 << 10;

    /// <summary>base64(user:password) for <paramref name="registry"/>, or null.</summary>
    public static string? Find(string registry, RegistryOptions options, TimeSpan timeout)
    {
        if (options.Credentials is string creds)
        {
            if (!creds.Contains(':', StringComparison.Ordinal))
                throw new UsageException("--creds wants USER:PASSWORD (or USER with --password-stdin)");
            return Convert.ToBase64String(Encoding.UTF8.GetBytes(creds));
        }
        if (options.AuthFile is string given && IO.LocalFiles.KindOf(given, follow: true) == IO.FileKind.Missing)
            throw new UsageException($"--authfile {given}: no such file");
        foreach (var file in AuthFiles(options).Where(f => IO.LocalFiles.KindOf(f, follow: true) != IO.FileKind.Missing))
        {
            JsonNode? root = Read(file);
            if (root is not JsonObject o)
                continue;
            if (o["credHelpers"] is JsonObject helpers && Lookup(helpers, registry) is JsonValue helper && helper.TryGetValue(out string? name) && name.Length > 0)
                return Helper(name, registry, timeout);
            if (o["auths"] is JsonObject auths && Lookup(auths, registry) is JsonObject entry && entry["auth"] is JsonValue a && a.TryGetValue(out string? auth) && auth.Length > 0)
                return auth;
            if (o["credsStore"] is JsonValue store && store.TryGetValue(out string? storeName) && storeName.Length > 0)
                return Helper(storeName, registry, timeout, missingIsNone: true);
        }
        return null;
    }

    /// <summary>The auth files read, in order (the first that names the registry wins).</summary>
    public static IEnumerable<string> AuthFiles(RegistryOptions options)
    {
        var files = new List<string?>
        {
            options.AuthFile,
            Environment.GetEnvironmentVariable("REGISTRY_AUTH_FILE"),
            Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR") is { Length: > 0 } run ? Path.Combine(run, "containers", "auth.json") : null,
            DockerConfig,
        };
        return files.Where(f => f is { Length: > 0 }).Select(f => f!).Distinct(StringComparer.Ordinal);
    }

    /// <summary>docker's config file: <c>$DOCKER_CONFIG/config.json</c>, else <c>~/.docker/config.json</c>.</summary>
    public static string DockerConfig =>
        Path.Combine(Environment.GetEnvironmentVariable("DOCKER_CONFIG") is { Length: > 0 } d ? d : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".docker"), "config.json");

    /// <summary>Where <c>ferry login</c> writes: <c>--authfile</c>, else <c>$REGISTRY_AUTH_FILE</c>, else docker's config.json (which podman reads too).</summary>
    public static string LoginFile(string? authFile) =>
        authFile ?? (Environment.GetEnvironmentVariable("REGISTRY_AUTH_FILE") is { Length: > 0 } f ? f : DockerConfig);

    /// <summary>Reads an auth file, within <see cref="Json.MaxDocumentBytes"/> (however large it claims to be; a FIFO must answer in time).</summary>
    private static JsonNode? Read(string file)
    {
        byte[] bytes = IO.LocalFiles.ReadSmall(file, Json.MaxDocumentBytes, $"auth file {file}");
        try
        {
            return bytes.Length == 0 ? null : JsonNode.Parse(bytes, documentOptions: new JsonDocumentOptions { MaxDepth = Json.MaxDepth });
        }
        catch (JsonException)
        {
            throw new UsageException($"{file}: not a valid auth file (JSON)");
        }
    }

    /// <summary>The entry of an <c>auths</c>/<c>credHelpers</c> object for a registry: keys may be URLs, and docker.io has three spellings.</summary>
    private static JsonNode? Lookup(JsonObject map, string registry)
    {
        foreach (var (key, value) in map)
        {
            if (Key(key) == registry || (registry is "docker.io" or "registry-1.docker.io" && Key(key) is "docker.io" or "index.docker.io" or "registry-1.docker.io"))
                return value;
        }
        return null;
    }

    /// <summary><c>https://host:5000/v1/</c> → <c>host:5000</c>.</summary>
    internal static string Key(string key)
    {
        string k = key;
        if (k.Contains("://", StringComparison.Ordinal))
            k = k[(k.IndexOf("://", StringComparison.Ordinal) + 3)..];
        int slash = k.IndexOf('/', StringComparison.Ordinal);
        return slash < 0 ? k : k[..slash];
    }

    /// <summary>The name docker's credential helpers know a registry by: Docker Hub's old URL, else the host.</summary>
    private static string ServerUrl(string registry) =>
        registry is "docker.io" or "registry-1.docker.io" ? "https://index.docker.io/v1/" : registry;

    /// <summary>Runs <c>docker-credential-NAME VERB</c> with <paramref name="input"/> on stdin (docker's protocol), bounded in output and time.</summary>
    private static ChildProcesses.Result RunHelper(string name, string verb, string registry, string input, TimeSpan timeout)
    {
        string program = "docker-credential-" + name;
        if (name.Length == 0 || name.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
            throw new UsageException($"credential helper name '{Digests.Digest.Describe(name)}' is not valid");
        var r = ChildProcesses.Run(program, [verb], input, MaxHelperOutput, timeout);
        string who = $"registry {registry}: credential helper {program} {verb}";
        return r.Ending switch
        {
            ChildProcesses.Ending.TimedOut => throw new FerryException($"{who}: no answer within {Http.HttpLimits.Seconds(timeout)} (ended it)"),
            ChildProcesses.Ending.TooMuchOutput => throw new FerryException($"{who}: printed more than {MaxHelperOutput >> 10} KiB (ended it)"),
            ChildProcesses.Ending.OutputHeldOpen => throw new FerryException($"{who}: exited, but a program it started kept its output open (ended them)"),
            _ => r,
        };
    }

    /// <summary>A helper that failed: its exit code, never what it printed (it may hold a secret).</summary>
    private static FerryException HelperFailed(string name, string verb, string registry, int exitCode) =>
        new($"registry {registry}: credential helper docker-credential-{name} {verb} failed (exit {exitCode}; what it printed is not shown, as it may hold secrets)");

    /// <summary>Asks <c>docker-credential-NAME get</c> for the registry's credentials (null: it has none, or is not installed and was only the default store).</summary>
    private static string? Helper(string name, string registry, TimeSpan timeout, bool missingIsNone = false)
    {
        ChildProcesses.Result r;
        try
        {
            r = RunHelper(name, "get", registry, ServerUrl(registry), timeout);
        }
        catch (System.ComponentModel.Win32Exception) when (missingIsNone)
        {
            return null;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new FerryException($"registry {registry}: credential helper docker-credential-{name}: {e.Message}");
        }
        if (r.ExitCode != 0)
        {
            // "credentials not found in native keychain" means none: anonymous access.
            if (r.Output.Contains("not found", StringComparison.OrdinalIgnoreCase))
                return null;
            throw HelperFailed(name, "get", registry, r.ExitCode);
        }
        try
        {
            using var doc = JsonDocument.Parse(r.Output);
            string? user = Json.OptString(doc.RootElement, "Username");
            string? secret = Json.OptString(doc.RootElement, "Secret");
            if (string.IsNullOrEmpty(secret))
                return null;
            if (user == "<token>")
                throw new FerryException($"registry {registry}: credential helper docker-credential-{name} gave an identity token; Ferry supports user and password credentials only");
            return Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{secret}"));
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw new FerryException($"registry {registry}: credential helper docker-credential-{name} printed no JSON answer");
        }
    }

    /// <summary>The credential helper that keeps the registry's credentials according to an auth file: its <c>credHelpers</c> entry, else its <c>credsStore</c>.</summary>
    public static string? HelperFor(string file, string registry)
    {
        if (IO.LocalFiles.KindOf(file, follow: true) == IO.FileKind.Missing || Read(file) is not JsonObject o)
            return null;
        if (o["credHelpers"] is JsonObject helpers && Lookup(helpers, registry) is JsonValue h && h.TryGetValue(out string? name) && name.Length > 0)
            return name;
        return o["credsStore"] is JsonValue store && store.TryGetValue(out string? storeName) && storeName.Length > 0 ? storeName : null;
    }

    /// <summary>Stores credentials with a helper (<c>docker-credential-NAME store</c>), as docker login does when the auth file names one.</summary>
    public static void HelperStore(string name, string registry, string user, string password, TimeSpan timeout)
    {
        string input = Encoding.UTF8.GetString(Json.Write(w =>
        {
            w.WriteStartObject();
            w.WriteString("ServerURL", ServerUrl(registry));
            w.WriteString("Username", user);
            w.WriteString("Secret", password);
            w.WriteEndObject();
        }));
        ChildProcesses.Result r;
        try
        {
            r = RunHelper(name, "store", registry, input, timeout);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new FerryException($"registry {registry}: credential helper docker-credential-{name}: {e.Message}");
        }
        if (r.ExitCode != 0)
            throw HelperFailed(name, "store", registry, r.ExitCode);
    }

    /// <summary>Removes credentials from a helper (<c>docker-credential-NAME erase</c>); false when it held none.</summary>
    public static bool HelperErase(string name, string registry, TimeSpan timeout)
    {
        ChildProcesses.Result r;
        try
        {
            r = RunHelper(name, "erase", registry, ServerUrl(registry), timeout);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new FerryException($"registry {registry}: credential helper docker-credential-{name}: {e.Message}");
        }
        if (r.ExitCode == 0)
            return true;
        if (r.Output.Contains("not found", StringComparison.OrdinalIgnoreCase))
            return false;
        throw HelperFailed(name, "erase", registry, r.ExitCode);
    }

    /// <summary>Whether an auth file has an <c>auths</c> entry for the registry.</summary>
    public static bool Has(string file, string registry) =>
        Read(file) is JsonObject o && o["auths"] is JsonObject auths && auths.Any(kv => Key(kv.Key) == registry);

    /// <summary>
    /// Writes (or removes, when <paramref name="auth"/> is null) a registry's <c>auths</c> entry, keeping the rest of the
    /// file; mode 0600, atomic. An empty <paramref name="auth"/> writes the entry without credentials (<c>{}</c>), as
    /// docker does when a helper keeps them. A link is written through (the file it names is replaced); a file that is
    /// not a JSON object, or that is a FIFO or device, is refused rather than overwritten.
    /// </summary>
    public static void Store(string file, string registry, string? auth)
    {
        var (target, kind) = IO.LocalFiles.ResolveForWriting(file);
        if (kind is not (IO.FileKind.Regular or IO.FileKind.Missing))
            throw new OutputException($"{file}: is {IO.LocalFiles.Describe(kind)}, not an auth file; it is not written");
        JsonObject root;
        if (kind == IO.FileKind.Missing)
            root = [];
        else
        {
            var node = Read(file);
            root = node as JsonObject ?? (node is null ? [] : throw new OutputException($"{file}: holds JSON that is not an object, not an auth file; it is not overwritten"));
        }
        var auths = root["auths"] as JsonObject;
        if (auths is null)
        {
            if (root["auths"] is not null)
                throw new OutputException($"{file}: its \"auths\" is not an object; the file is not overwritten");
            auths = [];
            root["auths"] = auths;
        }
        foreach (var key in auths.Select(kv => kv.Key).Where(k => Key(k) == registry).ToList())
            auths.Remove(key);
        if (auth is not null)
            auths[registry] = auth.Length == 0 ? new JsonObject() : new JsonObject { ["auth"] = auth };
        string dir = Path.GetDirectoryName(target)!;
        Directory.CreateDirectory(dir);
        string temp = TemporaryFiles.New(dir, $".{Path.GetFileName(target)}.", "", ".tmp");
        try
        {
            using (var fs = IO.LocalFiles.CreatePrivate(temp, options: FileOptions.None))
            {
                fs.Write(Encoding.UTF8.GetBytes(root.ToJsonString(new JsonSerializerOptions { WriteIndented = true })));
                fs.Flush(flushToDisk: true);
            }
            File.Move(temp, target, overwrite: true);
            TemporaryFiles.Unregister(temp);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TemporaryFiles.Delete(temp);
            throw new OutputException($"{file}: cannot write the auth file: {e.Message}", e);
        }
    }
}
