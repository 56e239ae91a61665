using System.Text.RegularExpressions;

namespace Ferry.Trust;

/// <summary>
/// Who must have signed, as cosign says it: <c>--certificate-identity[-regexp]</c> and
/// <c>--certificate-oidc-issuer[-regexp]</c>. The identity is matched against every SAN of the certificate (e-mail, URI,
/// Fulcio's username otherName), the issuer against Fulcio's issuer extension. Regular expressions are unanchored, as
/// Go's <c>MatchString</c> (add <c>^…$</c> to anchor), and run without backtracking.
/// </summary>
public sealed class CertificateIdentity
{
    private readonly Regex? _subject;
    private readonly Regex? _issuer;

    /// <summary>An identity: each part exact or a regular expression; at least a subject and an issuer part.</summary>
    /// <param name="subject">The exact identity (<c>--certificate-identity</c>).</param>
    /// <param name="subjectRegex">A regular expression for it (<c>--certificate-identity-regexp</c>).</param>
    /// <param name="issuer">The exact OIDC issuer (<c>--certificate-oidc-issuer</c>).</param>
    /// <param name="issuerRegex">A regular expression for it (<c>--certificate-oidc-issuer-regexp</c>).</param>
    /// <exception cref="UsageException">A part missing or given twice, or an invalid regular expression.</exception>
    public CertificateIdentity(string? subject, string? subjectRegex, string? issuer, string? issuerRegex)
    {
        if ((subject is null) == (subjectRegex is null))
            throw new UsageException("give one of --certificate-identity and --certificate-identity-regexp");
        if ((issuer is null) == (issuerRegex is null))
            throw new UsageException("give one of --certificate-oidc-issuer and --certificate-oidc-issuer-regexp");
        Subject = subject;
        SubjectRegex = subjectRegex;
        Issuer = issuer;
        IssuerRegex = issuerRegex;
        _subject = subjectRegex is null ? null : Compile(subjectRegex, "--certificate-identity-regexp");
        _issuer = issuerRegex is null ? null : Compile(issuerRegex, "--certificate-oidc-issuer-regexp");
    }

    /// <summary>The exact identity, if given.</summary>
    public string? Subject { get; }

    /// <summary>The identity's regular expression, if given.</summary>
    public string? SubjectRegex { get; }

    /// <summary>The exact issuer, if given.</summary>
    public string? Issuer { get; }

    /// <summary>The issuer's regular expression, if given.</summary>
    public string? IssuerRegex { get; }

    /// <summary>Only e-mail SANs count (policy.json's <c>fulcio.subjectEmail</c>).</summary>
    internal bool EmailOnly { get; init; }

    private static Regex Compile(string pattern, string flag)
    {
        try
        {
            return new Regex(pattern, RegexOptions.CultureInvariant | RegexOptions.NonBacktracking, TimeSpan.FromSeconds(1));
        }
        catch (ArgumentException e)
        {
            throw new UsageException($"{flag}: invalid regular expression: {e.Message}");
        }
    }

    /// <summary>The SAN that matches, when both the identity and the issuer match.</summary>
    internal string? Match(IReadOnlyList<string> sans, IReadOnlyList<string> emails, string? issuer)
    {
        if (issuer is null || !(Issuer is not null ? Issuer == issuer : _issuer!.IsMatch(issuer)))
            return null;
        foreach (var san in EmailOnly ? emails : sans)
        {
            if (Subject is not null ? Subject == san : _subject!.IsMatch(san))
                return san;
        }
        return null;
    }

    /// <inheritdoc/>
    public override string ToString() =>
        $"identity {(Subject is not null ? $"'{Subject}'" : $"~'{SubjectRegex}'")}, issuer {(Issuer is not null ? $"'{Issuer}'" : $"~'{IssuerRegex}'")}";
}

/// <summary>
/// What cosign's command line says about a signature (<c>cosign verify</c>, <c>verify-attestation</c>,
/// <c>verify-blob</c>): keys (<c>--key</c>) or keyless identities, the trust root (<c>--trusted-root</c>), and for
/// attestations the predicate type (<c>--type</c>). With a key and no trust root the transparency log is not consulted
/// (cosign's <c>--insecure-ignore-tlog</c>); keyless needs a trust root.
/// </summary>
public sealed class CosignTerms
{
    /// <summary>Keys any one of which must have made the signature (<c>--key</c>).</summary>
    public IReadOnlyList<VerificationKey> Keys { get; init; } = [];

