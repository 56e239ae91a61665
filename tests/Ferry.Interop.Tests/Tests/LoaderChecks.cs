using Ferry.Interop.Tests.Fixture;
using Ferry.Interop.Tests.Infrastructure;

namespace Ferry.Interop.Tests.Tests;

/// <summary>
/// Loads an archive into a real tool and compares what the tool reports (image ID, diff_ids, names) with what the
/// source's producer reported. Mismatches go to <see cref="Checks"/>; commands and output to the transcript.
/// </summary>
public static class LoaderChecks
{
    // ------------------------------------------------------------------ docker

    /// <summary>
    /// `docker load -i ARCHIVE` into a docker that has none of the test images (so the layers are really applied),
    /// then `docker image inspect` of every expected name (or ID when untagged).
    /// </summary>
    public static void DockerLoad(InteropFixture fx, Runner run, Checks checks, string archive, IReadOnlyList<ExpectedImage> expected) =>
        DockerLoad(fx, run, checks, Tool.Docker, archive, expected);

    /// <summary>
    /// `docker load -i ARCHIVE` into one of the docker daemons (<see cref="Tool.Dockers"/>), emptied first, then
    /// `docker image inspect` of every expected name (or ID when untagged): names and diff_ids as the producer reported
    /// them, and the image ID each store gives: the config digest in the classic store; in the containerd image store
    /// the digest of the image's index.json entry in <paramref name="archive"/> (its manifest or index), which must be
    /// kept. A docker-archive has no index.json: the containerd store then makes a manifest up, so its ID is not checked.
    /// </summary>
    public static void DockerLoad(InteropFixture fx, Runner run, Checks checks, string tool, string archive, IReadOnlyList<ExpectedImage> expected)
    {
        fx.WipeDocker(run, tool);
        bool containerd = Tool.UsesContainerdStore(tool);
        IReadOnlyList<IndexEntry>? index = containerd && OciIndex.ReadFile(archive, "index.json") is not null ? OciIndex.Read(archive) : null;
        foreach (var e in expected)
        {
            if (Engines.Inspect(run, tool, e.Id) is not null)
                checks.Fail($"{tool} still has {e.Id} after removing the test images, so the load would not apply its layers");
        }
        var r = run.Exec(tool, ["load", "-i", archive]);
        if (!checks.True(r.Ok, $"`{tool} load -i {archive}` failed (exit {r.ExitCode}): {Short(r)}"))
            return;
        var loadedNames = Lines(r.Stdout, "Loaded image: ").Select(ImageNames.Normalize).ToList();
        var loadedIds = Lines(r.Stdout, "Loaded image ID: ").ToList();
        foreach (var e in ById(expected))
        {
            // What the store calls the image: the config digest, or (containerd store) the index.json entry's digest.
            string? id = !containerd ? e.Id : index is null ? null : StoreId(archive, index, e);
            if (containerd && index is not null && id is null)
                checks.Fail($"{archive}: no index.json entry for {e} (the containerd store would not keep its digest)");
            var want = id is null ? null : e with { Id = id };
            if (e.Names.Count == 0)
            {
                if (id is null)
                    continue;
                checks.True(loadedIds.Contains(id, StringComparer.Ordinal), $"{tool} load did not print 'Loaded image ID: {id}'");
                Compare(checks, tool, id, want!, Engines.Inspect(run, tool, id), compareNames: true);
                continue;
            }
            foreach (var n in e.Names)
            {
                checks.True(loadedNames.Contains(n, StringComparer.Ordinal), $"{tool} load did not print 'Loaded image: {n}' (short form accepted)");
                var state = Engines.Inspect(run, tool, n);
                if (want is not null)
                {
                    Compare(checks, tool, n, want, state, compareNames: true);
                }
                else if (checks.True(state is not null, $"{tool} does not know {n} after loading"))
                {
                    checks.Sequence(e.DiffIds, state!.DiffIds, $"{tool} RootFS.Layers (diff_ids) of {n}");
                    checks.Set(e.Names, state.Names, $"{tool} RepoTags of {n}");
                }
            }
        }
        var extra = loadedNames.Except(AllNames(expected), StringComparer.Ordinal).ToList();
        checks.True(extra.Count == 0, $"{tool} load created names the source does not have: {string.Join(", ", extra)}");
    }

