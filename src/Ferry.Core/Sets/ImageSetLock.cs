using System.Text;
using System.Text.Json;
using Ferry.Digests;
using Ferry.Model;

namespace Ferry.Sets;

/// <summary>One manifest of a locked index: the platform it is for and its digest.</summary>
/// <param name="Digest">The manifest's digest.</param>
/// <param name="MediaType">Its media type.</param>
/// <param name="Size">Its size in bytes.</param>
/// <param name="Platform">Its platform, as the index lists it (null when the index names none).</param>
public sealed record LockedManifest(Digest Digest, string MediaType, long Size, Platform? Platform);

/// <summary>
/// One image of a lock: the name it has (and keeps at the destination), the digest it was resolved to, and for an
/// index, the platform manifests taken. Copying <see cref="Source"/> with <see cref="Platforms"/> gives the same
/// images whenever it is done.
/// </summary>
/// <param name="Name">The name, as the set names it: <c>docker.io/library/ubuntu:20.04</c>, or <c>…@sha256:…</c> for a digest entry.</param>
/// <param name="Digest">The digest of the manifest or index the name pointed to.</param>
/// <param name="MediaType">Its media type.</param>
/// <param name="Platforms">The platforms taken (<see cref="PlatformSelection.All"/>: the whole index).</param>
/// <param name="Referrers">Whether its signatures, attestations and SBOMs come along.</param>
/// <param name="Manifests">For an index: the manifests taken (every one with <see cref="PlatformSelection.All"/>). Empty for a single manifest.</param>
public sealed record LockedImage(ImageName Name, Digest Digest, string MediaType, PlatformSelection Platforms, bool Referrers, IReadOnlyList<LockedManifest> Manifests)
{
    /// <summary>For a single manifest: its platform (from its config), when known.</summary>
    public Platform? Platform { get; init; }

    /// <summary>The set entry it came from: an image reference as the set names it, or a repository name.</summary>
    public string From { get; init; } = "";

    /// <summary>Whether it is an index (or manifest list).</summary>
    public bool IsIndex => MediaTypes.IsIndex(MediaType);

    /// <summary>What to copy: the repository pinned to <see cref="Digest"/>.</summary>
    public ImageName Source => Name.WithDigest(Digest);

    /// <summary><c>docker://REPO@DIGEST</c>, the source reference for a copy.</summary>
    public string SourceReference => "docker://" + Source;
}

/// <summary>What a repository entry saw and took when it was locked.</summary>
/// <param name="Repository">The repository.</param>
/// <param name="Filter">The filter applied.</param>
/// <param name="Tags">Every tag the registry listed (versions in precedence order, then by name).</param>
/// <param name="Selected">The tags taken.</param>
/// <param name="NotSemver">Tags a semver filter skipped because they are not versions.</param>
/// <param name="Ordering">How <c>latest</c> ranked them.</param>
public sealed record LockedRepository(ImageName Repository, TagFilter Filter, IReadOnlyList<string> Tags, IReadOnlyList<string> Selected, IReadOnlyList<string> NotSemver, TagOrdering Ordering);

/// <summary>
/// A set resolved to digests (<c>ferry lock SET -o SET.lock</c>; docs/sets.md): every image with its index digest
/// and the platform manifests taken, every repository with the tags it listed and took. The file is JSON, written the
/// same byte for byte for the same content (images and repositories sorted by name, two-space indents, one array
/// item a line, LF), so that a review shows exactly what changed.
/// </summary>
public sealed class ImageSetLock
{
    /// <summary>The lock file version this Ferry reads and writes.</summary>
    public const int CurrentVersion = 1;

