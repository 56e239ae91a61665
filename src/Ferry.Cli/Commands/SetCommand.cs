using System.CommandLine;
using Ferry.Sets;

namespace Ferry.Cli.Commands;

/// <summary><c>ferry set check FILE</c>: reads a set file or a lock strictly (what <c>lock</c> and <c>sync</c> would read) and says what it selects.</summary>
internal static class SetCommand
{
    public static Command Create(CliIO io, Option<bool> debug)
    {
        var file = new Argument<string>("FILE") { Description = "A set file (ferry.yaml) or a lock (ferry.lock)" };
        var check = new Command("check", "Check a set file or lock: every problem names its line and column, nothing is fetched") { file };
        check.SetAction(parse => Guard.Run(io, parse.GetValue(debug), () =>
        {
            string path = parse.GetValue(file)!;
            if (!File.Exists(path))
                throw new UsageException($"{path}: no such file");
            byte[] head = new byte[4096];
            int n;
            using (var f = File.OpenRead(path))
                n = f.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
            if (ImageSetLock.LooksLikeLock(head.AsSpan(0, n)))
            {
                var l = ImageSetLock.Load(path);
                io.Out.WriteLine($"{path}: a lock of {Count(l.Images.Count, "image")} ({l.Images.Count(i => i.IsIndex)} indexes) and {Count(l.Repositories.Count, "repository", "repositories")}");
                foreach (var r in l.Repositories)
                    io.Out.WriteLine($"  {r.Repository.FullRepository}: {r.Selected.Count} of {Count(r.Tags.Count, "tag")}{(r.NotSemver.Count > 0 ? $", {r.NotSemver.Count} not versions" : "")}");
                return ExitCodes.Ok;
            }
            var set = ImageSet.Load(path);
            io.Out.WriteLine($"{path}: {Count(set.Images.Count, "image")} and {Count(set.Repositories.Count, "repository", "repositories")} from {string.Join(", ", set.SourceRegistries)}; platforms {set.Platforms}; referrers {(set.Referrers ? "included" : "left out")}");
            foreach (var r in set.Repositories)
                io.Out.WriteLine($"  {r.Repository.FullRepository}: {(r.Tags.TakesAll ? "every tag" : "tags " + r.Tags)}");
            return ExitCodes.Ok;
        }));
        return new Command("set", "Image sets (docs/sets.md): check a set file or lock") { check };
    }

    private static string Count(int n, string one, string? many = null) => $"{n} {(n == 1 ? one : many ?? one + "s")}";
}
