using System.Text;
using Xunit.Abstractions;

namespace Ferry.Interop.Tests.Infrastructure;

/// <summary>
/// Everything a test ran, in order (commands, exit codes, output, check failures). Each line goes to the xunit test
/// output at once, so a failing test's log in CI shows exactly what was run and what the tools answered.
/// </summary>
public sealed class Transcript
{
    private readonly ITestOutputHelper? _output;
    private readonly StringBuilder _text = new();
    private readonly Lock _lock = new();

    public Transcript(ITestOutputHelper? output = null) => _output = output;

    public void Line(string line)
    {
        lock (_lock)
            _text.AppendLine(line);
        if (_output is null)
            return;
        try
        {
            _output.WriteLine(line);
        }
        catch (InvalidOperationException)
        {
            // The test this output belongs to has already finished (e.g. a cached fixture step): keep the text only.
        }
    }

    public string Text
    {
        get
        {
            lock (_lock)
                return _text.ToString();
        }
    }
}
