// The fuzz targets and their regression theory share this file. fuzz/Ferry.Fuzz.csproj compiles it too, with
// FERRY_FUZZ_HARNESS defined, which leaves the xunit part out. So AFL++ and `dotnet test` run exactly the same code.
using System.Text;
using Ferry.Copy;
using Ferry.Digests;
using Ferry.Inspect;
using Ferry.Model;
using Ferry.Transports;
using Ferry.Verify;

namespace Ferry.Tests.Fuzz;

/// <summary>
/// What the fuzzer runs. Each target takes arbitrary bytes. A <see cref="FerryException"/> (and, for the archive
/// target, <see cref="OperationCanceledException"/>) is an expected outcome and is swallowed. Any other exception
/// escapes and counts as a crash. So does a broken invariant, which is reported as a <see cref="FuzzInvariantException"/>.
/// </summary>
public static class FuzzTargets
{
    /// <summary>The target names, as given to the harness and used as prefixes of the files in Corpus/fuzz/.</summary>
    public static IReadOnlyList<string> Names { get; } = ["archive", "json", "reference"];

    /// <summary>Runs target <paramref name="name"/> on <paramref name="data"/>.</summary>
    public static void Run(string name, byte[] data)
    {
        switch (name)
        {
            case "archive":
                Archive(data);
                break;
            case "json":
                JsonModels(data);
                break;
            case "reference":
                References(data);
                break;
            default:
                throw new ArgumentException($"unknown fuzz target '{name}' (want {string.Join(", ", Names)})", nameof(name));
        }
    }

    /// <summary>The target a regression file belongs to: the part of its name before the first '-'.</summary>
    public static string TargetOf(string fileName)
    {
        int dash = fileName.IndexOf('-', StringComparison.Ordinal);
        return dash < 0 ? fileName : fileName[..dash];
    }

    // ---------------------------------------------------------------- archive

