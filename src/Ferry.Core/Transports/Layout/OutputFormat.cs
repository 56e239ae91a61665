namespace Ferry.Transports;

/// <summary>The archive shapes Ferry writes.</summary>
public enum OutputFormat
{
    /// <summary>One tar that is both an OCI image layout and a docker-archive: every loader accepts it.</summary>
    Portable,

    /// <summary>What <c>docker save</c> writes: <c>manifest.json</c>, <c>HEX.json</c> configs, <c>HEX/layer.tar</c> layers.</summary>
    DockerArchive,

    /// <summary>An OCI image layout in a tar.</summary>
    OciArchive,

    /// <summary>An OCI image layout directory.</summary>
    Oci,
}

/// <summary>Names of <see cref="OutputFormat"/> values as the command line spells them.</summary>
public static class OutputFormats
{
    /// <summary>Parses <c>portable</c>, <c>docker-archive</c>, <c>oci-archive</c> or <c>oci</c>.</summary>
    /// <exception cref="UsageException">Another word.</exception>
    public static OutputFormat Parse(string text) => text switch
    {
        "portable" => OutputFormat.Portable,
        "docker-archive" or "docker" => OutputFormat.DockerArchive,
        "oci-archive" => OutputFormat.OciArchive,
        "oci" or "oci-dir" => OutputFormat.Oci,
        _ => throw new UsageException($"unknown format '{text}' (want portable, docker-archive, oci-archive or oci)"),
    };

    /// <summary>The command line's name of a format.</summary>
    public static string Name(OutputFormat format) => format switch
    {
        OutputFormat.Portable => "portable",
        OutputFormat.DockerArchive => "docker-archive",
        OutputFormat.OciArchive => "oci-archive",
        _ => "oci",
    };
}