    /// <summary>
    /// The digest of the index.json entry for an image: the entry named like it (the first of its names), or for an
    /// untagged image the unnamed entry whose manifest (or one of whose index's manifests) has its config.
    /// </summary>
    public static string? StoreId(string layout, IReadOnlyList<IndexEntry> index, ExpectedImage e)
    {
        if (e.Names.Count > 0)
            return index.FirstOrDefault(x => x.ContainerdName is { } c && ImageNames.Normalize(c) == e.Names[0])?.Digest;
        return index.FirstOrDefault(x => x.ContainerdName is null && x.RefName is null && HasConfig(layout, x.Digest, e.Id, 0))?.Digest;
    }

    private static bool HasConfig(string layout, string digest, string config, int depth)
    {
        if (depth > 4 || OciIndex.ReadBlob(layout, digest) is not string json)
            return false;
        using var doc = JsonUtil.Parse(json, $"{layout}: {digest}");
        if (doc.RootElement.Prop("config")?.Str("digest") == config)
            return true;
        return doc.RootElement.Prop("manifests") is { ValueKind: System.Text.Json.JsonValueKind.Array } ms
            && ms.EnumerateArray().Any(m => m.Str("digest") is string d && HasConfig(layout, d, config, depth + 1));
    }

    /// <summary>
    /// A daemon with the classic image store cannot load an OCI archive without manifest.json (docker 20.10 and 26 both
    /// fail with ".../blobs/json: no such file or directory"): the README's table says so, and this checks it stays true.
    /// </summary>
    public static void DockerClassicRefusesOciArchive(InteropFixture fx, Runner run, Checks checks, string tool, string archive)
    {
        fx.WipeDocker(run, tool);
        var r = run.Exec(tool, ["load", "-i", archive]);
        checks.True(!r.Ok && (r.Stderr + r.Stdout).Contains("blobs/json", StringComparison.Ordinal),
            $"`{tool} load -i {archive}` (an OCI archive without manifest.json) was expected to fail with '…/blobs/json: no such file or directory', as the README says; it gave exit {r.ExitCode}: {Short(r)}");
    }

    // ------------------------------------------------------------------ podman

    /// <summary>
    /// `podman load -i OUTPUT` (tars and OCI directories). podman 4.3 cannot `podman load` an OCI archive or directory whose
    /// index has several entries ("more than one image in oci, choose an image"); those images are then pulled one by one
    /// with `podman pull oci-archive:PATH:REF` / `oci:DIR:REF`, which must still give every image (and, for archives, name).
    /// podman names images from an OCI directory after the directory, so there only IDs and diff_ids are compared.
    /// </summary>
    public static void PodmanLoad(InteropFixture fx, Runner run, Checks checks, string output, string format, IReadOnlyList<ExpectedImage> expected)
    {
        fx.WipePodman(run);
        bool dir = format == Sources.Oci;
        if (dir)
        {
            run.Log.Line("NOTE: podman 4.3 names images loaded or pulled from an OCI directory after the directory " +
                "(localhost/PATH:latest), whatever the annotations say; so only IDs and diff_ids are compared");
        }
        var r = run.Podman("load", "-i", output);
        if (!r.Ok && format is Sources.OciArchive or Sources.Oci && r.Stderr.Contains("more than one image", StringComparison.Ordinal))
        {
            run.Log.Line("NOTE: known podman 4.3 limitation: `podman load` refuses an OCI layout whose index has several entries; " +
                $"pulling each image with `podman pull {(dir ? "oci" : "oci-archive")}:PATH:REF` instead");
            PodmanPullEach(run, checks, dir ? "oci" : "oci-archive", output, expected, namesKept: !dir);
            return;
        }
        if (!checks.True(r.Ok, $"`podman load -i {output}` failed (exit {r.ExitCode}): {Short(r)}"))
            return;
        var loaded = Lines(r.Stdout, "Loaded image: ").Concat(Lines(r.Stdout, "Loaded image(s): ").SelectMany(l => l.Split(',')))
            .Select(s => s.Trim()).Where(s => s.Length > 0)
            .Select(s => s.StartsWith("sha256:", StringComparison.Ordinal) ? s : ImageNames.Normalize(s)).ToList();
        foreach (var e in ById(expected))
        {
            if (dir)
            {
                Compare(checks, "podman", e.Id, e, Engines.PodmanInspect(run, e.Id), compareNames: false);
                continue;
            }
            if (e.Names.Count == 0)
            {
                checks.True(loaded.Contains(e.Id, StringComparer.Ordinal), $"podman load did not print 'Loaded image: {e.Id}' for the untagged image");
                Compare(checks, "podman", e.Id, e, Engines.PodmanInspect(run, e.Id), compareNames: true);
                continue;
            }
            foreach (var n in e.Names)
            {
                checks.True(loaded.Contains(n, StringComparer.Ordinal), $"podman load did not print 'Loaded image: {n}'");
                Compare(checks, "podman", n, e, Engines.PodmanInspect(run, n), compareNames: true);
            }
        }
    }

