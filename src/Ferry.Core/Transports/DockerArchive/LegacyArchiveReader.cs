using System.Text;
using System.Text.Json;
using Ferry.Compression;
using Ferry.Digests;
using Ferry.Model;

using Ferry.Images;
using Ferry.Transports.Files;

namespace Ferry.Transports.DockerArchive;

/// <summary>
/// Reads pre-1.10 docker-archives (<c>repositories</c> + <c>ID/json</c> + <c>ID/layer.tar</c>, no manifest.json) and
/// synthesises each image's config exactly as docker's legacy loader does (moby <c>image/tarexport/load.go</c>
/// <c>legacyLoadImage</c> and <c>image/v1.MakeConfigFromV1Config</c>), so the image ID equals the one <c>docker load</c> gives.
/// </summary>
internal static class LegacyArchiveReader
{
    private const int MaxChain = 256;

    private sealed record Loaded(ImageConfig Config, byte[] ConfigBytes, List<SourceLayer> Layers, List<string> HistoryJson, List<Digest> DiffIds, LocalBlob ConfigBlob);

    public static List<NamedImage> Read(IEntryStore store, List<string> warnings)
    {
        string where = store.DisplayName;
        var repoLoc = store.Find("repositories") ?? throw new ArchiveFormatException($"{where}: no repositories file");
        using var doc = Json.Parse(repoLoc.ReadDocument(null, null, "repositories"), $"{where}: repositories");
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
            throw new ArchiveFormatException($"{where}: repositories is not a JSON object");
        var loaded = new Dictionary<string, Loaded>(StringComparer.Ordinal);
        var byId = new Dictionary<Digest, NamedImage>();
        var result = new List<NamedImage>();
        foreach (var repo in doc.RootElement.EnumerateObject())
        {
            if (repo.Value.ValueKind != JsonValueKind.Object)
                throw new ArchiveFormatException($"{where}: repositories: '{Digest.Describe(repo.Name)}' is not an object of tags");
            foreach (var tag in repo.Value.EnumerateObject())
            {
                string id = tag.Value.ValueKind == JsonValueKind.String ? tag.Value.GetString()! : "";
                var image = Load(store, id, loaded, 0);
                var imageId = Digest.Sha256Of(image.ConfigBytes);
                if (!byId.TryGetValue(imageId, out var entry))
                {
                    entry = new NamedImage
                    {
                        Root = new ImageNode
                        {
                            Image = new SourceImage
                            {
                                Config = image.Config,
                                ConfigDescriptor = new Descriptor(MediaTypes.OciConfig, imageId, image.ConfigBytes.LongLength),
                                ConfigBlob = image.ConfigBlob,
                                Layers = image.Layers,
                            },
                        },
                    };
                    byId[imageId] = entry;
                    result.Add(entry);
                }
                string reference = repo.Name + ":" + tag.Name;
                if (!ImageName.TryParse(reference, out var name, out string err))
                    throw new ArchiveFormatException($"{where}: repositories: '{Digest.Describe(reference)}' is not a valid reference: {err}");
                entry.AddName(name!);
            }
        }
        if (result.Count == 0)
            throw new ArchiveFormatException($"{where}: repositories lists no images");
        warnings.Add($"{where}: legacy (pre-1.10) docker-archive: image configs synthesised as docker's legacy loader does");
        return result;
    }

