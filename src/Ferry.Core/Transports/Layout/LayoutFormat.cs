using Ferry.Digests;
using Ferry.Model;

namespace Ferry.Transports.Layout;

/// <summary>Where a layout stores a blob: the file name of a config and of a layer, and of any other blob.</summary>
internal interface IBlobNaming
{
    /// <summary>The directories to create for a blob's name, then the name (null: the naming has no place for this blob).</summary>
    IEnumerable<string>? Directories(Digest digest, BlobRole role);

    string? Name(Digest digest, BlobRole role);
}

/// <summary>What a blob is for a layout: docker's naming needs to know configs from layers.</summary>
internal enum BlobRole
{
    Config,
    Layer,
    Other,
}

/// <summary>The OCI image layout's naming: every blob (configs, layers, manifests, indexes) as <c>blobs/ALG/HEX</c>.</summary>
internal sealed class OciBlobNaming : IBlobNaming
{
    public static OciBlobNaming Instance { get; } = new();

    public IEnumerable<string> Directories(Digest digest, BlobRole role) => ["blobs/", $"blobs/{digest.Algorithm}/"];

    public string Name(Digest digest, BlobRole role) => $"blobs/{digest.Algorithm}/{digest.Hex}";
}

/// <summary>docker save's naming: a config as <c>HEX.json</c>, a layer as <c>HEX/layer.tar</c>; no place for manifests.</summary>
internal sealed class DockerBlobNaming : IBlobNaming
{
    public static DockerBlobNaming Instance { get; } = new();

    public IEnumerable<string>? Directories(Digest digest, BlobRole role) => role == BlobRole.Layer ? [$"{digest.Hex}/"] : role == BlobRole.Config ? [] : null;

    public string? Name(Digest digest, BlobRole role) => role switch
    {
        BlobRole.Config => $"{digest.Hex}.json",
        BlobRole.Layer => $"{digest.Hex}/layer.tar",
        _ => null,
    };
}

/// <summary>A set of index files a layout writes: what makes it an OCI layout, a docker-archive, or both.</summary>
internal interface ILayoutIndex
{
    /// <summary>Whether this index set needs manifests (and so a whole manifest tree) to be written.</summary>
    bool NeedsManifests { get; }

    /// <summary>Whether this index set needs one docker image per name.</summary>
    bool NeedsDockerImages { get; }

    /// <summary>Whether this index set records referrers.</summary>
    bool KeepsReferrers { get; }

    /// <summary>The index files for the images (and their referrers), blobs named by <paramref name="naming"/>.</summary>
    IEnumerable<(string Name, byte[] Bytes)> Files(IReadOnlyList<LayoutImage> images, IReadOnlyList<LayoutReferrer> referrers, IBlobNaming naming, IReadOnlyDictionary<string, string>? indexAnnotations);
}

/// <summary>A referrer of a layout: its manifest's descriptor, what it is, and the root digest of the image it came with.</summary>
internal sealed record LayoutReferrer(Descriptor Artifact, Images.Referrer Referrer, Digest? Image);

/// <summary>One image of a layout: its root (manifest or index) and names, and its docker image.</summary>
internal sealed record LayoutImage(Descriptor? Root, IReadOnlyList<ImageName> Names, IReadOnlyList<string> RefNames, DockerImage? Docker)
{
    /// <summary>The name the user gave the destination (<c>oci:DIR:myname:2</c>) as typed: its ref.name is written so, as skopeo does.</summary>
    public string? NameAsGiven { get; init; }
}

/// <summary>
/// An archive format as a composition: a blob naming, the index files to emit, and whether it is a directory.
/// Portable = OCI naming + both index sets.
/// </summary>
internal sealed record LayoutFormat(OutputFormat Format, IBlobNaming Naming, IReadOnlyList<ILayoutIndex> Indexes, bool IsDirectory)
{
    public static LayoutFormat For(OutputFormat format) => format switch
    {
        OutputFormat.Portable => new(format, OciBlobNaming.Instance, [OciIndexFiles.Archive, DockerIndexFiles.Instance], false),
        OutputFormat.DockerArchive => new(format, DockerBlobNaming.Instance, [DockerIndexFiles.Instance], false),
        OutputFormat.OciArchive => new(format, OciBlobNaming.Instance, [OciIndexFiles.Archive], false),
        OutputFormat.Oci => new(format, OciBlobNaming.Instance, [OciIndexFiles.Directory], true),
        _ => throw new ArgumentOutOfRangeException(nameof(format)),
    };

    public bool NeedsManifests => Indexes.Any(i => i.NeedsManifests);

