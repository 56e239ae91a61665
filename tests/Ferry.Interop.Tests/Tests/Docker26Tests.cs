using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Ferry.Interop.Tests.Fixture;
using Ferry.Interop.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Ferry.Interop.Tests.Tests;

/// <summary>
/// Docker 26 (Debian 13's docker.io, run privately by .ci/run) in both image stores, against `ferry load`, `ferry save`
/// and the docker-daemon: transport: the classic store keeps config-digest IDs; in the containerd image store an image's
/// ID is its manifest or index digest, which Ferry must keep (it sends the portable form there), attestations included.
/// </summary>
[Collection(InteropCollection.Name)]
public sealed class Docker26Tests(InteropFixture fixture, ITestOutputHelper output) : InteropTest(fixture, output)
{
    public static TheoryData<string, string> LoadCases()
    {
        var data = new TheoryData<string, string>();
        foreach (var s in new[] { Sources.PodmanOci, Sources.SkopeoZstd, Sources.CtrExport, Sources.DockerMulti, Sources.SkopeoDir, Sources.DockerUntagged })
        {
            data.Add(s, Tool.Docker26);
            data.Add(s, Tool.Docker26Containerd);
        }
        return data;
    }

    /// <summary>
    /// `ferry load X` into docker 26: names and diff_ids kept; the ID is the config digest (classic store) or the digest
    /// of X's own manifest or index (containerd store; a docker-archive source has none, so the manifest Ferry writes for
    /// it, which `--json` names); `--json` says which digest became the ID.
    /// </summary>
    [InteropTheory(Tool.Docker, Tool.Podman, Tool.Skopeo, Tool.Containerd, Tool.Docker26, Tool.Docker26Containerd)]
    [MemberData(nameof(LoadCases))]
    public void Ferry_load_keeps_ids_and_digests(string key, string tool)
    {
        var src = _fx.Source(_run, key);
        bool containerd = Tool.UsesContainerdStore(tool);
        IReadOnlyList<IndexEntry>? index = OciIndex.ReadFile(src.Path, "index.json") is not null ? OciIndex.Read(src.Path) : null;
        var checks = new Checks(_log);
        _fx.WipeDocker(_run, tool);
        var r = _run.Ferry("load", src.Path, "--host", Tool.HostOf(tool), "--json");
        if (checks.True(r.Ok, $"ferry load {src.Path} into {tool} failed: {LoaderChecks.Short(r)}"))
        {
            using var doc = JsonDocument.Parse(r.Stdout);
            var reported = doc.RootElement.GetProperty("images").EnumerateArray()
                .Select(i => (Id: i.GetProperty("imageId").GetString()!, DestId: i.GetProperty("destinationImageId").GetString()!, Digest: i.GetProperty("digest").GetString())).ToList();
            foreach (var e in LoaderChecks.ById(src.Images))
            {
                var mine = reported.FirstOrDefault(x => x.Id == e.Id);
                if (!checks.True(mine.DestId is not null, $"ferry load --json does not list image {e.Id}"))
                    continue;
                string expectedId = !containerd ? e.Id : index is not null && LoaderChecks.StoreId(src.Path, index, e) is string fromSource ? fromSource : mine.Digest!;
                checks.Equal(expectedId, mine.DestId, $"destinationImageId ferry reports for {e}");
                var want = e with { Id = expectedId };
                foreach (var n in e.Names.Count == 0 ? [expectedId] : e.Names)
                    LoaderChecks.Compare(checks, tool, n, want, Engines.Inspect(_run, tool, n), compareNames: e.Names.Count > 0);
            }
        }
        checks.ThrowIfAny($"ferry load {key} into {tool}");
    }

    /// <summary>`ferry save` then `ferry load` (after the images are removed) gives the same ID, in each store.</summary>
    [InteropTheory(Tool.Docker, Tool.Podman, Tool.Docker26, Tool.Docker26Containerd)]
    [InlineData(Tool.Docker26)]
    [InlineData(Tool.Docker26Containerd)]
    public void Save_then_load_keeps_the_id(string tool)
    {
        var src = _fx.Source(_run, Sources.PodmanOci);
        string name = src.Images.Single().Names.Single();
        _fx.WipeDocker(_run, tool);
        _run.MustFerry("load", src.Path, "--host", Tool.HostOf(tool), "-q");
        var before = Engines.Inspect(_run, tool, name) ?? throw new InteropException($"{tool} has no {name} after ferry load");
        string saved = Path.Combine(_fx.Scratch("d26-save"), "saved.tar");
        _run.MustFerry("save", name, "-o", saved, "--host", Tool.HostOf(tool));
        var checks = new Checks(_log);
        checks.True(_run.Ferry("verify", saved).Ok, "ferry verify of the saved archive");
        _fx.WipeDocker(_run, tool);
        _run.MustFerry("load", saved, "--host", Tool.HostOf(tool), "-q");
        var after = Engines.Inspect(_run, tool, name);
        checks.Equal(before.Id, after?.Id, $"{tool} image ID after save → load");
        checks.ThrowIfAny($"save → load in {tool}");
    }

