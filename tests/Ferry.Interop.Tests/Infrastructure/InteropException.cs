namespace Ferry.Interop.Tests.Infrastructure;

/// <summary>An interop step failed; the message says what ran and what came back.</summary>
public class InteropException : Exception
{
    public InteropException(string message) : base(message) { }

    public InteropException(string message, Exception inner) : base(message, inner) { }

    public InteropException() { }
}

/// <summary>A tool a test needs is missing or its daemon does not answer (only thrown when FERRY_INTEROP=required).</summary>
public sealed class ToolUnavailableException : InteropException
{
    public ToolUnavailableException(string message) : base(message) { }

    public ToolUnavailableException() { }

    public ToolUnavailableException(string message, Exception inner) : base(message, inner) { }
}
