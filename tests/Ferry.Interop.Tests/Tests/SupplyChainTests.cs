using System.Formats.Tar;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ferry.Interop.Tests.Fixture;
using Ferry.Interop.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Ferry.Interop.Tests.Tests;

/// <summary>
/// Signatures, attestations and SBOMs travel with their images (issue 11), checked with the real signers and verifiers:
/// a two-platform index built by buildah and pushed to docker-registry (distribution 2.8, no referrers API), signed by
/// cosign 2.5 (the index and each platform, --recursive) and by skopeo 1.18's sigstore signing, an in-toto attestation
/// (.att), an SBOM attached as an OCI 1.1 referrer (distribution 2.8 has no referrers API, so cosign maintains the
/// sha256-HEX fallback tag). On the far side, cosign verify and containers/image's sigstoreSigned policy (skopeo 1.18)
/// must accept what Ferry carried, and refuse it once the archive is tampered with.
/// </summary>
[Collection(InteropCollection.Name)]
public sealed class SupplyChainTests(InteropFixture fixture, ITestOutputHelper output) : InteropTest(fixture, output)
{
    private const string Prefix = "mirror";

    /// <summary>What the origin registry holds after <see cref="Origin"/>.</summary>
    private sealed record Signed(RegistryServer Registry, string Dir, string Key, string PublicKey, string OtherPublicKey,
        string Index, string Amd64, string Arm64, string SbomReferrer)
    {
        public string App => $"{Registry.Address}/team/app";

        public string Solo => $"{Registry.Address}/team/solo";
    }

    private static Dictionary<string, string> CosignEnv(string dir) => new(StringComparer.Ordinal)
    {
        ["COSIGN_PASSWORD"] = "",
        ["COSIGN_EXPERIMENTAL"] = "1",
        ["HOME"] = dir,
        ["DOCKER_CONFIG"] = Path.Combine(dir, "docker-config"),
        ["SIGSTORE_NO_CACHE"] = "1",
    };

    private ProcResult Cosign(string dir, params string[] args) =>
        _run.Exec(Tool.Cosign, args, TimeSpan.FromMinutes(2), dir, CosignEnv(dir));

    private static readonly string[] Insecure = ["--allow-http-registry", "--allow-insecure-registry"];

    /// <summary>A two-platform index made with buildah from scratch (nothing needs to run), pushed with `buildah manifest push --all`.</summary>
    private string BuildIndex(string dir, string destination, params string[] arches)
    {
        string tag = Guid.NewGuid().ToString("N")[..10];
        string list = $"localhost/ferry-sc-list-{tag}";
        var images = new List<string>();
        try
        {
            _run.Must(Tool.Buildah, ["manifest", "create", list]);
            foreach (var arch in arches)
            {
                string file = Path.Combine(dir, $"hello-{arch}");
                File.WriteAllText(file, $"hello from {arch} {tag}\n");
                string c = _run.Must(Tool.Buildah, ["from", "--arch", arch, "scratch"]).Stdout.Trim();
                _run.Must(Tool.Buildah, ["copy", c, file, "/hello"]);
                _run.Must(Tool.Buildah, ["config", "--arch", arch, "--os", "linux", "--label", $"ferry.test={tag}", c]);
                string image = $"localhost/ferry-sc-{arch}-{tag}:1";
                _run.Must(Tool.Buildah, ["commit", "-q", c, image]);
                _run.Exec(Tool.Buildah, ["rm", c]);
                images.Add(image);
                _run.Must(Tool.Buildah, ["manifest", "add", list, image]);
            }
            _run.Must(Tool.Buildah, ["manifest", "push", "--all", "--tls-verify=false", list, destination]);
        }
        finally
        {
            _run.Exec(Tool.Buildah, ["manifest", "rm", list]);
            foreach (var i in images)
                _run.Exec(Tool.Buildah, ["rmi", i]);
        }
        return tag;
    }

    private string RawManifest(string reference) =>
        _run.MustSkopeo("inspect", "--raw", "--tls-verify=false", "docker://" + reference).Stdout;

