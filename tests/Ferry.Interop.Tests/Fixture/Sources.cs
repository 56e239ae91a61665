namespace Ferry.Interop.Tests.Fixture;

/// <summary>One image a source archive holds, as the tool that wrote the archive reports it.</summary>
public sealed record ExpectedImage(string Id, IReadOnlyList<string> Names, IReadOnlyList<string> DiffIds)
{
    public override string ToString() =>
        $"{Id} names=[{string.Join(", ", Names)}] diff_ids=[{string.Join(", ", DiffIds)}]";
}

/// <summary>A source archive (or OCI directory) made by a real tool, with what it should contain.</summary>
public sealed record SourceArchive(string Key, string Path, string MadeBy, IReadOnlyList<ExpectedImage> Images)
{
    public bool IsDirectory => Directory.Exists(Path);

    /// <summary>All names of all images (normalised).</summary>
    public IReadOnlyList<string> AllNames => Images.SelectMany(i => i.Names).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();

    /// <summary>The distinct images by ID (several source entries may share one ID).</summary>
    public IReadOnlyList<ExpectedImage> ById => Images.GroupBy(i => i.Id, StringComparer.Ordinal)
        .Select(g => new ExpectedImage(g.Key, g.SelectMany(i => i.Names).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList(), g.First().DiffIds))
        .ToList();

    public string Describe() =>
        $"source {Key}: {Path}\n  made by: {MadeBy}\n" + string.Join("\n", Images.Select(i => "  expect " + i));
}

/// <summary>The source archives of the matrix and the output formats.</summary>
public static class Sources
{
    public const string DockerOne = "docker-save-one";
    public const string DockerMulti = "docker-save-multi";
    public const string DockerUntagged = "docker-save-untagged";
    public const string DockerGzip = "docker-save-gzip";
    public const string PodmanDocker = "podman-docker-archive";
    public const string PodmanOci = "podman-oci-archive";
    public const string PodmanMulti = "podman-multi-image-archive";
    public const string SkopeoGzip = "skopeo-oci-archive-gzip";
    public const string SkopeoZstd = "skopeo-oci-archive-zstd";
    public const string SkopeoDir = "skopeo-oci-dir";
    public const string CtrExport = "ctr-export";

    public static readonly IReadOnlyList<string> All =
    [
        DockerOne, DockerMulti, DockerUntagged, DockerGzip,
        PodmanDocker, PodmanOci, PodmanMulti,
        SkopeoGzip, SkopeoZstd, SkopeoDir,
        CtrExport,
    ];

    public const string Portable = "portable";
    public const string DockerArchive = "docker-archive";
    public const string OciArchive = "oci-archive";
    public const string Oci = "oci";

    public static readonly IReadOnlyList<string> Formats = [Portable, DockerArchive, OciArchive, Oci];

    /// <summary>The file (or directory) name Ferry's output of <paramref name="format"/> gets.</summary>
    public static string OutputName(string source, string format) => format switch
    {
        Portable => $"{source}.portable.tar",
        DockerArchive => $"{source}.docker.tar",
        OciArchive => $"{source}.oci.tar",
        Oci => $"{source}.oci-layout",
        _ => throw new ArgumentException($"unknown format {format}", nameof(format)),
    };
}
