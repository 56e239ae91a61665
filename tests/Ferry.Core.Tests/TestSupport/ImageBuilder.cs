using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Ferry.Tests.TestSupport;

/// <summary>A generated layer: its uncompressed tar, and the blob as stored (maybe compressed).</summary>
public sealed record TestLayer(byte[] Tar, byte[] Blob, string Compression)
{
    public string DiffId => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Tar));
    public string Digest => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Blob));
    public string OciMediaType => Compression switch
    {
        "gzip" => "application/vnd.oci.image.layer.v1.tar+gzip",
        "zstd" => "application/vnd.oci.image.layer.v1.tar+zstd",
        _ => "application/vnd.oci.image.layer.v1.tar",
    };
}

/// <summary>A generated image: config bytes, layers, names.</summary>
public sealed record TestImage(byte[] Config, IReadOnlyList<TestLayer> Layers, IReadOnlyList<string> RepoTags)
{
    public string ImageId => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Config));

    public byte[] OciManifest()
    {
        var sb = new StringBuilder();
        sb.Append("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"")
          .Append(ImageId).Append("\",\"size\":").Append(Config.Length).Append("},\"layers\":[");
        sb.AppendJoin(',', Layers.Select(l => $"{{\"mediaType\":\"{l.OciMediaType}\",\"digest\":\"{l.Digest}\",\"size\":{l.Blob.Length}}}"));
        sb.Append("]}");
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    public string ManifestDigest => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(OciManifest()));
}

/// <summary>Builds random but reproducible images and writes them as docker-archives or OCI layouts, the way tools do.</summary>
public static class ImageBuilder
{
    public static TestLayer Layer(int seed, int files = 3, int maxSize = 4000, string compression = "none")
    {
        var rng = new Random(seed);
        using var ms = new MemoryStream();
        using (var w = new TarWriter(ms, TarEntryFormat.Ustar, leaveOpen: true))
        {
            var dir = new UstarTarEntry(TarEntryType.Directory, $"dir{seed}/") { ModificationTime = DateTimeOffset.UnixEpoch, Mode = (UnixFileMode)0x1ed };
            w.WriteEntry(dir);
            for (int i = 0; i < files; i++)
            {
                byte[] data = new byte[rng.Next(0, maxSize)];
                rng.NextBytes(data);
                var e = new UstarTarEntry(TarEntryType.RegularFile, $"dir{seed}/file{i}.bin")
                {
                    ModificationTime = DateTimeOffset.UnixEpoch,
                    Mode = (UnixFileMode)0x1a4,
                    DataStream = new MemoryStream(data),
                };
                w.WriteEntry(e);
            }
        }
        byte[] tar = ms.ToArray();
        return new TestLayer(tar, Compress(tar, compression), compression);
    }

    public static byte[] Compress(byte[] data, string compression)
    {
        switch (compression)
        {
            case "gzip":
                {
                    using var o = new MemoryStream();
                    using (var gz = new GZipStream(o, CompressionLevel.Fastest, leaveOpen: true))
                        gz.Write(data);
                    return o.ToArray();
                }
            case "zstd":
                {
                    using var o = new MemoryStream();
                    using (var z = new ZstdSharp.CompressionStream(o, 3, leaveOpen: true))
                        z.Write(data);
                    return o.ToArray();
                }
            default:
                return data;
        }
    }

    public static TestImage Image(int seed, int layers = 2, string compression = "none", params string[] tags)
    {
        var ls = Enumerable.Range(0, layers).Select(i => Layer(seed * 100 + i, compression: compression)).ToList();
        return Image(ls, seed, tags);
    }

    public static TestImage Image(IReadOnlyList<TestLayer> layers, int seed, params string[] tags) => ImageFor(layers, seed, "amd64", tags);

    public static TestImage ImageFor(IReadOnlyList<TestLayer> layers, int seed, string architecture, params string[] tags)
    {
        string diffIds = string.Join(",", layers.Select(l => $"\"{l.DiffId}\""));
        string config = $"{{\"architecture\":\"{architecture}\",\"config\":{{\"Env\":[\"PATH=/bin\",\"SEED={seed}\"],\"Cmd\":[\"/bin/sh\"],\"Labels\":{{\"seed\":\"{seed}\"}}}},\"created\":\"2024-01-0{seed % 9 + 1}T00:00:00Z\",\"history\":[{{\"created_by\":\"test\"}}],\"os\":\"linux\",\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[{diffIds}]}}}}";
        return new TestImage(Encoding.UTF8.GetBytes(config), layers, tags);
    }

