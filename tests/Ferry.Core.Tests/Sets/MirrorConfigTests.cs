using System.Runtime.CompilerServices;
using Ferry.Model;
using Ferry.Sets;
using Ferry.Transports.Registry;

namespace Ferry.Tests.Sets;

/// <summary>
/// Where a sync puts each image (push's re-rooting, <c>--rewrite</c>), and the mirror configs for it, against golden
/// files (Sets/Golden/NAME/…; FERRY_UPDATE_GOLDEN=1 rewrites them, to be read in review).
/// </summary>
public class MirrorConfigTests
{
    private static readonly ImageName[] Sources =
    [
        ImageName.Parse("docker.io/library/ubuntu:20.04"),
        ImageName.Parse("nginx:1.27"),
        ImageName.Parse("registry.example.com/team/app:1.2.0"),
        ImageName.Parse("registry.example.com/team/db:7.2"),
        ImageName.Parse("quay.io:8443/org/tool@sha256:0a6b4c3e8f5e2d1c7b9a8f6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c"),
    ];

    [Fact]
    public void ReRootsAsPushDoes()
    {
        var prefix = RegistryPrefixReference.Parse("docker://mirror.internal:5000/airgap/");
        var map = new RepositoryMap(prefix);
        foreach (var s in Sources)
            Assert.Equal(prefix.Reroot(s).ToString(), map.Map(s).ToString());
        Assert.Equal("mirror.internal:5000/airgap/library/ubuntu:20.04", map.Map(Sources[0]).ToString());
        Assert.Equal(["docker.io=mirror.internal:5000/airgap", "quay.io:8443=mirror.internal:5000/airgap", "registry.example.com=mirror.internal:5000/airgap"],
            map.MappingsFor(Sources).Select(m => m.ToString()));
        var root = new RepositoryMap(RegistryPrefixReference.Parse("localhost:5000"));
        Assert.Equal("localhost:5000/team/app:1.2.0", root.Map(Sources[2]).ToString());
    }

    [Fact]
    public void RewritesWinByTheLongestSource()
    {
        var map = new RepositoryMap(RegistryPrefixReference.Parse("mirror.internal:5000/airgap"),
            [MirrorMapping.Parse("registry.example.com/team=mirror.internal:5000/apps"), MirrorMapping.Parse("registry.example.com/team/db=docker://mirror.internal:5000/data/redis")]);
        Assert.Equal("mirror.internal:5000/apps/app:1.2.0", map.Map(Sources[2]).ToString());
        Assert.Equal("mirror.internal:5000/data/redis:7.2", map.Map(Sources[3]).ToString());
        Assert.Equal("mirror.internal:5000/airgap/library/nginx:1.27", map.Map(Sources[1]).ToString());
        Assert.Throws<UsageException>(() => MirrorMapping.Parse("registry.example.com"));
        Assert.Throws<UsageException>(() => MirrorMapping.Parse("not a host=x.example"));
        Assert.Throws<UsageException>(() => new RepositoryMap(RegistryPrefixReference.Parse("m.example"), [MirrorMapping.Parse("a.example=b.example"), MirrorMapping.Parse("a.example=c.example")]));
    }

    [Fact]
    public void FindsCollisionsUnderOnePrefix()
    {
        var map = new RepositoryMap(RegistryPrefixReference.Parse("mirror.internal:5000"));
        var c = Assert.Single(map.Collisions([ImageName.Parse("quay.io/org/tool:1"), ImageName.Parse("ghcr.io/org/tool:2"), ImageName.Parse("ghcr.io/org/other:1")]));
        Assert.Equal("mirror.internal:5000/org/tool:1", c.Target.ToString());
    }

    [Fact]
    public void GoldenReRootedHttps()
    {
        var map = new RepositoryMap(RegistryPrefixReference.Parse("docker://mirror.internal:5000/airgap/"));
        var set = MirrorConfigs.Render(map.MappingsFor(Sources));
        Assert.Empty(set.Notes);
        Golden("rerooted-https", set);
    }

