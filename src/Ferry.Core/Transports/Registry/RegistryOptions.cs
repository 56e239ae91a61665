namespace Ferry.Transports.Registry;

/// <summary>How to reach and authenticate to registries.</summary>
public sealed record RegistryOptions
{
    /// <summary><c>user:password</c> for every registry (overrides auth files).</summary>
    public string? Credentials { get; init; }

    /// <summary>A docker/podman auth file (<c>{"auths":{"host":{"auth":"base64(user:pass)"}}}</c>).</summary>
    public string? AuthFile { get; init; }

    /// <summary>Allow plain HTTP and unverified TLS for every registry (always allowed for localhost and 127.0.0.1).</summary>
    public bool Insecure { get; init; }

    /// <summary>A PEM file of CA certificates to trust for registry TLS.</summary>
    public string? CaCertificate { get; init; }

    /// <summary>Blobs larger than this are uploaded in chunks of this size (PATCH), others in one PUT: 256 MiB.</summary>
    public long ChunkSize { get; init; } = 256L * 1024 * 1024;

    /// <summary>How many blobs are transferred at once.</summary>
    public int Concurrency { get; init; } = 3;

    /// <summary>Attempts for a request that fails with 429, 5xx or a broken connection.</summary>
    public int Attempts { get; init; } = 4;

    /// <summary>The first retry delay (doubled each time).</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>How many times a stalled or broken blob download resumes from its offset (Range) before it fails.</summary>
    public int Resumes { get; init; } = 3;

    /// <summary>The most manifests and indexes read from a registry for one source (a hostile index graph stops here).</summary>
    public int MaxManifests { get; init; } = 10_000;
}
