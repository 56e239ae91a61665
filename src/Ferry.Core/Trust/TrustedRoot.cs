using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;

namespace Ferry.Trust;

/// <summary>
/// Sigstore's <c>trusted_root.json</c> (protobuf-specs <c>TrustedRoot</c>, media type
/// <c>application/vnd.dev.sigstore.trustedroot.v0.1+json</c>/<c>v0.2</c> or <c>…+json;version=0.1</c>): the
/// transparency logs (Rekor) and CT logs with their keys and validity windows, the certificate authorities (Fulcio)
/// and timestamp authorities with their chains. Read from a file and kept byte for byte (<see cref="Raw"/>), so it can
/// be carried beside the images to a site that has nothing else. Never fetched: Ferry does no TUF.
/// </summary>
public sealed class TrustedRoot
{
    /// <summary>The largest trusted_root.json Ferry reads: 1 MiB (the public-good one is about 10 KiB).</summary>
    public const int MaxBytes = 1 << 20;

    private const int MaxEntries = 64;
    private const int MaxChain = 8;

    internal TrustedRoot(string name, byte[] raw, IReadOnlyList<LogInstance> tlogs, IReadOnlyList<LogInstance> ctlogs,
        IReadOnlyList<Authority> cas, IReadOnlyList<Authority> tsas)
    {
        Name = name;
        _raw = raw;
        TransparencyLogs = tlogs;
        CtLogs = ctlogs;
        CertificateAuthorities = cas;
        TimestampAuthorities = tsas;
    }

    private readonly byte[] _raw;

    /// <summary>Where it came from (its file name, as given).</summary>
    public string Name { get; }

    /// <summary>The document's bytes exactly as read (what <c>--carry-trust-root</c> puts in an archive).</summary>
    public ReadOnlyMemory<byte> Raw => _raw;

    /// <summary>A one-line summary: how many logs and authorities it trusts.</summary>
    public string Summary =>
        $"{TransparencyLogs.Count} transparency log key(s), {CtLogs.Count} CT log key(s), {CertificateAuthorities.Count} certificate authorit{(CertificateAuthorities.Count == 1 ? "y" : "ies")}, {TimestampAuthorities.Count} timestamp authorit{(TimestampAuthorities.Count == 1 ? "y" : "ies")}";

    internal IReadOnlyList<LogInstance> TransparencyLogs { get; }
    internal IReadOnlyList<LogInstance> CtLogs { get; }
    internal IReadOnlyList<Authority> CertificateAuthorities { get; }
    internal IReadOnlyList<Authority> TimestampAuthorities { get; }