    /// <summary>The origin: the index signed (and each platform) by cosign, attested, an SBOM referrer, and one platform copied and signed by skopeo.</summary>
    private Signed Origin()
    {
        string dir = _fx.Scratch("supply-chain");
        var registry = new RegistryServer(_run);
        Cosign(dir, "generate-key-pair");
        Cosign(dir, "generate-key-pair", "--output-key-prefix", "other");
        string key = Path.Combine(dir, "cosign.key"), pub = Path.Combine(dir, "cosign.pub"), other = Path.Combine(dir, "other.pub");
        if (!File.Exists(pub) || !File.Exists(other))
            throw new InteropException($"cosign generate-key-pair made no keys in {dir}");
        string app = $"{registry.Address}/team/app";
        BuildIndex(dir, $"docker://{app}:1", "amd64", "arm64");
        string indexRaw = RawManifest(app + ":1");
        string index = JsonUtil.Sha256(indexRaw);
        using var doc = JsonDocument.Parse(indexRaw);
        var children = doc.RootElement.GetProperty("manifests").EnumerateArray()
            .ToDictionary(m => m.GetProperty("platform").GetProperty("architecture").GetString()!, m => m.GetProperty("digest").GetString()!);
        Runner.Ensure(Cosign(dir, ["sign", "--key", key, "--tlog-upload=false", "--yes", "--recursive", .. Insecure, $"{app}@{index}"]));
        File.WriteAllText(Path.Combine(dir, "predicate.json"), "{\"builder\":\"ferry interop\"}");
        Runner.Ensure(Cosign(dir, ["attest", "--key", key, "--tlog-upload=false", "--yes", "--type", "custom", "--predicate", Path.Combine(dir, "predicate.json"), .. Insecure, $"{app}@{index}"]));
        File.WriteAllText(Path.Combine(dir, "sbom.spdx.json"), "{\"spdxVersion\":\"SPDX-2.3\",\"name\":\"ferry interop\"}");
        Runner.Ensure(Cosign(dir, ["attach", "sbom", "--sbom", Path.Combine(dir, "sbom.spdx.json"), "--type", "spdx", "--registry-referrers-mode", "oci-1-1", .. Insecure, $"{app}@{index}"]));
        string fallback = RawManifest($"{app}:sha256-{index[7..]}");
        using var fb = JsonDocument.Parse(fallback);
        string sbom = fb.RootElement.GetProperty("manifests").EnumerateArray().Single().GetProperty("digest").GetString()!;

        // skopeo 1.18 signs what it copies (sigstore signatures as cosign's .sig attachments).
        string registries = RegistriesD(dir, registry.Address);
        File.WriteAllText(Path.Combine(dir, "accept.json"), "{\"default\":[{\"type\":\"insecureAcceptAnything\"}]}");
        File.WriteAllText(Path.Combine(dir, "passphrase"), "");
        _run.Must(Tool.SkopeoSigstore, ["copy", "--policy", Path.Combine(dir, "accept.json"), "--registries.d", registries, "--src-tls-verify=false", "--dest-tls-verify=false",
            "--sign-by-sigstore-private-key", key, "--sign-passphrase-file", Path.Combine(dir, "passphrase"), $"docker://{app}@{children["arm64"]}", $"docker://{registry.Address}/team/solo:1"]);
        return new Signed(registry, dir, key, pub, other, index, children["amd64"], children["arm64"], sbom);
    }

    /// <summary>A registries.d telling containers/image to read and write sigstore signatures as attachments, for these registries.</summary>
    private static string RegistriesD(string dir, params string[] registries)
    {
        string d = Path.Combine(dir, "registries.d-" + Guid.NewGuid().ToString("N")[..6]);
        Directory.CreateDirectory(d);
        File.WriteAllText(Path.Combine(d, "ferry.yaml"), "docker:\n" + string.Concat(registries.Select(r => $"  {r}:\n    use-sigstore-attachments: true\n")));
        return d;
    }

    /// <summary>containers/image policy: sigstoreSigned with <paramref name="publicKey"/> for everything under <paramref name="scope"/>, the identity as given.</summary>
    private static string Policy(string dir, string name, string scope, string publicKey, string signedIdentity)
    {
        string path = Path.Combine(dir, name);
        File.WriteAllText(path, $"{{\"default\":[{{\"type\":\"reject\"}}],\"transports\":{{\"docker\":{{\"{scope}\":[{{\"type\":\"sigstoreSigned\",\"keyPath\":\"{publicKey}\",\"signedIdentity\":{signedIdentity}}}]}}}}}}");
        return path;
    }

    private static readonly string[] AllFlag = ["--all"];

    private ProcResult PolicyCopy(string dir, string policy, string registriesD, string reference, bool all)
    {
        string dest = Path.Combine(dir, "policy-out-" + Guid.NewGuid().ToString("N")[..8]);
        return _run.Exec(Tool.SkopeoSigstore, ["copy", .. all ? AllFlag : [], "--policy", policy, "--registries.d", registriesD, "--src-tls-verify=false", $"docker://{reference}", $"dir:{dest}"]);
    }

    /// <summary>inspect --json's referrers of an image: the kind (an OCI 1.1 referrer's artifact type) and the subject.</summary>
    private static List<(string Kind, string Subject)> ReferrersOf(JsonElement image) =>
        [.. image.GetProperty("referrers").EnumerateArray().Select(r => (r.GetProperty("kind").GetString() is "referrer" ? r.GetProperty("type").GetString()! : r.GetProperty("kind").GetString()!, r.GetProperty("subject").GetString()!))];

