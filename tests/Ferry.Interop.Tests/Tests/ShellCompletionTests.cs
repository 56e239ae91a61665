using Ferry.Interop.Tests.Fixture;
using Ferry.Interop.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Ferry.Interop.Tests.Tests;

/// <summary>
/// The completion scripts in the shells they are for (bash is checked by the unit tests): each offers what
/// <c>ferry __complete</c> answers — commands, an option's values, paths after a transport prefix.
/// </summary>
[Collection(InteropCollection.Name)]
public sealed class ShellCompletionTests(InteropFixture fixture, ITestOutputHelper output) : InteropTest(fixture, output)
{
    /// <summary>A directory with a <c>ferry</c> on PATH (the built one) and the script for <paramref name="shell"/>.</summary>
    private (string Bin, string Script, string Dir) Setup(string shell)
    {
        string dir = _fx.Scratch("completion-" + shell);
        string bin = Path.Combine(dir, "bin");
        Directory.CreateDirectory(bin);
        string wrapper = Path.Combine(bin, "ferry");
        File.WriteAllText(wrapper, $"#!/bin/sh\nexec {Proc.QuoteWord(FerryCli.DotnetHost)} {Proc.QuoteWord(FerryCli.DllPath)} \"$@\"\n");
        if (OperatingSystem.IsWindows())
            throw new PlatformNotSupportedException("the shells run on Unix");
        File.SetUnixFileMode(wrapper, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        string script = Path.Combine(dir, "ferry." + shell);
        File.WriteAllText(script, Runner.Ensure(_run.Ferry("completion", shell)).Stdout);
        File.WriteAllText(Path.Combine(dir, "app.tar"), "");
        Directory.CreateDirectory(Path.Combine(dir, "layout"));
        return (bin, script, dir);
    }

    private static List<string> Lines(ProcResult r) =>
        Runner.Ensure(r).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('\t')[0].TrimEnd()).ToList();

    [InteropFact(Tool.Zsh)]
    public void Zsh_offers_commands_values_and_paths()
    {
        var (bin, script, dir) = Setup("zsh");
        // compadd is zsh's builtin for offering candidates; here it prints them (and whether a space follows).
        string harness = $$$"""
            export PATH={{{Proc.QuoteWord(bin)}}}:$PATH
            source {{{Proc.QuoteWord(script)}}}
            compadd() {
              local open=""
              while [[ $# -gt 0 && $1 != -- ]]; do [[ $1 == -S ]] && { open=" (no space)"; shift; }; shift; done
              shift
              local c; for c in "$@"; do print -r -- "$c$open"; done
            }
            words=("${(@Q)${(z)1}}"); [[ $1 == *' ' ]] && words+=(""); CURRENT=${#words}
            _ferry
            """;
        List<string> Offer(string line) => Lines(_run.Raw("zsh", ["-f", "-c", harness, "zsh", line], display: $"zsh: complete '{line}'"));

        var checks = new Checks(_log);
        checks.Sequence(["completion", "convert", "copy"], Offer("ferry co"), "zsh: ferry co<TAB>");
        checks.Sequence(["gzip", "keep", "none", "zstd"], Offer("ferry copy in.tar --compress "), "zsh: --compress <TAB>");
        checks.Sequence([$"oci:{dir}/layout/ (no space)"], Offer($"ferry copy in.tar oci:{dir}/lay"), "zsh: oci:DIR<TAB>");
        checks.Sequence([$"{dir}/app.tar"], Offer($"ferry inspect {dir}/ap"), "zsh: a path");
        checks.ThrowIfAny("zsh completion");
    }

    [InteropFact(Tool.Fish)]
    public void Fish_offers_commands_values_and_paths()
    {
        var (bin, script, dir) = Setup("fish");
        List<string> Offer(string line) => Lines(_run.Raw("fish", ["--no-config", "-c", $"set -x PATH {bin} $PATH; source {script}; complete -C {FishQuote(line)}"], display: $"fish: complete '{line}'"));

        var checks = new Checks(_log);
        checks.Sequence(["completion", "convert", "copy"], Offer("ferry co"), "fish: ferry co<TAB>");
        checks.Sequence(["gzip", "keep", "none", "zstd"], Offer("ferry copy in.tar --compress "), "fish: --compress <TAB>");
        checks.Sequence([$"oci:{dir}/layout/"], Offer($"ferry copy in.tar oci:{dir}/lay"), "fish: oci:DIR<TAB>");
        checks.Sequence([$"{dir}/app.tar"], Offer($"ferry inspect {dir}/ap"), "fish: a path");
        checks.ThrowIfAny("fish completion");
    }

    private static string FishQuote(string s) => "'" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal) + "'";
}
