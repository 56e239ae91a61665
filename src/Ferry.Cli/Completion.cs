using System.CommandLine;
using System.CommandLine.Completions;

namespace Ferry.Cli;

/// <summary>
/// Shell completion: <c>ferry completion SHELL</c> prints a small script for the shell, which asks
/// <c>ferry __complete WORD...</c> (the words after <c>ferry</c>, the last one being completed, maybe empty) for the
/// candidates. The answers come from the command tree itself (commands, options, the values an option accepts), plus
/// transport prefixes and paths for references, so the scripts never go out of date.
/// </summary>
internal static class Completion
{
    public static readonly string[] Shells = ["bash", "zsh", "fish", "pwsh"];

    /// <summary>The options whose value is a file or directory: their values complete as paths.</summary>
    internal static readonly HashSet<string> PathOptions = new(StringComparer.Ordinal)
    {
        "--output", "-o", "--record", "--since", "--base", "--key", "--htpasswd", "--tls-cert", "--tls-key",
        "--ca-cert", "--src-ca-cert", "--dest-ca-cert", "--authfile", "--src-authfile", "--dest-authfile",
    };

    /// <summary>The prefixes a SOURCE or DEST may start with: the transports the library knows.</summary>
    internal static IEnumerable<string> Prefixes => Ferry.Transports.TransportRegistry.Default.Prefixes.Order(StringComparer.Ordinal);

    /// <summary>The transports whose references are paths: after their prefix, paths complete.</summary>
    internal static readonly string[] FileTransports = ["docker-archive:", "oci-archive:", "oci:"];

    /// <summary>At most this many paths are offered (a directory of a million files must not hang the shell).</summary>
    private const int MaxPaths = 2000;

    public static Command Create(CliIO io)
    {
        var shell = new Argument<string>("SHELL") { Description = "bash, zsh, fish or pwsh" };
        shell.AcceptOnlyFromAmong(Shells);
        var cmd = new Command("completion", "Print the shell completion script for bash, zsh, fish or pwsh (see the examples for where it goes)") { shell };
        cmd.SetAction(parse =>
        {
            io.Out.Write(Script(parse.GetValue(shell)!));
            return ExitCodes.Ok;
        });
        return cmd;
    }

    /// <summary>Answers <c>ferry __complete WORD...</c>: one candidate per line, each a whole word that starts with the last one.</summary>
    public static int Complete(RootCommand root, string[] words, TextWriter output)
    {
        foreach (var c in Candidates(root, words))
            output.WriteLine(c);
        return ExitCodes.Ok;
    }

