namespace Ferry.Cli;

/// <summary>Process exit codes used by the <c>ferry</c> command; documented in the README.</summary>
internal static class ExitCodes
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

/// <summary>The exit code of each kind of error (README: exit codes).</summary>
internal static class ErrorCodes
{
    public static int Of(FerryException e) => e switch
    {
        UsageException or Sets.ImageSetFormatException => ExitCodes.Usage,
        ArchiveFormatException => ExitCodes.InvalidArchive,
        DigestMismatchException or Copy.ImageRefusedException => ExitCodes.DigestMismatch,
        ImageNotFoundException => ExitCodes.NotFound,
        OutputException => ExitCodes.OutputError,
        // A peer's failure that is one of Ferry's own kinds (a manifest not found, wrapped with what was done) keeps its code.
        PeerException { InnerException: FerryException inner } => Of(inner),
        _ => ExitCodes.Failure,
    };
}
