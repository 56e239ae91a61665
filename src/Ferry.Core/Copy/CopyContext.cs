using System.Collections.Concurrent;
using Ferry.Digests;
using Ferry.Images;
using Ferry.Incremental;
using Ferry.Model;
using Ferry.Transports;

namespace Ferry.Copy;

/// <summary>One image the copy writes: its graph (maybe a platform subset of the source's), with the names it gets.</summary>
internal sealed record PlannedEntry(NamedImage Image, List<ImageName> Names, List<string> RefNames)
{
    /// <summary>What the destination is told about it before anything is written.</summary>
    public PlannedImage ToPlannedImage() => new(Image.Key, Image.Label, Names, RefNames);
}

/// <summary>
/// What the stages of one copy share: the source, the destination and what it can take, the options, and what the
/// stages decide for each other (layers left out of an incremental archive, platforms a sparse index leaves absent,
/// the notes said once).
/// </summary>
internal sealed class CopyContext(IImageSource source, IImageDestination destination, CopyOptions options)
{
    public IImageSource Source { get; } = source;
    public IImageDestination Destination { get; } = destination;
    public DestinationCapabilities Caps { get; } = destination.Capabilities;
    public CopyOptions Options { get; } = options;

    public void Log(string message) => Options.Log?.Invoke(message);

    /// <summary>Says a note once per copy (keyed by <paramref name="key"/>).</summary>
    public void Once(string key, Func<string> message)
    {
        if (_said.TryAdd(key, true))
            Log(message());
    }

    private readonly ConcurrentDictionary<string, bool> _said = new(StringComparer.Ordinal);

    /// <summary>The platform docker gets: the first of <see cref="CopyOptions.Platforms"/>, else this machine's.</summary>
    public Platform? DockerPlatform => Options.Platforms is { Count: > 0 } list ? list[0] : null;

    /// <summary>Platforms a <see cref="CopyOptions.KeepIndex"/> subset leaves absent (said once, in the subset's note).</summary>
    public ConcurrentDictionary<Digest, bool> LeftOut { get; } = new();

    /// <summary>The layers left out of an incremental archive, and the archives that carried them.</summary>
    public ConcurrentDictionary<Digest, ShippedArchive> Omitted { get; } = new();

    /// <summary>The verified-layer cache of this copy (disabled unless <see cref="CopyOptions.UseLayerCache"/>).</summary>
    public Caching.VerifiedLayerCache LayerCache { get; } = !options.UseLayerCache ? Caching.VerifiedLayerCache.Disabled
        : Caching.VerifiedLayerCache.Open(options.LayerCacheDirectory ?? Caching.VerifiedLayerCache.DefaultDirectory(), m => options.Log?.Invoke("warning: " + m));

    /// <summary>Whether the destination is written as an incremental archive (<see cref="CopyOptions.Since"/>, or an incremental source without its bases).</summary>
    public bool Incremental { get; set; }

    /// <summary>The images of a planned entry this copy writes: every image of its tree (manifests kept), and the one docker gets.</summary>
    public List<ImageNode> ImagesWritten(PlannedEntry p)
    {
        var images = new List<ImageNode>();
        if (Caps.KeepsManifests)
            images.AddRange(p.Image.Images());
        if (Caps.NeedsDockerImages && p.Image.SelectImage(DockerPlatform) is { } chosen)
            images.Add(chosen);
        return images;
    }
}
