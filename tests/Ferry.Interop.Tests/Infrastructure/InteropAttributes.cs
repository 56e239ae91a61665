using Xunit;

namespace Ferry.Interop.Tests.Infrastructure;

/// <summary>
/// A fact that needs external tools (<see cref="Tool"/> names). When one is missing or its daemon does not answer,
/// the test is skipped with "TOOL not available: WHY" — unless FERRY_INTEROP=required, in which case it runs and fails
/// with that message.
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
public sealed class InteropFactAttribute : FactAttribute
{
    public InteropFactAttribute(params string[] tools)
    {
        Tools = tools;
        if (Tool.SkipReason(tools) is { } why)
            Skip = why;
    }

    public string[] Tools { get; }
}

/// <summary>The theory form of <see cref="InteropFactAttribute"/>.</summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
public sealed class InteropTheoryAttribute : TheoryAttribute
{
    public InteropTheoryAttribute(params string[] tools)
    {
        Tools = tools;
        if (Tool.SkipReason(tools) is { } why)
            Skip = why;
    }

    public string[] Tools { get; }
}
