using System.IO.Compression;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Ferry.Interop.Tests.Fixture;
using Ferry.Interop.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Ferry.Interop.Tests.Tests;

/// <summary>
/// A fact about the release (build/release.sh): it runs under .ci/run (FERRY_INTEROP=required) or with
/// FERRY_RELEASE_TEST=1, never in a plain <c>dotnet test</c>: the release takes minutes (two NativeAOT publishes), fetches
/// Debian 11 packages once, and its checks run the binaries in chroots (root).
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
public sealed class ReleaseFactAttribute : FactAttribute
{
    public ReleaseFactAttribute()
    {
        if (Tool.Required)
            return;
        if (Environment.GetEnvironmentVariable("FERRY_RELEASE_TEST") != "1")
            Skip = "the release build (build/release.sh: two NativeAOT publishes, Debian 11 sysroots, chroots as root) runs under .ci/run (FERRY_INTEROP=required) or with FERRY_RELEASE_TEST=1";
        else if (ReleaseScriptTests.WhyNot() is { } why)
            Skip = why;
    }
}

/// <summary>
/// What issue 23 promises of a release, checked on one run of <c>build/release.sh VERSION OUTDIR</c> (built once per test
/// run, by the first of these tests): every artefact, SHA256SUMS, the SBOMs and NOTICE, the packages' licence; both
/// binaries need at most GLIBC_2.28 and run the sample copy and verify on Debian 11's C library — x64 in a Debian 11
/// chroot, arm64 in an arm64 Debian 11 chroot under qemu-aarch64-static — with the optional gzip codecs loading where
/// present and falling back without them; and the README's Install section, followed line by line on each binary.
/// </summary>
[Collection(InteropCollection.Name)]
public sealed class ReleaseScriptTests(InteropFixture fixture, ITestOutputHelper output) : InteropTest(fixture, output)
{
    private const string Version = "9.8.7-release.test";
    private static readonly string[] Rids = ["linux-x64", "linux-arm64"];
    private static readonly string[] TarballEntries =
        ["", "ferry", "README.md", "LICENSE", "NOTICE", "completions/", "completions/ferry.bash", "completions/_ferry", "completions/ferry.fish", "completions/ferry.ps1", "samples/", "samples/ferry-sample.tar", "samples/README.md"];
    private static readonly Lock Gate = new();
    private static Built? s_built;
    private static Exception? s_failed;

    private sealed record Built(string Out, string Scratch, IReadOnlyDictionary<string, string> Sysroots);

    /// <summary>Why the release checks cannot run here (the tools the script and the chroots need), or null.</summary>
    public static string? WhyNot()
    {
        foreach (var c in new[] { "clang", "ld.lld", "objdump", "jq", "unzip", "apt-get", "dpkg-deb", "qemu-aarch64-static", "unshare", "chroot" })
        {
            if (!Proc.Run("/bin/sh", ["-c", $"command -v {c}"], TimeSpan.FromSeconds(10)).Ok)
                return $"{c} not found (.ci/run installs clang lld binutils jq unzip qemu-user-static)";
        }
        var id = Proc.Run("id", ["-u"], TimeSpan.FromSeconds(10));
        return id.Ok && id.Stdout.Trim() == "0" ? null : "the Debian 11 chroots need root";
    }

    private static string Repo
    {
        get
        {
            string dir = AppContext.BaseDirectory;
            while (!File.Exists(Path.Combine(dir, "Ferry.slnx")))
                dir = Path.GetDirectoryName(dir.TrimEnd('/')) ?? throw new InteropException("no Ferry.slnx above the test assembly");
            return dir;
        }
    }

    private static string Arch(string rid) => rid == "linux-x64" ? "amd64" : "arm64";

    private static string Triple(string rid) => rid == "linux-x64" ? "x86_64-linux-gnu" : "aarch64-linux-gnu";

    private static string Name(string rid) => $"ferry-{Version}-{rid}";

