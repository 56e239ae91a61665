using Ferry.Tests.TestSupport;
using static Ferry.Tests.TestSupport.CliRun;

namespace Ferry.Tests.Cli;

/// <summary><c>ferry login HOST -u USER</c> on a terminal asks for the password (not echoed), as docker, podman and skopeo do.</summary>
public sealed class LoginPromptTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose()
    {
        Ferry.Cli.Tty.SecretInput.Value = null;
        _dir.Dispose();
    }

    [Fact]
    public void OnATerminalThePasswordIsAskedFor()
    {
        using var reg = new FakeRegistry("user:s3cret");
        string auth = _dir.Path("auth.json");
        int asked = 0;
        Ferry.Cli.Tty.SecretInput.Value = () =>
        {
            asked++;
            return "s3cret";
        };
        var r = Run("login", reg.Address, "-u", "user", "--authfile", auth);
        Assert.Equal((0, $"Password for user at {reg.Address}: \nLogin Succeeded (credentials kept in {auth})\n"), (r.Code, r.Err));
        Assert.Equal(1, asked);
        Assert.Contains(reg.Address, File.ReadAllText(auth), StringComparison.Ordinal);
    }

    [Fact]
    public void NothingTypedIsAUsageError()
    {
        using var reg = new FakeRegistry("user:s3cret");
        Ferry.Cli.Tty.SecretInput.Value = () => "";
        var r = Run("login", reg.Address, "-u", "user", "--authfile", _dir.Path("auth.json"));
        Assert.Equal((2, $"Password for user at {reg.Address}: \nferry: no password typed\n"), (r.Code, r.Err));
    }

    [Fact]
    public void WithoutATerminalThePasswordMustBeGiven()
    {
        using var reg = new FakeRegistry("user:s3cret");
        var r = Run("login", reg.Address, "-u", "user", "--authfile", _dir.Path("auth.json"));
        Assert.Equal((2, "ferry: give the password with --password-stdin (or --password): stdin is not a terminal to ask on\n"), (r.Code, r.Err));
    }
}
