using Ferry.Digests;
using Ferry.Images;
using Ferry.Model;

namespace Ferry.Trust;

/// <summary>
/// A policy's verdict on one image: accepted or rejected, under which scope and requirement, and what vouched for it
/// (signer identity, issuer, key ID, transparency log index and integrated time) or why it was rejected.
/// </summary>
public sealed class ImageVerdict
{
    /// <summary>Whether every requirement of the scope was satisfied.</summary>
    public bool Accepted { get; init; }

    /// <summary>The image as named in messages (its source name, else its digest).</summary>
    public required string Image { get; init; }

    /// <summary>The image's (index or manifest) digest.</summary>
    public Digest Digest { get; init; }

    /// <summary>The scope that matched (<see cref="PolicyScope.Scope"/>).</summary>
    public required string Scope { get; init; }

    /// <summary>The scope's requirements in one line.</summary>
    public required string Requirement { get; init; }

    /// <summary>Why it was rejected (one line), or null.</summary>
    public string? Reason { get; init; }

    /// <summary>The accepted signature's signer identity (keyless).</summary>
    public string? Signer { get; init; }

    /// <summary>The accepted signature's OIDC issuer (keyless).</summary>
    public string? Issuer { get; init; }

    /// <summary>The accepted signature's key ID.</summary>
    public string? KeyId { get; init; }

    /// <summary>The accepted signature's transparency log index.</summary>
    public long? LogIndex { get; init; }

    /// <summary>The accepted signature's integrated time.</summary>
    public DateTimeOffset? IntegratedTime { get; init; }

    /// <summary>Every signature or attestation examined, verified or not, with what was checked.</summary>
    public IReadOnlyList<SignatureVerdict> Signatures { get; init; } = [];

    /// <summary>The line an enforcing command prints for a rejected image: image, scope, reason.</summary>
    public string Line => Accepted
        ? $"{Image}: accepted by {Scope} ({Requirement})" + (Signer is not null ? $": signed by {Signer} (issuer {Issuer})" : KeyId is not null ? $": signed with key {KeyId[..Math.Min(16, KeyId.Length)]}…" : "")
        : $"{Image}: rejected by {Scope}: {Reason}";

    /// <inheritdoc/>
    public override string ToString() => Line;
}

/// <summary>
/// Applies a <see cref="TrustPolicy"/> to an image and the signatures found with it: cosign's <c>.sig</c> and
/// <c>.att</c> manifests (layers and annotations) and sigstore bundle referrers (OCI 1.1). Offline; reads only the
/// signature blobs (each within 8 MiB). An index without signatures of its own is accepted when every present
/// platform's manifest is.
/// </summary>
public static class ImageVerifier
{
    private const string BundleTypePrefix = "application/vnd.dev.sigstore.bundle";

    /// <summary>Verifies an image of a source (its name, digest and referrers as the source read them).</summary>
    public static Task<ImageVerdict> VerifyAsync(NamedImage image, TrustPolicy policy, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(policy);
        var platforms = image.Root is IndexNode x ? x.Images().Select(i => i.Image.Manifest?.Digest).OfType<Digest>().ToList() : [];
        return VerifyAsync(image.Key, image.Names.Count > 0 ? image.Names[0] : null, image.Referrers, policy, platforms, image.Label, cancellationToken);
    }

