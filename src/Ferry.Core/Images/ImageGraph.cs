using Ferry.Compression;
using Ferry.Digests;
using Ferry.Model;

namespace Ferry.Images;

/// <summary>A layer of a source image: its descriptor, diff_id, the compression its bytes really have, and where they are (null: not in the source).</summary>
public sealed record SourceLayer(Descriptor Descriptor, Digest? DiffId, CompressionKind ActualCompression, BlobSource? Blob);

/// <summary>One image of a source: a manifest (or what a docker-archive entry describes), its config and layers.</summary>
public sealed class SourceImage
{
    /// <summary>The parsed config; its exact bytes are <see cref="ImageConfig.Raw"/>.</summary>
    public required ImageConfig Config { get; init; }

    /// <summary>The config's descriptor (its digest is the image ID).</summary>
    public required Descriptor ConfigDescriptor { get; init; }

    /// <summary>Where the config's bytes are.</summary>
    public required BlobSource ConfigBlob { get; init; }

    /// <summary>The manifest as found in the source; null for docker-archive images, which have none.</summary>
    public ImageManifest? Manifest { get; init; }

    /// <summary>The layers, in order, with their diff_ids.</summary>
    public required IReadOnlyList<SourceLayer> Layers { get; init; }

    /// <summary>The image ID docker shows: the digest of the config bytes.</summary>
    public Digest ImageId => ConfigDescriptor.Digest;

    /// <summary>The platform the config names.</summary>
    public Platform? Platform => Config.Platform;
}

/// <summary>A node of a manifest tree: an image, an index of further nodes, or content Ferry does not interpret.</summary>
public abstract class ManifestNode
{
    private protected ManifestNode() { }

    /// <summary>The descriptor by which the parent (index.json or an index) refers to this node; null for docker-archive images.</summary>
    public Descriptor? Descriptor { get; init; }

    /// <summary>The digest of the node's own bytes (its manifest's or index's; an opaque node's descriptor's); null for a docker-archive image, which has no manifest.</summary>
    public abstract Digest? Digest { get; }

    /// <summary>Calls the method of <paramref name="visitor"/> for this kind of node.</summary>
    public abstract T Accept<T>(IManifestVisitor<T> visitor);

    /// <summary>What the node is, in a word: <c>index</c>, <c>image</c>, <c>artifact</c>, or <c>absent</c> (a manifest the source does not hold) / <c>blob</c> (content Ferry does not interpret).</summary>
    public abstract string Kind { get; }

    /// <summary>The same content under another parent's descriptor (its platform and annotations): an index may list one manifest several times.</summary>
    public abstract ManifestNode WithDescriptor(Descriptor descriptor);
}

/// <summary>An image manifest and what it refers to.</summary>
public sealed class ImageNode : ManifestNode
{
    /// <summary>The image.</summary>
    public required SourceImage Image { get; init; }

    /// <inheritdoc/>
    public override Digest? Digest => Image.Manifest?.Digest;

    /// <inheritdoc/>
    public override T Accept<T>(IManifestVisitor<T> visitor) => visitor.Image(this);

    /// <inheritdoc/>
    public override string Kind => "image";

    /// <inheritdoc/>
    public override ManifestNode WithDescriptor(Descriptor descriptor) => new ImageNode { Descriptor = descriptor, Image = Image };
}

/// <summary>An image index (or Docker manifest list) and its children, in the index's order.</summary>
public sealed class IndexNode : ManifestNode
{
    /// <summary>The parsed index; its exact bytes are <see cref="ImageIndex.Raw"/>.</summary>
    public required ImageIndex Index { get; init; }

    /// <summary>The nodes the index lists.</summary>
    public required IReadOnlyList<ManifestNode> Children { get; init; }

    /// <summary>Where the index's bytes are.</summary>
    public required BlobSource Blob { get; init; }

    /// <inheritdoc/>
    public override Digest? Digest => Index.Digest;

