using System.Text.Json;
using Ferry.Interop.Tests.Fixture;
using Ferry.Interop.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Ferry.Interop.Tests.Tests;

/// <summary>
/// `ferry serve` (issue 12) answers real clients as a registry: docker 20.10 and docker 26 (both image stores) pull
/// (loopback registries are insecure by default), podman pull, skopeo inspect and copy, `ctr pull --plain-http`; each gets the image ID and digest the archive
/// holds. The archive served is split, so the parts are read as one.
/// </summary>
[Collection(InteropCollection.Name)]
public sealed class ServeTests(InteropFixture fixture, ITestOutputHelper output) : InteropTest(fixture, output)
{
    /// <summary>"manifest digest" per name, as ferry inspect --json of the archive says.</summary>
    private Dictionary<string, string> Digests(string archive)
    {
        using var doc = JsonDocument.Parse(_run.MustFerry("inspect", archive, "--json").Stdout);
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var image in doc.RootElement.GetProperty("images").EnumerateArray())
        {
            string digest = image.GetProperty("digest").GetString()!;
            foreach (var n in image.GetProperty("names").EnumerateArray())
                result[n.GetString()!] = digest;
        }
        return result;
    }

    [InteropFact(Tool.Docker, Tool.Docker26, Tool.Docker26Containerd, Tool.Podman, Tool.Skopeo, Tool.Containerd)]
    public void Docker_podman_skopeo_and_ctr_pull_from_a_served_split_archive()
    {
        var source = _fx.Source(_run, Sources.DockerMulti);
        string dir = _fx.Scratch("serve");
        string archive = Path.Combine(dir, "served.tar");
        _run.MustFerry("copy", source.Path, archive, "--split", "1M", "-q");
        var digests = Digests(archive + ".000");
        using var server = new FerryServer(_run, archive + ".sha256");
        string ns = _fx.NewNamespace("serve");
        var checks = new Checks(_log);
        foreach (var e in source.ById)
        {
            foreach (var name in e.Names)
            {
                var parsed = Ferry.Model.ImageName.Parse(name);
                string reference = $"{server.Address}/{parsed.Path}:{parsed.Tag}";
                checks.True(digests.TryGetValue(name, out var digest), $"ferry inspect lists {name}");

                var docker = _run.Docker("pull", reference);
                if (checks.True(docker.Ok, $"docker pull {reference}: {LoaderChecks.Short(docker)}"))
                {
                    checks.Equal(e.Id, Engines.DockerInspect(_run, reference)?.Id, $"image ID docker pulled from {reference}");
                    _run.Docker("rmi", reference);
                }

                // docker 26 in both image stores starts empty, so it fetches every blob (docker 20.10 has the layers already)
                foreach (var tool in new[] { Tool.Docker26, Tool.Docker26Containerd })
                {
                    var pulled = _run.Exec(tool, ["pull", reference]);
                    if (checks.True(pulled.Ok, $"{tool} pull {reference}: {LoaderChecks.Short(pulled)}"))
                    {
                        string? want = Tool.UsesContainerdStore(tool) ? digest : e.Id;
                        checks.Equal(want, Engines.Inspect(_run, tool, reference)?.Id, $"image ID {tool} pulled from {reference}");
                        _run.Exec(tool, ["rmi", reference]);
                    }
                }

                var podman = _run.Podman("pull", "-q", "--tls-verify=false", reference);
                if (checks.True(podman.Ok, $"podman pull {reference}: {LoaderChecks.Short(podman)}"))
                {
                    checks.Equal(e.Id, JsonUtil.WithSha256Prefix(podman.Stdout.Trim().Split('\n')[^1].Trim()), $"image ID podman pulled from {reference}");
                    _run.Podman("rmi", reference);
                }

                var inspect = _run.Skopeo("inspect", "--tls-verify=false", "docker://" + reference);
                if (checks.True(inspect.Ok, $"skopeo inspect {reference}: {LoaderChecks.Short(inspect)}"))
                {
                    using var doc = JsonDocument.Parse(inspect.Stdout);
                    checks.Equal(digest, doc.RootElement.GetProperty("Digest").GetString(), $"skopeo's digest of {reference}");
                }
                string copied = Path.Combine(dir, "skopeo-" + Guid.NewGuid().ToString("N")[..8]);
                var copy = _run.Skopeo("copy", "--src-tls-verify=false", "docker://" + reference, "dir:" + copied);
                checks.True(copy.Ok, $"skopeo copy {reference} dir: (reads and checks every blob): {LoaderChecks.Short(copy)}");
                // by digest too
                var byDigest = _run.Skopeo("inspect", "--raw", "--tls-verify=false", $"docker://{server.Address}/{parsed.Path}@{digest}");
                checks.True(byDigest.Ok, $"skopeo inspect {parsed.Path}@{digest}: {LoaderChecks.Short(byDigest)}");

                var ctr = _run.Ctr("-n", ns, "images", "pull", "--plain-http", reference);
                if (checks.True(ctr.Ok, $"ctr pull --plain-http {reference}: {LoaderChecks.Short(ctr)}"))
                {
                    var list = _run.MustCtr("-n", ns, "images", "ls");
                    checks.True(list.Stdout.Contains(digest ?? "?", StringComparison.Ordinal), $"ctr images ls shows {reference} at {digest}: {list.Stdout}");
                }
            }
        }
        var tags = _run.Skopeo("list-tags", "--tls-verify=false", $"docker://{server.Address}/{Ferry.Model.ImageName.Parse(source.ById[0].Names[0]).Path}");
        checks.True(tags.Ok, $"skopeo list-tags: {LoaderChecks.Short(tags)}");
        checks.ThrowIfAny($"clients pulling from ferry serve:\n{server.Log}");
    }
}