    /// <summary>
    /// Verifies a source image given by its manifest (or index) digest, its source name (null: unnamed; the policy's
    /// transport default applies), the referrers found for it and, for an index, the digests of its platform manifests.
    /// </summary>
    /// <param name="digest">The manifest or index digest the signatures must name.</param>
    /// <param name="sourceName">The name the image has at its source (by which the policy's scope is chosen).</param>
    /// <param name="referrers">The referrers found (of the image and of its platform manifests).</param>
    /// <param name="policy">The policy.</param>
    /// <param name="platformManifests">For an index: its platform manifests, which may be signed instead of the index.</param>
    /// <param name="label">How to name the image in the verdict (default: the source name, else the digest).</param>
    /// <param name="cancellationToken">Stops reading signature blobs.</param>
    public static async Task<ImageVerdict> VerifyAsync(Digest digest, ImageName? sourceName, IReadOnlyList<Referrer> referrers, TrustPolicy policy,
        IReadOnlyList<Digest>? platformManifests = null, string? label = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(referrers);
        ArgumentNullException.ThrowIfNull(policy);
        var scope = policy.Match(sourceName);
        string name = label ?? sourceName?.Familiar ?? digest.ToString();
        var examined = new List<SignatureVerdict>();
        SignatureVerdict? vouching = null;
        foreach (var requirement in scope.Requirements)
        {
            cancellationToken.ThrowIfCancellationRequested();
            string? reason = null;
            switch (requirement.Type)
            {
                case PolicyRequirementType.InsecureAcceptAnything:
                    break;
                case PolicyRequirementType.Reject:
                    reason = "the policy rejects every image here (reject)";
                    break;
                case PolicyRequirementType.SignedBy:
                    reason = "signedBy (GPG) signatures are not verified by Ferry";
                    break;
                case PolicyRequirementType.SignedBaseLayer:
                    reason = "signedBaseLayer is not evaluated by Ferry";
                    break;
                case PolicyRequirementType.SigstoreSigned when requirement.Problem is not null:
                    reason = "the policy's requirement cannot be applied: " + requirement.Problem;
                    break;
                default:
                {
                    var (ok, why, verdicts) = await SignedAsync(digest, sourceName, referrers, requirement, cancellationToken).ConfigureAwait(false);
                    examined.AddRange(verdicts);
                    if (ok is null && platformManifests is { Count: > 0 } && !referrers.Any(r => r.Subject == digest && IsSignatureLike(r)))
                    {
                        // An index signed per platform (as some signers leave it): every present platform must pass.
                        SignatureVerdict? first = null;
                        foreach (var p in platformManifests)
                        {
                            var (pok, pwhy, pverdicts) = await SignedAsync(p, sourceName, referrers, requirement, cancellationToken).ConfigureAwait(false);
                            examined.AddRange(pverdicts);
                            if (pok is null)
                            {
                                why = $"platform manifest {p}: {pwhy}";
                                first = null;
                                break;
                            }
                            first ??= pok;
                        }
                        ok = first;
                    }
                    if (ok is null)
                        reason = why;
                    else
                        vouching ??= ok;
                    break;
                }
            }
            if (reason is not null)
            {
                return new ImageVerdict
                {
                    Accepted = false, Image = name, Digest = digest, Scope = scope.Scope, Requirement = scope.Requirement,
                    Reason = reason, Signatures = examined,
                };
            }
        }
        return new ImageVerdict
        {
            Accepted = true, Image = name, Digest = digest, Scope = scope.Scope, Requirement = scope.Requirement, Signatures = examined,
            Signer = vouching?.Signer, Issuer = vouching?.Issuer, KeyId = vouching?.KeyId, LogIndex = vouching?.LogIndex, IntegratedTime = vouching?.IntegratedTime,
        };
    }

    private static bool IsSignatureLike(Referrer r) =>
        r.Kind is ReferrerKind.Signature or ReferrerKind.Attestation || r.Artifact.Type.StartsWith(BundleTypePrefix, StringComparison.Ordinal);

    /// <summary>
    /// Reads the attestations of an image of type <paramref name="predicateType"/> (a cosign name or a URI; null: all),
    /// verified with <paramref name="terms"/> when given (else only parsed, each verdict unverified): what
    /// <c>inspect --attestation TYPE</c> prints (<see cref="SignatureVerdict.Predicate"/>).
    /// </summary>
    public static async Task<IReadOnlyList<SignatureVerdict>> AttestationsAsync(NamedImage image, string? predicateType, CosignTerms? terms,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(image);
        string? wanted = predicateType is null ? null : Attestations.PredicateTypeOf(predicateType);
        var requirements = terms is null ? null : BlobVerifier.RequirementsOf(terms);
        var result = new List<SignatureVerdict>();
        foreach (var (material, subject, source) in await MaterialsAsync(image.Key, image.Referrers, attestations: true, cancellationToken).ConfigureAwait(false))
        {
            if (material.Material is not { Content: SignedContent.Dsse } m)
                continue;
            InTotoStatement statement;
            try
            {
                statement = InTotoStatement.Parse(m.Envelope!.Payload, "attestation");
            }
            catch (TrustFormatException)
            {
                continue;
            }
            if (wanted is not null && statement.PredicateType != wanted)
                continue;
            if (requirements is null)
            {
                result.Add(new SignatureVerdict
                {
                    Verified = false, Reason = "not verified (no keys or identities given)", Form = m.Form, Source = source,
                    PredicateType = statement.PredicateType, Predicate = statement.Predicate,
                });
                continue;
            }
            result.Add(SignatureChecker.Verify(m, BlobArtifact.OfDigest(subject), requirements, source));
        }
        return result;
    }