    /// <summary>
    /// Done when: the signed two-platform image with its attestation and SBOM, and the skopeo-signed one, go pull →
    /// oci-archive → portable → push to a second registry under another prefix; there cosign verify (the index, each
    /// platform, the attestation) and containers/image's sigstore policy (exactRepository for cosign's name-only
    /// identity, remapIdentity for skopeo's) accept them, and refuse another key; `ferry verify --key` agrees on both
    /// sides; inspect lists both platforms as present and every referrer.
    /// </summary>
    [InteropFact(Tool.Registry, Tool.Skopeo, Tool.Buildah, Tool.Cosign, Tool.SkopeoSigstore)]
    public void A_signed_multiplatform_image_with_an_sbom_verifies_after_pull_archive_portable_push()
    {
        var o = Origin();
        using var registry = o.Registry;
        using var target = new RegistryServer(_run);
        var checks = new Checks(_log);
        string pulled = Path.Combine(o.Dir, "pulled.tar"), portable = Path.Combine(o.Dir, "portable.tar");
        _run.MustFerry("pull", o.App + ":1", o.Solo + ":1", "-o", pulled, "--format", "oci-archive", "--progress", "none");

        var inspect = _run.MustFerry("inspect", pulled, "--json");
        using (var doc = JsonDocument.Parse(inspect.Stdout))
        {
            var images = doc.RootElement.GetProperty("images").EnumerateArray().ToList();
            var app = images.Single(i => i.GetProperty("names").EnumerateArray().Any(n => n.GetString()!.EndsWith("team/app:1", StringComparison.Ordinal)));
            checks.Sequence(["linux/amd64 present", "linux/arm64 present"],
                app.GetProperty("platforms").EnumerateArray().Select(p => $"{p.GetProperty("platform").GetString()} {(p.GetProperty("present").GetBoolean() ? "present" : "absent")}"), "inspect: platforms of the index");
            checks.Set([$"signature {o.Index}", $"signature {o.Amd64}", $"signature {o.Arm64}", $"attestation {o.Index}", $"application/vnd.dev.cosign.artifact.sbom.v1+json {o.Index}"],
                ReferrersOf(app).Select(r => $"{r.Kind} {r.Subject}"), "inspect: referrers of the index and its platforms");
            var solo = images.Single(i => i.GetProperty("names").EnumerateArray().Any(n => n.GetString()!.EndsWith("team/solo:1", StringComparison.Ordinal)));
            checks.Set([$"signature {o.Arm64}"], ReferrersOf(solo).Select(r => $"{r.Kind} {r.Subject}"), "inspect: the skopeo-signed image's signature");
        }
        checks.True(_run.Ferry("verify", pulled, "--key", o.PublicKey).Ok, "ferry verify --key of the pulled oci-archive failed");
        checks.Equal(1, _run.Ferry("verify", pulled, "--key", o.OtherPublicKey).ExitCode, "ferry verify --key with a key that signed nothing");

        _run.MustFerry("copy", pulled, portable, "-q");
        checks.True(_run.Ferry("verify", portable, "--key", o.PublicKey).Ok, "ferry verify --key of the portable archive failed");
        var push = _run.Ferry("push", portable, $"{target.Address}/{Prefix}");
        if (!checks.True(push.Ok, $"ferry push failed: {LoaderChecks.Short(push)}"))
        {
            checks.ThrowIfAny("supply chain round trip");
            return;
        }
        string farApp = $"{target.Address}/{Prefix}/team/app", farSolo = $"{target.Address}/{Prefix}/team/solo";
        checks.Equal(o.Index, JsonUtil.Sha256(RawManifest(farApp + ":1")), "the index digest on the far side");

        foreach (var (what, reference) in new[] { ("the index", $"{farApp}:1"), ("amd64", $"{farApp}@{o.Amd64}"), ("arm64", $"{farApp}@{o.Arm64}"), ("the skopeo-signed image", $"{farSolo}:1") })
        {
            var ok = Cosign(o.Dir, ["verify", "--key", o.PublicKey, "--insecure-ignore-tlog", .. Insecure, reference]);
            checks.True(ok.Ok, $"cosign verify of {what} ({reference}) failed on the far side: {LoaderChecks.Short(ok)}");
            var wrong = Cosign(o.Dir, ["verify", "--key", o.OtherPublicKey, "--insecure-ignore-tlog", .. Insecure, reference]);
            checks.True(!wrong.Ok, $"cosign verify of {what} with another key passed");
        }
        var att = Cosign(o.Dir, ["verify-attestation", "--key", o.PublicKey, "--insecure-ignore-tlog", "--type", "custom", .. Insecure, farApp + ":1"]);
        checks.True(att.Ok, $"cosign verify-attestation failed on the far side: {LoaderChecks.Short(att)}");
        // distribution 2.8 has no referrers API: Ferry maintained the fallback tag, with the SBOM in it.
        var far = _run.Skopeo("inspect", "--raw", "--tls-verify=false", $"docker://{farApp}:sha256-{o.Index[7..]}");
        checks.True(far.Ok && far.Stdout.Contains(o.SbomReferrer, StringComparison.Ordinal), $"the far side's referrers fallback tag does not list the SBOM {o.SbomReferrer}: {LoaderChecks.Short(far)}");

        // containers/image: cosign signs the repository only (no tag), which remapIdentity cannot match (it keeps
        // matchRepoDigestOrExact's rule that a name-only identity never matches), so its users name the signed
        // repository with exactRepository; skopeo's signatures carry the tag, so the prefix is remapped.
        string rd = RegistriesD(o.Dir, target.Address);
        string cosignPolicy = Policy(o.Dir, "policy-cosign.json", $"{target.Address}/{Prefix}", o.PublicKey, $"{{\"type\":\"exactRepository\",\"dockerRepository\":\"{o.App}\"}}");
        var c1 = PolicyCopy(o.Dir, cosignPolicy, rd, farApp + ":1", all: true);
        checks.True(c1.Ok, $"skopeo copy --all under a sigstoreSigned policy (exactRepository) refused the index: {LoaderChecks.Short(c1)}");
        string remap = Policy(o.Dir, "policy-remap.json", $"{target.Address}/{Prefix}", o.PublicKey, $"{{\"type\":\"remapIdentity\",\"prefix\":\"{target.Address}/{Prefix}\",\"signedPrefix\":\"{registry.Address}\"}}");
        var c2 = PolicyCopy(o.Dir, remap, rd, farSolo + ":1", all: false);
        checks.True(c2.Ok, $"skopeo copy under a sigstoreSigned policy (remapIdentity) refused the skopeo-signed image: {LoaderChecks.Short(c2)}");
        string wrongKey = Policy(o.Dir, "policy-other.json", $"{target.Address}/{Prefix}", o.OtherPublicKey, $"{{\"type\":\"exactRepository\",\"dockerRepository\":\"{o.App}\"}}");
        checks.True(!PolicyCopy(o.Dir, wrongKey, rd, farApp + ":1", all: true).Ok, "skopeo copy under a policy with another key passed");

        checks.True(_run.Ferry("verify", $"docker://{farApp}:1", "--key", o.PublicKey).Ok, "ferry verify --key of the far side's index failed");
        checks.ThrowIfAny("signed image: pull → oci-archive → portable → push → cosign verify and sigstoreSigned policy");
    }

