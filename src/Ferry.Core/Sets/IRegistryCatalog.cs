using Ferry.Digests;
using Ferry.Model;
using Ferry.Transports;
using Ferry.Transports.Registry;

namespace Ferry.Sets;

/// <summary>
/// What resolving a set asks of registries: a repository's tags, a manifest by tag or digest, and small blobs (image
/// configs, for <c>latest</c> by created time and a single manifest's platform). <see cref="RegistryCatalog"/> is the
/// real one; tests give an in-memory one.
/// </summary>
public interface IRegistryCatalog
{
    /// <summary>Every tag of <paramref name="repository"/> (its tag and digest, if any, are ignored).</summary>
    Task<IReadOnlyList<string>> ListTagsAsync(ImageName repository, CancellationToken cancellationToken = default);

    /// <summary>The manifest or index <paramref name="reference"/> names (by digest when it has one, else by tag), byte for byte.</summary>
    Task<RegistryManifest> GetManifestAsync(ImageName reference, CancellationToken cancellationToken = default);

    /// <summary>A small blob of <paramref name="repository"/> (an image config), checked against its digest and size.</summary>
    Task<byte[]> GetBlobAsync(ImageName repository, Descriptor blob, CancellationToken cancellationToken = default);
}

/// <summary>The registries themselves, with the credentials, TLS and timeouts of <see cref="TransportOptions.Registry"/> (one connection per registry).</summary>
public sealed class RegistryCatalog : IRegistryCatalog, IDisposable
{
    private readonly TransportOptions _options;
    private readonly Dictionary<string, RegistryClient> _clients = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    /// <summary>A catalog reaching registries with these options.</summary>
    public RegistryCatalog(TransportOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
    }

    private RegistryClient Client(ImageName name)
    {
        string host = RegistryTransport.HostOf(name);
        lock (_lock)
        {
            if (!_clients.TryGetValue(host, out var client))
                _clients[host] = client = new RegistryClient(host, _options.Registry, _options.Timeout);
            return client;
        }
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<string>> ListTagsAsync(ImageName repository, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(repository);
        return Client(repository).ListTagsAsync(repository.Path, cancellationToken);
    }

    /// <inheritdoc/>
    public async Task<RegistryManifest> GetManifestAsync(ImageName reference, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reference);
        string r = reference.Digest?.ToString() ?? reference.Tag ?? "latest";
        var (bytes, mediaType, digest) = await Client(reference).GetManifestAsync(reference.Path, r, cancellationToken).ConfigureAwait(false);
        if (!MediaTypes.IsManifestOrIndex(mediaType))
            mediaType = DeclaredMediaType(bytes) ?? mediaType;
        return new RegistryManifest("docker://" + reference, mediaType, digest, bytes);
    }

    /// <inheritdoc/>
    public async Task<byte[]> GetBlobAsync(ImageName repository, Descriptor blob, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(repository);
        ArgumentNullException.ThrowIfNull(blob);
        string what = $"registry {RegistryTransport.HostOf(repository)}: {repository.Path}@{blob.Digest}";
        if (blob.Size is < 0 or > Json.MaxDocumentBytes)
            throw new PeerException($"{what}: a config of {blob.Size} bytes is over the {Json.MaxDocumentBytes}-byte limit");
        await using var stream = await Client(repository).OpenBlobAsync(repository.Path, blob.Digest, blob.Size, cancellationToken).ConfigureAwait(false);
        var bytes = new byte[blob.Size];
        await stream.ReadExactlyAsync(bytes, cancellationToken).ConfigureAwait(false);
        if (Digest.Sha256Of(bytes) != blob.Digest)
            throw new DigestMismatchException($"{what}: the blob does not hash to its digest");
        return bytes;
    }

    private static string? DeclaredMediaType(byte[] bytes)
    {
        try
        {
            using var doc = System.Text.Json.JsonDocument.Parse(bytes);
            return doc.RootElement.ValueKind == System.Text.Json.JsonValueKind.Object ? Json.OptString(doc.RootElement, "mediaType") : null;
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }

    /// <summary>Closes every connection.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            foreach (var c in _clients.Values)
                c.Dispose();
            _clients.Clear();
        }
    }
}
