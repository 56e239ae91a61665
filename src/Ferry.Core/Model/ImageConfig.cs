using System.Text.Json;
using Ferry.Digests;

namespace Ferry.Model;

/// <summary>One entry of an image config's history.</summary>
public sealed record HistoryEntry(string? Created, string? CreatedBy, string? Author, string? Comment, bool EmptyLayer);

/// <summary>An image configuration with its exact bytes (the image ID is their SHA-256).</summary>
public sealed class ImageConfig
{
    private ImageConfig(byte[] raw) => Raw = raw;

    /// <summary>The exact bytes.</summary>
    public byte[] Raw { get; }
    /// <summary>The SHA-256 of the bytes: the image ID.</summary>
    public Digest Digest => Digest.Sha256Of(Raw);
    /// <summary>The <c>os</c> field.</summary>
    public string? Os { get; private init; }
    /// <summary>The <c>architecture</c> field.</summary>
    public string? Architecture { get; private init; }
    /// <summary>The <c>variant</c> field.</summary>
    public string? Variant { get; private init; }
    /// <summary>The <c>created</c> time, as written.</summary>
    public string? Created { get; private init; }
    /// <summary>The <c>author</c> field.</summary>
    public string? Author { get; private init; }
    /// <summary><c>config.Entrypoint</c>.</summary>
    public IReadOnlyList<string>? Entrypoint { get; private init; }
    /// <summary><c>config.Cmd</c>.</summary>
    public IReadOnlyList<string>? Cmd { get; private init; }
    /// <summary><c>config.Env</c>.</summary>
    public IReadOnlyList<string>? Env { get; private init; }
    /// <summary><c>config.WorkingDir</c>.</summary>
    public string? WorkingDir { get; private init; }
    /// <summary><c>config.User</c>.</summary>
    public string? User { get; private init; }
    /// <summary><c>config.Labels</c>.</summary>
    public IReadOnlyDictionary<string, string>? Labels { get; private init; }
    /// <summary>The keys of <c>config.ExposedPorts</c>.</summary>
    public IReadOnlyList<string> ExposedPorts { get; private init; } = [];
    /// <summary><c>rootfs.diff_ids</c>: the digests of the uncompressed layers.</summary>
    public IReadOnlyList<Digest> DiffIds { get; private init; } = [];
    /// <summary><c>history</c>.</summary>
    public IReadOnlyList<HistoryEntry> History { get; private init; } = [];

    /// <summary><c>os/architecture[/variant]</c>, when both are set.</summary>
    public Platform? Platform => Os is not null && Architecture is not null ? new Platform(Os, Architecture, Variant, _osVersion) { OsFeatures = _osFeatures } : null;

    private string? _osVersion;
    private IReadOnlyList<string>? _osFeatures;

    /// <summary>Parses config bytes; every diff_id must be a valid digest.</summary>
    public static ImageConfig Parse(byte[] raw, string what)
    {
        using var doc = Json.Parse(raw, what);
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
            throw new ArchiveFormatException($"{what}: image config is not a JSON object");
        var diffIds = new List<Digest>();
        if (Json.OptObject(root, "rootfs") is JsonElement rootfs && Json.OptArray(rootfs, "diff_ids") is JsonElement ids)
        {
            foreach (var id in ids.EnumerateArray())
            {
                string? text = id.ValueKind == JsonValueKind.String ? id.GetString() : null;
                if (!Digest.TryParse(text, out var d))
                    throw new ArchiveFormatException($"{what}: invalid diff_id '{Digest.Describe(text ?? id.GetRawText())}'");
                diffIds.Add(d);
            }
        }
        var history = new List<HistoryEntry>();
        if (Json.OptArray(root, "history") is JsonElement hist)
        {
            foreach (var h in hist.EnumerateArray())
            {
                history.Add(new HistoryEntry(Json.OptString(h, "created"), Json.OptString(h, "created_by"), Json.OptString(h, "author"),
                    Json.OptString(h, "comment"), h.ValueKind == JsonValueKind.Object && h.TryGetProperty("empty_layer", out var el) && el.ValueKind == JsonValueKind.True));
            }
        }
        var cfg = Json.OptObject(root, "config") ?? default;
        var ports = Json.OptObject(cfg, "ExposedPorts") is JsonElement p ? p.EnumerateObject().Select(x => x.Name).ToList() : [];
        return new ImageConfig(raw)
        {
            Os = Json.OptString(root, "os"),
            Architecture = Json.OptString(root, "architecture"),
            Variant = Json.OptString(root, "variant"),
            _osVersion = Json.OptString(root, "os.version"),
            _osFeatures = Json.OptStringArray(root, "os.features") is { Count: > 0 } features ? features : null,
            Created = Json.OptString(root, "created"),
            Author = Json.OptString(root, "author"),
            Entrypoint = Json.OptStringArray(cfg, "Entrypoint"),
            Cmd = Json.OptStringArray(cfg, "Cmd"),
            Env = Json.OptStringArray(cfg, "Env"),
            WorkingDir = Json.OptString(cfg, "WorkingDir"),
            User = Json.OptString(cfg, "User"),
            Labels = Json.OptStringMap(cfg, "Labels"),
            ExposedPorts = ports,
            DiffIds = diffIds,
            History = history,
        };
    }
}