    /// <summary>
    /// Tampering fails on both sides: (a) the index's signature altered and the archive re-hashed so its digests hold:
    /// `ferry verify` finds nothing without a key, `--key` fails, and after a push cosign verify and the policy refuse
    /// it; (b) a layer's byte flipped: `ferry verify` and `ferry push` fail, nothing is tagged; (c) a config altered and
    /// every digest above it re-hashed: `--key` fails, and on the far side cosign finds no signature for the new digest.
    /// </summary>
    [InteropFact(Tool.Registry, Tool.Skopeo, Tool.Buildah, Tool.Cosign, Tool.SkopeoSigstore)]
    public void A_tampered_archive_fails_ferry_verify_cosign_and_the_policy()
    {
        var o = Origin();
        using var registry = o.Registry;
        using var target = new RegistryServer(_run);
        var checks = new Checks(_log);
        string pulled = Path.Combine(o.Dir, "pulled.tar");
        _run.MustFerry("pull", o.App + ":1", "-o", pulled, "--format", "oci-archive", "--progress", "none");
        string rd = RegistriesD(o.Dir, target.Address);

        // (a) the signatures of the index and of arm64 (containers/image checks each platform's, cosign the one named):
        // one byte of each signature changed, their manifests re-hashed, index.json updated.
        var a = OciTar.Read(pulled);
        foreach (var subject in new[] { o.Index, o.Arm64 })
        {
            string sig = a.EntryDigests().Single(d => a.Annotation(d, "io.ferry.referrer.kind") == "sig" && a.Annotation(d, "io.ferry.referrer.subject") == subject);
            var sigManifest = a.Json(sig);
            var layer = sigManifest["layers"]![0]!;
            byte[] bad = Convert.FromBase64String(layer["annotations"]!["dev.cosignproject.cosign/signature"]!.GetValue<string>());
            bad[^1] ^= 0x01;
            layer["annotations"]!["dev.cosignproject.cosign/signature"] = Convert.ToBase64String(bad);
            a.Replace(sig, a.Put(sigManifest));
        }
        string tamperedSig = Path.Combine(o.Dir, "tampered-signature.tar");
        a.Write(tamperedSig);
        checks.True(_run.Ferry("verify", tamperedSig).Ok, "ferry verify without a key: a re-hashed archive's digests hold (only a key tells)");
        var va = _run.Ferry("verify", tamperedSig, "--key", o.PublicKey);
        checks.True(va.ExitCode == 1 && va.Stderr.Contains("not signed with", StringComparison.Ordinal) && va.Stdout.Contains("no given key verifies it", StringComparison.Ordinal),
            $"ferry verify --key of the tampered signatures: {LoaderChecks.Short(va)}");
        if (checks.True(_run.Ferry("push", tamperedSig, $"{target.Address}/a", "-q").Ok, "push of the re-hashed archive"))
        {
            foreach (var reference in new[] { $"{target.Address}/a/team/app:1", $"{target.Address}/a/team/app@{o.Arm64}" })
                checks.True(!Cosign(o.Dir, ["verify", "--key", o.PublicKey, "--insecure-ignore-tlog", .. Insecure, reference]).Ok, $"cosign verify of {reference} passed with a tampered signature");
            checks.True(Cosign(o.Dir, ["verify", "--key", o.PublicKey, "--insecure-ignore-tlog", .. Insecure, $"{target.Address}/a/team/app@{o.Amd64}"]).Ok, "cosign verify of amd64, whose signature is intact, failed");
            string policy = Policy(o.Dir, "policy-a.json", $"{target.Address}/a", o.PublicKey, $"{{\"type\":\"exactRepository\",\"dockerRepository\":\"{o.App}\"}}");
            checks.True(!PolicyCopy(o.Dir, policy, rd, $"{target.Address}/a/team/app:1", all: true).Ok, "the sigstoreSigned policy accepted a tampered signature");
        }

        // (b) a layer's byte flipped in place: the digests no longer hold.
        var b = OciTar.Read(pulled);
        string layerDigest = b.Json(o.Arm64)["layers"]![0]!["digest"]!.GetValue<string>();
        b.Blobs[layerDigest][^10] ^= 0x20;
        string flipped = Path.Combine(o.Dir, "flipped.tar");
        b.Write(flipped);
        var vb = _run.Ferry("verify", flipped);
        checks.True(vb.ExitCode == 1 && vb.Stderr.Contains(layerDigest, StringComparison.Ordinal), $"ferry verify of a flipped layer byte: {LoaderChecks.Short(vb)}");
        var pb = _run.Ferry("push", flipped, $"{target.Address}/b", "-q");
        checks.True(!pb.Ok && pb.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length == 1, $"ferry push of a flipped layer: {LoaderChecks.Short(pb)}");
        checks.True(!_run.Skopeo("inspect", "--raw", "--tls-verify=false", $"docker://{target.Address}/b/team/app:1").Ok, "a tag was pushed from a corrupt archive");

        // (c) arm64's config changed, and its manifest, the index and index.json re-hashed: a different image.
        var c = OciTar.Read(pulled);
        var manifest = c.Json(o.Arm64);
        string configDigest = manifest["config"]!["digest"]!.GetValue<string>();
        var config = c.Json(configDigest);
        config["config"]!["Labels"]!["ferry.test"] = "tampered";
        string newConfig = c.Put(config);
        manifest["config"]!["digest"] = newConfig;
        manifest["config"]!["size"] = c.Blobs[newConfig].Length;
        string newManifest = c.Put(manifest);
        var index = c.Json(o.Index);
        var entry = index["manifests"]!.AsArray().Single(m => m!["digest"]!.GetValue<string>() == o.Arm64)!;
        entry["digest"] = newManifest;
        entry["size"] = c.Blobs[newManifest].Length;
        string newIndex = c.Put(index);
        c.Replace(o.Index, newIndex);
        string altered = Path.Combine(o.Dir, "altered.tar");
        c.Write(altered);
        var vc = _run.Ferry("verify", altered, "--key", o.PublicKey);
        checks.True(vc.ExitCode == 1 && vc.Stderr.Contains("not signed with", StringComparison.Ordinal), $"ferry verify --key of a re-hashed altered image: {LoaderChecks.Short(vc)}");
        if (checks.True(_run.Ferry("push", altered, $"{target.Address}/c", "-q").Ok, "push of the altered archive"))
        {
            var cv = Cosign(o.Dir, ["verify", "--key", o.PublicKey, "--insecure-ignore-tlog", .. Insecure, $"{target.Address}/c/team/app:1"]);
            checks.True(!cv.Ok, "cosign verify passed for an altered image");
            string policy = Policy(o.Dir, "policy-c.json", $"{target.Address}/c", o.PublicKey, $"{{\"type\":\"exactRepository\",\"dockerRepository\":\"{o.App}\"}}");
            checks.True(!PolicyCopy(o.Dir, policy, rd, $"{target.Address}/c/team/app:1", all: true).Ok, "the sigstoreSigned policy accepted an altered image");
        }
        checks.ThrowIfAny("tampered archives");
    }