    /// <inheritdoc/>
    public override T Accept<T>(IManifestVisitor<T> visitor) => visitor.Index(this);

    /// <inheritdoc/>
    public override string Kind => "index";

    /// <inheritdoc/>
    public override ManifestNode WithDescriptor(Descriptor descriptor) => new IndexNode { Descriptor = descriptor, Index = Index, Children = Children, Blob = Blob };

    /// <summary>The digests of this index and of the indexes nested in it, each once.</summary>
    internal IEnumerable<Digest> IndexDigests() => ImageWalk.Nodes(this).OfType<IndexNode>().Select(x => x.Index.Digest);

    /// <summary>The images of this tree, depth first, each manifest once (an index graph may list one many times).</summary>
    public IEnumerable<ImageNode> Images() => ImageWalk.Images(this);
}

/// <summary>
/// A manifest carried byte for byte, with its config and layers as opaque blobs: an OCI artifact that is not a runnable
/// image (a Helm chart, an SBOM, a signature bundle), and every referrer (a cosign signature or attestation, an OCI 1.1
/// manifest with a <c>subject</c>). Its bytes are never rewritten, its blobs never recompressed.
/// </summary>
public sealed class ArtifactNode : ManifestNode
{
    /// <summary>The manifest, with its exact bytes.</summary>
    public required ImageManifest Manifest { get; init; }

    /// <summary>Where the manifest's bytes are.</summary>
    public required BlobSource Blob { get; init; }

    /// <summary>The config and the layers, in order, each with where its bytes are (null: not in the source).</summary>
    public required IReadOnlyList<(Descriptor Descriptor, BlobSource? Source)> Blobs { get; init; }

    /// <summary>What the artifact is: its <c>artifactType</c>, else its config's media type.</summary>
    public string Type => Manifest.ArtifactType ?? Manifest.Config.MediaType;

    /// <inheritdoc/>
    public override Digest? Digest => Manifest.Digest;

    /// <inheritdoc/>
    public override T Accept<T>(IManifestVisitor<T> visitor) => visitor.Artifact(this);

    /// <inheritdoc/>
    public override string Kind => "artifact";

    /// <inheritdoc/>
    public override ManifestNode WithDescriptor(Descriptor descriptor) => new ArtifactNode { Descriptor = descriptor, Manifest = Manifest, Blob = Blob, Blobs = Blobs };
}

/// <summary>What kind of referrer an artifact is.</summary>
public enum ReferrerKind
{
    /// <summary>A cosign signature (tag <c>sha256-HEX.sig</c>).</summary>
    Signature,

    /// <summary>A cosign attestation (tag <c>sha256-HEX.att</c>).</summary>
    Attestation,

    /// <summary>A cosign SBOM attachment (tag <c>sha256-HEX.sbom</c>).</summary>
    Sbom,

    /// <summary>An OCI 1.1 referrer: a manifest whose <c>subject</c> is the image (its type is its artifactType).</summary>
    Referrer,
}

/// <summary>An artifact that refers to a manifest of an image's graph (or to another referrer).</summary>
/// <param name="Subject">The digest it refers to.</param>
/// <param name="Artifact">The artifact itself.</param>
/// <param name="Kind">How it refers: a cosign tag, or an OCI 1.1 subject.</param>
public sealed record Referrer(Digest Subject, ArtifactNode Artifact, ReferrerKind Kind)
{
    /// <summary>The cosign tag-schema name (<c>sha256-HEX.sig</c>), for the three cosign kinds.</summary>
    public string? Tag => Kind switch
    {
        ReferrerKind.Signature => TagOf(Subject, "sig"),
        ReferrerKind.Attestation => TagOf(Subject, "att"),
        ReferrerKind.Sbom => TagOf(Subject, "sbom"),
        _ => null,
    };