    /// <summary>Reads a trusted_root.json file.</summary>
    /// <exception cref="UsageException">The file cannot be read or is not a trusted root Ferry can use.</exception>
    public static TrustedRoot Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return Parse(TrustFiles.ReadBytes(path, "trusted root", MaxBytes), path);
    }

    /// <summary>Parses a trusted_root.json document.</summary>
    /// <param name="json">The document.</param>
    /// <param name="name">What to call it in messages.</param>
    /// <exception cref="UsageException">It is not a trusted root Ferry can use (the message says why).</exception>
    public static TrustedRoot Parse(ReadOnlyMemory<byte> json, string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        try
        {
            using var doc = ProtoJson.Parse(json, name, MaxBytes);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new TrustFormatException($"{name}: not a JSON object");
            string media = ProtoJson.ReqString(root, "mediaType", name);
            if (!media.StartsWith("application/vnd.dev.sigstore.trustedroot", StringComparison.Ordinal))
                throw new TrustFormatException($"{name}: media type '{media}' is not a sigstore trusted root");
            var tlogs = ProtoJson.Array(root, "tlogs", name, MaxEntries).Select((e, i) => Log(e, $"{name}: tlogs[{i}]")).ToList();
            var ctlogs = ProtoJson.Array(root, "ctlogs", name, MaxEntries).Select((e, i) => Log(e, $"{name}: ctlogs[{i}]")).ToList();
            var cas = ProtoJson.Array(root, "certificateAuthorities", name, MaxEntries).Select((e, i) => Ca(e, $"{name}: certificateAuthorities[{i}]")).ToList();
            var tsas = ProtoJson.Array(root, "timestampAuthorities", name, MaxEntries).Select((e, i) => Ca(e, $"{name}: timestampAuthorities[{i}]")).ToList();
            return new TrustedRoot(name, json.ToArray(), tlogs, ctlogs, cas, tsas);
        }
        catch (TrustFormatException e)
        {
            throw new UsageException(e.Message);
        }
    }

    private static LogInstance Log(JsonElement e, string what)
    {
        string baseUrl = ProtoJson.String(e, "baseUrl", what) ?? "";
        var pk = ProtoJson.ReqObject(e, "publicKey", what);
        byte[]? raw = ProtoJson.Bytes(pk, "rawBytes", what);
        string? details = ProtoJson.String(pk, "keyDetails", what);
        var valid = Range(ProtoJson.Object(pk, "validFor", what), what);
        byte[]? logId = ProtoJson.Object(e, "logId", what) is { } id ? ProtoJson.Bytes(id, "keyId", what) : null;
        byte[]? checkpointKeyId = ProtoJson.Object(e, "checkpointKeyId", what) is { } cid ? ProtoJson.Bytes(cid, "keyId", what) : null;
        VerificationKey? key = null;
        string? problem = null;
        if (raw is null || raw.Length == 0)
            problem = "no public key";
        else
        {
            try
            {
                key = VerificationKey.FromSubjectPublicKeyInfo(raw, $"{what} ({baseUrl})");
            }
            catch (UsageException x)
            {
                problem = x.Message;
            }
        }
        // A window without a start is malformed, not unbounded (sigstore-go refuses it too).
        if (valid.Start is null)
            problem ??= "its validFor has no start";
        logId ??= raw is null ? [] : SHA256.HashData(raw);
        string host = Uri.TryCreate(baseUrl, UriKind.Absolute, out var u) ? u.Host : baseUrl;
        return new LogInstance(baseUrl, host, logId, key, problem, valid, checkpointKeyId, details);
    }

    private static Authority Ca(JsonElement e, string what)
    {
        string uri = ProtoJson.String(e, "uri", what) ?? "";
        var chainElement = ProtoJson.ReqObject(e, "certChain", what);
        var certs = new List<X509Certificate2>();
        foreach (var c in ProtoJson.Array(chainElement, "certificates", what, MaxChain))
        {
            byte[] der = ProtoJson.ReqBytes(c, "rawBytes", what);
            try
            {
                certs.Add(X509CertificateLoader.LoadCertificate(der));
            }
            catch (CryptographicException x)
            {
                throw new TrustFormatException($"{what}: a certificate Ferry cannot read ({x.Message})");
            }
        }
        if (certs.Count == 0)
            throw new TrustFormatException($"{what}: certChain has no certificate");
        return new Authority(uri, certs, Range(ProtoJson.Object(e, "validFor", what), what));
    }

    private static TimeRange Range(JsonElement? e, string what) =>
        e is { } v ? new TimeRange(ProtoJson.Time(v, "start", what), ProtoJson.Time(v, "end", what)) : new TimeRange(null, null);
}

/// <summary>A validity window; both ends inclusive, a missing end means "still valid".</summary>
internal sealed record TimeRange(DateTimeOffset? Start, DateTimeOffset? End)
{
    public static TimeRange Always { get; } = new(null, null);

    public bool Contains(DateTimeOffset t) => (Start is null || t >= Start) && (End is null || t <= End);
}

/// <summary>A transparency log (Rekor) or certificate transparency log of a trust root.</summary>
internal sealed record LogInstance(string BaseUrl, string Host, byte[] LogId, VerificationKey? Key, string? Problem, TimeRange ValidFor,
    byte[]? CheckpointKeyId, string? KeyDetails)
{
    public string LogIdHex => Convert.ToHexStringLower(LogId);

    /// <summary>A log given only by its key (policy.json's <c>rekorPublicKeyPath</c>): its ID is the key's, valid always.</summary>
    public static LogInstance FromKey(VerificationKey key) =>
        new("", "", Convert.FromHexString(key.KeyId), key, null, new TimeRange(DateTimeOffset.MinValue, null), null, null);
}

/// <summary>A certificate authority (Fulcio) or timestamp authority: its chain, the anchor last.</summary>
internal sealed record Authority(string Uri, IReadOnlyList<X509Certificate2> Chain, TimeRange ValidFor)
{
    public X509Certificate2 Anchor => Chain[^1];

    /// <summary>A timestamp authority's own signing certificate: the first of a chain longer than one that is not a CA.</summary>
    public X509Certificate2? Leaf => Chain.Count > 1 && !IsCa(Chain[0]) ? Chain[0] : null;

    public IEnumerable<X509Certificate2> Intermediates => Chain.Take(Chain.Count - 1).Where(c => Leaf is null || !ReferenceEquals(c, Leaf));

    public static bool IsCa(X509Certificate2 c) => c.Extensions.OfType<X509BasicConstraintsExtension>().Any(b => b.CertificateAuthority);
}