    /// <summary>A lock of these images and repositories (sorted by name here).</summary>
    public ImageSetLock(IEnumerable<LockedImage> images, IEnumerable<LockedRepository> repositories, Digest? set = null)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(repositories);
        Images = images.OrderBy(i => i.Name.ToString(), StringComparer.Ordinal).ToList();
        Repositories = repositories.OrderBy(r => r.Repository.FullRepository, StringComparer.Ordinal).ToList();
        Set = set;
    }

    /// <summary>The digest of the set it was made from, in its canonical form (<see cref="DigestOf"/>): a set edited since no longer matches.</summary>
    public Digest? Set { get; }

    /// <summary>The images, sorted by name.</summary>
    public IReadOnlyList<LockedImage> Images { get; }

    /// <summary>The repositories, sorted by name.</summary>
    public IReadOnlyList<LockedRepository> Repositories { get; }

    /// <summary>The digest a lock records for <paramref name="set"/>: of its canonical text (<see cref="ImageSet.ToYaml"/>), so comments and layout do not count.</summary>
    public static Digest DigestOf(ImageSet set)
    {
        ArgumentNullException.ThrowIfNull(set);
        return Digest.Sha256Of(Encoding.UTF8.GetBytes(set.ToYaml()));
    }

    /// <summary>Whether this lock was made from <paramref name="set"/> as it is now.</summary>
    public bool IsOf(ImageSet set) => Set == DigestOf(set);

    /// <summary>Whether a file's bytes look like a lock rather than a set file (a JSON object with <c>lockVersion</c>).</summary>
    public static bool LooksLikeLock(ReadOnlySpan<byte> head)
    {
        var text = Encoding.UTF8.GetString(head.Length > 4096 ? head[..4096] : head).TrimStart('\uFEFF', ' ', '\t', '\r', '\n');
        return text.StartsWith('{') && text.Contains("\"lockVersion\"", StringComparison.Ordinal);
    }

    // ---- writing ---------------------------------------------------------------------------------------------------

    /// <summary>The lock file's bytes (UTF-8 JSON, LF, a final newline): the same for the same lock.</summary>
    public byte[] ToBytes()
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions
        {
            Indented = true,
            NewLine = "\n",
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        }))
        {
            w.WriteStartObject();
            w.WriteNumber("lockVersion", CurrentVersion);
            if (Set is { } s)
                w.WriteString("set", s.ToString());
            w.WriteStartArray("images");
            foreach (var i in Images)
                WriteImage(w, i);
            w.WriteEndArray();
            w.WriteStartArray("repositories");
            foreach (var r in Repositories)
                WriteRepository(w, r);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        ms.WriteByte((byte)'\n');
        return ms.ToArray();
    }

    /// <summary>Writes the lock file to <paramref name="path"/> (through a temp file beside it, renamed into place).</summary>
    public void Save(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string full = Path.GetFullPath(path);
        string temp = Path.Combine(Path.GetDirectoryName(full)!, "." + Path.GetFileName(full) + ".ferry-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            File.WriteAllBytes(temp, ToBytes());
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    private static void WriteImage(Utf8JsonWriter w, LockedImage i)
    {
        w.WriteStartObject();
        w.WriteString("name", i.Name.ToString());
        w.WriteString("digest", i.Digest.ToString());
        w.WriteString("mediaType", i.MediaType);
        if (i.Platform is { } p)
            w.WriteString("platform", p.ToString());
        w.WriteString("platforms", i.Platforms.ToString());
        w.WriteBoolean("referrers", i.Referrers);
        if (i.From.Length > 0)
            w.WriteString("from", i.From);
        if (i.IsIndex)
        {
            w.WriteStartArray("manifests");
            foreach (var m in i.Manifests)
            {
                w.WriteStartObject();
                if (m.Platform is { } mp)
                    w.WriteString("platform", mp.ToString());
                w.WriteString("digest", m.Digest.ToString());
                w.WriteString("mediaType", m.MediaType);
                w.WriteNumber("size", m.Size);
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        w.WriteEndObject();
    }

    private static void WriteRepository(Utf8JsonWriter w, LockedRepository r)
    {
        w.WriteStartObject();
        w.WriteString("name", r.Repository.FullRepository);
        w.WriteStartObject("filter");
        WriteStrings(w, "include", r.Filter.Include, skipEmpty: true);
        WriteStrings(w, "exclude", r.Filter.Exclude, skipEmpty: true);
        if (r.Filter.Semver is { } s)
            w.WriteString("semver", s);
        if (r.Filter.Prerelease)
            w.WriteBoolean("prerelease", true);
        if (r.Filter.Latest is int n)
            w.WriteNumber("latest", n);
        w.WriteEndObject();
        if (r.Ordering != TagOrdering.None)
            w.WriteString("ordering", r.Ordering == TagOrdering.Semver ? "semver" : "created");
        WriteStrings(w, "selected", r.Selected, skipEmpty: false);
        WriteStrings(w, "notSemver", r.NotSemver, skipEmpty: true);
        WriteStrings(w, "tags", r.Tags, skipEmpty: false);
        w.WriteEndObject();
    }

    private static void WriteStrings(Utf8JsonWriter w, string name, IReadOnlyList<string> values, bool skipEmpty)
    {
        if (skipEmpty && values.Count == 0)
            return;
        w.WriteStartArray(name);
        foreach (var v in values)
            w.WriteStringValue(v);
        w.WriteEndArray();
    }

    // ---- reading ---------------------------------------------------------------------------------------------------

    /// <summary>Reads a lock file.</summary>
    /// <exception cref="ImageSetFormatException">The file is not a valid lock (the message names the field).</exception>
    public static ImageSetLock Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var info = new FileInfo(path);
        if (info.Exists && info.Length > 64L << 20)
            throw new ImageSetFormatException(path, 0, 0, "larger than 64 MiB: not a lock file");
        return Parse(File.ReadAllBytes(path), path);
    }

    /// <summary>Parses a lock file's bytes; <paramref name="file"/> names it in errors. Unknown fields are errors.</summary>
    /// <exception cref="ImageSetFormatException">The bytes are not a valid lock.</exception>
    public static ImageSetLock Parse(ReadOnlyMemory<byte> bytes, string file = "ferry.lock")
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw new ImageSetFormatException(file, (int)(e.LineNumber ?? -1) + 1, (int)(e.BytePositionInLine ?? -1) + 1, "not valid JSON: " + e.Message.Split('.')[0], e);
        }
        using (doc)
        {
            var r = new LockReader(file);
            var root = r.Object(doc.RootElement, "the lock", "lockVersion", "set", "images", "repositories");
            int version = r.Int(r.Required(root, "lockVersion", "the lock"), "lockVersion");
            if (version != CurrentVersion)
                throw r.Error($"lockVersion {version} is not one this ferry reads (it reads version {CurrentVersion})");
            Digest? set = root.TryGetValue("set", out var s) ? r.Digest(s, "set") : null;
            var images = new List<LockedImage>();
            int n = 0;
            foreach (var e in r.Array(r.Required(root, "images", "the lock"), "images"))
                images.Add(ReadImage(r, e, $"images[{n++}]"));
            var repos = new List<LockedRepository>();
            n = 0;
            foreach (var e in r.Array(r.Required(root, "repositories", "the lock"), "repositories"))
                repos.Add(ReadRepository(r, e, $"repositories[{n++}]"));
            return new ImageSetLock(images, repos, set);
        }
    }

    private static LockedImage ReadImage(LockReader r, JsonElement e, string at)
    {
        var o = r.Object(e, at, "name", "digest", "mediaType", "platform", "platforms", "referrers", "from", "manifests");
        var name = r.Name(r.Required(o, "name", at), at + ".name");
        var digest = r.Digest(r.Required(o, "digest", at), at + ".digest");
        string mediaType = r.String(r.Required(o, "mediaType", at), at + ".mediaType");
        if (!MediaTypes.IsManifestOrIndex(mediaType))
            throw r.Error($"{at}.mediaType: '{Digests.Digest.Describe(mediaType)}' is not a manifest or index");
        var platforms = r.Platforms(r.Required(o, "platforms", at), at + ".platforms");
        bool referrers = r.Bool(r.Required(o, "referrers", at), at + ".referrers");
        var manifests = new List<LockedManifest>();
        if (o.TryGetValue("manifests", out var ms))
        {
            int n = 0;
            foreach (var m in r.Array(ms, at + ".manifests"))
            {
                string mat = $"{at}.manifests[{n++}]";
                var mo = r.Object(m, mat, "platform", "digest", "mediaType", "size");
                manifests.Add(new LockedManifest(
                    r.Digest(r.Required(mo, "digest", mat), mat + ".digest"),
                    r.String(r.Required(mo, "mediaType", mat), mat + ".mediaType"),
                    r.Long(r.Required(mo, "size", mat), mat + ".size"),
                    mo.TryGetValue("platform", out var mp) ? r.Platform(mp, mat + ".platform") : null));
            }
        }
        return new LockedImage(name, digest, mediaType, platforms, referrers, manifests)
        {
            Platform = o.TryGetValue("platform", out var p) ? r.Platform(p, at + ".platform") : null,
            From = o.TryGetValue("from", out var f) ? r.String(f, at + ".from") : "",
        };
    }

    private static LockedRepository ReadRepository(LockReader r, JsonElement e, string at)
    {
        var o = r.Object(e, at, "name", "filter", "ordering", "selected", "notSemver", "tags");
        var name = r.Name(r.Required(o, "name", at), at + ".name");
        var fo = r.Object(r.Required(o, "filter", at), at + ".filter", "include", "exclude", "semver", "prerelease", "latest");
        TagFilter filter;
        try
        {
            filter = new TagFilter(
                fo.TryGetValue("include", out var i) ? r.Strings(i, at + ".filter.include") : null,
                fo.TryGetValue("exclude", out var x) ? r.Strings(x, at + ".filter.exclude") : null,
                fo.TryGetValue("semver", out var s) ? r.String(s, at + ".filter.semver") : null,
                fo.TryGetValue("prerelease", out var p) && r.Bool(p, at + ".filter.prerelease"),
                fo.TryGetValue("latest", out var l) ? r.Int(l, at + ".filter.latest") : null);
        }
        catch (ArgumentException ex)
        {
            throw r.Error($"{at}.filter: {ex.Message}");
        }
        var ordering = TagOrdering.None;
        if (o.TryGetValue("ordering", out var ord))
        {
            ordering = r.String(ord, at + ".ordering") switch
            {
                "semver" => TagOrdering.Semver,
                "created" => TagOrdering.Created,
                var other => throw r.Error($"{at}.ordering: '{Digests.Digest.Describe(other)}' is not semver or created"),
            };
        }
        return new LockedRepository(name, filter,
            r.Strings(r.Required(o, "tags", at), at + ".tags"),
            r.Strings(r.Required(o, "selected", at), at + ".selected"),
            o.TryGetValue("notSemver", out var ns) ? r.Strings(ns, at + ".notSemver") : [],
            ordering);
    }

    /// <summary>Strict reading of the lock's JSON: unknown fields and wrong kinds are errors naming the field.</summary>
    private sealed class LockReader(string file)
    {
        public ImageSetFormatException Error(string problem) => new(file, 0, 0, problem);

        public Dictionary<string, JsonElement> Object(JsonElement e, string at, params string[] allowed)
        {
            if (e.ValueKind != JsonValueKind.Object)
                throw Error($"{at} must be an object");
            var result = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
            foreach (var p in e.EnumerateObject())
            {
                if (System.Array.IndexOf(allowed, p.Name) < 0)
                    throw Error($"{at}: unknown field '{Digests.Digest.Describe(p.Name)}' (known: {string.Join(", ", allowed)})");
                if (!result.TryAdd(p.Name, p.Value))
                    throw Error($"{at}: '{p.Name}' appears twice");
            }
            return result;
        }

        public JsonElement Required(Dictionary<string, JsonElement> o, string key, string at) =>
            o.TryGetValue(key, out var v) ? v : throw Error($"{at}: no '{key}'");

        public JsonElement.ArrayEnumerator Array(JsonElement e, string at) =>
            e.ValueKind == JsonValueKind.Array ? e.EnumerateArray() : throw Error($"{at} must be an array");

        public string String(JsonElement e, string at) =>
            e.ValueKind == JsonValueKind.String ? e.GetString()! : throw Error($"{at} must be a string");

        public List<string> Strings(JsonElement e, string at)
        {
            var list = new List<string>();
            foreach (var v in Array(e, at))
                list.Add(String(v, at + " entry"));
            return list;
        }

        public bool Bool(JsonElement e, string at) => e.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Error($"{at} must be true or false"),
        };

        public int Int(JsonElement e, string at) =>
            e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out int n) ? n : throw Error($"{at} must be a whole number");

        public long Long(JsonElement e, string at) =>
            e.ValueKind == JsonValueKind.Number && e.TryGetInt64(out long n) && n >= 0 ? n : throw Error($"{at} must be a size in bytes");

        public Digest Digest(JsonElement e, string at) =>
            Digests.Digest.TryParse(String(e, at), out var d) ? d : throw Error($"{at}: not a digest");

        public ImageName Name(JsonElement e, string at) =>
            ImageName.TryParse(String(e, at), out var n, out string err) ? n! : throw Error($"{at}: {err}");

        public Platform Platform(JsonElement e, string at)
        {
            try
            {
                return Model.Platform.Parse(String(e, at));
            }
            catch (UsageException ex)
            {
                throw Error($"{at}: {ex.Message}");
            }
        }

        public PlatformSelection Platforms(JsonElement e, string at)
        {
            try
            {
                return PlatformSelection.Parse(String(e, at).Split(','));
            }
            catch (UsageException ex)
            {
                throw Error($"{at}: {ex.Message}");
            }
        }
    }
}
