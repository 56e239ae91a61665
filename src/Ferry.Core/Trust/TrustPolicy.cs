using System.Text;
using System.Text.Json;
using Ferry.Model;

namespace Ferry.Trust;

/// <summary>What a requirement of a policy is.</summary>
public enum PolicyRequirementType
{
    /// <summary><c>insecureAcceptAnything</c>: accepts any image, signed or not.</summary>
    InsecureAcceptAnything,

    /// <summary><c>reject</c>: accepts no image.</summary>
    Reject,

    /// <summary><c>sigstoreSigned</c>: a cosign <c>.sig</c> signature by a key or a Fulcio certificate, with a signed identity.</summary>
    SigstoreSigned,

    /// <summary><c>signedBy</c> (GPG): read, but Ferry verifies no GPG signature, so it accepts no image.</summary>
    SignedBy,

    /// <summary>cosign's terms (<c>--key</c>, <c>--certificate-identity</c>, …): any signature form, bundles included.</summary>
    Cosign,

    /// <summary><c>signedBaseLayer</c>: read, but Ferry does not evaluate it, so it accepts no image.</summary>
    SignedBaseLayer,
}

/// <summary>One requirement of a scope; every requirement of the matched scope must be satisfied.</summary>
public sealed class PolicyRequirement
{
    internal PolicyRequirement(PolicyRequirementType type, string description)
    {
        Type = type;
        Description = description;
    }

    /// <summary>What kind it is.</summary>
    public PolicyRequirementType Type { get; }

    /// <summary>A one-line description: <c>sigstoreSigned (key /etc/pki/cosign.pub, matchRepoDigestOrExact)</c>.</summary>
    public string Description { get; }

    internal Requirements? Signature { get; init; }

    /// <summary>Why the requirement cannot be applied (a key file that cannot be read, <c>pki</c>): every image it governs is rejected with this.</summary>
    public string? Problem { get; init; }

    internal SignedIdentity? Identity { get; init; }

    /// <summary>For cosign terms: the predicate type an attestation must have (null: a signature).</summary>
    internal string? PredicateType { get; init; }

    /// <inheritdoc/>
    public override string ToString() => Description;
}

/// <summary>The requirements that apply to an image: the most specific scope of the policy that matches its name.</summary>
public sealed class PolicyScope
{
    internal PolicyScope(string scope, IReadOnlyList<PolicyRequirement> requirements)
    {
        Scope = scope;
        Requirements = requirements;
    }

    /// <summary>
    /// Which scope matched: <c>docker:REGISTRY/REPO[:TAG]</c> (or a namespace, a host, <c>*.DOMAIN</c>),
    /// <c>docker:""</c> (the transport's default), <c>default</c>, or <c>cosign</c> for command-line terms.
    /// </summary>
    public string Scope { get; }

    /// <summary>The requirements, all of which must be satisfied.</summary>
    public IReadOnlyList<PolicyRequirement> Requirements { get; }

    /// <summary>The requirements in one line.</summary>
    public string Requirement => string.Join("; ", Requirements.Select(r => r.Description));
}

/// <summary>
/// A signature policy: containers-policy.json (<c>default</c>, <c>transports.docker</c> scopes from registry to
/// repository, the most specific winning; <c>insecureAcceptAnything</c>, <c>reject</c>, <c>sigstoreSigned</c> with keys
/// or <c>fulcio</c>, Rekor keys and <c>signedIdentity</c>) or cosign's command-line terms. It is applied by the name of
/// the image's source repository — also for an image read from an archive, which keeps its name. Offline only.
/// </summary>
public sealed class TrustPolicy
{
    /// <summary>The largest policy file Ferry reads: 4 MiB.</summary>
    public const int MaxBytes = 4 << 20;

    private readonly IReadOnlyList<PolicyRequirement> _default;
    private readonly Dictionary<string, IReadOnlyList<PolicyRequirement>> _docker;

    private TrustPolicy(string name, IReadOnlyList<PolicyRequirement> @default, Dictionary<string, IReadOnlyList<PolicyRequirement>> docker, bool cosign)
    {
        Name = name;
        _default = @default;
        _docker = docker;
        IsCosignTerms = cosign;
    }

