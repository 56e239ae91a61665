using System.Text.Json;

namespace Ferry.Model;

/// <summary>An image's platform: <c>os/architecture[/variant]</c>.</summary>
public sealed record Platform(string Os, string Architecture, string? Variant = null, string? OsVersion = null)
{
    /// <inheritdoc/>
    public override string ToString() => Variant is null ? $"{Os}/{Architecture}" : $"{Os}/{Architecture}/{Variant}";

    /// <summary>Parses <c>os/arch[/variant]</c>.</summary>
    /// <exception cref="UsageException">The text is not of that form.</exception>
    public static Platform Parse(string text)
    {
        var parts = text.Split('/');
        if (parts.Length is < 2 or > 3 || parts.Any(string.IsNullOrEmpty))
            throw new UsageException($"invalid platform '{text}' (want OS/ARCH or OS/ARCH/VARIANT, e.g. linux/amd64)");
        return new Platform(parts[0], parts[1], parts.Length == 3 ? parts[2] : null);
    }

    /// <summary>The platform this process runs on, in OCI terms.</summary>
    public static Platform Host { get; } = new("linux", System.Runtime.InteropServices.RuntimeInformation.OSArchitecture switch
    {
        System.Runtime.InteropServices.Architecture.Arm64 => "arm64",
        System.Runtime.InteropServices.Architecture.Arm => "arm",
        System.Runtime.InteropServices.Architecture.X86 => "386",
        System.Runtime.InteropServices.Architecture.S390x => "s390x",
        System.Runtime.InteropServices.Architecture.Ppc64le => "ppc64le",
        _ => "amd64",
    });

    /// <summary>Whether an image of platform <paramref name="candidate"/> satisfies this wanted platform.</summary>
    public bool Matches(Platform candidate) =>
        Os == candidate.Os && Architecture == candidate.Architecture &&
        (Variant is null || candidate.Variant is null || Variant == candidate.Variant);

    internal static Platform? FromJson(JsonElement e)
    {
        if (e.ValueKind != JsonValueKind.Object)
            return null;
        string? os = Json.OptString(e, "os");
        string? arch = Json.OptString(e, "architecture");
        if (os is null || arch is null)
            return null;
        return new Platform(os, arch, Json.OptString(e, "variant"), Json.OptString(e, "os.version"));
    }
}