    private static async Task<(SignatureVerdict? Ok, string Why, List<SignatureVerdict> Verdicts)> SignedAsync(Digest digest, ImageName? sourceName,
        IReadOnlyList<Referrer> referrers, PolicyRequirement requirement, CancellationToken cancellationToken)
    {
        bool cosign = requirement.Type == PolicyRequirementType.Cosign;
        bool attestation = requirement.PredicateType is not null;
        var verdicts = new List<SignatureVerdict>();
        var materials = await MaterialsAsync(digest, referrers, attestation, cancellationToken).ConfigureAwait(false);
        foreach (var (found, _, source) in materials)
        {
            // containers-policy.json's sigstoreSigned reads cosign's .sig signatures only.
            if (!cosign && found.Form != "cosign signature")
                continue;
            if (found.Material is not { } m)
            {
                verdicts.Add(new SignatureVerdict { Verified = false, Form = found.Form, Source = source, Reason = found.Problem });
                continue;
            }
            // A signature requirement is met by signatures (and cosign v3's signing statement), an attestation one by its type.
            if ((cosign && !attestation && m.Content == SignedContent.Dsse && m.Form == "cosign attestation") || (attestation && m.Content != SignedContent.Dsse))
                continue;
            var requirements = requirement.Signature!;
            if (attestation)
                requirements = new Requirements
                {
                    Trust = requirements.Trust, Keys = requirements.Keys, Identities = requirements.Identities, RequireTlog = requirements.RequireTlog,
                    RequireSct = requirements.RequireSct, PredicateType = requirement.PredicateType,
                };
            var verdict = SignatureChecker.Verify(m, BlobArtifact.OfDigest(digest), requirements, source);
            if (verdict.Verified && !attestation && m.Content == SignedContent.Dsse && verdict.PredicateType != Attestations.CosignSignPredicate)
                verdict = new SignatureVerdict { Verified = false, Form = m.Form, Source = source, Reason = $"an attestation ({verdict.PredicateType}), not a signature", Checks = verdict.Checks, PredicateType = verdict.PredicateType };
            if (verdict.Verified && requirement.Identity is { } identity && m.Content == SignedContent.SimpleSigning)
            {
                var (reference, _) = SignatureChecker.SimpleSigning(m.Payload!);
                if (identity.Check(sourceName, reference) is { } why)
                    verdict = new SignatureVerdict { Verified = false, Form = m.Form, Source = source, Reason = why, Signer = verdict.Signer, Issuer = verdict.Issuer, KeyId = verdict.KeyId, Checks = verdict.Checks };
            }
            verdicts.Add(verdict);
            if (verdict.Verified)
                return (verdict, "", verdicts);
        }
        string what = attestation ? $"an attestation of type {requirement.PredicateType}" : "a signature";
        if (verdicts.Count == 0)
            return (null, $"{what} was required, but none exists for {digest}", verdicts);
        return (null, $"none of the {verdicts.Count} signature(s) was accepted: {string.Join("; ", verdicts.Select(v => v.Reason).Distinct(StringComparer.Ordinal))}", verdicts);
    }

    private sealed record Found(string Form, SignedMaterial? Material, string? Problem);

    /// <summary>Every signature (or attestation) stored for <paramref name="digest"/>: cosign layers and bundle referrers.</summary>
    private static async Task<List<(Found Found, Digest Subject, Digest Source)>> MaterialsAsync(Digest digest, IReadOnlyList<Referrer> referrers, bool attestations,
        CancellationToken cancellationToken)
    {
        var result = new List<(Found, Digest, Digest)>();
        foreach (var r in referrers.Where(r => r.Subject == digest).Take(64))
        {
            var artifact = r.Artifact;
            var source = artifact.Manifest.Digest;
            bool bundle = artifact.Type.StartsWith(BundleTypePrefix, StringComparison.Ordinal);
            if (r.Kind == ReferrerKind.Signature || (r.Kind == ReferrerKind.Attestation && attestations))
            {
                bool att = r.Kind == ReferrerKind.Attestation;
                foreach (var (d, src) in artifact.Blobs.Skip(1).Take(64))
                {
                    if (d.MediaType != (att ? "application/vnd.dsse.envelope.v1+json" : MediaTypes.CosignSignature))
                        continue;
                    string form = att ? "cosign attestation" : "cosign signature";
                    result.Add((await ReadAsync(form, d, src, (bytes, what) => SignedMaterial.ParseCosignLayer(bytes, d.Annotations, att, what), cancellationToken).ConfigureAwait(false), digest, source));
                }
            }
            else if (bundle || (r.Kind == ReferrerKind.Referrer && artifact.Blobs.Skip(1).Any(b => b.Descriptor.MediaType.StartsWith(BundleTypePrefix, StringComparison.Ordinal))))
            {
                foreach (var (d, src) in artifact.Blobs.Skip(1).Take(16))
                {
                    if (!d.MediaType.StartsWith(BundleTypePrefix, StringComparison.Ordinal))
                        continue;
                    result.Add((await ReadAsync("sigstore bundle", d, src, (bytes, what) => SignedMaterial.ParseBundle(bytes, what), cancellationToken).ConfigureAwait(false), digest, source));
                }
            }
        }
        return result;
    }

    private static async Task<Found> ReadAsync(string form, Descriptor d, BlobSource? src, Func<byte[], string, SignedMaterial> parse, CancellationToken cancellationToken)
    {
        if (src is null)
            return new Found(form, null, $"its blob {d.Digest} is not in the source");
        if (d.Size > SignedMaterial.MaxBundleBytes)
            return new Found(form, null, $"its blob {d.Digest} is {d.Size} bytes, over the limit");
        try
        {
            byte[] bytes = await src.ReadDocumentAsync(d.Digest, d.Size, $"{form} {d.Digest}", cancellationToken).ConfigureAwait(false);
            var m = parse(bytes, $"{form} {d.Digest.ToString()[..19]}…");
            return new Found(m.Form, m, null);
        }
        catch (TrustFormatException e)
        {
            return new Found(form, null, e.Message);
        }
        catch (FerryException e) when (e is ArchiveFormatException or DigestMismatchException)
        {
            return new Found(form, null, e.Message);
        }
    }
}