    /// <summary>
    /// A signed image's archive, its referrers stored as unnamed index.json entries, loads everywhere the portable
    /// format promises: docker 20.10 and 26 (both stores), podman, `ctr import` (also --all-platforms), skopeo; and
    /// `ferry load` leaves the referrers out with a note.
    /// </summary>
    [InteropFact(Tool.Registry, Tool.Skopeo, Tool.Buildah, Tool.Cosign, Tool.SkopeoSigstore, Tool.Docker, Tool.Podman, Tool.Containerd, Tool.Docker26, Tool.Docker26Containerd)]
    public void An_archive_with_referrers_loads_in_every_loader()
    {
        var o = Origin();
        using var registry = o.Registry;
        var checks = new Checks(_log);
        string portable = Path.Combine(o.Dir, "signed-portable.tar");
        var pull = _run.MustFerry("pull", o.App + ":1", "-o", portable, "--progress", "none");
        checks.True(pull.Stderr.Contains("ctr import --digests", StringComparison.Ordinal), $"the pull does not say what the referrer entries mean for loaders: {pull.Stderr}");
        string name = $"{o.App}:1";
        foreach (var tool in Tool.Dockers)
        {
            _fx.WipeDocker(_run, tool);
            var load = _run.Exec(tool, ["load", "-i", portable]);
            checks.True(load.Ok && load.Stdout.Contains(name, StringComparison.Ordinal), $"{tool} load of a signed portable archive: {LoaderChecks.Short(load)}");
            var id = _run.Exec(tool, ["image", "inspect", "--format", "{{.Id}}", name]);
            checks.True(id.Ok, $"{tool} has no {name} after load");
            if (Tool.UsesContainerdStore(tool))
                checks.Equal(o.Index, id.Stdout.Trim(), $"{tool}: the image ID is the index digest");
        }
        _fx.WipePodman(_run);
        var podman = _run.Podman("load", "-i", portable);
        checks.True(podman.Ok, $"podman load of a signed portable archive: {LoaderChecks.Short(podman)}");
        foreach (var flags in new[] { Array.Empty<string>(), ["--all-platforms"] })
        {
            string ns = _fx.NewNamespace("signed");
            var ctr = _run.Ctr(["-n", ns, "images", "import", .. flags, portable]);
            checks.True(ctr.Ok, $"ctr images import {string.Join(' ', flags)} of a signed portable archive: {LoaderChecks.Short(ctr)}");
            var listed = ContainerdTool.ListImages(_run, ns);
            checks.True(listed.TryGetValue(name, out var target) && target == o.Index, $"ctr: {name} is not the index {o.Index}: {string.Join(", ", listed.Select(kv => kv.Key + "=" + kv.Value))}");
            checks.True(listed.Count == 1, $"ctr imported the referrers as images: {string.Join(", ", listed.Keys)}");
            ContainerdTool.Clear(_run, ns);
        }
        foreach (var tool in new[] { Tool.Docker, Tool.Docker26Containerd })
        {
            _fx.WipeDocker(_run, tool);
            var load = _run.Ferry("load", portable, "--host", Tool.HostOf(tool));
            checks.True(load.Ok && load.Stderr.Contains("referrer(s) (signatures, attestations, SBOMs) are left out", StringComparison.Ordinal), $"ferry load into {tool} does not say it leaves the referrers out: {LoaderChecks.Short(load)}");
        }
        var skopeo = _run.Skopeo("copy", "--all", $"oci-archive:{portable}:{name}", $"oci:{Path.Combine(o.Dir, "skopeo-oci")}");
        checks.True(skopeo.Ok, $"skopeo copy --all of a signed portable archive: {LoaderChecks.Short(skopeo)}");
        checks.ThrowIfAny("a signed image's archive in every loader");
    }

