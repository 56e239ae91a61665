using Ferry.Images;

namespace Ferry.Transports;

/// <summary>Opening several references as one source (as <c>pull REF...</c> does).</summary>
public static class ImageSources
{
    /// <summary>
    /// Opens every reference and merges their images into one source: an image named by several references (two tags
    /// of one manifest) is one image with all their names. Registry references share one client per registry.
    /// </summary>
    /// <exception cref="FerryException">A reference cannot be opened; the ones already opened are closed.</exception>
    public static async ValueTask<IImageSource> OpenAsync(IReadOnlyList<ImageReference> references, TransportOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(references);
        if (references.Count == 0)
            throw new UsageException("no image to read");
        if (references.All(r => r is Registry.RegistryReference))
            return await Registry.RegistrySource.OpenAsync([.. references.Cast<Registry.RegistryReference>()], options, cancellationToken).ConfigureAwait(false);
        if (references.Count == 1)
            return await references[0].Transport.OpenSourceAsync(references[0], options, cancellationToken).ConfigureAwait(false);
        return new MergedSource(await OpenEachAsync(references, options, cancellationToken).ConfigureAwait(false));
    }

    /// <summary>Opens every reference as a source of its own; when one fails, the ones already opened are closed.</summary>
    internal static async ValueTask<List<IImageSource>> OpenEachAsync(IReadOnlyList<ImageReference> references, TransportOptions options, CancellationToken cancellationToken)
    {
        var opened = new List<IImageSource>();
        try
        {
            foreach (var r in references)
                opened.Add(await r.Transport.OpenSourceAsync(r, options, cancellationToken).ConfigureAwait(false));
            return opened;
        }
        catch
        {
            foreach (var s in opened)
                await s.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The images of several sources, merged by root digest.</summary>
    private sealed class MergedSource : IImageSource
    {
        private readonly List<IImageSource> _sources;

        public MergedSource(List<IImageSource> sources)
        {
            _sources = sources;
            var images = new List<NamedImage>();
            foreach (var s in sources)
            {
                foreach (var i in s.Images)
                {
                    var same = images.FirstOrDefault(x => x.Key == i.Key);
                    if (same is null)
                    {
                        same = new NamedImage { Root = i.Root };
                        images.Add(same);
                    }
                    foreach (var n in i.Names)
                        same.AddName(n);
                    foreach (var r in i.RefNames)
                        same.AddRefName(r);
                }
            }
            Images = images;
        }

        public string DisplayName => string.Join(", ", _sources.Select(s => s.DisplayName));

        public string Format => _sources.Select(s => s.Format).Distinct().Count() == 1 ? _sources[0].Format : "mixed";

        public IReadOnlyList<NamedImage> Images { get; }

        public IReadOnlyList<string> Warnings => [.. _sources.SelectMany(s => s.Warnings)];

        public async ValueTask DisposeAsync()
        {
            foreach (var s in _sources)
                await s.DisposeAsync().ConfigureAwait(false);
        }
    }
}
