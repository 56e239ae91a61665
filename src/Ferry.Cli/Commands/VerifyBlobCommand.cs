using System.CommandLine;
using Ferry.Cli.Rendering;
using Ferry.Trust;

namespace Ferry.Cli.Commands;

/// <summary>
/// <c>ferry verify-blob FILE|sha256:HEX --bundle B [--trusted-root T] (--certificate-identity[-regexp] I
/// --certificate-oidc-issuer[-regexp] O | --key K) [--json]</c>: <c>cosign verify-blob --bundle</c> offline, for
/// bundles v0.1–v0.3 as sigstore's clients write them. Exit 0 verified, 1 not, 2 for a bad command line. It is also
/// the adapter of the sigstore-conformance suite (its <c>verify-bundle</c> maps onto it argument for argument).
/// </summary>
internal static class VerifyBlobCommand
{
    public static Command Create(CliIO io, Option<bool> debug)
    {
        var artifact = new Argument<string>("FILE") { Description = "The blob, or its digest sha256:HEX (for a DSSE bundle: a subject of its statement)" };
        var bundle = new Option<string>("--bundle") { Description = "The sigstore bundle (.sigstore.json)", Required = true };
        var trustedRoot = new Option<string>("--trusted-root") { Description = "sigstore's trusted_root.json to trust (needed for keyless; Ferry fetches nothing)" };
        var identity = new Option<string>("--certificate-identity") { Description = "The signer's identity: a SAN of the certificate (e-mail or URI), exact" };
        var identityRegex = new Option<string>("--certificate-identity-regexp") { Description = "The signer's identity as a regular expression (unanchored)" };
        var issuer = new Option<string>("--certificate-oidc-issuer") { Description = "The OIDC issuer of the certificate, exact" };
        var issuerRegex = new Option<string>("--certificate-oidc-issuer-regexp") { Description = "The OIDC issuer as a regular expression (unanchored)" };
        var key = new Option<string>("--key") { Description = "A public key (PEM) that made the signature, instead of an identity" };
        var ignoreSct = new Option<bool>("--insecure-ignore-sct") { Description = "Do not require the certificate's embedded SCT" };
        var json = new Option<bool>("--json") { Description = "Print a JSON report" };
        var cmd = new Command("verify-blob", "Verify a blob (or its digest) against a sigstore bundle, offline: certificate chain, identity, SCT, transparency log entry, timestamps, signature")
        {
            artifact, bundle, trustedRoot, identity, identityRegex, issuer, issuerRegex, key, ignoreSct, json,
        };
        cmd.SetAction((parse, ct) => Guard.RunAsync(io, parse.GetValue(debug), cancel =>
        {
            cancel.ThrowIfCancellationRequested();
            string what = parse.GetValue(artifact)!;
            string? keyPath = parse.GetValue(key);
            bool keyless = parse.GetValue(identity) is not null || parse.GetValue(identityRegex) is not null
                || parse.GetValue(issuer) is not null || parse.GetValue(issuerRegex) is not null;
            if (keyPath is not null && keyless)
                throw new UsageException("verify-blob: give --key or --certificate-identity/--certificate-oidc-issuer, not both");
            var root = parse.GetValue(trustedRoot) is { } rootPath ? TrustedRoot.Load(rootPath) : null;
            using var verificationKey = keyPath is null ? null : VerificationKey.FromFile(keyPath);
            var terms = new CosignTerms
            {
                Keys = verificationKey is null ? [] : [verificationKey],
                Identities = keyless ? [new CertificateIdentity(parse.GetValue(identity), parse.GetValue(identityRegex), parse.GetValue(issuer), parse.GetValue(issuerRegex))] : [],
                TrustedRoot = root,
                IgnoreSct = parse.GetValue(ignoreSct),
            };
            terms.Validate();
            // A digest is sha256: and 64 hex digits that is not a file; anything else is a file (as the conformance protocol says).
            var blob = BlobArtifact.IsDigest(what) && !File.Exists(what) ? BlobArtifact.FromDigest(what) : ReadBlob(what);
            byte[] bundleBytes = ReadFile(parse.GetValue(bundle)!, "bundle", 8 << 20);
            var verdict = BlobVerifier.VerifyBundle(bundleBytes, blob, terms);
            if (parse.GetValue(json))
            {
                io.Out.WriteLine(JsonOut.Document(w =>
                {
                    w.WriteString("artifact", what);
                    w.WriteString("digest", blob.Digest);
                    w.WriteBoolean("verified", verdict.Verified);
                    w.WriteString("form", verdict.Form);
                    if (verdict.Reason is not null)
                        w.WriteString("reason", verdict.Reason);
                    if (verdict.Signer is not null)
                        w.WriteString("signer", verdict.Signer);
                    if (verdict.Issuer is not null)
                        w.WriteString("issuer", verdict.Issuer);
                    if (verdict.KeyId is not null)
                        w.WriteString("keyId", verdict.KeyId);
                    if (verdict.LogIndex is { } i)
                        w.WriteNumber("logIndex", i);
                    if (verdict.IntegratedTime is { } t)
                        w.WriteString("integratedTime", t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture));
                    if (verdict.SignedTimestamp is { } s)
                        w.WriteString("signedTimestamp", s.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture));
                    if (verdict.PredicateType is not null)
                        w.WriteString("predicateType", verdict.PredicateType);
                    w.WriteStartArray("checks");
                    foreach (var c in verdict.Checks)
                        w.WriteStringValue(c);
                    w.WriteEndArray();
                }));
            }
            else if (verdict.Verified)
            {
                io.Out.WriteLine($"Verified OK: {what}: {(verdict.Signer is not null ? $"signed by {verdict.Signer} (issuer {verdict.Issuer})" : $"signed with key {keyPath}")}{(verdict.LogIndex is { } i ? $", log index {i}" : "")}");
            }
            if (!verdict.Verified)
                io.Err.WriteLine($"ferry: verify-blob: {what}: not verified: {verdict.Reason}");
            return Task.FromResult(verdict.Verified ? ExitCodes.Ok : ExitCodes.Failure);
        }, ct));
        return cmd;
    }

    /// <summary>A blob of up to 64 MiB is read (so any signature over its bytes can be checked); a larger one is hashed as it streams.</summary>
    private static BlobArtifact ReadBlob(string path)
    {
        try
        {
            using var s = File.OpenRead(path);
            if (s.Length <= 64 << 20)
                return BlobArtifact.FromBytes(File.ReadAllBytes(path));
            return BlobArtifact.FromDigest("sha256:" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(s)));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"{path}: cannot read the blob: {e.Message}");
        }
    }

    private static byte[] ReadFile(string path, string what, int limit)
    {
        try
        {
            var info = new FileInfo(path);
            if (info.Exists && info.Length > limit)
                throw new UsageException($"{path}: too large for a {what} ({info.Length} bytes; at most {limit})");
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"{path}: cannot read the {what}: {e.Message}");
        }
    }
}
