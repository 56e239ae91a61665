using System.Text.Json;
using Ferry.Digests;
using Ferry.Model;
using Ferry.Transports;
using Ferry.Transports.Layout;

namespace Ferry.Incremental;

/// <summary>An archive that carried blobs: its identity (the digest of its <c>index.json</c>, else of its <c>manifest.json</c>) and its file name.</summary>
public sealed record ShippedArchive(Digest Id, string Name)
{
    /// <inheritdoc/>
    public override string ToString() => $"{Name} ({Id})";
}

/// <summary>
/// What was shipped before: for each layer blob, the archive that carried it. Made from archives (every layer they
/// hold, and what they themselves extend) or read from a record file (<c>--record</c>), it tells an incremental copy
/// (<see cref="Copy.CopyOptions.Since"/>) which layers to leave out; inside an incremental archive it says which layers
/// are expected from which earlier archive.
/// </summary>
public sealed class ShipRecord
{
    /// <summary>The media type of a record (the file <c>--record</c> writes, and the blob inside an incremental archive).</summary>
    public const string MediaType = "application/vnd.ferry.shipped.v1+json";

    /// <summary>The annotation of an incremental archive's <c>index.json</c> naming the digest of its record blob.</summary>
    public const string IndexAnnotation = "io.ferry.incremental";

    /// <summary>The largest record read (about 100,000 blobs).</summary>
    public const int MaxBytes = 16 << 20;

    private readonly List<ShippedArchive> _archives;
    private readonly Dictionary<Digest, int> _blobs;

    private ShipRecord(List<ShippedArchive> archives, Dictionary<Digest, int> blobs)
    {
        _archives = archives;
        _blobs = blobs;
    }

    /// <summary>The archives, in the order they were first named.</summary>
    public IReadOnlyList<ShippedArchive> Archives => _archives;

    /// <summary>The blobs recorded.</summary>
    public IReadOnlyCollection<Digest> Blobs => _blobs.Keys;

    /// <summary>The archive that carried <paramref name="blob"/>, or null.</summary>
    public ShippedArchive? CarrierOf(Digest blob) => _blobs.TryGetValue(blob, out int i) ? _archives[i] : null;

    /// <summary>Whether <paramref name="blob"/> was shipped.</summary>
    public bool Contains(Digest blob) => _blobs.ContainsKey(blob);

    /// <summary>An empty record, to add to.</summary>
    internal static ShipRecord Empty() => new([], []);

    /// <summary>Records <paramref name="blob"/> as carried by <paramref name="archive"/> (the first carrier stays).</summary>
    internal void Add(Digest blob, ShippedArchive archive)
    {
        int i = _archives.IndexOf(archive);
        if (i < 0)
        {
            _archives.Add(archive);
            i = _archives.Count - 1;
        }
        _blobs.TryAdd(blob, i);
    }

    /// <summary>All blobs of several records (the first carrier of a blob wins).</summary>
    public static ShipRecord Merge(IEnumerable<ShipRecord> records)
    {
        ArgumentNullException.ThrowIfNull(records);
        var merged = Empty();
        foreach (var r in records)
        {
            foreach (var (blob, i) in r._blobs.OrderBy(kv => kv.Key.ToString(), StringComparer.Ordinal))
                merged.Add(blob, r._archives[i]);
        }
        return merged;
    }