    private static void PodmanPullEach(Runner run, Checks checks, string transport, string layout, IReadOnlyList<ExpectedImage> expected, bool namesKept)
    {
        var entries = OciIndex.Read(layout);
        foreach (var e in ById(expected))
        {
            foreach (var n in Targets(e))
            {
                var (ok, refName) = SelectRef(checks, run.Log, entries, layout, n);
                if (!ok)
                    continue;
                string reference = refName is null ? $"{transport}:{layout}" : $"{transport}:{layout}:{refName}";
                var r = run.Podman("pull", "-q", reference);
                if (!checks.True(r.Ok, $"`podman pull {reference}` failed (exit {r.ExitCode}): {Short(r)}"))
                    continue;
                string id = JsonUtil.WithSha256Prefix(r.Stdout.Trim().Split('\n')[^1].Trim());
                checks.Equal(e.Id, id, $"image ID podman pulled from {reference} (for {n ?? "the untagged image"})");
                var state = Engines.PodmanInspect(run, id);
                Compare(checks, "podman", id, e, state, compareNames: false);
                if (namesKept && n is not null && state is not null)
                    checks.True(state.Names.Contains(n, StringComparer.Ordinal), $"podman named the image pulled from {reference} [{string.Join(", ", state.Names)}], not {n}");
            }
        }
    }

    // ------------------------------------------------------------------ skopeo

    /// <summary>
    /// skopeo reads every image: through docker-archive: (portable, docker-archive) and oci-archive:/oci: (portable,
    /// oci-archive, oci), selecting each by name; `skopeo inspect --raw --config` gives the ID and diff_ids, and one
    /// `skopeo copy ... dir:` per image makes it read and verify every blob.
    /// </summary>
    public static void SkopeoRead(InteropFixture fx, Runner run, Checks checks, string output, string format, IReadOnlyList<ExpectedImage> expected)
    {
        if (format is Sources.Portable or Sources.DockerArchive)
        {
            var images = ById(expected);
            foreach (var e in images)
            {
                var refs = e.Names.Count > 0
                    ? e.Names.Select(n => $"docker-archive:{output}:{n}").ToList()
                    : images.Count == 1 ? [$"docker-archive:{output}"] : [];
                checks.True(refs.Count > 0, $"untagged image {e.Id} in a multi-image docker-archive cannot be selected by name");
                foreach (var reference in refs)
                    SkopeoImage(fx, run, checks, reference, e, copy: reference == refs[0]);
            }
        }
        if (format is Sources.Portable or Sources.OciArchive or Sources.Oci)
        {
            string transport = format == Sources.Oci ? "oci" : "oci-archive";
            var entries = OciIndex.Read(output);
            foreach (var e in ById(expected))
            {
                bool first = true;
                foreach (var n in Targets(e))
                {
                    var (ok, refName) = SelectRef(checks, run.Log, entries, output, n);
                    if (!ok)
                        continue;
                    SkopeoImage(fx, run, checks, refName is null ? $"{transport}:{output}" : $"{transport}:{output}:{refName}", e, copy: first);
                    first = false;
                }
            }
        }
    }

    private static void SkopeoImage(InteropFixture fx, Runner run, Checks checks, string reference, ExpectedImage e, bool copy)
    {
        var state = SkopeoTool.Config(run, reference);
        if (!checks.True(state is not null, $"`skopeo inspect --raw --config {reference}` failed (see the log)"))
            return;
        checks.Equal(e.Id, state!.Id, $"image ID (sha256 of the config) skopeo reads from {reference}");
        checks.Sequence(e.DiffIds, state.DiffIds, $"diff_ids skopeo reads from {reference}");
        var inspect = run.Skopeo("inspect", reference);
        checks.True(inspect.Ok, $"`skopeo inspect {reference}` failed: {Short(inspect)}");
        if (copy)
        {
            string dir = Path.Combine(fx.Scratch("skopeo-dir"), "image");
            var r = run.Skopeo("copy", "-q", reference, $"dir:{dir}");
            checks.True(r.Ok, $"`skopeo copy {reference} dir:...` (reads and verifies every blob) failed: {Short(r)}");
        }
    }

    // ------------------------------------------------------------------ containerd

