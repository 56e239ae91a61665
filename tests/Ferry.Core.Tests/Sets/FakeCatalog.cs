using System.Text;
using Ferry.Digests;
using Ferry.Model;
using Ferry.Sets;
using Ferry.Transports.Registry;

namespace Ferry.Tests.Sets;

/// <summary>An in-memory <see cref="IRegistryCatalog"/>: repositories with tags pointing at manifests, indexes and configs it builds.</summary>
public sealed class FakeCatalog : IRegistryCatalog
{
    private readonly Dictionary<string, Dictionary<string, Digest>> _tags = new(StringComparer.Ordinal);
    private readonly Dictionary<Digest, (byte[] Bytes, string MediaType)> _manifests = [];
    private readonly Dictionary<Digest, byte[]> _blobs = [];
    private int _requests;

    /// <summary>How many requests were made.</summary>
    public int Requests => _requests;

    /// <summary>Registries (domains) that fail every request.</summary>
    public HashSet<string> Down { get; } = new(StringComparer.Ordinal);

    /// <summary>Lists tags in reverse order (registries order them as they like).</summary>
    public bool Reverse { get; set; }

    public Digest Config(string platform, string created)
    {
        var p = Platform.Parse(platform);
        string json = $"{{\"architecture\":\"{p.Architecture}\",\"os\":\"{p.Os}\"{(p.Variant is null ? "" : $",\"variant\":\"{p.Variant}\"")},\"created\":\"{created}\",\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[]}}}}";
        var bytes = Encoding.UTF8.GetBytes(json);
        var d = Digest.Sha256Of(bytes);
        _blobs[d] = bytes;
        return d;
    }

    public Digest Manifest(string platform, string created = "2024-01-01T00:00:00Z")
    {
        var config = Config(platform, created);
        string json = $"{{\"schemaVersion\":2,\"mediaType\":\"{MediaTypes.OciManifest}\",\"config\":{{\"mediaType\":\"{MediaTypes.OciConfig}\",\"digest\":\"{config}\",\"size\":{_blobs[config].Length}}},\"layers\":[]}}";
        return Put(json, MediaTypes.OciManifest);
    }

    public Digest Index(string created, params string[] platforms)
    {
        var entries = platforms.Select(p =>
        {
            var m = Manifest(p, created);
            var pl = Platform.Parse(p);
            return $"{{\"mediaType\":\"{MediaTypes.OciManifest}\",\"digest\":\"{m}\",\"size\":{_manifests[m].Bytes.Length},\"platform\":{{\"architecture\":\"{pl.Architecture}\",\"os\":\"{pl.Os}\"{(pl.Variant is null ? "" : $",\"variant\":\"{pl.Variant}\"")}}}}}";
        });
        return Put($"{{\"schemaVersion\":2,\"mediaType\":\"{MediaTypes.OciIndex}\",\"manifests\":[{string.Join(',', entries)}]}}", MediaTypes.OciIndex);
    }

    private Digest Put(string json, string mediaType)
    {
        var bytes = Encoding.UTF8.GetBytes(json);
        var d = Digest.Sha256Of(bytes);
        _manifests[d] = (bytes, mediaType);
        return d;
    }

    public void Tag(string repository, string tag, Digest digest)
    {
        var name = ImageName.Parse(repository);
        if (!_tags.TryGetValue(name.FullRepository, out var tags))
            _tags[name.FullRepository] = tags = new(StringComparer.Ordinal);
        tags[tag] = digest;
    }

    private void Check(ImageName name)
    {
        Interlocked.Increment(ref _requests);
        if (Down.Contains(name.Domain))
            throw new PeerException($"registry {name.Domain}: connection refused");
    }

    public Task<IReadOnlyList<string>> ListTagsAsync(ImageName repository, CancellationToken cancellationToken = default)
    {
        Check(repository);
        if (!_tags.TryGetValue(repository.FullRepository, out var tags))
            throw new ImageNotFoundException($"registry {repository.Domain}: {repository.Path}: NAME_UNKNOWN");
        IEnumerable<string> list = tags.Keys;
        return Task.FromResult<IReadOnlyList<string>>((Reverse ? list.Reverse() : list).ToList());
    }

    public Task<RegistryManifest> GetManifestAsync(ImageName reference, CancellationToken cancellationToken = default)
    {
        Check(reference);
        Digest d;
        if (reference.Digest is { } pinned)
            d = pinned;
        else if (!_tags.TryGetValue(reference.FullRepository, out var tags) || !tags.TryGetValue(reference.Tag ?? "latest", out d))
            throw new ImageNotFoundException($"registry {reference.Domain}: {reference.Path}:{reference.Tag}: MANIFEST_UNKNOWN");
        if (!_manifests.TryGetValue(d, out var m))
            throw new ImageNotFoundException($"registry {reference.Domain}: {reference.Path}@{d}: MANIFEST_UNKNOWN");
        return Task.FromResult(new RegistryManifest("docker://" + reference, m.MediaType, d, m.Bytes));
    }

    public Task<byte[]> GetBlobAsync(ImageName repository, Descriptor blob, CancellationToken cancellationToken = default)
    {
        Check(repository);
        return _blobs.TryGetValue(blob.Digest, out var b) ? Task.FromResult(b) : throw new ImageNotFoundException($"blob {blob.Digest}: BLOB_UNKNOWN");
    }
}
