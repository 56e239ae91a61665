using Ferry.Interop.Tests.Fixture;
using Ferry.Interop.Tests.Infrastructure;
using Ferry.Sets;
using Xunit;
using Xunit.Abstractions;

namespace Ferry.Interop.Tests.Tests;

/// <summary>
/// The mirror configs of issue 25 (docs/sets.md) read by the real clients: an image named after a registry that does not
/// exist (the source is down) is pushed under a prefix of docker-registry, and skopeo (registries.conf drop-in) and ctr
/// (<c>--hosts-dir</c> with the hosts.toml, override_path for the prefix) pull it through the mirror by tag and digest.
/// </summary>
[Collection(InteropCollection.Name)]
public sealed class MirrorConfigTests(InteropFixture fixture, ITestOutputHelper output) : InteropTest(fixture, output)
{
    private const string Source = "registry.example.invalid";
    private const string Name = Source + "/team/app:1";

    /// <summary>The sample under <c>registry.example.invalid/team/app:1</c>, pushed to <c>MIRROR/airgap</c>; its digest and the configs.</summary>
    private (string Digest, string Configs) Prepare(RegistryServer mirror, string hint)
    {
        string dir = _fx.Scratch(hint);
        string sample = Path.Combine(Corpus.RepoRoot() ?? throw new InteropException("repository root not found"), "samples", "ferry-sample.tar");
        string named = Path.Combine(dir, "named.tar");
        _run.MustFerry("copy", sample, named, "--tag", Name, "-q");
        _run.MustFerry("push", named, mirror.Address + "/airgap", "-q");
        string digest = _run.MustFerry("digest", $"{mirror.Address}/airgap/team/app:1").Stdout.Trim();
        // What sync --mirror-config writes for this image: the source registry re-rooted under the prefix.
        var map = new RepositoryMap(Ferry.Transports.Registry.RegistryPrefixReference.Parse(mirror.Address + "/airgap"));
        string configs = Path.Combine(dir, "configs");
        MirrorConfigs.Write(configs, map.MappingsFor([Ferry.Model.ImageName.Parse(Name)]), new MirrorConfigOptions { PlainHttp = true });
        return (digest, configs);
    }

    [InteropFact(Tool.Skopeo, Tool.Registry)]
    public void Skopeo_pulls_through_the_registries_conf_drop_in()
    {
        using var mirror = new RegistryServer(_run);
        var (digest, configs) = Prepare(mirror, "mirror-skopeo");
        // The drop-in has the syntax of registries.conf itself: skopeo 1.9 reads it as the only configuration with its
        // (hidden) --registries-conf; CONTAINERS_REGISTRIES_CONF is not read by that version.
        string conf = Path.Combine(configs, "containers", "registries.conf.d", "50-ferry-mirrors.conf");
        var checks = new Checks(_log);
        foreach (var reference in new[] { Name, $"{Source}/team/app@{digest}" })
        {
            string layout = Path.Combine(configs, "..", "layout-" + (reference == Name ? "tag" : "digest"));
            var r = _run.Skopeo("--registries-conf", conf, "copy", "docker://" + reference, "oci:" + layout + ":app");
            if (checks.True(r.Ok, $"skopeo copy {reference} through the mirror: {LoaderChecks.Short(r)}"))
            {
                var raw = _run.Skopeo("--registries-conf", conf, "inspect", "--raw", "docker://" + reference);
                if (checks.True(raw.Ok, $"skopeo inspect --raw {reference} through the mirror: {LoaderChecks.Short(raw)}"))
                    checks.Equal(digest, "sha256:" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(raw.Stdout))), $"digest of the manifest skopeo read for {reference}");
            }
        }
        // Without the configuration the source is really down.
        var down = _run.Skopeo("inspect", "docker://" + Name);
        checks.True(!down.Ok, "skopeo reached registry.example.invalid without the mirror config");
        checks.ThrowIfAny("skopeo through the registries.conf drop-in");
    }

    [InteropFact(Tool.Containerd, Tool.Registry)]
    public void Ctr_pulls_through_hosts_toml()
    {
        using var mirror = new RegistryServer(_run);
        var (digest, configs) = Prepare(mirror, "mirror-ctr");
        string hostsDir = Path.Combine(configs, "containerd", "certs.d");
        string ns = _fx.NewNamespace("mirror");
        var checks = new Checks(_log);
        var pull = _run.Ctr("-n", ns, "images", "pull", "--hosts-dir", hostsDir, Name);
        if (checks.True(pull.Ok, $"ctr pull --hosts-dir {Name}: {LoaderChecks.Short(pull)}"))
        {
            var list = _run.MustCtr("-n", ns, "images", "list", "-q");
            checks.True(list.Stdout.Contains(Name, StringComparison.Ordinal), $"ctr lists {Name}");
            var check = _run.MustCtr("-n", ns, "images", "ls");
            checks.True(check.Stdout.Contains(digest, StringComparison.Ordinal), $"ctr holds {Name} at {digest}");
        }
        var byDigest = _run.Ctr("-n", ns, "images", "pull", "--hosts-dir", hostsDir, $"{Source}/team/app@{digest}");
        checks.True(byDigest.Ok, $"ctr pull --hosts-dir by digest: {LoaderChecks.Short(byDigest)}");
        checks.ThrowIfAny("ctr through hosts.toml");
    }
}