    private static Loaded Load(IEntryStore store, string id, Dictionary<string, Loaded> loaded, int depth)
    {
        if (loaded.TryGetValue(id, out var done))
            return done;
        if (depth > MaxChain)
            throw new ArchiveFormatException($"{store.DisplayName}: legacy image chain deeper than {MaxChain} (a parent cycle?)");
        if (id.Length != 64 || !Digest.TryFromSha256Hex(id, out _))
            throw new ArchiveFormatException($"{store.DisplayName}: legacy image ID '{Digest.Describe(id)}' is not 64 hex digits");
        var jsonLoc = store.Find(id + "/json") ?? throw new ArchiveFormatException($"{store.DisplayName}: '{id}/json' is not in the archive");
        byte[] v1 = jsonLoc.ReadDocument(null, null, $"{id}/json");
        using var doc = Json.Parse(v1, $"{store.DisplayName}: {id}/json");
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
            throw new ArchiveFormatException($"{store.DisplayName}: {id}/json is not a JSON object");
        string parent = GoJson.Str(root, "parent");
        var layers = new List<SourceLayer>();
        var history = new List<string>();
        var diffIds = new List<Digest>();
        if (parent.Length > 0)
        {
            var p = Load(store, parent, loaded, depth + 1);
            layers.AddRange(p.Layers);
            history.AddRange(p.HistoryJson);
            diffIds.AddRange(p.DiffIds);
        }
        var layerLoc = store.Find(id + "/layer.tar") ?? throw new ArchiveFormatException($"{store.DisplayName}: '{id}/layer.tar' is not in the archive");
        var diffId = UncompressedDigest(layerLoc, $"{store.DisplayName}: layer '{id}/layer.tar'");
        layers.Add(DockerArchiveReader.DescribeLayer(layerLoc, diffId, null, $"{store.DisplayName}: layer '{id}/layer.tar'"));
        diffIds.Add(diffId);
        history.Add(HistoryJson(root));
        byte[] config = MakeConfig(root, diffIds, history);
        var parsed = ImageConfig.Parse(config, $"{store.DisplayName}: synthesised config of {id}");
        var result = new Loaded(parsed, config, layers, history, diffIds, new BytesBlob(config, $"config synthesised from {id}/json"));
        loaded[id] = result;
        return result;
    }

    private static Digest UncompressedDigest(LocalBlob loc, string what)
    {
        var kind = Compressions.Sniff(loc.Head(Compressions.SniffLength));
        using var raw = loc.OpenRead();
        using var plain = BoundedDecompression.Open(raw, kind, what);
        using var v = new VerifyingStream(plain, what, null, null);
        return v.Drain();
    }

