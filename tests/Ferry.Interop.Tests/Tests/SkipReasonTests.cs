using Ferry.Interop.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace Ferry.Interop.Tests.Tests;

/// <summary>
/// A skipped interop test says why in <c>dotnet test</c>'s output (its console logger prints a skip reason only at
/// detailed verbosity): the reason is part of the skipped test's name. Needs no tool.
/// </summary>
public sealed class SkipReasonTests
{
    /// <summary>An interop attribute whose tool is always missing.</summary>
    [XunitTestCaseDiscoverer("Ferry.Interop.Tests.Infrastructure.InteropFactDiscoverer", "Ferry.Interop.Tests")]
    private sealed class MissingToolFactAttribute : FactAttribute
    {
        public MissingToolFactAttribute() => Skip = "docker not available: DOCKER_HOST is not set";
    }

    [XunitTestCaseDiscoverer("Ferry.Interop.Tests.Infrastructure.InteropTheoryDiscoverer", "Ferry.Interop.Tests")]
    private sealed class MissingToolTheoryAttribute : TheoryAttribute
    {
        public MissingToolTheoryAttribute() => Skip = "podman not available: FERRY_PODMAN_ARGS is not set";
    }

    /// <summary>Not public: xunit does not run these, the tests below discover them.</summary>
#pragma warning disable xUnit1000 // on purpose: never run, only discovered here
    internal sealed class Samples
    {
        [MissingToolFact]
        public void Needs_docker()
        {
        }

        [MissingToolTheory]
        [InlineData(1)]
        public void Needs_podman(int n) => Assert.True(n > 0);

        [Fact]
        public void Needs_nothing()
        {
        }
    }
#pragma warning restore xUnit1000

    /// <summary>Discovery options with every default (what <c>dotnet test</c> passes without a runsettings).</summary>
    private sealed class DefaultOptions : ITestFrameworkDiscoveryOptions
    {
        public TValue GetValue<TValue>(string name) => default!;

        public void SetValue<TValue>(string name, TValue value)
        {
        }
    }

    private static List<IXunitTestCase> Discover(string method, IXunitTestCaseDiscoverer discoverer)
    {
        var assembly = new TestAssembly(Reflector.Wrap(typeof(Samples).Assembly));
        var testClass = new TestClass(new TestCollection(assembly, null, "samples"), Reflector.Wrap(typeof(Samples)));
        var testMethod = new TestMethod(testClass, Reflector.Wrap(typeof(Samples).GetMethod(method)!));
        var attribute = testMethod.Method.GetCustomAttributes(typeof(FactAttribute)).Single();
        return [.. discoverer.Discover(new DefaultOptions(), testMethod, attribute)];
    }

    [Fact]
    public void ASkippedTestsNameSaysWhy()
    {
        var fact = Assert.Single(Discover(nameof(Samples.Needs_docker), new InteropFactDiscoverer(new NullMessageSink())));
        Assert.Equal($"{typeof(Samples).FullName}.Needs_docker (skipped: docker not available: DOCKER_HOST is not set)", fact.DisplayName);
        var theory = Assert.Single(Discover(nameof(Samples.Needs_podman), new InteropTheoryDiscoverer(new NullMessageSink())));
        Assert.Equal($"{typeof(Samples).FullName}.Needs_podman (skipped: podman not available: FERRY_PODMAN_ARGS is not set)", theory.DisplayName);
    }

    [Fact]
    public void ATestThatRunsKeepsItsName()
    {
        var fact = Assert.Single(Discover(nameof(Samples.Needs_nothing), new InteropFactDiscoverer(new NullMessageSink())));
        Assert.Equal($"{typeof(Samples).FullName}.Needs_nothing", fact.DisplayName);
    }
}
