using System.CommandLine;
using System.CommandLine.Parsing;

namespace Ferry.Cli;

/// <summary>
/// A command line the parser rejects, said the way docker and git say it: each problem once, in Ferry's words, naming
/// the missing argument or suggesting the command or option meant, then the help of the command it is about.
/// </summary>
internal static class UsageErrors
{
    /// <summary>
    /// Arguments that look like options (<c>--detial</c>, <c>-x</c>): the parser takes an unknown option that comes
    /// before the arguments as an argument (<c>ferry inspect --detial x.tar</c> would read a file named
    /// <c>--detial</c>). Not <c>-</c> (stdin), nor anything after <c>--</c>.
    /// </summary>
    public static List<string> OptionLikeArguments(ParseResult parse)
    {
        int end = parse.Tokens.ToList().FindIndex(t => t.Type == TokenType.DoubleDash);
        var before = end < 0 ? parse.Tokens : parse.Tokens.Take(end);
        var arguments = parse.CommandResult.Children.OfType<ArgumentResult>().SelectMany(a => a.Tokens).ToHashSet();
        return [.. before.Where(t => arguments.Contains(t) && t.Value.Length > 1 && t.Value[0] == '-').Select(t => t.Value)];
    }

    public static IReadOnlyList<string> Describe(ParseResult parse)
    {
        var command = parse.CommandResult.Command;
        string path = CommandPath(parse.CommandResult);
        string where = path.Length == 0 ? "ferry: " : $"ferry: {path}: ";
        var lines = new List<string>();
        var unmatched = parse.UnmatchedTokens.ToList();
        // A mistyped command: the words after it are its arguments, not more problems.
        if (command is RootCommand && unmatched.Count > 0)
        {
            string word = unmatched[0];
            string? near = Nearest(word, command.Subcommands.Where(c => !c.Hidden).SelectMany(c => c.Aliases.Prepend(c.Name)));
            lines.Add($"ferry: unknown command '{word}'{(near is null ? "" : $"; did you mean '{near}'?")}");
            lines.Add($"Run 'ferry --help' for the commands.");
            return lines;
        }
        // An unknown option is said with its suggestion wherever it stands; the arguments it (and its value) displaced
        // are then no further problems.
        var unknown = unmatched.Where(IsOption).Concat(OptionLikeArguments(parse)).ToList();
        if (unknown.Count > 0)
        {
            var options = AllOptions(parse.CommandResult).SelectMany(o => o.Aliases.Prepend(o.Name)).Where(n => n.StartsWith("--", StringComparison.Ordinal)).ToList();
            foreach (string token in unknown.Distinct(StringComparer.Ordinal))
            {
                string? near = Nearest(token.Split('=')[0], options);
                lines.Add($"{where}unknown option '{token}'{(near is null ? "" : $"; did you mean '{near}'?")}");
            }
            lines.Add(path.Length == 0 ? "Run 'ferry --help' for usage." : $"Run 'ferry {path} --help' for usage.");
            return lines;
        }
        var missing = command.Arguments.Where(a => a.Arity.MinimumNumberOfValues > 0 && !a.Hidden
            && (parse.CommandResult.GetResult(a) is not { } r || r.Tokens.Count < a.Arity.MinimumNumberOfValues)).Select(a => a.Name).ToList();
        if (missing.Count > 0)
            lines.Add($"{where}missing {Join(missing)}{(command.Arguments.Count > 0 ? $" (usage: ferry {path} {string.Join(' ', command.Arguments.Where(a => !a.Hidden).Select(Usage))})" : "")}");
        foreach (string token in unmatched)
            lines.Add($"{where}unexpected argument '{token}'");
        // Everything else the parser found (a bad option value, a missing required option), each once.
        foreach (var e in parse.Errors.Select(e => e.Message).Distinct(StringComparer.Ordinal))
        {
            if (e.StartsWith("Required argument missing", StringComparison.Ordinal) || e.StartsWith("Unrecognized command or argument", StringComparison.Ordinal))
                continue;
            if (e.StartsWith("Required command was not provided", StringComparison.Ordinal))
            {
                lines.Add($"{where}a command is needed");
                continue;
            }
            lines.Add(where + Lower(e.TrimEnd('.')));
        }
        if (lines.Count == 0)
            lines.Add(where + "invalid command line");
        lines.Add(path.Length == 0 ? "Run 'ferry --help' for usage." : $"Run 'ferry {path} --help' for usage.");
        return lines;
    }

    private static bool IsOption(string token) => token.Length > 1 && token[0] == '-';

    private static string CommandPath(CommandResult result)
    {
        var names = new List<string>();
        for (SymbolResult? r = result; r is CommandResult c && c.Command is not RootCommand; r = r.Parent)
            names.Insert(0, c.Command.Name);
        return string.Join(' ', names);
    }

    private static IEnumerable<Option> AllOptions(CommandResult result)
    {
        var seen = new HashSet<Option>();
        for (SymbolResult? r = result; r is CommandResult c; r = r.Parent)
        {
            foreach (var o in c.Command.Options)
            {
                if (!o.Hidden && (ReferenceEquals(c, result) || o.Recursive) && seen.Add(o))
                    yield return o;
            }
        }
    }

    private static string Usage(Argument a) => a.Arity.MinimumNumberOfValues == 0 ? $"[{a.Name}]" : a.Arity.MaximumNumberOfValues > 1 ? $"{a.Name}..." : a.Name;

    private static string Join(List<string> names) => names.Count == 1 ? names[0] : string.Join(", ", names[..^1]) + " and " + names[^1];

    private static string Lower(string message) => message.Length > 1 && char.IsUpper(message[0]) && !char.IsUpper(message[1]) ? char.ToLowerInvariant(message[0]) + message[1..] : message;

    /// <summary>The candidate closest to <paramref name="word"/> by edit distance, when it is close (at most a third of its length, and 2).</summary>
    internal static string? Nearest(string word, IEnumerable<string> candidates)
    {
        string? best = null;
        int bestDistance = int.MaxValue;
        foreach (var c in candidates.Distinct(StringComparer.Ordinal))
        {
            int d = Distance(word, c);
            if (d < bestDistance || (d == bestDistance && string.CompareOrdinal(c, best) < 0))
                (best, bestDistance) = (c, d);
        }
        int limit = Math.Min(2, Math.Max(1, word.TrimStart('-').Length / 3));
        return bestDistance <= limit || (best is not null && best.StartsWith(word, StringComparison.Ordinal) && word.TrimStart('-').Length >= 3) ? best : null;
    }

    /// <summary>Damerau–Levenshtein distance (adjacent transpositions count once).</summary>
    private static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++)
            d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++)
            d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        }
        return d[a.Length, b.Length];
    }
}