    /// <summary>How a docker-archive is laid out.</summary>
    public sealed record DockerStyle
    {
        /// <summary>docker 20.10: <c>ID/layer.tar</c> real files; skopeo/podman: <c>HEX.tar</c> plus <c>ID/layer.tar</c> symlinks.</summary>
        public bool SymlinkLayers { get; init; }
        public bool HardlinkLayers { get; init; }
        public bool DotSlash { get; init; }
        public bool ManifestFirst { get; init; }
        public TarEntryFormat Format { get; init; } = TarEntryFormat.Ustar;
    }

    public static void WriteDockerArchive(string path, IReadOnlyList<TestImage> images, DockerStyle? style = null)
    {
        style ??= new DockerStyle();
        string p = style.DotSlash ? "./" : "";
        var files = new List<(string Name, byte[]? Data, string? Link, TarEntryType Type)>();
        var manifest = new StringBuilder("[");
        var written = new HashSet<string>();
        foreach (var img in images)
        {
            string cfgName = img.ImageId[7..] + ".json";
            if (written.Add(cfgName))
                files.Add((cfgName, img.Config, null, TarEntryType.RegularFile));
            var layerPaths = new List<string>();
            foreach (var l in img.Layers)
            {
                string hex = l.Digest[7..];
                string id = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(img.ImageId + hex)));
                if (style.SymlinkLayers || style.HardlinkLayers)
                {
                    if (written.Add(hex + ".tar"))
                        files.Add((hex + ".tar", l.Blob, null, TarEntryType.RegularFile));
                    if (written.Add(id + "/layer.tar"))
                    {
                        files.Add((id + "/", null, null, TarEntryType.Directory));
                        files.Add(style.SymlinkLayers
                            ? (id + "/layer.tar", null, "../" + hex + ".tar", TarEntryType.SymbolicLink)
                            : (id + "/layer.tar", null, p + hex + ".tar", TarEntryType.HardLink));
                    }
                }
                else if (written.Add(id + "/layer.tar"))
                {
                    files.Add((id + "/", null, null, TarEntryType.Directory));
                    files.Add((id + "/layer.tar", l.Blob, null, TarEntryType.RegularFile));
                }
                layerPaths.Add(id + "/layer.tar");
            }
            if (manifest.Length > 1)
                manifest.Append(',');
            string tags = img.RepoTags.Count == 0 ? "null" : "[" + string.Join(",", img.RepoTags.Select(t => $"\"{t}\"")) + "]";
            manifest.Append($"{{\"Config\":\"{cfgName}\",\"RepoTags\":{tags},\"Layers\":[{string.Join(",", layerPaths.Select(l => $"\"{l}\""))}]}}");
        }
        manifest.Append(']');
        var m = ("manifest.json", Encoding.UTF8.GetBytes(manifest.ToString()), (string?)null, TarEntryType.RegularFile);
        if (style.ManifestFirst)
            files.Insert(0, m);
        else
            files.Add(m);
        WriteTar(path, files.Select(f => (p + f.Name, f.Data, f.Link, f.Type)), style.Format);
    }

    /// <summary>Writes an OCI layout as a tar (or a directory when <paramref name="asDirectory"/>), names in podman's or containerd's convention.</summary>
    public static void WriteOciLayout(string path, IReadOnlyList<TestImage> images, bool containerdNames = true, bool asDirectory = false, bool withDockerManifest = false)
    {
        var files = new List<(string Name, byte[]? Data, string? Link, TarEntryType Type)>
        {
            ("oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}"u8.ToArray(), null, TarEntryType.RegularFile),
            ("blobs/", null, null, TarEntryType.Directory),
            ("blobs/sha256/", null, null, TarEntryType.Directory),
        };
        var seen = new HashSet<string>();
        var descs = new List<string>();
        void Blob(string digest, byte[] data)
        {
            if (seen.Add(digest))
                files.Add(("blobs/sha256/" + digest[7..], data, null, TarEntryType.RegularFile));
        }
        foreach (var img in images)
        {
            foreach (var l in img.Layers)
                Blob(l.Digest, l.Blob);
            Blob(img.ImageId, img.Config);
            var manifest = img.OciManifest();
            Blob(img.ManifestDigest, manifest);
            string baseDesc = $"\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"{img.ManifestDigest}\",\"size\":{manifest.Length}";
            if (img.RepoTags.Count == 0)
                descs.Add("{" + baseDesc + "}");
            foreach (var t in img.RepoTags)
            {
                string tag = t[(t.LastIndexOf(':') + 1)..];
                descs.Add(containerdNames
                    ? $"{{{baseDesc},\"annotations\":{{\"io.containerd.image.name\":\"{t}\",\"org.opencontainers.image.ref.name\":\"{tag}\"}}}}"
                    : $"{{{baseDesc},\"annotations\":{{\"org.opencontainers.image.ref.name\":\"{t}\"}}}}");
            }
        }
        files.Add(("index.json", Encoding.UTF8.GetBytes($"{{\"schemaVersion\":2,\"manifests\":[{string.Join(",", descs)}]}}"), null, TarEntryType.RegularFile));
        if (withDockerManifest)
        {
            string entries = string.Join(",", images.Select(img =>
                $"{{\"Config\":\"blobs/sha256/{img.ImageId[7..]}\",\"RepoTags\":[{string.Join(",", img.RepoTags.Select(t => $"\"{t}\""))}],\"Layers\":[{string.Join(",", img.Layers.Select(l => $"\"blobs/sha256/{l.Digest[7..]}\""))}]}}"));
            files.Add(("manifest.json", Encoding.UTF8.GetBytes("[" + entries + "]"), null, TarEntryType.RegularFile));
        }
        if (asDirectory)
        {
            foreach (var f in files)
            {
                string full = Path.Combine(path, f.Name);
                if (f.Type == TarEntryType.Directory)
                    Directory.CreateDirectory(full);
                else
                {
                    Directory.CreateDirectory(Path.GetDirectoryName(full)!);
                    File.WriteAllBytes(full, f.Data!);
                }
            }
            return;
        }
        WriteTar(path, files, TarEntryFormat.Ustar);
    }

    /// <summary>A generated artifact: its manifest and blobs (config first).</summary>
    public sealed record TestArtifact(byte[] Manifest, IReadOnlyList<(string MediaType, byte[] Bytes)> Blobs)
    {
        public string Digest => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Manifest));
    }

    private static string Sha(byte[] b) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(b));

    /// <summary>A cosign signature (simple signing) of <paramref name="subject"/>, as cosign 2 writes it (key-based: no certificate).</summary>
    public static TestArtifact CosignSignature(string subject, string reference = "docker.io/library/app", ECDsa? key = null, string? certificate = null, string? payloadDigest = null)
    {
        byte[] payload = Encoding.UTF8.GetBytes($"{{\"critical\":{{\"identity\":{{\"docker-reference\":\"{reference}\"}},\"image\":{{\"docker-manifest-digest\":\"{payloadDigest ?? subject}\"}},\"type\":\"cosign container image signature\"}},\"optional\":null}}");
        // As cosign signs with a key file: ECDSA P-256 over SHA-256 of the payload, DER, base64 in the annotation.
        string signature = key is null ? "MEUCIQDfake" : Convert.ToBase64String(key.SignData(payload, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence));
        string cert = certificate is null ? "" : $",\"dev.sigstore.cosign/certificate\":{JsonSerializer.Serialize(certificate)}";
        byte[] config = Encoding.UTF8.GetBytes($"{{\"architecture\":\"\",\"config\":{{}},\"created\":\"0001-01-01T00:00:00Z\",\"history\":[{{\"created\":\"0001-01-01T00:00:00Z\"}}],\"os\":\"\",\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[\"{Sha(payload)}\"]}}}}");
        byte[] manifest = Encoding.UTF8.GetBytes($"{{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"size\":{config.Length},\"digest\":\"{Sha(config)}\"}},\"layers\":[{{\"mediaType\":\"application/vnd.dev.cosign.simplesigning.v1+json\",\"size\":{payload.Length},\"digest\":\"{Sha(payload)}\",\"annotations\":{{\"dev.cosignproject.cosign/signature\":\"{signature}\"{cert}}}}}]}}");
        return new TestArtifact(manifest, [("application/vnd.oci.image.config.v1+json", config), ("application/vnd.dev.cosign.simplesigning.v1+json", payload)]);
    }

    /// <summary>An OCI 1.1 artifact (an SPDX SBOM) whose subject is <paramref name="subject"/> (a manifest of <paramref name="subjectSize"/> bytes).</summary>
    public static TestArtifact Sbom(string subject, long subjectSize, string subjectType = "application/vnd.oci.image.manifest.v1+json")
    {
        byte[] config = "{}"u8.ToArray();
        byte[] sbom = Encoding.UTF8.GetBytes($"{{\"spdxVersion\":\"SPDX-2.3\",\"name\":\"sbom of {subject}\"}}");
        byte[] manifest = Encoding.UTF8.GetBytes($"{{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"artifactType\":\"application/spdx+json\",\"config\":{{\"mediaType\":\"application/vnd.oci.empty.v1+json\",\"digest\":\"{Sha(config)}\",\"size\":2}},\"layers\":[{{\"mediaType\":\"application/spdx+json\",\"digest\":\"{Sha(sbom)}\",\"size\":{sbom.Length}}}],\"subject\":{{\"mediaType\":\"{subjectType}\",\"digest\":\"{subject}\",\"size\":{subjectSize}}}}}");
        return new TestArtifact(manifest, [("application/vnd.oci.empty.v1+json", config), ("application/spdx+json", sbom)]);
    }

    /// <summary>A Helm-chart-like artifact (not a runnable image): a chart config and one gzip layer.</summary>
    public static TestArtifact Chart()
    {
        byte[] config = "{\"name\":\"demo\",\"version\":\"1.0.0\",\"apiVersion\":\"v2\"}"u8.ToArray();
        byte[] chart = Compress(Layer(9900).Tar, "gzip");
        byte[] manifest = Encoding.UTF8.GetBytes($"{{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{{\"mediaType\":\"application/vnd.cncf.helm.config.v1+json\",\"digest\":\"{Sha(config)}\",\"size\":{config.Length}}},\"layers\":[{{\"mediaType\":\"application/vnd.cncf.helm.chart.content.v1.tar+gzip\",\"digest\":\"{Sha(chart)}\",\"size\":{chart.Length}}}]}}");
        return new TestArtifact(manifest, [("application/vnd.cncf.helm.config.v1+json", config), ("application/vnd.cncf.helm.chart.content.v1.tar+gzip", chart)]);
    }

    /// <summary>
    /// An oci-archive of one image (or index) plus extra index.json entries: artifacts given with the annotations to put
    /// on their entries (as other tools write them: a cosign tag as ref.name, nothing for an OCI 1.1 subject).
    /// </summary>
    public static void WriteOciWithArtifacts(string path, TestImage image, string name, IReadOnlyList<(TestArtifact Artifact, string? RefName)> extras, (byte[] Bytes, string Digest)? index = null, IReadOnlyList<TestImage>? children = null)
    {
        var files = new List<(string Name, byte[]? Data, string? Link, TarEntryType Type)>
        {
            ("oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}"u8.ToArray(), null, TarEntryType.RegularFile),
        };
        var seen = new HashSet<string>();
        void Blob(byte[] data)
        {
            if (seen.Add(Sha(data)))
                files.Add(("blobs/sha256/" + Sha(data)[7..], data, null, TarEntryType.RegularFile));
        }
        foreach (var img in children ?? [image])
        {
            foreach (var l in img.Layers)
                Blob(l.Blob);
            Blob(img.Config);
            Blob(img.OciManifest());
        }
        var entries = new List<string>();
        if (index is { } x)
        {
            Blob(x.Bytes);
            entries.Add($"{{\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"digest\":\"{x.Digest}\",\"size\":{x.Bytes.Length},\"annotations\":{{\"io.containerd.image.name\":\"{name}\",\"org.opencontainers.image.ref.name\":\"{name}\"}}}}");
        }
        else
        {
            entries.Add($"{{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"{image.ManifestDigest}\",\"size\":{image.OciManifest().Length},\"annotations\":{{\"io.containerd.image.name\":\"{name}\",\"org.opencontainers.image.ref.name\":\"{name}\"}}}}");
        }
        foreach (var (art, refName) in extras)
        {
            foreach (var (_, b) in art.Blobs)
                Blob(b);
            Blob(art.Manifest);
            entries.Add($"{{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"{art.Digest}\",\"size\":{art.Manifest.Length}{(refName is null ? "" : $",\"annotations\":{{\"org.opencontainers.image.ref.name\":\"{refName}\"}}")}}}");
        }
        files.Add(("index.json", Encoding.UTF8.GetBytes($"{{\"schemaVersion\":2,\"manifests\":[{string.Join(",", entries)}]}}"), null, TarEntryType.RegularFile));
        WriteTar(path, files, TarEntryFormat.Ustar);
    }

    /// <summary>An OCI index over per-platform images: its bytes and digest (children in the given order, each with its platform).</summary>
    public static (byte[] Bytes, string Digest) Index(IReadOnlyList<TestImage> images)
    {
        string children = string.Join(",", images.Select(i =>
        {
            string arch = System.Text.Json.JsonDocument.Parse(i.Config).RootElement.GetProperty("architecture").GetString()!;
            return $"{{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"{i.ManifestDigest}\",\"size\":{i.OciManifest().Length},\"platform\":{{\"architecture\":\"{arch}\",\"os\":\"linux\"}}}}";
        }));
        byte[] bytes = Encoding.UTF8.GetBytes($"{{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":[{children}]}}");
        return (bytes, "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes)));
    }

    /// <summary>An oci-archive holding one multi-platform index named <paramref name="name"/> (full name in both annotations).</summary>
    public static string WriteOciIndexArchive(string path, IReadOnlyList<TestImage> images, string name)
    {
        var (index, digest) = Index(images);
        var files = new List<(string Name, byte[]? Data, string? Link, TarEntryType Type)>
        {
            ("oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}"u8.ToArray(), null, TarEntryType.RegularFile),
        };
        var seen = new HashSet<string>();
        void Blob(string d, byte[] data)
        {
            if (seen.Add(d))
                files.Add(("blobs/sha256/" + d[7..], data, null, TarEntryType.RegularFile));
        }
        foreach (var img in images)
        {
            foreach (var l in img.Layers)
                Blob(l.Digest, l.Blob);
            Blob(img.ImageId, img.Config);
            Blob(img.ManifestDigest, img.OciManifest());
        }
        Blob(digest, index);
        files.Add(("index.json", Encoding.UTF8.GetBytes($"{{\"schemaVersion\":2,\"manifests\":[{{\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"digest\":\"{digest}\",\"size\":{index.Length},\"annotations\":{{\"io.containerd.image.name\":\"{name}\",\"org.opencontainers.image.ref.name\":\"{name}\"}}}}]}}"), null, TarEntryType.RegularFile));
        WriteTar(path, files, TarEntryFormat.Ustar);
        return digest;
    }

    public static void WriteTar(string path, IEnumerable<(string Name, byte[]? Data, string? Link, TarEntryType Type)> files, TarEntryFormat format = TarEntryFormat.Ustar)
    {
        using var fs = File.Create(path);
        using var w = new TarWriter(fs, format);
        foreach (var (name, data, link, type) in files)
        {
            TarEntry e = format switch
            {
                TarEntryFormat.Gnu => new GnuTarEntry(type, name),
                TarEntryFormat.Pax => new PaxTarEntry(type, name),
                _ => new UstarTarEntry(type, name),
            };
            e.ModificationTime = DateTimeOffset.UnixEpoch;
            e.Mode = type == TarEntryType.Directory ? (UnixFileMode)0x1ed : (UnixFileMode)0x1a4;
            if (link is not null)
                e.LinkName = link;
            if (data is not null)
                e.DataStream = new MemoryStream(data);
            w.WriteEntry(e);
        }
    }

    /// <summary>Entry name → bytes of every regular file of a tar.</summary>
    public static Dictionary<string, byte[]> ReadTar(string path)
    {
        var result = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        using var fs = File.OpenRead(path);
        using var r = new TarReader(fs);
        while (r.GetNextEntry() is { } e)
        {
            if (e.EntryType is TarEntryType.RegularFile or TarEntryType.V7RegularFile)
            {
                using var ms = new MemoryStream();
                e.DataStream?.CopyTo(ms);
                result[e.Name] = ms.ToArray();
            }
        }
        return result;
    }
}
