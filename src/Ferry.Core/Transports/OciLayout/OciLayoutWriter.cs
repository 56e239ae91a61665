using Ferry.Digests;
using Ferry.Model;
using Ferry.Transports.Layout;

namespace Ferry.Transports.OciLayout;

/// <summary>The OCI image layout's naming: every blob (configs, layers, manifests, indexes) as <c>blobs/ALG/HEX</c>.</summary>
internal sealed class OciBlobNaming : IBlobNaming
{
    public static OciBlobNaming Instance { get; } = new();

    public IEnumerable<string> Directories(Digest digest, BlobRole role) => ["blobs/", $"blobs/{digest.Algorithm}/"];

    public string Name(Digest digest, BlobRole role) => $"blobs/{digest.Algorithm}/{digest.Hex}";
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

/// <summary>The OCI formats: an image layout in a tar, and as a directory.</summary>
internal static class OciFormats
{
    /// <summary><c>oci-archive</c>: an OCI image layout in a tar, referrers unnamed.</summary>
    public static LayoutFormat Archive { get; } = new(OutputFormat.OciArchive, "oci-archive", [], OciBlobNaming.Instance, [OciIndexFiles.Archive], false);

    /// <summary><c>oci</c>: an OCI image layout directory, cosign referrers also under their tag.</summary>
    public static LayoutFormat Directory { get; } = new(OutputFormat.Oci, "oci", ["oci-dir"], OciBlobNaming.Instance, [OciIndexFiles.Directory], true);
}
