using Ferry.Model;

namespace Ferry.Copy;

/// <summary>The archive shapes Ferry writes.</summary>
public enum OutputFormat
{
    /// <summary>One tar that is both an OCI image layout and a docker-archive: every loader accepts it.</summary>
    Portable,
    DockerArchive,
    OciArchive,
    /// <summary>An OCI image layout directory.</summary>
    Oci,
}

/// <summary>What to do with layer compression.</summary>
public enum CompressMode
{
    /// <summary>Keep each layer's bytes, except zstd layers in docker-loadable outputs (portable, docker-archive) become gzip.</summary>
    Keep,
    Gzip,
    Zstd,
    None,
}

/// <summary>Options of <see cref="ImageCopier"/>.</summary>
public sealed record CopyOptions
{
    /// <summary>The output format when the destination is a plain path.</summary>
    public OutputFormat? Format { get; init; }

    public CompressMode Compress { get; init; } = CompressMode.Keep;

    /// <summary>Selects images of the source by name, bare ref name, <c>@N</c> or ID prefix; empty means all.</summary>
    public IReadOnlyList<string> Images { get; init; } = [];

    /// <summary>Names added to the (single) selected image.</summary>
    public IReadOnlyList<string> Tags { get; init; } = [];

    /// <summary>The platform picked from multi-platform images where one image must be chosen (docker's manifest.json).</summary>
    public Platform? Platform { get; init; }

    /// <summary>The mtime written in every tar header (seconds since the epoch); SOURCE_DATE_EPOCH or 0 by default.</summary>
    public long Mtime { get; init; } = DefaultMtime();

    /// <summary>Receives warnings and notes meant for stderr.</summary>
    public Action<string>? Log { get; init; }

    /// <summary>Receives per-blob progress.</summary>
    public ICopyProgress? Progress { get; init; }

    /// <summary>The Docker Engine address for docker-daemon: references (default: DOCKER_HOST, else the local socket).</summary>
    public string? DockerHost { get; init; }

    /// <summary>The compression level for layers Ferry compresses (gzip 1–9, zstd 1–19); null for the default (gzip 3, zstd 3).</summary>
    public int? CompressionLevel { get; init; }

    /// <summary>Credentials and TLS for docker:// references.</summary>
    public Transports.Registry.RegistryOptions Registry { get; init; } = new();

    /// <summary>Whether docker-loadable outputs may keep zstd layers (the destination daemon is docker 23 or later).</summary>
    public bool DockerLoadsZstd { get; init; }

    /// <summary>How many layers are recompressed at once (default: the processor count).</summary>
    public int Parallelism { get; init; } = Environment.ProcessorCount;

    public static long DefaultMtime() =>
        long.TryParse(Environment.GetEnvironmentVariable("SOURCE_DATE_EPOCH"), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long v) ? v : 0;

    public static OutputFormat ParseFormat(string text) => text switch
    {
        "portable" => OutputFormat.Portable,
        "docker-archive" or "docker" => OutputFormat.DockerArchive,
        "oci-archive" => OutputFormat.OciArchive,
        "oci" or "oci-dir" => OutputFormat.Oci,
        _ => throw new UsageException($"unknown format '{text}' (want portable, docker-archive, oci-archive or oci)"),
    };

    public static string FormatName(OutputFormat f) => f switch
    {
        OutputFormat.Portable => "portable",
        OutputFormat.DockerArchive => "docker-archive",
        OutputFormat.OciArchive => "oci-archive",
        _ => "oci",
    };

    public static CompressMode ParseCompress(string text) => text switch
    {
        "keep" => CompressMode.Keep,
        "gzip" => CompressMode.Gzip,
        "zstd" => CompressMode.Zstd,
        "none" => CompressMode.None,
        _ => throw new UsageException($"unknown compression '{text}' (want keep, gzip, zstd or none)"),
    };
}

/// <summary>What was written for one image.</summary>
public sealed record CopiedImage(IReadOnlyList<string> Names, Digests.Digest ImageId, Digests.Digest? ManifestDigest);
