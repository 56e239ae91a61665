using System.Text;

namespace Ferry.Interop.Tests.Infrastructure;

/// <summary>
/// Soft assertions: a test records every mismatch (and keeps going, so one run shows all of them), then
/// <see cref="ThrowIfAny"/> fails it with the whole list. Each failure is also written to the transcript where it happened.
/// </summary>
public sealed class Checks
{
    private readonly Transcript _log;
    private readonly List<string> _failures = [];

    public Checks(Transcript log) => _log = log;

    public int Count => _failures.Count;

    public void Fail(string message)
    {
        _failures.Add(message);
        _log.Line("CHECK FAILED: " + message);
    }

    public bool True(bool condition, string message)
    {
        if (!condition)
            Fail(message);
        return condition;
    }

    public bool Equal(string? expected, string? actual, string what) =>
        True(string.Equals(expected, actual, StringComparison.Ordinal), $"{what}: expected {expected ?? "(null)"}, got {actual ?? "(null)"}");

    public bool Equal(int expected, int actual, string what) =>
        True(expected == actual, $"{what}: expected {expected}, got {actual}");

    /// <summary>Same strings in the same order.</summary>
    public bool Sequence(IEnumerable<string> expected, IEnumerable<string> actual, string what)
    {
        var e = expected.ToList();
        var a = actual.ToList();
        return True(e.SequenceEqual(a, StringComparer.Ordinal), $"{what}: expected [{string.Join(", ", e)}], got [{string.Join(", ", a)}]");
    }

    /// <summary>Same strings, any order.</summary>
    public bool Set(IEnumerable<string> expected, IEnumerable<string> actual, string what)
    {
        var e = expected.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var a = actual.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        return True(e.SequenceEqual(a, StringComparer.Ordinal), $"{what}: expected {{{string.Join(", ", e)}}}, got {{{string.Join(", ", a)}}}");
    }

    /// <summary>Fails the test when any check failed, listing them all.</summary>
    public void ThrowIfAny(string context)
    {
        if (_failures.Count == 0)
            return;
        var sb = new StringBuilder();
        sb.Append(context).Append(": ").Append(_failures.Count).AppendLine(_failures.Count == 1 ? " check failed:" : " checks failed:");
        foreach (var f in _failures)
            sb.Append("  - ").AppendLine(f);
        sb.Append("(every command this test ran, with its output, is in the test's standard output)");
        throw new InteropException(sb.ToString());
    }
}
