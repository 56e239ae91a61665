using Ferry.Tests.TestSupport;

namespace Ferry.Tests.Cli;

/// <summary>What a mistyped or incomplete command line gets: each problem once, in Ferry's words, then the right help.</summary>
public class UsageTests
{
    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = Ferry.Cli.Program.Run(args, o, e).GetAwaiter().GetResult();
        return (code, o.ToString(), e.ToString());
    }

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    [Fact]
    public void AMissingArgumentIsNamedOnceWithTheCommandsHelp()
    {
        var r = Run("copy");
        Assert.Equal(2, r.Code);
        Assert.Equal(["ferry: copy: missing SOURCE and DEST (usage: ferry copy SOURCE DEST)", "Run 'ferry copy --help' for usage."], Lines(r.Err));
        Assert.Equal("", r.Out);
        Assert.Equal(["ferry: push: missing REGISTRY (usage: ferry push ARCHIVE REGISTRY)", "Run 'ferry push --help' for usage."], Lines(Run("push", "a.tar").Err));
    }

    [Fact]
    public void AMistypedCommandGetsASuggestionAndNotItsArguments()
    {
        var r = Run("cpy", "a", "b");
        Assert.Equal(2, r.Code);
        Assert.Equal(["ferry: unknown command 'cpy'; did you mean 'copy'?", "Run 'ferry --help' for the commands."], Lines(r.Err));
        Assert.Equal("ferry: unknown command 'inspetc'; did you mean 'inspect'?", Lines(Run("inspetc", "x").Err)[0]);
        Assert.Equal("ferry: unknown command 'frobnicate'", Lines(Run("frobnicate").Err)[0]);
    }

    [Fact]
    public void AMistypedOptionGetsASuggestionAndItsValueIsNotAnotherError()
    {
        var r = Run("copy", "a.tar", "b.tar", "--formt", "oci");
        Assert.Equal(2, r.Code);
        Assert.Equal(["ferry: copy: unknown option '--formt'; did you mean '--format'?", "Run 'ferry copy --help' for usage."], Lines(r.Err));
        Assert.Equal("ferry: verify: unknown option '--jsno'; did you mean '--json'?", Lines(Run("verify", "x.tar", "--jsno").Err)[0]);
    }

    [Fact]
    public void AnExtraArgumentIsSaid()
    {
        var r = Run("inspect", "a.tar", "b.tar");
        Assert.Equal(2, r.Code);
        Assert.Equal(["ferry: inspect: unexpected argument 'b.tar'", "Run 'ferry inspect --help' for usage."], Lines(r.Err));
    }

    [Fact]
    public void HelpCommandIsTheCommandsHelpWithExamples()
    {
        foreach (var cmd in new[] { "copy", "inspect", "verify", "load", "save", "pull", "push", "login", "logout", "serve" })
        {
            var help = Run("help", cmd);
            Assert.True(help.Code == 0, help.Err);
            Assert.Equal(Run(cmd, "--help").Out, help.Out);
            Assert.Contains("Examples:", help.Out, StringComparison.Ordinal);
            Assert.Contains($"  ferry {cmd} ", help.Out.Replace("| ferry", "\n  ferry", StringComparison.Ordinal), StringComparison.Ordinal);
        }
        var top = Run("help");
        Assert.Equal(0, top.Code);
        Assert.Contains("ferry help COMMAND", top.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void SummariesAreMessagesOnStderr()
    {
        using var dir = new TempDir();
        var r = Run("copy", Corpus.Path("samples/ferry-sample.tar"), dir.Path("out.tar"));
        Assert.True(r.Code == 0, r.Err);
        Assert.Equal("", r.Out);
        Assert.StartsWith("Copied 1 image from ", r.Err, StringComparison.Ordinal);
        var json = Run("copy", Corpus.Path("samples/ferry-sample.tar"), dir.Path("out2.tar"), "--json");
        using var doc = System.Text.Json.JsonDocument.Parse(json.Out);
        Assert.Equal("", json.Err);
    }
}
