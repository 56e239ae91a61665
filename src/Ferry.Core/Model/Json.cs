using System.Text;
using System.Text.Json;

namespace Ferry.Model;

/// <summary>Limits and helpers for the JSON documents found in archives (manifests, indexes, configs).</summary>
internal static class Json
{
    /// <summary>The largest JSON document Ferry reads from an archive: 8 MiB.</summary>
    public const int MaxDocumentBytes = 8 * 1024 * 1024;

    /// <summary>The deepest nesting Ferry accepts in a JSON document.</summary>
    public const int MaxDepth = 64;

    /// <summary>Parses a document; every failure becomes an <see cref="ArchiveFormatException"/> naming <paramref name="what"/>.</summary>
    public static JsonDocument Parse(ReadOnlyMemory<byte> bytes, string what)
    {
        if (bytes.Length > MaxDocumentBytes)
            throw new ArchiveFormatException($"{what}: JSON document is {bytes.Length} bytes, over the {MaxDocumentBytes}-byte limit");
        // JsonDocument checks the UTF-8 of strings only when they are read; check it all here, once.
        if (!System.Text.Unicode.Utf8.IsValid(bytes.Span))
            throw new ArchiveFormatException($"{what}: JSON document is not valid UTF-8");
        try
        {
            return JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = MaxDepth });
        }
        catch (JsonException e)
        {
            throw new ArchiveFormatException($"{what}: invalid JSON: {FirstLine(e.Message)}", e);
        }
    }

    /// <summary>Reads a whole JSON document from a stream, refusing more than <see cref="MaxDocumentBytes"/>.</summary>
    public static byte[] ReadLimited(Stream stream, string what)
    {
        using var ms = new MemoryStream();
        byte[] buf = new byte[81920];
        int n;
        while ((n = stream.Read(buf, 0, buf.Length)) > 0)
        {
            if (ms.Length + n > MaxDocumentBytes)
                throw new ArchiveFormatException($"{what}: JSON document is larger than the {MaxDocumentBytes}-byte limit");
            ms.Write(buf, 0, n);
        }
        return ms.ToArray();
    }

    /// <summary>Reads a whole JSON document from a stream asynchronously, refusing more than <see cref="MaxDocumentBytes"/>.</summary>
    public static async ValueTask<byte[]> ReadLimitedAsync(Stream stream, string what, CancellationToken cancellationToken, int limit = MaxDocumentBytes)
    {
        using var ms = new MemoryStream();
        byte[] buf = new byte[81920];
        int n;
        while ((n = await stream.ReadAsync(buf, cancellationToken).ConfigureAwait(false)) > 0)
        {
            if (ms.Length + n > limit)
                throw new ArchiveFormatException($"{what}: JSON document is larger than the {limit}-byte limit");
            ms.Write(buf, 0, n);
        }
        return ms.ToArray();
    }

    private static string FirstLine(string s)
    {
        int i = s.IndexOfAny(['\r', '\n']);
        return i < 0 ? s : s[..i];
    }

    public static string? OptString(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    public static JsonElement? OptObject(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Object ? v : null;

    public static JsonElement? OptArray(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Array ? v : null;

    public static string ReqString(JsonElement e, string name, string what) =>
        OptString(e, name) ?? throw new ArchiveFormatException($"{what}: missing or non-string \"{name}\"");

    public static List<string>? OptStringArray(JsonElement e, string name)
    {
        if (OptArray(e, name) is not JsonElement arr)
            return null;
        var list = new List<string>();
        foreach (var item in arr.EnumerateArray())
        {
            if (item.ValueKind == JsonValueKind.String)
                list.Add(item.GetString()!);
        }
        return list;
    }

    public static Dictionary<string, string>? OptStringMap(JsonElement e, string name)
    {
        if (OptObject(e, name) is not JsonElement obj)
            return null;
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var p in obj.EnumerateObject())
        {
            if (p.Value.ValueKind == JsonValueKind.String)
                map[p.Name] = p.Value.GetString()!;
        }
        return map;
    }

    /// <summary>Writes a document with <see cref="Utf8JsonWriter"/> in compact form, without escaping non-ASCII beyond JSON's rules.</summary>
    public static byte[] Write(Action<Utf8JsonWriter> body, bool indented = false)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions
        {
            Indented = indented,
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        }))
        {
            body(w);
        }
        return ms.ToArray();
    }

    public static string Utf8(byte[] bytes) => Encoding.UTF8.GetString(bytes);
}
