using Ferry.Digests;
using Ferry.Images;
using Ferry.Model;

namespace Ferry.Copy;

/// <summary>
/// The first stage of a copy, before anything is opened for writing: which images (<see cref="CopyOptions.Images"/>),
/// which of their platforms (<see cref="PlatformSubset"/>), under which names (the destination's own, <c>--tag</c>),
/// and the signature guard (a signed manifest whose digest the copy would change stops it here).
/// </summary>
internal sealed class Planner(CopyContext context, LayerPolicy layers)
{
    public List<PlannedEntry> Plan()
    {
        var source = context.Source;
        var caps = context.Caps;
        var images = ImageSelector.Select(source.Images, context.Options.Images, source.DisplayName).ToList();
        if (caps.NeedsNames)
        {
            foreach (var orphan in images.Where(i => i.OrphanOf is not null && i.Names.Count == 0).ToList())
            {
                context.Log($"note: {orphan.OrphanOf!.Name} {orphan.Key} left out: what it refers to ({orphan.OrphanOf.Subject}) is not in {source.DisplayName}, and it has no name to go under");
                images.Remove(orphan);
            }
        }
        if (images.Count == 0)
            throw new ImageNotFoundException($"{source.DisplayName}: holds no images; nothing to copy");
        if (caps.NeedsDockerImages && !caps.KeepsManifests && images.All(i => i.Root is ArtifactNode))
            throw new ImageNotFoundException($"{source.DisplayName}: nothing for {context.Destination.Format}: {string.Join(", ", images.Select(i => $"{i.Label} is an artifact ({((ArtifactNode)i.Root).Type})"))}, not an image; an OCI format (oci-archive, oci, portable) or a registry keeps it");
        var subset = new PlatformSubset(context);
        var planned = images.Select(i => new PlannedEntry(subset.Apply(i), [.. i.Names], [.. i.RefNames])).ToList();
        foreach (var p in planned)
            CheckSignatures(p.Image);
        if (context.Destination.RequestedName is string requested)
        {
            if (planned.Count != 1)
                throw new UsageException($"the destination names one image ('{requested}'), but {planned.Count} are selected (use --image)");
            planned[0].Names.Clear();
            planned[0].RefNames.Clear();
            AddName(planned[0], requested, context.Destination.DisplayName, allowDigest: true, refName: caps.TakesRefNames);
        }
        if (context.Options.Tags.Count > 0)
        {
            if (planned.Count != 1)
                throw new UsageException($"--tag needs exactly one image, but {planned.Count} are selected (use --image)");
            foreach (var t in context.Options.Tags)
                AddName(planned[0], t, $"--tag {t}", allowDigest: false, refName: false);
        }
        var owner = new Dictionary<ImageName, PlannedEntry>();
        foreach (var p in planned)
        {
            foreach (var n in p.Names)
            {
                if (owner.TryGetValue(n, out var other) && other != p)
                    throw new UsageException($"name '{n.Familiar}' would be given to two images ({other.Image.Label} and {p.Image.Label})");
                owner[n] = p;
            }
        }
        return planned;
    }

    /// <summary>
    /// Adds a name (<paramref name="where"/>: what the user typed it in); a text that is no full reference becomes a
    /// bare OCI ref name where <paramref name="refName"/> allows it (an OCI layout's own <c>:NAME</c>).
    /// </summary>
    private static void AddName(PlannedEntry p, string text, string where, bool allowDigest, bool refName)
    {
        ImageName.CheckGiven(text, where, refName, allowDigest);
        if (!ImageName.TryParse(text, out var name, out _))
        {
            // oci:DIR:NAME and oci-archive:PATH:NAME take any ref name (a bare tag, as skopeo writes it).
            p.RefNames.Add(text);
            return;
        }
        name = name!.WithDefaultTag();
        if (!p.Names.Contains(name))
            p.Names.Add(name);
    }

    /// <summary>
    /// A signed manifest's bytes are never changed silently: when this copy would rewrite a manifest that a signature
    /// refers to (its layers recompressed, so its digest changes), it stops before anything is written, naming the
    /// signature, unless <see cref="CopyOptions.RemoveSignatures"/>.
    /// </summary>
    private void CheckSignatures(NamedImage image)
    {
        if (context.Options.RemoveSignatures || image.Referrers.Count == 0 || !context.Caps.KeepsManifests)
            return;
        var changed = Rewritten(image.Root);
        foreach (var r in image.Referrers.Where(r => r.Kind == ReferrerKind.Signature && changed.Contains(r.Subject)))
            throw new UsageException($"{image.Label}: manifest {r.Subject} is signed (signature {r.Artifact.Manifest.Digest}); recompressing its layers would change its digest and break the signature: keep the compression (--compress keep), or use --remove-signatures");
    }

    /// <summary>The manifests and indexes this copy rewrites: those whose layers' compression changes, and every index above one.</summary>
    private HashSet<Digest> Rewritten(ManifestNode root)
    {
        var changed = new HashSet<Digest>();
        foreach (var node in ImageWalk.Nodes(root, WalkOrder.ChildrenFirst))
        {
            bool rewritten = node.Accept(new RewriteCheck(layers, changed));
            if (rewritten && node.Digest is { } d)
                changed.Add(d);
        }
        return changed;
    }

    /// <summary>Whether a node is rewritten, children being known already (the walk gives them first).</summary>
    private sealed class RewriteCheck(LayerPolicy layers, HashSet<Digest> changed) : IManifestVisitor<bool>
    {
        public bool Image(ImageNode node) =>
            node.Image.Manifest is not null && node.Image.Layers.Any(l => l.Blob is not null && layers.TargetCompression(l.ActualCompression, l.Descriptor.Digest) != l.ActualCompression);

        public bool Index(IndexNode node) => node.Children.Any(c => c.Digest is { } d && changed.Contains(d));

        public bool Artifact(ArtifactNode node) => false;

        public bool Opaque(OpaqueNode node) => false;
    }
}
