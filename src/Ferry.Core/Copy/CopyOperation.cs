using Ferry.Transports;
using Ferry.Transports.Daemon;

namespace Ferry.Copy;

/// <summary>The whole of <c>ferry copy</c> as a library call: open, pick the format, write atomically, commit.</summary>
public static class CopyOperation
{
    /// <summary>The output format a destination implies, checked against an explicit <paramref name="requested"/> one.</summary>
    public static OutputFormat ResolveFormat(ImageReference dest, OutputFormat? requested)
    {
        OutputFormat? implied = dest.Transport switch
        {
            TransportKind.DockerArchive => OutputFormat.DockerArchive,
            TransportKind.OciArchive => OutputFormat.OciArchive,
            TransportKind.OciDirectory => OutputFormat.Oci,
            TransportKind.DockerDaemon => OutputFormat.DockerArchive,
            TransportKind.Registry => OutputFormat.Oci,
            _ => null,
        };
        if (implied is not null && requested is not null && implied != requested && !dest.IsDaemon && !dest.IsRegistry)
            throw new UsageException($"--format {CopyOptions.FormatName(requested.Value)} contradicts the destination '{dest}'");
        var format = implied ?? requested ?? OutputFormat.Portable;
        if (format == OutputFormat.Oci && dest.IsStdio)
            throw new UsageException("an OCI layout directory cannot be written to stdout; use --format oci-archive");
        return format;
    }

    /// <summary>Copies the images of <paramref name="source"/> to <paramref name="dest"/>.</summary>
    /// <param name="source">Where to read (a docker-daemon: source is saved from the daemon first).</param>
    /// <param name="dest">Where to write (<c>-</c> is <paramref name="stdout"/>; docker-daemon: streams into the daemon's load).</param>
    /// <param name="options">Format, selection, names, compression.</param>
    /// <param name="stdin">Standard input, when the source is <c>-</c>.</param>
    /// <param name="stdout">Standard output, when the destination is <c>-</c>.</param>
    /// <param name="cancel">Stops the copy; the destination is then left untouched.</param>
    /// <exception cref="FerryException">Anything that stops the copy; nothing is written then.</exception>
    public static CopyResult Run(ImageReference source, ImageReference dest, CopyOptions options, Func<Stream>? stdin = null, Func<Stream>? stdout = null, CancellationToken cancel = default)
    {
        // Check the destination before reading the source (which may mean a download or a spool of stdin).
        _ = ResolveFormat(dest, options.Format);
        if (!source.IsStdio && !dest.IsStdio && source.Path.Length > 0 && dest.Path.Length > 0 && SamePath(source.Path, dest.Path))
            throw new OutputException($"{dest.Path}: refusing to overwrite the input");
        using var src = OpenSource(source, options, stdin, cancel);
        return RunFrom(src, dest, options, stdout, cancel);
    }

    /// <summary>Copies the images of an opened source to <paramref name="dest"/>.</summary>
    public static CopyResult RunFrom(ArchiveSource src, ImageReference dest, CopyOptions options, Func<Stream>? stdout = null, CancellationToken cancel = default)
    {
        var format = ResolveFormat(dest, options.Format);
        foreach (var w in src.Warnings)
            options.Log?.Invoke("warning: " + w);
        if (dest.IsDaemon)
            return LoadIntoDaemon(src, dest, options, cancel);
        if (dest.IsRegistry)
        {
            var pushed = Transports.Registry.RegistryPusher.Push(src, null, dest.Name, options, options.Registry, cancel);
            return new CopyResult(new ArchiveSourceInfo(src.DisplayName, src.Format), [], OutputFormat.Oci, [], pushed);
        }
        using var target = dest.IsStdio ? OutputTarget.ForStream((stdout ?? Console.OpenStandardOutput)())
            : format == OutputFormat.Oci ? OutputTarget.CreateDirectory(dest.Path)
            : OutputTarget.CreateFile(dest.Path);
        string tempDir = dest.IsStdio ? Path.GetTempPath() : Path.GetDirectoryName(Path.GetFullPath(dest.Path.TrimEnd('/')))!;
        using var copier = new ImageCopier(src, format, options, tempDir);
        var images = copier.Copy(target, dest.Name, cancel);
        return new CopyResult(new ArchiveSourceInfo(src.DisplayName, src.Format), images, format, [], []);
    }