    /// <summary>
    /// Writes the bytes to a temp file. Opens it as a source, inspects it (JSON), verifies it, and copies it to a
    /// portable archive. If the copy succeeds, the output must open again and hold as many images.
    /// </summary>
    public static void Archive(byte[] data)
    {
        string dir = Path.Combine(Path.GetTempPath(), $"ferry-fuzz-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            string input = Path.Combine(dir, "input.tar");
            string output = Path.Combine(dir, "output.tar");
            File.WriteAllBytes(input, data);
            try
            {
                ArchiveCore(input, output);
            }
            catch (Exception e) when (e is FerryException or OperationCanceledException)
            {
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Opens a source and closes it synchronously (the harness is synchronous).</summary>
    private static SyncSource Open(ImageReference reference) =>
        new(reference.Transport.OpenSourceAsync(reference, new TransportOptions()).AsTask().GetAwaiter().GetResult());

    private sealed class SyncSource(IImageSource inner) : IDisposable
    {
        public IImageSource Inner => inner;
        public IReadOnlyList<Ferry.Images.NamedImage> Images => inner.Images;
        public void Dispose() => inner.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    private static void ArchiveCore(string input, string output)
    {
        var reference = TransportRegistry.Default.Parse(input);
        int images;
        using (var source = Open(reference))
        {
            images = source.Images.Count;
            _ = ImageInspector.ToJson(source.Inner);
            foreach (var image in source.Images)
            {
                _ = image.Label;
                _ = image.Key;
                _ = image.SelectImage(null);
                _ = image.SelectImage(new Platform("linux", "arm64", "v8"));
                foreach (var node in image.Images())
                    _ = node.Image.Platform?.ToString();
            }
            _ = ImageValidator.VerifyAsync(source.Inner).GetAwaiter().GetResult().ToJson();
        }

        var options = new CopyOptions { Destination = new TransportOptions { Archive = new ArchiveOptions { Format = OutputFormat.Portable, Mtime = 0 } }, Parallelism = 1 };
        ImageCopier.CopyAsync(reference, TransportRegistry.Default.Parse(output), options).GetAwaiter().GetResult();

        // Ferry must be able to read what it wrote.
        try
        {
            using var copy = Open(TransportRegistry.Default.Parse(output));
            if (copy.Images.Count == 0 || (images > 0 && copy.Images.Count > images))
                throw new FuzzInvariantException($"the copy of {images} image(s) holds {copy.Images.Count}");
            _ = ImageInspector.ToJson(copy.Inner);
        }
        catch (FerryException e)
        {
            throw new FuzzInvariantException($"Ferry cannot read its own copy: {e.GetType().Name}: {e.Message}", e);
        }
    }

    // ---------------------------------------------------------------- json

    private static readonly string?[] DeclaredMediaTypes = [null, MediaTypes.OciManifest, MediaTypes.OciIndex, "application/vnd.docker.distribution.manifest.v2+json"];

    /// <summary>Parses the bytes as a manifest, an index and a config, and re-serialises what parsed.</summary>
    public static void JsonModels(byte[] data)
    {
        foreach (var declared in DeclaredMediaTypes)
        {
            try
            {
                var m = ImageManifest.Parse(data, declared, "fuzz");
                _ = m.ToDescriptor();
                var annotations = m.ReadAnnotations();
                // A manifest built from parsed descriptors must parse again.
                var rebuilt = ImageManifest.CreateOci(m.Config, m.Layers, annotations);
                if (rebuilt.Layers.Count != m.Layers.Count || rebuilt.Config != m.Config)
                    throw new FuzzInvariantException("a rebuilt manifest differs from the one it was built from");
            }
            catch (FerryException)
            {
            }
            try
            {
                var x = ImageIndex.Parse(data, declared, "fuzz");
                _ = x.ToDescriptor();
                var again = ImageIndex.Parse(ImageIndex.CreateOci(x.Manifests), null, "rebuilt index");
                if (again.Manifests.Count != x.Manifests.Count)
                    throw new FuzzInvariantException("a rebuilt index has a different number of manifests");
            }
            catch (FerryException)
            {
            }
        }
        try
        {
            var c = ImageConfig.Parse(data, "fuzz");
            _ = c.Digest;
            _ = c.Platform?.ToString();
        }
        catch (FerryException)
        {
        }
    }

    // ---------------------------------------------------------------- reference

    /// <summary>Parses the bytes (as UTF-8) as an image name, a digest, a source/destination reference and a platform.</summary>
    public static void References(byte[] data)
    {
        string text = Encoding.UTF8.GetString(data);

        if (ImageName.TryParse(text, out var name, out string error))
        {
            if (name is null)
                throw new FuzzInvariantException("TryParse returned true and a null name");
            _ = name.Familiar;
            _ = name.FamiliarRepository;
            var withTag = name.WithDefaultTag();
            // The normalised form must parse back to the same name.
            if (!ImageName.TryParse(name.ToString(), out var again, out string e2) || again != name)
                throw new FuzzInvariantException($"'{name}' (from '{text}') does not parse back to itself: {e2}");
            // Not checked: that name.Familiar parses back to name. Like docker's FamiliarString, it drops "docker.io/"
            // even when the path's first component looks like a domain ("docker.io/a.b/c" -> "a.b/c"). It is only shown.
            _ = withTag.ToString();
        }
        else if (error.Length == 0)
        {
            throw new FuzzInvariantException("TryParse returned false without a reason");
        }
        try
        {
            _ = ImageName.Parse(text);
        }
        catch (UsageException)
        {
        }

        if (Digest.TryParse(text, out var digest) && (!Digest.TryParse(digest.ToString(), out var d2) || d2 != digest))
            throw new FuzzInvariantException($"digest '{digest}' does not parse back to itself");

        try
        {
            var reference = TransportRegistry.Default.Parse(text);
            var again = TransportRegistry.Default.Parse(reference.ToString()!);
            if (again.ToString() != reference.ToString() || again.Transport != reference.Transport)
                throw new FuzzInvariantException($"reference '{reference}' parses back to {again}");
        }
        catch (UsageException)
        {
        }

        try
        {
            var platform = Platform.Parse(text);
            if (Platform.Parse(platform.ToString()) != platform)
                throw new FuzzInvariantException($"platform '{platform}' does not parse back to itself");
            _ = platform.Matches(Platform.Host);
        }
        catch (UsageException)
        {
        }
    }
}

/// <summary>An invariant the fuzz targets check was broken: a crash, like any non-Ferry exception.</summary>
public sealed class FuzzInvariantException : Exception
{
    public FuzzInvariantException(string message, Exception? inner = null) : base(message, inner) { }
}

#if !FERRY_FUZZ_HARNESS
/// <summary>
/// Replays every file of Corpus/fuzz/ (crashes and hangs the fuzzer found, plus a few interesting inputs) through its
/// target. The file name's prefix before the first '-' names the target. Only a <see cref="FerryException"/> may come
/// out of Ferry, and each input must finish within 10 seconds.
/// </summary>
public sealed class FuzzRegressionTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(10);

    private static string Dir => Path.Combine(AppContext.BaseDirectory, "Corpus", "fuzz");

    public static TheoryData<string> Inputs()
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.EnumerateFiles(Dir).Select(Path.GetFileName).Order(StringComparer.Ordinal))
            data.Add(file!);
        return data;
    }

    [Fact]
    public void CorpusHasInputsForEveryTarget()
    {
        var targets = Directory.EnumerateFiles(Dir).Select(f => FuzzTargets.TargetOf(Path.GetFileName(f))).ToHashSet();
        foreach (var t in FuzzTargets.Names)
            Assert.Contains(t, targets);
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public async Task OnlyFerryExceptionsAndNoHang(string file)
    {
        string target = FuzzTargets.TargetOf(file);
        Assert.Contains(target, FuzzTargets.Names);
        byte[] data = File.ReadAllBytes(Path.Combine(Dir, file));

        var watch = System.Diagnostics.Stopwatch.StartNew();
        var run = Task.Run(() => FuzzTargets.Run(target, data));
        bool finished = await Task.WhenAny(run, Task.Delay(Limit)) == run;
        watch.Stop();

        Assert.True(finished, $"{file}: still running after {Limit.TotalSeconds} s");
        if (run.Exception?.InnerException is { } e)
            Assert.Fail($"{file}: {e}");
        Assert.True(watch.Elapsed < Limit, $"{file}: took {watch.Elapsed.TotalSeconds:F1} s");
    }
}
#endif
