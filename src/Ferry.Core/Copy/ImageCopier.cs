using System.Text.Json.Nodes;
using Ferry.Archive;
using Ferry.Compression;
using Ferry.Digests;
using Ferry.Model;
using Ferry.Transports;
using Ferry.Transports.OciLayout;

namespace Ferry.Copy;

/// <summary>
/// Copies images from an <see cref="ArchiveSource"/> to a destination in any <see cref="OutputFormat"/>: one pipeline for
/// every pair. Config bytes are never changed; manifests and indexes keep their bytes unless a layer's compression
/// changes. Every blob read is verified against its digest and size while it is copied. Output is deterministic: entries
/// are sorted by name and every header field is fixed.
/// </summary>
/// <remarks>
/// Call order: construct, then <see cref="Copy"/> once. The destination is written to a temp path and renamed into place
/// only after every blob was copied and verified; on any error nothing is left behind.
/// </remarks>
public sealed class ImageCopier : IDisposable
{
    private readonly ArchiveSource _source;
    private readonly CopyOptions _options;
    private readonly OutputFormat _format;
    private readonly SortedDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly Dictionary<(Digest, CompressionKind), Descriptor> _layerCache = [];
    private readonly Dictionary<(Digest, CompressionKind), (Descriptor Descriptor, string Path)> _recompressed = [];
    private readonly System.Collections.Concurrent.ConcurrentBag<string> _tempFiles = [];
    private readonly string _tempDir;
    private bool _warnedZstd;

    /// <summary>A file of the output: its bytes come from the source (verified), from memory, or from a temp file.</summary>
    private abstract record Entry
    {
        public abstract long Size { get; }
        public abstract Stream Open();
    }

    private sealed record SourceEntry(BlobLocation Location, Digest Digest, long ExpectedSize, string What) : Entry
    {
        public override long Size => ExpectedSize;
        public override Stream Open() => Location.OpenVerified(Digest, ExpectedSize, What);
    }

    private sealed record BytesEntry(byte[] Bytes) : Entry
    {
        public override long Size => Bytes.LongLength;
        public override Stream Open() => new MemoryStream(Bytes, writable: false);
    }

    private sealed record TempFileEntry(string Path, long Length) : Entry
    {
        public override long Size => Length;
        public override Stream Open() => new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
    }

    private sealed record DirectoryEntry : Entry
    {
        public override long Size => 0;
        public override Stream Open() => Stream.Null;
    }

    /// <param name="source">The opened source.</param>
    /// <param name="format">The output format.</param>
    /// <param name="options">Selection, naming and compression options.</param>
    /// <param name="tempDir">Where layers whose compression changes are staged (beside the destination).</param>
    public ImageCopier(ArchiveSource source, OutputFormat format, CopyOptions options, string tempDir)
    {
        _source = source;
        _format = format;
        _options = options;
        _tempDir = tempDir;
    }

    private bool OciOutput => _format != OutputFormat.DockerArchive;
    private bool DockerOutput => _format is OutputFormat.DockerArchive or OutputFormat.Portable;

    /// <summary>One image to write, with the names it gets.</summary>
    private sealed record Planned(ArchiveImage Image, List<ImageName> Names, List<string> RefNames);

    /// <summary>Writes the selected images to <paramref name="target"/> and commits it.</summary>
    /// <exception cref="FerryException">Selection, reading, verification or writing failed; nothing was committed.</exception>
    public IReadOnlyList<CopiedImage> Copy(OutputTarget target, string? destName, CancellationToken cancel = default)
    {
        var (results, _) = Prepare(destName, cancel);
        WriteEntries(target, cancel);
        target.Commit();
        return results;
    }

    /// <summary>The blobs of an OCI-format plan, by digest, and the root descriptors (one per name) of index.json.</summary>
    public sealed record OciPlan(IReadOnlyList<CopiedImage> Images, IReadOnlyList<Descriptor> Roots, IReadOnlyDictionary<Digest, (long Size, Func<Stream> Open)> Blobs);