    private ProcResult Sh(string script, string display, TimeSpan? timeout = null) =>
        _run.Raw("/bin/bash", ["-euo", "pipefail", "-c", script], timeout ?? TimeSpan.FromMinutes(5), display: display);

    /// <summary>The release, built on first use (the script's own output in the transcript); the same for every test after.</summary>
    private Built Release()
    {
        lock (Gate)
        {
            if (s_failed is not null)
                throw new InteropException($"build/release.sh failed earlier in this run: {s_failed.Message}", s_failed);
            if (s_built is not null)
            {
                _log.Line($"(the release built earlier in this run: {s_built.Out})");
                return s_built;
            }
            try
            {
                string dir = _fx.Scratch("release");
                string outDir = Path.Combine(dir, "out");
                Runner.Ensure(Sh($"cd {Proc.QuoteWord(Repo)} && build/release.sh {Version} {Proc.QuoteWord(outDir)}",
                    $"build/release.sh {Version} {outDir}", TimeSpan.FromMinutes(45)));
                var sysroots = new Dictionary<string, string>(StringComparer.Ordinal);
                foreach (var rid in Rids)
                    sysroots[rid] = Runner.Ensure(Sh($"{Proc.QuoteWord(Path.Combine(Repo, "build", "sysroot.sh"))} {Arch(rid)}", $"build/sysroot.sh {Arch(rid)}")).Stdout.Trim();
                s_built = new Built(outDir, dir, sysroots);
                return s_built;
            }
            catch (Exception e)
            {
                s_failed = e;
                throw;
            }
        }
    }

    /// <summary>The tarball of <paramref name="rid"/> unpacked (once) under the release's scratch folder; returns its folder.</summary>
    private string Unpacked(Built b, string rid)
    {
        string dir = Path.Combine(b.Scratch, "unpacked");
        string d = Path.Combine(dir, Name(rid));
        if (!Directory.Exists(d))
        {
            Directory.CreateDirectory(dir);
            Runner.Ensure(Sh($"tar -xzf {Proc.QuoteWord(Path.Combine(b.Out, Name(rid) + ".tar.gz"))} -C {Proc.QuoteWord(dir)}", $"tar -xzf {Name(rid)}.tar.gz"));
        }
        return d;
    }

    private string? Head()
    {
        var r = _run.Raw("git", ["-C", Repo, "rev-parse", "HEAD"]);
        return r.Ok ? r.Stdout.Trim() : null;
    }

    [ReleaseFact]
    public void Release_writes_every_artefact_with_checksums_sboms_and_the_licence()
    {
        var b = Release();
        var checks = new Checks(_log);
        string[] expected =
        [
            "SHA256SUMS", $"{Name("linux-x64")}.tar.gz", $"{Name("linux-arm64")}.tar.gz", $"{Name("linux-x64")}.cdx.json", $"{Name("linux-arm64")}.cdx.json",
            $"Ferry.Core.{Version}.nupkg", $"Ferry.Core.{Version}.snupkg", $"Ferry.Cli.{Version}.nupkg", $"Ferry.Cli.{Version}.snupkg",
        ];
        checks.Set(expected, Directory.GetFiles(b.Out).Select(f => Path.GetFileName(f)), "the release folder");

        var sums = Sh($"cd {Proc.QuoteWord(b.Out)} && sha256sum -c SHA256SUMS", "sha256sum -c SHA256SUMS");
        checks.True(sums.Ok, "sha256sum -c SHA256SUMS passes");
        checks.Set(expected.Where(f => f != "SHA256SUMS"), File.ReadAllLines(Path.Combine(b.Out, "SHA256SUMS")).Select(l => l[(l.IndexOf(' ', StringComparison.Ordinal) + 2)..]), "the files SHA256SUMS names");

        foreach (var rid in Rids)
        {
            var list = Sh($"tar -tzf {Proc.QuoteWord(Path.Combine(b.Out, Name(rid) + ".tar.gz"))}", $"tar -tzf {Name(rid)}.tar.gz");
            checks.Set(TarballEntries.Select(e => $"{Name(rid)}/{e}"), list.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries), $"{Name(rid)}.tar.gz holds");
            string d = Unpacked(b, rid);
            foreach (var f in new[] { "README.md", "LICENSE", "NOTICE" })
                checks.True(File.ReadAllBytes(Path.Combine(d, f)).SequenceEqual(File.ReadAllBytes(Path.Combine(Repo, f))), $"{Name(rid)}/{f} is the repository's");
            checks.True(File.ReadAllText(Path.Combine(d, "completions", "ferry.bash")).Contains("ferry", StringComparison.Ordinal), "the bash completion script names ferry");
        }