    /// <summary>Where it came from: the policy file, or <c>cosign terms</c>.</summary>
    public string Name { get; }

    /// <summary>Requirements that cannot be applied (a key file missing, <c>pki</c>): each rejects the images it governs; worth a warning at load.</summary>
    public IReadOnlyList<string> Problems => [.. _docker.Values.Prepend(_default).SelectMany(r => r).Select(r => r.Problem).OfType<string>().Distinct(StringComparer.Ordinal)];

    /// <summary>Whether the policy is cosign's command-line terms (one scope for every image).</summary>
    public bool IsCosignTerms { get; }

    /// <summary>Reads a containers-policy.json file (key and CA paths in it are read at once).</summary>
    /// <exception cref="UsageException">The file cannot be read, or is not a policy Ferry can apply (the message says where).</exception>
    public static TrustPolicy Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return Parse(TrustFiles.ReadBytes(path, "policy", MaxBytes), path);
    }

    /// <summary>Parses a containers-policy.json document. Unknown fields are errors, as containers/image has it.</summary>
    /// <exception cref="UsageException">Not a policy Ferry can apply (the message says where).</exception>
    public static TrustPolicy Parse(ReadOnlyMemory<byte> json, string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        try
        {
            using var doc = ProtoJson.Parse(json, name, MaxBytes);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new TrustFormatException($"{name}: not a JSON object");
            Only(root, name, "default", "transports");
            if (!root.TryGetProperty("default", out var def))
                throw new TrustFormatException($"{name}: \"default\" is missing");
            var @default = Requirements(def, $"{name}: default");
            var docker = new Dictionary<string, IReadOnlyList<PolicyRequirement>>(StringComparer.Ordinal);
            if (root.TryGetProperty("transports", out var transports))
            {
                if (transports.ValueKind != JsonValueKind.Object)
                    throw new TrustFormatException($"{name}: \"transports\" is not an object");
                foreach (var t in transports.EnumerateObject())
                {
                    if (t.Value.ValueKind != JsonValueKind.Object)
                        throw new TrustFormatException($"{name}: transports.{t.Name} is not an object");
                    foreach (var scope in t.Value.EnumerateObject())
                    {
                        string where = $"{name}: transports.{t.Name}[\"{scope.Name}\"]";
                        var reqs = Requirements(scope.Value, where);
                        // Ferry applies scopes by the source's repository name: the docker transport's.
                        if (t.Name == "docker")
                        {
                            ValidateDockerScope(scope.Name, where);
                            docker[scope.Name] = reqs;
                        }
                    }
                }
            }
            return new TrustPolicy(name, @default, docker, false);
        }
        catch (TrustFormatException e)
        {
            throw new UsageException(e.Message);
        }
    }

    /// <summary>A policy of cosign's terms: every image must carry a signature (or attestation) they accept.</summary>
    /// <exception cref="UsageException">The terms are contradictory or incomplete.</exception>
    public static TrustPolicy FromCosignTerms(CosignTerms terms)
    {
        ArgumentNullException.ThrowIfNull(terms);
        terms.Validate();
        var requirement = new PolicyRequirement(PolicyRequirementType.Cosign, terms.Describe())
        {
            Signature = BlobVerifier.RequirementsOf(terms),
            PredicateType = terms.AttestationType is null ? null : Attestations.PredicateTypeOf(terms.AttestationType),
        };
        return new TrustPolicy("cosign terms", [requirement], new(StringComparer.Ordinal), true);
    }

    /// <summary>
    /// The scope that applies to an image of this source name, as containers/image chooses it: the exact reference,
    /// then the repository and its parent namespaces up to the host, then <c>*.domain</c> wildcards, then the docker
    /// transport's <c>""</c>, then <c>default</c>. An image without a name gets the last two.
    /// </summary>
    public PolicyScope Match(ImageName? sourceName)
    {
        if (IsCosignTerms)
            return new PolicyScope("cosign", _default);
        if (sourceName is not null)
        {
            foreach (string candidate in Candidates(sourceName))
            {
                if (_docker.TryGetValue(candidate, out var reqs))
                    return new PolicyScope("docker:" + candidate, reqs);
            }
        }
        if (_docker.TryGetValue("", out var transportDefault))
            return new PolicyScope("docker:\"\"", transportDefault);
        return new PolicyScope("default", _default);
    }

    private static IEnumerable<string> Candidates(ImageName name)
    {
        if (name.Tag is not null)
            yield return name.FullRepository + ":" + name.Tag;
        if (name.Digest is { } d)
            yield return name.FullRepository + "@" + d;
        string ns = name.FullRepository;
        while (true)
        {
            yield return ns;
            int slash = ns.LastIndexOf('/');
            if (slash < 0)
                break;
            ns = ns[..slash];
        }
        // *.example.com for a.b.example.com (hosts without a port).
        string host = name.Domain;
        if (!host.Contains(':', StringComparison.Ordinal))
        {
            int dot = host.IndexOf('.', StringComparison.Ordinal);
            while (dot >= 0)
            {
                yield return "*" + host[dot..];
                dot = host.IndexOf('.', dot + 1);
            }
        }
    }

    private static void ValidateDockerScope(string scope, string where)
    {
        if (scope.Length == 0)
            return;
        if (scope.StartsWith("*.", StringComparison.Ordinal))
        {
            if (scope.Length < 3 || scope.AsSpan(2).IndexOfAny("/:@*") >= 0)
                throw new TrustFormatException($"{where}: a wildcard scope is *.DOMAIN, nothing more");
            return;
        }
        if (scope.Contains("://", StringComparison.Ordinal) || scope.Any(char.IsWhiteSpace) || scope.EndsWith('/'))
            throw new TrustFormatException($"{where}: not a registry, namespace or repository");
    }

    private static void Only(JsonElement e, string where, params string[] allowed)
    {
        foreach (var p in e.EnumerateObject())
        {
            if (!allowed.Contains(p.Name, StringComparer.Ordinal))
                throw new TrustFormatException($"{where}: unknown field \"{p.Name}\"");
        }
    }

    private static IReadOnlyList<PolicyRequirement> Requirements(JsonElement list, string where)
    {
        if (list.ValueKind != JsonValueKind.Array)
            throw new TrustFormatException($"{where}: not a list of requirements");
        if (list.GetArrayLength() == 0)
            throw new TrustFormatException($"{where}: an empty list of requirements (use [{{\"type\":\"reject\"}}] or insecureAcceptAnything)");
        if (list.GetArrayLength() > 64)
            throw new TrustFormatException($"{where}: more than 64 requirements");
        return [.. list.EnumerateArray().Select((r, i) => Requirement(r, $"{where}[{i}]"))];
    }

    private static PolicyRequirement Requirement(JsonElement r, string where)
    {
        if (r.ValueKind != JsonValueKind.Object)
            throw new TrustFormatException($"{where}: not an object");
        string type = r.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : throw new TrustFormatException($"{where}: \"type\" is missing");
        switch (type)
        {
            case "insecureAcceptAnything":
                Only(r, where, "type");
                return new PolicyRequirement(PolicyRequirementType.InsecureAcceptAnything, "insecureAcceptAnything");
            case "reject":
                Only(r, where, "type");
                return new PolicyRequirement(PolicyRequirementType.Reject, "reject");
            case "signedBy":
                Only(r, where, "type", "keyType", "keyPath", "keyPaths", "keyData", "signedIdentity");
                return new PolicyRequirement(PolicyRequirementType.SignedBy, "signedBy (GPG signatures, which Ferry does not verify)");
            case "signedBaseLayer":
                Only(r, where, "type", "baseLayerIdentity");
                return new PolicyRequirement(PolicyRequirementType.SignedBaseLayer, "signedBaseLayer (which Ferry does not evaluate)");
            case "sigstoreSigned":
                return Sigstore(r, where);
            default:
                throw new TrustFormatException($"{where}: unknown requirement type \"{type}\"");
        }
    }

    /// <summary>
    /// A sigstoreSigned requirement. Its shape is checked now (an error fails the policy); keys and CA files are read now
    /// too, but one that cannot be read or is no key (containers/image reads them only when an image needs them) makes
    /// the requirement reject every image it governs, naming the problem, instead of failing the whole policy.
    /// </summary>
    private static PolicyRequirement Sigstore(JsonElement r, string where)
    {
        try
        {
            return SigstoreRequirement(r, where);
        }
        catch (UsageException e)
        {
            return new PolicyRequirement(PolicyRequirementType.SigstoreSigned, $"sigstoreSigned ({where})") { Problem = e.Message };
        }
    }

    private static PolicyRequirement SigstoreRequirement(JsonElement r, string where)
    {
        Only(r, where, "type", "keyPath", "keyPaths", "keyData", "keyDatas", "fulcio", "pki", "rekorPublicKeyPath", "rekorPublicKeyPaths",
            "rekorPublicKeyData", "rekorPublicKeyDatas", "signedIdentity");
        string[] keyFields = ["keyPath", "keyPaths", "keyData", "keyDatas"];
        int given = keyFields.Count(f => r.TryGetProperty(f, out _)) + (r.TryGetProperty("fulcio", out _) ? 1 : 0) + (r.TryGetProperty("pki", out _) ? 1 : 0);
        if (given != 1)
            throw new TrustFormatException($"{where}: sigstoreSigned takes exactly one of keyPath, keyPaths, keyData, keyDatas, fulcio and pki");
        if (r.TryGetProperty("pki", out _))
            throw new UsageException($"{where}: \"pki\" is not supported by Ferry (use keys or fulcio)");
        var keys = new List<VerificationKey>();
        if (Str(r, "keyPath", where) is { } keyPath)
            keys.Add(VerificationKey.FromFile(keyPath));
        foreach (string p in Strs(r, "keyPaths", where))
            keys.Add(VerificationKey.FromFile(p));
        if (Str(r, "keyData", where) is { } keyData)
            keys.Add(VerificationKey.FromPem(Data(keyData, where + ".keyData"), where + ".keyData"));
        foreach (var (d, i) in Strs(r, "keyDatas", where).Select((d, i) => (d, i)))
            keys.Add(VerificationKey.FromPem(Data(d, $"{where}.keyDatas[{i}]"), $"{where}.keyDatas[{i}]"));
        if (r.TryGetProperty("keyPaths", out _) && keys.Count == 0 || r.TryGetProperty("keyDatas", out _) && keys.Count == 0)
            throw new TrustFormatException($"{where}: an empty list of keys");

        string[] rekorFields = ["rekorPublicKeyPath", "rekorPublicKeyPaths", "rekorPublicKeyData", "rekorPublicKeyDatas"];
        if (rekorFields.Count(f => r.TryGetProperty(f, out _)) > 1)
            throw new TrustFormatException($"{where}: at most one of {string.Join(", ", rekorFields)}");
        var rekor = new List<VerificationKey>();
        if (Str(r, "rekorPublicKeyPath", where) is { } rp)
            rekor.Add(VerificationKey.FromFile(rp));
        foreach (string p in Strs(r, "rekorPublicKeyPaths", where))
            rekor.Add(VerificationKey.FromFile(p));
        if (Str(r, "rekorPublicKeyData", where) is { } rd)
            rekor.Add(VerificationKey.FromPem(Data(rd, where + ".rekorPublicKeyData"), where + ".rekorPublicKeyData"));
        foreach (var (d, i) in Strs(r, "rekorPublicKeyDatas", where).Select((d, i) => (d, i)))
            rekor.Add(VerificationKey.FromPem(Data(d, $"{where}.rekorPublicKeyDatas[{i}]"), $"{where}.rekorPublicKeyDatas[{i}]"));
        if (rekor.Any(k => !k.IsEcdsa))
            throw new TrustFormatException($"{where}: Rekor public keys must be ECDSA");

        var cas = new List<Authority>();
        var identities = new List<CertificateIdentity>();
        string description;
        if (r.TryGetProperty("fulcio", out var fulcio))
        {
            string w = where + ".fulcio";
            if (fulcio.ValueKind != JsonValueKind.Object)
                throw new TrustFormatException($"{w}: not an object");
            Only(fulcio, w, "caPath", "caData", "oidcIssuer", "subjectEmail");
            string? caPath = Str(fulcio, "caPath", w);
            string? caData = Str(fulcio, "caData", w);
            if ((caPath is null) == (caData is null))
                throw new TrustFormatException($"{w}: exactly one of caPath and caData");
            string pem = caPath is not null ? TrustFiles.ReadText(caPath, "Fulcio CA", 1 << 20) : Data(caData!, w + ".caData");
            var certs = Certificates.LoadPemAll(pem, w);
            if (certs.Count == 0)
                throw new TrustFormatException($"{w}: no CA certificate");
            // Each given certificate is trusted as an anchor, as containers/image pools them.
            cas.AddRange(certs.Select(c => new Authority(caPath ?? "caData", [c], TimeRange.Always)));
            string issuer = Str(fulcio, "oidcIssuer", w) ?? throw new TrustFormatException($"{w}: oidcIssuer is required");
            string email = Str(fulcio, "subjectEmail", w) ?? throw new TrustFormatException($"{w}: subjectEmail is required");
            identities.Add(new CertificateIdentity(email, null, issuer, null) { EmailOnly = true });
            if (rekor.Count == 0)
                throw new TrustFormatException($"{where}: fulcio needs a Rekor public key (rekorPublicKeyPath, …)");
            description = $"sigstoreSigned (fulcio {caPath ?? "caData"}, email '{email}', issuer '{issuer}')";
        }
        else
        {
            description = $"sigstoreSigned (key {string.Join(" or ", keys.Select(k => k.Name))})";
        }
        var identity = r.TryGetProperty("signedIdentity", out var si) ? SignedIdentity.Parse(si, where + ".signedIdentity") : SignedIdentity.Default;
        description = description[..^1] + $", {identity.Type}" + (rekor.Count > 0 ? ", Rekor SET required" : "") + ")";
        return new PolicyRequirement(PolicyRequirementType.SigstoreSigned, description)
        {
            Identity = identity,
            Signature = new Requirements
            {
                Trust = new TrustMaterial(cas, [.. rekor.Select(LogInstance.FromKey)], [], []),
                Keys = keys,
                Identities = identities,
                RequireTlog = rekor.Count > 0,
                RequireSct = false,
            },
        };
    }

    private static string? Str(JsonElement e, string name, string where) =>
        !e.TryGetProperty(name, out var v) ? null
        : v.ValueKind == JsonValueKind.String ? v.GetString() : throw new TrustFormatException($"{where}: {name} is not a string");

    private static IEnumerable<string> Strs(JsonElement e, string name, string where)
    {
        if (!e.TryGetProperty(name, out var v))
            return [];
        if (v.ValueKind != JsonValueKind.Array || v.GetArrayLength() > 64 || v.EnumerateArray().Any(x => x.ValueKind != JsonValueKind.String))
            throw new TrustFormatException($"{where}: {name} is not a list of strings");
        return [.. v.EnumerateArray().Select(x => x.GetString()!)];
    }

    private static string Data(string base64, string where) =>
        ProtoJson.Base64(base64) is { } bytes ? Encoding.UTF8.GetString(bytes) : throw new TrustFormatException($"{where}: not base64");
}

