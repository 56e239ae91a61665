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
