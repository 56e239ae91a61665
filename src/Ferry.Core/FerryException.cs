namespace Ferry;

/// <summary>Base of every error Ferry reports. The message is one line meant for people.</summary>
public class FerryException : Exception
{
    /// <summary>An error with a one-line message for people.</summary>
    public FerryException(string message, Exception? inner = null) : base(message, inner) { }

}

/// <summary>The archive (or a document inside it) is malformed, ambiguous or unsupported.</summary>
public class ArchiveFormatException : FerryException
{
    /// <summary>A malformed, ambiguous or unsupported archive or document.</summary>
    public ArchiveFormatException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>A blob's content does not hash to its digest, or its length differs from the declared size.</summary>
public sealed class DigestMismatchException : FerryException
{
    /// <summary>A blob whose bytes do not match its digest or size.</summary>
    public DigestMismatchException(string message) : base(message) { }

    /// <summary>The digest the content should have had, when a digest was compared.</summary>
    public Digests.Digest? Expected { get; init; }

    /// <summary>The digest the content has, when a digest was compared.</summary>
    public Digests.Digest? Actual { get; init; }

    /// <summary>The size the content should have had, when a size was compared.</summary>
    public long? ExpectedSize { get; init; }

    /// <summary>The size the content has (or more: reading stopped when it was too long), when a size was compared.</summary>
    public long? ActualSize { get; init; }
}

/// <summary>An image, name or blob the caller asked for does not exist in the source.</summary>
public sealed class ImageNotFoundException : FerryException
{
    /// <summary>Something asked for is not there.</summary>
    public ImageNotFoundException(string message) : base(message) { }
}

/// <summary>The destination could not be written.</summary>
public sealed class OutputException : FerryException
{
    /// <summary>The destination cannot be written.</summary>
    public OutputException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>The caller's request is invalid (bad reference, conflicting options).</summary>
public sealed class UsageException : FerryException
{
    /// <summary>An invalid request.</summary>
    public UsageException(string message) : base(message) { }
}

/// <summary>A peer (registry, token server, daemon, credential helper) misbehaved or failed: one line naming it.</summary>
public class PeerException : FerryException
{
    /// <summary>A failure of a peer; <paramref name="inner"/> is what it did (an error of Ferry's own kind keeps its meaning: a manifest not found is still that).</summary>
    public PeerException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>A registry answered with an error (or not at all): which registry, which repository, the HTTP status and the distribution error code.</summary>
public sealed class RegistryException : PeerException
{
    /// <summary>An error of <paramref name="registry"/>.</summary>
    public RegistryException(string message, string registry, string? repository = null, int? statusCode = null, string? errorCode = null, Exception? inner = null)
        : base(message, inner)
    {
        Registry = registry;
        Repository = repository;
        StatusCode = statusCode;
        ErrorCode = errorCode;
    }

    /// <summary>The registry, <c>host[:port]</c>.</summary>
    public string Registry { get; }

    /// <summary>The repository the request was about, when it was about one.</summary>
    public string? Repository { get; }

    /// <summary>The HTTP status the registry answered with (null: it did not answer).</summary>
    public int? StatusCode { get; }

    /// <summary>The first code of the registry's error body (<c>MANIFEST_UNKNOWN</c>, <c>UNAUTHORIZED</c>, …), when it sent one.</summary>
    public string? ErrorCode { get; }
}