    /// <summary>
    /// Plans the copy without writing a file (for a registry destination): recompresses what must change and returns
    /// every blob to send, verified as it is read, and the named roots. Only for <see cref="OutputFormat.Oci"/>.
    /// </summary>
    public OciPlan PrepareOci(string? destName, CancellationToken cancel = default)
    {
        if (_format != OutputFormat.Oci)
            throw new InvalidOperationException("PrepareOci needs the oci format");
        var (results, roots) = Prepare(destName, cancel);
        var blobs = new Dictionary<Digest, (long, Func<Stream>)>();
        foreach (var (name, entry) in _entries)
        {
            if (name.StartsWith("blobs/", StringComparison.Ordinal) && entry is not DirectoryEntry
                && Digest.TryParse(name["blobs/".Length..].Replace('/', ':'), out var d))
                blobs[d] = (entry.Size, entry.Open);
        }
        return new OciPlan(results, roots, blobs);
    }

    private (List<CopiedImage> Results, List<Descriptor> Roots) Prepare(string? destName, CancellationToken cancel)
    {
        var planned = Plan(destName);
        RecompressAll(planned, cancel);
        var results = new List<CopiedImage>();
        var indexDescriptors = new List<Descriptor>();
        var dockerEntries = new List<(string Config, List<ImageName> Names, List<string> Layers)>();
        foreach (var p in planned)
        {
            cancel.ThrowIfCancellationRequested();
            Descriptor? root = null;
            if (OciOutput)
            {
                root = WriteNode(p.Image.Root, cancel);
                indexDescriptors.AddRange(NamedDescriptors(root, p));
            }
            ImageNode? chosen = p.Image.SelectImage(_options.Platform);
            if (DockerOutput)
            {
                if (chosen is null)
                    throw new ImageNotFoundException($"{_source.DisplayName}: {p.Image.Label}: no image for platform {_options.Platform ?? Platform.Host} to put in manifest.json");
                var (config, layers) = WriteDockerImage(chosen.Image, cancel);
                dockerEntries.Add((config, p.Names, layers));
            }
            var id = chosen?.Image.ImageId ?? p.Image.Key;
            results.Add(new CopiedImage(p.Names.Select(n => n.ToString()).Concat(p.RefNames).ToList(), id, root?.Digest));
        }
        if (OciOutput)
        {
            Add("oci-layout", new BytesEntry("{\"imageLayoutVersion\":\"1.0.0\"}"u8.ToArray()));
            Add("index.json", new BytesEntry(ImageIndex.CreateOci(indexDescriptors)));
        }
        if (DockerOutput)
        {
            Add("manifest.json", new BytesEntry(DockerManifestJson(dockerEntries)));
            if (RepositoriesJson(dockerEntries) is byte[] repos)
                Add("repositories", new BytesEntry(repos));
        }
        return (results, indexDescriptors);
    }

    private List<Planned> Plan(string? destName)
    {
        var images = _source.Images.ToList();
        if (_options.Images.Count > 0)
        {
            var chosen = new List<ArchiveImage>();
            foreach (var sel in _options.Images)
            {
                var found = images.Where(i => ArchiveSource.Matches(i, sel, images)).ToList();
                if (found.Count == 0)
                    throw new ImageNotFoundException($"{_source.DisplayName}: no image matches '{sel}' (has: {string.Join(", ", images.Select(i => i.Label))})");
                chosen.AddRange(found.Where(f => !chosen.Contains(f)));
            }
            images = chosen;
        }
        if (images.Count == 0)
            throw new ImageNotFoundException($"{_source.DisplayName}: holds no images; nothing to copy");
        var planned = images.Select(i => new Planned(i, [.. i.Names], [.. i.RefNames])).ToList();
        if (destName is not null)
        {
            if (planned.Count != 1)
                throw new UsageException($"a destination name ('{destName}') needs exactly one image, but {planned.Count} are selected (use --image)");
            planned[0].Names.Clear();
            planned[0].RefNames.Clear();
            AddName(planned[0], destName);
        }
        if (_options.Tags.Count > 0)
        {
            if (planned.Count != 1)
                throw new UsageException($"--tag needs exactly one image, but {planned.Count} are selected (use --image)");
            foreach (var t in _options.Tags)
                AddName(planned[0], t);
        }
        var owner = new Dictionary<ImageName, Planned>();
        foreach (var p in planned)
        {
            foreach (var n in p.Names)
            {
                if (owner.TryGetValue(n, out var other) && other != p)
                    throw new UsageException($"name '{n.Familiar}' would be given to two images ({other.Image.Label} and {p.Image.Label})");
                owner[n] = p;
            }
        }
        return planned;
    }

