using System.Text;
using Ferry.Model;

namespace Ferry.Sets;

/// <summary>How clients reach the mirror, for <see cref="MirrorConfigs"/>.</summary>
public sealed record MirrorConfigOptions
{
    /// <summary>The mirror speaks plain HTTP (default: HTTPS).</summary>
    public bool PlainHttp { get; init; }

    /// <summary>Clients skip verifying the mirror's TLS certificate.</summary>
    public bool SkipTlsVerify { get; init; }

    /// <summary>The CA certificate of the mirror, as a path on the clients (containerd <c>ca</c>, k3s <c>ca_file</c>; containers tools read <c>/etc/containers/certs.d/HOST/</c> instead).</summary>
    public string? CaFile { get; init; }

    /// <summary>The name of the drop-in file and of the Kubernetes objects (default <c>ferry-mirrors</c>).</summary>
    public string Name { get; init; } = "ferry-mirrors";
}

/// <summary>The files <see cref="MirrorConfigs.Render"/> made, by path relative to the output directory, and what it could not express.</summary>
/// <param name="Files">Relative path (with <c>/</c>) → content, sorted by path.</param>
/// <param name="Notes">Mappings a format cannot express, one line each (the other formats still have them).</param>
public sealed record MirrorConfigSet(IReadOnlyDictionary<string, string> Files, IReadOnlyList<string> Notes);

/// <summary>
/// The client configurations that pull a set's images through the mirror it was synced to (<c>ferry sync SET
/// docker://HOST/PREFIX/ --mirror-config DIR</c>): a containers <c>registries.conf.d</c> drop-in (podman, skopeo,
/// buildah, CRI-O), a containerd <c>hosts.toml</c> per source registry (<c>config_path</c>, <c>ctr --hosts-dir</c>),
/// a k3s/RKE2 <c>registries.yaml</c>, and OpenShift <c>ImageDigestMirrorSet</c>/<c>ImageTagMirrorSet</c> manifests.
/// The same mappings give the same bytes.
/// </summary>
public static class MirrorConfigs
{
    /// <summary>Where each file goes on the clients, written as the directory's README.md.</summary>
    private const string Readme = """
        # Mirror configurations written by ferry

        Each file makes one kind of client pull the source registries' images from the mirror (the source is tried
        only when the mirror fails).

        | file | client | install |
        |---|---|---|
        | `containers/registries.conf.d/50-NAME.conf` | podman, skopeo, buildah, CRI-O | copy to `/etc/containers/registries.conf.d/` (or `~/.config/containers/registries.conf.d/`) |
        | `containerd/certs.d/REGISTRY/hosts.toml` | containerd 1.5+, `ctr`, nerdctl | copy the `certs.d` tree to the `config_path` of containerd's CRI registry config (usually `/etc/containerd/certs.d`); `ctr images pull --hosts-dir DIR/containerd/certs.d …` |
        | `k3s/registries.yaml` | k3s, RKE2 | `/etc/rancher/k3s/registries.yaml` (RKE2: `/etc/rancher/rke2/registries.yaml`) on every node, then restart the service |
        | `kubernetes/imagedigestmirrorset.yaml`, `kubernetes/imagetagmirrorset.yaml` | OpenShift 4.13+ | `oc apply -f` |

        """;

    /// <summary>Renders every file for these mappings.</summary>
    /// <exception cref="ArgumentException">No mappings.</exception>
    public static MirrorConfigSet Render(IReadOnlyList<MirrorMapping> mappings, MirrorConfigOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(mappings);
        if (mappings.Count == 0)
            throw new ArgumentException("no mappings: nothing to mirror", nameof(mappings));
        options ??= new MirrorConfigOptions();
        if (options.Name.Length == 0 || !options.Name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-'))
            throw new ArgumentException($"name '{options.Name}': lowercase letters, digits and '-' only", nameof(options));
        var sorted = mappings.Distinct().OrderBy(m => m.SourceRegistry, StringComparer.Ordinal).ThenBy(m => m.SourcePath, StringComparer.Ordinal).ToList();
        var dup = sorted.GroupBy(m => m.Source, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null)
            throw new ArgumentException($"{dup.Key} is mapped to more than one mirror", nameof(mappings));
        var files = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var notes = new List<string>();
        files["README.md"] = Readme.Replace("NAME", options.Name, StringComparison.Ordinal).ReplaceLineEndings("\n");
        files[$"containers/registries.conf.d/50-{options.Name}.conf"] = RegistriesConf(sorted, options);
        foreach (var group in sorted.GroupBy(m => m.SourceRegistry, StringComparer.Ordinal))
        {
            if (HostsToml(group.ToList(), options, notes) is { } toml)
                files[$"containerd/certs.d/{group.Key}/hosts.toml"] = toml;
        }
        files["k3s/registries.yaml"] = K3s(sorted, options, notes);
        files["kubernetes/imagedigestmirrorset.yaml"] = MirrorSet(sorted, options, "ImageDigestMirrorSet", "imageDigestMirrors");
        files["kubernetes/imagetagmirrorset.yaml"] = MirrorSet(sorted, options, "ImageTagMirrorSet", "imageTagMirrors");
        return new MirrorConfigSet(files, notes);
    }

    /// <summary>Renders and writes every file under <paramref name="directory"/> (created if absent; files of the same names are replaced).</summary>
    public static MirrorConfigSet Write(string directory, IReadOnlyList<MirrorMapping> mappings, MirrorConfigOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(directory);
        var set = Render(mappings, options);
        foreach (var (relative, content) in set.Files)
        {
            // Relative paths are ours: fixed names and validated registry hosts, never '..'.
            string path = Path.Combine(directory, relative.Replace('/', Path.DirectorySeparatorChar));
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, content, new UTF8Encoding(false));
        }
        return set;
    }

