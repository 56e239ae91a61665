namespace Ferry;

/// <summary>Process exit codes used by the <c>ferry</c> command; documented in the README.</summary>
public static class ExitCodes
{
    /// <summary>Success.</summary>
    public const int Ok = 0;
    /// <summary>Generic failure, or <c>verify</c> found problems.</summary>
    public const int Failure = 1;
    /// <summary>Bad command line.</summary>
    public const int Usage = 2;
    /// <summary>The input is not a well-formed image archive (structure, JSON, references).</summary>
    public const int InvalidArchive = 3;
    /// <summary>A blob's bytes do not match its digest or declared size.</summary>
    public const int DigestMismatch = 4;
    /// <summary>The requested image, name or blob is not in the source.</summary>
    public const int NotFound = 5;
    /// <summary>The output could not be written (I/O error, disk full, refusing to overwrite the input).</summary>
    public const int OutputError = 6;
}

/// <summary>Base of every error Ferry reports. The message is one line meant for people.</summary>
public class FerryException : Exception
{
    /// <summary>An error with a one-line message for people.</summary>
    public FerryException(string message, Exception? inner = null) : base(message, inner) { }

    /// <summary>The exit code the command line uses for this error.</summary>
    public virtual int ExitCode => ExitCodes.Failure;
}

/// <summary>The archive (or a document inside it) is malformed, ambiguous or unsupported.</summary>
public class ArchiveFormatException : FerryException
{
    /// <summary>A malformed, ambiguous or unsupported archive or document.</summary>
    public ArchiveFormatException(string message, Exception? inner = null) : base(message, inner) { }
    /// <inheritdoc/>
    public override int ExitCode => ExitCodes.InvalidArchive;
}

/// <summary>A blob's content does not hash to its digest, or its length differs from the declared size.</summary>
public sealed class DigestMismatchException : FerryException
{
    /// <summary>A blob whose bytes do not match its digest or size.</summary>
    public DigestMismatchException(string message) : base(message) { }
    /// <inheritdoc/>
    public override int ExitCode => ExitCodes.DigestMismatch;
}

/// <summary>An image, name or blob the caller asked for does not exist in the source.</summary>
public sealed class ImageNotFoundException : FerryException
{
    /// <summary>Something asked for is not there.</summary>
    public ImageNotFoundException(string message) : base(message) { }
    /// <inheritdoc/>
    public override int ExitCode => ExitCodes.NotFound;
}

/// <summary>The destination could not be written.</summary>
public sealed class OutputException : FerryException
{
    /// <summary>The destination cannot be written.</summary>
    public OutputException(string message, Exception? inner = null) : base(message, inner) { }
    /// <inheritdoc/>
    public override int ExitCode => ExitCodes.OutputError;
}

/// <summary>The caller's request is invalid (bad reference, conflicting options).</summary>
public sealed class UsageException : FerryException
{
    /// <summary>An invalid request.</summary>
    public UsageException(string message) : base(message) { }
    /// <inheritdoc/>
    public override int ExitCode => ExitCodes.Usage;
}

/// <summary>A peer (registry, token server, daemon) misbehaved or failed: one line naming it.</summary>
public sealed class PeerException : FerryException
{
    /// <summary>A failure of a peer, with the exit code to use (1 by default).</summary>
    public PeerException(string message, Exception? inner = null, int exitCode = ExitCodes.Failure) : base(message, inner) => _exitCode = exitCode;

    private readonly int _exitCode;

    /// <inheritdoc/>
    public override int ExitCode => _exitCode;
}