    [Fact]
    public void GoldenRewritesPlainHttp()
    {
        var map = new RepositoryMap(RegistryPrefixReference.Parse("localhost:5000"),
            [MirrorMapping.Parse("registry.example.com/team=localhost:5000/apps"), MirrorMapping.Parse("quay.io:8443/org=localhost:5000/quay/org")]);
        var set = MirrorConfigs.Render(map.MappingsFor(Sources), new MirrorConfigOptions { PlainHttp = true, Name = "site-a" });
        // registry.example.com/team → localhost:5000/apps cannot be a whole-registry hosts.toml; the others can.
        Assert.Equal(["containerd: registry.example.com is not written: hosts.toml maps a whole registry, and its repositories go to different places (registry.example.com/team=localhost:5000/apps); use the registries.conf, k3s or OpenShift form"], set.Notes);
        Assert.Contains("containerd/certs.d/quay.io:8443/hosts.toml", set.Files.Keys);
        Golden("rewrites-http", set);
    }

    [Fact]
    public void GoldenTlsOptions()
    {
        var set = MirrorConfigs.Render([new MirrorMapping("docker.io", "mirror.internal")], new MirrorConfigOptions { SkipTlsVerify = true, CaFile = "/etc/pki/mirror-ca.pem" });
        Golden("tls-options", set);
    }

    [Fact]
    public void K3sRefusesWhatItCannotSay()
    {
        var set = MirrorConfigs.Render([new MirrorMapping("r.example", "m.example/all"), new MirrorMapping("r.example/team", "m.example/apps"), new MirrorMapping("s.example/x", "n.example/x"), new MirrorMapping("s.example/y", "o.example/y")]);
        Assert.Contains(set.Notes, n => n.StartsWith("k3s: r.example is not written", StringComparison.Ordinal));
        Assert.Contains(set.Notes, n => n.StartsWith("k3s: s.example is not written", StringComparison.Ordinal));
        Assert.DoesNotContain("r.example", set.Files["k3s/registries.yaml"], StringComparison.Ordinal);
    }

    [Fact]
    public void TheSameMappingsGiveTheSameBytes()
    {
        var a = MirrorConfigs.Render([new MirrorMapping("quay.io", "m.example"), new MirrorMapping("docker.io", "m.example/hub")]);
        var b = MirrorConfigs.Render([new MirrorMapping("docker.io", "m.example/hub"), new MirrorMapping("quay.io", "m.example"), new MirrorMapping("quay.io", "m.example")]);
        Assert.Equal(a.Files, b.Files);
        Assert.Throws<ArgumentException>(() => MirrorConfigs.Render([new MirrorMapping("quay.io", "m.example"), new MirrorMapping("quay.io", "n.example")]));
        Assert.Throws<ArgumentException>(() => MirrorConfigs.Render([]));
    }

    [Fact]
    public void WritesTheFiles()
    {
        using var dir = new Ferry.Tests.TestSupport.TempDir();
        var set = MirrorConfigs.Write(dir.Root, [new MirrorMapping("docker.io", "m.example:5000/hub")]);
        foreach (var (path, content) in set.Files)
            Assert.Equal(content, File.ReadAllText(Path.Combine(dir.Root, path)));
        Assert.Equal(["README.md", "containerd", "containers", "k3s", "kubernetes"], dir.Listing());
    }

    private static void Golden(string name, MirrorConfigSet set, [CallerFilePath] string here = "")
    {
        string root = Path.Combine(Path.GetDirectoryName(here)!, "Golden", name);
        if (Environment.GetEnvironmentVariable("FERRY_UPDATE_GOLDEN") == "1")
        {
            if (Directory.Exists(root))
                Directory.Delete(root, recursive: true);
            foreach (var (path, content) in set.Files)
            {
                string p = Path.Combine(root, path);
                Directory.CreateDirectory(Path.GetDirectoryName(p)!);
                File.WriteAllText(p, content);
            }
        }
        var expected = Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(root, f).Replace(Path.DirectorySeparatorChar, '/')).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(expected, set.Files.Keys);
        foreach (var (path, content) in set.Files)
            Assert.Equal(File.ReadAllText(Path.Combine(root, path)).ReplaceLineEndings("\n"), content);
    }
}
