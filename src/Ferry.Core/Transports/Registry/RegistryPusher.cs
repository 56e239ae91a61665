using System.Collections.Concurrent;
using Ferry.Copy;
using Ferry.Digests;
using Ferry.Model;
using Ferry.Transports.OciLayout;

namespace Ferry.Transports.Registry;

/// <summary>One tag pushed: where, the manifest (or index) digest, and what happened to its blobs.</summary>
public sealed record PushedImage(string Reference, Digest Digest, int Uploaded, int Mounted, int Existed);

/// <summary>
/// Pushes the images of a source to registries: each image under its own repository path re-rooted at the target
/// (<c>REGISTRY[/PREFIX]</c>), or all to one reference. Blobs the registry has are skipped, blobs pushed earlier in the
/// same run to another repository are mounted; manifests and indexes keep their bytes, so digests do not change.
/// </summary>
public static class RegistryPusher
{
    /// <param name="source">The images to push.</param>
    /// <param name="target"><c>HOST[:PORT][/PREFIX]</c>, or with <paramref name="single"/> ignored.</param>
    /// <param name="single">A <c>docker://HOST/REPO:TAG</c> to push the one selected image to, instead of re-rooting names.</param>
    /// <param name="copyOptions">Selection and compression (the manifests change only if compression does).</param>
    /// <param name="options">Credentials and TLS.</param>
    /// <param name="cancel">Stops the push.</param>
    public static IReadOnlyList<PushedImage> Push(ArchiveSource source, string? target, string? single, CopyOptions copyOptions, RegistryOptions options, CancellationToken cancel = default)
    {
        using var copier = new ImageCopier(source, OutputFormat.Oci, copyOptions, Path.GetTempPath());
        var plan = copier.PrepareOci(null, cancel);
        var groups = plan.Roots.GroupBy(r => r.Digest).ToList();
        var targets = new List<(Descriptor Root, ImageName Name)>();
        if (single is not null)
        {
            if (groups.Count != 1)
                throw new UsageException($"--image {single} needs exactly one image, but {groups.Count} are selected (use --select)");
            targets.Add((groups[0].First(), RegistrySource.ParseReference(single)));
        }
        else
        {
            if (string.IsNullOrEmpty(target))
                throw new UsageException("push needs a REGISTRY[/PREFIX] or --image docker://HOST/REPO:TAG");
            string t = target.StartsWith("docker://", StringComparison.Ordinal) ? target["docker://".Length..] : target;
            t = t.TrimEnd('/');
            int slash = t.IndexOf('/', StringComparison.Ordinal);
            string host = slash < 0 ? t : t[..slash];
            string prefix = slash < 0 ? "" : t[(slash + 1)..] + "/";
            foreach (var g in groups)
            {
                var names = g.Select(d => d.Annotations?.GetValueOrDefault(OciLayoutReader.ContainerdNameAnnotation)).Where(n => n is not null).ToList();
                if (names.Count == 0)
                {
                    copyOptions.Log?.Invoke($"warning: {g.Key} has no name; not pushed (push it with --image docker://HOST/REPO:TAG)");
                    continue;
                }
                foreach (var n in names)
                {
                    var name = ImageName.Parse(n!);
                    targets.Add((g.First(), ImageName.Parse($"{host}/{prefix}{name.Path}:{name.Tag ?? "latest"}")));
                }
            }
        }
        var clients = new Dictionary<string, RegistryClient>(StringComparer.Ordinal);
        var uploadedIn = new ConcurrentDictionary<(string Host, Digest Digest), string>();
        var results = new List<PushedImage>();
        try
        {
            foreach (var (root, name) in targets)
            {
                cancel.ThrowIfCancellationRequested();
                string host = RegistrySource.Host(name);
                if (!clients.TryGetValue(host, out var client))
                    clients[host] = client = new RegistryClient(host, options);
                var counts = new int[3];
                var rootBytes = PushTree(client, name.Path, root, plan, uploadedIn, counts, options, copyOptions.Log, cancel).GetAwaiter().GetResult();
                if (name.Tag is not null)
                    client.PutManifestAsync(name.Path, name.Tag, rootBytes, root.MediaType, cancel).GetAwaiter().GetResult();
                results.Add(new PushedImage($"{host}/{name.Path}{(name.Tag is null ? "" : ":" + name.Tag)}", root.Digest, counts[2], counts[1], counts[0]));
            }
        }
        finally
        {
            foreach (var c in clients.Values)
                c.Dispose();
        }
        return results;
    }

    private static byte[] Read(ImageCopier.OciPlan plan, Digest d)
    {
        var (_, open) = plan.Blobs[d];
        using var s = open();
        return Json.ReadLimited(s, $"blob {d}");
    }

    /// <summary>Pushes a manifest tree bottom-up (blobs, then manifests, then the index); returns the root's bytes.</summary>
    private static async Task<byte[]> PushTree(RegistryClient client, string repo, Descriptor node, ImageCopier.OciPlan plan,
        ConcurrentDictionary<(string, Digest), string> uploadedIn, int[] counts, RegistryOptions options, Action<string>? log, CancellationToken cancel)
    {
        byte[] bytes = Read(plan, node.Digest);
        if (MediaTypes.IsIndex(node.MediaType))
        {
            var index = ImageIndex.Parse(bytes, node.MediaType, $"index {node.Digest}");
            foreach (var child in index.Manifests)
            {
                if (!plan.Blobs.ContainsKey(child.Digest))
                {
                    log?.Invoke($"warning: {child.Digest} (in index {node.Digest}) is not in the archive; the registry may refuse the index");
                    continue;
                }
                await PushTree(client, repo, child, plan, uploadedIn, counts, options, log, cancel).ConfigureAwait(false);
            }
        }
        else if (MediaTypes.IsImageManifest(node.MediaType))
        {
            var manifest = ImageManifest.Parse(bytes, node.MediaType, $"manifest {node.Digest}");
            var blobs = manifest.Layers.Prepend(manifest.Config).Where(b => plan.Blobs.ContainsKey(b.Digest)).DistinctBy(b => b.Digest).ToList();
            await Parallel.ForEachAsync(blobs, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, options.Concurrency), CancellationToken = cancel }, async (b, ct) =>
            {
                var (size, open) = plan.Blobs[b.Digest];
                string? from = uploadedIn.TryGetValue((client.Registry, b.Digest), out var other) && other != repo ? other : null;
                var r = await client.PushBlobAsync(repo, b.Digest, size, open, from, ct).ConfigureAwait(false);
                Interlocked.Increment(ref counts[(int)r]);
                uploadedIn.TryAdd((client.Registry, b.Digest), repo);
            }).ConfigureAwait(false);
        }
        else
        {
            log?.Invoke($"warning: {node.Digest} has media type '{node.MediaType}'; pushed as a manifest as it is");
        }
        await client.PutManifestAsync(repo, node.Digest.ToString(), bytes, node.MediaType, cancel).ConfigureAwait(false);
        return bytes;
    }
}
