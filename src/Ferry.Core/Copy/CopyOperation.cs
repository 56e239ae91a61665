using Ferry.Transports;

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
            _ => null,
        };
        if (implied is not null && requested is not null && implied != requested)
            throw new UsageException($"--format {CopyOptions.FormatName(requested.Value)} contradicts the destination '{dest}'");
        var format = implied ?? requested ?? OutputFormat.Portable;
        if (format == OutputFormat.Oci && dest.IsStdio)
            throw new UsageException("an OCI layout directory cannot be written to stdout; use --format oci-archive");
        return format;
    }

    /// <summary>Copies the images of <paramref name="source"/> to <paramref name="dest"/>.</summary>
    /// <param name="source">Where to read.</param>
    /// <param name="dest">Where to write (<c>-</c> is <paramref name="stdout"/>).</param>
    /// <param name="options">Format, selection, names, compression.</param>
    /// <param name="stdin">Standard input, when the source is <c>-</c>.</param>
    /// <param name="stdout">Standard output, when the destination is <c>-</c>.</param>
    /// <param name="cancel">Stops the copy; the destination is then left untouched.</param>
    /// <exception cref="FerryException">Anything that stops the copy; nothing is written then.</exception>
    public static (ArchiveSourceInfo Source, IReadOnlyList<CopiedImage> Images, OutputFormat Format) Run(
        ImageReference source, ImageReference dest, CopyOptions options, Func<Stream>? stdin = null, Func<Stream>? stdout = null, CancellationToken cancel = default)
    {
        var format = ResolveFormat(dest, options.Format);
        if (!source.IsStdio && !dest.IsStdio && SamePath(source.Path, dest.Path))
            throw new OutputException($"{dest.Path}: refusing to overwrite the input");
        using var src = ArchiveSource.Open(source, stdin);
        foreach (var w in src.Warnings)
            options.Log?.Invoke("warning: " + w);
        using var target = dest.IsStdio ? OutputTarget.ForStream((stdout ?? Console.OpenStandardOutput)())
            : format == OutputFormat.Oci ? OutputTarget.CreateDirectory(dest.Path)
            : OutputTarget.CreateFile(dest.Path);
        string tempDir = dest.IsStdio ? Path.GetTempPath() : Path.GetDirectoryName(Path.GetFullPath(dest.Path.TrimEnd('/')))!;
        using var copier = new ImageCopier(src, format, options, tempDir);
        var images = copier.Copy(target, dest.Name, cancel);
        return (new ArchiveSourceInfo(src.DisplayName, src.Format), images, format);
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
