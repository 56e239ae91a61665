using System.Text;

namespace Ferry.Transports.Registry;

/// <summary><c>ferry login</c> and <c>ferry logout</c>: credentials kept in the auth file docker and podman use.</summary>
public static class RegistryLogin
{
    /// <summary>
    /// Checks <paramref name="user"/> and <paramref name="password"/> against <paramref name="registry"/> (it must accept
    /// them), then stores them in the auth file (<paramref name="authFile"/>, else <c>$REGISTRY_AUTH_FILE</c>, else
    /// docker's <c>config.json</c>, which podman reads too), mode 0600, the rest of the file kept.
    /// </summary>
    /// <returns>The auth file written.</returns>
    /// <exception cref="FerryException">The registry refused the credentials or is unreachable; nothing was written.</exception>
    public static async Task<string> LoginAsync(string registry, string user, string password, RegistryOptions options, TimeSpan timeout, string? authFile = null, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        string host = Host(registry);
        if (user.Length == 0 || user.Contains(':', StringComparison.Ordinal))
            throw new UsageException("the user name must be given and cannot contain ':'");
        using (var client = new RegistryClient(host == "docker.io" ? "registry-1.docker.io" : host, options with { Credentials = $"{user}:{password}" }, timeout))
            await client.CheckLoginAsync(cancel).ConfigureAwait(false);
        string file = Credentials.LoginFile(authFile);
        Credentials.Store(file, host, Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));
        return file;
    }

    /// <summary>Removes the registry's entry from the auth file; returns the file, or null when it held none.</summary>
    public static string? Logout(string registry, string? authFile = null)
    {
        string host = Host(registry);
        string file = Credentials.LoginFile(authFile);
        if (!File.Exists(file) || !Credentials.Has(file, host))
            return null;
        Credentials.Store(file, host, null);
        return file;
    }

    /// <summary>The registry host of <c>HOST[:PORT]</c> or a URL, as auth files key it (docker.io for Docker Hub).</summary>
    private static string Host(string registry)
    {
        string h = Credentials.Key(registry.Trim());
        if (h.Length == 0 || h.Any(char.IsWhiteSpace))
            throw new UsageException($"'{Digests.Digest.Describe(registry)}': want a registry HOST[:PORT]");
        return h is "index.docker.io" or "registry-1.docker.io" ? "docker.io" : h;
    }
}
