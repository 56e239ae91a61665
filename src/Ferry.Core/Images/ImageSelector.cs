using System.Globalization;
using Ferry.Model;

namespace Ferry.Images;

/// <summary>
/// Picks images of a source by a selector, as <c>--image</c> and a source reference's <c>:NAME</c> do: a name
/// (<c>ubuntu:20.04</c>, normalised as docker does), a bare OCI ref name, <c>@N</c> for the N-th image, or a prefix
/// (any length, as docker takes it, when it picks one image) of an image ID or manifest digest.
/// </summary>
public static class ImageSelector
{
    /// <summary>Whether <paramref name="image"/> (one of <paramref name="all"/>) is selected by <paramref name="selector"/>.</summary>
    public static bool Matches(NamedImage image, string selector, IReadOnlyList<NamedImage> all) =>
        MatchesName(image, selector, all) || MatchesId(image, selector);

    private static bool MatchesName(NamedImage image, string selector, IReadOnlyList<NamedImage> all)
    {
        if (selector.StartsWith('@') && int.TryParse(selector[1..], NumberStyles.None, CultureInfo.InvariantCulture, out int n))
            return n < all.Count && ReferenceEquals(all[n], image);
        if (image.RefNames.Contains(selector))
            return true;
        if (ImageName.TryParse(selector, out var name, out _))
        {
            var wanted = name!.WithDefaultTag();
            if (image.Names.Contains(wanted))
                return true;
            // A digest-pinned name selects the image with that root digest.
            if (wanted.Digest is { } d && d == image.Key && image.Names.Any(x => x.FullRepository == wanted.FullRepository))
                return true;
        }
        return false;
    }

    /// <summary>The hex digits of a selector that can be an ID prefix (<c>9e34</c>, <c>sha256:9e34…</c>), or null.</summary>
    private static string? HexPrefix(string selector)
    {
        string hex = selector.StartsWith("sha256:", StringComparison.Ordinal) ? selector[7..] : selector;
        return hex.Length is > 0 and <= 64 && hex.All(c => char.IsAsciiDigit(c) || c is >= 'a' and <= 'f') ? hex : null;
    }

    private static bool MatchesId(NamedImage image, string selector)
    {
        if (HexPrefix(selector) is not string hex)
            return false;
        var ids = new List<string> { image.Key.Hex };
        ids.AddRange(image.Images().Select(i => i.Image.ImageId.Hex));
        return ids.Any(id => id.StartsWith(hex, StringComparison.Ordinal));
    }

    /// <summary>The images every selector picks, in the order of the selectors; all images when there is none.</summary>
    /// <exception cref="ImageNotFoundException">A selector picks nothing.</exception>
    public static IReadOnlyList<NamedImage> Select(IReadOnlyList<NamedImage> images, IReadOnlyList<string> selectors, string where)
    {
        if (selectors.Count == 0)
            return images;
        var chosen = new List<NamedImage>();
        foreach (var sel in selectors)
        {
            // A name wins over an ID prefix that happens to look like it (an image named "cafe").
            var found = images.Where(i => MatchesName(i, sel, images)).ToList();
            if (found.Count == 0)
            {
                found = images.Where(i => MatchesId(i, sel)).ToList();
                if (found.Count > 1 && HexPrefix(sel)!.Length < 64)
                    throw new UsageException($"{where}: '{sel}' is the start of the ID of {found.Count} images ({Describe(found)}): give more digits");
            }
            if (found.Count == 0)
                throw new ImageNotFoundException($"{where}: no image matches '{Digests.Digest.Describe(sel)}' (has: {Describe(images)})");
            chosen.AddRange(found.Where(f => !chosen.Contains(f)));
        }
        return chosen;
    }

    /// <summary>The images' labels for a message, cut after ten.</summary>
    internal static string Describe(IReadOnlyList<NamedImage> images) =>
        images.Count == 0 ? "no images" : string.Join(", ", images.Take(10).Select(i => i.Label)) + (images.Count > 10 ? $", … ({images.Count} in all)" : "");
}
