using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using Ferry.Model;
using Ferry.Transports.Registry;

namespace Ferry.Sets;

/// <summary>Something that failed for one image of a set, the run going on without it (<c>--continue-on-error</c>).</summary>
/// <param name="Image">The image or repository (<c>docker.io/library/ubuntu:20.04</c>).</param>
/// <param name="Step">What was being done: <c>list tags</c>, <c>resolve</c>, <c>platforms</c>, <c>created</c> (and, in a sync, the copy's steps).</param>
/// <param name="Message">The error, one line.</param>
public sealed record ImageSetFailure(string Image, string Step, string Message);

/// <summary>A set resolved: the lock of what resolved, and what did not.</summary>
/// <param name="Lock">Every image that resolved, and every repository whose tags were listed.</param>
/// <param name="Failures">What did not (empty when all went well).</param>
public sealed record ImageSetResolution(ImageSetLock Lock, IReadOnlyList<ImageSetFailure> Failures)
{
    /// <summary>Whether every entry resolved.</summary>
    public bool Succeeded => Failures.Count == 0;
}

/// <summary>Options of <see cref="ImageSetResolver.ResolveAsync"/>.</summary>
public sealed record ImageSetResolveOptions
{
    /// <summary>How many registry requests are in flight at once (default 4).</summary>
    public int Parallelism { get; init; } = 4;
}

/// <summary>
/// Resolves a set to digests (what <c>ferry lock</c> writes and <c>ferry sync SET</c> copies): lists each repository's
/// tags and applies its filter, then reads every image's manifest or index by tag (or digest) and records its digest
/// and the platform manifests taken. A failure of one entry does not stop the others: it is returned beside the lock.
/// </summary>
public static class ImageSetResolver
{
    private sealed record Wanted(ImageName Name, PlatformSelection Platforms, bool Referrers, string From);

