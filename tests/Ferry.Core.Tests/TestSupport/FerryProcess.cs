using System.Diagnostics;

namespace Ferry.Tests.TestSupport;

/// <summary>`ferry` as a real child process (ferry.dll under the dotnet host), for what in-process runs cannot show: signals, exit codes, servers.</summary>
public static class FerryProcess
{
    public static string Dotnet => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } d ? d : "dotnet";

    public static string FerryDll => Path.Combine(AppContext.BaseDirectory, "ferry.dll");

    /// <summary>Starts ferry with all three streams redirected and TMPDIR set to <paramref name="tmp"/>.</summary>
    public static Process Start(string tmp, params string[] args)
    {
        var psi = new ProcessStartInfo(Dotnet)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(FerryDll);
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        psi.Environment["TMPDIR"] = tmp;
        psi.Environment["DOTNET_EnableDiagnostics"] = "0"; // the runtime's own pipes in TMPDIR are not Ferry's
        return Process.Start(psi)!;
    }

    /// <summary>Sends a signal by name (TERM, INT, KILL).</summary>
    public static void Signal(Process p, string signal)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-" + signal, p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture) } })!;
        kill.WaitForExit();
    }
}
