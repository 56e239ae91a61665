using Ferry.Compression;
using Ferry.Digests;
using Ferry.Images;
using Ferry.Model;
using Ferry.Transports;
using Ferry.Incremental;

namespace Ferry.Verify;

/// <summary>How serious a finding is.</summary>
public enum Severity
{
    /// <summary>Worth knowing; the source is usable.</summary>
    Warning,
    /// <summary>The source is broken; <c>verify</c> exits 1.</summary>
    Error,
    /// <summary>Not a problem: how the source is made (an incremental archive's layers expected from an earlier one).</summary>
    Note,
}

/// <summary>One problem found by <see cref="ImageValidator"/>: what it is about (entry and digest) and what is wrong.</summary>
public sealed record Finding(Severity Severity, string Subject, string Message)
{
    internal static string SeverityName(Severity s) => s switch { Severity.Error => "error", Severity.Note => "note", _ => "warning" };

    /// <inheritdoc/>
    public override string ToString() =>
        $"{SeverityName(Severity)}: {(Subject.Length == 0 || Message.StartsWith(Subject, StringComparison.Ordinal) ? "" : Subject + ": ")}{Message}";
}

/// <summary>The result of verifying a source: every finding, not just the first.</summary>
public sealed record ValidationReport(string Source, string? Format, IReadOnlyList<Finding> Findings, int ImagesChecked, int BlobsChecked)
{
    /// <summary>Whether no finding is an error.</summary>
    public bool Ok => !Findings.Any(f => f.Severity == Severity.Error);

    /// <summary>The signatures that verified with <see cref="VerifyOptions.Keys"/> (empty without keys).</summary>
    public IReadOnlyList<VerifiedSignature> Signatures { get; init; } = [];

