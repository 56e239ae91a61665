namespace Ferry.Sets;

/// <summary>
/// A set file (or lock file) that cannot be read: YAML that does not parse, an unknown key, a value of the wrong kind.
/// The message names the file, line and column (<c>ferry.yaml:12:5: unknown key 'tag' …</c>).
/// </summary>
public sealed class ImageSetFormatException : FerryException
{
    /// <summary>An error at <paramref name="line"/>:<paramref name="column"/> (1-based; 0 when unknown) of <paramref name="file"/>.</summary>
    public ImageSetFormatException(string file, int line, int column, string problem, Exception? inner = null)
        : base(Where(file, line, column) + problem, inner)
    {
        File = file;
        Line = line;
        Column = column;
        Problem = problem;
    }

    /// <summary>The file (as the user named it).</summary>
    public string File { get; }

    /// <summary>The 1-based line, or 0 when the problem is the whole file.</summary>
    public int Line { get; }

    /// <summary>The 1-based column, or 0.</summary>
    public int Column { get; }

    /// <summary>What is wrong, without the position.</summary>
    public string Problem { get; }


    private static string Where(string file, int line, int column) =>
        line <= 0 ? file + ": " : column <= 0 ? $"{file}:{line}: " : $"{file}:{line}:{column}: ";
}