    /// <summary>
    /// `ctr images import --digests` (which unpacks, so containerd applies the layers and checks their diff_ids) into a
    /// fresh namespace; every expected name must be listed and resolve to the expected config.
    /// </summary>
    public static void ContainerdImport(InteropFixture fx, Runner run, Checks checks, string archive, IReadOnlyList<ExpectedImage> expected)
    {
        string ns = fx.NewNamespace(Path.GetFileName(archive));
        var r = run.Ctr("-n", ns, "images", "import", "--digests", archive);
        if (!checks.True(r.Ok, $"`ctr -n {ns} images import --digests {archive}` failed (exit {r.ExitCode}): {Short(r)}"))
            return;
        var listed = ContainerdTool.ListImages(run, ns);
        var named = listed.Keys.Where(k => !k.StartsWith("import-", StringComparison.Ordinal)).Select(ImageNames.Normalize).ToList();
        checks.Set(AllNames(expected), named, "names containerd imported");
        foreach (var e in ById(expected))
        {
            if (e.Names.Count == 0)
            {
                var ids = listed.Where(kv => kv.Key.StartsWith("import-", StringComparison.Ordinal))
                    .Select(kv => ContainerdTool.Resolve(run, ns, kv.Value).Id).ToList();
                checks.True(ids.Contains(e.Id, StringComparer.Ordinal), $"containerd imported no image with config {e.Id} (import-* refs resolve to {string.Join(", ", ids)})");
                continue;
            }
            foreach (var n in e.Names)
            {
                var key = listed.Keys.FirstOrDefault(k => ImageNames.Normalize(k) == n);
                if (!checks.True(key is not null, $"containerd did not import {n}"))
                    continue;
                var s = ContainerdTool.Resolve(run, ns, listed[key!]);
                checks.Equal(e.Id, s.Id, $"config digest of {n} in containerd");
                checks.Sequence(e.DiffIds, s.DiffIds, $"diff_ids of {n} in containerd");
            }
        }
        ContainerdTool.Clear(run, ns);
    }

    // ------------------------------------------------------------------ umoci

    /// <summary>`umoci unpack --image DIR:REF` of every image of an OCI layout directory (umoci 0.4.7 has no zstd: stat only).</summary>
    public static void UmociUnpack(InteropFixture fx, Runner run, Checks checks, string dir, IReadOnlyList<ExpectedImage> expected)
    {
        var ls = run.Umoci("ls", "--layout", dir);
        checks.True(ls.Ok, $"`umoci ls --layout {dir}` failed: {Short(ls)}");
        var entries = OciIndex.Read(dir);
        foreach (var e in ById(expected))
        {
            if (e.Names.Count == 0)
            {
                run.Log.Line($"NOTE: umoci selects images by ref name only; untagged {e.Id} is not checked with umoci");
                continue;
            }
            foreach (var n in e.Names)
            {
                var (ok, refName) = SelectRef(checks, run.Log, entries, dir, n);
                if (!ok || refName is null)
                    continue;
                var entry = entries.First(x => x.RefName == refName);
                checks.Equal(e.Id, ConfigDigest(dir, entry.Digest), $"config digest of the manifest ref.name '{refName}' selects (for {n})");
                checks.True(ls.Stdout.Split('\n').Select(l => l.Trim()).Contains(refName, StringComparer.Ordinal), $"`umoci ls` does not list '{refName}'");
                string image = $"{dir}:{refName}";
                if (OciIndex.LayerMediaTypes(dir, entry.Digest).Any(m => m.Contains("zstd", StringComparison.Ordinal)))
                {
                    run.Log.Line("NOTE: umoci 0.4.7 cannot unpack zstd layers; checking `umoci stat` only");
                    var st = run.Umoci("stat", "--image", image);
                    checks.True(st.Ok, $"`umoci stat --image {image}` failed: {Short(st)}");
                    continue;
                }
                string bundle = Path.Combine(fx.Scratch("umoci-bundle"), "bundle");
                var r = run.Umoci("unpack", "--image", image, bundle);
                if (!checks.True(r.Ok, $"`umoci unpack --image {image}` failed: {Short(r)}"))
                    continue;
                checks.True(File.Exists(Path.Combine(bundle, "rootfs", "bin", "busybox")), $"umoci unpacked {image} without /bin/busybox in the rootfs");
            }
        }
    }

    // ------------------------------------------------------------------ shared

