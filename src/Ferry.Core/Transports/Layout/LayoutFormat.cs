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
/// An archive format as a composition: a blob naming, the index files to emit, and whether it is a directory. Each
/// format is defined in its own folder (<c>OciLayout/</c>, <c>DockerArchive/</c>) and registered once, in
/// <see cref="All"/>; portable is defined here, as what it is: OCI naming and both index sets.
/// </summary>
/// <param name="Format">The format's value in the public API.</param>
/// <param name="Name">Its name on the command line and in messages (<c>oci-archive</c>).</param>
/// <param name="Aliases">Other names the command line takes for it.</param>
/// <param name="Naming">Where each blob goes.</param>
/// <param name="Indexes">The index files it writes.</param>
/// <param name="IsDirectory">A directory, not a tar.</param>
internal sealed record LayoutFormat(OutputFormat Format, string Name, IReadOnlyList<string> Aliases, IBlobNaming Naming, IReadOnlyList<ILayoutIndex> Indexes, bool IsDirectory)
{
    /// <summary>One tar that is an OCI image layout and a docker-archive: every loader takes it.</summary>
    public static LayoutFormat Portable { get; } = new(OutputFormat.Portable, "portable", [], OciLayout.OciBlobNaming.Instance, [OciLayout.OciIndexFiles.Archive, DockerArchive.DockerIndexFiles.Instance], false);

    /// <summary>Every format Ferry writes: the one registration of a format.</summary>
    public static IReadOnlyList<LayoutFormat> All { get; } = [Portable, DockerArchive.DockerArchiveFormat.Archive, OciLayout.OciFormats.Archive, OciLayout.OciFormats.Directory];

    public static LayoutFormat For(OutputFormat format) => All.FirstOrDefault(f => f.Format == format) ?? throw new ArgumentOutOfRangeException(nameof(format));

    /// <summary>The format a command-line word names (its name or an alias), or null.</summary>
    public static LayoutFormat? Named(string word) => All.FirstOrDefault(f => f.Name == word || f.Aliases.Contains(word));

    public bool NeedsManifests => Indexes.Any(i => i.NeedsManifests);

    public bool KeepsReferrers => Indexes.Any(i => i.KeepsReferrers);

    public bool NeedsDockerImages => Indexes.Any(i => i.NeedsDockerImages);

    /// <summary>Whether the layout has an OCI <c>index.json</c> (and so can record what an incremental archive leaves out).</summary>
    public bool HasOciIndex => Indexes.Any(i => i is OciLayout.OciIndexFiles);
}