    /// <summary>
    /// Multi-platform subsets, with indexes from buildah (amd64, arm64, s390x): one platform is that platform's
    /// manifest (ctr imports it with --platform, podman and docker load it); two make a new index (both digests said)
    /// that ctr --all-platforms, podman, skopeo --all and docker 26's containerd store take; --keep-index keeps the
    /// original digest sparse (verify warns with counts, inspect says absent, the docker side lists only present
    /// children, ctr imports it with --platform, docker 26 keeps the digest), and distribution refuses to take it
    /// with a message that says why.
    /// </summary>
    [InteropFact(Tool.Registry, Tool.Skopeo, Tool.Buildah, Tool.Docker, Tool.Podman, Tool.Containerd, Tool.Docker26Containerd)]
    public void Platform_subsets_load_and_say_what_they_are()
    {
        string dir = _fx.Scratch("platforms");
        var checks = new Checks(_log);
        string source = Path.Combine(dir, "three.tar");
        string tag = BuildIndex(dir, $"oci-archive:{source}:docker.io/ferry-interop/multi:1", "amd64", "arm64", "s390x");
        string name = "docker.io/ferry-interop/multi:1";
        var src = OciTar.Read(source);
        string indexDigest = src.EntryDigests().Single();
        var children = src.Json(indexDigest)["manifests"]!.AsArray().ToDictionary(m => m!["platform"]!["architecture"]!.GetValue<string>(), m => m!["digest"]!.GetValue<string>());

        // One platform, not this machine's: that platform's manifest.
        string arm = Path.Combine(dir, "arm.tar");
        _run.MustFerry("copy", source, arm, "--platform", "linux/arm64", "-q");
        checks.Equal(children["arm64"], OciTar.Read(arm).EntryDigests().Single(), "--platform linux/arm64: index.json's entry");
        string ns = _fx.NewNamespace("arm");
        checks.True(_run.Ctr("-n", ns, "images", "import", "--platform", "linux/arm64", arm).Ok, "ctr import --platform linux/arm64 of one arm64 platform");
        ContainerdTool.Clear(_run, ns);
        _fx.WipePodman(_run);
        checks.True(_run.Podman("load", "-i", arm).Ok, "podman load of one arm64 platform");
        _fx.WipeDocker(_run);
        var dl = _run.Docker("load", "-i", arm);
        checks.True(dl.Ok && _run.Docker("image", "inspect", "--format", "{{.Architecture}}", name).Stdout.Trim() == "arm64", $"docker load of one arm64 platform: {LoaderChecks.Short(dl)}");

        // Two of three: a new index, both digests said.
        string two = Path.Combine(dir, "two.tar");
        var r2 = _run.MustFerry("copy", source, two, "--platform", "linux/amd64,linux/arm64");
        string newIndex = OciTar.Read(two).EntryDigests().Single();
        checks.True(newIndex != indexDigest && r2.Stderr.Contains(indexDigest, StringComparison.Ordinal) && r2.Stderr.Contains(newIndex, StringComparison.Ordinal), $"two platforms: a new index and both digests on stderr: {r2.Stderr}");
        checks.Set([children["amd64"], children["arm64"]], OciTar.Read(two).Json(newIndex)["manifests"]!.AsArray().Select(m => m!["digest"]!.GetValue<string>()), "the new index's children");
        ns = _fx.NewNamespace("two");
        checks.True(_run.Ctr("-n", ns, "images", "import", "--all-platforms", two).Ok, "ctr import --all-platforms of a two-platform subset");
        ContainerdTool.Clear(_run, ns);
        _fx.WipePodman(_run);
        checks.True(_run.Podman("load", "-i", two).Ok, "podman load of a two-platform subset");
        checks.True(_run.Skopeo("copy", "--all", $"oci-archive:{two}", $"oci:{Path.Combine(dir, "two-oci")}").Ok, "skopeo copy --all of a two-platform subset");
        _fx.WipeDocker(_run, Tool.Docker26Containerd);
        checks.True(_run.Exec(Tool.Docker26Containerd, ["load", "-i", two]).Ok, "docker 26 (containerd store) load of a two-platform subset");
        checks.Equal(newIndex, _run.Exec(Tool.Docker26Containerd, ["image", "inspect", "--format", "{{.Id}}", name]).Stdout.Trim(), "docker 26 (containerd store): the new index is the ID");

        // --keep-index: the original digest, sparse.
        string sparse = Path.Combine(dir, "sparse.tar");
        var rk = _run.MustFerry("copy", source, sparse, "--platform", "linux/arm64", "--keep-index");
        checks.Equal(indexDigest, OciTar.Read(sparse).EntryDigests().Single(), "--keep-index: the original index");
        checks.True(rk.Stderr.Contains("sparse", StringComparison.Ordinal), $"--keep-index does not say the index is sparse: {rk.Stderr}");
        var verify = _run.Ferry("verify", sparse);
        checks.True(verify.Ok && verify.Stdout.Contains("sparse index: 1 of 3 children present (linux/amd64, linux/s390x absent)", StringComparison.Ordinal), $"ferry verify of a sparse index: {verify.Stdout}");
        var inspect = _run.MustFerry("inspect", sparse, "--details");
        checks.True(inspect.Stdout.Contains("linux/amd64 (absent)", StringComparison.Ordinal) && inspect.Stdout.Contains("linux/arm64", StringComparison.Ordinal), $"inspect of a sparse index: {inspect.Stdout}");
        var manifestJson = Encoding.UTF8.GetString(OciTar.Read(sparse).Files["manifest.json"]);
        string armConfig = OciTar.Read(sparse).Json(children["arm64"])["config"]!["digest"]!.GetValue<string>();
        checks.True(manifestJson.Contains(armConfig[7..], StringComparison.Ordinal), $"the docker side of a sparse portable archive is not the present arm64 image: {manifestJson}");
        ns = _fx.NewNamespace("sparse");
        checks.True(_run.Ctr("-n", ns, "images", "import", "--platform", "linux/arm64", sparse).Ok, "ctr import --platform linux/arm64 of a sparse index");
        ContainerdTool.Clear(_run, ns);
        _fx.WipePodman(_run);
        checks.True(_run.Podman("load", "-i", sparse).Ok, "podman load of a sparse portable archive");
        _fx.WipeDocker(_run, Tool.Docker26Containerd);
        checks.True(_run.Exec(Tool.Docker26Containerd, ["load", "-i", sparse]).Ok, "docker 26 (containerd store) load of a sparse index");
        checks.Equal(indexDigest, _run.Exec(Tool.Docker26Containerd, ["image", "inspect", "--format", "{{.Id}}", name]).Stdout.Trim(), "docker 26 (containerd store) keeps the sparse index's digest");
        using (var reg = new RegistryServer(_run))
        {
            var push = _run.Ferry("push", sparse, reg.Address + "/sparse");
            checks.True(!push.Ok && push.Stderr.Contains("is sparse", StringComparison.Ordinal) && push.Stderr.Contains("--keep-index", StringComparison.Ordinal),
                $"distribution refuses a sparse index; ferry push must say why and what to do: {LoaderChecks.Short(push)}");
            checks.True(_run.Ferry("push", two, reg.Address + "/subset", "-q").Ok, "push of the two-platform index");
        }
        _ = tag;
        checks.ThrowIfAny("platform subsets");
    }

