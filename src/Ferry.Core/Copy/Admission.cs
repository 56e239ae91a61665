using Ferry.Digests;
using Ferry.Images;
using Ferry.Transports;

namespace Ferry.Copy;

/// <summary>
/// Decides whether an image may be copied, after the copy is planned and before anything is written (the destination
/// has not even heard of the image): a signature policy, a set's rules. Asked once per image the copy would write.
/// </summary>
public interface IImageAdmission
{
    /// <summary>Whether <paramref name="image"/> (as the copy would write it: its platform subset, with its referrers) of <paramref name="source"/> may be copied.</summary>
    ValueTask<AdmissionVerdict> AdmitAsync(NamedImage image, IImageSource source, CancellationToken cancellationToken = default);
}

/// <summary>What an <see cref="IImageAdmission"/> decided about one image.</summary>
/// <param name="Admitted">Whether the image may be copied.</param>
/// <param name="Reason">Why not (one line, naming what failed), or what was checked.</param>
public sealed record AdmissionVerdict(bool Admitted, string? Reason = null)
{
    /// <summary>Admitted, no questions asked.</summary>
    public static AdmissionVerdict Admit { get; } = new(true);

    /// <summary>Refused, for <paramref name="reason"/>.</summary>
    public static AdmissionVerdict Refuse(string reason) => new(false, reason);
}

/// <summary>An image a copy did not write because <see cref="CopyOptions.Admission"/> refused it.</summary>
/// <param name="Label">How the image is named (its first name, else its digest).</param>
/// <param name="Key">Its manifest or index digest in the source.</param>
/// <param name="Reason">Why it was refused.</param>
public sealed record RefusedImage(string Label, Digest Key, string Reason);

/// <summary>An image was refused by <see cref="CopyOptions.Admission"/>: nothing was written.</summary>
public sealed class ImageRefusedException : FerryException
{
    /// <summary>The first image refused (and how many were, when all of them were).</summary>
    public ImageRefusedException(RefusedImage refused, int count = 1)
        : base(count > 1 ? $"{refused.Label}: refused: {refused.Reason} (and {count - 1} more: nothing was copied)" : $"{refused.Label}: refused: {refused.Reason}") => Refused = refused;

    /// <summary>The image refused.</summary>
    public RefusedImage Refused { get; }
}
