using Xunit;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace Ferry.Interop.Tests.Infrastructure;

/// <summary>
/// A fact that needs external tools (<see cref="Tool"/> names). When one is missing or its daemon does not answer,
/// the test is skipped with "TOOL not available: WHY" — unless FERRY_INTEROP=required, in which case it runs and fails
/// with that message. The reason is part of the skipped test's name, so that <c>dotnet test</c> prints it
/// (<c>Skipped X (skipped: docker not available: DOCKER_HOST is not set) [1 ms]</c>): its console logger shows a skip
/// reason only at detailed verbosity.
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
[XunitTestCaseDiscoverer("Ferry.Interop.Tests.Infrastructure.InteropFactDiscoverer", "Ferry.Interop.Tests")]
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
[XunitTestCaseDiscoverer("Ferry.Interop.Tests.Infrastructure.InteropTheoryDiscoverer", "Ferry.Interop.Tests")]
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

/// <summary>Discovers <see cref="InteropFactAttribute"/> tests as <see cref="SkipSaidTestCase"/>s.</summary>
public sealed class InteropFactDiscoverer(IMessageSink diagnosticMessageSink) : FactDiscoverer(diagnosticMessageSink)
{
    protected override IXunitTestCase CreateTestCase(ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo factAttribute) =>
        new SkipSaidTestCase(DiagnosticMessageSink, discoveryOptions.MethodDisplayOrDefault(), discoveryOptions.MethodDisplayOptionsOrDefault(), testMethod);
}

/// <summary>Discovers <see cref="InteropTheoryAttribute"/> tests; a skipped theory is one <see cref="SkipSaidTestCase"/>.</summary>
public sealed class InteropTheoryDiscoverer(IMessageSink diagnosticMessageSink) : TheoryDiscoverer(diagnosticMessageSink)
{
    protected override IEnumerable<IXunitTestCase> CreateTestCasesForSkip(ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo theoryAttribute, string skipReason) =>
        [new SkipSaidTestCase(DiagnosticMessageSink, discoveryOptions.MethodDisplayOrDefault(), discoveryOptions.MethodDisplayOptionsOrDefault(), testMethod)];
}

/// <summary>A test case whose name, when it is skipped, says why.</summary>
public sealed class SkipSaidTestCase : XunitTestCase
{
    [Obsolete("Called by the de-serializer; should only be called by deriving classes for de-serialization purposes")]
    public SkipSaidTestCase()
    {
    }

    public SkipSaidTestCase(IMessageSink diagnosticMessageSink, TestMethodDisplay defaultMethodDisplay, TestMethodDisplayOptions defaultMethodDisplayOptions, ITestMethod testMethod, object[]? testMethodArguments = null)
        : base(diagnosticMessageSink, defaultMethodDisplay, defaultMethodDisplayOptions, testMethod, testMethodArguments)
    {
    }

    protected override void Initialize()
    {
        base.Initialize();
        if (!string.IsNullOrEmpty(SkipReason))
            DisplayName = $"{DisplayName} (skipped: {SkipReason})";
    }
}
