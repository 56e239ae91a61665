using System.Text.Json;
using Ferry.Interop.Tests.Fixture;
using Ferry.Interop.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Ferry.Interop.Tests.Tests;

/// <summary>
/// Registries (issue 6) against Debian's docker-registry (distribution 2.8) on 127.0.0.1: no auth, htpasswd basic auth,
/// bearer tokens from a token server, TLS with a self-signed CA; cross-checked with skopeo.
/// </summary>
[Collection(InteropCollection.Name)]
public sealed class RegistryTests(InteropFixture fixture, ITestOutputHelper output) : InteropTest(fixture, output)
{

    private static string[] Creds => ["--creds", $"{RegistryServer.User}:{RegistryServer.Password}"];

    /// <summary>One pushed reference of `ferry push --json`: where, the manifest digest, and how many blobs were uploaded for its image.</summary>
    private sealed record Pushed(string Reference, string Digest, int Uploaded);

    private static Pushed[] PushJson(ProcResult r)
    {
        using var doc = JsonDocument.Parse(r.Stdout);
        return [.. doc.RootElement.GetProperty("images").EnumerateArray().SelectMany(i => i.GetProperty("references").EnumerateArray()
            .Select(x => new Pushed(x.GetString()!, i.GetProperty("digest").GetString()!, i.GetProperty("written").GetInt32())))];
    }

    /// <summary>
    /// Three images pulled into one file, pushed into an empty registry with basic auth: skopeo agrees on every digest,
    /// a second push uploads no blob, and pulling back gives the same manifest digests and image IDs.
    /// </summary>
    [InteropFact(Tool.Docker, Tool.Podman, Tool.Skopeo, Tool.Registry, Tool.Htpasswd)]
    public void Pull_three_push_all_with_basic_auth_round_trip()
    {
        var multi = _fx.Source(_run, Sources.DockerMulti);
        var ubuntu = _fx.Source(_run, Sources.PodmanOci);
        using var origin = new RegistryServer(_run);
        using var target = new RegistryServer(_run, RegistryAuth.Basic);
        string dir = _fx.Scratch("registry-basic");
        _run.MustFerry("push", multi.Path, origin.Address + "/origin");
        _run.MustFerry("push", ubuntu.Path, origin.Address + "/origin");
        string[] refs = [$"{origin.Address}/origin/ferry-interop/app:1", $"{origin.Address}/origin/ferry-interop/other:1", $"docker://{origin.Address}/origin/library/ubuntu:20.04"];
        string pulled = Path.Combine(dir, "pulled.tar");
        _run.MustFerry(["pull", .. refs, "-o", pulled, "--progress", "none"]);
        _run.MustFerry("verify", pulled);

        var checks = new Checks(_log);
        var first = _run.Ferry(["push", pulled, target.Address + "/mirror", "--json", .. Creds]);
        if (checks.True(first.Ok, $"push with basic auth failed: {LoaderChecks.Short(first)}"))
        {
            var pushed = PushJson(first);
            checks.True(pushed.Length == 3, $"expected 3 tags pushed, got {pushed.Length}");
            foreach (var p in pushed)
            {
                string reference = p.Reference;
                var inspect = _run.Skopeo(["inspect", .. target.SkopeoFlags(), "docker://" + reference]);
                if (checks.True(inspect.Ok, $"skopeo inspect {reference} failed: {LoaderChecks.Short(inspect)}"))
                {
                    using var doc = JsonDocument.Parse(inspect.Stdout);
                    checks.Equal(p.Digest, doc.RootElement.GetProperty("Digest").GetString(), $"skopeo's digest of {reference}");
                }
            }
            var again = _run.Ferry(["push", pulled, target.Address + "/mirror", "--json", .. Creds]);
            if (checks.True(again.Ok, $"second push failed: {LoaderChecks.Short(again)}"))
                checks.True(PushJson(again).All(p => p.Uploaded == 0), $"the second push uploaded blobs: {again.Stdout}");

            string back = Path.Combine(dir, "back.tar");
            var pull = _run.Ferry(["pull", .. pushed.Select(p => p.Reference), "-o", back, "--progress", "none", .. Creds]);
            if (checks.True(pull.Ok, $"pull back failed: {LoaderChecks.Short(pull)}"))
            {
                var a = Summary(pulled);
                var b = Summary(back);
                checks.True(a.SequenceEqual(b), $"round trip changed digests or IDs:\n{string.Join("\n", a)}\nvs\n{string.Join("\n", b)}");
            }
        }
        checks.ThrowIfAny("pull three, push with basic auth, skopeo inspect, push again, pull back");
    }