    /// <summary>Resolves <paramref name="set"/> through <paramref name="registries"/>.</summary>
    public static async Task<ImageSetResolution> ResolveAsync(ImageSet set, IRegistryCatalog registries, ImageSetResolveOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(set);
        ArgumentNullException.ThrowIfNull(registries);
        options ??= new ImageSetResolveOptions();
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, options.Parallelism), CancellationToken = cancellationToken };
        var failures = new ConcurrentBag<ImageSetFailure>();
        var manifests = new ConcurrentDictionary<string, Task<RegistryManifest>>(StringComparer.Ordinal);

        Task<RegistryManifest> Manifest(ImageName reference) =>
            manifests.GetOrAdd(reference.ToString(), _ => registries.GetManifestAsync(reference, cancellationToken));

        // Repositories first: their tags become images.
        var locked = new ConcurrentBag<LockedRepository>();
        var fromRepos = new ConcurrentBag<Wanted>();
        await Parallel.ForEachAsync(set.Repositories, parallel, async (repo, ct) =>
        {
            string name = repo.Repository.FullRepository;
            IReadOnlyList<string> tags;
            try
            {
                tags = await registries.ListTagsAsync(repo.Repository, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (IsPeerFailure(e))
            {
                failures.Add(new ImageSetFailure(name, "list tags", Message(e)));
                return;
            }
            var platforms = set.PlatformsOf(repo);
            TagSelection selection;
            try
            {
                selection = await repo.Tags.ApplyAsync(tags, async (tag, c) =>
                {
                    var m = await Manifest(repo.Repository.WithTag(tag)).ConfigureAwait(false);
                    return await CreatedAsync(registries, repo.Repository, m, platforms, c).ConfigureAwait(false);
                }, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (IsPeerFailure(e))
            {
                failures.Add(new ImageSetFailure(name, "created", Message(e)));
                return;
            }
            locked.Add(new LockedRepository(repo.Repository, repo.Tags, selection.Listed, selection.Selected, selection.NotSemver, selection.Ordering));
            foreach (var tag in selection.Selected)
                fromRepos.Add(new Wanted(repo.Repository.WithTag(tag), platforms, repo.Referrers ?? set.Referrers, name));
        }).ConfigureAwait(false);

        // An image named on its own wins over the same name selected by a repository's filter.
        var wanted = new Dictionary<string, Wanted>(StringComparer.Ordinal);
        foreach (var i in set.Images)
            wanted.TryAdd(i.Reference.ToString(), new Wanted(i.Reference, set.PlatformsOf(i), i.Referrers ?? set.Referrers, i.Reference.ToString()));
        foreach (var w in fromRepos.OrderBy(w => w.Name.ToString(), StringComparer.Ordinal))
            wanted.TryAdd(w.Name.ToString(), w);

        var images = new ConcurrentBag<LockedImage>();
        await Parallel.ForEachAsync(wanted.Values, parallel, async (w, ct) =>
        {
            try
            {
                var m = await Manifest(w.Name).ConfigureAwait(false);
                images.Add(await LockAsync(registries, w, m, ct).ConfigureAwait(false));
            }
            catch (Exception e) when (IsPeerFailure(e))
            {
                failures.Add(new ImageSetFailure(w.Name.ToString(), e is PlatformException ? "platforms" : "resolve", Message(e)));
            }
        }).ConfigureAwait(false);

        var lockFile = new ImageSetLock(images, locked, ImageSetLock.DigestOf(set));
        return new ImageSetResolution(lockFile, failures.OrderBy(f => f.Image, StringComparer.Ordinal).ThenBy(f => f.Step, StringComparer.Ordinal).ToList());
    }

    private sealed class PlatformException(string message) : FerryException(message);

    private static bool IsPeerFailure(Exception e) =>
        e is FerryException or HttpRequestException or IOException or TimeoutException or JsonException;

    private static string Message(Exception e) => e.Message.ReplaceLineEndings(" ");

    private static bool IsIndex(RegistryManifest m) =>
        MediaTypes.IsIndex(m.MediaType) || (!MediaTypes.IsImageManifest(m.MediaType) && HasManifestsField(m.Bytes));

    private static bool HasManifestsField(byte[] bytes)
    {
        try
        {
            using var doc = JsonDocument.Parse(bytes);
            return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("manifests", out _);
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static async Task<LockedImage> LockAsync(IRegistryCatalog registries, Wanted w, RegistryManifest m, CancellationToken cancellationToken)
    {
        string what = $"{w.Name}";
        if (IsIndex(m))
        {
            var index = ImageIndex.Parse(m.Bytes, m.MediaType, what);
            var children = index.Manifests.Where(d => w.Platforms.IsAll || (d.Platform is { } p && w.Platforms.Matches(p) && !IsAttestation(d))).ToList();
            if (!w.Platforms.IsAll)
            {
                var missing = w.Platforms.Platforms.Where(p => !children.Any(c => p.Matches(c.Platform!))).ToList();
                if (missing.Count > 0)
                {
                    var has = index.Manifests.Where(d => d.Platform is not null && !IsAttestation(d)).Select(d => d.Platform!.ToString()).Distinct();
                    throw new PlatformException($"{what}: the index has no {string.Join(", ", missing)} (it has {string.Join(", ", has)})");
                }
            }
            return new LockedImage(w.Name, m.Digest, index.MediaType, w.Platforms, w.Referrers,
                children.Select(d => new LockedManifest(d.Digest, d.MediaType, d.Size, d.Platform is { } p ? p with { OsVersion = null } : null)).ToList()) { From = w.From };
        }
        var manifest = ImageManifest.Parse(m.Bytes, m.MediaType, what);
        Platform? platform = null;
        if (manifest.IsRunnableImage)
        {
            var config = ImageConfig.Parse(await registries.GetBlobAsync(w.Name, manifest.Config, cancellationToken).ConfigureAwait(false), what + " config");
            platform = config.Platform;
        }
        if (!w.Platforms.IsAll && manifest.IsRunnableImage && (platform is null || !w.Platforms.Matches(platform)))
            throw new PlatformException($"{what}: a single image for {platform?.ToString() ?? "no platform"}, not {w.Platforms}");
        return new LockedImage(w.Name, m.Digest, manifest.MediaType, w.Platforms, w.Referrers, []) { Platform = platform, From = w.From };
    }

    /// <summary>Buildx's attestation manifests sit in the index as <c>unknown/unknown</c> with this annotation.</summary>
    private static bool IsAttestation(Descriptor d) =>
        d.Annotations?.TryGetValue("vnd.docker.reference.type", out var t) == true && t == "attestation-manifest";

    /// <summary>A tag's config <c>created</c>: of its manifest, or for an index of the first child of a wanted platform (any platform for all).</summary>
    private static async Task<DateTimeOffset?> CreatedAsync(IRegistryCatalog registries, ImageName repository, RegistryManifest m, PlatformSelection platforms, CancellationToken cancellationToken)
    {
        string what = $"{repository.FullRepository}@{m.Digest}";
        ImageManifest manifest;
        if (IsIndex(m))
        {
            var index = ImageIndex.Parse(m.Bytes, m.MediaType, what);
            var child = index.Manifests.FirstOrDefault(d => d.Platform is { } p && p.Os != "unknown" && platforms.Matches(p) && !IsAttestation(d))
                ?? index.Manifests.FirstOrDefault(d => MediaTypes.IsImageManifest(d.MediaType) && !IsAttestation(d));
            if (child is null)
                return null;
            var cm = await registries.GetManifestAsync(repository.WithDigest(child.Digest), cancellationToken).ConfigureAwait(false);
            if (!MediaTypes.IsImageManifest(cm.MediaType) && IsIndex(cm))
                return null;
            manifest = ImageManifest.Parse(cm.Bytes, child.MediaType, what);
        }
        else
        {
            manifest = ImageManifest.Parse(m.Bytes, m.MediaType, what);
        }
        if (!manifest.IsRunnableImage)
            return null;
        var config = ImageConfig.Parse(await registries.GetBlobAsync(repository, manifest.Config, cancellationToken).ConfigureAwait(false), what + " config");
        return DateTimeOffset.TryParse(config.Created, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var when) ? when : null;
    }
}
