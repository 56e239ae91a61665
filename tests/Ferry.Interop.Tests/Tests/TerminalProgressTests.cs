using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Ferry.Interop.Tests.Fixture;
using Ferry.Interop.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Ferry.Interop.Tests.Tests;

/// <summary>
/// Progress as a person sees it, in a real terminal (tmux): a bar per layer named by its short digest and kind, a total
/// with throughput, all at 100 % when the command succeeds (also when stdout is the archive), stopped with the error
/// after them when it fails, and "exists" for what a registry already holds.
/// </summary>
[Collection(InteropCollection.Name)]
public sealed class TerminalProgressTests(InteropFixture fixture, ITestOutputHelper output) : InteropTest(fixture, output)
{
    private static readonly Regex DoneBar = new(@"^(?<hex>[0-9a-f]{12}) layer \(gzip\) +\[=+\] 100% +[0-9.]+/[0-9.]+ [KMG]iB (?<state>done|exists)$");
    private static readonly Regex TotalDone = new(@"^total \((?<n>\d+)/\k<n>\) +\[=+\] 100% +\S+ MiB in \d+:\d\d$");

    /// <summary>An OCI layout of one image: two gzip layers of random bytes (8 and 3 MiB) and a small one.</summary>
    private static (string Dir, List<string> Layers) RandomImage(string dir)
    {
        Directory.CreateDirectory(Path.Combine(dir, "blobs", "sha256"));
        var layers = new List<(string Digest, long Size, string DiffId)>();
        var rng = new Random(14);
        foreach (int size in new[] { 8 << 20, 3 << 20, 2000 })
        {
            byte[] data = new byte[size];
            rng.NextBytes(data);
            using var tar = new MemoryStream();
            using (var w = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true))
                w.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, $"data-{size}.bin") { DataStream = new MemoryStream(data) });
            using var gz = new MemoryStream();
            using (var z = new GZipStream(gz, CompressionLevel.Fastest, leaveOpen: true))
                z.Write(tar.ToArray());
            layers.Add((Put(dir, gz.ToArray()), gz.Length, "sha256:" + Convert.ToHexStringLower(SHA256.HashData(tar.ToArray()))));
        }
        string diffIds = string.Join(",", layers.Select(l => $"\"{l.DiffId}\""));
        byte[] config = Encoding.UTF8.GetBytes($"{{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{{}},\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[{diffIds}]}}}}");
        string configDigest = Put(dir, config);
        string layerList = string.Join(",", layers.Select(l => $"{{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"{l.Digest}\",\"size\":{l.Size}}}"));
        byte[] manifest = Encoding.UTF8.GetBytes($"{{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"{configDigest}\",\"size\":{config.Length}}},\"layers\":[{layerList}]}}");
        string manifestDigest = Put(dir, manifest);
        File.WriteAllText(Path.Combine(dir, "oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");
        File.WriteAllText(Path.Combine(dir, "index.json"), $"{{\"schemaVersion\":2,\"manifests\":[{{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"{manifestDigest}\",\"size\":{manifest.Length},\"annotations\":{{\"org.opencontainers.image.ref.name\":\"big:1\"}}}}]}}");
        return (dir, layers.Select(l => l.Digest[7..]).ToList());

        static string Put(string dir, byte[] bytes)
        {
            string hex = Convert.ToHexStringLower(SHA256.HashData(bytes));
            File.WriteAllBytes(Path.Combine(dir, "blobs", "sha256", hex), bytes);
            return "sha256:" + hex;
        }
    }

    /// <summary>Each layer worth a line (1 MiB and more) has one at 100 %; the total is at 100 % and comes last.</summary>
    private static void AssertAllDone(Checks checks, List<string> screen, List<string> layers, string state, string what)
    {
        foreach (var hex in layers.Take(2))
        {
            var line = screen.LastOrDefault(l => l.StartsWith(hex[..12] + " ", StringComparison.Ordinal));
            checks.True(line is not null && DoneBar.Match(line) is { Success: true } m && m.Groups["state"].Value == state,
                $"{what}: layer {hex[..12]} should end at 100 % and say {state}: '{line}'");
        }
        checks.True(!screen.Any(l => l.StartsWith(layers[2][..12], StringComparison.Ordinal)), $"{what}: a 2 KiB layer gets no line of its own");
        int total = screen.FindLastIndex(l => l.StartsWith("total (", StringComparison.Ordinal));
        checks.True(total >= 0 && TotalDone.IsMatch(screen[total]), $"{what}: the total should end at 100 %: '{(total >= 0 ? screen[total] : "(none)")}'");
        var bars = screen.Where(l => l.StartsWith("total (", StringComparison.Ordinal) || Regex.IsMatch(l, "^[0-9a-f]{12} ")).ToList();
        checks.True(bars.All(l => l.Length < 100), $"{what}: every bar fits the 100 columns");
        checks.True(!screen.Any(l => l.Contains('\x1b', StringComparison.Ordinal) || l.Contains("[2K", StringComparison.Ordinal)), $"{what}: no escape shows");
    }

    [InteropTheory(Tool.Tmux)]
    [InlineData("file")]
    [InlineData("stdout")]
    public void Copy_draws_a_bar_per_layer_and_ends_at_100_percent(string to)
    {
        string dir = _fx.Scratch("progress-copy-" + to);
        var (layout, layers) = RandomImage(Path.Combine(dir, "src"));
        string y = Path.Combine(dir, "y.tar");
        string cmd = to == "file"
            ? FerryCli.ShellCommand($"copy oci:{Proc.QuoteWord(layout)} {Proc.QuoteWord(y)}")
            : FerryCli.ShellCommand($"copy oci:{Proc.QuoteWord(layout)} -") + $" > {Proc.QuoteWord(y)}";
        using var term = new TmuxTerminal(_run);
        var (code, screen) = term.Run(cmd);

        var checks = new Checks(_log);
        checks.Equal(0, code, "ferry copy exit code");
        AssertAllDone(checks, screen, layers, "done", $"copy to {to}");
        int total = screen.FindLastIndex(l => l.StartsWith("total (", StringComparison.Ordinal));
        checks.True(total >= 0 && total + 1 < screen.Count && screen[total + 1].StartsWith("Copied 1 image", StringComparison.Ordinal), "the summary follows the bars");
        checks.Equal(0, _run.Ferry("verify", y).ExitCode, "ferry verify of the copy");
        checks.ThrowIfAny($"ferry copy under a terminal, DEST {to}");
    }

    [InteropFact(Tool.Tmux, Tool.Registry)]
    public void Push_and_pull_draw_bars_and_blobs_already_there_say_exists()
    {
        string dir = _fx.Scratch("progress-registry");
        var (layout, layers) = RandomImage(Path.Combine(dir, "src"));
        using var reg = new RegistryServer(_run);
        using var term = new TmuxTerminal(_run);
        var checks = new Checks(_log);

        var (push, pushed) = term.Run(FerryCli.ShellCommand($"push oci:{Proc.QuoteWord(layout)} docker://{reg.Address}/progress/big:1"));
        checks.Equal(0, push, "ferry push exit code");
        AssertAllDone(checks, pushed, layers, "done", "push");

        var (pull, pulled) = term.Run(FerryCli.ShellCommand($"pull {reg.Address}/progress/big:1 -o {Proc.QuoteWord(Path.Combine(dir, "pulled.tar"))}"));
        checks.Equal(0, pull, "ferry pull exit code");
        AssertAllDone(checks, pulled, layers, "done", "pull");

        var (again, skipped) = term.Run(FerryCli.ShellCommand($"push oci:{Proc.QuoteWord(layout)} docker://{reg.Address}/progress/big:2"));
        checks.Equal(0, again, "second ferry push exit code");
        AssertAllDone(checks, skipped, layers, "exists", "push of blobs the registry holds");
        checks.ThrowIfAny("ferry push and pull under a terminal");
    }

    [InteropFact(Tool.Tmux)]
    public void A_corrupt_layer_stops_the_bars_and_the_error_comes_after_them()
    {
        string dir = _fx.Scratch("progress-corrupt");
        var (layout, layers) = RandomImage(Path.Combine(dir, "src"));
        // One byte changed near the end of the 8 MiB layer: found only when its bytes have been read.
        string blob = Path.Combine(layout, "blobs", "sha256", layers[0]);
        using (var f = new FileStream(blob, FileMode.Open, FileAccess.ReadWrite))
        {
            f.Position = f.Length - 100;
            int b = f.ReadByte();
            f.Position = f.Length - 100;
            f.WriteByte((byte)(b ^ 0xff));
        }
        string y = Path.Combine(dir, "y.tar");
        using var term = new TmuxTerminal(_run);
        var (code, screen) = term.Run(FerryCli.ShellCommand($"copy oci:{Proc.QuoteWord(layout)} {Proc.QuoteWord(y)}"));

        var checks = new Checks(_log);
        checks.True(code != 0, $"ferry copy of a corrupt layer should fail, exit {code}");
        int total = screen.FindLastIndex(l => l.StartsWith("total (", StringComparison.Ordinal));
        checks.True(total >= 0 && Regex.IsMatch(screen[total], @" failed after \d+:\d\d$"), $"the total says it failed: '{(total >= 0 ? screen[total] : "(none)")}'");
        var bad = screen.LastOrDefault(l => l.StartsWith(layers[0][..12], StringComparison.Ordinal));
        checks.True(bad is not null && bad.EndsWith(" failed", StringComparison.Ordinal), $"the corrupt layer's bar says failed: '{bad}'");
        var after = screen.Skip(total + 1).ToList();
        checks.True(after.Count == 1 && after[0].StartsWith("ferry: ", StringComparison.Ordinal) && after[0].Contains(layers[0][..12], StringComparison.Ordinal),
            $"one error line, naming the layer, follows the bars: {string.Join(" | ", after)}");
        checks.True(!File.Exists(y), "no output is left");
        checks.ThrowIfAny("ferry copy of a corrupt layer under a terminal");
    }

    [InteropFact(Tool.Tmux)]
    public void Verify_draws_a_bar_per_layer_check()
    {
        string dir = _fx.Scratch("progress-verify");
        var (layout, layers) = RandomImage(Path.Combine(dir, "src"));
        using var term = new TmuxTerminal(_run);
        var (code, screen) = term.Run(FerryCli.ShellCommand($"verify oci:{Proc.QuoteWord(layout)}"));

        var checks = new Checks(_log);
        checks.Equal(0, code, "ferry verify exit code");
        AssertAllDone(checks, screen, layers, "done", "verify");
        checks.True(screen.Count > 0 && screen[^1].Contains(": OK (", StringComparison.Ordinal), $"verify says OK last: '{screen.LastOrDefault()}'");
        checks.ThrowIfAny("ferry verify under a terminal");
    }
}
