using Ferry.Digests;

namespace Ferry.Transports.Registry;

/// <summary>A manifest or index as a registry holds it: the raw bytes (hashed, never re-serialised), their media type and digest.</summary>
/// <param name="Reference">What was asked for, <c>docker://HOST/REPO:TAG</c> or <c>…@DIGEST</c>.</param>
/// <param name="MediaType">The media type the registry gave (Content-Type), else the document's own.</param>
/// <param name="Digest">The sha256 of <paramref name="Bytes"/>: the manifest digest.</param>
/// <param name="Bytes">The document, byte for byte.</param>
public sealed record RegistryManifest(string Reference, string MediaType, Digest Digest, byte[] Bytes);

/// <summary>
/// What users do to a registry besides copying: list a repository's tags (skopeo <c>list-tags</c>), read a manifest
/// or its digest (<c>crane manifest</c>, <c>crane digest</c>), delete one (<c>crane delete</c>). The same credentials,
/// TLS and timeouts as copies (<see cref="TransportOptions.Registry"/>).
/// </summary>
public static class RegistryOperations
{
    /// <summary>Every tag of the repository <paramref name="repository"/> (<c>[docker://]HOST/REPO</c>; a tag or digest in it is ignored), as the registry orders them.</summary>
    public static async Task<IReadOnlyList<string>> ListTagsAsync(string repository, TransportOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var name = Parse(repository);
        using var client = new RegistryClient(RegistryTransport.HostOf(name), options.Registry, options.Timeout);
        return await client.ListTagsAsync(name.Path, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The manifest or index <paramref name="reference"/> names (<c>[docker://]HOST/REPO[:TAG|@DIGEST]</c>, default tag latest), byte for byte.</summary>
    public static async Task<RegistryManifest> GetManifestAsync(string reference, TransportOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var name = Parse(reference);
        using var client = new RegistryClient(RegistryTransport.HostOf(name), options.Registry, options.Timeout);
        var (bytes, mediaType, digest) = await client.GetManifestAsync(name.Path, name.Digest?.ToString() ?? name.Tag!, cancellationToken).ConfigureAwait(false);
        if (mediaType.Length == 0 || mediaType == "application/json" || mediaType == "text/plain")
            mediaType = DeclaredMediaType(bytes) ?? mediaType;
        return new RegistryManifest("docker://" + name, mediaType, digest, bytes);
    }

    /// <summary>
    /// Deletes the manifest <paramref name="reference"/> names (a tag is resolved to its digest first) and returns that
    /// digest. Registries delete by digest: every tag of that manifest goes too.
    /// </summary>
    public static async Task<Digest> DeleteAsync(string reference, TransportOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var name = Parse(reference);
        using var client = new RegistryClient(RegistryTransport.HostOf(name), options.Registry, options.Timeout);
        var digest = name.Digest ?? (await client.GetManifestAsync(name.Path, name.Tag!, cancellationToken).ConfigureAwait(false)).Digest;
        await client.DeleteManifestAsync(name.Path, digest, cancellationToken).ConfigureAwait(false);
        return digest;
    }

    private static Model.ImageName Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return RegistryReference.Parse(text).Name;
    }

    /// <summary>A document's own <c>mediaType</c> field, when the registry's Content-Type says nothing useful.</summary>
    private static string? DeclaredMediaType(byte[] bytes)
    {
        try
        {
            using var doc = System.Text.Json.JsonDocument.Parse(bytes);
            return doc.RootElement.ValueKind == System.Text.Json.JsonValueKind.Object ? Model.Json.OptString(doc.RootElement, "mediaType") : null;
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }
}
