using Ferry.Interop.Tests.Fixture;
using Xunit.Abstractions;

namespace Ferry.Interop.Tests.Infrastructure;

/// <summary>The base of the interop test classes: the shared fixture, the test's transcript and a runner writing to it.</summary>
public abstract class InteropTest
{
#pragma warning disable CA1051, IDE1006 // the names every test class used before this base existed
    protected readonly InteropFixture _fx;
    protected readonly Transcript _log;
    protected readonly Runner _run;
#pragma warning restore CA1051, IDE1006

    protected InteropTest(InteropFixture fixture, ITestOutputHelper output)
    {
        _fx = fixture;
        _log = new Transcript(output);
        _run = new Runner(_log);
    }
}
