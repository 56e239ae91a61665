using System.CommandLine;
using Ferry.Transports;
using Ferry.Verify;

namespace Ferry.Cli.Commands;

internal static class VerifyCommand
{
    public static Command Create(CliIO io, Option<bool> debug)
    {
        var source = new Argument<string>("SOURCE") { Description = "Archive or layout to verify (path, '-', or transport:PATH[:NAME])" };
        var json = new Option<bool>("--json") { Description = "Print a JSON report" };
        var cmd = new Command("verify", "Re-hash every blob and check sizes, diff_ids, media types, references and names; report every finding") { source, json };
        cmd.SetAction(parse => Guard.Run(io, parse.GetValue(debug), () =>
        {
            var report = ImageValidator.Verify(ImageReference.Parse(parse.GetValue(source)!), io.Stdin);
            if (parse.GetValue(json))
            {
                io.Out.WriteLine(System.Text.Encoding.UTF8.GetString(report.ToJson()));
            }
            else
            {
                foreach (var f in report.Findings)
                    (f.Severity == Severity.Error ? io.Err : io.Out).WriteLine(f.ToString());
                int errors = report.Findings.Count(f => f.Severity == Severity.Error);
                io.Out.WriteLine(report.Ok
                    ? $"{report.Source}: OK ({report.Format}: {report.ImagesChecked} image{(report.ImagesChecked == 1 ? "" : "s")}, {report.BlobsChecked} blobs verified{(report.Findings.Count > 0 ? $", {report.Findings.Count} warning{(report.Findings.Count == 1 ? "" : "s")}" : "")})"
                    : $"{report.Source}: FAILED ({errors} error{(errors == 1 ? "" : "s")})");
            }
            return report.Ok ? ExitCodes.Ok : ExitCodes.Failure;
        }));
        return cmd;
    }
}
