using Ferry.Archive;
using Ferry.Compression;
using Ferry.Digests;
using Ferry.Model;

namespace Ferry.Transports;

/// <summary>Where a blob's bytes are in a source: a tar entry or a file of an OCI layout directory.</summary>
public abstract class BlobLocation
{
    /// <summary>The entry's name inside the archive or layout (for messages).</summary>
    public abstract string EntryName { get; }

    public abstract long Length { get; }

    /// <summary>The raw bytes, unverified.</summary>
    public abstract Stream OpenRead();

    /// <summary>The first bytes (for compression sniffing).</summary>
    public byte[] Head(int count)
    {
        using var s = OpenRead();
        byte[] buf = new byte[(int)Math.Min(count, Length)];
        int n = s.ReadAtLeast(buf, buf.Length, throwOnEndOfStream: false);
        return buf[..n];
    }

    /// <summary>Opens the bytes through a <see cref="VerifyingStream"/> that checks <paramref name="digest"/> and <paramref name="size"/>.</summary>
    public VerifyingStream OpenVerified(Digest? digest, long? size, string what) =>
        new(OpenRead(), $"{what} ({EntryName})", digest, size);

    /// <summary>Reads a whole JSON document, within <see cref="Json.MaxDocumentBytes"/>, verifying the digest when given.</summary>
    public byte[] ReadDocument(Digest? digest, long? size, string what)
    {
        if (Length > Json.MaxDocumentBytes)
            throw new ArchiveFormatException($"{what} ({EntryName}): {Length} bytes, over the {Json.MaxDocumentBytes}-byte limit for JSON documents");
        using var v = OpenVerified(digest, size, what);
        return Json.ReadLimited(v, $"{what} ({EntryName})");
    }
}

internal sealed class TarBlobLocation(TarIndex index, TarIndexEntry entry, string name) : BlobLocation
{
    public override string EntryName => name;
    public override long Length => entry.Length;
    public override Stream OpenRead() => index.OpenRead(entry);
}

internal sealed class FileBlobLocation(string path, string name) : BlobLocation
{
    public override string EntryName => name;
    public override long Length => new FileInfo(path).Length;
    public override Stream OpenRead() => new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
}

/// <summary>Named entries of a source: a tar archive or an OCI layout directory.</summary>
public interface IEntryStore : IDisposable
{
    string DisplayName { get; }

    /// <summary>The regular file this name refers to (links followed), or null.</summary>
    BlobLocation? Find(string name);

    /// <summary>Whether a non-directory entry has exactly this name.</summary>
    bool Contains(string name);

    /// <summary>Whether an entry of this exact name is a symbolic or hard link.</summary>
    bool IsLink(string name);

    /// <summary>The blob file for a digest in the OCI layout's <c>blobs/ALG/HEX</c>, or null.</summary>
    BlobLocation? FindBlob(Digest digest) => Find($"blobs/{digest.Algorithm}/{digest.Hex}");
}

internal sealed class TarEntryStore(TarIndex index) : IEntryStore
{
    public TarIndex Index => index;
    public string DisplayName => index.DisplayName;
    public bool Contains(string name) => index.Contains(name);
    public bool IsLink(string name) => index.Entries.Any(e => e.Name == name && e.Kind is TarEntryKind.Symlink or TarEntryKind.HardLink);
    public BlobLocation? Find(string name) => index.Find(name) is { } e ? new TarBlobLocation(index, e, TarIndex.Normalize(name, out _)) : null;
    public void Dispose() => index.Dispose();
}

internal sealed class DirectoryEntryStore(string root) : IEntryStore
{
    public string DisplayName => root;
    public bool Contains(string name) => Find(name) is not null;
    public bool IsLink(string name) => new FileInfo(Path.Combine(root, name)).LinkTarget is not null;

    /// <summary>Only fixed names and names built from validated digests reach this method.</summary>
    public BlobLocation? Find(string name)
    {
        string path = Path.Combine(root, name);
        return File.Exists(path) ? new FileBlobLocation(path, name) : null;
    }