    /// <summary><c>v1.MakeConfigFromV1Config</c>: drop the v1-only keys, add rootfs and history, marshal with sorted keys.</summary>
    internal static byte[] MakeConfig(JsonElement root, List<Digest> diffIds, List<string> history)
    {
        // Docker < 1.8.3 wrote configs that are first normalised through the V1Image struct.
        string dockerVersion = GoJson.Str(root, "docker_version");
        var values = new SortedDictionary<string, string>(StringComparer.Ordinal);
        if (VersionLess(dockerVersion, "1.8.3"))
        {
            string normalised = V1ImageJson(root);
            using var d = JsonDocument.Parse(normalised);
            foreach (var p in d.RootElement.EnumerateObject())
                values[p.Name] = p.Value.GetRawText();
        }
        else
        {
            foreach (var p in root.EnumerateObject())
                values[p.Name] = p.Value.GetRawText();
        }
        foreach (var k in new[] { "id", "parent", "Size", "parent_id", "layer_id", "throwaway" })
            values.Remove(k);
        var rootfs = new StringBuilder("{\"type\":\"layers\"");
        if (diffIds.Count > 0)
            rootfs.Append(",\"diff_ids\":[").AppendJoin(',', diffIds.Select(d => "\"" + d + "\"")).Append(']');
        rootfs.Append('}');
        values["rootfs"] = rootfs.ToString();
        values["history"] = "[" + string.Join(',', history) + "]";
        var sb = new StringBuilder("{");
        bool first = true;
        foreach (var kv in values)
        {
            if (!first)
                sb.Append(',');
            first = false;
            GoJson.String(sb, kv.Key);
            sb.Append(':');
            GoJson.Compact(sb, kv.Value);
        }
        sb.Append('}');
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    /// <summary><c>v1.HistoryFromConfig</c>: one history entry from a v1 image JSON.</summary>
    private static string HistoryJson(JsonElement root)
    {
        var sb = new StringBuilder("{\"created\":");
        GoJson.String(sb, GoJson.Time(GoJson.Str(root, "created")) ?? GoJson.ZeroTime);
        string author = GoJson.Str(root, "author");
        if (author.Length > 0)
        {
            sb.Append(",\"author\":");
            GoJson.String(sb, author);
        }
        var cc = GoJson.Field(root, "container_config");
        var cmd = cc is { } c ? StrSlice(GoJson.Field(c, "Cmd")) : null;
        string createdBy = cmd is null ? "" : string.Join(' ', cmd);
        if (createdBy.Length > 0)
        {
            sb.Append(",\"created_by\":");
            GoJson.String(sb, createdBy);
        }
        string comment = GoJson.Str(root, "comment");
        if (comment.Length > 0)
        {
            sb.Append(",\"comment\":");
            GoJson.String(sb, comment);
        }
        sb.Append('}');
        return sb.ToString();
    }

    /// <summary>Marshals the fields of moby's <c>image.V1Image</c> struct, in its field order, with its omitempty rules.</summary>
    private static string V1ImageJson(JsonElement root)
    {
        var w = new GoStruct();
        w.Str("id", GoJson.Str(root, "id"), omitEmpty: true);
        w.Str("parent", GoJson.Str(root, "parent"), omitEmpty: true);
        w.Str("comment", GoJson.Str(root, "comment"), omitEmpty: true);
        w.Raw("created", Quote(GoJson.Time(GoJson.Str(root, "created")) ?? GoJson.ZeroTime));
        w.Str("container", GoJson.Str(root, "container"), omitEmpty: true);
        w.Raw("container_config", ContainerConfigJson(GoJson.Field(root, "container_config")));
        w.Str("docker_version", GoJson.Str(root, "docker_version"), omitEmpty: true);
        w.Str("author", GoJson.Str(root, "author"), omitEmpty: true);
        if (GoJson.Field(root, "config") is { ValueKind: JsonValueKind.Object } cfg)
            w.Raw("config", ContainerConfigJson(cfg));
        w.Str("architecture", GoJson.Str(root, "architecture"), omitEmpty: true);
        w.Str("variant", GoJson.Str(root, "variant"), omitEmpty: true);
        w.Str("os", GoJson.Str(root, "os"), omitEmpty: true);
        if (GoJson.Field(root, "Size") is { ValueKind: JsonValueKind.Number } size && size.TryGetInt64(out long sz) && sz != 0)
            w.Raw("Size", sz.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return w.End();
    }

    /// <summary>Marshals moby's <c>container.Config</c> (API 1.41) in its field order.</summary>
    private static string ContainerConfigJson(JsonElement? maybe)
    {
        var c = maybe ?? default;
        var w = new GoStruct();
        w.Str("Hostname", GoJson.Str(c, "Hostname"));
        w.Str("Domainname", GoJson.Str(c, "Domainname"));
        w.Str("User", GoJson.Str(c, "User"));
        w.Bool("AttachStdin", Bool(c, "AttachStdin"));
        w.Bool("AttachStdout", Bool(c, "AttachStdout"));
        w.Bool("AttachStderr", Bool(c, "AttachStderr"));
        if (GoJson.Field(c, "ExposedPorts") is { ValueKind: JsonValueKind.Object } ports && ports.EnumerateObject().Any())
            w.Raw("ExposedPorts", EmptyStructMap(ports));
        w.Bool("Tty", Bool(c, "Tty"));
        w.Bool("OpenStdin", Bool(c, "OpenStdin"));
        w.Bool("StdinOnce", Bool(c, "StdinOnce"));
        w.Raw("Env", StringList(StrArray(GoJson.Field(c, "Env"))));
        w.Raw("Cmd", StringList(StrSlice(GoJson.Field(c, "Cmd"))));
        if (GoJson.Field(c, "Healthcheck") is { ValueKind: JsonValueKind.Object } hc)
            w.Raw("Healthcheck", HealthJson(hc));
        if (Bool(c, "ArgsEscaped"))
            w.Bool("ArgsEscaped", true);
        w.Str("Image", GoJson.Str(c, "Image"));
        w.Raw("Volumes", GoJson.Field(c, "Volumes") is { ValueKind: JsonValueKind.Object } vol ? EmptyStructMap(vol) : "null");
        w.Str("WorkingDir", GoJson.Str(c, "WorkingDir"));
        w.Raw("Entrypoint", StringList(StrSlice(GoJson.Field(c, "Entrypoint"))));
        if (Bool(c, "NetworkDisabled"))
            w.Bool("NetworkDisabled", true);
        w.Str("MacAddress", GoJson.Str(c, "MacAddress"), omitEmpty: true);
        w.Raw("OnBuild", StringList(StrArray(GoJson.Field(c, "OnBuild"))));
        w.Raw("Labels", GoJson.Field(c, "Labels") is { ValueKind: JsonValueKind.Object } labels ? StringMap(labels) : "null");
        w.Str("StopSignal", GoJson.Str(c, "StopSignal"), omitEmpty: true);
        if (GoJson.Field(c, "StopTimeout") is { ValueKind: JsonValueKind.Number } st && st.TryGetInt64(out long stv))
            w.Raw("StopTimeout", stv.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var shell = StrSlice(GoJson.Field(c, "Shell"));
        if (shell is { Count: > 0 })
            w.Raw("Shell", StringList(shell));
        return w.End();
    }

    private static string HealthJson(JsonElement hc)
    {
        var w = new GoStruct();
        var test = StrArray(GoJson.Field(hc, "Test"));
        if (test is { Count: > 0 })
            w.Raw("Test", StringList(test));
        foreach (var k in new[] { "Interval", "Timeout", "StartPeriod", "Retries" })
        {
            if (GoJson.Field(hc, k) is { ValueKind: JsonValueKind.Number } n && n.TryGetInt64(out long v) && v != 0)
                w.Raw(k, v.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        return w.End();
    }

    private static bool Bool(JsonElement c, string name) => GoJson.Field(c, name) is { ValueKind: JsonValueKind.True };

    private static List<string>? StrArray(JsonElement? e) =>
        e is { ValueKind: JsonValueKind.Array } a ? a.EnumerateArray().Select(x => x.ValueKind == JsonValueKind.String ? x.GetString()! : "").ToList() : null;

    /// <summary>strslice.StrSlice: a JSON string or an array of strings.</summary>
    private static List<string>? StrSlice(JsonElement? e) =>
        e is { ValueKind: JsonValueKind.String } s ? [s.GetString()!] : StrArray(e);

    private static string StringList(List<string>? list)
    {
        if (list is null)
            return "null";
        var sb = new StringBuilder("[");
        for (int i = 0; i < list.Count; i++)
        {
            if (i > 0)
                sb.Append(',');
            GoJson.String(sb, list[i]);
        }
        return sb.Append(']').ToString();
    }

    private static string EmptyStructMap(JsonElement obj)
    {
        var keys = new SortedSet<string>(obj.EnumerateObject().Select(p => p.Name), StringComparer.Ordinal);
        var sb = new StringBuilder("{");
        bool first = true;
        foreach (var k in keys)
        {
            if (!first)
                sb.Append(',');
            first = false;
            GoJson.String(sb, k);
            sb.Append(":{}");
        }
        return sb.Append('}').ToString();
    }

    private static string StringMap(JsonElement obj)
    {
        var map = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var p in obj.EnumerateObject())
            map[p.Name] = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : "";
        var sb = new StringBuilder("{");
        bool first = true;
        foreach (var kv in map)
        {
            if (!first)
                sb.Append(',');
            first = false;
            GoJson.String(sb, kv.Key);
            sb.Append(':');
            GoJson.String(sb, kv.Value);
        }
        return sb.Append('}').ToString();
    }

    private static string Quote(string s)
    {
        var sb = new StringBuilder();
        GoJson.String(sb, s);
        return sb.ToString();
    }

    /// <summary>docker's <c>versions.LessThan</c>: dot-separated numeric comparison.</summary>
    internal static bool VersionLess(string v, string other)
    {
        var a = v.Split('.');
        var b = other.Split('.');
        for (int i = 0; i < Math.Max(a.Length, b.Length); i++)
        {
            int x = i < a.Length && int.TryParse(a[i], out int xi) ? xi : 0;
            int y = i < b.Length && int.TryParse(b[i], out int yi) ? yi : 0;
            if (x != y)
                return x < y;
        }
        return false;
    }

    private sealed class GoStruct
    {
        private readonly StringBuilder _sb = new("{");
        private bool _first = true;

        public void Raw(string key, string json)
        {
            if (!_first)
                _sb.Append(',');
            _first = false;
            GoJson.String(_sb, key);
            _sb.Append(':').Append(json);
        }

        public void Str(string key, string value, bool omitEmpty = false)
        {
            if (omitEmpty && value.Length == 0)
                return;
            Raw(key, Quote(value));
        }

        public void Bool(string key, bool value) => Raw(key, value ? "true" : "false");

        public string End() => _sb.Append('}').ToString();
    }

}