    /// <summary>For a signature: who signed, as its manifest says (a keyless certificate's identity, else "a key").</summary>
    public string? SignedBy => Kind == ReferrerKind.Signature ? Signatures.SignedBy(Artifact) : null;

    /// <summary>The short name selections use: <c>sig</c>, <c>att</c>, <c>sbom</c>, or the artifact type.</summary>
    public string Name => Kind switch
    {
        ReferrerKind.Signature => "sig",
        ReferrerKind.Attestation => "att",
        ReferrerKind.Sbom => "sbom",
        _ => Artifact.Type,
    };

    /// <summary><c>sha256-HEX.SUFFIX</c> (or the bare <c>sha256-HEX</c>, the OCI referrers fallback tag, without a suffix).</summary>
    public static string TagOf(Digest subject, string? suffix) => $"{subject.Algorithm}-{subject.Hex}" + (suffix is null ? "" : "." + suffix);
}

/// <summary>
/// A referenced manifest the source does not hold (the OCI layout spec allows it: a sparse index), or content of a type
/// Ferry does not interpret (an artifact manifest), carried as it is.
/// </summary>
public sealed class OpaqueNode : ManifestNode
{
    /// <summary>Where the bytes are, when the source holds them.</summary>
    public BlobSource? Blob { get; init; }

    /// <inheritdoc/>
    public override Digest? Digest => Descriptor?.Digest;

    /// <inheritdoc/>
    public override T Accept<T>(IManifestVisitor<T> visitor) => visitor.Opaque(this);

    /// <summary>Whether this is a manifest or index the source does not hold (a sparse index's absent child).</summary>
    public bool IsAbsentManifest => Blob is null && Descriptor is { } d && MediaTypes.IsManifestOrIndex(d.MediaType);

    /// <inheritdoc/>
    public override string Kind => Blob is null ? "absent" : "blob";

    /// <inheritdoc/>
    public override ManifestNode WithDescriptor(Descriptor descriptor) => new OpaqueNode { Descriptor = descriptor, Blob = Blob };
}

/// <summary>A top-level entry of a source: one image, or an index of images, with every name it has.</summary>
public sealed class NamedImage
{
    internal List<ImageName> NameList { get; } = [];
    internal List<string> RefNameList { get; } = [];
    internal List<Referrer> ReferrerList { get; } = [];
    internal List<string> NameProblemList { get; } = [];

    /// <summary>
    /// The names the source gives this image that docker and podman refuse to load (an uppercase repository, a bad
    /// tag, a RepoTags entry without a tag), each said with what is wrong; they are not among <see cref="Names"/>
    /// (a RepoTags entry without a tag is read as <c>:latest</c>). <c>verify</c> reports them as errors.
    /// </summary>
    public IReadOnlyList<string> NameProblems => NameProblemList;

    /// <summary>Set on a referrer whose subject the source does not hold, kept as an entry of its own (it has no name).</summary>
    internal Referrer? OrphanOf { get; init; }

    /// <summary>The image or index (or an absent or uninterpreted manifest).</summary>
    public required ManifestNode Root { get; init; }

    /// <summary>Full references (<c>docker.io/library/ubuntu:20.04</c>; a digest-pinned image has a name with a digest and no tag).</summary>
    public IReadOnlyList<ImageName> Names => NameList;

    /// <summary>OCI ref names that are not full references (e.g. a bare tag <c>1</c>).</summary>
    public IReadOnlyList<string> RefNames => RefNameList;

    /// <summary>
    /// The artifacts that refer to any manifest of this entry's graph (the index and each child), and those that refer
    /// to them in turn, subjects first.
    /// </summary>
    public IReadOnlyList<Referrer> Referrers => ReferrerList;

    /// <summary>The digests of every manifest and index of this entry's graph (the referrers' possible subjects).</summary>
    public IEnumerable<Digest> ManifestDigests() => ImageWalk.ManifestDigests(Root);