    private static void AddName(Planned p, string text)
    {
        var name = ImageName.Parse(text);
        if (name.Digest is not null)
            throw new UsageException($"'{text}': a name given to an image cannot contain a digest");
        name = name.WithDefaultTag();
        if (!p.Names.Contains(name))
            p.Names.Add(name);
    }

    /// <summary>index.json entries: one per name, with the full name as containerd's name and as ref.name.</summary>
    private static IEnumerable<Descriptor> NamedDescriptors(Descriptor root, Planned p)
    {
        var baseAnnotations = root.Annotations?
            .Where(kv => kv.Key is not OciLayoutReader.ContainerdNameAnnotation and not OciLayoutReader.RefNameAnnotation)
            .ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal) ?? [];
        if (p.Names.Count == 0 && p.RefNames.Count == 0)
        {
            yield return root with { Annotations = baseAnnotations.Count > 0 ? baseAnnotations : null };
            yield break;
        }
        foreach (var n in p.Names)
        {
            var a = new Dictionary<string, string>(baseAnnotations, StringComparer.Ordinal)
            {
                [OciLayoutReader.ContainerdNameAnnotation] = n.ToString(),
                // The full name, as podman and skopeo write it: a bare tag would collide between images of different
                // repositories, and skopeo, podman and umoci select images by ref.name.
                [OciLayoutReader.RefNameAnnotation] = n.ToString(),
            };
            yield return root with { Annotations = a };
        }
        foreach (var r in p.RefNames)
        {
            var a = new Dictionary<string, string>(baseAnnotations, StringComparer.Ordinal) { [OciLayoutReader.RefNameAnnotation] = r };
            yield return root with { Annotations = a };
        }
    }

    // ---- OCI side -------------------------------------------------------------------------------------------------

    private static string BlobName(Digest d) => $"blobs/{d.Algorithm}/{d.Hex}";

    private void AddBlob(Digest d, Entry e)
    {
        if (!OciOutput)
            return;
        Add($"blobs/{d.Algorithm}/", new DirectoryEntry());
        Add("blobs/", new DirectoryEntry());
        Add(BlobName(d), e);
    }

    private void Add(string name, Entry e) => _entries.TryAdd(name, e);

    /// <summary>Writes a manifest tree's blobs; returns the descriptor of its (possibly rewritten) root.</summary>
    private Descriptor WriteNode(ManifestNode node, CancellationToken cancel)
    {
        switch (node)
        {
            case ImageNode img:
                return WriteOciImage(img, cancel);
            case IndexNode idx:
                {
                    var children = idx.Children.Select(c => WriteNode(c, cancel)).ToList();
                    bool changed = children.Zip(idx.Index.Manifests).Any(x => x.First.Digest != x.Second.Digest);
                    byte[] raw = changed ? RewriteIndex(idx.Index.Raw, children) : idx.Index.Raw;
                    var digest = changed ? Digest.Sha256Of(raw) : idx.Index.Digest;
                    AddBlob(digest, changed ? new BytesEntry(raw) : new SourceEntry(idx.Location, digest, raw.LongLength, $"index {digest}"));
                    var d = idx.Descriptor!;
                    return d with { Digest = digest, Size = raw.LongLength };
                }
            case OpaqueNode opaque:
                if (opaque.Location is not null)
                    AddBlob(opaque.Descriptor!.Digest, new SourceEntry(opaque.Location, opaque.Descriptor.Digest, opaque.Descriptor.Size, $"blob {opaque.Descriptor.Digest}"));
                else
                    _options.Log?.Invoke($"note: {opaque.Descriptor!.Digest} ({opaque.Descriptor.MediaType}) is referenced but not in {_source.DisplayName}; the reference is kept");
                return opaque.Descriptor!;
            default:
                throw new InvalidOperationException("unknown node");
        }
    }

    private Descriptor WriteOciImage(ImageNode node, CancellationToken cancel)
    {
        var image = node.Image;
        var manifest = image.Manifest;
        bool dockerManifest = manifest is not null && MediaTypes.IsDocker(manifest.MediaType);
        var layers = image.Layers.Select(l => WriteLayer(l, dockerManifest, cancel)).ToList();
        bool anyZstd = layers.Any(l => l.MediaType == MediaTypes.OciLayerZstd);
        var configDesc = image.ConfigDescriptor;
        AddBlob(configDesc.Digest, new SourceEntry(image.ConfigLocation, configDesc.Digest, configDesc.Size, $"config {configDesc.Digest}"));
        ImageManifest result;
        if (manifest is null)
        {
            result = ImageManifest.CreateOci(configDesc with { MediaType = MediaTypes.OciConfig }, layers);
        }
        else if (layers.Zip(manifest.Layers).All(x => x.First.Digest == x.Second.Digest))
        {
            result = manifest;
        }
        else
        {
            result = ImageManifest.Parse(RewriteManifest(manifest.Raw, layers, toOci: dockerManifest && anyZstd), null, "rewritten manifest");
        }
        AddBlob(result.Digest, new BytesEntry(result.Raw));
        var baseDesc = node.Descriptor ?? new Descriptor(result.MediaType, result.Digest, result.Raw.LongLength);
        return baseDesc with { MediaType = result.MediaType, Digest = result.Digest, Size = result.Raw.LongLength };
    }

    /// <summary>Decides a layer's output compression, writes it (passing bytes through when it is unchanged) and returns its descriptor.</summary>
    private Descriptor WriteLayer(SourceLayer layer, bool dockerFamily, CancellationToken cancel)
    {
        cancel.ThrowIfCancellationRequested();
        var src = layer.Descriptor;
        if (layer.Location is null)
        {
            if (DockerOutput)
                throw new ArchiveFormatException($"{_source.DisplayName}: layer {src.Digest} ({src.MediaType}) is not in the archive; docker cannot load an image without it");
            return src;
        }
        var target = TargetCompression(layer.ActualCompression, src.Digest);
        if (_layerCache.TryGetValue((src.Digest, target), out var cached))
            return cached;
        Descriptor result;
        if (target == layer.ActualCompression)
        {
            result = src;
            var entry = new SourceEntry(layer.Location, src.Digest, src.Size, $"layer {src.Digest}");
            AddBlob(src.Digest, entry);
            if (_format == OutputFormat.DockerArchive)
                Add(DockerLayerName(src.Digest), entry);
        }
        else
        {
            if (!_recompressed.TryGetValue((src.Digest, target), out var done))
                _recompressed[(src.Digest, target)] = done = Recompress(layer, target, default);
            result = done.Descriptor with { MediaType = MediaTypes.LayerFor(target, dockerFamily && target != CompressionKind.Zstd) };
            var entry = new TempFileEntry(done.Path, result.Size);
            AddBlob(result.Digest, entry);
            if (_format == OutputFormat.DockerArchive)
                Add(DockerLayerName(result.Digest), entry);
        }
        _layerCache[(src.Digest, target)] = result;
        return result;
    }

    private CompressionKind TargetCompression(CompressionKind actual, Digest digest)
    {
        switch (_options.Compress)
        {
            case CompressMode.Gzip: return CompressionKind.Gzip;
            case CompressMode.None: return CompressionKind.None;
            case CompressMode.Zstd:
                if (DockerOutput && !_warnedZstd)
                {
                    _warnedZstd = true;
                    _options.Log?.Invoke("warning: zstd layers in a docker-loadable archive: docker before 23.0 cannot load them");
                }
                return CompressionKind.Zstd;
            default:
                if (actual == CompressionKind.Zstd && DockerOutput && !_options.DockerLoadsZstd)
                {
                    if (!_warnedZstd)
                        _options.Log?.Invoke($"note: zstd layers (first: {digest}) are recompressed as gzip, because docker before 23.0 cannot load zstd layers; use --compress zstd to keep them");
                    _warnedZstd = true;
                    return CompressionKind.Gzip;
                }
                return actual;
        }
    }

    /// <summary>Recompresses, in parallel, every layer of the selected images whose compression changes.</summary>
    private void RecompressAll(List<Planned> planned, CancellationToken cancel)
    {
        var work = new Dictionary<(Digest, CompressionKind), SourceLayer>();
        foreach (var p in planned)
        {
            var images = new List<ImageNode>();
            if (OciOutput)
                images.AddRange(Inspect.ImageInspector.Images(p.Image.Root));
            if (DockerOutput && p.Image.SelectImage(_options.Platform) is { } chosen)
                images.Add(chosen);
            foreach (var layer in images.SelectMany(i => i.Image.Layers).Where(l => l.Location is not null))
            {
                var target = TargetCompression(layer.ActualCompression, layer.Descriptor.Digest);
                if (target != layer.ActualCompression)
                    work.TryAdd((layer.Descriptor.Digest, target), layer);
            }
        }
        if (work.Count == 0)
            return;
        var results = new System.Collections.Concurrent.ConcurrentDictionary<(Digest, CompressionKind), (Descriptor, string)>();
        try
        {
            Parallel.ForEach(work, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, _options.Parallelism), CancellationToken = cancel },
                kv => results[kv.Key] = Recompress(kv.Value, kv.Key.Item2, cancel));
        }
        catch (AggregateException e)
        {
            var first = e.InnerExceptions.FirstOrDefault(x => x is FerryException) ?? e.InnerExceptions[0];
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(first).Throw();
        }
        foreach (var kv in results)
            _recompressed[kv.Key] = kv.Value;
    }

    /// <summary>Decompresses a layer (checking its digest, and its diff_id on the uncompressed bytes) and compresses it into a temp file.</summary>
    private (Descriptor Descriptor, string Path) Recompress(SourceLayer layer, CompressionKind target, CancellationToken cancel)
    {
        var src = layer.Descriptor;
        string temp = Path.Combine(_tempDir, $".ferry-layer-{Environment.ProcessId}-{Guid.NewGuid():N}.tmp");
        _tempFiles.Add(temp);
        string item = $"recompress {src.Digest.Hex[..12]} {Compressions.Name(layer.ActualCompression)}→{Compressions.Name(target)}";
        _options.Progress?.Started(item, src.Size);
        Digest digest;
        long size;
        try
        {
            using var raw = layer.Location!.OpenVerified(src.Digest, src.Size, $"layer {src.Digest}");
            using var plain = BoundedDecompression.Open(new ProgressReadStream(raw, item, _options.Progress), layer.ActualCompression, $"{_source.DisplayName}: layer {src.Digest}");
            using var checkedPlain = new VerifyingStream(plain, $"layer {src.Digest} (uncompressed)", layer.DiffId, null, leaveOpen: true);
            using var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
            using var hashing = new HashingWriteStream(file);
            using (var compressor = Compressions.Compress(hashing, target, _options.CompressionLevel))
            {
                byte[] buf = System.Buffers.ArrayPool<byte>.Shared.Rent(1 << 20);
                try
                {
                    int n;
                    while ((n = checkedPlain.Read(buf, 0, buf.Length)) > 0)
                    {
                        cancel.ThrowIfCancellationRequested();
                        compressor.Write(buf, 0, n);
                    }
                }
                finally
                {
                    System.Buffers.ArrayPool<byte>.Shared.Return(buf);
                }
            }
            checkedPlain.Drain();
            raw.Drain();
            digest = hashing.ComputeDigest();
            size = hashing.Length;
        }
        catch (Exception e) when (e is InvalidDataException or ZstdSharp.ZstdException)
        {
            throw new ArchiveFormatException($"{_source.DisplayName}: layer {src.Digest} ({layer.Location!.EntryName}): corrupt {Compressions.Name(layer.ActualCompression)} data: {e.Message}", e);
        }
        catch (IOException e) when (e is not FileNotFoundException)
        {
            throw new OutputException($"{_tempDir}: cannot stage layer {src.Digest}: {e.Message}", e);
        }
        _options.Progress?.Finished(item);
        return (new Descriptor(MediaTypes.LayerFor(target, docker: false), digest, size) { Annotations = src.Annotations, Urls = src.Urls }, temp);
    }

    private static byte[] RewriteManifest(byte[] raw, List<Descriptor> layers, bool toOci)
    {
        var node = JsonNode.Parse(raw)!.AsObject();
        var arr = node["layers"]!.AsArray();
        for (int i = 0; i < layers.Count; i++)
        {
            var o = arr[i]!.AsObject();
            o["mediaType"] = layers[i].MediaType;
            o["digest"] = layers[i].Digest.ToString();
            o["size"] = layers[i].Size;
        }
        if (toOci)
        {
            node["mediaType"] = MediaTypes.OciManifest;
            node["config"]!.AsObject()["mediaType"] = MediaTypes.OciConfig;
            for (int i = 0; i < layers.Count; i++)
            {
                var o = arr[i]!.AsObject();
                string mt = o["mediaType"]!.GetValue<string>();
                if (MediaTypes.IsDocker(mt))
                    o["mediaType"] = MediaTypes.LayerFor(MediaTypes.LayerCompression(mt), docker: false);
            }
        }
        return Json.Write(w => node.WriteTo(w));
    }

    private static byte[] RewriteIndex(byte[] raw, List<Descriptor> children)
    {
        var node = JsonNode.Parse(raw)!.AsObject();
        var arr = node["manifests"]!.AsArray();
        for (int i = 0; i < children.Count; i++)
        {
            var o = arr[i]!.AsObject();
            o["mediaType"] = children[i].MediaType;
            o["digest"] = children[i].Digest.ToString();
            o["size"] = children[i].Size;
        }
        return Json.Write(w => node.WriteTo(w));
    }

    // ---- docker side ----------------------------------------------------------------------------------------------

    private static string DockerLayerName(Digest d) => $"{d.Hex}/layer.tar";

    /// <summary>Writes an image's config and layers for manifest.json; returns their paths inside the archive.</summary>
    private (string Config, List<string> Layers) WriteDockerImage(SourceImage image, CancellationToken cancel)
    {
        var cfg = image.ConfigDescriptor;
        var layers = image.Layers.Select(l => WriteLayer(l, dockerFamily: false, cancel)).ToList();
        if (_format == OutputFormat.Portable)
        {
            AddBlob(cfg.Digest, new SourceEntry(image.ConfigLocation, cfg.Digest, cfg.Size, $"config {cfg.Digest}"));
            return (BlobName(cfg.Digest), layers.Select(l => BlobName(l.Digest)).ToList());
        }
        Add($"{cfg.Digest.Hex}.json", new SourceEntry(image.ConfigLocation, cfg.Digest, cfg.Size, $"config {cfg.Digest}"));
        foreach (var l in layers)
            Add($"{l.Digest.Hex}/", new DirectoryEntry());
        return ($"{cfg.Digest.Hex}.json", layers.Select(l => DockerLayerName(l.Digest)).ToList());
    }

    /// <summary>manifest.json: full names in RepoTags (docker shows them short; podman would read short names as localhost/…).</summary>
    private static byte[] DockerManifestJson(List<(string Config, List<ImageName> Names, List<string> Layers)> entries) => Json.Write(w =>
    {
        w.WriteStartArray();
        foreach (var (config, names, layers) in entries)
        {
            w.WriteStartObject();
            w.WriteString("Config", config);
            var tagged = names.Where(n => n.Tag is not null).ToList();
            if (tagged.Count == 0)
                w.WriteNull("RepoTags");
            else
            {
                w.WriteStartArray("RepoTags");
                foreach (var n in tagged)
                    w.WriteStringValue(n.ToString());
                w.WriteEndArray();
            }
            w.WriteStartArray("Layers");
            foreach (var l in layers)
                w.WriteStringValue(l);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndArray();
    });

    /// <summary>The legacy <c>repositories</c> file: repository → tag → top layer.</summary>
    private static byte[]? RepositoriesJson(List<(string Config, List<ImageName> Names, List<string> Layers)> entries)
    {
        var repos = new SortedDictionary<string, SortedDictionary<string, string>>(StringComparer.Ordinal);
        foreach (var (_, names, layers) in entries)
        {
            if (layers.Count == 0)
                continue;
            string top = layers[^1].StartsWith("blobs/", StringComparison.Ordinal) ? layers[^1][(layers[^1].LastIndexOf('/') + 1)..] : layers[^1][..layers[^1].IndexOf('/', StringComparison.Ordinal)];
            foreach (var n in names.Where(n => n.Tag is not null))
            {
                if (!repos.TryGetValue(n.FullRepository, out var tags))
                    repos[n.FullRepository] = tags = new(StringComparer.Ordinal);
                tags[n.Tag!] = top;
            }
        }
        if (repos.Count == 0)
            return null;
        return Json.Write(w =>
        {
            w.WriteStartObject();
            foreach (var (repo, tags) in repos)
            {
                w.WriteStartObject(repo);
                foreach (var (tag, id) in tags)
                    w.WriteString(tag, id);
                w.WriteEndObject();
            }
            w.WriteEndObject();
        });
    }

    // ---- writing --------------------------------------------------------------------------------------------------

    private void WriteEntries(OutputTarget target, CancellationToken cancel)
    {
        try
        {
            if (target.Directory is string dir)
            {
                foreach (var (name, entry) in _entries)
                {
                    cancel.ThrowIfCancellationRequested();
                    string path = Path.Combine(dir, name);
                    if (entry is DirectoryEntry)
                    {
                        Directory.CreateDirectory(path);
                        continue;
                    }
                    Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                    using var src = entry.Open();
                    using var dst = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
                    _options.Progress?.Started(name, entry.Size);
                    CopyExactly(src, dst, entry.Size, name, cancel);
                    _options.Progress?.Finished(name);
                    if (src is VerifyingStream v)
                        v.Drain();
                }
                return;
            }
            using var tar = new DeterministicTarWriter(target.Stream, _options.Mtime, leaveOpen: true);
            foreach (var (name, entry) in _entries)
            {
                cancel.ThrowIfCancellationRequested();
                if (entry is DirectoryEntry)
                {
                    tar.AddDirectory(name);
                    continue;
                }
                using var src = entry.Open();
                _options.Progress?.Started(name, entry.Size);
                tar.AddFile(name, src, entry.Size, _options.Progress is { } p ? n => p.Advanced(name, n) : null, cancel);
                if (src is VerifyingStream v)
                    v.Drain();
                _options.Progress?.Finished(name);
            }
            tar.Finish();
        }
        catch (IOException e) when (e is not FileNotFoundException and not EndOfStreamException)
        {
            throw new OutputException($"cannot write output: {e.Message}", e);
        }
    }

    private void CopyExactly(Stream src, Stream dst, long size, string name, CancellationToken cancel)
    {
        byte[] buf = System.Buffers.ArrayPool<byte>.Shared.Rent(1 << 20);
        try
        {
            long total = 0;
            int n;
            while ((n = src.Read(buf, 0, buf.Length)) > 0)
            {
                cancel.ThrowIfCancellationRequested();
                dst.Write(buf, 0, n);
                total += n;
                _options.Progress?.Advanced(name, n);
            }
            if (total != size)
                throw new DigestMismatchException($"{name}: content is {total} bytes, declared size is {size}");
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buf);
        }
    }

    public void Dispose()
    {
        foreach (var f in _tempFiles)
        {
            try
            {
                File.Delete(f);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>A write-through stream that hashes and counts what passes.</summary>
    private sealed class HashingWriteStream(Stream inner) : Stream
    {
        private readonly System.Security.Cryptography.IncrementalHash _hash = Digest.CreateHash("sha256");
        private long _length;
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => _length;
        public override long Position { get => _length; set => throw new NotSupportedException(); }
        public Digest ComputeDigest() => Digests.Digest.FromHash("sha256", _hash.GetHashAndReset());
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            _hash.AppendData(buffer);
            _length += buffer.Length;
            inner.Write(buffer);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
                _hash.Dispose();
            base.Dispose(disposing);
        }
    }
}
