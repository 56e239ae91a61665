using System.Text.Json;
using System.Text.RegularExpressions;
using Ferry.Sets;
using Ferry.Tests.TestSupport;
using static Ferry.Tests.TestSupport.CliRun;

namespace Ferry.Tests.Sets;

/// <summary><c>ferry images</c> and <c>ferry set check</c> on the command line.</summary>
public sealed partial class SetCliTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static (int Code, string Out, string Err) RunWithStdin(string stdin, params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = Ferry.Cli.Program.Run(args, o, e, () => new MemoryStream(System.Text.Encoding.UTF8.GetBytes(stdin))).GetAwaiter().GetResult();
        return (code, o.ToString(), e.ToString());
    }

    [Fact]
    public void ImagesListsFullNamesOnceEach()
    {
        File.WriteAllText(_dir.Path("all.yaml"), KubernetesImagesTests.Workloads);
        var r = Run("images", _dir.Path("all.yaml"));
        Ok(r);
        var lines = r.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(13, lines.Length);
        Assert.Equal(lines.Order(StringComparer.Ordinal), lines);
        Assert.Contains("docker.io/library/nginx:1.27", lines);
        Assert.Equal("", r.Err);
    }

    [Fact]
    public void ImagesFromStdinSaySkippedDocumentsAndWriteASet()
    {
        const string helm = "---\n# Source: c/templates/a.yaml\nkind: Deployment\nmetadata: {name: a}\nspec:\n  template:\n    spec:\n      containers:\n        - name: a\n          image: \"{{ .Values.image }}\"\n        - name: b\n          image: redis:7.2\n";
        string set = _dir.Path("ferry.yaml");
        var r = RunWithStdin(helm, "images", "-", "--set", set);
        Ok(r);
        Assert.Equal("docker.io/library/redis:7.2\n", r.Out.ReplaceLineEndings("\n"));
        Assert.Contains("ferry: skipped -:10: Deployment/a containers 'a': image '{{ .Values.image }}' is not a reference", r.Err, StringComparison.Ordinal);
        Assert.Contains($"ferry: wrote 1 image to {set}", r.Err, StringComparison.Ordinal);
        Assert.Equal("docker.io/library/redis:7.2", ImageSet.Load(set).Images[0].Reference.ToString());
        Ok(Run("set", "check", set));
    }

    [Fact]
    public void ImagesJsonIsWhatDocsJsonSays()
    {
        File.WriteAllText(_dir.Path("a.yaml"), KubernetesImagesTests.Workloads + "\n---\nkind: Pod\nmetadata: { name: x\n");
        var r = Run("images", _dir.Path("a.yaml"), "--json");
        Ok(r);
        using var doc = JsonDocument.Parse(r.Out);
        Assert.Equal(13, doc.RootElement.GetProperty("images").GetArrayLength());
        Assert.Equal(1, doc.RootElement.GetProperty("skipped").GetArrayLength());
        Conforms("images", doc.RootElement);
    }

    /// <summary>Every field printed is in docs/json.md's table for <paramref name="section"/>, with its type, and every field listed is printed.</summary>
    internal static void Conforms(string section, JsonElement root)
    {
        var schema = new Dictionary<string, string>(StringComparer.Ordinal);
        bool inSection = false;
        foreach (var line in File.ReadLines(Corpus.Path("docs/json.md")))
        {
            if (line.StartsWith("## ", StringComparison.Ordinal))
                inSection = line == "## " + section;
            else if (inSection && Row().Match(line) is { Success: true } m)
                schema[m.Groups[1].Value] = m.Groups[2].Value.Trim();
        }
        Assert.NotEmpty(schema);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        Walk(root, "", seen, schema);
        // A field inside array elements is required only where that array had elements.
        var required = schema.Keys.Where(k => !k.Contains("[]", StringComparison.Ordinal) || seen.Contains(k[..(k.LastIndexOf("[]", StringComparison.Ordinal) + 2)]));
        Assert.Equal(required.Order(StringComparer.Ordinal), seen.Where(k => !k.EndsWith("[]", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
    }

    private static void Walk(JsonElement e, string path, HashSet<string> seen, Dictionary<string, string> schema)
    {
        if (e.ValueKind == JsonValueKind.Object)
        {
            foreach (var p in e.EnumerateObject())
            {
                string child = path.Length == 0 ? p.Name : path + "." + p.Name;
                Assert.True(schema.TryGetValue(child, out var type), $"'{child}' is not in docs/json.md");
                string kind = p.Value.ValueKind switch { JsonValueKind.Array => "array", JsonValueKind.Number => "number", JsonValueKind.String => "string", JsonValueKind.Null => "null", _ => "object" };
                Assert.Contains(kind, type, StringComparison.Ordinal);
                seen.Add(child);
                Walk(p.Value, child, seen, schema);
            }
        }
        else if (e.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in e.EnumerateArray())
            {
                seen.Add(path + "[]");
                Walk(item, path + "[]", seen, schema);
            }
        }
    }

    [GeneratedRegex(@"^\| `([^`]+)` \| ([^|]+) \|(.*)\|$")]
    private static partial Regex Row();

    [Fact]
    public void MissingInputIsAUsageError()
    {
        var r = Run("images", _dir.Path("nope.yaml"));
        Assert.Equal(2, r.Code);
        Assert.Contains("no such file or directory", r.Err, StringComparison.Ordinal);
        var none = RunWithStdin("kind: ConfigMap\n", "images", "-", "--set", _dir.Path("s.yaml"));
        Assert.Equal(2, none.Code);
        Assert.Contains("no image found", none.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void SetCheckNamesLineAndColumn()
    {
        File.WriteAllText(_dir.Path("ferry.yaml"), "version: 1\nimages:\n  - ref: alpine\n    platfroms: [linux/amd64]\n");
        var r = Run("set", "check", _dir.Path("ferry.yaml"));
        Assert.Equal(2, r.Code);
        Assert.Equal($"ferry: {_dir.Path("ferry.yaml")}:4:5: unknown key 'platfroms' in an image (known: ref, platforms, referrers)\n", r.Err.ReplaceLineEndings("\n"));
        File.WriteAllText(_dir.Path("ok.yaml"), "version: 1\nplatforms: [linux/amd64]\nimages: [alpine]\nrepositories:\n  - name: r.example/app\n    tags: { semver: ^1.2.0, latest: 2 }\n");
        var ok = Run("set", "check", _dir.Path("ok.yaml"));
        Ok(ok);
        Assert.Contains("1 image and 1 repository from docker.io, r.example; platforms linux/amd64; referrers included", ok.Out, StringComparison.Ordinal);
        Assert.Contains("r.example/app: tags { semver: \"^1.2.0\", latest: 2 }", ok.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void SetCheckReadsALock()
    {
        var lockFile = new ImageSetLock([], [new LockedRepository(Ferry.Model.ImageName.Parse("r.example/app"), new TagFilter(semver: "^1"), ["1.0.0", "main"], ["1.0.0"], ["main"], TagOrdering.None)]);
        lockFile.Save(_dir.Path("ferry.lock"));
        var r = Run("set", "check", _dir.Path("ferry.lock"));
        Ok(r);
        Assert.Contains("a lock of 0 images (0 indexes) and 1 repository", r.Out, StringComparison.Ordinal);
        Assert.Contains("r.example/app: 1 of 2 tags, 1 not versions", r.Out, StringComparison.Ordinal);
    }
}