    /// <summary>The digest identifying the root: the manifest or index digest; the config digest for docker-archive images.</summary>
    public Digest Key => Root.Digest ?? ((ImageNode)Root).Image.ImageId;

    /// <summary>A short human label: the first name, else the first ref name, else the digest.</summary>
    public string Label => Names.Count > 0 ? Names[0].Familiar : RefNames.Count > 0 ? RefNames[0] : Key.ToString();

    /// <summary>The images of this entry: the root itself, or every image of its index tree.</summary>
    public IEnumerable<ImageNode> Images() => ImageWalk.Images(Root);

    /// <summary>Picks the one image docker would get: the root image, or the index child matching <paramref name="platform"/> (default: this machine's).</summary>
    public ImageNode? SelectImage(Platform? platform)
    {
        if (Root is ImageNode i)
            return i;
        if (Root is not IndexNode)
            return null;
        var images = Images().Where(n => !IsAttestation(n)).ToList();
        if (images.Count == 1 && platform is null)
            return images[0];
        return ServingBest(images, platform ?? Model.Platform.Host).FirstOrDefault()
               ?? (platform is null ? images.FirstOrDefault() : null);
    }

    /// <summary>
    /// The images that serve <paramref name="wanted"/> best (<see cref="Platform.Rank"/>: the same platform once
    /// normalised, else the closest variant it runs), in their order; empty when none serves it.
    /// </summary>
    internal static List<ImageNode> ServingBest(IEnumerable<ImageNode> images, Platform wanted)
    {
        var ranked = images.Select(n => (Node: n, Rank: PlatformOf(n) is { } p ? wanted.Rank(p) : null)).Where(x => x.Rank is not null).ToList();
        if (ranked.Count == 0)
            return [];
        int best = ranked.Min(x => x.Rank!.Value);
        return [.. ranked.Where(x => x.Rank == best).Select(x => x.Node)];
    }

    /// <summary>The platform of an image of this entry: its index descriptor's, else its config's.</summary>
    public static Platform? PlatformOf(ImageNode node) => node.Descriptor?.Platform ?? node.Image.Platform;

    /// <summary>
    /// Whether an index child is an attestation manifest (buildx: platform <c>unknown/unknown</c> and the annotation
    /// <c>vnd.docker.reference.type: attestation-manifest</c>), not a runnable image.
    /// </summary>
    public static bool IsAttestation(ImageNode node) =>
        node.Descriptor?.Annotations?.GetValueOrDefault(MediaTypes.DockerReferenceTypeAnnotation) == MediaTypes.AttestationManifestType
        || (node.Descriptor?.Platform is { Os: "unknown", Architecture: "unknown" });

    /// <summary>
    /// An image a source holds, with its names and referrers: how a transport of another assembly makes the images of
    /// its <see cref="Transports.IImageSource"/> (a name given twice, or a referrer twice, is kept once).
    /// </summary>
    public static NamedImage Create(ManifestNode root, IEnumerable<ImageName>? names = null, IEnumerable<string>? refNames = null, IEnumerable<Referrer>? referrers = null)
    {
        ArgumentNullException.ThrowIfNull(root);
        var image = new NamedImage { Root = root };
        foreach (var n in names ?? [])
            image.AddName(n);
        foreach (var r in refNames ?? [])
            image.AddRefName(r);
        foreach (var r in referrers ?? [])
            image.AddReferrer(r);
        return image;
    }

    internal void AddName(ImageName name)
    {
        if (!NameList.Contains(name))
            NameList.Add(name);
    }

    internal void AddReferrer(Referrer r)
    {
        if (!ReferrerList.Any(x => x.Artifact.Manifest.Digest == r.Artifact.Manifest.Digest && x.Subject == r.Subject))
            ReferrerList.Add(r);
    }

    internal void AddRefName(string refName)
    {
        if (!RefNameList.Contains(refName))
            RefNameList.Add(refName);
    }
}
