using System.Text.Json;
using Ferry.Compression;
using Ferry.Images;
using Ferry.Model;
using Ferry.Transports;

namespace Ferry.Inspect;

/// <summary>Describes what a source holds: per image its names, digests, platform, config highlights, history and layers.</summary>
public static class ImageInspector
{
    /// <summary>Opens <paramref name="reference"/> and writes the stable JSON form of <c>ferry inspect --json</c>.</summary>
    /// <exception cref="FerryException">The source cannot be opened.</exception>
    public static async Task<byte[]> ToJsonAsync(ImageReference reference, TransportOptions options, CancellationToken cancellationToken = default)
    {
        await using var source = await reference.Transport.OpenSourceAsync(reference, options, cancellationToken).ConfigureAwait(false);
        return ToJson(source);
    }

    /// <summary>Writes the stable JSON form of <c>ferry inspect --json</c>.</summary>
    public static byte[] ToJson(IImageSource source) => Json.Write(w =>
    {
        w.WriteStartObject();
        w.WriteNumber("schemaVersion", 1);
        w.WriteString("source", source.DisplayName);
        w.WriteString("format", source.Format);
        w.WriteString("archiveCompression", Compressions.Name(source.ArchiveCompression));
        if (source.Incremental is { } inc)
        {
            // An incremental archive read without its bases: the layers it leaves out, by the archive that carried them.
            w.WriteStartObject("incremental");
            w.WriteStartArray("extends");
            foreach (var a in inc.Archives)
            {
                w.WriteStartObject();
                w.WriteString("id", a.Id.ToString());
                w.WriteString("name", a.Name);
                w.WriteNumber("layers", inc.Blobs.Count(b => inc.CarrierOf(b) == a));
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteStartArray("images");
        foreach (var image in source.Images)
        {
            w.WriteStartObject();
            w.WriteStartArray("names");
            foreach (var n in image.Names)
                w.WriteStringValue(n.ToString());
            w.WriteEndArray();
            w.WriteStartArray("refNames");
            foreach (var r in image.RefNames)
                w.WriteStringValue(r);
            w.WriteEndArray();
            w.WriteString("kind", image.Root.Kind == "blob" ? "absent" : image.Root.Kind);
            if (image.Root is IndexNode idx)
            {
                w.WriteString("digest", idx.Index.Digest.ToString());
                w.WriteString("mediaType", idx.Index.MediaType);
            }
            else if (image.Root is ImageNode { Image.Manifest: { } m })
            {
                w.WriteString("digest", m.Digest.ToString());
                w.WriteString("mediaType", m.MediaType);
            }
            else if (image.Root is ArtifactNode art)
            {
                w.WriteString("digest", art.Manifest.Digest.ToString());
                w.WriteString("mediaType", art.Manifest.MediaType);
                w.WriteString("artifactType", art.Type);
            }
            else if (image.Root is OpaqueNode { Descriptor: { } d })
            {
                w.WriteString("digest", d.Digest.ToString());
                w.WriteString("mediaType", d.MediaType);
            }
            else
            {
                w.WriteNull("digest");
                w.WriteNull("mediaType");
            }
            w.WriteStartArray("manifests");
            foreach (var node in image.Images())
                WriteImage(w, node);
            w.WriteEndArray();
            if (image.Root is IndexNode index)
            {
                // Every platform the index lists, and whether its manifest is here (a sparse index lists absent ones).
                w.WriteStartArray("platforms");
                foreach (var c in index.Children)
                {
                    w.WriteStartObject();
                    w.WriteString("platform", c.Descriptor?.Platform?.ToString() ?? (c is ImageNode n ? NamedImage.PlatformOf(n)?.ToString() : null));
                    w.WriteString("digest", c.Descriptor?.Digest.ToString());
                    w.WriteBoolean("present", c is not OpaqueNode { Blob: null });
                    w.WriteBoolean("attestation", c is ImageNode an && NamedImage.IsAttestation(an));
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            w.WriteStartArray("referrers");
            foreach (var r in image.Referrers)
            {
                w.WriteStartObject();
                w.WriteString("kind", r.Kind switch { ReferrerKind.Signature => "signature", ReferrerKind.Attestation => "attestation", ReferrerKind.Sbom => "sbom", _ => "referrer" });
                w.WriteString("type", r.Artifact.Type);
                w.WriteString("digest", r.Artifact.Manifest.Digest.ToString());
                w.WriteString("subject", r.Subject.ToString());
                w.WriteString("tag", r.Tag);
                if (r.Kind == ReferrerKind.Signature)
                    w.WriteString("signedBy", r.SignedBy);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteStartArray("warnings");
        foreach (var warning in source.Warnings)
            w.WriteStringValue(warning);
        w.WriteEndArray();
        w.WriteEndObject();
    }, indented: true);

    private static void WriteImage(Utf8JsonWriter w, ImageNode node)
    {
        var img = node.Image;
        var c = img.Config;
        w.WriteStartObject();
        w.WriteString("imageId", img.ImageId.ToString());
        if (img.Manifest is { } m)
        {
            w.WriteString("manifestDigest", m.Digest.ToString());
            w.WriteString("manifestMediaType", m.MediaType);
        }
        else
        {
            w.WriteNull("manifestDigest");
            w.WriteNull("manifestMediaType");
        }
        w.WriteString("configMediaType", img.ConfigDescriptor.MediaType);
        w.WriteString("platform", NamedImage.PlatformOf(node)?.ToString());
        bool attestation = NamedImage.IsAttestation(node);
        w.WriteString("kind", attestation ? "attestation" : "image");
        if (attestation)
            w.WriteString("attests", node.Descriptor?.Annotations?.GetValueOrDefault(MediaTypes.DockerReferenceDigestAnnotation));
        w.WriteString("created", c.Created);
        w.WriteString("author", c.Author);
        w.WriteNumber("size", img.Layers.Sum(l => l.Descriptor.Size));
        StringArray(w, "entrypoint", c.Entrypoint);
        StringArray(w, "cmd", c.Cmd);
        StringArray(w, "env", c.Env);
        w.WriteString("workingDir", c.WorkingDir);
        w.WriteString("user", c.User);
        w.WriteStartObject("labels");
        foreach (var kv in (c.Labels ?? new Dictionary<string, string>()).OrderBy(k => k.Key, StringComparer.Ordinal))
            w.WriteString(kv.Key, kv.Value);
        w.WriteEndObject();
        StringArray(w, "exposedPorts", c.ExposedPorts);
        w.WriteStartArray("history");
        foreach (var h in c.History)
        {
            w.WriteStartObject();
            w.WriteString("created", h.Created);
            w.WriteString("createdBy", h.CreatedBy);
            if (h.Comment is not null)
                w.WriteString("comment", h.Comment);
            w.WriteBoolean("emptyLayer", h.EmptyLayer);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteStartArray("layers");
        foreach (var l in img.Layers)
        {
            w.WriteStartObject();
            w.WriteString("digest", l.Descriptor.Digest.ToString());
            w.WriteString("mediaType", l.Descriptor.MediaType);
            w.WriteString("compression", Compressions.Name(l.ActualCompression));
            w.WriteNumber("size", l.Descriptor.Size);
            w.WriteString("diffId", l.DiffId?.ToString());
            w.WriteString("entry", l.Blob?.Name);
            if (GzipCodecOf(l) is string codec)
                w.WriteString("gzipCodec", codec);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>The codec and level Ferry gzipped a layer with (<c>isal 3</c>), from the annotation it puts on the layer's descriptor; null when unknown.</summary>
    public static string? GzipCodecOf(SourceLayer layer)
    {
        ArgumentNullException.ThrowIfNull(layer);
        return layer.Descriptor.Annotations?.GetValueOrDefault(Model.MediaTypes.GzipCodecAnnotation);
    }

    private static void StringArray(Utf8JsonWriter w, string name, IReadOnlyList<string>? values)
    {
        if (values is null)
        {
            w.WriteNull(name);
            return;
        }
        w.WriteStartArray(name);
        foreach (var v in values)
            w.WriteStringValue(v);
        w.WriteEndArray();
    }
}
