using Ferry.Transports.Layout;

namespace Ferry.Transports.Files;

/// <summary>
/// The transports of archives and layouts on this machine: <c>PATH[:NAME]</c> after the prefix. Sources are read by
/// <see cref="ArchiveSource"/>, destinations written by <see cref="LayoutDestination"/> in the transport's format.
/// </summary>
internal abstract class FileTransport : ITransport
{
    public abstract string Name { get; }

    /// <summary>What a source must be.</summary>
    private protected abstract ArchiveKind Kind { get; }

    /// <summary>The format a destination is written in (null: <see cref="ArchiveOptions.Format"/>, else portable).</summary>
    private protected abstract OutputFormat? ImpliedFormat { get; }

    public virtual ImageReference ParseReference(string reference)
    {
        int colon = reference.IndexOf(':', StringComparison.Ordinal);
        string path = colon < 0 ? reference : reference[..colon];
        string? name = colon < 0 ? null : reference[(colon + 1)..];
        if (path.Length == 0)
            throw new UsageException($"'{Name}:{reference}': no path after '{Name}:'");
        return new ArchiveReference(this, path, name is { Length: 0 } ? null : name);
    }

    public async ValueTask<IImageSource> OpenSourceAsync(ImageReference reference, TransportOptions options, CancellationToken cancellationToken = default)
    {
        var r = Check(reference);
        return await ArchiveSource.OpenAsync(r.Path, Kind, r.Name, options, cancellationToken).ConfigureAwait(false);
    }

    public ValueTask<IImageDestination> OpenDestinationAsync(ImageReference reference, TransportOptions options, CancellationToken cancellationToken = default)
    {
        var r = Check(reference);
        if (ImpliedFormat is { } implied && options.Archive.Format is { } requested && requested != implied)
            throw new UsageException($"--format {Layout.LayoutFormat.For(requested).Name} contradicts the destination '{r}'");
        var format = ImpliedFormat ?? options.Archive.Format ?? OutputFormat.Portable;
        return ValueTask.FromResult<IImageDestination>(LayoutDestination.Open(r.Path, format, r.Name, options));
    }

    private ArchiveReference Check(ImageReference reference) =>
        reference as ArchiveReference is { } r && ReferenceEquals(r.Transport, this) ? r
            : throw new ArgumentException($"'{reference}' is not a {Name} reference", nameof(reference));
}

/// <summary>A plain path (or <c>-</c>): read by content, whatever it is; written as portable unless <c>--format</c> says otherwise.</summary>
internal sealed class PathTransport : FileTransport
{
    public static PathTransport Instance { get; } = new();

    public override string Name => "path";

    private protected override ArchiveKind Kind => ArchiveKind.Any;

    private protected override OutputFormat? ImpliedFormat => null;

    /// <summary>A plain path has no <c>:NAME</c> part: every colon belongs to the path.</summary>
    public override ImageReference ParseReference(string reference)
    {
        if (reference.Length == 0)
            throw new UsageException("empty path");
        return new ArchiveReference(this, reference, null);
    }
}
