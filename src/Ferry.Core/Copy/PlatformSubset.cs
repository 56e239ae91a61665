using System.Text.Json.Nodes;
using Ferry.Digests;
using Ferry.Images;
using Ferry.Model;

namespace Ferry.Copy;

/// <summary>
/// The platforms stage of the plan: with <see cref="CopyOptions.Platforms"/>, a multi-platform image becomes the one
/// chosen platform's manifest, a new index of the chosen ones (rewritten up through nested indexes), or
/// (<see cref="CopyOptions.KeepIndex"/>) the original index with the others absent; the referrers of what is kept come
/// along, and a signed index is never replaced silently.
/// </summary>
internal sealed class PlatformSubset(CopyContext context)
{
    /// <summary>
    /// The image as the copy writes it: with <see cref="CopyOptions.Platforms"/>, an index becomes the one chosen
    /// platform's manifest, or a new index of the chosen ones, or (<see cref="CopyOptions.KeepIndex"/>) the original index
    /// with the others absent.
    /// </summary>
    public NamedImage Apply(NamedImage image)
    {
        if (context.Options.Platforms is not { Count: > 0 } wanted)
            return image;
        if (image.Root is not IndexNode index)
        {
            // A single-platform image is copied as it is; a --platform it does not match would otherwise pass unseen.
            if (image.Root is ImageNode single && NamedImage.PlatformOf(single) is { } own && !wanted.Any(w => w.Matches(own)))
                context.Log($"warning: {image.Label} is a single-platform image ({own}), not one of {string.Join(", ", wanted)}: --platform picks platforms of multi-platform images only; it is copied as it is");
            return image;
        }
        // Every platform of the tree, nested indexes too (containerd exports index → index → manifests); each wanted
        // platform takes the images that serve it best (linux/arm64 is linux/arm64/v8, linux/arm is linux/arm/v7).
        var images = index.Images().Where(n => !NamedImage.IsAttestation(n)).ToList();
        var keep = new HashSet<Digest>();
        foreach (var w in wanted)
            keep.UnionWith(NamedImage.ServingBest(images, w).Select(KeyOf));
        var chosen = images.Where(n => keep.Contains(KeyOf(n))).DistinctBy(KeyOf).ToList();
        if (chosen.Count == 0)
            throw new ImageNotFoundException($"{context.Source.DisplayName}: {image.Label}: none of the platforms {string.Join(", ", wanted)} is in its index (has: {string.Join(", ", images.Select(n => NamedImage.PlatformOf(n)?.ToString() ?? "?"))})");
        // The indexes whose bytes the subset does not keep (a signature on one stays behind).
        var replaced = new HashSet<Digest>();
        ManifestNode root;
        if (context.Options.KeepIndex)
        {
            var left = new List<(Descriptor Descriptor, Platform? Platform)>();
            root = Sparse(index, keep, left);
            foreach (var (d, _) in left)
                context.LeftOut[d.Digest] = true;
            if (left.Count > 0)
                context.Log($"note: {image.Label}: index {index.Index.Digest} kept as it is, sparse: {string.Join(", ", left.Take(10).Select(c => c.Platform?.ToString() ?? c.Descriptor.Digest.ToString()))}{(left.Count > 10 ? $" and {left.Count - 10} more" : "")} absent (ctr import then needs --platform; registries that check indexes refuse it)");
        }
        else if (chosen.Count == 1 && wanted.Count == 1)
        {
            root = chosen[0];
            replaced.UnionWith(index.IndexDigests());
        }
        else
        {
            root = Prune(index, keep, replaced) ?? index;
            if (root is IndexNode subset && subset.Index.Digest != index.Index.Digest)
                context.Log($"note: {image.Label}: index {index.Index.Digest} subset to {string.Join(", ", wanted)}: new index {subset.Index.Digest} (--keep-index keeps {index.Index.Digest.Short}…)");
        }
        var result = new NamedImage { Root = root };
        result.NameList.AddRange(image.Names);
        result.RefNameList.AddRange(image.RefNames);
        // The referrers of what is kept (and the referrers of those); a referrer of a platform left out goes with it.
        var subjects = result.ManifestDigests().ToHashSet();
        var carried = new HashSet<Referrer>();
        for (bool progress = true; progress;)
        {
            progress = false;
            foreach (var r in image.Referrers)
            {
                if (!carried.Contains(r) && subjects.Contains(r.Subject))
                {
                    carried.Add(r);
                    subjects.Add(r.Artifact.Manifest.Digest);
                    progress = true;
                }
            }
        }
        result.ReferrerList.AddRange(image.Referrers.Where(carried.Contains));
        // The index's signature stays with the index: a subset that replaces a signed index refuses, unless what it
        // carries instead is one platform's manifest with a signature of its own.
        var indexSignature = image.Referrers.FirstOrDefault(r => r.Kind == ReferrerKind.Signature && replaced.Contains(r.Subject) && !carried.Contains(r));
        if (indexSignature is not null && !context.Options.RemoveSignatures)
        {
            bool childSigned = root is ImageNode { Image.Manifest: { } m } && result.Referrers.Any(r => r.Kind == ReferrerKind.Signature && r.Subject == m.Digest);
            if (!childSigned)
                throw new UsageException($"{image.Label}: index {indexSignature.Subject} is signed (signature {indexSignature.Artifact.Manifest.Digest}), and the platform subset {(root is IndexNode ? "makes a new index" : "carries an unsigned manifest instead")}: use --keep-index to keep the signed index (sparse), or --remove-signatures");
            context.Log($"note: {image.Label}: the index's signature stays with index {indexSignature.Subject.Short}…; {NamedImage.PlatformOf((ImageNode)root)}'s manifest carries its own");
        }
        return result;
    }