    /// <summary>
    /// A buildx-shaped image (an index with the image and an in-toto attestation manifest) goes into the containerd
    /// store with its index digest as ID; `ferry save` brings the index and the attestation back; inspect shows it as an
    /// attestation and verify does not warn about its layer; loading the save gives the same ID again.
    /// </summary>
    [InteropFact(Tool.Docker26Containerd)]
    public void Attestation_index_survives_the_containerd_store()
    {
        string dir = _fx.Scratch("d26-attest");
        var (archive, indexDigest, name) = BuildxLikeArchive(dir);
        const string tool = Tool.Docker26Containerd;
        var checks = new Checks(_log);
        _fx.WipeDocker(_run, tool);
        var load = _run.Ferry("load", archive, "--host", Tool.HostOf(tool), "--json");
        if (checks.True(load.Ok, $"ferry load of the attested index failed: {LoaderChecks.Short(load)}"))
        {
            checks.True(load.Stdout.Contains($"\"destinationImageId\": \"{indexDigest}\"", StringComparison.Ordinal), $"ferry load --json does not name the index {indexDigest} as the image ID");
            checks.Equal(indexDigest, Engines.Inspect(_run, tool, name)?.Id, $"{tool} image ID of {name}");
            string saved = Path.Combine(dir, "saved.tar");
            _run.MustFerry("save", name, "-o", saved, "--host", Tool.HostOf(tool));
            var inspect = _run.MustFerry("inspect", saved, "--json");
            checks.True(inspect.Stdout.Contains(indexDigest, StringComparison.Ordinal), "the saved archive lost the index digest");
            checks.True(inspect.Stdout.Contains("\"kind\": \"attestation\"", StringComparison.Ordinal), "ferry inspect does not show the attestation manifest as an attestation");
            var text = _run.MustFerry("inspect", saved, "--details");
            checks.True(text.Stdout.Contains("attestation", StringComparison.Ordinal) && !text.Stdout.Contains("unknown/unknown", StringComparison.Ordinal), "ferry inspect (text) shows unknown/unknown instead of an attestation");
            var verify = _run.Ferry("verify", saved);
            checks.True(verify.Ok && !verify.Stdout.Contains("unknown layer media type", StringComparison.Ordinal), $"ferry verify of the saved attested index: {verify.Stdout}{verify.Stderr}");
            _fx.WipeDocker(_run, tool);
            _run.MustFerry("load", saved, "--host", Tool.HostOf(tool), "-q");
            checks.Equal(indexDigest, Engines.Inspect(_run, tool, name)?.Id, $"{tool} image ID after save → load");
        }
        checks.ThrowIfAny("attested index through docker 26's containerd store");
    }

    /// <summary>inspect and verify read straight from the daemon (docker-daemon:NAME), in both stores.</summary>
    [InteropTheory(Tool.Docker, Tool.Podman, Tool.Docker26, Tool.Docker26Containerd)]
    [InlineData(Tool.Docker26)]
    [InlineData(Tool.Docker26Containerd)]
    public void Inspect_and_verify_a_daemon_image(string tool)
    {
        var src = _fx.Source(_run, Sources.PodmanOci);
        var image = src.Images.Single();
        _fx.WipeDocker(_run, tool);
        _run.MustFerry("load", src.Path, "--host", Tool.HostOf(tool), "-q");
        var checks = new Checks(_log);
        var inspect = _run.Ferry("inspect", "docker-daemon:" + image.Names.Single(), "--host", Tool.HostOf(tool), "--json");
        checks.True(inspect.Ok && inspect.Stdout.Contains(image.Id, StringComparison.Ordinal), $"ferry inspect docker-daemon: on {tool}: {LoaderChecks.Short(inspect)}");
        var verify = _run.Ferry("verify", "docker-daemon:" + image.Names.Single(), "--host", Tool.HostOf(tool));
        checks.True(verify.Ok && verify.Stdout.Contains(": OK (", StringComparison.Ordinal), $"ferry verify docker-daemon: on {tool}: {LoaderChecks.Short(verify)}");
        checks.ThrowIfAny($"inspect and verify docker-daemon: on {tool}");
    }

