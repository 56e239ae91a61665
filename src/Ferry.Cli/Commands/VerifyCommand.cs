using System.CommandLine;
using Ferry.Transports;
using Ferry.Verify;

namespace Ferry.Cli.Commands;

internal static class VerifyCommand
{
    public static Command Create(CliIO io, Option<bool> debug)
    {
        var source = new Argument<string>("SOURCE") { Description = "What to verify: any SOURCE of copy (path, '-', transport:PATH[:NAME], docker-daemon:NAME, docker://HOST/REPO[:TAG])" };
        var json = new Option<bool>("--json") { Description = "Print a JSON report" };
        var keys = new Option<string[]>("--key") { Description = "A public key (cosign.pub, PEM) every image must be signed with (cosign or skopeo sigstore signatures; the transparency log is not consulted); repeatable: any one suffices", Arity = ArgumentArity.OneOrMore, AllowMultipleArgumentsPerToken = false };
        var host = DaemonOptions.Host();
        var timeout = TimeoutOption.Create();
        var registry = new RegistryFlags(Side.Both);
        var bases = new Option<string[]>("--base") { Description = "An archive that carried layers the (incremental) source leaves out; repeatable" };
        var progress = ProgressOption.Create();
        var cmd = new Command("verify", "Re-hash every blob and check sizes, diff_ids, media types, references and names; report every finding (nothing is written)") { source, json, keys, host, timeout };
        registry.AddTo(cmd);
        cmd.Options.Add(bases);
        cmd.Options.Add(progress);
        cmd.SetAction((parse, ct) => Guard.RunAsync(io, parse.GetValue(debug), async cancel =>
        {
            var options = new TransportOptions { Registry = registry.Read(parse, Side.Source, io), Daemon = new Transports.DaemonOptions { Host = parse.GetValue(host) }, Archive = new ArchiveOptions { Stdin = io.ArchiveStdin, Bases = parse.GetValue(bases) ?? [] }, Timeout = TimeoutOption.Read(parse, timeout), Log = m => io.Message("ferry: " + m) };
            var reference = References.Parse(parse.GetValue(source)!, io);
            io.RefuseTerminal(reference);
            var signatureKeys = (parse.GetValue(keys) ?? []).Select(SignatureKey.FromFile).ToList();
            ValidationReport report;
            try
            {
                var mode = parse.GetValue(json) ? Rendering.ProgressMode.None : ProgressOption.Read(parse, progress);
                // A source that cannot be opened (missing, not an archive, unreachable) is an error like any command's:
                // one line and its exit code (5 not found, 3 invalid archive); a report's errors exit 1.
                report = await Rendering.ProgressRunner.RunAsync(mode, io, async sink =>
                {
                    await using var src = await reference.Transport.OpenSourceAsync(reference, options with { Progress = sink }, cancel).ConfigureAwait(false);
                    return await ImageValidator.VerifyAsync(src, new VerifyOptions { Keys = signatureKeys, Progress = sink }, cancel).ConfigureAwait(false);
                }, r => r.Ok).ConfigureAwait(false);
            }
            finally
            {
                foreach (var k in signatureKeys)
                    k.Dispose();
            }
            if (parse.GetValue(json))
            {
                io.Out.WriteLine(System.Text.Encoding.UTF8.GetString(report.ToJson()));
            }
            else
            {
                foreach (var f in report.Findings)
                    (f.Severity == Severity.Error ? io.Err : io.Out).WriteLine("ferry: " + f);
                foreach (var v in report.Signatures)
                    io.Out.WriteLine($"signed: {v.Image}: {v.Subject} with {v.Key} (signature {v.Signature})");
                int errors = report.Findings.Count(f => f.Severity == Severity.Error);
                int warnings = report.Findings.Count(f => f.Severity == Severity.Warning);
                bool incremental = report.Findings.Any(f => f.Severity == Severity.Note && f.Message.StartsWith("incremental:", StringComparison.Ordinal));
                io.Out.WriteLine(report.Ok
                    ? $"{report.Source}: OK ({report.Format}: {report.ImagesChecked} image{(report.ImagesChecked == 1 ? "" : "s")}, {report.BlobsChecked} blobs verified{(warnings > 0 ? $", {warnings} warning{(warnings == 1 ? "" : "s")}" : "")}{(incremental ? ", incremental" : "")})"
                    : $"{report.Source}: FAILED ({errors} error{(errors == 1 ? "" : "s")})");
            }
            return report.Ok ? ExitCodes.Ok : ExitCodes.Failure;
        }, ct));
        return cmd;
    }
}
