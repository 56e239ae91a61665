using System.Text;

namespace Ferry.Transports.Registry;

/// <summary><c>ferry login</c> and <c>ferry logout</c>: credentials kept in the auth file docker and podman use.</summary>
public static class RegistryLogin
{
    /// <summary>
    /// Checks <paramref name="user"/> and <paramref name="password"/> against <paramref name="registry"/> (it must accept
    /// them), then keeps them as docker does: with the credential helper the auth file names for the registry
    /// (<c>credHelpers</c>, else <c>credsStore</c>: <c>docker-credential-NAME store</c>, the file then holding an empty
    /// entry), else base64 in the file's <c>auths</c>. The auth file is <paramref name="authFile"/>, else
    /// <c>$REGISTRY_AUTH_FILE</c>, else docker's <c>config.json</c> (which podman reads too); mode 0600, the rest kept.
    /// </summary>
    /// <returns>The auth file written, and the helper that keeps the password (null: the file does).</returns>
    /// <exception cref="FerryException">The registry refused the credentials or is unreachable, or the helper failed; nothing was written.</exception>
    public static async Task<(string AuthFile, string? Helper)> LoginAsync(string registry, string user, string password, RegistryOptions options, TimeSpan timeout, string? authFile = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        string host = Host(registry);
        if (user.Length == 0 || user.Contains(':', StringComparison.Ordinal))
            throw new UsageException("the user name must be given and cannot contain ':'");
        using (var client = new RegistryClient(host == "docker.io" ? "registry-1.docker.io" : host, options with { Credentials = $"{user}:{password}" }, timeout))
            await client.CheckLoginAsync(cancellationToken).ConfigureAwait(false);
        string file = Credentials.LoginFile(authFile);
        if (Credentials.HelperFor(file, host) is { } helper)
        {
            Credentials.HelperStore(helper, host, user, password, timeout);
            Credentials.Store(file, host, "");
            return (file, helper);
        }
        Credentials.Store(file, host, Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));
        return (file, null);
    }

    /// <summary>
    /// Removes the registry's credentials: from the credential helper the auth file names for it
    /// (<c>docker-credential-NAME erase</c>) and the file's <c>auths</c> entry. Returns the file, or null when neither held any.
    /// </summary>
    public static string? Logout(string registry, string? authFile = null, TimeSpan? timeout = null)
    {
        string host = Host(registry);
        string file = Credentials.LoginFile(authFile);
        if (IO.LocalFiles.KindOf(file, follow: true) == IO.FileKind.Missing)
            return null;
        bool erased = Credentials.HelperFor(file, host) is { } helper && Credentials.HelperErase(helper, host, timeout ?? TimeSpan.FromMinutes(2));
        if (Credentials.Has(file, host))
        {
            Credentials.Store(file, host, null);
            return file;
        }
        return erased ? file : null;
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