    public static IEnumerable<string> Candidates(RootCommand root, IReadOnlyList<string> words)
    {
        string current = words.Count == 0 ? "" : words[^1];
        var before = words.Take(Math.Max(0, words.Count - 1)).ToList();
        Command command = root;
        bool helpFor = false, afterDashes = false;
        for (int i = 0; i < before.Count; i++)
        {
            string w = before[i];
            if (w == "--")
            {
                afterDashes = true;
                continue;
            }
            if (!afterDashes && w.StartsWith('-'))
            {
                // An option's value is not a command name.
                if (OptionOf(root, command, w) is { } o && TakesValue(o) && !w.Contains('=', StringComparison.Ordinal))
                    i++;
                continue;
            }
            if (command == root && w == "help")
            {
                helpFor = true;
                continue;
            }
            if (command.Subcommands.FirstOrDefault(s => s.Name == w || s.Aliases.Contains(w)) is { } sub)
                command = sub;
        }
        string? previous = before.Count > 0 ? before[^1] : null;
        if (!afterDashes && previous is not null && previous.StartsWith('-') && OptionOf(root, command, previous) is { } valued && TakesValue(valued))
        {
            var choices = valued.GetCompletions(CompletionContext.Empty).Select(c => c.Label).ToList();
            if (choices.Count > 0)
                return Matching(choices, current);
            return PathOptions.Contains(previous) ? Paths(current) : [];
        }
        if (!afterDashes && current.StartsWith('-'))
        {
            var names = command.Options.Concat(root.Options.Where(o => o.Recursive)).Where(o => !o.Hidden)
                .SelectMany(o => new[] { o.Name }.Concat(o.Aliases)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal);
            return Matching(names, current);
        }
        if (command == root)
            return Matching(root.Subcommands.Where(s => !s.Hidden).SelectMany(s => new[] { s.Name }.Concat(s.Aliases)).Concat(helpFor ? [] : ["help"]).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal), current);
        if (command.Arguments.Count == 0)
            return [];
        var fixedValues = command.Arguments.SelectMany(a => a.GetCompletions(CompletionContext.Empty)).Select(c => c.Label).ToList();
        if (fixedValues.Count > 0)
            return Matching(fixedValues, current);
        // A reference: a transport prefix, or a path (after a file transport's prefix too).
        return Matching(Prefixes, current).Concat(Paths(current));
    }

    private static Option? OptionOf(RootCommand root, Command command, string word)
    {
        string name = word.Split('=', 2)[0];
        return command.Options.Concat(root.Options).FirstOrDefault(o => o.Name == name || o.Aliases.Contains(name));
    }

    private static bool TakesValue(Option o) => o.ValueType != typeof(bool);

    private static IEnumerable<string> Matching(IEnumerable<string> candidates, string current) =>
        candidates.Where(c => c.StartsWith(current, StringComparison.Ordinal));

    /// <summary>
    /// The paths that complete <paramref name="current"/> (after a file transport's prefix, kept in front), a
    /// directory ending in <c>/</c>; dot files only when asked for with a dot.
    /// </summary>
    internal static IEnumerable<string> Paths(string current)
    {
        string prefix = FileTransports.FirstOrDefault(t => current.StartsWith(t, StringComparison.Ordinal)) ?? "";
        string path = current[prefix.Length..];
        if (prefix.Length == 0 && Prefixes.Any(t => current.StartsWith(t, StringComparison.Ordinal)))
            return [];
        // docker-archive:PATH:NAME: nothing to offer after the name's colon.
        if (prefix.Length > 0 && path.Contains(':', StringComparison.Ordinal))
            return [];
        int slash = path.LastIndexOf('/');
        string dirPart = slash < 0 ? "" : path[..(slash + 1)];
        string namePart = path[(slash + 1)..];
        string dir = dirPart.Length == 0 ? "." : dirPart;
        var found = new List<string>();
        try
        {
            var options = new EnumerationOptions { IgnoreInaccessible = true, AttributesToSkip = 0, RecurseSubdirectories = false, ReturnSpecialDirectories = false };
            foreach (var entry in new DirectoryInfo(dir).EnumerateFileSystemInfos("*", options))
            {
                string name = entry.Name;
                if (!name.StartsWith(namePart, StringComparison.Ordinal) || (name.StartsWith('.') && !namePart.StartsWith('.')))
                    continue;
                bool isDir = entry is DirectoryInfo || (entry.LinkTarget is not null && Directory.Exists(entry.FullName));
                found.Add(prefix + dirPart + name + (isDir ? "/" : ""));
                if (found.Count >= MaxPaths)
                    break;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.SecurityException or ArgumentException)
        {
        }
        found.Sort(StringComparer.Ordinal);
        return found;
    }

    /// <summary>The script for <paramref name="shell"/>: it passes the words to <c>ferry __complete</c> and offers what comes back.</summary>
    public static string Script(string shell) => shell switch
    {
        "bash" => """
            # ferry completion for bash. Load it now:  source <(ferry completion bash)
            # or for every shell:  ferry completion bash > /etc/bash_completion.d/ferry  (or ~/.local/share/bash-completion/completions/ferry)
            _ferry_complete() {
                local line="${COMP_LINE:0:COMP_POINT}"
                local -a words
                read -ra words <<< "$line"
                [[ "$line" == *[[:space:]] ]] && words+=("")
                local cur="${words[${#words[@]}-1]}"
                local IFS=$'\n'
                COMPREPLY=($(command ferry __complete "${words[@]:1}" 2>/dev/null))
                # bash splits words at ':' (COMP_WORDBREAKS): offer only what follows the last one.
                if [[ "$cur" == *:* && "$COMP_WORDBREAKS" == *:* ]]; then
                    local colon="${cur%"${cur##*:}"}" i
                    for i in "${!COMPREPLY[@]}"; do COMPREPLY[$i]="${COMPREPLY[$i]#"$colon"}"; done
                fi
                # A directory or a transport prefix goes on: no space after it.
                if [[ ${#COMPREPLY[@]} -eq 1 && "${COMPREPLY[0]}" == *[/:] ]]; then compopt -o nospace 2>/dev/null; fi
                return 0
            }
            complete -F _ferry_complete ferry

            """,
        "zsh" => """
            #compdef ferry
            # ferry completion for zsh. Load it now:  source <(ferry completion zsh)
            # or for every shell:  ferry completion zsh > "${fpath[1]}/_ferry"
            _ferry() {
                local -a cands spaced open
                cands=("${(@f)$(command ferry __complete "${(@)words[2,CURRENT]}" 2>/dev/null)}")
                local c
                for c in "${cands[@]}"; do
                    [[ -z "$c" ]] && continue
                    if [[ "$c" == */ || "$c" == *: ]]; then open+=("$c"); else spaced+=("$c"); fi
                done
                (( ${#spaced} )) && compadd -Q -U -- "${spaced[@]}"
                (( ${#open} )) && compadd -Q -U -S '' -- "${open[@]}"
                return 0
            }
            if (( $+functions[compdef] )); then compdef _ferry ferry; fi

            """,
        "fish" => """
            # ferry completion for fish. Load it now:  ferry completion fish | source
            # or for every shell:  ferry completion fish > ~/.config/fish/completions/ferry.fish
            function __ferry_complete
                set -l words (commandline -opc) (commandline -ct)
                command ferry __complete $words[2..-1] 2>/dev/null
            end
            complete -c ferry -f -a '(__ferry_complete)'

            """,
        "pwsh" => """
            # ferry completion for PowerShell. Load it now:  ferry completion pwsh | Out-String | Invoke-Expression
            # or for every session: add that line to $PROFILE
            Register-ArgumentCompleter -Native -CommandName ferry -ScriptBlock {
                param($wordToComplete, $commandAst, $cursorPosition)
                $words = @($commandAst.CommandElements | Select-Object -Skip 1 | Where-Object { $_.Extent.EndOffset -le $cursorPosition } | ForEach-Object { $_.ToString() })
                if ($wordToComplete -eq '') { $words += '' }
                & ferry __complete @words 2>$null | ForEach-Object {
                    [System.Management.Automation.CompletionResult]::new($_, $_, 'ParameterValue', $_)
                }
            }

            """,
        _ => throw new UsageException($"completion: unknown shell '{shell}' (want {string.Join(", ", Shells)})"),
    };
}
