using System.Globalization;
using Ferry.Model;

namespace Ferry.Images;

/// <summary>
/// Picks images of a source by a selector, as <c>--image</c> and a source reference's <c>:NAME</c> do: a name
/// (<c>ubuntu:20.04</c>, normalised as docker does), a bare OCI ref name, <c>@N</c> for the N-th image, or a prefix
/// (12 hex digits or more) of an image ID or manifest digest.
/// </summary>
public static class ImageSelector
{
    /// <summary>Whether <paramref name="image"/> (one of <paramref name="all"/>) is selected by <paramref name="selector"/>.</summary>
    public static bool Matches(NamedImage image, string selector, IReadOnlyList<NamedImage> all)
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
        string hex = selector.StartsWith("sha256:", StringComparison.Ordinal) ? selector[7..] : selector;
        if (hex.Length >= 12 && hex.All(Uri.IsHexDigit))
        {
            var ids = new List<string> { image.Key.Hex };
            ids.AddRange(image.Images().Select(i => i.Image.ImageId.Hex));
            return ids.Any(id => id.StartsWith(hex, StringComparison.Ordinal));
        }
        return false;
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
            var found = images.Where(i => Matches(i, sel, images)).ToList();
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