    /// <summary>Opens a source; a docker-daemon: reference is saved (<c>GET /images/get</c>) into one temp file first.</summary>
    public static ArchiveSource OpenSource(ImageReference source, CopyOptions options, Func<Stream>? stdin = null, CancellationToken cancel = default)
    {
        if (source.IsRegistry)
            return Transports.Registry.RegistrySource.Open([source.Name!], options.Registry, options.Platform, cancel);
        if (!source.IsDaemon)
            return ArchiveSource.Open(source, stdin);
        var names = (source.Name ?? throw new UsageException("docker-daemon: needs an image name or ID (docker-daemon:NAME[:TAG])"))
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return SaveFromDaemon(names, options.DockerHost, cancel);
    }

    /// <summary>Saves images from a daemon into a temp file and opens it (the file is deleted when the source is disposed).</summary>
    public static ArchiveSource SaveFromDaemon(IReadOnlyList<string> names, string? host, CancellationToken cancel = default)
    {
        using var client = new DockerEngineClient(host);
        client.NegotiateAsync(cancel).GetAwaiter().GetResult();
        string temp = Path.Combine(Path.GetTempPath(), $"ferry-save-{Environment.ProcessId}-{Guid.NewGuid():N}.tar");
        try
        {
            using (var fs = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
                client.SaveAsync(names, fs, cancel).GetAwaiter().GetResult();
            return ArchiveSource.OpenTemporary(temp, $"docker-daemon:{string.Join(",", names)} ({client.Host})", deleteOnDispose: true);
        }
        catch
        {
            try
            {
                File.Delete(temp);
            }
            catch (IOException)
            {
            }
            throw;
        }
    }

    /// <summary>Streams a docker-archive of the selected images into the daemon's <c>POST /images/load</c>; no temp file.</summary>
    private static CopyResult LoadIntoDaemon(ArchiveSource src, ImageReference dest, CopyOptions options, CancellationToken cancel)
    {
        using var client = new DockerEngineClient(options.DockerHost);
        client.NegotiateAsync(cancel).GetAwaiter().GetResult();
        var effective = options with { DockerLoadsZstd = options.DockerLoadsZstd || client.SupportsZstd };
        using var copier = new ImageCopier(src, OutputFormat.DockerArchive, effective, Path.GetTempPath());
        IReadOnlyList<CopiedImage> images = [];
        var loaded = client.LoadAsync(async (stream, ct) =>
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, cancel);
            await Task.Run(() => images = copier.Copy(OutputTarget.ForStream(stream), dest.Name, linked.Token), linked.Token).ConfigureAwait(false);
        }, cancel).GetAwaiter().GetResult();
        if (images.Count > 0 && loaded.Count == 0)
            throw new FerryException($"docker daemon at {client.Host} reported no loaded image");
        return new CopyResult(new ArchiveSourceInfo(src.DisplayName, src.Format), images, OutputFormat.DockerArchive, loaded, []);
    }

    private static bool SamePath(string a, string b)
    {
        string fa = Path.GetFullPath(a).TrimEnd('/');
        string fb = Path.GetFullPath(b).TrimEnd('/');
        if (fa == fb)
            return true;
        try
        {
            var ta = File.ResolveLinkTarget(fa, returnFinalTarget: true)?.FullName ?? fa;
            var tb = File.ResolveLinkTarget(fb, returnFinalTarget: true)?.FullName ?? fb;
            return ta == tb;
        }
        catch (IOException)
        {
            return false;
        }
    }
}

/// <summary>What was read: the source's name and detected format.</summary>
public sealed record ArchiveSourceInfo(string Name, string Format);

/// <summary>The outcome of a copy: the source, the images written, the format, what a daemon reported loading, what was pushed.</summary>
public sealed record CopyResult(ArchiveSourceInfo Source, IReadOnlyList<CopiedImage> Images, OutputFormat Format, IReadOnlyList<string> Loaded,
    IReadOnlyList<Transports.Registry.PushedImage> Pushed);
