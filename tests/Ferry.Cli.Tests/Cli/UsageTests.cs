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

    [Theory]
    [InlineData("copy", "--formt", "oci", "a.tar", "b.tar")]
    [InlineData("copy", "a.tar", "--formt", "oci", "b.tar")]
    [InlineData("copy", "a.tar", "b.tar", "--formt", "oci")]
    public void AMistypedOptionIsSuggestedWhereverItStands(params string[] args)
    {
        var r = Run(args);
        Assert.Equal((2, "", "ferry: copy: unknown option '--formt'; did you mean '--format'?\nRun 'ferry copy --help' for usage.\n"), (r.Code, r.Out, r.Err));
    }

    [Theory]
    [InlineData("inspect", "--detial", "x.tar")]
    [InlineData("inspect", "x.tar", "--detial")]
    [InlineData("inspect", "--detial")]
    public void AMistypedOptionBeforeTheArgumentIsNoFileName(params string[] args)
    {
        var r = Run(args);
        Assert.Equal((2, "", "ferry: inspect: unknown option '--detial'; did you mean '--details'?\nRun 'ferry inspect --help' for usage.\n"), (r.Code, r.Out, r.Err));
    }

    [Fact]
    public void AfterDoubleDashADashedWordIsAnArgument()
    {
        var r = Run("inspect", "--", "--weird.tar");
        Assert.Equal((5, "ferry: --weird.tar: no such file or directory\n"), (r.Code, r.Err));
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

    /// <summary>inspect starts with one line per image that fits an 80-column terminal; --details adds config, history and layers.</summary>
    [Fact]
    public void InspectOverviewIsOneLinePerImageWithin80Columns()
    {
        using var dir = new TempDir();
        string p = dir.Path("three.tar");
        ImageBuilder.WriteDockerArchive(p, [
            ImageBuilder.Image(401, 2, "none", "registry.example.com:5000/some/very/long/repository/name:1.2", "docker.io/library/short:1"),
            ImageBuilder.Image(402, 3, "none", "docker.io/library/app:2"),
            ImageBuilder.Image(403, 1, "none")]);
        Ferry.Cli.Tty.StdoutWidth.Value = 80;
        try
        {
            var r = Run("inspect", p);
            Assert.True(r.Code == 0, r.Err);
            var lines = r.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.All(lines.Skip(1), l => Assert.True(l.TrimEnd('\r').Length <= 80, $"{l.Length} columns: {l}"));
            Assert.Equal(5, lines.Length); // the source, the header, three images
            Assert.StartsWith("NAME ", lines[1], StringComparison.Ordinal);
            Assert.Equal(["NAME", "IMAGE", "ID", "PLATFORM", "SIZE", "LAYERS", "CREATED"], lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries));
            Assert.StartsWith("regist…/name:1.2 (+1)  ", lines[2], StringComparison.Ordinal);
            Assert.StartsWith("app:2 ", lines[3], StringComparison.Ordinal);
            Assert.Contains(ImageBuilder.Image(402, 3, "none").ImageId[7..19], lines[3], StringComparison.Ordinal);
            Assert.Contains("linux/amd64", lines[3], StringComparison.Ordinal);
            Assert.StartsWith("<none> ", lines[4], StringComparison.Ordinal);
            Assert.DoesNotContain("history", r.Out, StringComparison.Ordinal);
            var details = Run("inspect", p, "--details");
            Assert.StartsWith(r.Out, details.Out, StringComparison.Ordinal);
            Assert.Contains("    layers", details.Out, StringComparison.Ordinal);
        }
        finally
        {
            Ferry.Cli.Tty.StdoutWidth.Value = null;
        }
    }

    private static string InspectAt(string archive, int? width)
    {
        Ferry.Cli.Tty.StdoutWidth.Value = width;
        try
        {
            var r = Run("inspect", archive);
            Assert.True(r.Code == 0, r.Err);
            return r.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries)[2];
        }
        finally
        {
            Ferry.Cli.Tty.StdoutWidth.Value = null;
        }
    }

    /// <summary>Names are never cut in a pipe; on a terminal they use its width, and a cut keeps the last component and the tag.</summary>
    [Fact]
    public void InspectCutsNamesOnlyToFitATerminal()
    {
        using var dir = new TempDir();
        const string name = "127.0.0.1:5055/podman/hello:latest";
        string p = dir.Path("one.tar");
        ImageBuilder.WriteDockerArchive(p, [ImageBuilder.Image(404, 1, "none", name)]);
        Assert.StartsWith(name + "  ", InspectAt(p, 0), StringComparison.Ordinal); // a pipe
        Assert.StartsWith(name + "  ", InspectAt(p, 120), StringComparison.Ordinal);
        Assert.StartsWith("127.0.0…/hello:latest  ", InspectAt(p, 80), StringComparison.Ordinal);
        Assert.StartsWith("127.0…/hello:latest  ", InspectAt(p, 60), StringComparison.Ordinal);
        // A pinned name keeps its repository: the digest is shortened first.
        string pinned = dir.Path("pinned.tar");
        var img = ImageBuilder.Image(405, 1, "none", "docker.io/library/x:1");
        ImageBuilder.WriteOciLayout(pinned, [img], containerdNames: true);
        string digest = img.ManifestDigest;
        var files = ImageBuilder.ReadTar(pinned);
        files["index.json"] = System.Text.Encoding.UTF8.GetBytes(System.Text.Encoding.UTF8.GetString(files["index.json"])
            .Replace("\"io.containerd.image.name\":\"docker.io/library/x:1\",\"org.opencontainers.image.ref.name\":\"1\"", $"\"io.containerd.image.name\":\"127.0.0.1:5055/podman/base@{digest}\"", StringComparison.Ordinal));
        ImageBuilder.WriteTar(pinned, files.Select(f => (f.Key, (byte[]?)f.Value, (string?)null, System.Formats.Tar.TarEntryType.RegularFile)));
        Assert.StartsWith($"127.0.0.1:5055/podman/base@{digest}  ", InspectAt(pinned, 0), StringComparison.Ordinal);
        Assert.StartsWith($"…/base@sha256:{digest[7..19]}…  ", InspectAt(pinned, 80), StringComparison.Ordinal);
    }
}