    private static Digest KeyOf(ImageNode n) => n.Image.Manifest?.Digest ?? n.Image.ImageId;

    /// <summary>
    /// The index as it is, with only the images in <paramref name="keep"/> present; what is absent (images not kept, and
    /// children the source has only as references, such as those a registry source did not fetch for other platforms)
    /// goes to <paramref name="left"/>.
    /// </summary>
    private static IndexNode Sparse(IndexNode index, HashSet<Digest> keep, List<(Descriptor, Platform?)> left) => new()
    {
        Descriptor = index.Descriptor,
        Index = index.Index,
        Blob = index.Blob,
        Children = [.. index.Children.Select(c => c.Accept(new SparseChild(keep, left)))],
    };

    /// <summary>A child of a sparse index: an image kept, or absent (recorded in <c>left</c>); a nested index made sparse in turn.</summary>
    private sealed class SparseChild(HashSet<Digest> keep, List<(Descriptor, Platform?)> left) : IManifestVisitor<ManifestNode>
    {
        public ManifestNode Image(ImageNode node) => keep.Contains(KeyOf(node)) ? node : Absent(node, NamedImage.PlatformOf(node));

        public ManifestNode Index(IndexNode node) => Sparse(node, keep, left);

        public ManifestNode Opaque(OpaqueNode node) => node.Blob is null && node.Descriptor is { } d ? Absent(node, d.Platform) : node;

        public ManifestNode Artifact(ArtifactNode node) => node;

        private OpaqueNode Absent(ManifestNode n, Platform? platform)
        {
            left.Add((n.Descriptor!, platform));
            return n as OpaqueNode ?? new OpaqueNode { Descriptor = n.Descriptor };
        }
    }

    /// <summary>
    /// The index with only the images in <paramref name="keep"/> (and the nested indexes that hold some), rewritten
    /// where it loses children, with new digests up the tree; null when it keeps none. The original digests of the
    /// indexes rewritten go to <paramref name="replaced"/>.
    /// </summary>
    private static IndexNode? Prune(IndexNode index, HashSet<Digest> keep, HashSet<Digest> replaced)
    {
        var children = new List<ManifestNode>();
        var entries = new List<(int Position, Descriptor? Changed)>();
        bool changed = false;
        for (int i = 0; i < index.Children.Count; i++)
        {
            var child = index.Children[i];
            if (child.Accept(new PrunedChild(keep, replaced)) is not { } survivor)
            {
                changed = true;
                continue;
            }
            children.Add(survivor);
            bool same = survivor.Digest == child.Digest;
            entries.Add((i, same ? null : survivor.Descriptor));
            changed |= !same;
        }
        if (children.Count == 0)
            return null;
        if (!changed)
            return index;
        replaced.Add(index.Index.Digest);
        var node = JsonNode.Parse(index.Index.Raw)!.AsObject();
        var old = node["manifests"]!.AsArray();
        var kept = new JsonArray();
        foreach (var (position, newer) in entries)
        {
            var o = old[position]!.DeepClone().AsObject();
            if (newer is not null)
            {
                o["digest"] = newer.Digest.ToString();
                o["size"] = newer.Size;
            }
            kept.Add((JsonNode)o);
        }
        node["manifests"] = kept;
        byte[] raw = Json.Write(w => node.WriteTo(w));
        var subset = ImageIndex.Parse(raw, index.Index.MediaType, "platform subset");
        return new IndexNode
        {
            Descriptor = (index.Descriptor ?? index.Index.ToDescriptor()) with { Digest = subset.Digest, Size = raw.LongLength },
            Index = subset,
            Blob = new BytesBlob(raw, "platform subset"),
            Children = children,
        };
    }

    /// <summary>What a child of a pruned index becomes: an image kept, a nested index pruned in turn, or nothing (null).</summary>
    private sealed class PrunedChild(HashSet<Digest> keep, HashSet<Digest> replaced) : IManifestVisitor<ManifestNode?>
    {
        public ManifestNode? Image(ImageNode node) => keep.Contains(KeyOf(node)) ? node : null;

        public ManifestNode? Index(IndexNode node) => Prune(node, keep, replaced);

        public ManifestNode? Artifact(ArtifactNode node) => null;

        public ManifestNode? Opaque(OpaqueNode node) => null;
    }
}
