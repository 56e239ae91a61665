namespace Ferry.Cli;

/// <summary>
/// What Ferry asks of the terminal beyond its streams: a secret typed without echo (<c>login</c>'s password, as docker,
/// podman and skopeo ask for it), and how wide stdout is (<c>inspect</c>'s names). Tests replace them for their own
/// flow of execution.
/// </summary>
internal static class Tty
{
    /// <summary>Replaces the terminal's keyboard for <see cref="ReadSecret"/> (tests).</summary>
    internal static readonly AsyncLocal<Func<string?>?> SecretInput = new();

    /// <summary>Replaces stdout's width for <see cref="StdoutColumns"/> (tests): 0 means not a terminal.</summary>
    internal static readonly AsyncLocal<int?> StdoutWidth = new();

    /// <summary>
    /// Asks for a secret on the terminal: <paramref name="prompt"/> on stderr, then the line typed, not echoed. Null when
    /// stdin is not a terminal (nobody to ask).
    /// </summary>
    public static string? ReadSecret(string prompt, TextWriter err)
    {
        if (SecretInput.Value is { } input)
        {
            err.Write(prompt);
            string? given = input();
            err.WriteLine();
            return given;
        }
        if (Console.IsInputRedirected)
            return null;
        err.Write(prompt);
        err.Flush();
        var typed = new System.Text.StringBuilder();
        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            if (key.Key == ConsoleKey.Enter || key.KeyChar is '\r' or '\n')
                break;
            if (key.Key == ConsoleKey.Backspace || key.KeyChar == '\b')
            {
                if (typed.Length > 0)
                    typed.Length--;
                continue;
            }
            // Ctrl-D on an empty line: nothing given.
            if (key.KeyChar == '\u0004' && typed.Length == 0)
                break;
            if (key.KeyChar != '\0' && !char.IsControl(key.KeyChar))
                typed.Append(key.KeyChar);
        }
        err.WriteLine();
        return typed.ToString();
    }

    /// <summary>The columns of the terminal <paramref name="stdout"/> is, or null when it is not a terminal (a pipe, a file, a test's writer).</summary>
    public static int? StdoutColumns(TextWriter stdout)
    {
        if (StdoutWidth.Value is int w)
            return w > 0 ? w : null;
        if (!ReferenceEquals(stdout, Console.Out) || Console.IsOutputRedirected)
            return null;
        var (width, _) = Rendering.Terminal.Size();
        return width > 0 ? width : 80;
    }
}
