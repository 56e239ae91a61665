using System.Text.Json;
using System.Text.RegularExpressions;
using Ferry.Tests.TestSupport;
using static Ferry.Tests.TestSupport.CliRun;

namespace Ferry.Tests.Cli;

/// <summary>
/// docs/json.md is the schema of every <c>--json</c>: each command's output must use only the fields its table lists,
/// with the types listed, and print every field not marked optional.
/// </summary>
public sealed partial class JsonSchemaTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private sealed record Field(string Type, bool Optional);

    /// <summary>The tables of docs/json.md: section title → path → field.</summary>
    private static Dictionary<string, Dictionary<string, Field>> Schema()
    {
        var sections = new Dictionary<string, Dictionary<string, Field>>(StringComparer.Ordinal);
        Dictionary<string, Field>? current = null;
        foreach (var line in File.ReadLines(Corpus.Path("docs/json.md")))
        {
            if (line.StartsWith("## ", StringComparison.Ordinal))
                sections[line[3..].Trim()] = current = new(StringComparer.Ordinal);
            else if (current is not null && Row().Match(line) is { Success: true } m)
                current[m.Groups[1].Value] = new Field(m.Groups[2].Value.Trim(), m.Groups[3].Value.Contains("*optional*", StringComparison.Ordinal));
        }
        return sections;
    }

    [GeneratedRegex(@"^\| `([^`]+)` \| ([^|]+) \|(.*)\|$")]
    private static partial Regex Row();

    /// <summary>Every path of a document with the JSON kinds met there; arrays' elements under <c>path[]</c>.</summary>
    private static void Walk(JsonElement e, string path, Dictionary<string, HashSet<string>> seen, string? freeObject = null)
    {
        string kind = e.ValueKind switch
        {
            JsonValueKind.Object => "object",
            JsonValueKind.Array => "array",
            JsonValueKind.String => "string",
            JsonValueKind.Number => "number",
            JsonValueKind.True or JsonValueKind.False => "boolean",
            _ => "null",
        };
        if (path.Length > 0 && !path.EndsWith("[]", StringComparison.Ordinal))
        {
            if (!seen.TryGetValue(path, out var kinds))
                seen[path] = kinds = [];
            kinds.Add(kind);
        }
        // Maps (labels) and embedded documents (a manifest) are values, not schema.
        if (path == freeObject || path.EndsWith("labels", StringComparison.Ordinal))
            return;
        if (e.ValueKind == JsonValueKind.Object)
        {
            foreach (var p in e.EnumerateObject())
                Walk(p.Value, path.Length == 0 ? p.Name : $"{path}.{p.Name}", seen, freeObject);
        }
        else if (e.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in e.EnumerateArray().Where(i => i.ValueKind is JsonValueKind.Object or JsonValueKind.Array))
                Walk(item, path + "[]", seen, freeObject);
        }
    }

    private static void Conforms(string section, params string[] outputs)
    {
        var schema = Schema()[section];
        var seen = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        foreach (var output in outputs)
        {
            using var doc = JsonDocument.Parse(output);
            Assert.Equal(1, doc.RootElement.GetProperty("schemaVersion").GetInt32());
            Walk(doc.RootElement, "", seen, "manifest");
        }
        foreach (var (path, kinds) in seen)
        {
            Assert.True(schema.TryGetValue(path, out var field), $"{section}: '{path}' is printed but not in docs/json.md");
            foreach (var kind in kinds)
                Assert.True(field!.Type.Contains(kind, StringComparison.Ordinal), $"{section}: '{path}' is {kind}, docs/json.md says {field.Type}");
        }
        foreach (var (path, field) in schema.Where(f => !f.Value.Optional))
        {
            // A field of array elements can only show where the array had an element.
            string parent = path.Contains('.', StringComparison.Ordinal) ? path[..path.LastIndexOf('.')] : "";
            if (parent.Length == 0 || seen.ContainsKey(parent))
                Assert.True(seen.ContainsKey(path), $"{section}: docs/json.md lists '{path}' as always printed, but it is not");
        }
    }

    [Fact]
    public void CopyInspectAndVerifyPrintWhatDocsJsonSays()
    {
        string sample = Corpus.Path("samples/ferry-sample.tar");
        string gz = _dir.Path("gz.tar");
        var copy = Run("copy", sample, gz, "--compress", "gzip", "--json");
        Ok(copy);
        string oci = _dir.Path("oci.tar");
        var signed = ImageBuilder.Image(81, 2, "gzip", "docker.io/library/signed:1");
        ImageBuilder.WriteOciWithArtifacts(oci, signed, "docker.io/library/signed:1", [(ImageBuilder.CosignSignature(signed.ManifestDigest), null), (ImageBuilder.Sbom(signed.ManifestDigest, signed.OciManifest().Length), null)]);
        var copyOci = Run("copy", oci, _dir.Path("o2.tar"), "--format", "oci-archive", "--json");
        Ok(copyOci);
        Conforms("copy, load, save, pull, push", copy.Out, copyOci.Out);
        var inspects = new[] { sample, gz, oci }.Select(s => Run("inspect", s, "--json")).ToList();
        Assert.All(inspects, Ok);
        Conforms("inspect", [.. inspects.Select(i => i.Out)]);
        var verifies = new[] { sample, gz, oci }.Select(s => Run("verify", s, "--json")).ToList();
        Assert.All(verifies, Ok);
        // An archive with a finding (one that cannot be read at all is an error line, no report: see VerifyCliTests).
        File.Copy(oci, _dir.Path("bad.tar"));
        F.FlipByteOf(_dir.Path("bad.tar"), "blobs/sha256/" + signed.Layers[0].Digest[7..]);
        var bad = Run("verify", _dir.Path("bad.tar"), "--json");
        Assert.Equal(1, bad.Code);
        Conforms("verify", [.. verifies.Select(v => v.Out), bad.Out]);
    }

    [Fact]
    public void LoginAndLogoutPrintWhatDocsJsonSays()
    {
        using var reg = new FakeRegistry("user:pass");
        string auth = _dir.Path("auth.json");
        var login = Run("login", reg.Address, "-u", "user", "-p", "pass", "--authfile", auth, "--json");
        Ok(login);
        var logout = Run("logout", reg.Address, "--authfile", auth, "--json");
        Ok(logout);
        var nothing = Run("logout", reg.Address, "--authfile", auth, "--json");
        Ok(nothing);
        Assert.Contains("\"removed\": false", nothing.Out, StringComparison.Ordinal);
        Conforms("login and logout", login.Out, logout.Out, nothing.Out);
    }

    [Fact]
    public async Task ServePrintsWhereItListensAsDocsJsonSays()
    {
        // A docker-archive has nothing to serve (no manifests): its portable copy has.
        string sample = _dir.Path("sample.tar");
        Ok(Run("copy", Corpus.Path("samples/ferry-sample.tar"), sample, "-q"));
        Directory.CreateDirectory(_dir.Path("tmp"));
        using var p = FerryProcess.Start(_dir.Path("tmp"), "serve", sample, "--listen", "127.0.0.1:0", "--json", "-q");
        try
        {
            var doc = new System.Text.StringBuilder();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            while (await p.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
            {
                doc.AppendLine(line);
                if (line == "}")
                    break;
            }
            Conforms("serve", doc.ToString());
            using var json = JsonDocument.Parse(doc.ToString());
            var address = new Uri(json.RootElement.GetProperty("address").GetString()!);
            Assert.NotEqual(0, address.Port);
            using var http = new HttpClient();
            Assert.Equal(System.Net.HttpStatusCode.OK, (await http.GetAsync(new Uri(address, "/v2/"))).StatusCode);
        }
        finally
        {
            p.Kill(true);
            await p.WaitForExitAsync();
        }
    }

    [Fact]
    public void RegistryVerbsPrintWhatDocsJsonSays()
    {
        using var reg = new FakeRegistry();
        string src = _dir.Path("src.tar");
        ImageBuilder.WriteDockerArchive(src, [ImageBuilder.Image(82, 1, "gzip", "docker.io/library/x:1")]);
        Ok(Run("copy", src, $"docker://{reg.Address}/app:1", "-q"));
        Ok(Run("copy", src, $"docker://{reg.Address}/app:2", "-q"));
        var tags = Run("tags", $"{reg.Address}/app", "--json");
        Ok(tags);
        Conforms("tags", tags.Out);
        var digest = Run("digest", $"{reg.Address}/app:1", "--json");
        var manifest = Run("manifest", $"{reg.Address}/app:1", "--json");
        Ok(digest);
        Ok(manifest);
        Conforms("digest and manifest", digest.Out, manifest.Out);
        var delete = Run("delete", $"{reg.Address}/app:2", "--json");
        Ok(delete);
        Conforms("delete", delete.Out);
    }
}