/// <summary>
/// containers-policy.json's <c>signedIdentity</c>: how the reference a signature's payload names
/// (<c>critical.identity.docker-reference</c>) must relate to the image's own name.
/// </summary>
internal sealed class SignedIdentity
{
    public static SignedIdentity Default { get; } = new("matchRepoDigestOrExact", null, null, null);

    private SignedIdentity(string type, ImageName? reference, string? repository, (string Prefix, string SignedPrefix)? remap)
    {
        Type = type;
        Reference = reference;
        Repository = repository;
        Remap = remap;
    }

    public string Type { get; }
    private ImageName? Reference { get; }
    private string? Repository { get; }
    private (string Prefix, string SignedPrefix)? Remap { get; }

    public static SignedIdentity Parse(JsonElement e, string where)
    {
        if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty("type", out var t) || t.ValueKind != JsonValueKind.String)
            throw new TrustFormatException($"{where}: not an object with a \"type\"");
        string type = t.GetString()!;
        string? S(string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        void Only(params string[] allowed)
        {
            foreach (var p in e.EnumerateObject())
            {
                if (p.Name != "type" && !allowed.Contains(p.Name, StringComparer.Ordinal))
                    throw new TrustFormatException($"{where}: unknown field \"{p.Name}\" for {type}");
            }
        }
        switch (type)
        {
            case "matchExact" or "matchRepoDigestOrExact" or "matchRepository":
                Only();
                return new SignedIdentity(type, null, null, null);
            case "exactReference":
            {
                Only("dockerReference");
                string text = S("dockerReference") ?? throw new TrustFormatException($"{where}: dockerReference is required");
                if (!ImageName.TryParse(text, out var name, out string error) || (name!.Tag is null && name.Digest is null))
                    throw new TrustFormatException($"{where}: dockerReference '{text}' is not a reference with a tag or digest ({error})");
                return new SignedIdentity(type, name, null, null);
            }
            case "exactRepository":
            {
                Only("dockerRepository");
                string text = S("dockerRepository") ?? throw new TrustFormatException($"{where}: dockerRepository is required");
                if (!ImageName.TryParse(text, out var name, out string error) || name!.Tag is not null || name.Digest is not null)
                    throw new TrustFormatException($"{where}: dockerRepository '{text}' is not a repository ({error})");
                return new SignedIdentity(type, null, name.FullRepository, null);
            }
            case "remapIdentity":
            {
                Only("prefix", "signedPrefix");
                string prefix = S("prefix") ?? throw new TrustFormatException($"{where}: prefix is required");
                string signedPrefix = S("signedPrefix") ?? throw new TrustFormatException($"{where}: signedPrefix is required");
                return new SignedIdentity(type, null, null, (prefix, signedPrefix));
            }
            default:
                throw new TrustFormatException($"{where}: unknown signedIdentity type \"{type}\"");
        }
    }