    public bool KeepsReferrers => Indexes.Any(i => i.KeepsReferrers);

    public bool NeedsDockerImages => Indexes.Any(i => i.NeedsDockerImages);

    /// <summary>Whether the layout has an OCI <c>index.json</c> (and so can record what an incremental archive leaves out).</summary>
    public bool HasOciIndex => Indexes.Any(i => i is OciIndexFiles);

    public string Name => OutputFormats.Name(Format);
}

/// <summary><c>oci-layout</c> and <c>index.json</c>: one descriptor per name, the full name in containerd's annotation and in ref.name.</summary>
/// <param name="TagsAsRefNames">
/// Whether a cosign referrer's entry also gets its tag (<c>sha256-HEX.sig</c>) as ref.name. Only in a directory: the
/// loaders of archives import every named entry as an image and fail to unpack a signature (measured: <c>ctr images
/// import</c> 1.6 and 1.7 exit 1, "no processor for media-type application/vnd.dev.cosign.simplesigning.v1+json";
/// docker 26's containerd store records <c>sha256-HEX.sig:latest</c> as an image), while nothing loads a directory
/// and the tools that read one (skopeo and umoci by name, regctl and oras by tag) find the tag.
/// </param>
internal sealed class OciIndexFiles(bool TagsAsRefNames) : ILayoutIndex
{
    public const string ContainerdNameAnnotation = "io.containerd.image.name";
    public const string RefNameAnnotation = "org.opencontainers.image.ref.name";

    /// <summary>For archives (portable, oci-archive): referrers unnamed.</summary>
    public static OciIndexFiles Archive { get; } = new(false);

    /// <summary>For a directory (oci): cosign referrers also under their tag.</summary>
    public static OciIndexFiles Directory { get; } = new(true);

    public bool NeedsManifests => true;

    public bool NeedsDockerImages => false;

    public bool KeepsReferrers => true;

    public IEnumerable<(string Name, byte[] Bytes)> Files(IReadOnlyList<LayoutImage> images, IReadOnlyList<LayoutReferrer> referrers, IBlobNaming naming, IReadOnlyDictionary<string, string>? indexAnnotations)
    {
        yield return ("oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}"u8.ToArray());
        yield return ("index.json", ImageIndex.CreateOci(Descriptors(images, referrers), indexAnnotations));
    }

    /// <summary>The entries of index.json: one per name of each image, then one per referrer.</summary>
    public List<Descriptor> Descriptors(IReadOnlyList<LayoutImage> images, IReadOnlyList<LayoutReferrer> referrers)
    {
        var descriptors = images.Where(i => i.Root is not null).SelectMany(i => NamedDescriptors(i.Root!, i.Names, i.RefNames, i.NameAsGiven)).ToList();
        // Each referrer: its own entry, with what it refers to in Ferry's annotations (the cosign tag follows from them)
        // and, in a directory, the cosign tag as ref.name (as oc-mirror and regclient keep them); an OCI 1.1 referrer
        // also carries its subject in its own bytes, where oras and regctl look.
        // A manifest in several images (an index, and one of its platforms under another name) may have a different
        // referrer in each image's repository (each its own signature under the same tag): the entry names its image.
        var shared = referrers.GroupBy(x => x.Referrer.Subject).Where(g => g.Select(x => x.Image).Distinct().Count() > 1).Select(g => g.Key).ToHashSet();
        foreach (var (artifact, r, image) in referrers.DistinctBy(x => (x.Artifact.Digest, x.Referrer.Subject, shared.Contains(x.Referrer.Subject) ? x.Image : default)))
        {
            var a = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                [OciLayout.OciLayoutReader.ReferrerSubjectAnnotation] = r.Subject.ToString(),
                [OciLayout.OciLayoutReader.ReferrerKindAnnotation] = r.Kind switch { Images.ReferrerKind.Signature => "sig", Images.ReferrerKind.Attestation => "att", Images.ReferrerKind.Sbom => "sbom", _ => "referrer" },
            };
            if (shared.Contains(r.Subject) && image is { } owner)
                a[OciLayout.OciLayoutReader.ReferrerImageAnnotation] = owner.ToString();
            if (TagsAsRefNames && r.Tag is string tag)
                a[RefNameAnnotation] = tag;
            descriptors.Add(new Descriptor(artifact.MediaType, artifact.Digest, artifact.Size) { Annotations = a, ArtifactType = r.Artifact.Manifest.ArtifactType });
        }
        return descriptors;
    }

    /// <summary>
    /// The index.json entries of one image: one per name, the full name as containerd's name and as ref.name (as podman
    /// and skopeo write it: a bare tag would collide between images of different repositories, and skopeo, podman and
    /// umoci select images by ref.name). A digest-pinned name gets containerd's annotation only (with the root's digest).
    /// A name the user typed for this destination (<paramref name="asGiven"/>) keeps its spelling in ref.name, so that
    /// <c>skopeo inspect oci:DIR:myname:2</c> finds what <c>ferry copy SRC oci:DIR:myname:2</c> wrote.
    /// </summary>
    internal static IEnumerable<Descriptor> NamedDescriptors(Descriptor root, IReadOnlyList<ImageName> names, IReadOnlyList<string> refNames, string? asGiven = null)
    {
        ImageName? given = asGiven is not null && ImageName.TryParse(asGiven, out var g, out _) ? g!.WithDefaultTag() : null;
        var baseAnnotations = root.Annotations?
            .Where(kv => kv.Key is not ContainerdNameAnnotation and not RefNameAnnotation)
            .ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal) ?? [];
        if (names.Count == 0 && refNames.Count == 0)
        {
            yield return root with { Annotations = baseAnnotations.Count > 0 ? baseAnnotations : null };
            yield break;
        }
        foreach (var n in names)
        {
            var a = new Dictionary<string, string>(baseAnnotations, StringComparer.Ordinal);
            if (n.Tag is null && n.Digest is not null)
                a[ContainerdNameAnnotation] = n.WithDigest(root.Digest).ToString();
            else
            {
                a[ContainerdNameAnnotation] = n.ToString();
                a[RefNameAnnotation] = given is not null && n == given ? asGiven! : n.ToString();
            }
            yield return root with { Annotations = a };
        }
        foreach (var r in refNames)
        {
            var a = new Dictionary<string, string>(baseAnnotations, StringComparer.Ordinal) { [RefNameAnnotation] = r };
            yield return root with { Annotations = a };
        }
    }
}

