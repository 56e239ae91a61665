using System.Text;
using Ferry.Model;
using YamlDotNet.RepresentationModel;

namespace Ferry.Sets;

/// <summary>One container image found in a Kubernetes manifest.</summary>
/// <param name="Written">The image as the manifest writes it (<c>nginx:1.27</c>).</param>
/// <param name="Name">It normalised (<c>docker.io/library/nginx:1.27</c>; <c>latest</c> when it names no tag, as the kubelet pulls it).</param>
/// <param name="File">The file (or <c>-</c> for stdin).</param>
/// <param name="Line">The line of the <c>image:</c> value.</param>
/// <param name="Kind">The object's kind (<c>Deployment</c>, <c>CronJob</c>, …; the item's kind inside a <c>List</c>).</param>
/// <param name="Object">The object's name (<c>metadata.name</c>), or empty.</param>
/// <param name="Container">The container's name.</param>
/// <param name="Field">Where the container is: <c>containers</c>, <c>initContainers</c> or <c>ephemeralContainers</c>.</param>
public sealed record ManifestImage(string Written, ImageName Name, string File, int Line, string Kind, string Object, string Container, string Field);

/// <summary>Something a scan left out: a document that does not parse, or an image value that is not a reference.</summary>
/// <param name="File">The file.</param>
/// <param name="Line">Where (1-based; 0 when unknown).</param>
/// <param name="Reason">Why, one line.</param>
public sealed record ManifestSkip(string File, int Line, string Reason);

/// <summary>What a scan of Kubernetes manifests found.</summary>
/// <param name="Images">Every image value, in the order met.</param>
/// <param name="Skipped">What was left out.</param>
/// <param name="Documents">How many YAML documents were read (empty ones not counted).</param>
public sealed record ManifestScan(IReadOnlyList<ManifestImage> Images, IReadOnlyList<ManifestSkip> Skipped, int Documents)
{
    /// <summary>Each image once, sorted by its full name.</summary>
    public IReadOnlyList<ImageName> Distinct =>
        Images.Select(i => i.Name).DistinctBy(n => n.ToString()).OrderBy(n => n.ToString(), StringComparer.Ordinal).ToList();

    /// <summary>The images as a set (every platform, referrers along), for <c>ferry images --set</c>.</summary>
    /// <exception cref="ArgumentException">No image was found.</exception>
    public ImageSet ToSet() => new(Distinct.Select(n => new ImageSetImage(n)).ToList(), []);

    /// <summary>Several scans as one.</summary>
    public static ManifestScan Combine(IEnumerable<ManifestScan> scans)
    {
        ArgumentNullException.ThrowIfNull(scans);
        var list = scans.ToList();
        return new ManifestScan(list.SelectMany(s => s.Images).ToList(), list.SelectMany(s => s.Skipped).ToList(), list.Sum(s => s.Documents));
    }
}

/// <summary>
/// The container images of Kubernetes manifests (<c>ferry images</c>; <c>helm template … | ferry images -</c> for a
/// chart): every container, init container and ephemeral container of every pod spec, wherever it sits (Pod,
/// Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob, PodTemplate, and custom
/// resources that embed a pod template), in multi-document files and <c>List</c> kinds. Only a <c>containers</c>-like
/// list of objects with an <c>image</c> string counts, so a role reference or a schema is never taken for an image.
/// </summary>
public static class KubernetesImages
{
    private static readonly string[] ContainerFields = ["containers", "initContainers", "ephemeralContainers"];

    /// <summary>The largest file read (64 MiB).</summary>
    public const long MaxFileBytes = 64L << 20;

    /// <summary>Scans a file, or every <c>.yaml</c>, <c>.yml</c> and <c>.json</c> file under a directory (in name order).</summary>
    /// <exception cref="IOException">A file cannot be read.</exception>
    public static ManifestScan ScanPath(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (Directory.Exists(path))
        {
            var files = Directory.EnumerateFiles(path, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.Hidden | FileAttributes.System })
                .Where(f => f.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".yml", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
                .Order(StringComparer.Ordinal);
            return ManifestScan.Combine(files.Select(ScanFile));
        }
        return ScanFile(path);
    }

    private static ManifestScan ScanFile(string file)
    {
        var info = new FileInfo(file);
        if (!info.Exists)
            throw new FileNotFoundException($"{file}: no such file or directory", file);
        if (info.Length > MaxFileBytes)
            return new ManifestScan([], [new ManifestSkip(file, 0, $"larger than {MaxFileBytes >> 20} MiB: not read")], 0);
        return Scan(File.ReadAllText(file, Encoding.UTF8), file);
    }