    /// <summary>Whether a signature naming <paramref name="signedReference"/> is accepted for an image named <paramref name="image"/>; null when it is, else why not.</summary>
    public string? Check(ImageName? image, string? signedReference)
    {
        if (signedReference is null || !ImageName.TryParse(signedReference, out var signed, out _))
            return $"the signature names no valid docker-reference ('{signedReference}')";
        switch (Type)
        {
            case "exactReference":
                return Same(signed!, Reference!) ? null : $"signature for identity {signedReference} is not accepted (exactReference {Reference})";
            case "exactRepository":
                return signed!.FullRepository == Repository ? null : $"signature for identity {signedReference} is not accepted (exactRepository {Repository})";
        }
        if (image is null)
            return "the image has no name to match the signature's identity against";
        var name = image;
        if (Remap is { } remap)
        {
            string full = image.ToString();
            if (full.StartsWith(remap.Prefix, StringComparison.Ordinal) && (full.Length == remap.Prefix.Length || full[remap.Prefix.Length] is '/' or ':' or '@' || remap.Prefix.EndsWith('/'))
                && ImageName.TryParse(remap.SignedPrefix + full[remap.Prefix.Length..], out var remapped, out _))
                name = remapped!;
        }
        bool ok = Type switch
        {
            "matchRepository" => signed!.FullRepository == name.FullRepository,
            "matchExact" => (name.Tag is not null || name.Digest is not null) && Same(signed!, name),
            // matchRepoDigestOrExact (and remapIdentity after remapping): a digest names the repository, a tag the exact reference.
            _ => name.Digest is not null ? signed!.FullRepository == name.FullRepository : name.Tag is not null && Same(signed!, name),
        };
        return ok ? null : $"signature for identity {signedReference} is not accepted for {image} ({Type})";
    }

    private static bool Same(ImageName a, ImageName b) => a.FullRepository == b.FullRepository && a.Tag == b.Tag && a.Digest == b.Digest;
}
