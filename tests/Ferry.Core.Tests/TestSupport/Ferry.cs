using Ferry.Copy;
using Ferry.Transports;

namespace Ferry.Tests.TestSupport;

/// <summary>Short calls into the library for tests.</summary>
public static class F
{
    public static IReadOnlyList<CopiedImage> Copy(string src, string dst, OutputFormat? format = null, CompressMode compress = CompressMode.Keep,
        string[]? images = null, string[]? tags = null, List<string>? log = null)
    {
        var options = new CopyOptions { Format = format, Compress = compress, Images = images ?? [], Tags = tags ?? [], Log = log is null ? null : log.Add };
        return CopyOperation.Run(ImageReference.Parse(src), ImageReference.Parse(dst), options).Images;
    }

    public static ArchiveSource Open(string path) => ArchiveSource.Open(ImageReference.Parse(path));

    /// <summary>name → (image ID, diff_ids) for every image name of a source, plus untagged images under their ID.</summary>
    public static SortedDictionary<string, string> Summary(string path)
    {
        using var s = Open(path);
        var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var i in s.Images)
        {
            var img = i.SelectImage(null)!.Image;
            string value = img.ImageId + " " + string.Join(",", img.Layers.Select(l => l.DiffId));
            foreach (var n in i.Names)
                result[n.ToString()] = value;
            if (i.Names.Count == 0)
                result["<untagged " + img.ImageId + ">"] = value;
        }
        return result;
    }
}