    /// <summary>An oci-archive in memory (test images are small): its files, blobs by digest, index.json's entries; changed and written back.</summary>
    private sealed class OciTar
    {
        public Dictionary<string, byte[]> Files { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, byte[]> Blobs { get; } = new(StringComparer.Ordinal);

        public static OciTar Read(string path)
        {
            var t = new OciTar();
            using var fs = File.OpenRead(path);
            using var reader = new TarReader(fs);
            while (reader.GetNextEntry() is { } e)
            {
                if (e.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile) || e.DataStream is null)
                    continue;
                using var ms = new MemoryStream();
                e.DataStream.CopyTo(ms);
                string n = e.Name.StartsWith("./", StringComparison.Ordinal) ? e.Name[2..] : e.Name;
                if (n.StartsWith("blobs/sha256/", StringComparison.Ordinal))
                    t.Blobs["sha256:" + n["blobs/sha256/".Length..]] = ms.ToArray();
                else
                    t.Files[n] = ms.ToArray();
            }
            return t;
        }

        private JsonObject Index => JsonNode.Parse(Files["index.json"])!.AsObject();

        public List<string> EntryDigests() => [.. Index["manifests"]!.AsArray().Select(m => m!["digest"]!.GetValue<string>())];

        public string? Annotation(string digest, string key) =>
            Index["manifests"]!.AsArray().First(m => m!["digest"]!.GetValue<string>() == digest)!["annotations"]?[key]?.GetValue<string>();

