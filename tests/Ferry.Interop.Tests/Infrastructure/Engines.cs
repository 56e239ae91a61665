using System.Text.Json;

namespace Ferry.Interop.Tests.Infrastructure;

/// <summary>What an engine reports about one image: its ID, (normalised) names and layer diff_ids.</summary>
public sealed record ImageState(string Id, IReadOnlyList<string> Names, IReadOnlyList<string> DiffIds)
{
    public override string ToString() => $"{Id} names=[{string.Join(", ", Names)}] diff_ids=[{string.Join(", ", DiffIds)}]";
}

/// <summary>docker and podman image stores: inspect, list, and remove everything the tests made.</summary>
public static class Engines
{
    /// <summary>`docker image inspect REF`, or null when docker does not know REF.</summary>
    public static ImageState? DockerInspect(Runner run, string reference) => Inspect(run, Tool.Docker, reference);

    /// <summary>`podman image inspect REF`, or null when podman does not know REF.</summary>
    public static ImageState? PodmanInspect(Runner run, string reference) => Inspect(run, Tool.Podman, reference);

    /// <summary>`TOOL image inspect REF` for any docker or podman tool, or null when it does not know REF.</summary>
    public static ImageState? Inspect(Runner run, string tool, string reference)
    {
        var r = run.Exec(tool, ["image", "inspect", reference], maxLog: 400);
        if (!r.Ok)
            return null;
        using var doc = JsonUtil.Parse(r.Stdout, $"{tool} image inspect {reference}");
        if (doc.RootElement.ValueKind != JsonValueKind.Array || doc.RootElement.GetArrayLength() == 0)
            return null;
        var img = doc.RootElement[0];
        string id = JsonUtil.WithSha256Prefix(img.Str("Id") ?? "");
        var names = ImageNames.NormalizeAll(img.Prop("RepoTags").Strings());
        var layers = img.Prop("RootFS")?.Prop("Layers").Strings() ?? [];
        var state = new ImageState(id, names, layers);
        run.Log.Line($"  => {tool}: {state}");
        return state;
    }

    /// <summary>Every image ID in the store (including intermediate images).</summary>
    public static IReadOnlySet<string> ListIds(Runner run, string tool)
    {
        var r = run.Exec(tool, ["images", "-a", "-q", "--no-trunc"]);
        Runner.Ensure(r);
        return r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(JsonUtil.WithSha256Prefix).ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>
    /// Removes every image (and so every tag) that was not in the store before the tests started, so the next load
    /// really writes the layers (`rmi -f` by ID drops all tags of an image; parents go once their children are gone).
    /// </summary>
    public static void Wipe(Runner run, string tool, IReadOnlySet<string> keep)
    {
        for (int round = 0; round < 6; round++)
        {
            var ids = ListIds(run, tool).Where(id => !keep.Contains(id)).ToList();
            if (ids.Count == 0)
                return;
            run.Exec(tool, ["rmi", "-f", .. ids]);
        }
        var left = ListIds(run, tool).Where(id => !keep.Contains(id)).ToList();
        if (left.Count > 0)
            throw new InteropException($"{tool}: could not remove images {string.Join(", ", left)} (see the rmi output above)");
    }
}
