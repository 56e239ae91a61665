using System.Text.Json;
using Ferry.Interop.Tests.Fixture;
using Ferry.Interop.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Ferry.Interop.Tests.Tests;

/// <summary>
/// The README's air-gap trip (issue 12), end to end with real tools. Connected side: week 1 is a full pull with a
/// record of what it shipped; week 2 pulls more images sharing week 1's base layers, incremental (--since the record)
/// and split. Far side: verify (with and without the base), serve both weeks to docker, podman and ctr, push into a
/// docker-registry that holds week 1 (and, refused cleanly with nothing written, into one that does not), and
/// reconstitute the full archive byte for byte.
/// </summary>
[Collection(InteropCollection.Name)]
public sealed class AirgapTripTests(InteropFixture fixture, ITestOutputHelper output) : InteropTest(fixture, output)
{
    private static async Task<List<string>> CatalogAsync(RegistryServer r)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        using var doc = JsonDocument.Parse(await http.GetStringAsync($"http://{r.Address}/v2/_catalog"));
        return [.. doc.RootElement.GetProperty("repositories").EnumerateArray().Select(e => e.GetString()!)];
    }

    [InteropFact(Tool.Docker, Tool.Podman, Tool.Skopeo, Tool.Containerd, Tool.Registry)]
    public async Task Full_then_incremental_split_verified_served_and_pushed()
    {
        var source = _fx.Source(_run, Sources.DockerMulti);
        using var origin = new RegistryServer(_run);
        _run.MustFerry("push", source.Path, origin.Address + "/origin");
        string app = $"{origin.Address}/origin/ferry-interop/app:1", other = $"{origin.Address}/origin/ferry-interop/other:1";
        string dir = _fx.Scratch("airgap");
        string P(string name) => Path.Combine(dir, name);
        var checks = new Checks(_log);

        // ---- connected side
        _run.MustFerry("pull", app, "-o", P("week1.tar"), "--record", P("week1.rec"), "--progress", "none");
        _run.MustFerry("pull", app, other, "-o", P("week2.tar"), "--since", P("week1.rec"), "--split", "4K", "--progress", "none");
        _run.MustFerry("pull", app, other, "-o", P("week2-whole.tar"), "--since", P("week1.rec"), "--progress", "none");
        _run.MustFerry("pull", app, other, "-o", P("full2.tar"), "--progress", "none");
        var parts = Directory.GetFiles(dir, "week2.tar.0*").Order(StringComparer.Ordinal).ToList();
        checks.True(parts.Count > 1, $"--split 4K made {parts.Count} parts");
        await using (var joined = File.Create(P("joined.tar")))
            foreach (var part in parts)
                await using (var f = File.OpenRead(part))
                    await f.CopyToAsync(joined);
        checks.True(File.ReadAllBytes(P("joined.tar")).AsSpan().SequenceEqual(File.ReadAllBytes(P("week2-whole.tar"))), "cat week2.tar.0* equals the unsplit incremental archive");
        var sums = _run.Raw("/bin/sh", ["-c", $"cd '{dir}' && sha256sum -c week2.tar.sha256"]);
        checks.True(sums.Ok, $"sha256sum -c week2.tar.sha256: {LoaderChecks.Short(sums)}");
        checks.True(new FileInfo(P("week2-whole.tar")).Length < new FileInfo(P("full2.tar")).Length, $"week 2 incremental ({new FileInfo(P("week2-whole.tar")).Length} B) is smaller than full ({new FileInfo(P("full2.tar")).Length} B)");

        // ---- far side: verify
        var alone = _run.Ferry("verify", P("week2.tar.sha256"));
        checks.True(alone.Ok && alone.Stdout.Contains("expected from week1.tar", StringComparison.Ordinal), $"verify week2 alone: OK with the base's layers expected: {LoaderChecks.Short(alone)}");
        var based = _run.Ferry("verify", P("week2.tar.000"), "--base", P("week1.tar"));
        checks.True(based.Ok && !based.Stdout.Contains("incremental", StringComparison.Ordinal), $"verify week2 --base week1: {LoaderChecks.Short(based)}");

        // ---- far side: reconstitute byte for byte
        _run.MustFerry("copy", P("week2.tar.000"), P("recon2.tar"), "--base", P("week1.tar"), "-q");
        checks.True(File.ReadAllBytes(P("recon2.tar")).AsSpan().SequenceEqual(File.ReadAllBytes(P("full2.tar"))), "copy week2 --base week1 gives the full pull's bytes");

        // ---- far side: a registry without the base refuses, nothing written
        using (var empty = new RegistryServer(_run))
        {
            var refused = _run.Ferry("push", P("week2.tar.000"), empty.Address + "/site");
            checks.True(refused.ExitCode == 5 && refused.Stderr.Contains("week1.tar", StringComparison.Ordinal), $"push of week2 into a registry without week1's layers fails naming week1.tar (exit 5): {LoaderChecks.Short(refused)}");
            var catalog = await CatalogAsync(empty);
            checks.True(catalog.Count == 0, $"nothing was written to the empty registry: [{string.Join(", ", catalog)}]");
        }

        // ---- far side: the site registry holds week 1; week 2 goes on top
        using (var site = new RegistryServer(_run))
        {
            _run.MustFerry("push", P("week1.tar"), site.Address + "/site");
            var pushed = _run.Ferry("push", P("week2.tar.000"), site.Address + "/site", "--json");
            if (checks.True(pushed.Ok, $"push of week2 onto week1: {LoaderChecks.Short(pushed)}"))
            {
                using var doc = JsonDocument.Parse(pushed.Stdout);
                foreach (var i in doc.RootElement.GetProperty("images").EnumerateArray())
                {
                    foreach (var r in i.GetProperty("references").EnumerateArray())
                    {
                        var inspect = _run.Skopeo("inspect", "--tls-verify=false", "docker://" + r.GetString());
                        checks.True(inspect.Ok, $"skopeo inspect {r.GetString()}: {LoaderChecks.Short(inspect)}");
                        string copied = P("site-" + Guid.NewGuid().ToString("N")[..8]);
                        var copy = _run.Skopeo("copy", "--src-tls-verify=false", "docker://" + r.GetString(), "dir:" + copied);
                        checks.True(copy.Ok, $"skopeo copy {r.GetString()} (every blob, week 1's too): {LoaderChecks.Short(copy)}");
                    }
                }
            }
        }

        // ---- far side: no registry at all: serve both weeks as one
        using (var server = new FerryServer(_run, P("week1.tar"), P("week2.tar.000")))
        {
            string otherRef = $"{server.Address}/origin/ferry-interop/other:1";
            var expected = source.ById.First(e => e.Names.Contains("docker.io/ferry-interop/other:1", StringComparer.Ordinal));
            var podman = _run.Podman("pull", "-q", "--tls-verify=false", otherRef);
            if (checks.True(podman.Ok, $"podman pull {otherRef}: {LoaderChecks.Short(podman)}"))
            {
                checks.Equal(expected.Id, JsonUtil.WithSha256Prefix(podman.Stdout.Trim().Split('\n')[^1].Trim()), $"image ID podman pulled from {otherRef}");
                _run.Podman("rmi", otherRef);
            }
            var docker = _run.Docker("pull", otherRef);
            if (checks.True(docker.Ok, $"docker pull {otherRef}: {LoaderChecks.Short(docker)}"))
            {
                checks.Equal(expected.Id, Engines.DockerInspect(_run, otherRef)?.Id, $"image ID docker pulled from {otherRef}");
                _run.Docker("rmi", otherRef);
            }
            string ns = _fx.NewNamespace("airgap");
            var ctr = _run.Ctr("-n", ns, "images", "pull", "--plain-http", otherRef);
            checks.True(ctr.Ok, $"ctr pull --plain-http {otherRef}: {LoaderChecks.Short(ctr)}");
            checks.True(!server.Log.ToString().Contains("in no archive served", StringComparison.Ordinal), "serving week1 with week2 leaves no layer unserved");
        }
        checks.ThrowIfAny("the air-gap trip");
    }
}
