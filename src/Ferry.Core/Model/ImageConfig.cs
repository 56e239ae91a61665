using System.Text.Json;
using Ferry.Digests;

namespace Ferry.Model;

/// <summary>One entry of an image config's history.</summary>
public sealed record HistoryEntry(string? Created, string? CreatedBy, string? Author, string? Comment, bool EmptyLayer);

/// <summary>An image configuration with its exact bytes (the image ID is their SHA-256).</summary>
public sealed class ImageConfig
{
    private ImageConfig(byte[] raw) => Raw = raw;

    public byte[] Raw { get; }
    public Digest Digest => Digest.Sha256Of(Raw);
    public string? Os { get; private init; }
    public string? Architecture { get; private init; }
    public string? Variant { get; private init; }
    public string? Created { get; private init; }
    public string? Author { get; private init; }
    public IReadOnlyList<string>? Entrypoint { get; private init; }
    public IReadOnlyList<string>? Cmd { get; private init; }
    public IReadOnlyList<string>? Env { get; private init; }
    public string? WorkingDir { get; private init; }
    public string? User { get; private init; }
    public IReadOnlyDictionary<string, string>? Labels { get; private init; }
    public IReadOnlyList<string> ExposedPorts { get; private init; } = [];
    public IReadOnlyList<Digest> DiffIds { get; private init; } = [];
    public IReadOnlyList<HistoryEntry> History { get; private init; } = [];

    public Platform? Platform => Os is not null && Architecture is not null ? new Platform(Os, Architecture, Variant) : null;

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