    private static string Scheme(MirrorConfigOptions o) => o.PlainHttp ? "http" : "https";

    private static string Toml(string s) => "\"" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";

    // containers-registries.conf(5), version 2: the longest matching prefix wins; mirrors are tried in order, then the location.
    private static string RegistriesConf(List<MirrorMapping> mappings, MirrorConfigOptions o)
    {
        var sb = new StringBuilder();
        sb.Append("# Pull these images through the mirror ferry synced them to (containers-registries.conf(5), version 2).\n");
        foreach (var m in mappings)
        {
            sb.Append('\n');
            sb.Append("[[registry]]\n");
            sb.Append("prefix = ").Append(Toml(m.Source)).Append('\n');
            sb.Append("location = ").Append(Toml(m.Source)).Append('\n');
            sb.Append("\n[[registry.mirror]]\n");
            sb.Append("location = ").Append(Toml(m.Mirror)).Append('\n');
            if (o.PlainHttp || o.SkipTlsVerify)
                sb.Append("insecure = true\n");
        }
        return sb.ToString();
    }

    /// <summary>The server containerd falls back to for a registry (docker.io's API host).</summary>
    private static string Upstream(string registry) => registry == ImageName.DefaultDomain ? "https://registry-1.docker.io" : "https://" + registry;

    // containerd docs/hosts.md: one namespace per registry host; a mirror path is the API root with override_path.
    private static string? HostsToml(List<MirrorMapping> group, MirrorConfigOptions o, List<string> notes)
    {
        var whole = group.SingleOrDefault(m => m.SourcePath.Length == 0);
        // containerd maps a whole registry; repository mappings fit only when they agree with one registry-wide mapping.
        var equivalent = whole ?? Collapse(group);
        if (equivalent is null || group.Any(m => m.SourcePath.Length > 0 && !Agrees(equivalent, m)))
        {
            notes.Add($"containerd: {group[0].SourceRegistry} is not written: hosts.toml maps a whole registry, and its repositories go to different places ({string.Join(", ", group.Select(m => m.ToString()))}); use the registries.conf, k3s or OpenShift form");
            return null;
        }
        var sb = new StringBuilder();
        sb.Append("# Pull ").Append(equivalent.SourceRegistry).Append(" through the mirror ferry synced it to (containerd hosts.toml).\n");
        sb.Append("server = ").Append(Toml(Upstream(equivalent.SourceRegistry))).Append('\n');
        string url = equivalent.MirrorPath.Length == 0
            ? $"{Scheme(o)}://{equivalent.MirrorHost}"
            : $"{Scheme(o)}://{equivalent.MirrorHost}/v2/{equivalent.MirrorPath}";
        sb.Append('\n').Append("[host.").Append(Toml(url)).Append("]\n");
        sb.Append("  capabilities = [\"pull\", \"resolve\"]\n");
        if (equivalent.MirrorPath.Length > 0)
            sb.Append("  override_path = true\n");
        if (o.SkipTlsVerify)
            sb.Append("  skip_verify = true\n");
        if (o.CaFile is { } ca)
            sb.Append("  ca = ").Append(Toml(ca)).Append('\n');
        return sb.ToString();
    }

