namespace Ferry.Interop.Tests.Infrastructure;

/// <summary>skopeo: read an image's config through a transport reference.</summary>
public static class SkopeoTool
{
    /// <summary>`skopeo inspect --raw --config REF`: the image ID (sha256 of the exact config bytes) and its diff_ids; null when skopeo fails.</summary>
    public static ImageState? Config(Runner run, string imageRef)
    {
        var r = run.Exec(Tool.Skopeo, ["inspect", "--raw", "--config", imageRef], maxLog: 400);
        if (!r.Ok)
            return null;
        var state = new ImageState(JsonUtil.Sha256(r.Stdout), [], JsonUtil.DiffIds(r.Stdout));
        run.Log.Line($"  => skopeo: config {state}");
        return state;
    }
}

/// <summary>containerd through ctr: list images of a namespace and resolve a manifest to its config.</summary>
public static class ContainerdTool
{
    /// <summary>`ctr -n NS images ls`: reference -> target digest.</summary>
    public static IReadOnlyDictionary<string, string> ListImages(Runner run, string ns)
    {
        var r = Runner.Ensure(run.Ctr("-n", ns, "images", "ls"));
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1))
        {
            var cols = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (cols.Length >= 3)
                map[cols[0]] = cols[2];
        }
        return map;
    }

    /// <summary>The config digest (image ID) and diff_ids of the manifest <paramref name="manifestDigest"/> in the content store.</summary>
    public static ImageState Resolve(Runner run, string ns, string manifestDigest)
    {
        var m = Runner.Ensure(run.Exec(Tool.Containerd, ["-n", ns, "content", "get", manifestDigest], maxLog: 400));
        using var doc = JsonUtil.Parse(m.Stdout, $"manifest {manifestDigest}");
        string? config = doc.RootElement.Prop("config")?.Str("digest");
        if (config is null)
        {
            throw new InteropException($"containerd: {manifestDigest} is not an image manifest (mediaType " +
                $"{doc.RootElement.Str("mediaType") ?? "?"}); the tests only use single-platform images");
        }
        var c = Runner.Ensure(run.Exec(Tool.Containerd, ["-n", ns, "content", "get", config], maxLog: 400));
        var state = new ImageState(config, [], JsonUtil.DiffIds(c.Stdout));
        run.Log.Line($"  => containerd: {manifestDigest} -> config {state}");
        return state;
    }

    /// <summary>Deletes every image of namespace <paramref name="ns"/> (content is then garbage-collected).</summary>
    public static void Clear(Runner run, string ns)
    {
        var refs = ListImages(run, ns).Keys.ToList();
        if (refs.Count > 0)
            run.Ctr(["-n", ns, "images", "rm", .. refs]);
    }
}