    /// <summary>Keyless: identities any one of which the certificate must carry.</summary>
    public IReadOnlyList<CertificateIdentity> Identities { get; init; } = [];

    /// <summary>The trust root (<c>--trusted-root FILE</c>): needed for keyless; with keys, it makes the log entries count.</summary>
    public TrustedRoot? TrustedRoot { get; init; }

    /// <summary>
    /// For attestations: the predicate type required (<c>--attestation-type</c>: a cosign name such as
    /// <c>slsaprovenance</c>, <c>spdx</c>, <c>cyclonedx</c>, or a URI); null: signatures, not attestations.
    /// </summary>
    public string? AttestationType { get; init; }

    /// <summary>Skip the embedded SCT check (cosign's <c>--insecure-ignore-sct</c>).</summary>
    public bool IgnoreSct { get; init; }

    /// <summary>Accept keyless signatures without a transparency log entry when a signed timestamp gives the time.</summary>
    public bool IgnoreTransparencyLog { get; init; }

    /// <summary>Checks the terms make sense: keys or identities (not both), keyless with a trust root.</summary>
    /// <exception cref="UsageException">They do not.</exception>
    public void Validate()
    {
        if (Keys.Count > 0 && Identities.Count > 0)
            throw new UsageException("give --key or --certificate-identity/--certificate-oidc-issuer, not both");
        if (Keys.Count == 0 && Identities.Count == 0)
            throw new UsageException("give --key, or --certificate-identity[-regexp] with --certificate-oidc-issuer[-regexp]");
        if (Identities.Count > 0 && TrustedRoot is null)
            throw new UsageException("keyless verification needs --trusted-root FILE (sigstore's trusted_root.json; Ferry fetches nothing)");
        if (AttestationType is not null)
            _ = Attestations.PredicateTypeOf(AttestationType);
    }

    /// <summary>A one-line description, for verdicts: <c>cosign: key cosign.pub</c>, <c>cosign: identity '…', issuer '…'</c>.</summary>
    public string Describe() =>
        (AttestationType is null ? "cosign: " : $"cosign attestation {Attestations.PredicateTypeOf(AttestationType)}: ")
        + (Keys.Count > 0 ? "key " + string.Join(" or ", Keys.Select(k => k.Name)) : string.Join(" or ", Identities.Select(i => i.ToString())));
}

/// <summary>cosign's attestation predicate types, by the names <c>cosign attest --type</c> takes.</summary>
public static class Attestations
{
    /// <summary>cosign's v3 signature predicate: a DSSE statement <c>cosign sign</c> makes in a bundle.</summary>
    public const string CosignSignPredicate = "https://sigstore.dev/cosign/sign/v1";

    private static readonly Dictionary<string, string> Names = new(StringComparer.Ordinal)
    {
        ["slsaprovenance"] = "https://slsa.dev/provenance/v0.2",
        ["slsaprovenance02"] = "https://slsa.dev/provenance/v0.2",
        ["slsaprovenance1"] = "https://slsa.dev/provenance/v1",
        ["spdx"] = "https://spdx.dev/Document",
        ["spdxjson"] = "https://spdx.dev/Document",
        ["cyclonedx"] = "https://cyclonedx.org/bom",
        ["vuln"] = "https://cosign.sigstore.dev/attestation/vuln/v1",
        ["custom"] = "https://cosign.sigstore.dev/attestation/v1",
        ["openvex"] = "https://openvex.dev/ns",
    };

    /// <summary>The predicate type URI of a cosign name (<c>slsaprovenance1</c> → <c>https://slsa.dev/provenance/v1</c>), or the URI given.</summary>
    /// <exception cref="UsageException">Neither a known name nor a URI.</exception>
    public static string PredicateTypeOf(string nameOrUri)
    {
        ArgumentNullException.ThrowIfNull(nameOrUri);
        if (Names.TryGetValue(nameOrUri, out var uri))
            return uri;
        if (Uri.TryCreate(nameOrUri, UriKind.Absolute, out _))
            return nameOrUri;
        throw new UsageException($"--attestation-type: '{nameOrUri}' is neither a URI nor one of {string.Join(", ", Names.Keys)}");
    }
}