/// <summary><c>manifest.json</c> and <c>repositories</c>: full names in RepoTags (docker shows them short; podman would read short names as localhost/…).</summary>
internal sealed class DockerIndexFiles : ILayoutIndex
{
    public static DockerIndexFiles Instance { get; } = new();

    public bool NeedsManifests => false;

    public bool NeedsDockerImages => true;

    public bool KeepsReferrers => false;

    public IEnumerable<(string Name, byte[] Bytes)> Files(IReadOnlyList<LayoutImage> images, IReadOnlyList<LayoutReferrer> referrers, IBlobNaming naming, IReadOnlyDictionary<string, string>? indexAnnotations)
    {
        var entries = images.Where(i => i.Docker is not null)
            .Select(i => (Config: naming.Name(i.Docker!.Config.Digest, BlobRole.Config)!, i.Names,
                          Layers: i.Docker.Layers.Select(l => naming.Name(l.Digest, BlobRole.Layer)!).ToList(), TopLayer: i.Docker.Layers.Count > 0 ? i.Docker.Layers[^1] : null))
            .ToList();
        yield return ("manifest.json", Json.Write(w =>
        {
            w.WriteStartArray();
            foreach (var (config, names, layers, _) in entries)
            {
                w.WriteStartObject();
                w.WriteString("Config", config);
                var tagged = names.Where(n => n.Tag is not null).ToList();
                if (tagged.Count == 0)
                    w.WriteNull("RepoTags");
                else
                {
                    w.WriteStartArray("RepoTags");
                    foreach (var n in tagged)
                        w.WriteStringValue(n.ToString());
                    w.WriteEndArray();
                }
                w.WriteStartArray("Layers");
                foreach (var l in layers)
                    w.WriteStringValue(l);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }));
        // The legacy repositories file: repository → tag → top layer's ID (its blob's hex, as the names above use).
        var repos = new SortedDictionary<string, SortedDictionary<string, string>>(StringComparer.Ordinal);
        foreach (var (_, names, _, top) in entries)
        {
            if (top is null)
                continue;
            foreach (var n in names.Where(n => n.Tag is not null))
            {
                if (!repos.TryGetValue(n.FullRepository, out var tags))
                    repos[n.FullRepository] = tags = new(StringComparer.Ordinal);
                tags[n.Tag!] = top.Digest.Hex;
            }
        }
        if (repos.Count > 0)
        {
            yield return ("repositories", Json.Write(w =>
            {
                w.WriteStartObject();
                foreach (var (repo, tags) in repos)
                {
                    w.WriteStartObject(repo);
                    foreach (var (tag, id) in tags)
                        w.WriteString(tag, id);
                    w.WriteEndObject();
                }
                w.WriteEndObject();
            }));
        }
    }
}