        // The licence: Apache-2.0 in both packages (no repository URL invented; the commit SourceLink recorded).
        checks.True(File.ReadAllText(Path.Combine(Repo, "LICENSE")).Contains("Apache License\n                           Version 2.0, January 2004", StringComparison.Ordinal), "LICENSE is the Apache License 2.0");
        foreach (var p in new[] { "Ferry.Core", "Ferry.Cli" })
        {
            using var zip = ZipFile.OpenRead(Path.Combine(b.Out, $"{p}.{Version}.nupkg"));
            using var reader = new StreamReader(zip.GetEntry($"{p}.nuspec")!.Open());
            string nuspec = reader.ReadToEnd();
            _log.Line($"{p}.nuspec:\n{nuspec}");
            checks.True(nuspec.Contains("<license type=\"expression\">Apache-2.0</license>", StringComparison.Ordinal), $"{p}.nuspec carries the Apache-2.0 licence expression");
            checks.True(nuspec.Contains($"<version>{Version}</version>", StringComparison.Ordinal), $"{p}.nuspec has the version");
            if (Head() is { } head)
                checks.True(nuspec.Contains($"commit=\"{head}\"", StringComparison.Ordinal), $"{p}.nuspec names the commit built");
            checks.True(!nuspec.Contains("url=", StringComparison.Ordinal), $"{p}.nuspec names no repository URL");
        }

