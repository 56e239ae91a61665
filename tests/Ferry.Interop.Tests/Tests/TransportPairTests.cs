using System.Text.Json;
using Ferry.Interop.Tests.Fixture;
using Ferry.Interop.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Ferry.Interop.Tests.Tests;

/// <summary>
/// `ferry copy` for every (source, destination) pair among an archive, an OCI layout directory, a docker daemon (26, the
/// containerd image store, where images keep their manifest digests) and a registry (distribution 2.8): the image ID and
/// the manifest digest survive every hop, and inspect and verify read each place directly.
/// </summary>
[Collection(InteropCollection.Name)]
public sealed class TransportPairTests(InteropFixture fixture, ITestOutputHelper output) : InteropTest(fixture, output)
{
    private static readonly string[] Kinds = ["archive", "oci", "daemon", "registry"];

    [InteropFact(Tool.Podman, Tool.Registry, Tool.Docker26Containerd)]
    public void Every_pair_keeps_the_image_id_and_manifest_digest()
    {
        var src = _fx.Source(_run, Sources.PodmanOci);
        string dir = _fx.Scratch("pairs");
        using var reg = new RegistryServer(_run);
        string host = Tool.HostOf(Tool.Docker26Containerd);
        _fx.WipeDocker(_run, Tool.Docker26Containerd);
        var checks = new Checks(_log);
        int n = 0;
        string Place(string kind, string role) => kind switch
        {
            "archive" => Path.Combine(dir, $"{role}-{++n}.tar"),
            "oci" => "oci:" + Path.Combine(dir, $"{role}-{++n}-layout"),
            "daemon" => $"docker-daemon:ferry-interop/pairs-{role}-{++n}:1",
            _ => $"docker://{reg.Address}/pairs/{role}-{++n}:1",
        };
        string[] Flags(params string[] refs) => refs.Any(r => r.StartsWith("docker-daemon:", StringComparison.Ordinal)) ? ["--host", host] : [];
        (string? Id, string? Digest) Read(string reference)
        {
            var r = _run.Ferry(["inspect", reference, "--json", .. Flags(reference)]);
            if (!checks.True(r.Ok, $"ferry inspect {reference}: {LoaderChecks.Short(r)}"))
                return (null, null);
            using var doc = JsonDocument.Parse(r.Stdout);
            var image = doc.RootElement.GetProperty("images")[0];
            return (image.GetProperty("manifests")[0].GetProperty("imageId").GetString(), image.GetProperty("digest").GetString());
        }

        // The image in an OCI archive first: its manifest digest is what every hop must keep.
        string seed = Path.Combine(dir, "seed.tar");
        _run.MustFerry("copy", src.Path, seed, "-q");
        var (id, digest) = Read(seed);
        checks.Equal(src.Images.Single().Id, id, "image ID of the seed archive");
        // One copy of the image in each kind of place.
        var holders = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var kind in Kinds)
        {
            string place = Place(kind, "src");
            var r = _run.Ferry(["copy", seed, place, "-q", .. Flags(place)]);
            if (checks.True(r.Ok, $"ferry copy seed → {place}: {LoaderChecks.Short(r)}"))
                holders[kind] = place;
        }
        foreach (var (from, source) in holders)
        {
            foreach (var to in Kinds)
            {
                string dest = Place(to, "dst");
                var copy = _run.Ferry(["copy", source, dest, "--json", .. Flags(source, dest)]);
                if (!checks.True(copy.Ok, $"ferry copy {from} → {to} ({source} → {dest}): {LoaderChecks.Short(copy)}"))
                    continue;
                var (gotId, gotDigest) = Read(dest);
                checks.Equal(id, gotId, $"image ID after {from} → {to}");
                checks.Equal(digest, gotDigest, $"manifest digest after {from} → {to}");
                var verify = _run.Ferry(["verify", dest, .. Flags(dest)]);
                checks.True(verify.Ok, $"ferry verify {dest} after {from} → {to}: {LoaderChecks.Short(verify)}");
            }
        }
        checks.ThrowIfAny("every (source, destination) pair among archive, oci:, docker-daemon: and docker://");
    }

    /// <summary>verify of a registry image checks every blob without writing anything; a broken blob in the registry's storage is named.</summary>
    [InteropFact(Tool.Docker, Tool.Registry)]
    public void Verify_reads_a_registry_image_and_names_a_corrupted_blob()
    {
        var src = _fx.Source(_run, Sources.DockerOne);
        using var reg = new RegistryServer(_run);
        string reference = $"docker://{reg.Address}/verify/one:1";
        _run.MustFerry("copy", src.Path, reference, "-q");
        var checks = new Checks(_log);
        var ok = _run.Ferry("verify", reference);
        checks.True(ok.Ok && ok.Stdout.Contains(": OK (registry", StringComparison.Ordinal), $"ferry verify {reference}: {LoaderChecks.Short(ok)}");
        // Flip a byte of the biggest blob in the registry's filesystem storage.
        string data = Path.Combine(reg.Dir, "data", "docker", "registry", "v2", "blobs");
        var biggest = Directory.EnumerateFiles(data, "data", SearchOption.AllDirectories).MaxBy(f => new FileInfo(f).Length)!;
        string blob = "sha256:" + Path.GetFileName(Path.GetDirectoryName(biggest)!);
        var bytes = File.ReadAllBytes(biggest);
        bytes[bytes.Length / 2] ^= 0xff;
        File.WriteAllBytes(biggest, bytes);
        var bad = _run.Ferry("verify", reference);
        checks.True(bad.ExitCode == 1 && bad.Stderr.Contains(blob, StringComparison.Ordinal), $"verify of the corrupted image: exit {bad.ExitCode}, {bad.Stderr}");
        checks.ThrowIfAny("verify a registry image");
    }
}
