using System.CommandLine;
using Ferry.Transports.Registry;

namespace Ferry.Cli.Commands;

/// <summary><c>ferry login</c> and <c>ferry logout</c>: docker's and podman's auth file, so the password need not be on the command line.</summary>
internal static class LoginCommands
{
    public static Command Login(CliIO io, Option<bool> debug)
    {
        var registry = new Argument<string>("REGISTRY") { Description = "HOST[:PORT] of the registry" };
        var user = new Option<string>("--username", "-u") { Description = "User name", Required = true };
        var password = new Option<string>("--password", "-p") { Description = "Password (visible in `ps`: prefer --password-stdin)" };
        var stdin = new Option<bool>("--password-stdin") { Description = "Read the password from stdin" };
        var authFile = new Option<string>("--authfile") { Description = "Auth file to write (default: $REGISTRY_AUTH_FILE, else ~/.docker/config.json, which podman reads too)" };
        var insecure = new Option<bool>("--insecure") { Description = "Allow plain HTTP and unverified TLS (plain HTTP is always allowed for localhost/127.0.0.1)" };
        var ca = new Option<string>("--ca-cert") { Description = "PEM file of CA certificates to trust for the registry's TLS" };
        var timeout = TimeoutOption.Create();
        var json = new Option<bool>("--json") { Description = "Print what was kept, as JSON (docs/json.md)" };
        var cmd = new Command("login", "Check credentials against a registry and keep them in the auth file docker and podman use (mode 0600)")
        {
            registry, user, password, stdin, authFile, insecure, ca, timeout, json,
        };
        cmd.SetAction((parse, ct) => Guard.RunAsync(io, parse.GetValue(debug), async cancel =>
        {
            string? pass = parse.GetValue(password);
            if (parse.GetValue(stdin))
            {
                if (pass is not null)
                    throw new UsageException("--password and --password-stdin are exclusive");
                pass = io.Password();
            }
            // On a terminal the password is asked for, not echoed (as docker, podman and skopeo do).
            if (pass is null && Tty.ReadSecret($"Password for {parse.GetValue(user)} at {parse.GetValue(registry)}: ", io.Err) is { } typed)
                pass = typed.Length > 0 ? typed : throw new UsageException("no password typed");
            if (pass is null)
                throw new UsageException("give the password with --password-stdin (or --password): stdin is not a terminal to ask on");
            var options = new RegistryOptions { Insecure = parse.GetValue(insecure), CaCertificate = parse.GetValue(ca) };
            var (file, helper) = await RegistryLogin.LoginAsync(parse.GetValue(registry)!, parse.GetValue(user)!, pass, options, TimeoutOption.Read(parse, timeout), parse.GetValue(authFile), cancel).ConfigureAwait(false);
            if (parse.GetValue(json))
                io.Out.WriteLine(Rendering.JsonOut.Document(w =>
                {
                    w.WriteString("registry", parse.GetValue(registry));
                    w.WriteString("username", parse.GetValue(user));
                    w.WriteString("authFile", file);
                    w.WriteString("credentialHelper", helper);
                }));
            else
                io.Err.WriteLine(helper is null ? $"Login Succeeded (credentials kept in {file})" : $"Login Succeeded (credentials kept by docker-credential-{helper}, as {file} says)");
            return ExitCodes.Ok;
        }, ct));
        return cmd;
    }

    public static Command Logout(CliIO io, Option<bool> debug)
    {
        var registry = new Argument<string>("REGISTRY") { Description = "HOST[:PORT] of the registry" };
        var authFile = new Option<string>("--authfile") { Description = "Auth file (default: $REGISTRY_AUTH_FILE, else ~/.docker/config.json)" };
        var json = new Option<bool>("--json") { Description = "Print what was removed, as JSON (docs/json.md)" };
        var cmd = new Command("logout", "Remove a registry's credentials from the auth file") { registry, authFile, json };
        cmd.SetAction(parse => Guard.Run(io, parse.GetValue(debug), () =>
        {
            string? file = RegistryLogin.Logout(parse.GetValue(registry)!, parse.GetValue(authFile));
            if (parse.GetValue(json))
                io.Out.WriteLine(Rendering.JsonOut.Document(w =>
                {
                    w.WriteString("registry", parse.GetValue(registry));
                    w.WriteBoolean("removed", file is not null);
                    w.WriteString("authFile", file);
                }));
            else
                io.Err.WriteLine(file is null ? $"Not logged in to {parse.GetValue(registry)}" : $"Removed login credentials for {parse.GetValue(registry)} from {file}");
            return ExitCodes.Ok;
        }));
        return cmd;
    }
}
