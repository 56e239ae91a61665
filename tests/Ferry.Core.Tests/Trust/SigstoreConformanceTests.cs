using Ferry.Tests.TestSupport;

namespace Ferry.Tests.Trust;

/// <summary>
/// sigstore-conformance's offline verification cases (<c>test/assets/bundle-verify/*</c>), each run as the suite runs
/// it — once with the artifact's path, once with its digest — through <c>ferry verify-blob</c>, the suite's
/// <c>verify-bundle</c> protocol one to one: <c>--bundle B [--trusted-root T] (--certificate-identity I
/// --certificate-oidc-issuer O | --key K) FILE_OR_DIGEST</c>. A case named <c>*_fail</c> must exit 1 (2 for a key file that is no key), every other 0.
/// The fixtures are third-party data (Apache-2.0) and are not committed here: they are read from
/// <c>$FERRY_SIGSTORE_CONFORMANCE</c>, else <c>shared/fixtures/sigstore-conformance</c> beside the checkout; see
/// <c>Trust/CONFORMANCE.md</c> for the layout and the commit they come from. Without them the theory is skipped.
/// </summary>
public sealed class SigstoreConformanceTests
{
    /// <summary>The default identity and issuer of the suite (its client.py).</summary>
    private const string Identity = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
    private const string Issuer = "https://token.actions.githubusercontent.com";

    internal static string? Root()
    {
        if (Environment.GetEnvironmentVariable("FERRY_SIGSTORE_CONFORMANCE") is { Length: > 0 } env && Directory.Exists(Path.Combine(env, "bundle-verify")))
            return env;
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            string candidate = Path.Combine(d.FullName, "shared", "fixtures", "sigstore-conformance");
            if (Directory.Exists(Path.Combine(candidate, "bundle-verify")))
                return candidate;
        }
        return null;
    }

    public static TheoryData<string, bool> Cases()
    {
        var data = new TheoryData<string, bool>();
        if (Root() is not { } root)
        {
            data.Add("(fixtures absent)", false);
            return data;
        }
        foreach (var dir in Directory.EnumerateDirectories(Path.Combine(root, "bundle-verify")).Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(dir), false);
            data.Add(Path.GetFileName(dir), true);
        }
        return data;
    }

    /// <summary>The arguments the suite would pass, as ferry verify-blob takes them.</summary>
    internal static string[] Arguments(string root, string name, bool digest)
    {
        string dir = Path.Combine(root, "bundle-verify", name);
        string artifact = File.Exists(Path.Combine(dir, "artifact")) ? Path.Combine(dir, "artifact") : Path.Combine(root, "bundle-verify", "a.txt");
        if (!File.Exists(artifact))
            artifact = Path.Combine(root, "a.txt");
        var args = new List<string> { "verify-blob", "--bundle", Path.Combine(dir, "bundle.sigstore.json") };
        string trustedRoot = File.Exists(Path.Combine(dir, "trusted_root.json")) ? Path.Combine(dir, "trusted_root.json") : Path.Combine(root, "trusted_root.public-good.json");
        args.AddRange(["--trusted-root", trustedRoot]);
        if (File.Exists(Path.Combine(dir, "key.pub")))
        {
            args.AddRange(["--key", Path.Combine(dir, "key.pub")]);
        }
        else
        {
            string identity = File.Exists(Path.Combine(dir, "identity")) ? File.ReadAllText(Path.Combine(dir, "identity")).Trim() : Identity;
            string issuer = File.Exists(Path.Combine(dir, "issuer")) ? File.ReadAllText(Path.Combine(dir, "issuer")).Trim() : Issuer;
            args.AddRange(["--certificate-identity", identity, "--certificate-oidc-issuer", issuer]);
        }
        args.Add(digest ? "sha256:" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(artifact))) : artifact);
        return [.. args];
    }

    [ConformanceTheory]
    [MemberData(nameof(Cases))]
    public void GivesTheVerdictTheSuiteExpects(string name, bool digest)
    {
        string root = Root()!;
        var r = CliRun.Run(Arguments(root, name, digest));
        bool shouldFail = name.EndsWith("_fail", StringComparison.Ordinal);
        // A bundle that does not verify exits 1; a key file that is not a key is a usage error (2). Never a crash.
        Assert.True(shouldFail ? r.Code is 1 or 2 : r.Code == 0, $"{name} ({(digest ? "digest" : "path")}): exit {r.Code}\n{r.Out}\n{r.Err}");
        Assert.DoesNotContain("internal error", r.Err, StringComparison.Ordinal);
    }
}

/// <summary>A theory skipped when the conformance fixtures are not there.</summary>
public sealed class ConformanceTheoryAttribute : TheoryAttribute
{
    public ConformanceTheoryAttribute()
    {
        if (SigstoreConformanceTests.Root() is null)
            Skip = "sigstore-conformance fixtures absent: set FERRY_SIGSTORE_CONFORMANCE (see tests/Ferry.Core.Tests/Trust/CONFORMANCE.md)";
    }
}