    public void Dispose() { }
}

/// <summary>A layer of a source image: its descriptor, diff_id, the compression its bytes really have, and where they are.</summary>
public sealed record SourceLayer(Descriptor Descriptor, Digest? DiffId, CompressionKind ActualCompression, BlobLocation? Location);

/// <summary>One image (a manifest, or what a docker-archive entry describes) of a source.</summary>
public sealed class SourceImage
{
    public required ImageConfig Config { get; init; }
    public required Descriptor ConfigDescriptor { get; init; }
    public required BlobLocation ConfigLocation { get; init; }

    /// <summary>The manifest as found in the source; null for docker-archive images, which have none.</summary>
    public ImageManifest? Manifest { get; init; }

    public required IReadOnlyList<SourceLayer> Layers { get; init; }

    /// <summary>The image ID docker shows: the digest of the config bytes.</summary>
    public Digest ImageId => ConfigDescriptor.Digest;

    public Platform? Platform => Config.Platform;
}

/// <summary>A node of a manifest tree: an image, an index of further nodes, or something referenced but absent.</summary>
public abstract class ManifestNode
{
    /// <summary>The descriptor by which the parent (index.json or an index) refers to this node; null for docker-archive images.</summary>
    public Descriptor? Descriptor { get; init; }
}

public sealed class ImageNode : ManifestNode
{
    public required SourceImage Image { get; init; }
}

public sealed class IndexNode : ManifestNode
{
    public required ImageIndex Index { get; init; }
    public required IReadOnlyList<ManifestNode> Children { get; init; }
    public required BlobLocation Location { get; init; }

    /// <summary>The images of this tree, depth first.</summary>
    public IEnumerable<ImageNode> Images() => Children.SelectMany(c => c switch
    {
        ImageNode i => [i],
        IndexNode x => x.Images(),
        _ => [],
    });
}

/// <summary>A referenced manifest the source does not hold (allowed by the OCI layout spec), or content of an unknown type.</summary>
public sealed class OpaqueNode : ManifestNode
{
    /// <summary>Where the bytes are, when present.</summary>
    public BlobLocation? Location { get; init; }
}

/// <summary>A named top-level entry of a source: one image, or an index of images, with all the names it has.</summary>
public sealed class ArchiveImage
{
    public required ManifestNode Root { get; init; }

    /// <summary>Full references (<c>docker.io/library/ubuntu:20.04</c>).</summary>
    public List<ImageName> Names { get; init; } = [];

    /// <summary>OCI ref names that are not full references (e.g. a bare tag <c>1</c>).</summary>
    public List<string> RefNames { get; init; } = [];

    /// <summary>The digest identifying the root (manifest or index digest; config digest for docker-archive images).</summary>
    public Digest Key => Root switch
    {
        ImageNode { Image.Manifest: { } m } => m.Digest,
        ImageNode i => i.Image.ImageId,
        IndexNode x => x.Index.Digest,
        _ => Root.Descriptor!.Digest,
    };

    /// <summary>A short human label: the first name, else the image ID / digest.</summary>
    public string Label => Names.Count > 0 ? Names[0].Familiar : RefNames.Count > 0 ? RefNames[0] : Key.ToString();

    /// <summary>Picks the one image docker would get: the root image, or the index child matching <paramref name="platform"/>.</summary>
    public ImageNode? SelectImage(Platform? platform)
    {
        if (Root is ImageNode i)
            return i;
        if (Root is not IndexNode x)
            return null;
        var images = x.Images().ToList();
        if (images.Count == 1 && platform is null)
            return images[0];
        var want = platform ?? Model.Platform.Host;
        return images.FirstOrDefault(n => (n.Descriptor?.Platform ?? n.Image.Platform) is { } p && want.Matches(p))
               ?? (platform is null ? images.FirstOrDefault() : null);
    }
}