    /// <summary>The record as JSON: archives in order, blobs sorted by digest (the same record gives the same bytes).</summary>
    public byte[] ToJson() => Json.Write(w =>
    {
        w.WriteStartObject();
        w.WriteString("mediaType", MediaType);
        w.WriteStartArray("archives");
        foreach (var a in _archives)
        {
            w.WriteStartObject();
            w.WriteString("id", a.Id.ToString());
            w.WriteString("name", a.Name);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteStartObject("blobs");
        foreach (var (blob, i) in _blobs.OrderBy(kv => kv.Key.ToString(), StringComparer.Ordinal))
            w.WriteNumber(blob.ToString(), i);
        w.WriteEndObject();
        w.WriteEndObject();
    });

    /// <summary>Parses a record's JSON.</summary>
    /// <exception cref="ArchiveFormatException">It is not a record.</exception>
    public static ShipRecord Parse(ReadOnlyMemory<byte> json, string what)
    {
        using var doc = Json.Parse(json, what);
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object || Json.OptString(root, "mediaType") != MediaType)
            throw new ArchiveFormatException($"{what}: not a record of shipped blobs (mediaType {MediaType})");
        var archives = new List<ShippedArchive>();
        if (!root.TryGetProperty("archives", out var arr) || arr.ValueKind != JsonValueKind.Array)
            throw new ArchiveFormatException($"{what}: no \"archives\" array");
        foreach (var a in arr.EnumerateArray())
        {
            if (a.ValueKind != JsonValueKind.Object || !Digest.TryParse(Json.OptString(a, "id"), out var id) || Json.OptString(a, "name") is not string name)
                throw new ArchiveFormatException($"{what}: an archive without a valid id and name");
            archives.Add(new ShippedArchive(id, name));
        }
        var blobs = new Dictionary<Digest, int>();
        if (!root.TryGetProperty("blobs", out var map) || map.ValueKind != JsonValueKind.Object)
            throw new ArchiveFormatException($"{what}: no \"blobs\" object");
        foreach (var p in map.EnumerateObject())
        {
            if (!Digest.TryParse(p.Name, out var d) || p.Value.ValueKind != JsonValueKind.Number || !p.Value.TryGetInt32(out int i) || i < 0 || i >= archives.Count)
                throw new ArchiveFormatException($"{what}: blob entry '{Digest.Describe(p.Name)}' is not a digest with an archive index");
            blobs[d] = i;
        }
        return new ShipRecord(archives, blobs);
    }

    /// <summary>
    /// What <paramref name="path"/> shipped: a record file as <c>--record</c> writes it, or an archive (or layout, or
    /// the first part of a split archive): every layer it holds, and what it extends if it is incremental.
    /// </summary>
    /// <exception cref="FerryException">The file is missing or neither a record nor an archive.</exception>
    public static async Task<ShipRecord> LoadAsync(string path, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        // A record is a small JSON file (read with a limit, whatever size the file claims); anything else is an archive.
        var kind = IO.LocalFiles.KindOf(path, follow: true);
        if (IO.LocalFiles.IsSpecial(kind))
            return Parse(IO.LocalFiles.ReadSmall(path, MaxBytes, $"--since {path}"), path);
        if (kind == IO.FileKind.Regular)
        {
            byte[] head = new byte[1];
            await using (var fs = File.OpenRead(path))
                _ = await fs.ReadAsync(head, cancellationToken).ConfigureAwait(false);
            if (head[0] == (byte)'{')
                return Parse(IO.LocalFiles.ReadSmall(path, MaxBytes, $"--since {path}"), path);
        }
        await using var source = await Transports.Files.ArchiveSource.OpenAsync(path, Transports.Files.ArchiveKind.Any, null, new TransportOptions(), cancellationToken).ConfigureAwait(false);
        return Of(source);
    }

    /// <summary>What an opened archive shipped: its own layers, then what it extends.</summary>
    internal static ShipRecord Of(Transports.Files.ArchiveSource source)
    {
        var self = new ShippedArchive(source.Identity, Path.GetFileName(source.DisplayName.TrimEnd('/')));
        var record = Empty();
        foreach (var image in source.Images)
        {
            foreach (var node in image.Images())
            {
                foreach (var l in node.Image.Layers.Where(l => l.Blob is not null))
                    record.Add(l.Descriptor.Digest, self);
            }
        }
        if (record._archives.Count == 0)
            record._archives.Add(self);
        if (source.Incremental is { } earlier)
        {
            foreach (var (blob, i) in earlier._blobs.OrderBy(kv => kv.Key.ToString(), StringComparer.Ordinal))
                record.Add(blob, earlier._archives[i]);
        }
        return record;
    }

    /// <summary>
    /// What several archives or records shipped together (<c>--since A --since B</c>): each loaded with
    /// <see cref="LoadAsync(string, CancellationToken)"/>, then merged.
    /// </summary>
    /// <exception cref="FerryException">A file is missing or neither a record nor an archive.</exception>
    public static async Task<ShipRecord> LoadAsync(IEnumerable<string> paths, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var records = new List<ShipRecord>();
        foreach (var p in paths)
            records.Add(await LoadAsync(p, cancellationToken).ConfigureAwait(false));
        return Merge(records);
    }

    /// <summary>Writes the record to <paramref name="path"/> (a temp file beside it, then renamed).</summary>
    public async Task WriteAsync(string path, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var target = OutputTarget.CreateFile(path);
        await target.Stream.WriteAsync(ToJson(), cancellationToken).ConfigureAwait(false);
        target.Commit();
    }
}