    /// <summary>Scans manifest text (one or more YAML or JSON documents); <paramref name="file"/> names it in the results.</summary>
    public static ManifestScan Scan(string text, string file = "-")
    {
        ArgumentNullException.ThrowIfNull(text);
        var images = new List<ManifestImage>();
        var skipped = new List<ManifestSkip>();
        int documents = 0;
        foreach (var (chunk, firstLine) in SplitDocuments(text))
        {
            if (IsBlank(chunk))
                continue;
            documents++;
            YamlStream stream;
            try
            {
                stream = new YamlDoc(file).LoadStream(chunk);
            }
            catch (ImageSetFormatException e)
            {
                // An error at the end of the stream points past the document's last line: name its last line then.
                int last = firstLine + chunk.TrimEnd('\n').Count(c => c == '\n');
                skipped.Add(new ManifestSkip(file, e.Line > 0 ? Math.Min(firstLine + e.Line - 1, last) : firstLine, "not parsed: " + e.Problem));
                continue;
            }
            foreach (var doc in stream.Documents)
            {
                if (doc.RootNode is YamlMappingNode root)
                    Object(root, file, firstLine - 1, images, skipped);
                else if (!YamlDoc.IsNull(doc.RootNode))
                    skipped.Add(new ManifestSkip(file, firstLine + (int)doc.RootNode.Start.Line - 1, $"not a Kubernetes object ({YamlDoc.Kind(doc.RootNode)})"));
            }
        }
        return new ManifestScan(images, skipped, documents);
    }

    /// <summary>Splits at <c>---</c> lines, so that one broken document does not hide the others; each chunk with its first line number.</summary>
    private static IEnumerable<(string Text, int FirstLine)> SplitDocuments(string text)
    {
        var sb = new StringBuilder();
        int start = 1, line = 0;
        foreach (var raw in text.ReplaceLineEndings("\n").Split('\n'))
        {
            line++;
            if (raw == "---" || raw.StartsWith("--- ", StringComparison.Ordinal) || raw.StartsWith("---\t", StringComparison.Ordinal) || raw == "...")
            {
                yield return (sb.ToString(), start);
                sb.Clear();
                // What follows '--- ' on the marker line is the document's first content: keep it (a comment stays a comment).
                sb.Append(raw.Length > 4 && raw != "..." ? new string(' ', 4) + raw[4..] : "").Append('\n');
                start = line;
                continue;
            }
            sb.Append(raw).Append('\n');
        }
        yield return (sb.ToString(), start);
    }

    private static bool IsBlank(string chunk) =>
        chunk.Split('\n').All(l => l.TrimStart().Length == 0 || l.TrimStart().StartsWith('#') || l.TrimStart().StartsWith('%'));

    private static string Scalar(YamlMappingNode m, string key) =>
        m.Children.TryGetValue(new YamlScalarNode(key), out var v) && v is YamlScalarNode { Value: { } s } ? s : "";

    /// <summary>One object: a <c>List</c>'s items each on their own, else every container list anywhere in it.</summary>
    private static void Object(YamlMappingNode obj, string file, int offset, List<ManifestImage> images, List<ManifestSkip> skipped)
    {
        string kind = Scalar(obj, "kind");
        if (kind.EndsWith("List", StringComparison.Ordinal) && obj.Children.TryGetValue(new YamlScalarNode("items"), out var items) && items is YamlSequenceNode seq)
        {
            foreach (var item in seq.Children)
            {
                if (item is YamlMappingNode m)
                    Object(m, file, offset, images, skipped);
            }
            return;
        }
        string name = obj.Children.TryGetValue(new YamlScalarNode("metadata"), out var meta) && meta is YamlMappingNode mm ? Scalar(mm, "name") : "";
        Walk(obj, kind, name, file, offset, images, skipped, 0);
    }

    private static void Walk(YamlNode node, string kind, string name, string file, int offset, List<ManifestImage> images, List<ManifestSkip> skipped, int depth)
    {
        if (depth > 64)
            return;
        if (node is YamlSequenceNode s)
        {
            foreach (var c in s.Children)
                Walk(c, kind, name, file, offset, images, skipped, depth + 1);
            return;
        }
        if (node is not YamlMappingNode m)
            return;
        foreach (var (k, v) in m.Children)
        {
            if (k is YamlScalarNode { Value: { } key } && Array.IndexOf(ContainerFields, key) >= 0 && v is YamlSequenceNode containers)
            {
                foreach (var c in containers.Children)
                {
                    if (c is YamlMappingNode container && container.Children.TryGetValue(new YamlScalarNode("image"), out var image) && image is YamlScalarNode { Value: { } written } scalar)
                        Add(written, scalar, Scalar(container, "name"), key, kind, name, file, offset, images, skipped);
                }
                continue;
            }
            Walk(v, kind, name, file, offset, images, skipped, depth + 1);
        }
    }

    private static void Add(string written, YamlScalarNode at, string container, string field, string kind, string name, string file, int offset, List<ManifestImage> images, List<ManifestSkip> skipped)
    {
        int line = offset + (int)at.Start.Line;
        string trimmed = written.Trim();
        if (!ImageName.TryParse(trimmed, out var parsed, out string error))
        {
            string what = $"{(kind.Length == 0 ? "object" : kind)}/{name} {field} '{container}'";
            skipped.Add(new ManifestSkip(file, line, trimmed.Length == 0 ? $"{what}: empty image" : $"{what}: image '{Digests.Digest.Describe(trimmed)}' is not a reference ({error})"));
            return;
        }
        images.Add(new ManifestImage(written, parsed!.WithDefaultTag(), file, line, kind, name, container, field));
    }
}
