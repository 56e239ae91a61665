namespace Ferry.Images;

/// <summary>
/// Which referrers a source reads and a copy carries: all (the default), none (<c>--exclude-referrers</c>), or those
/// named (<c>--referrers sig,att,sbom,ARTIFACT-TYPE</c>).
/// </summary>
public sealed class ReferrerSelection
{
    private readonly HashSet<string>? _names;

    private ReferrerSelection(HashSet<string>? names) => _names = names;

    /// <summary>Every referrer.</summary>
    public static ReferrerSelection All { get; } = new(null);

    /// <summary>No referrer.</summary>
    public static ReferrerSelection None { get; } = new([]);

    /// <summary>The referrers of these names: <c>sig</c>, <c>att</c>, <c>sbom</c>, or an artifact type (OCI 1.1 referrers).</summary>
    public static ReferrerSelection Only(IEnumerable<string> names) => new(new HashSet<string>(names, StringComparer.Ordinal));

    /// <summary>Whether nothing is read.</summary>
    public bool IsNone => _names is { Count: 0 };

    /// <summary>Whether cosign tags of this suffix (<c>sig</c>, <c>att</c>, <c>sbom</c>) are wanted.</summary>
    public bool WantsTag(string suffix) => _names is null || _names.Contains(suffix);

    /// <summary>Whether OCI 1.1 referrers (of some type) are wanted.</summary>
    public bool WantsOciReferrers => _names is null || _names.Any(n => n is not "sig" and not "att" and not "sbom");

    /// <summary>Whether this referrer is selected.</summary>
    public bool Includes(Referrer r) => _names is null || _names.Contains(r.Name);
}