    /// <summary>A registry-wide mapping that repository mappings imply (<c>r/team → m/x/team</c> is <c>r → m/x</c>), or null.</summary>
    private static MirrorMapping? Collapse(List<MirrorMapping> group)
    {
        var first = group[0];
        string suffix = "/" + first.SourcePath;
        if (!first.Mirror.EndsWith(suffix, StringComparison.Ordinal) || first.Mirror.Length == suffix.Length)
            return null;
        return new MirrorMapping(first.SourceRegistry, first.Mirror[..^suffix.Length]);
    }

    private static bool Agrees(MirrorMapping whole, MirrorMapping m) =>
        m.MirrorHost == whole.MirrorHost && m.MirrorPath == (whole.MirrorPath.Length == 0 ? m.SourcePath : whole.MirrorPath + "/" + m.SourcePath);

    // k3s registries.yaml: endpoints per registry, rewrites (regex on the repository path) applied at those endpoints.
    private static string K3s(List<MirrorMapping> mappings, MirrorConfigOptions o, List<string> notes)
    {
        var sb = new StringBuilder();
        sb.Append("# Pull these registries through the mirror ferry synced them to (k3s/RKE2 registries.yaml).\n");
        sb.Append("mirrors:\n");
        var hosts = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var group in mappings.GroupBy(m => m.SourceRegistry, StringComparer.Ordinal))
        {
            var list = group.ToList();
            // One endpoint list per registry, and rewrites in no fixed order: only disjoint rewrites to one host fit.
            if (list.Select(m => m.MirrorHost).Distinct().Count() > 1 || (list.Count > 1 && Overlap(list)))
            {
                notes.Add($"k3s: {group.Key} is not written: its repositories go to different mirror hosts or overlapping paths ({string.Join(", ", list.Select(m => m.ToString()))}), which registries.yaml cannot say");
                continue;
            }
            hosts.Add(list[0].MirrorHost);
            sb.Append("  ").Append(YamlText.Quote(group.Key)).Append(":\n");
            sb.Append("    endpoint:\n");
            sb.Append("      - ").Append(YamlText.DoubleQuoted($"{Scheme(o)}://{list[0].MirrorHost}")).Append('\n');
            var rewrites = list.Where(m => m.SourcePath != m.MirrorPath).ToList();
            if (rewrites.Count > 0)
            {
                sb.Append("    rewrite:\n");
                foreach (var m in rewrites)
                {
                    string pattern = m.SourcePath.Length == 0 ? "^(.*)$" : "^" + System.Text.RegularExpressions.Regex.Escape(m.SourcePath) + "(/.*)?$";
                    string replacement = m.SourcePath.Length == 0 ? (m.MirrorPath.Length == 0 ? "$1" : m.MirrorPath + "/$1") : m.MirrorPath + "$1";
                    sb.Append("      ").Append(YamlText.DoubleQuoted(pattern)).Append(": ").Append(YamlText.DoubleQuoted(replacement)).Append('\n');
                }
            }
        }
        if (o.SkipTlsVerify || o.CaFile is not null)
        {
            sb.Append("configs:\n");
            foreach (var h in hosts)
            {
                sb.Append("  ").Append(YamlText.DoubleQuoted(h)).Append(":\n");
                sb.Append("    tls:\n");
                if (o.SkipTlsVerify)
                    sb.Append("      insecure_skip_verify: true\n");
                if (o.CaFile is { } ca)
                    sb.Append("      ca_file: ").Append(YamlText.DoubleQuoted(ca)).Append('\n');
            }
        }
        return sb.ToString();
    }

    private static bool Overlap(List<MirrorMapping> list) =>
        list.Any(a => list.Any(b => !ReferenceEquals(a, b) && (a.SourcePath.Length == 0 || b.SourcePath.StartsWith(a.SourcePath + "/", StringComparison.Ordinal))));

    // config.openshift.io/v1: the most specific source wins; mirrors are tried in order, then the source.
    private static string MirrorSet(List<MirrorMapping> mappings, MirrorConfigOptions o, string kind, string field)
    {
        var sb = new StringBuilder();
        sb.Append("apiVersion: config.openshift.io/v1\n");
        sb.Append("kind: ").Append(kind).Append('\n');
        sb.Append("metadata:\n");
        sb.Append("  name: ").Append(o.Name).Append('\n');
        sb.Append("spec:\n");
        sb.Append("  ").Append(field).Append(":\n");
        foreach (var m in mappings)
        {
            sb.Append("    - source: ").Append(YamlText.Quote(m.Source)).Append('\n');
            sb.Append("      mirrors:\n");
            sb.Append("        - ").Append(YamlText.Quote(m.Mirror)).Append('\n');
        }
        return sb.ToString();
    }
}
