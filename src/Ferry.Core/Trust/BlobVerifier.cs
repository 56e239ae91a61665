namespace Ferry.Trust;

/// <summary>
/// <c>cosign verify-blob --bundle</c>, offline: a sigstore bundle (v0.1–v0.3, a message signature or a DSSE in-toto
/// statement) checked against a blob or its digest, with cosign's terms and a carried trust root.
/// </summary>
public static class BlobVerifier
{
    /// <summary>Verifies a bundle over <paramref name="artifact"/>.</summary>
    /// <param name="bundle">The bundle's JSON (at most 8 MiB).</param>
    /// <param name="artifact">The blob, or its digest; for a DSSE bundle, a subject of the statement.</param>
    /// <param name="terms">Keys or identities, and the trust root.</param>
    /// <returns>The verdict: never throws for a bad bundle, it is a verdict that names the problem.</returns>
    /// <exception cref="UsageException">The terms are contradictory or incomplete.</exception>
    public static SignatureVerdict VerifyBundle(ReadOnlyMemory<byte> bundle, BlobArtifact artifact, CosignTerms terms)
    {
        ArgumentNullException.ThrowIfNull(artifact);
        ArgumentNullException.ThrowIfNull(terms);
        terms.Validate();
        SignedMaterial material;
        try
        {
            material = SignedMaterial.ParseBundle(bundle, "bundle");
        }
        catch (TrustFormatException e)
        {
            return new SignatureVerdict { Verified = false, Form = "sigstore bundle", Reason = e.Message };
        }
        return SignatureChecker.Verify(material, artifact, RequirementsOf(terms));
    }

    internal static Requirements RequirementsOf(CosignTerms terms) => new()
    {
        Trust = TrustMaterial.Of(terms.TrustedRoot),
        Keys = terms.Keys,
        Identities = terms.Identities,
        RequireTlog = terms.TrustedRoot is { TransparencyLogs.Count: > 0 } && !terms.IgnoreTransparencyLog,
        RequireSct = terms.Keys.Count == 0 && !terms.IgnoreSct,
        PredicateType = terms.AttestationType is null ? null : Attestations.PredicateTypeOf(terms.AttestationType),
    };
}