    /// <summary>
    /// The ref.name a tool must be given to select the index entry named <paramref name="name"/> (or no ref for an
    /// untagged image in a one-entry index). Records a failure when there is none or when another image shares it.
    /// </summary>
    public static (bool Ok, string? RefName) SelectRef(Checks checks, Transcript log, IReadOnlyList<IndexEntry> entries, string layout, string? name)
    {
        if (name is null)
        {
            if (entries.Count == 1)
                return (true, null);
            checks.Fail($"{layout}: an untagged image in an index of {entries.Count} entries cannot be selected");
            return (false, null);
        }
        var matches = entries.Where(d => (d.ContainerdName is { } c && ImageNames.Normalize(c) == name) ||
                                         (d.RefName is { } rn && ImageNames.IsReference(rn) && ImageNames.Normalize(rn) == name)).ToList();
        if (matches.Count == 0)
        {
            checks.Fail($"{layout}: index.json has no entry named {name} (entries: {string.Join("; ", entries.Select(x => x.Describe()))})");
            return (false, null);
        }
        var d = matches[0];
        if (d.RefName is null)
        {
            checks.Fail($"{layout}: the index entry for {name} has no org.opencontainers.image.ref.name, so skopeo/podman/umoci cannot select it");
            return (false, null);
        }
        if (d.MediaType is not (OciManifestType or OciIndexType))
        {
            // containers/image 5.23 (skopeo 1.9, podman 4.3) and umoci 0.4.7 only select OCI-typed entries by ref.name;
            // the source (e.g. ctr's export of a docker image) has the same docker-typed manifest, which ferry keeps.
            log.Line($"NOTE: the index entry for {name} is a {d.MediaType} (kept from the source); skopeo 1.9, podman 4.3 and umoci 0.4.7 " +
                "cannot select non-OCI entries by ref.name (they fail on the source archive too), so this selection is not checked");
            return (false, null);
        }
        var clash = entries.Where(x => x.RefName == d.RefName && x.Digest != d.Digest).ToList();
        if (clash.Count > 0)
        {
            checks.Fail($"{layout}: ref.name \"{d.RefName}\" of {name} ({d.Digest}) is also the ref.name of " +
                $"{string.Join(", ", clash.Select(x => $"{x.ContainerdName ?? "?"} ({x.Digest})"))}, a different image; tools that select by ref.name " +
                $"(skopeo/podman oci-archive:PATH:{d.RefName}, umoci) cannot tell them apart, so {name} cannot be selected");
        }
        return (true, d.RefName);
    }

    private const string OciManifestType = "application/vnd.oci.image.manifest.v1+json";
    private const string OciIndexType = "application/vnd.oci.image.index.v1+json";

    private static string? ConfigDigest(string layout, string manifestDigest)
    {
        string? m = OciIndex.ReadBlob(layout, manifestDigest);
        if (m is null)
            return null;
        using var doc = JsonUtil.Parse(m, $"manifest {manifestDigest}");
        return doc.RootElement.Prop("config")?.Str("digest");
    }

    /// <summary>Compares what a tool reports with the expected image.</summary>
    public static void Compare(Checks checks, string tool, string reference, ExpectedImage e, ImageState? state, bool compareNames)
    {
        if (!checks.True(state is not null, $"{tool} does not know {reference} after loading"))
            return;
        checks.Equal(e.Id, state!.Id, $"{tool} image ID of {reference}");
        checks.Sequence(e.DiffIds, state.DiffIds, $"{tool} RootFS.Layers (diff_ids) of {reference}");
        if (compareNames)
            checks.Set(e.Names, state.Names, $"{tool} RepoTags of {reference}");
    }

    /// <summary>Images merged by ID (the names of entries that share an ID are one image's tags).</summary>
    public static IReadOnlyList<ExpectedImage> ById(IReadOnlyList<ExpectedImage> images) =>
        images.GroupBy(i => i.Id, StringComparer.Ordinal)
            .Select(g => new ExpectedImage(g.Key, [.. g.SelectMany(i => i.Names).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)], g.First().DiffIds))
            .ToList();

    public static IReadOnlyList<string> AllNames(IReadOnlyList<ExpectedImage> images) =>
        [.. images.SelectMany(i => i.Names).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];

    /// <summary>The names to select an image by (one null for an untagged image).</summary>
    private static IReadOnlyList<string?> Targets(ExpectedImage e) => e.Names.Count == 0 ? [null] : [.. e.Names];

    public static IEnumerable<string> Lines(string text, string prefix) =>
        text.Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith(prefix, StringComparison.Ordinal)).Select(l => l[prefix.Length..].Trim());

    public static string Short(ProcResult r)
    {
        string t = (r.Stderr.Trim().Length > 0 ? r.Stderr : r.Stdout).Trim();
        return t.Length > 600 ? t[..600] + "..." : t;
    }
}
