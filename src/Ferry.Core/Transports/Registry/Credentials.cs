using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
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
        if (options.AuthFile is string given && !File.Exists(given))
            throw new UsageException($"--authfile {given}: no such file");
        foreach (var file in AuthFiles(options).Where(File.Exists))
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

    private static JsonNode? Read(string file)
    {
        try
        {
            var info = new FileInfo(file);
            if (info.Length > Json.MaxDocumentBytes)
                throw new UsageException($"{file}: auth file is over the {Json.MaxDocumentBytes}-byte limit");
            return JsonNode.Parse(File.ReadAllBytes(file), documentOptions: new JsonDocumentOptions { MaxDepth = Json.MaxDepth });
        }
        catch (JsonException)
        {
            throw new UsageException($"{file}: not a valid auth file (JSON)");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"{file}: cannot read the auth file: {e.Message}");
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

    /// <summary>Runs <c>docker-credential-NAME get</c> with the server on stdin (docker's protocol); bounded in output and time.</summary>
    private static string? Helper(string name, string registry, TimeSpan timeout, bool missingIsNone = false)
    {
        string program = "docker-credential-" + name;
        if (name.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
            throw new UsageException($"credential helper name '{Digests.Digest.Describe(name)}' is not valid");
        var psi = new ProcessStartInfo(program)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add("get");
        Process p;
        try
        {
            p = Process.Start(psi) ?? throw new FerryException($"cannot start {program}");
        }
        catch (System.ComponentModel.Win32Exception) when (missingIsNone)
        {
            return null;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new FerryException($"registry {registry}: credential helper {program}: {e.Message}");
        }
        using (p)
        {
            p.StandardInput.Write(registry == "registry-1.docker.io" ? "https://index.docker.io/v1/" : registry);
            p.StandardInput.Close();
            var output = new StringBuilder();
            var read = Task.Run(() =>
            {
                char[] buf = new char[4096];
                int n;
                while ((n = p.StandardOutput.Read(buf, 0, buf.Length)) > 0 && output.Length < MaxHelperOutput)
                    output.Append(buf, 0, n);
            });
            if (!p.WaitForExit(timeout) || !read.Wait(TimeSpan.FromSeconds(5)))
            {
                try
                {
                    p.Kill(entireProcessTree: true);
                }
                catch (InvalidOperationException)
                {
                }
                throw new FerryException($"registry {registry}: credential helper {program} gave no answer within {Http.HttpLimits.Seconds(timeout)}");
            }
            if (p.ExitCode != 0)
            {
                // "credentials not found in native keychain" means none: anonymous access.
                string text = output.ToString().Trim();
                if (text.Contains("not found", StringComparison.OrdinalIgnoreCase))
                    return null;
                throw new FerryException($"registry {registry}: credential helper {program} failed (exit {p.ExitCode}): {Digests.Digest.Describe(text.Split('\n')[0])}");
            }
            try
            {
                using var doc = JsonDocument.Parse(output.ToString());
                string? user = Json.OptString(doc.RootElement, "Username");
                string? secret = Json.OptString(doc.RootElement, "Secret");
                if (string.IsNullOrEmpty(secret))
                    return null;
                if (user == "<token>")
                    throw new FerryException($"registry {registry}: credential helper {program} gave an identity token; Ferry supports user and password credentials only");
                return Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{secret}"));
            }
            catch (JsonException)
            {
                throw new FerryException($"registry {registry}: credential helper {program} printed no JSON");
            }
        }
    }

    /// <summary>Whether an auth file has an <c>auths</c> entry for the registry.</summary>
    public static bool Has(string file, string registry) =>
        Read(file) is JsonObject o && o["auths"] is JsonObject auths && auths.Any(kv => Key(kv.Key) == registry);

    /// <summary>Writes (or removes, when <paramref name="auth"/> is null) a registry's <c>auths</c> entry, keeping the rest of the file; mode 0600, atomic.</summary>
    public static void Store(string file, string registry, string? auth)
    {
        JsonObject root = File.Exists(file) ? Read(file) as JsonObject ?? [] : [];
        var auths = root["auths"] as JsonObject;
        if (auths is null)
        {
            auths = [];
            root["auths"] = auths;
        }
        foreach (var key in auths.Select(kv => kv.Key).Where(k => Key(k) == registry).ToList())
            auths.Remove(key);
        if (auth is not null)
            auths[registry] = new JsonObject { ["auth"] = auth };
        string dir = Path.GetDirectoryName(Path.GetFullPath(file))!;
        Directory.CreateDirectory(dir);
        string temp = TemporaryFiles.New(dir, $".{Path.GetFileName(file)}.", "", ".tmp");
        try
        {
            var create = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
                create.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            using (var fs = new FileStream(temp, create))
            {
                fs.Write(Encoding.UTF8.GetBytes(root.ToJsonString(new JsonSerializerOptions { WriteIndented = true })));
                fs.Flush(flushToDisk: true);
            }
            File.Move(temp, file, overwrite: true);
            TemporaryFiles.Unregister(temp);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TemporaryFiles.Delete(temp);
            throw new OutputException($"{file}: cannot write the auth file: {e.Message}", e);
        }
    }
}
