using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Ferry.Interop.Tests.Infrastructure;

internal static class JsonUtil
{
    public static JsonDocument Parse(string json, string what)
    {
        try
        {
            return JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new InteropException($"{what} is not valid JSON ({e.Message}):\n{(json.Length > 2000 ? json[..2000] + "..." : json)}");
        }
    }

    public static string? Str(this JsonElement e, string prop) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(prop, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    public static JsonElement? Prop(this JsonElement e, string prop) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(prop, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    public static IReadOnlyList<string> Strings(this JsonElement? e) =>
        e is { ValueKind: JsonValueKind.Array } a ? a.EnumerateArray().Where(x => x.ValueKind == JsonValueKind.String).Select(x => x.GetString()!).ToList() : [];

    public static IEnumerable<JsonElement> Items(this JsonElement? e) =>
        e is { ValueKind: JsonValueKind.Array } a ? a.EnumerateArray() : [];

    /// <summary>rootfs.diff_ids of an image config.</summary>
    public static IReadOnlyList<string> DiffIds(string configJson)
    {
        using var doc = Parse(configJson, "image config");
        return doc.RootElement.Prop("rootfs")?.Prop("diff_ids").Strings() ?? [];
    }

    /// <summary>"sha256:HEX" of the UTF-8 bytes of <paramref name="text"/> (the exact bytes a tool printed).</summary>
    public static string Sha256(string text) => Sha256(Encoding.UTF8.GetBytes(text));

    public static string Sha256(byte[] bytes) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes));

    public static string WithSha256Prefix(string id) => id.StartsWith("sha256:", StringComparison.Ordinal) ? id : "sha256:" + id;
}
