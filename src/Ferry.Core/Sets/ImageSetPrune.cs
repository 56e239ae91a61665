using System.Text.RegularExpressions;
using Ferry.Digests;
using Ferry.Model;

namespace Ferry.Sets;

/// <summary>A tag <c>sync --prune</c> deletes, and why.</summary>
/// <param name="Tag">The destination tag (<c>HOST/PREFIX/team/app:1.1.0</c>).</param>
/// <param name="Digest">The manifest it points to (what the registry deletes, with every tag of it).</param>
/// <param name="Reason">Why it goes, one line.</param>
public sealed record PruneItem(ImageName Tag, Digest Digest, string Reason);

/// <summary>
/// What <c>sync --prune</c> may delete in a registry destination: the tags of the set's destination repositories that
/// the lock no longer selects. Nothing outside the destination prefix is ever listed; a tag whose manifest the lock
/// keeps (under any name) is kept, since registries delete manifests, not tags; cosign-style referrer tags
/// (<c>sha256-HEX</c>, <c>.sig</c>, <c>.att</c>, <c>.sbom</c>) go only with the manifest they belong to.
/// </summary>
public static partial class ImageSetPrune
{
    [GeneratedRegex("^sha256-([a-f0-9]{64})(?:\\.(?:sig|att|sbom))?$", RegexOptions.CultureInvariant)]
    private static partial Regex ReferrerTag();

    /// <summary>The destination repositories to list before planning: every repository the lock's images and repositories map to.</summary>
    public static IReadOnlyList<ImageName> Repositories(RepositoryMap map, ImageSetLock lockFile)
    {
        ArgumentNullException.ThrowIfNull(map);
        ArgumentNullException.ThrowIfNull(lockFile);
        return lockFile.Images.Select(i => i.Name).Concat(lockFile.Repositories.Select(r => r.Repository.WithTag("latest")))
            .Select(n => map.Map(n.WithTag(n.Tag ?? "latest")))
            .Where(n => IsUnder(map, n))
            .DistinctBy(n => n.FullRepository).OrderBy(n => n.FullRepository, StringComparer.Ordinal)
            .Select(n => ImageName.Parse(n.FullRepository)).ToList();
    }

    /// <summary>
    /// The tags to delete. <paramref name="listing"/> holds, for destination repositories (<c>HOST/PATH</c>), each tag
    /// and the manifest digest it points to now; repositories outside the destination prefix are ignored.
    /// </summary>
    public static IReadOnlyList<PruneItem> Plan(RepositoryMap map, ImageSetLock lockFile, IReadOnlyDictionary<string, IReadOnlyDictionary<string, Digest>> listing)
    {
        ArgumentNullException.ThrowIfNull(map);
        ArgumentNullException.ThrowIfNull(lockFile);
        ArgumentNullException.ThrowIfNull(listing);
        // Per destination repository: the tags the lock puts there, and every digest it keeps there.
        var keepTags = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        var keepDigests = new Dictionary<string, HashSet<Digest>>(StringComparer.Ordinal);
        foreach (var image in lockFile.Images)
        {
            var target = map.Map(image.Name);
            string repo = target.FullRepository;
            if (!keepTags.TryGetValue(repo, out var tags))
            {
                keepTags[repo] = tags = new HashSet<string>(StringComparer.Ordinal);
                keepDigests[repo] = [];
            }
            if (target.Tag is { } t)
                tags.Add(t);
            keepDigests[repo].Add(image.Digest);
            foreach (var m in image.Manifests)
                keepDigests[repo].Add(m.Digest);
        }
        var result = new List<PruneItem>();
        foreach (var (repoText, tags) in listing.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (!ImageName.TryParse(repoText, out var repo, out _) || repo!.Tag is not null || repo.Digest is not null || !IsUnder(map, repo))
                continue;
            var keptTags = keepTags.GetValueOrDefault(repo.FullRepository) ?? [];
            var keptDigests = keepDigests.GetValueOrDefault(repo.FullRepository) ?? [];
            foreach (var (tag, digest) in tags.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                if (keptTags.Contains(tag) || keptDigests.Contains(digest))
                    continue;
                if (ReferrerTag().Match(tag) is { Success: true } m && Digest.TryFromSha256Hex(m.Groups[1].Value, out var subject) && keptDigests.Contains(subject))
                    continue;
                string reason = keptTags.Count == 0 && keptDigests.Count == 0 ? "the set takes nothing from this repository any more" : "the set no longer selects this tag";
                result.Add(new PruneItem(repo.WithTag(tag), digest, reason));
            }
        }
        return result;
    }

    /// <summary>Whether a repository is under the destination prefix (<c>HOST/PREFIX/…</c>), or under a rewrite's mirror path.</summary>
    public static bool IsUnder(RepositoryMap map, ImageName repository)
    {
        ArgumentNullException.ThrowIfNull(map);
        ArgumentNullException.ThrowIfNull(repository);
        if (Under(repository, map.Destination.Registry, map.Destination.Prefix))
            return true;
        return map.Rewrites.Any(r => Under(repository, r.MirrorHost, r.MirrorPath));
    }

    private static bool Under(ImageName repository, string host, string path) =>
        repository.Domain == host && (path.Length == 0 || repository.Path == path || repository.Path.StartsWith(path + "/", StringComparison.Ordinal));
}
