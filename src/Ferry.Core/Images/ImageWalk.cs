using Ferry.Digests;

namespace Ferry.Images;

/// <summary>
/// Does something with each kind of node of an image graph. The one place code tells node kinds apart is
/// <see cref="ManifestNode.Accept{T}"/>; the one walk over a graph is <see cref="ImageWalk"/>.
/// </summary>
/// <typeparam name="T">What the visit gives.</typeparam>
public interface IManifestVisitor<out T>
{
    /// <summary>An index (or Docker manifest list).</summary>
    T Index(IndexNode node);

    /// <summary>An image manifest (or a docker-archive image, which has none).</summary>
    T Image(ImageNode node);

    /// <summary>An artifact, carried byte for byte.</summary>
    T Artifact(ArtifactNode node);

    /// <summary>A manifest the source does not hold (a sparse index's absent child), or content Ferry does not interpret.</summary>
    T Opaque(OpaqueNode node);
}

/// <summary>In which order <see cref="ImageWalk.Nodes"/> gives a graph's nodes.</summary>
public enum WalkOrder
{
    /// <summary>An index before what it lists (for reading: the root first).</summary>
    ParentsFirst,

    /// <summary>What an index lists before the index (for writing: children before parents, as registries want).</summary>
    ChildrenFirst,
}

/// <summary>
/// The one walk over an image graph: each node once per digest (an index graph may list the same manifest or index many
/// times: a DAG is walked as a tree of distinct nodes), in the order asked for. The copier, the validator, <c>serve</c>
/// and <c>inspect</c> all walk graphs with it.
/// </summary>
public static class ImageWalk
{
    /// <summary>The nodes below (and including) <paramref name="root"/>, each once by its digest.</summary>
    public static IEnumerable<ManifestNode> Nodes(ManifestNode root, WalkOrder order = WalkOrder.ParentsFirst)
    {
        ArgumentNullException.ThrowIfNull(root);
        var seen = new HashSet<Digest>();
        var result = new List<ManifestNode>();
        Visit(root, order, seen, result);
        return result;
    }

    private static void Visit(ManifestNode node, WalkOrder order, HashSet<Digest> seen, List<ManifestNode> result)
    {
        // A node without a digest (a docker-archive image, known by its config) is its own.
        if (node.Digest is { } d && !seen.Add(d))
            return;
        if (order == WalkOrder.ParentsFirst)
            result.Add(node);
        if (node is IndexNode x)
        {
            foreach (var c in x.Children)
                Visit(c, order, seen, result);
        }
        if (order == WalkOrder.ChildrenFirst)
            result.Add(node);
    }

    /// <summary>Visits the nodes of <see cref="Nodes"/> in order and collects what each visit gives.</summary>
    public static List<T> Visit<T>(ManifestNode root, IManifestVisitor<T> visitor, WalkOrder order = WalkOrder.ParentsFirst)
    {
        ArgumentNullException.ThrowIfNull(visitor);
        return [.. Nodes(root, order).Select(n => n.Accept(visitor))];
    }

    /// <summary>The digests of every manifest and index of the graph (what referrers can refer to).</summary>
    public static IEnumerable<Digest> ManifestDigests(ManifestNode root) =>
        Nodes(root).Where(n => n is not OpaqueNode && n.Digest is not null).Select(n => n.Digest!.Value);

    /// <summary>The images of the graph, each manifest once, in order.</summary>
    public static IEnumerable<ImageNode> Images(ManifestNode root) => Nodes(root).OfType<ImageNode>();
}
