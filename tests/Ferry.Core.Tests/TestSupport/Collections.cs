namespace Ferry.Tests.Hostile;

/// <summary>Hostile-peer tests share the process's allocation counter and the loopback ports: one at a time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class HostilePeerCollection
{
    public const string Name = "hostile peers";
}