    /// <summary>Sorted "manifest digest imageId" of every image in an archive (names aside: they are re-rooted).</summary>
    private List<string> Summary(string archive)
    {
        var r = _run.MustFerry("inspect", "--json", archive);
        using var doc = JsonDocument.Parse(r.Stdout);
        return doc.RootElement.GetProperty("images").EnumerateArray()
            .Select(i => i.GetProperty("digest").GetString() + " " + i.GetProperty("manifests")[0].GetProperty("imageId").GetString())
            .Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>Bearer tokens: the registry challenges, the token server checks the credentials, push and pull work.</summary>
    [InteropFact(Tool.Docker, Tool.Skopeo, Tool.Registry)]
    public void Bearer_token_flow()
    {
        var src = _fx.Source(_run, Sources.DockerOne);
        using var reg = new RegistryServer(_run, RegistryAuth.Token);
        var checks = new Checks(_log);
        string reference = $"docker://{reg.Address}/tok/one:1";
        var push = _run.Ferry(["copy", src.Path, reference, .. Creds]);
        if (checks.True(push.Ok, $"push with bearer tokens failed: {LoaderChecks.Short(push)}\n{reg.Log}"))
        {
            string back = Path.Combine(_fx.Scratch("registry-token"), "back.tar");
            var pull = _run.Ferry(["copy", reference, back, .. Creds]);
            if (checks.True(pull.Ok, $"pull with bearer tokens failed: {LoaderChecks.Short(pull)}"))
                checks.True(_run.MustFerry("inspect", "--json", back).Stdout.Contains(src.Images[0].Id, StringComparison.Ordinal), "image ID changed through the token registry");
            var anonymous = _run.Ferry("copy", reference, Path.Combine(_fx.Scratch("registry-token"), "anon.tar"));
            checks.True(anonymous.ExitCode == 1 && anonymous.Stderr.Contains(reg.Address, StringComparison.Ordinal),
                $"anonymous pull from the token registry: exit {anonymous.ExitCode} {anonymous.Stderr}");
        }
        checks.ThrowIfAny("bearer token flow");
    }

    /// <summary>TLS with a private CA: --ca-cert works, skopeo with the same CA reads what Ferry pushed, and without it the error names the registry.</summary>
    [InteropFact(Tool.Docker, Tool.Skopeo, Tool.Registry, Tool.Openssl)]
    public void Tls_with_private_ca()
    {
        var src = _fx.Source(_run, Sources.DockerOne);
        using var reg = new RegistryServer(_run, RegistryAuth.None, tls: true);
        // 127.0.0.1 may fall back to plain HTTP only when TLS is not spoken at all; here TLS must be verified.
        var checks = new Checks(_log);
        string reference = $"docker://{reg.Address}/tls/one:1";
        var push = _run.Ferry("copy", src.Path, reference, "--ca-cert", reg.CaCert!);
        if (checks.True(push.Ok, $"push over TLS with --ca-cert failed: {LoaderChecks.Short(push)}"))
        {
            var inspect = _run.Skopeo(["inspect", .. reg.SkopeoFlags(creds: false), reference]);
            checks.True(inspect.Ok, $"skopeo inspect over TLS failed: {LoaderChecks.Short(inspect)}");
            var untrusted = _run.Ferry("copy", reference, Path.Combine(_fx.Scratch("registry-tls"), "x.tar"));
            checks.True(untrusted.ExitCode != 0 && untrusted.Stderr.Contains(reg.Address, StringComparison.Ordinal),
                $"pull without the CA: exit {untrusted.ExitCode} {untrusted.Stderr}");
        }
        checks.ThrowIfAny("TLS with a private CA");
    }

    /// <summary>skopeo copy in both directions: what skopeo pushes Ferry pulls, and what Ferry writes skopeo pushes, digests kept.</summary>
    [InteropFact(Tool.Docker, Tool.Podman, Tool.Skopeo, Tool.Registry)]
    public void Skopeo_copy_both_directions()
    {
        var src = _fx.Source(_run, Sources.SkopeoGzip);
        using var reg = new RegistryServer(_run);
        var checks = new Checks(_log);
        string name = src.Images[0].Names[0];
        _run.MustSkopeo(["copy", "--dest-tls-verify=false", $"oci-archive:{src.Path}:{name}", $"docker://{reg.Address}/sk/img:1"]);
        string mine = Path.Combine(_fx.Scratch("registry-skopeo"), "mine.tar");
        _run.MustFerry("pull", $"{reg.Address}/sk/img:1", "-o", mine, "--format", "oci-archive");
        var skopeoDigest = _run.MustSkopeo("inspect", "--tls-verify=false", $"docker://{reg.Address}/sk/img:1");
        using (var doc = JsonDocument.Parse(skopeoDigest.Stdout))
            checks.True(_run.MustFerry("inspect", "--json", mine).Stdout.Contains(doc.RootElement.GetProperty("Digest").GetString()!, StringComparison.Ordinal), "Ferry's pull changed the manifest digest");
        _run.MustSkopeo(["copy", "--dest-tls-verify=false", $"oci-archive:{mine}:{reg.Address}/sk/img:1", $"docker://{reg.Address}/sk/again:1"]);
        var again = _run.MustSkopeo("inspect", "--tls-verify=false", $"docker://{reg.Address}/sk/again:1");
        using (var a = JsonDocument.Parse(again.Stdout))
        using (var b = JsonDocument.Parse(skopeoDigest.Stdout))
            checks.Equal(b.RootElement.GetProperty("Digest").GetString(), a.RootElement.GetProperty("Digest").GetString(), "digest after skopeo pushed Ferry's archive");
        checks.ThrowIfAny("skopeo copy both directions");
    }

    /// <summary>Chunked uploads (PATCH with Content-Range, then PUT ?digest=) give the same digests as monolithic ones.</summary>
    [InteropFact(Tool.Docker, Tool.Skopeo, Tool.Registry)]
    public void Chunked_upload()
    {
        var src = _fx.Source(_run, Sources.DockerOne);
        using var reg = new RegistryServer(_run);
        var checks = new Checks(_log);
        var push = _run.Ferry("push", src.Path, reg.Address + "/chunked", "--chunk-size", "1", "--json");
        if (checks.True(push.Ok, $"chunked push failed: {LoaderChecks.Short(push)}"))
        {
            string reference = PushJson(push).Single().Reference;
            var copy = _run.Skopeo("copy", "--src-tls-verify=false", "docker://" + reference, "dir:" + _fx.Scratch("registry-chunked") + "/dir");
            checks.True(copy.Ok, $"skopeo could not read the chunk-uploaded image (it checks every blob's digest): {LoaderChecks.Short(copy)}");
        }
        checks.ThrowIfAny("chunked upload");
    }

    /// <summary>Wrong credentials, an unknown repository and an unreachable registry: one line each, naming the registry.</summary>
    [InteropFact(Tool.Docker, Tool.Registry, Tool.Htpasswd)]
    public void Registry_errors_are_one_line()
    {
        var src = _fx.Source(_run, Sources.DockerOne);
        using var reg = new RegistryServer(_run, RegistryAuth.Basic);
        var checks = new Checks(_log);
        var wrong = _run.Ferry("push", src.Path, reg.Address + "/x", "--creds", "ferry:wrong");
        checks.True(wrong.ExitCode == 1 && wrong.Stderr.Contains(reg.Address, StringComparison.Ordinal) && wrong.Stderr.Contains("unauthorized", StringComparison.OrdinalIgnoreCase),
            $"wrong credentials: exit {wrong.ExitCode} {wrong.Stderr}");
        var unknown = _run.Ferry(["pull", $"{reg.Address}/no/such:1", "-o", Path.Combine(_fx.Scratch("registry-err"), "x.tar"), .. Creds]);
        checks.True(unknown.ExitCode == 5 && unknown.Stderr.Contains("no/such", StringComparison.Ordinal), $"unknown repository: exit {unknown.ExitCode} {unknown.Stderr}");
        var unreachable = _run.Ferry("pull", "127.0.0.1:9/x:1", "-o", Path.Combine(_fx.Scratch("registry-err"), "y.tar"));
        checks.True(unreachable.ExitCode == 1 && unreachable.Stderr.Contains("127.0.0.1:9", StringComparison.Ordinal) && unreachable.Stderr.Contains("unreachable", StringComparison.Ordinal),
            $"unreachable: exit {unreachable.ExitCode} {unreachable.Stderr}");
        foreach (var r in new[] { wrong, unknown, unreachable })
            checks.True(r.Stderr.Trim().Split('\n').Length == 1, $"not one line: {r.Stderr}");
        checks.True(!File.Exists(Path.Combine(_fx.Scratch("registry-err"), "x.tar")), "a failed pull left a file");
        checks.ThrowIfAny("registry errors");
    }
}