        // The SBOMs: each NuGet dependency the binary holds with its version and licence, and the .NET runtime's version.
        var pinned = XDocument.Load(Path.Combine(Repo, "Directory.Packages.props")).Descendants("PackageVersion")
            .ToDictionary(e => (string)e.Attribute("Include")!, e => (string)e.Attribute("Version")!, StringComparer.Ordinal);
        var noticeNames = new HashSet<string>(StringComparer.Ordinal);
        foreach (var rid in Rids)
        {
            using var sbom = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(b.Out, $"{Name(rid)}.cdx.json")));
            var root = sbom.RootElement;
            checks.Equal("CycloneDX", root.GetProperty("bomFormat").GetString(), $"{rid} SBOM format");
            checks.Equal(Version, root.GetProperty("metadata").GetProperty("component").GetProperty("version").GetString(), $"{rid} SBOM: ferry's version");
            var comps = root.GetProperty("components").EnumerateArray().ToDictionary(c => c.GetProperty("name").GetString()!, c => c, StringComparer.Ordinal);
            foreach (var c in comps.Values)
            {
                string lic = string.Join(" ", c.GetProperty("licenses").EnumerateArray().Select(l =>
                    l.TryGetProperty("license", out var x) ? x.TryGetProperty("id", out var id) ? id.GetString() : x.GetProperty("name").GetString() : l.GetProperty("expression").GetString()));
                _log.Line($"{rid} SBOM: {c.GetProperty("type").GetString()} {c.GetProperty("name").GetString()} {c.GetProperty("version").GetString()} {lic}");
                checks.True(lic.Length > 0, $"{rid} SBOM: {c.GetProperty("name").GetString()} has a licence");
                noticeNames.Add(Regex.Replace(c.GetProperty("name").GetString()!, @"\.linux-(x64|arm64)$", ""));
            }
            foreach (var p in new[] { "System.CommandLine", "BCrypt.Net-Next", "SharpCompress", "ZstdSharp.Port" })
            {
                checks.True(comps.TryGetValue(p, out var c) && c.GetProperty("version").GetString() == pinned[p], $"{rid} SBOM lists {p} {pinned[p]}");
            }
            checks.True(comps.TryGetValue("Ferry.Core", out var core) && core.GetProperty("version").GetString() == Version, $"{rid} SBOM lists Ferry.Core {Version}");
            string runtime = root.GetProperty("metadata").GetProperty("properties").EnumerateArray()
                .Where(p => p.GetProperty("name").GetString() == "ferry:dotnet-runtime").Select(p => p.GetProperty("value").GetString()).FirstOrDefault() ?? "";
            checks.True(Regex.IsMatch(runtime, @"^10\.0\.\d+$"), $"{rid} SBOM names the .NET runtime version: '{runtime}'");
            checks.True(comps.TryGetValue($"Microsoft.NETCore.App.Runtime.NativeAOT.{rid}", out var rt) && rt.GetProperty("version").GetString() == runtime, $"{rid} SBOM lists the NativeAOT runtime pack {runtime}");
        }
        string notice = File.ReadAllText(Path.Combine(Repo, "NOTICE"));
        foreach (var n in noticeNames.Where(n => n != "Ferry.Core"))
            checks.True(notice.Contains($"\n{n}", StringComparison.Ordinal), $"NOTICE lists {n}");
        checks.ThrowIfAny("the release artefacts");
    }

    [ReleaseFact]
    public void Release_binaries_need_at_most_glibc_2_28()
    {
        var b = Release();
        var checks = new Checks(_log);
        foreach (var rid in Rids)
        {
            string ferry = Path.Combine(Unpacked(b, rid), "ferry");
            var dyn = Runner.Ensure(_run.Raw("objdump", ["-T", ferry], display: $"objdump -T {Name(rid)}/ferry"));
            var versions = Regex.Matches(dyn.Stdout, @"GLIBC_(\d+)\.(\d+)(?:\.(\d+))?").Select(m => new Version(int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture))).Distinct().ToList();
            checks.True(versions.Count > 0, $"{rid}: objdump -T lists GLIBC symbol versions");
            var ceiling = versions.Count > 0 ? versions.Max()! : new Version(0, 0);
            _log.Line($"{rid}: ferry needs GLIBC_{ceiling} at most");
            checks.True(ceiling <= new Version(2, 28), $"{rid}: ferry needs GLIBC_{ceiling}, more than 2.28");

            var elf = Runner.Ensure(_run.Raw("readelf", ["-h", "-d", ferry], display: $"readelf -h -d {Name(rid)}/ferry"));
            checks.True(elf.Stdout.Contains(rid == "linux-x64" ? "X86-64" : "AArch64", StringComparison.Ordinal), $"{rid}: ferry is an executable for its architecture");
            var needed = Regex.Matches(elf.Stdout, @"\(NEEDED\)\s+Shared library: \[([^\]]+)\]").Select(m => m.Groups[1].Value).ToList();
            checks.True(needed.All(n => Regex.IsMatch(n, @"^(libc|libm|libdl|librt|libpthread)\.so\.\d+$|^ld-linux-(x86-64|aarch64)\.so\.\d+$")),
                $"{rid}: ferry links only the C library (libssl and the codecs are loaded when used): {string.Join(", ", needed)}");
        }
        checks.ThrowIfAny("the GLIBC ceiling");
    }

    [ReleaseFact]
    public void Linux_x64_ferry_runs_on_debian_11_glibc() => RunsOnDebian11("linux-x64");

    [ReleaseFact]
    public void Linux_x64_ferry_runs_on_the_build_machine()
    {
        var b = Release();
        var checks = new Checks(_log);
        string ferry = Path.Combine(Unpacked(b, "linux-x64"), "ferry");
        string dir = _fx.Scratch("release-native");
        _run.Raw("ldd", ["--version"]);
        var copy = _run.Raw(ferry, ["copy", Path.Combine(Repo, "samples", "ferry-sample.tar"), Path.Combine(dir, "portable.tar")]);
        checks.True(copy.Ok, $"the release's x64 ferry copies the sample on this machine's glibc (exit {copy.ExitCode}): {copy.Stderr.Trim()}");
        var verify = _run.Raw(ferry, ["verify", Path.Combine(dir, "portable.tar")]);
        checks.True(verify.Ok && verify.Stdout.Contains(": OK (portable", StringComparison.Ordinal), $"ferry verify says OK: {verify.Stdout.Trim()}");
        checks.ThrowIfAny("the x64 release binary on the build machine");
    }

    [ReleaseFact]
    public void Linux_arm64_ferry_runs_on_debian_11_glibc_under_qemu() => RunsOnDebian11("linux-arm64");

    /// <summary>
    /// A Debian 11 root of the architecture (the sysroot: libc6 2.31, libgcc-s1, libssl1.1, and libisal2 + libdeflate0
    /// unless <paramref name="codecs"/> is false) with /proc, /dev/urandom, the release's ferry under /opt and the sample
    /// under /work; for arm64 also qemu-aarch64-static, which runs ferry there (no binfmt needed).
    /// </summary>
    private string DebianRoot(Built b, string rid, bool codecs)
    {
        string root = Path.Combine(b.Scratch, $"debian11-{rid}{(codecs ? "" : "-without-codecs")}");
        string q = Proc.QuoteWord(root);
        Runner.Ensure(Sh(
            $"rm -rf {q} && cp -a {Proc.QuoteWord(b.Sysroots[rid])} {q} && mkdir -p {q}/proc {q}/dev {q}/tmp {q}/opt {q}/work && chmod 1777 {q}/tmp" +
            $" && mknod -m 666 {q}/dev/urandom c 1 9 && mknod -m 666 {q}/dev/null c 1 3" +
            $" && tar -xzf {Proc.QuoteWord(Path.Combine(b.Out, Name(rid) + ".tar.gz"))} -C {q}/opt && cp {Proc.QuoteWord(Path.Combine(Repo, "samples", "ferry-sample.tar"))} {q}/work/" +
            (rid == "linux-arm64" ? $" && mkdir -p {q}/usr/bin && cp \"$(command -v qemu-aarch64-static)\" {q}/usr/bin/" : "") +
            (codecs ? "" : $" && rm -f {q}/usr/lib/{Triple(rid)}/libisal.so* {q}/usr/lib/{Triple(rid)}/libdeflate.so*"),
            $"a Debian 11 {rid} root at {root}{(codecs ? "" : ", without libisal and libdeflate")}"));
        return root;
    }

    /// <summary>Runs <paramref name="command"/> chrooted into <paramref name="root"/> with its own /proc and a clean environment.</summary>
    private ProcResult InRoot(string root, string rid, params string[] command)
    {
        string[] cmd = rid == "linux-arm64" ? ["/usr/bin/qemu-aarch64-static", .. command] : command;
        string script = $"mount -t proc proc {Proc.QuoteWord(root)}/proc && exec env -i PATH=/usr/bin:/bin HOME=/tmp TMPDIR=/tmp \"$(command -v chroot)\" {Proc.QuoteWord(root)} {Proc.Quote(cmd)}";
        return _run.Raw("unshare", ["--mount", "--fork", "/bin/sh", "-c", script], TimeSpan.FromMinutes(5), display: $"[Debian 11 {rid} chroot] {Proc.Quote(cmd)}");
    }

    private void RunsOnDebian11(string rid)
    {
        var b = Release();
        var checks = new Checks(_log);
        string ferry = $"/opt/{Name(rid)}/ferry";

        string root = DebianRoot(b, rid, codecs: true);
        var libc = InRoot(root, rid, $"/lib/{Triple(rid)}/libc.so.6");
        checks.True(libc.Stdout.Contains("release version 2.31", StringComparison.Ordinal), $"{rid}: the root's C library is glibc 2.31: {libc.Stdout.Split('\n')[0]}");

        var version = InRoot(root, rid, ferry, "--version");
        checks.True(version.Ok && version.Stdout.Trim().StartsWith(Version + "+", StringComparison.Ordinal), $"{rid}: ferry --version says {Version}+COMMIT: '{version.Stdout.Trim()}' {version.Stderr.Trim()}");
        if (Head() is { } head)
            checks.True(version.Stdout.Trim().EndsWith(head, StringComparison.Ordinal), $"{rid}: ferry --version names the commit built ({head})");

        // The README's first command, then verify.
        var copy = InRoot(root, rid, ferry, "copy", "/work/ferry-sample.tar", "/work/portable.tar");
        checks.True(copy.Ok, $"{rid}: ferry copy of the sample to portable on Debian 11 (exit {copy.ExitCode}): {copy.Stderr.Trim()}");
        var verify = InRoot(root, rid, ferry, "verify", "/work/portable.tar");
        checks.True(verify.Ok && verify.Stdout.Contains(": OK (portable", StringComparison.Ordinal), $"{rid}: ferry verify says OK: {verify.Stdout.Trim()}");

        // The optional gzip codecs load where present (Debian 11's libisal2 2.30, libdeflate0 1.7) ...
        foreach (var codec in new[] { "isal", "libdeflate" })
        {
            string o = $"/work/gzip-{codec}.tar";
            var r = InRoot(root, rid, ferry, "copy", "/work/ferry-sample.tar", o, "--compress", "gzip", "--gzip-codec", codec);
            checks.True(r.Ok, $"{rid}: --gzip-codec {codec} works with Debian 11's library (exit {r.ExitCode}): {r.Stderr.Trim()}");
            var v = InRoot(root, rid, ferry, "verify", o);
            checks.True(v.Ok, $"{rid}: the {codec}-gzipped copy verifies");
        }

        // ... and without them the default falls back to zlib-ng; asking for one says it is missing.
        string bare = DebianRoot(b, rid, codecs: false);
        var auto = InRoot(bare, rid, ferry, "copy", "/work/ferry-sample.tar", "/work/gzip-auto.tar", "--compress", "gzip");
        checks.True(auto.Ok && auto.Stderr.Contains("gzipped with zlib-ng", StringComparison.Ordinal), $"{rid}: without libisal/libdeflate the gzip falls back to zlib-ng (exit {auto.ExitCode}): {auto.Stderr.Trim()}");
        var isal = InRoot(bare, rid, ferry, "copy", "/work/ferry-sample.tar", "/work/gzip-isal.tar", "--compress", "gzip", "--gzip-codec", "isal");
        checks.True(!isal.Ok && isal.Stderr.Contains("libisal.so.2 is not installed", StringComparison.Ordinal), $"{rid}: --gzip-codec isal without the library is a clear error (exit {isal.ExitCode}): {isal.Stderr.Trim()}");
        checks.ThrowIfAny($"{rid} ferry on Debian 11");
    }

    /// <summary>The first code block of the README's "## Install" section: what a site administrator types.</summary>
    private static List<string> InstallBlock()
    {
        string readme = File.ReadAllText(Path.Combine(Repo, "README.md"));
        int start = readme.IndexOf("\n## Install\n", StringComparison.Ordinal);
        if (start < 0)
            throw new InteropException("README.md has no '## Install' section");
        int end = readme.IndexOf("\n## ", start + 1, StringComparison.Ordinal);
        string section = end < 0 ? readme[start..] : readme[start..end];
        var m = Regex.Match(section, "\n```[a-z]*\n(.*?)\n```", RegexOptions.Singleline);
        if (!m.Success)
            throw new InteropException("the README's Install section has no code block");
        return [.. m.Groups[1].Value.Split('\n')];
    }

    /// <summary>
    /// The README's Install section, followed for each architecture in a fresh "site" folder holding only what was carried
    /// in (the tarball and SHA256SUMS): every line as written (VERSION, and linux-x64 for the arm64 run, filled in),
    /// except that ferry runs on Debian 11's C library (x64 through its loader, arm64 under qemu-aarch64-static -L) and
    /// sudo's absolute paths land under the site's own prefix.
    /// </summary>
    [ReleaseFact]
    public void Readme_install_section_is_followed_on_debian_11_glibc()
    {
        var b = Release();
        var checks = new Checks(_log);
        var block = InstallBlock();
        _log.Line("the README's Install block:\n" + string.Join('\n', block));
        foreach (var rid in Rids)
        {
            string site = _fx.Scratch($"site-{rid}");
            string prefix = Path.Combine(site, "prefix");
            foreach (var f in new[] { $"{Name(rid)}.tar.gz", "SHA256SUMS" })
                File.Copy(Path.Combine(b.Out, f), Path.Combine(site, f));
            string sys = b.Sysroots[rid];
            string runner = rid == "linux-x64"
                ? $"{Proc.QuoteWord(sys + "/lib64/ld-linux-x86-64.so.2")} --inhibit-cache --library-path {Proc.QuoteWord($"{sys}/lib/{Triple(rid)}:{sys}/usr/lib/{Triple(rid)}")}"
                : $"qemu-aarch64-static -L {Proc.QuoteWord(sys)}";
            var script = new List<string> { $"cd {Proc.QuoteWord(site)}" };
            foreach (var raw in block)
            {
                string line = Regex.Replace(raw, @"\s{2,}#.*$", "").Trim();
                if (line.Length == 0 || line.StartsWith('#'))
                    continue;
                line = line.Replace("VERSION", Version, StringComparison.Ordinal).Replace("linux-x64", rid, StringComparison.Ordinal);
                if (line.StartsWith("sudo ", StringComparison.Ordinal))
                {
                    line = Regex.Replace(line[5..], @"(?<=\s)/(?=usr/|etc/|opt/)", prefix + "/");
                    script.Add($"mkdir -p \"$(dirname {line.Split(' ')[^1]})\"");
                }
                string first = line.Split(' ')[0];
                if (first == "ferry" || first.EndsWith("/ferry", StringComparison.Ordinal))
                    line = $"{runner} {line}";
                script.Add(line);
            }
            script.Add($"{runner} {Proc.QuoteWord(prefix + "/usr/local/bin/ferry")} --version");
            var r = Sh(string.Join('\n', script), $"the README's Install section for {rid} in {site}:\n{string.Join('\n', script)}");
            checks.True(r.Ok, $"{rid}: every line of the Install section succeeds (exit {r.ExitCode}): {r.Stderr.Trim()}");
            checks.True(r.Stdout.Contains($"{Name(rid)}.tar.gz: OK", StringComparison.Ordinal), $"{rid}: sha256sum -c checks the tarball");
            checks.True(r.Stdout.Contains($"{Version}+", StringComparison.Ordinal), $"{rid}: ferry --version");
            checks.True(r.Stdout.Contains(": OK (portable", StringComparison.Ordinal), $"{rid}: ferry verify of the sample's copy says OK");
            checks.True(File.Exists(Path.Combine(prefix, "usr", "local", "bin", "ferry")), $"{rid}: ferry is installed where the section says");
        }
        checks.ThrowIfAny("the README's Install section");
    }
}