        public JsonObject Json(string digest) => JsonNode.Parse(Blobs[digest])!.AsObject();

        /// <summary>Adds a document as a blob; returns its digest.</summary>
        public string Put(JsonNode node)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(node.ToJsonString());
            string d = JsonUtil.Sha256(bytes);
            Blobs[d] = bytes;
            return d;
        }

        /// <summary>Points index.json's entry for <paramref name="old"/> at <paramref name="digest"/> (a re-hash).</summary>
        public void Replace(string old, string digest)
        {
            var index = Index;
            foreach (var m in index["manifests"]!.AsArray())
            {
                if (m!["digest"]!.GetValue<string>() == old)
                {
                    m["digest"] = digest;
                    m["size"] = Blobs[digest].Length;
                }
            }
            Files["index.json"] = Encoding.UTF8.GetBytes(index.ToJsonString());
        }

        public void Write(string path)
        {
            using var fs = File.Create(path);
            using var writer = new TarWriter(fs, TarEntryFormat.Ustar);
            foreach (var (name, data) in Files.Concat(Blobs.Select(b => new KeyValuePair<string, byte[]>("blobs/sha256/" + b.Key[7..], b.Value))).OrderBy(f => f.Key, StringComparer.Ordinal))
                writer.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(data) });
        }
    }
}
