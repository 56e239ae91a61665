using System.Formats.Tar;
using System.Text;
using System.Text.Json;

namespace Ferry.Interop.Tests.Infrastructure;

/// <summary>One descriptor of an OCI index.json, with the two naming annotations tools use.</summary>
public sealed record IndexEntry(string Digest, string MediaType, string? RefName, string? ContainerdName)
{
    public const string RefNameKey = "org.opencontainers.image.ref.name";
    public const string ContainerdNameKey = "io.containerd.image.name";

    public string Describe() => $"{Digest} (ref.name={RefName ?? "-"}, io.containerd.image.name={ContainerdName ?? "-"})";
}

/// <summary>Reads index.json and blobs of an OCI layout, either a directory or a tar (oci-archive / portable).</summary>
public static class OciIndex
{
    public static IReadOnlyList<IndexEntry> Read(string layout)
    {
        string json = ReadFile(layout, "index.json") ?? throw new InteropException($"{layout}: no index.json");
        using var doc = JsonUtil.Parse(json, $"{layout}: index.json");
        var list = new List<IndexEntry>();
        if (doc.RootElement.Prop("manifests") is { ValueKind: JsonValueKind.Array } ms)
        {
            foreach (var m in ms.EnumerateArray())
            {
                var ann = m.Prop("annotations");
                list.Add(new IndexEntry(m.Str("digest") ?? "", m.Str("mediaType") ?? "",
                    ann?.Str(IndexEntry.RefNameKey), ann?.Str(IndexEntry.ContainerdNameKey)));
            }
        }
        return list;
    }

    /// <summary>The blob with <paramref name="digest"/> as text, or null.</summary>
    public static string? ReadBlob(string layout, string digest)
    {
        string[] parts = digest.Split(':', 2);
        return parts.Length == 2 ? ReadFile(layout, $"blobs/{parts[0]}/{parts[1]}") : null;
    }

    /// <summary>The layer media types of the manifest <paramref name="manifestDigest"/>.</summary>
    public static IReadOnlyList<string> LayerMediaTypes(string layout, string manifestDigest)
    {
        string? m = ReadBlob(layout, manifestDigest);
        if (m is null)
            return [];
        using var doc = JsonUtil.Parse(m, $"{layout}: manifest {manifestDigest}");
        return doc.RootElement.Prop("layers") is { ValueKind: JsonValueKind.Array } ls
            ? ls.EnumerateArray().Select(l => l.Str("mediaType") ?? "").ToList()
            : [];
    }

    /// <summary>A member of a tar (matched with or without a leading "./") or a file of a directory, as text.</summary>
    public static string? ReadFile(string layout, string name)
    {
        if (Directory.Exists(layout))
        {
            string p = Path.Combine(layout, name);
            return File.Exists(p) ? File.ReadAllText(p) : null;
        }
        using var fs = File.OpenRead(layout);
        using var tar = new TarReader(fs);
        while (tar.GetNextEntry() is { } e)
        {
            string n = e.Name.StartsWith("./", StringComparison.Ordinal) ? e.Name[2..] : e.Name;
            if (n == name && e.DataStream is { } data)
            {
                using var r = new StreamReader(data, Encoding.UTF8);
                return r.ReadToEnd();
            }
        }
        return null;
    }

    /// <summary>The names of every member of a tar.</summary>
    public static IReadOnlyList<string> TarMembers(string tarPath)
    {
        using var fs = File.OpenRead(tarPath);
        using var tar = new TarReader(fs);
        var names = new List<string>();
        while (tar.GetNextEntry() is { } e)
            names.Add(e.Name);
        return names;
    }
}