    /// <summary>
    /// An OCI image with an attestation, as `docker buildx build --provenance` pushes it: an index whose second entry
    /// is an attestation manifest (platform unknown/unknown, annotations vnd.docker.reference.*) with one in-toto layer.
    /// </summary>
    private static (string Archive, string IndexDigest, string Name) BuildxLikeArchive(string dir)
    {
        const string name = "docker.io/ferry-interop/attested:1";
        var blobs = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        string Put(byte[] b)
        {
            string d = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(b));
            blobs[d] = b;
            return d;
        }
        byte[] tar;
        using (var ms = new MemoryStream())
        {
            using (var w = new TarWriter(ms, TarEntryFormat.Ustar, leaveOpen: true))
            {
                w.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, "hello.txt") { DataStream = new MemoryStream("attested\n"u8.ToArray()), ModificationTime = DateTimeOffset.UnixEpoch, Mode = (UnixFileMode)0x1a4 });
            }
            tar = ms.ToArray();
        }
        byte[] gz;
        using (var ms = new MemoryStream())
        {
            using (var g = new GZipStream(ms, CompressionLevel.Optimal, leaveOpen: true))
                g.Write(tar);
            gz = ms.ToArray();
        }
        string diffId = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(tar));
        string layer = Put(gz);
        byte[] config = Encoding.UTF8.GetBytes($"{{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{{\"Cmd\":[\"/hello.txt\"]}},\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[\"{diffId}\"]}},\"history\":[{{\"created_by\":\"COPY hello.txt /\"}}]}}");
        string cfg = Put(config);
        byte[] manifest = Encoding.UTF8.GetBytes($"{{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"{cfg}\",\"size\":{config.Length}}},\"layers\":[{{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"{layer}\",\"size\":{gz.Length}}}]}}");
        string man = Put(manifest);
        byte[] statement = Encoding.UTF8.GetBytes($"{{\"_type\":\"https://in-toto.io/Statement/v0.1\",\"predicateType\":\"https://slsa.dev/provenance/v0.2\",\"subject\":[{{\"name\":\"{name}\",\"digest\":{{\"sha256\":\"{man[7..]}\"}}}}],\"predicate\":{{\"builder\":{{\"id\":\"ferry-interop\"}}}}}}");
        string st = Put(statement);
        byte[] attConfig = Encoding.UTF8.GetBytes($"{{\"architecture\":\"unknown\",\"os\":\"unknown\",\"config\":{{}},\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[\"{st}\"]}}}}");
        string attCfg = Put(attConfig);
        byte[] attManifest = Encoding.UTF8.GetBytes($"{{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"{attCfg}\",\"size\":{attConfig.Length}}},\"layers\":[{{\"mediaType\":\"application/vnd.in-toto+json\",\"digest\":\"{st}\",\"size\":{statement.Length},\"annotations\":{{\"in-toto.io/predicate-type\":\"https://slsa.dev/provenance/v0.2\"}}}}]}}");
        string att = Put(attManifest);
        byte[] index = Encoding.UTF8.GetBytes($"{{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":[" +
            $"{{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"{man}\",\"size\":{manifest.Length},\"platform\":{{\"architecture\":\"amd64\",\"os\":\"linux\"}}}}," +
            $"{{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"{att}\",\"size\":{attManifest.Length},\"annotations\":{{\"vnd.docker.reference.digest\":\"{man}\",\"vnd.docker.reference.type\":\"attestation-manifest\"}},\"platform\":{{\"architecture\":\"unknown\",\"os\":\"unknown\"}}}}]}}");
        string idx = Put(index);
        string path = Path.Combine(dir, "attested.oci.tar");
        using (var fs = File.Create(path))
        using (var w = new TarWriter(fs, TarEntryFormat.Ustar))
        {
            void File(string n, byte[] b) => w.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, n) { DataStream = new MemoryStream(b), ModificationTime = DateTimeOffset.UnixEpoch, Mode = (UnixFileMode)0x1a4 });
            File("oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}"u8.ToArray());
            foreach (var (d, b) in blobs)
                File("blobs/sha256/" + d[7..], b);
            File("index.json", Encoding.UTF8.GetBytes($"{{\"schemaVersion\":2,\"manifests\":[{{\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"digest\":\"{idx}\",\"size\":{index.Length},\"annotations\":{{\"io.containerd.image.name\":\"{name}\",\"org.opencontainers.image.ref.name\":\"{name}\"}}}}]}}"));
        }
        return (path, idx, name);
    }
}