    /// <summary>The stable JSON form of <c>ferry verify --json</c>.</summary>
    public byte[] ToJson() => Json.Write(w =>
    {
        w.WriteStartObject();
        w.WriteNumber("schemaVersion", 1);
        w.WriteString("source", Source);
        w.WriteString("format", Format);
        w.WriteBoolean("ok", Ok);
        w.WriteNumber("images", ImagesChecked);
        w.WriteNumber("blobs", BlobsChecked);
        w.WriteStartArray("findings");
        foreach (var f in Findings)
        {
            w.WriteStartObject();
            w.WriteString("severity", Finding.SeverityName(f.Severity));
            w.WriteString("subject", f.Subject);
            w.WriteString("message", f.Message);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteStartArray("signatures");
        foreach (var v in Signatures)
        {
            w.WriteStartObject();
            w.WriteString("image", v.Image);
            w.WriteString("subject", v.Subject.ToString());
            w.WriteString("signature", v.Signature.ToString());
            w.WriteString("key", v.Key);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }, indented: true);
}

/// <summary>
/// Verifies a source: re-hashes every blob against its digest and size, checks every layer's uncompressed digest
/// against the config's diff_id, that media types match the bytes, and that references resolve. Reports all findings.
/// Nothing is written: blobs are streamed (from a registry too) and only hashed.
/// </summary>
public static class ImageValidator
{
    /// <summary>Opens and verifies <paramref name="reference"/>; a source that cannot even be opened yields one error finding.</summary>
    /// <exception cref="UsageException">The reference or options are invalid.</exception>
    public static Task<ValidationReport> VerifyAsync(ImageReference reference, TransportOptions options, CancellationToken cancellationToken = default) =>
        VerifyAsync(reference, options, new VerifyOptions(), cancellationToken);

    /// <summary>Opens and verifies <paramref name="reference"/>, signatures too (<paramref name="verify"/>); a source that cannot even be opened yields one error finding.</summary>
    /// <exception cref="UsageException">The reference or options are invalid.</exception>
    public static async Task<ValidationReport> VerifyAsync(ImageReference reference, TransportOptions options, VerifyOptions verify, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(verify);
        IImageSource source;
        try
        {
            source = await reference.Transport.OpenSourceAsync(reference, options, cancellationToken).ConfigureAwait(false);
        }
        catch (FerryException e) when (e is not UsageException)
        {
            string name = reference.ToString()!;
            return new ValidationReport(name, null, [new Finding(Severity.Error, name, e.Message)], 0, 0);
        }
        await using (source)
            return await VerifyAsync(source, verify, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Verifies every image of an opened source.</summary>
    public static Task<ValidationReport> VerifyAsync(IImageSource source, CancellationToken cancellationToken = default) =>
        VerifyAsync(source, new VerifyOptions(), cancellationToken);

    /// <summary>Verifies every image of an opened source, and (with <see cref="VerifyOptions.Keys"/>) that each is signed.</summary>
    public static async Task<ValidationReport> VerifyAsync(IImageSource source, VerifyOptions verify, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(verify);
        await using var v = new Run(source.Incremental, verify.Progress, cancellationToken);
        return await v.VerifyAsync(source, verify, cancellationToken).ConfigureAwait(false);
    }

    private sealed class Run(ShipRecord? incremental, Progress.ICopyProgress? progress, CancellationToken outer) : IAsyncDisposable
    {
        public async Task<ValidationReport> VerifyAsync(IImageSource source, VerifyOptions verify, CancellationToken cancellationToken)
        {
            var v = this;
            // A name loaders refuse is an error (below), not also a warning.
            var nameProblems = source.Images.SelectMany(i => i.NameProblems).ToList();
            v.Findings.AddRange(source.Warnings.Where(w => !nameProblems.Any(p => w.Contains(p, StringComparison.Ordinal))).Select(w => new Finding(Severity.Warning, "", w)));
            foreach (var image in source.Images)
            {
                if (image.Names.Count == 0 && image.RefNames.Count == 0 && image.NameProblems.Count == 0)
                    v.Findings.Add(new Finding(Severity.Warning, image.Key.ToString(), "image has no name"));
                foreach (var problem in image.NameProblems)
                    v.Findings.Add(new Finding(Severity.Error, image.Key.ToString(), problem));
                await v.WalkAsync(image.Root, cancellationToken).ConfigureAwait(false);
                await v.ReferrersAsync(image, cancellationToken).ConfigureAwait(false);
                if (verify.Keys.Count > 0)
                    await v.SignedAsync(image, verify.Keys, cancellationToken).ConfigureAwait(false);
            }
            // docker before 23.0 (and the classic store of later ones) applies only gzip and plain layers.
        if (v.ZstdLayers.Count > 0 && source.Format is "portable" or "docker-archive")
            v.Findings.Add(new Finding(Severity.Warning, "", $"{v.ZstdLayers.Count} zstd layer{(v.ZstdLayers.Count == 1 ? "" : "s")} (first: {v.ZstdLayers.First()}): docker before 23.0 cannot load this {source.Format} archive; ferry copy --compress gzip makes one it can"));
        foreach (var (carrier, digests) in v.Expected)
                v.Findings.Add(new Finding(Severity.Note, "", $"incremental: {digests.Count} layer{(digests.Count == 1 ? " is" : "s are")} expected from {carrier} (give --base to check them)"));
            if (source is Transports.Files.ArchiveSource { TarIndex.File: { ChecksumFile: string sums } file })
            {
                foreach (var part in await file.BadPartsAsync(cancellationToken).ConfigureAwait(false))
                    v.Findings.Add(new Finding(Severity.Error, part.Path, $"part does not match its sha256 in {sums} (corrupted or replaced)"));
            }
            return new ValidationReport(source.DisplayName, source.Format, await v.Findings.AllAsync().ConfigureAwait(false), v.Images, v.Seen.Count) { Signatures = v.Signed };
        }

        /// <summary>Findings in the order the walk meets their subjects; a layer's come from a check that runs beside the walk.</summary>
        public sealed class FindingList
        {
            private readonly List<Task<List<Finding>>> _slots = [];

            public void Add(Finding finding) => _slots.Add(Task.FromResult(new List<Finding> { finding }));

            public void AddRange(IEnumerable<Finding> findings)
            {
                foreach (var f in findings)
                    Add(f);
            }

            /// <summary>A slot for the findings of a check still running.</summary>
            public void AddLater(Task<List<Finding>> pending) => _slots.Add(pending);

            public async Task<List<Finding>> AllAsync()
            {
                var all = new List<Finding>();
                foreach (var slot in _slots)
                    all.AddRange(await slot.ConfigureAwait(false));
                return all;
            }

            /// <summary>Waits for every check, whatever its outcome.</summary>
            public async Task SettleAsync()
            {
                foreach (var slot in _slots)
                {
                    try
                    {
                        await slot.ConfigureAwait(false);
                    }
                    catch (Exception)
                    {
                        // reported by AllAsync, or the walk already failed
                    }
                }
            }
        }

        public FindingList Findings { get; } = new();

        /// <summary>Layers an incremental source leaves out, by the archive expected to carry them.</summary>
        public Dictionary<ShippedArchive, HashSet<Digest>> Expected { get; } = [];
        public HashSet<Digest> Seen { get; } = [];

        /// <summary>The zstd layers met, in walk order.</summary>
        public List<Digest> ZstdLayers { get; } = [];
        public int Images { get; private set; }

        /// <summary>Checks every node of an image's graph, each once (<see cref="ImageWalk"/>), parents first.</summary>
        public async Task WalkAsync(ManifestNode root, CancellationToken cancellationToken)
        {
            foreach (var node in ImageWalk.Nodes(root))
                await node.Accept(new NodeCheck(this, root, cancellationToken)).ConfigureAwait(false);
        }

        /// <summary>What checking each kind of node is. A manifest met before (in another image) is not checked again.</summary>
        private sealed class NodeCheck(Run v, ManifestNode root, CancellationToken cancellationToken) : IManifestVisitor<Task>
        {
            public async Task Index(IndexNode idx)
            {
                if (v.Seen.Contains(idx.Index.Digest))
                    return;
                await v.CheckBlobAsync(idx.Blob, idx.Descriptor!.Digest, idx.Descriptor.Size, "index", cancellationToken).ConfigureAwait(false);
                v.Sparse(idx);
            }

            public async Task Opaque(OpaqueNode o)
            {
                if (o.Blob is null)
                {
                    // An index's absent child is said once, with the index (sparse).
                    if (o == root || !MediaTypes.IsManifestOrIndex(o.Descriptor!.MediaType))
                        v.Findings.Add(new Finding(Severity.Warning, o.Descriptor!.Digest.ToString(), $"referenced {o.Descriptor.MediaType} is not in the source (allowed by the OCI layout spec; it cannot be copied)"));
                    return;
                }
                if (!string.IsNullOrEmpty(o.Descriptor!.MediaType) && !MediaTypes.IsLayer(o.Descriptor.MediaType))
                    v.Findings.Add(new Finding(Severity.Warning, o.Descriptor.Digest.ToString(), $"unknown media type '{o.Descriptor.MediaType}'; copied as it is"));
                await v.CheckBlobAsync(o.Blob, o.Descriptor.Digest, o.Descriptor.Size, "blob", cancellationToken).ConfigureAwait(false);
            }

            public async Task Image(ImageNode img)
            {
                if (img.Image.Manifest is { } m && v.Seen.Contains(m.Digest))
                    return;
                v.Images++;
                await v.CheckImageAsync(img, cancellationToken).ConfigureAwait(false);
            }

            public async Task Artifact(ArtifactNode art)
            {
                if (v.Seen.Contains(art.Manifest.Digest))
                    return;
                await v.CheckBlobAsync(art.Blob, art.Manifest.Digest, art.Manifest.Raw.LongLength, "artifact", cancellationToken).ConfigureAwait(false);
                foreach (var (d, src) in art.Blobs)
                {
                    if (src is null)
                        v.Findings.Add(new Finding(Severity.Warning, d.Digest.ToString(), $"blob of artifact {art.Manifest.Digest} is not in the source"));
                    else
                        await v.CheckBlobAsync(src, d.Digest, d.Size, "artifact blob", cancellationToken).ConfigureAwait(false);
                }
            }
        }

        /// <summary>Every referrer's manifest and blobs against their digests, that its subject is in the graph, and that a signature signs its subject.</summary>
        public async Task ReferrersAsync(NamedImage image, CancellationToken cancellationToken)
        {
            var present = image.ManifestDigests().Concat(image.Referrers.Select(r => r.Artifact.Manifest.Digest)).ToHashSet();
            foreach (var r in image.Referrers)
            {
                var a = r.Artifact;
                string subject = $"{r.Name} {a.Manifest.Digest}";
                if (!present.Contains(r.Subject))
                    Findings.Add(new Finding(Severity.Error, subject, $"refers to {r.Subject}, which is not in the source"));
                if (a.Manifest.Subject is { } own && own.Digest != r.Subject)
                    Findings.Add(new Finding(Severity.Error, subject, $"its manifest's subject is {own.Digest}, not {r.Subject}"));
                await CheckBlobAsync(a.Blob, a.Manifest.Digest, a.Manifest.Raw.LongLength, "referrer", cancellationToken).ConfigureAwait(false);
                foreach (var (d, src) in a.Blobs)
                {
                    if (src is null)
                        Findings.Add(new Finding(Severity.Warning, d.Digest.ToString(), $"blob of {subject} is not in the source"));
                    else
                        await CheckBlobAsync(src, d.Digest, d.Size, "referrer blob", cancellationToken).ConfigureAwait(false);
                }
                if (r.Kind == ReferrerKind.Signature)
                {
                    var signed = await Signatures.SignedDigestsAsync(a, cancellationToken).ConfigureAwait(false);
                    if (signed.Count > 0 && !signed.Contains(r.Subject.ToString()))
                        Findings.Add(new Finding(Severity.Error, subject, $"signs {string.Join(", ", signed)}, not its subject {r.Subject}"));
                }
            }
        }

        public List<VerifiedSignature> Signed { get; } = [];

        /// <summary>An index some of whose manifests are absent (allowed by the OCI layout spec): one warning with the counts.</summary>
        private void Sparse(IndexNode index)
        {
            var absent = index.Children.Where(c => c is OpaqueNode { Blob: null } && MediaTypes.IsManifestOrIndex(c.Descriptor!.MediaType)).ToList();
            if (absent.Count > 0)
                Findings.Add(new Finding(Severity.Warning, index.Index.Digest.ToString(), $"sparse index: {index.Children.Count - absent.Count} of {index.Children.Count} children present ({string.Join(", ", absent.Select(c => c.Descriptor!.Platform?.ToString() ?? c.Descriptor!.Digest.ToString()))} absent)"));
        }

        /// <summary>
        /// That the image is signed with one of <paramref name="keys"/>: its root (index or manifest), or, for an index
        /// without signatures of its own, every present platform's manifest (signers such as Red Hat's sign only those),
        /// has a signature layer that a key verifies and whose payload names that digest.
        /// </summary>
        public async Task SignedAsync(NamedImage image, IReadOnlyList<SignatureKey> keys, CancellationToken cancellationToken)
        {
            var byDigest = new Dictionary<Digest, VerifiedSignature>();
            int unverified = 0;
            foreach (var r in image.Referrers.Where(r => r.Kind == ReferrerKind.Signature))
            {
                int verified = 0;
                foreach (var p in await Ferry.Images.Signatures.PayloadsAsync(r.Artifact, cancellationToken).ConfigureAwait(false))
                {
                    var key = p.Signature is null ? null : keys.FirstOrDefault(k => k.Verifies(p.Bytes, p.Signature));
                    if (key is null)
                    {
                        unverified++;
                        continue;
                    }
                    verified++;
                    if (p.SignedDigest is string sd && Digest.TryParse(sd, out var signed) && signed == r.Subject)
                        byDigest.TryAdd(signed, new VerifiedSignature(image.Label, signed, r.Artifact.Manifest.Digest, key.Name));
                }
                // Another signer's, or altered: worth knowing even when another signature covers the image.
                if (verified == 0)
                    Findings.Add(new Finding(Severity.Warning, $"signature {r.Artifact.Manifest.Digest}", $"of {r.Subject}: no given key verifies it"));
            }
            string keyNames = string.Join(", ", keys.Select(k => k.Name));
            string others = unverified > 0 ? $" ({unverified} signature{(unverified == 1 ? "" : "s")} present that no given key verifies)" : "";
            if (byDigest.TryGetValue(image.Key, out var root))
            {
                Signed.Add(root);
                return;
            }
            // Platform signatures stand in only for an index that carries none itself (one that does, none of which a
            // key verifies, fails, as cosign verify of the index would).
            bool rootSigned = image.Referrers.Any(r => r.Kind == ReferrerKind.Signature && r.Subject == image.Key);
            var platforms = image.Root is IndexNode index && !rootSigned
                ? index.Children.Where(c => c is not OpaqueNode && c.Digest is not null).Select(c => c.Digest!.Value).ToList()
                : [];
            if (platforms.Count > 0 && platforms.All(byDigest.ContainsKey))
            {
                Signed.AddRange(platforms.Select(d => byDigest[d]));
                return;
            }
            Findings.Add(new Finding(Severity.Error, image.Label, $"not signed with {keyNames}: no signature that verifies names {image.Key}{(platforms.Count > 0 ? " or each of its platforms' manifests" : "")}{others}"));
        }

        private async Task CheckImageAsync(ImageNode node, CancellationToken cancellationToken)
        {
            var image = node.Image;
            bool attestation = NamedImage.IsAttestation(node);
            await CheckBlobAsync(image.ConfigBlob, image.ConfigDescriptor.Digest, image.ConfigDescriptor.Size, "config", cancellationToken).ConfigureAwait(false);
            if (image.Manifest is { } m && Seen.Add(m.Digest))
            {
                foreach (var l in m.Layers.Where(l => !MediaTypes.IsLayer(l.MediaType) && !(attestation && l.MediaType == MediaTypes.InTotoLayer)))
                    Findings.Add(new Finding(Severity.Warning, l.Digest.ToString(), $"manifest {m.Digest}: unknown layer media type '{l.MediaType}'"));
            }
            foreach (var layer in image.Layers)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var d = layer.Descriptor;
                string subject = layer.Blob is null ? d.Digest.ToString() : $"{layer.Blob.Name} ({d.Digest})";
                if (layer.Blob is null && incremental?.CarrierOf(d.Digest) is { } carrier)
                {
                    if (!Expected.TryGetValue(carrier, out var set))
                        Expected[carrier] = set = [];
                    set.Add(d.Digest);
                    continue;
                }
                if (layer.Blob is null)
                {
                    Findings.Add(new Finding(MediaTypes.IsForeign(d.MediaType) ? Severity.Warning : Severity.Error, subject, "layer is not in the source"));
                    continue;
                }
                if (MediaTypes.IsLayer(d.MediaType) && MediaTypes.LayerCompression(d.MediaType) != layer.ActualCompression && image.Manifest is not null)
                    Findings.Add(new Finding(Severity.Warning, subject, $"media type '{d.MediaType}' does not match the bytes, which are {Compressions.Name(layer.ActualCompression)}"));
                if (!Seen.Add(d.Digest))
                    continue;
                if (layer.ActualCompression == CompressionKind.Zstd)
                    ZstdLayers.Add(d.Digest);
                bool scan = MediaTypes.IsLayer(d.MediaType) || image.Manifest is null;
                var blob = layer.Blob;
                progress?.Planned(d.Size);
                Findings.AddLater(Task.Run(async () =>
                {
                    await _gate.WaitAsync(_cancel.Token).ConfigureAwait(false);
                    try
                    {
                        return await CheckLayerAsync(blob, d, layer.ActualCompression, layer.DiffId, subject, scan, progress, _cancel.Token).ConfigureAwait(false);
                    }
                    finally
                    {
                        _gate.Release();
                    }
                }, _cancel.Token));
            }
        }

        /// <summary>Layers are checked beside the walk, this many at once (each reads, hashes and decompresses on a core).</summary>
        private readonly SemaphoreSlim _gate = new(Math.Max(1, Environment.ProcessorCount));

        private readonly CancellationTokenSource _cancel = CancellationTokenSource.CreateLinkedTokenSource(outer);
        private bool _abandoned;

        /// <summary>Stops the layer checks still running (none are, after a report) and waits for them.</summary>
        public async ValueTask DisposeAsync()
        {
            if (_abandoned)
                return;
            _abandoned = true;
            await _cancel.CancelAsync().ConfigureAwait(false);
            await Findings.SettleAsync().ConfigureAwait(false);
            _cancel.Dispose();
            _gate.Dispose();
        }

        /// <summary>
        /// A layer against its digest and its diff_id, and its tar entries for names that escape the root. An
        /// uncompressed layer is hashed once: its diff_id is its digest.
        /// </summary>
        private static async Task<List<Finding>> CheckLayerAsync(BlobSource blob, Descriptor d, CompressionKind compression, Digest? diffId, string subject, bool scan, Progress.ICopyProgress? progress, CancellationToken cancellationToken)
        {
            var found = new List<Finding>();
            string item = Progress.ProgressNames.Of(d);
            VerifyingStream? opened = null;
            try
            {
                await using var raw = opened = await blob.OpenVerifiedAsync(d.Digest, d.Size, "layer", cancellationToken).ConfigureAwait(false);
                progress?.Started(item, d.Size);
                // Disposing it reports the item finished (and disposes raw, which allows it twice).
                await using var read = new Progress.ProgressReadStream(raw, item, progress);
                await using var plain = BoundedDecompression.Open(read, compression, $"layer {d.Digest}");
                await using var diff = compression == CompressionKind.None ? null : new VerifyingStream(plain, "layer (uncompressed)", null, null, leaveOpen: true);
                // Only a tar layer is scanned for escaping names (an attestation's layer is JSON).
                if (scan && await ScanLayerEntriesAsync((Stream?)diff ?? read, cancellationToken).ConfigureAwait(false) is { } odd)
                    found.Add(new Finding(Severity.Warning, subject, odd));
                var actualDiff = diff is null ? default(Digest?) : await diff.DrainAsync(cancellationToken).ConfigureAwait(false);
                var actualDigest = await raw.DrainAsync(cancellationToken).ConfigureAwait(false);
                actualDiff ??= actualDigest;
                if (diffId is Digest want && actualDiff != want)
                    found.Add(new Finding(Severity.Error, subject, $"uncompressed content hashes to {actualDiff}, but the config's diff_id is {want}"));
            }
            catch (Exception e) when (e is DigestMismatchException or ImageNotFoundException)
            {
                found.Add(new Finding(Severity.Error, subject, e.Message));
            }
            catch (Exception e) when (e is ArchiveFormatException or InvalidDataException or ZstdSharp.ZstdException || (e is IOException && e.InnerException is not System.Net.Sockets.SocketException))
            {
                // Bytes that do not inflate are most often bytes that changed: the digest says so first, as copy does,
                // then what the decompressor said.
                if (opened is not null && await MismatchOfRestAsync(blob, d, cancellationToken).ConfigureAwait(false) is string mismatch)
                    found.Add(new Finding(Severity.Error, subject, mismatch));
                found.Add(new Finding(Severity.Error, subject, e is ArchiveFormatException ? e.Message : $"cannot decompress ({Compressions.Name(compression)}): {e.Message}"));
            }
            return found;
        }

        /// <summary>The blob's bytes against its digest and size, read again from the start (after its decompression failed midway); null when they match.</summary>
        private static async Task<string?> MismatchOfRestAsync(BlobSource blob, Descriptor d, CancellationToken cancellationToken)
        {
            try
            {
                await using var again = await blob.OpenVerifiedAsync(d.Digest, d.Size, "layer", cancellationToken).ConfigureAwait(false);
                await again.DrainAsync(cancellationToken).ConfigureAwait(false);
                return null;
            }
            catch (DigestMismatchException e)
            {
                return e.Message;
            }
            catch (Exception e) when (e is IOException or ImageNotFoundException)
            {
                return null;
            }
        }

        /// <summary>
        /// Reads a layer's tar headers (the stream keeps hashing underneath) and describes entries that would escape the
        /// root when extracted: absolute names, <c>..</c> components, links pointing out. Layers are opaque to Ferry and are
        /// copied untouched; the loaders sanitise such entries, so these are warnings.
        /// </summary>
        private static async Task<string?> ScanLayerEntriesAsync(Stream uncompressed, CancellationToken cancellationToken)
        {
            var odd = new List<string>();
            int count = 0;
            try
            {
                await using var reader = new System.Formats.Tar.TarReader(uncompressed, leaveOpen: true);
                while (await reader.GetNextEntryAsync(copyData: false, cancellationToken).ConfigureAwait(false) is { } e)
                {
                    count++;
                    if (Escapes(e.Name) || (e.EntryType is System.Formats.Tar.TarEntryType.HardLink && Escapes(e.LinkName)))
                        odd.Add(Digest.Describe(e.Name));
                }
            }
            catch (Exception e) when (e is InvalidDataException or EndOfStreamException or FormatException or OverflowException or NotSupportedException or ArgumentException)
            {
                return count == 0 ? null : $"layer is not a well-formed tar after {count} entries: {e.Message}";
            }
            return odd.Count == 0 ? null
                : $"layer holds {odd.Count} entr{(odd.Count == 1 ? "y" : "ies")} whose names escape the root when extracted ({string.Join(", ", odd.Take(5))}); copied untouched";

            static bool Escapes(string name) => name.StartsWith('/') || name.Split('/').Contains("..");
        }

        private async Task CheckBlobAsync(BlobSource blob, Digest digest, long size, string kind, CancellationToken cancellationToken)
        {
            if (!Seen.Add(digest))
                return;
            try
            {
                await using var v = await blob.OpenVerifiedAsync(digest, size, kind, cancellationToken).ConfigureAwait(false);
                await v.DrainAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is DigestMismatchException or ImageNotFoundException)
            {
                Findings.Add(new Finding(Severity.Error, $"{blob.Name} ({digest})", e.Message));
            }
        }
    }
}
