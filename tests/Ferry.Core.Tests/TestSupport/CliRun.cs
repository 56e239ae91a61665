namespace Ferry.Tests.TestSupport;

/// <summary>The <c>ferry</c> command line run in-process, its exit code and both streams captured.</summary>
public static class CliRun
{
    public static (int Code, string Out, string Err) Run(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = Ferry.Cli.Program.Run(args, o, e).GetAwaiter().GetResult();
        return (code, o.ToString(), e.ToString());
    }

    /// <summary>Asserts exit 0, showing stderr otherwise.</summary>
    public static void Ok((int Code, string Out, string Err) r) => Assert.True(r.Code == 0, $"exit {r.Code}: {r.Err}");
}
