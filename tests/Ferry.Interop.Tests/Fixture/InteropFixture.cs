using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using Ferry.Interop.Tests.Infrastructure;
using Xunit;

namespace Ferry.Interop.Tests.Fixture;

/// <summary>All interop tests share one daemon state, so they run one at a time in this collection.</summary>
[CollectionDefinition(Name)]
public sealed class InteropCollection : ICollectionFixture<InteropFixture>
{
    public const string Name = "Interop";
}

/// <summary>
/// Builds the source images and archives once per run, in a temp directory deleted at the end. Each part (docker,
/// podman, skopeo, containerd) is built on first use and cached — failures too — so a test that needs no podman
/// still runs where podman is missing. The commands of a build are written to the log of the test that triggered it.
/// </summary>
public sealed class InteropFixture : IDisposable
{
    // Image names. The repositories are unusual on purpose; ubuntu:20.04 is what the issue's scenario (a) uses.
    public const string DockerBase = "ferry-interop/base:1";
    public const string DockerApp1 = "ferry-interop/app:1";
    public const string DockerApp2 = "ferry-interop/app:2";
    public const string DockerOther = "ferry-interop/other:1";
    public const string PodmanBase = "docker.io/ferry-interop/pbase:1";
    public const string PodmanApp = "docker.io/ferry-interop/papp:1";
    public const string PodmanUbuntu = "docker.io/library/ubuntu:20.04";
    public const string PodmanOther = "docker.io/ferry-interop/pother:1";
    public const string ContainerdSourceNamespace = "ferry-interop-src";

    private static readonly TimeSpan BuildTimeout = TimeSpan.FromMinutes(5);

    private readonly Step<IReadOnlySet<string>> _dockerKeep;
    private readonly Step<IReadOnlySet<string>> _podmanKeep;
    private readonly Dictionary<string, Step<IReadOnlySet<string>>> _docker26Keep;
    private readonly Step<IReadOnlyDictionary<string, SourceArchive>> _docker;
    private readonly Step<IReadOnlyDictionary<string, SourceArchive>> _podman;
    private readonly Step<IReadOnlyDictionary<string, SourceArchive>> _skopeo;
    private readonly Step<IReadOnlyDictionary<string, SourceArchive>> _ctr;
    private readonly Dictionary<string, Step<string>> _outputs = new(StringComparer.Ordinal);
    private readonly HashSet<string> _namespaces = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private int _scratch;

