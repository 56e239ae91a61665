using System.Text.Json.Nodes;
using Ferry.Digests;
using Ferry.Images;
using Ferry.Model;
using Ferry.Transports;

namespace Ferry.Copy;

/// <summary>
/// The manifest stage: writes each image's manifest tree children before parents (an index after what it lists, as
/// registries want), each manifest once, byte for byte unless a layer's compression changed (then the manifest and the
/// indexes above it are rewritten, with new digests); artifacts and referrers byte for byte; and the one docker image
/// per name a destination that needs them gets.
/// </summary>
internal sealed class ManifestWriter(CopyContext context, LayerPolicy layers, BlobTransfer transfer)
{
    /// <summary>
    /// Writes an image's referrers (subjects before the referrers that refer to them), each byte for byte, and tells the
    /// destination what each refers to. Signatures go when <see cref="CopyOptions.RemoveSignatures"/>; a referrer whose
    /// subject was rewritten is left out (it would refer to nothing).
    /// </summary>
    public async Task WriteReferrersAsync(ImageState state, NamedImage image, CancellationToken cancellationToken)
    {
        if (image.Referrers.Count == 0)
            return;
        if (!context.Caps.KeepsReferrers)
        {
            context.Once("referrers", () => $"note: {image.Label}: its {image.Referrers.Count} referrer(s) (signatures, attestations, SBOMs) are left out: {context.Destination.Format} keeps none");
            return;
        }
        var subjects = new Dictionary<Digest, Descriptor>();
        foreach (var (src, written) in state.Written)
            subjects[src] = written;
        foreach (var r in image.Referrers)
        {
            if (r.Kind == ReferrerKind.Signature && context.Options.RemoveSignatures)
                continue;
            if (!subjects.TryGetValue(r.Subject, out var subject) || subject.Digest != r.Subject)
            {
                context.Log($"note: {image.Label}: {r.Name} {r.Artifact.Manifest.Digest} left out: {(subjects.ContainsKey(r.Subject) ? "the manifest it refers to changed" : "what it refers to is not copied")}");
                continue;
            }
            var d = await WriteArtifactAsync(state, r.Artifact, cancellationToken).ConfigureAwait(false);
            subjects[r.Artifact.Manifest.Digest] = d;
            await state.Writer.PutReferrerAsync(d, r, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>An artifact byte for byte: its blobs as they are (never recompressed), then its manifest.</summary>
    private async Task<Descriptor> WriteArtifactAsync(ImageState state, ArtifactNode artifact, CancellationToken cancellationToken)
    {
        var m = artifact.Manifest;
        if (state.Written.TryGetValue(m.Digest, out var done))
            return done;
        var blobs = new List<Outgoing>();
        foreach (var (d, src) in artifact.Blobs)
        {
            if (src is null)
            {
                context.Log($"note: blob {d.Digest} of artifact {m.Digest} is not in {context.Source.DisplayName}; the reference is kept");
                continue;
            }
            blobs.Add(new Outgoing(d, BlobContent.FromSource(src, d.Digest, d.Size, $"blob {d.Digest}")));
        }
        await transfer.PutBlobsAsync(state, blobs, cancellationToken).ConfigureAwait(false);
        var desc = (artifact.Descriptor ?? m.ToDescriptor()) with { MediaType = m.MediaType, Digest = m.Digest, Size = m.Raw.LongLength };
        await state.Writer.PutManifestAsync(desc, m.Raw, cancellationToken).ConfigureAwait(false);
        state.Written[m.Digest] = desc;
        return desc;
    }

    /// <summary>Writes a manifest tree, children before parents; returns the descriptor of its (possibly rewritten) root.</summary>
    public Task<Descriptor> WriteNodeAsync(ImageState state, ManifestNode node, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        // A manifest or index listed again (a DAG): written once, its descriptor under this parent's entry.
        if (node is not OpaqueNode && node.Digest is { } digest && state.Written.TryGetValue(digest, out var done))
            return Task.FromResult((node.Descriptor ?? done) with { MediaType = done.MediaType, Digest = done.Digest, Size = done.Size });
        return node.Accept(new NodeWriter(this, state, cancellationToken));
    }

    /// <summary>What writing each kind of node is.</summary>
    private sealed class NodeWriter(ManifestWriter writer, ImageState state, CancellationToken cancellationToken) : IManifestVisitor<Task<Descriptor>>
    {
        public Task<Descriptor> Image(ImageNode node) => writer.WriteOciImageAsync(state, node, cancellationToken);

        public Task<Descriptor> Artifact(ArtifactNode node) => writer.WriteArtifactAsync(state, node, cancellationToken);

        public Task<Descriptor> Index(IndexNode node) => writer.WriteIndexAsync(state, node, cancellationToken);

        public Task<Descriptor> Opaque(OpaqueNode node) => writer.WriteOpaqueAsync(state, node, cancellationToken);
    }

    /// <summary>An index after its children; rewritten (a new digest) when a child's digest changed.</summary>
    private async Task<Descriptor> WriteIndexAsync(ImageState state, IndexNode idx, CancellationToken cancellationToken)
    {
        var children = new List<Descriptor>();
        foreach (var c in idx.Children)
            children.Add(await WriteNodeAsync(state, c, cancellationToken).ConfigureAwait(false));
        bool changed = children.Zip(idx.Index.Manifests).Any(x => x.First.Digest != x.Second.Digest);
        byte[] raw = changed ? RewriteIndex(idx.Index.Raw, children) : idx.Index.Raw;
        var digest = changed ? Digest.Sha256Of(raw) : idx.Index.Digest;
        var d = (idx.Descriptor ?? idx.Index.ToDescriptor()) with { Digest = digest, Size = raw.LongLength };
        await state.Writer.PutManifestAsync(d, raw, cancellationToken).ConfigureAwait(false);
        state.Written[idx.Index.Digest] = d;
        return d;
    }

    /// <summary>Content Ferry does not interpret, as it is; an absent child of a sparse index is kept as a reference.</summary>
    private async Task<Descriptor> WriteOpaqueAsync(ImageState state, OpaqueNode opaque, CancellationToken cancellationToken)
    {
        var d = opaque.Descriptor!;
        if (opaque.Blob is null)
        {
            if (!context.LeftOut.ContainsKey(d.Digest))
                context.Log($"note: {d.Digest} ({d.MediaType}{(d.Platform is { } p ? ", " + p : "")}) is referenced but not in {context.Source.DisplayName}; the reference is kept");
            return d;
        }
        if (MediaTypes.IsLayer(d.MediaType) || d.Size > Json.MaxDocumentBytes)
            await transfer.PutBlobAsync(state, new Outgoing(d, BlobContent.FromSource(opaque.Blob, d.Digest, d.Size, $"blob {d.Digest}")), cancellationToken).ConfigureAwait(false);
        else
            await state.Writer.PutManifestAsync(d, await opaque.Blob.ReadDocumentAsync(d.Digest, d.Size, $"manifest {d.Digest}", cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
        return d;
    }

    private async Task<Descriptor> WriteOciImageAsync(ImageState state, ImageNode node, CancellationToken cancellationToken)
    {
        var image = node.Image;
        var manifest = image.Manifest;
        bool dockerManifest = manifest is not null && MediaTypes.IsDocker(manifest.MediaType);
        var outgoing = image.Layers.Select(l => layers.OutgoingLayer(l, dockerManifest, forDocker: false)).ToList();
        var config = new Outgoing(image.ConfigDescriptor, BlobContent.FromSource(image.ConfigBlob, image.ConfigDescriptor.Digest, image.ConfigDescriptor.Size, $"config {image.ConfigDescriptor.Digest}"));
        await transfer.PutBlobsAsync(state, outgoing.Append(config), cancellationToken).ConfigureAwait(false);
        var layerDescs = outgoing.Select(l => l.Descriptor).ToList();
        bool anyZstd = layerDescs.Any(l => l.MediaType == MediaTypes.OciLayerZstd);
        ImageManifest result;
        if (manifest is null)
            result = ImageManifest.CreateOci(image.ConfigDescriptor with { MediaType = MediaTypes.OciConfig }, layerDescs);
        else if (layerDescs.Zip(manifest.Layers).All(x => x.First.Digest == x.Second.Digest))
            result = manifest;
        else
            result = ImageManifest.Parse(RewriteManifest(manifest.Raw, layerDescs, toOci: dockerManifest && anyZstd), null, "rewritten manifest");
        var d = (node.Descriptor ?? result.ToDescriptor()) with { MediaType = result.MediaType, Digest = result.Digest, Size = result.Raw.LongLength };
        await state.Writer.PutManifestAsync(d, result.Raw, cancellationToken).ConfigureAwait(false);
        if (manifest is not null)
            state.Written[manifest.Digest] = d;
        return d;
    }

    /// <summary>Puts the config and layers of the one image docker gets.</summary>
    public async Task<DockerImage> WriteDockerImageAsync(ImageState state, SourceImage image, CancellationToken cancellationToken)
    {
        var cfg = image.ConfigDescriptor;
        var outgoing = image.Layers.Select(l => layers.OutgoingLayer(l, dockerFamily: false, forDocker: true)).ToList();
        var config = new Outgoing(cfg, BlobContent.FromSource(image.ConfigBlob, cfg.Digest, cfg.Size, $"config {cfg.Digest}"));
        await transfer.PutBlobsAsync(state, outgoing.Append(config), cancellationToken).ConfigureAwait(false);
        return new DockerImage(cfg, [.. outgoing.Select(l => l.Descriptor)]);
    }

    private static byte[] RewriteManifest(byte[] raw, List<Descriptor> layers, bool toOci)
    {
        var node = JsonNode.Parse(raw)!.AsObject();
        var arr = node["layers"]!.AsArray();
        for (int i = 0; i < layers.Count; i++)
        {
            var o = arr[i]!.AsObject();
            o["mediaType"] = layers[i].MediaType;
            o["digest"] = layers[i].Digest.ToString();
            o["size"] = layers[i].Size;
        }
        if (toOci)
        {
            node["mediaType"] = MediaTypes.OciManifest;
            node["config"]!.AsObject()["mediaType"] = MediaTypes.OciConfig;
            for (int i = 0; i < layers.Count; i++)
            {
                var o = arr[i]!.AsObject();
                string mt = o["mediaType"]!.GetValue<string>();
                if (MediaTypes.IsDocker(mt))
                    o["mediaType"] = MediaTypes.LayerFor(MediaTypes.LayerCompression(mt), docker: false);
            }
        }
        return Json.Write(w => node.WriteTo(w));
    }

    private static byte[] RewriteIndex(byte[] raw, List<Descriptor> children)
    {
        var node = JsonNode.Parse(raw)!.AsObject();
        var arr = node["manifests"]!.AsArray();
        for (int i = 0; i < children.Count; i++)
        {
            var o = arr[i]!.AsObject();
            o["mediaType"] = children[i].MediaType;
            o["digest"] = children[i].Digest.ToString();
            o["size"] = children[i].Size;
        }
        return Json.Write(w => node.WriteTo(w));
    }
}