    public InteropFixture()
    {
        // Lower case only: podman names images pulled from oci:DIR after DIR and rejects upper-case paths.
        string tmp = Path.GetTempPath();
        if (tmp.Any(c => !(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '/' or '.' or '_' or '-')))
            tmp = "/tmp";
        Root = Path.Combine(tmp, "ferry-interop-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(5)));
        Directory.CreateDirectory(Root);
        Directory.CreateDirectory(SourcesDir);
        Directory.CreateDirectory(OutDir);
        _dockerKeep = new("docker: images present before the tests", run => Engines.ListIds(run, Tool.Docker));
        _podmanKeep = new("podman: images present before the tests", run => Engines.ListIds(run, Tool.Podman));
        _docker26Keep = new[] { Tool.Docker26, Tool.Docker26Containerd }.ToDictionary(t => t,
            t => new Step<IReadOnlySet<string>>($"{t}: images present before the tests", run => Engines.ListIds(run, t)), StringComparer.Ordinal);
        _docker = new("docker: build images and `docker save` them", BuildDocker);
        _podman = new("podman: build images and `podman save` them", BuildPodman);
        _skopeo = new("skopeo: `skopeo copy` docker's save to OCI", BuildSkopeo);
        _ctr = new("containerd: `ctr images import` + `ctr images export`", BuildContainerd);
    }

    /// <summary>The temp directory holding everything of this run.</summary>
    public string Root { get; }

    public string SourcesDir => Path.Combine(Root, "sources");

    public string OutDir => Path.Combine(Root, "out");

    /// <summary>Image IDs docker had before the tests; never removed.</summary>
    public IReadOnlySet<string> DockerKeep(Runner run) => _dockerKeep.Get(run);

    /// <summary>Image IDs podman had before the tests; never removed.</summary>
    public IReadOnlySet<string> PodmanKeep(Runner run) => _podmanKeep.Get(run);

    /// <summary>Removes every docker image the tests made or loaded.</summary>
    public void WipeDocker(Runner run) => Engines.Wipe(run, Tool.Docker, DockerKeep(run));

    /// <summary>Removes every image the tests made or loaded from one of the docker daemons (<see cref="Tool.Dockers"/>).</summary>
    public void WipeDocker(Runner run, string tool)
    {
        if (tool == Tool.Docker)
            WipeDocker(run);
        else
            Engines.Wipe(run, tool, _docker26Keep[tool].Get(run));
    }

    /// <summary>Removes every podman image the tests made or loaded.</summary>
    public void WipePodman(Runner run) => Engines.Wipe(run, Tool.Podman, PodmanKeep(run));

    /// <summary>A fresh containerd namespace for one test (its images are removed at the end of the run).</summary>
    public string NewNamespace(string hint)
    {
        string ns = $"ferry-interop-{Interlocked.Increment(ref _scratch)}-{Sanitize(hint)}";
        lock (_lock)
            _namespaces.Add(ns);
        return ns;
    }

    /// <summary>A new empty directory under the run's temp dir.</summary>
    public string Scratch(string hint)
    {
        string d = Path.Combine(Root, "work", $"{Interlocked.Increment(ref _scratch)}-{Sanitize(hint)}");
        Directory.CreateDirectory(d);
        return d;
    }

    /// <summary>The source archive <paramref name="key"/> (one of <see cref="Sources.All"/>), built on first use.</summary>
    public SourceArchive Source(Runner run, string key) => Source(run, key, describe: true);

    private SourceArchive Source(Runner run, string key, bool describe)
    {
        var part = key switch
        {
            Sources.DockerOne or Sources.DockerMulti or Sources.DockerUntagged or Sources.DockerGzip => _docker,
            Sources.PodmanDocker or Sources.PodmanOci or Sources.PodmanMulti => _podman,
            Sources.SkopeoGzip or Sources.SkopeoZstd or Sources.SkopeoDir => _skopeo,
            Sources.CtrExport => _ctr,
            _ => throw new ArgumentException($"unknown source '{key}'", nameof(key)),
        };
        var src = part.Get(run)[key];
        if (describe)
            run.Log.Line(src.Describe());
        return src;
    }

    /// <summary>
    /// Ferry's conversion of source <paramref name="key"/> to <paramref name="format"/> (`ferry copy SRC OUT --format F`),
    /// made once and shared by the tests of every loader. Throws when ferry fails.
    /// </summary>
    public string Output(Runner run, string key, string format)
    {
        var src = Source(run, key, describe: false);
        Step<string> step;
        lock (_lock)
        {
            string id = key + "|" + format;
            if (!_outputs.TryGetValue(id, out step!))
            {
                step = new($"ferry copy {key} --format {format}", r =>
                {
                    string output = Path.Combine(OutDir, Sources.OutputName(key, format));
                    r.MustFerry("copy", src.Path, output, "--format", format);
                    return output;
                });
                _outputs[id] = step;
            }
        }
        return step.Get(run);
    }

    public void Dispose()
    {
        var run = new Runner(new Transcript());
        TryCleanup(() =>
        {
            if (_dockerKeep.Built && Tool.WhyUnavailable(Tool.Docker) is null)
                WipeDocker(run);
        });
        TryCleanup(() =>
        {
            if (_podmanKeep.Built && Tool.WhyUnavailable(Tool.Podman) is null)
                WipePodman(run);
        });
        foreach (var (tool, keep) in _docker26Keep)
        {
            TryCleanup(() =>
            {
                if (keep.Built && Tool.WhyUnavailable(tool) is null)
                    Engines.Wipe(run, tool, keep.Get(run));
            });
        }
        TryCleanup(() =>
        {
            if (Tool.WhyUnavailable(Tool.Containerd) is not null)
                return;
            List<string> namespaces;
            lock (_lock)
                namespaces = [.. _namespaces];
            if (_ctr.Built)
                namespaces.Add(ContainerdSourceNamespace);
            foreach (var ns in namespaces)
            {
                ContainerdTool.Clear(run, ns);
                run.Ctr("namespaces", "rm", ns);
            }
        });
        TryCleanup(() => DeleteTree(Root));
    }

    private static void TryCleanup(Action a)
    {
        try
        {
            a();
        }
        catch (Exception e) when (e is InteropException or IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            Console.Error.WriteLine($"ferry interop fixture cleanup: {e.Message}");
        }
    }

    private static void DeleteTree(string dir)
    {
        if (!Directory.Exists(dir))
            return;
        try
        {
            Directory.Delete(dir, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // e.g. read-only directories inside an unpacked bundle: make everything writable and retry.
            if (OperatingSystem.IsWindows())
                throw;
            foreach (var d in Directory.EnumerateDirectories(dir, "*", SearchOption.AllDirectories))
                File.SetUnixFileMode(d, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            Directory.Delete(dir, recursive: true);
        }
    }

    private static string Sanitize(string s) =>
        new([.. s.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' ? c : '-').Take(60)]);

    // ------------------------------------------------------------------ docker

    private Dictionary<string, SourceArchive> BuildDocker(Runner run)
    {
        DockerKeep(run); // record what was there before anything is built
        string build = Path.Combine(Root, "build-docker");
        Directory.CreateDirectory(build);
        string rootfs = Path.Combine(build, "rootfs.tar");
        WriteBusyboxRootfs(rootfs);
        var env = new Dictionary<string, string>(StringComparer.Ordinal) { ["DOCKER_BUILDKIT"] = "0" };

        run.Must(Tool.Docker, ["import", "--change", "ENV PATH=/bin", rootfs, DockerBase], BuildTimeout);

        // app: two more layers (a text file, a directory with a binary-ish file), ENV, LABEL, CMD; two tags.
        string app = Context(build, "app", new()
        {
            ["Dockerfile"] = $"""
                FROM {DockerBase}
                COPY hello.txt /app/hello.txt
                COPY data/ /app/data/
                ENV APP_MODE=interop APP_VERSION=1
                LABEL org.opencontainers.image.title="ferry-interop-app" org.example.role="app"
                CMD ["/bin/cat", "/app/hello.txt"]

                """,
            ["hello.txt"] = "Hello from the ferry interop app image.\n",
        }, ("data/blob.bin", PseudoRandom("app", 48 * 1024)));
        run.Must(Tool.Docker, ["build", "-q", "-t", DockerApp1, "-t", DockerApp2, app], BuildTimeout, env: env);

        // other: shares the base layer, one layer of its own.
        string other = Context(build, "other", new()
        {
            ["Dockerfile"] = $"""
                FROM {DockerBase}
                COPY other.txt /other.txt
                CMD ["/bin/cat", "/other.txt"]

                """,
            ["other.txt"] = "The other image.\n",
        });
        run.Must(Tool.Docker, ["build", "-q", "-t", DockerOther, other], BuildTimeout, env: env);

        // untagged: built without -t, saved by ID.
        string untagged = Context(build, "untagged", new()
        {
            ["Dockerfile"] = $"""
                FROM {DockerBase}
                COPY untagged.txt /untagged.txt
                LABEL org.example.role="untagged"

                """,
            ["untagged.txt"] = "No tag on this one.\n",
        });
        var u = run.Must(Tool.Docker, ["build", "-q", untagged], BuildTimeout, env: env);
        string untaggedId = u.Stdout.Trim().Split('\n')[^1].Trim();
        if (!untaggedId.StartsWith("sha256:", StringComparison.Ordinal))
            throw new InteropException($"docker build -q printed no image ID: '{u.Stdout}'");

        ExpectedImage Expect(string reference, params string[] names)
        {
            var s = Engines.DockerInspect(run, reference) ?? throw new InteropException($"docker does not know {reference} after building it");
            var want = ImageNames.NormalizeAll(names);
            var missing = want.Except(s.Names, StringComparer.Ordinal).ToList();
            if (missing.Count > 0)
                throw new InteropException($"docker image inspect {reference}: RepoTags lack {string.Join(", ", missing)}");
            return new ExpectedImage(s.Id, want, s.DiffIds);
        }

        var app1 = Expect(DockerApp1, DockerApp1);
        var app12 = Expect(DockerApp1, DockerApp1, DockerApp2);
        var oth = Expect(DockerOther, DockerOther);
        var unt = Expect(untaggedId);

        string one = Path.Combine(SourcesDir, "docker-one.tar");
        string multi = Path.Combine(SourcesDir, "docker-multi.tar");
        string byId = Path.Combine(SourcesDir, "docker-untagged.tar");
        string gz = Path.Combine(SourcesDir, "docker-one.tar.gz");
        run.Must(Tool.Docker, ["save", "-o", one, DockerApp1], BuildTimeout);
        run.Must(Tool.Docker, ["save", "-o", multi, DockerApp1, DockerApp2, DockerOther], BuildTimeout);
        run.Must(Tool.Docker, ["save", "-o", byId, untaggedId], BuildTimeout);
        using (var input = File.OpenRead(one))
        using (var output = File.Create(gz))
        using (var z = new GZipStream(output, CompressionLevel.Fastest))
            input.CopyTo(z);
        run.Log.Line($"(wrote {gz}: `docker save {DockerApp1} | gzip`)");

        return new Dictionary<string, SourceArchive>(StringComparer.Ordinal)
        {
            [Sources.DockerOne] = new(Sources.DockerOne, one, $"docker save -o docker-one.tar {DockerApp1}", [app1]),
            [Sources.DockerMulti] = new(Sources.DockerMulti, multi, $"docker save -o docker-multi.tar {DockerApp1} {DockerApp2} {DockerOther}", [app12, oth]),
            [Sources.DockerUntagged] = new(Sources.DockerUntagged, byId, $"docker save -o docker-untagged.tar {untaggedId}", [unt]),
            [Sources.DockerGzip] = new(Sources.DockerGzip, gz, $"docker save {DockerApp1} | gzip > docker-one.tar.gz", [app1]),
        };
    }

    // ------------------------------------------------------------------ podman

    private Dictionary<string, SourceArchive> BuildPodman(Runner run)
    {
        PodmanKeep(run);
        string build = Path.Combine(Root, "build-podman");
        Directory.CreateDirectory(build);
        string rootfs = Path.Combine(build, "rootfs.tar");
        WriteBusyboxRootfs(rootfs);

        run.Must(Tool.Podman, ["import", "--change", "ENV PATH=/bin", rootfs, PodmanBase], BuildTimeout);
        string app = Context(build, "papp", new()
        {
            ["Containerfile"] = $"""
                FROM {PodmanBase}
                COPY p.txt /p/p.txt
                COPY data/ /p/data/
                ENV POD_MODE=interop
                LABEL org.opencontainers.image.title="ferry-interop-papp"
                CMD ["/bin/cat", "/p/p.txt"]

                """,
            ["p.txt"] = "Hello from the podman-built image.\n",
        }, ("data/blob.bin", PseudoRandom("papp", 40 * 1024)));
        run.Must(Tool.Podman, ["build", "-q", "--pull=never", "-t", PodmanApp, "-t", PodmanUbuntu, "-f", Path.Combine(app, "Containerfile"), app], BuildTimeout);
        string other = Context(build, "pother", new()
        {
            ["Containerfile"] = $"""
                FROM {PodmanBase}
                COPY o.txt /o.txt
                CMD ["/bin/cat", "/o.txt"]

                """,
            ["o.txt"] = "The other podman image.\n",
        });
        run.Must(Tool.Podman, ["build", "-q", "--pull=never", "-t", PodmanOther, "-f", Path.Combine(other, "Containerfile"), other], BuildTimeout);

        ExpectedImage Expect(string reference, params string[] names)
        {
            var s = Engines.PodmanInspect(run, reference) ?? throw new InteropException($"podman does not know {reference} after building it");
            var want = ImageNames.NormalizeAll(names);
            var missing = want.Except(s.Names, StringComparer.Ordinal).ToList();
            if (missing.Count > 0)
                throw new InteropException($"podman image inspect {reference}: RepoTags lack {string.Join(", ", missing)}");
            return new ExpectedImage(s.Id, want, s.DiffIds);
        }

        string dock = Path.Combine(SourcesDir, "podman-docker.tar");
        string oci = Path.Combine(SourcesDir, "podman-oci.tar");
        string multi = Path.Combine(SourcesDir, "podman-multi.tar");
        run.Must(Tool.Podman, ["save", "-q", "--format", "docker-archive", "-o", dock, PodmanApp], BuildTimeout);
        run.Must(Tool.Podman, ["save", "-q", "--format", "oci-archive", "-o", oci, PodmanUbuntu], BuildTimeout);
        run.Must(Tool.Podman, ["save", "-q", "--multi-image-archive", "--format", "docker-archive", "-o", multi, PodmanApp, PodmanUbuntu, PodmanOther], BuildTimeout);

        return new Dictionary<string, SourceArchive>(StringComparer.Ordinal)
        {
            [Sources.PodmanDocker] = new(Sources.PodmanDocker, dock, $"podman save --format docker-archive {PodmanApp}", [Expect(PodmanApp, PodmanApp)]),
            [Sources.PodmanOci] = new(Sources.PodmanOci, oci, $"podman save --format oci-archive {PodmanUbuntu}", [Expect(PodmanUbuntu, PodmanUbuntu)]),
            [Sources.PodmanMulti] = new(Sources.PodmanMulti, multi, $"podman save --multi-image-archive --format docker-archive {PodmanApp} {PodmanUbuntu} {PodmanOther}",
                [Expect(PodmanApp, PodmanApp, PodmanUbuntu), Expect(PodmanOther, PodmanOther)]),
        };
    }

    // ------------------------------------------------------------------ skopeo

    private Dictionary<string, SourceArchive> BuildSkopeo(Runner run)
    {
        var docker = _docker.Get(run);
        string one = docker[Sources.DockerOne].Path;
        string multi = docker[Sources.DockerMulti].Path;
        string app = ImageNames.Normalize(DockerApp1);
        string other = ImageNames.Normalize(DockerOther);
        string gz = Path.Combine(SourcesDir, "skopeo-gzip.tar");
        string zst = Path.Combine(SourcesDir, "skopeo-zstd.tar");
        string dir = Path.Combine(SourcesDir, "skopeo-oci-dir");

        run.Must(Tool.Skopeo, ["copy", "-q", $"docker-archive:{one}", $"oci-archive:{gz}:{app}"], BuildTimeout);
        // skopeo 1.9: --dest-compress-format applies to every destination, not only dir:.
        run.Must(Tool.Skopeo, ["copy", "-q", "--dest-compress-format", "zstd", $"docker-archive:{one}", $"oci-archive:{zst}:{app}"], BuildTimeout);
        run.Must(Tool.Skopeo, ["copy", "-q", $"docker-archive:{multi}:{DockerApp1}", $"oci:{dir}:{app}"], BuildTimeout);
        run.Must(Tool.Skopeo, ["copy", "-q", $"docker-archive:{multi}:{DockerOther}", $"oci:{dir}:{other}"], BuildTimeout);

        var zstdEntries = OciIndex.Read(zst);
        var zstdLayers = zstdEntries.SelectMany(e => OciIndex.LayerMediaTypes(zst, e.Digest)).ToList();
        run.Log.Line($"(skopeo zstd archive layers: {string.Join(", ", zstdLayers)})");
        if (zstdLayers.Count == 0 || !zstdLayers.All(m => m.EndsWith("+zstd", StringComparison.Ordinal)))
            throw new InteropException($"skopeo --dest-compress-format zstd did not write zstd layers: {string.Join(", ", zstdLayers)}");

        ExpectedImage Expect(string transportRef, string name)
        {
            var c = SkopeoTool.Config(run, transportRef) ?? throw new InteropException($"skopeo cannot read back {transportRef}");
            return new ExpectedImage(c.Id, [name], c.DiffIds);
        }

        return new Dictionary<string, SourceArchive>(StringComparer.Ordinal)
        {
            [Sources.SkopeoGzip] = new(Sources.SkopeoGzip, gz, $"skopeo copy docker-archive:docker-one.tar oci-archive:skopeo-gzip.tar:{app}",
                [Expect($"oci-archive:{gz}:{app}", app)]),
            [Sources.SkopeoZstd] = new(Sources.SkopeoZstd, zst, $"skopeo copy --dest-compress-format zstd docker-archive:docker-one.tar oci-archive:skopeo-zstd.tar:{app}",
                [Expect($"oci-archive:{zst}:{app}", app)]),
            [Sources.SkopeoDir] = new(Sources.SkopeoDir, dir, $"skopeo copy docker-archive:docker-multi.tar:NAME oci:skopeo-oci-dir:NAME for {app} and {other}",
                [Expect($"oci:{dir}:{app}", app), Expect($"oci:{dir}:{other}", other)]),
        };
    }

    // ------------------------------------------------------------------ containerd

    private Dictionary<string, SourceArchive> BuildContainerd(Runner run)
    {
        var docker = _docker.Get(run);
        string multi = docker[Sources.DockerMulti].Path;
        string ns = ContainerdSourceNamespace;
        string[] names = [ImageNames.Normalize(DockerApp1), ImageNames.Normalize(DockerApp2), ImageNames.Normalize(DockerOther)];
        ContainerdTool.Clear(run, ns);
        run.Must(Tool.Containerd, ["-n", ns, "images", "import", "--no-unpack", multi], BuildTimeout);
        string export = Path.Combine(SourcesDir, "ctr-export.tar");
        run.Must(Tool.Containerd, ["-n", ns, "images", "export", export, .. names], BuildTimeout);

        var listed = ContainerdTool.ListImages(run, ns);
        var images = new List<ExpectedImage>();
        foreach (var n in names)
        {
            if (!listed.TryGetValue(n, out var manifest))
                throw new InteropException($"ctr images ls -n {ns} does not list {n} after the import");
            var s = ContainerdTool.Resolve(run, ns, manifest);
            images.Add(new ExpectedImage(s.Id, [n], s.DiffIds));
        }
        return new Dictionary<string, SourceArchive>(StringComparer.Ordinal)
        {
            [Sources.CtrExport] = new(Sources.CtrExport, export, $"ctr images import docker-multi.tar; ctr images export ctr-export.tar {string.Join(' ', names)}",
                [.. images.GroupBy(i => i.Id, StringComparer.Ordinal).Select(g => new ExpectedImage(g.Key, [.. g.SelectMany(i => i.Names).Order(StringComparer.Ordinal)], g.First().DiffIds))]),
        };
    }

    // ------------------------------------------------------------------ helpers

    /// <summary>A rootfs tar with the static busybox and a few applet links (no network: this is the base of every image).</summary>
    public static void WriteBusyboxRootfs(string path)
    {
        const string busybox = "/bin/busybox";
        if (!File.Exists(busybox))
            throw new InteropException($"{busybox} not found (install busybox-static): the test images are built from it");
        var mtime = new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);
        const UnixFileMode dirMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
            UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;
        using var fs = File.Create(path);
        using var w = new TarWriter(fs, TarEntryFormat.Ustar, leaveOpen: false);
        w.WriteEntry(new UstarTarEntry(TarEntryType.Directory, "bin/") { Mode = dirMode, ModificationTime = mtime });
        using (var data = File.OpenRead(busybox))
            w.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, "bin/busybox") { Mode = dirMode, ModificationTime = mtime, DataStream = data });
        foreach (var applet in new[] { "sh", "cat", "ls", "echo" })
        {
            w.WriteEntry(new UstarTarEntry(TarEntryType.SymbolicLink, "bin/" + applet)
            {
                LinkName = "busybox",
                Mode = dirMode,
                ModificationTime = mtime,
            });
        }
        w.WriteEntry(new UstarTarEntry(TarEntryType.Directory, "tmp/") { Mode = dirMode, ModificationTime = mtime });
    }

    private static string Context(string parent, string name, Dictionary<string, string> textFiles, params (string Name, byte[] Data)[] binaryFiles)
    {
        string dir = Path.Combine(parent, name);
        Directory.CreateDirectory(dir);
        foreach (var (file, text) in textFiles)
            Write(dir, file, Encoding.UTF8.GetBytes(text));
        foreach (var (file, data) in binaryFiles)
            Write(dir, file, data);
        return dir;

        static void Write(string dir, string file, byte[] data)
        {
            string p = Path.Combine(dir, file);
            Directory.CreateDirectory(Path.GetDirectoryName(p)!);
            File.WriteAllBytes(p, data);
        }
    }

    /// <summary>Deterministic, poorly compressible bytes (a SHA-256 chain), so layers are not trivially small.</summary>
    private static byte[] PseudoRandom(string seed, int length)
    {
        var result = new byte[length];
        byte[] block = SHA256.HashData(Encoding.UTF8.GetBytes(seed));
        for (int off = 0; off < length; off += block.Length)
        {
            block = SHA256.HashData(block);
            Array.Copy(block, 0, result, off, Math.Min(block.Length, length - off));
        }
        return result;
    }

    /// <summary>A build step run once; its result (or failure) is cached for the rest of the run.</summary>
    private sealed class Step<T>
    {
        private readonly string _name;
        private readonly Func<Runner, T> _build;
        private readonly Lock _gate = new();
        private T? _value;
        private bool _done;
        private Exception? _error;

        public Step(string name, Func<Runner, T> build)
        {
            _name = name;
            _build = build;
        }

        public bool Built
        {
            get
            {
                lock (_gate)
                    return _done;
            }
        }

        public T Get(Runner run)
        {
            lock (_gate)
            {
                if (_done)
                {
                    run.Log.Line($"[fixture] {_name}: reusing the result made earlier in this run");
                    return _value!;
                }
                if (_error is not null)
                    throw new InteropException($"fixture step '{_name}' failed earlier in this run: {_error.Message}", _error);
                run.Log.Line($"[fixture] {_name} (first use; later tests reuse the result)");
                try
                {
                    _value = _build(run);
                    _done = true;
                    run.Log.Line($"[fixture] {_name}: done");
                    return _value;
                }
                catch (Exception e)
                {
                    _error = e;
                    run.Log.Line($"[fixture] {_name}: FAILED: {e.Message}");
                    throw;
                }
            }
        }
    }
}
