using System.Diagnostics.Tracing;
using System.Text;
using Ferry.Trust;
using Ferry.Tests.TestSupport;

namespace Ferry.Tests.Trust;

/// <summary>Run alone: it listens to the process's network events, which other tests' servers would raise.</summary>
[CollectionDefinition("NoNetwork", DisableParallelization = true)]
public sealed class NoNetworkCollection;

/// <summary>
/// Verification is offline: no socket is opened and no name resolved while Ferry verifies, even for a certificate whose
/// issuer is missing from the trust root and whose AIA extension points at a URL (a chain builder that downloads would
/// fetch it); and Trust/ uses no network API at all.
/// </summary>
[Collection("NoNetwork")]
public sealed class NoNetworkTests : IDisposable
{
    private readonly TestSigstore _s = new();
    private readonly TempDir _dir = new();

    public void Dispose()
    {
        _s.Dispose();
        _dir.Dispose();
    }

    private sealed class NetworkListener : EventListener
    {
        public List<string> Events { get; } = [];

        protected override void OnEventSourceCreated(EventSource source)
        {
            if (source.Name is "System.Net.Sockets" or "System.Net.NameResolution" or "System.Net.Http" or "System.Net.Security")
                EnableEvents(source, EventLevel.Verbose);
        }

        protected override void OnEventWritten(EventWrittenEventArgs e)
        {
            lock (Events)
                Events.Add($"{e.EventSource.Name}/{e.EventName}");
        }
    }

    [Fact]
    public void VerifyingOpensNoSocket()
    {
        byte[] artifact = "offline\n"u8.ToArray();
        // The leaf's AIA names where its issuer could be downloaded from; the trust root lacks that intermediate.
        var (leaf, key) = _s.Leaf(caIssuersUrl: "http://127.0.0.1:9/intermediate.crt");
        string bundle = _s.MessageBundle(artifact, leaf, key, version: "0.3", proof: true);
        File.WriteAllBytes(_dir.Path("a"), artifact);
        File.WriteAllText(_dir.Path("b.json"), bundle);
        File.WriteAllBytes(_dir.Path("root.json"), _s.TrustedRootJson(intermediate: false));
        File.WriteAllBytes(_dir.Path("full.json"), _s.TrustedRootJson());
        using var listener = new NetworkListener();
        var terms = new CosignTerms
        {
            Identities = [new CertificateIdentity(TestSigstore.Email, null, TestSigstore.Issuer, null)],
            TrustedRoot = TrustedRoot.Load(_dir.Path("root.json")),
        };
        var missing = BlobVerifier.VerifyBundle(Encoding.UTF8.GetBytes(bundle), BlobArtifact.FromBytes(artifact), terms);
        Assert.False(missing.Verified);
        var cli = CliRun.Run("verify-blob", "--bundle", _dir.Path("b.json"), "--trusted-root", _dir.Path("full.json"),
            "--certificate-identity", TestSigstore.Email, "--certificate-oidc-issuer", TestSigstore.Issuer, _dir.Path("a"));
        Assert.True(cli.Code == 0, cli.Err);
        lock (listener.Events)
            Assert.True(listener.Events.Count == 0, "network events: " + string.Join(", ", listener.Events.Distinct()));
    }

    [Fact]
    public void TrustUsesNoNetworkApi()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Ferry.slnx")))
            root = root.Parent;
        Assert.NotNull(root);
        var files = Directory.EnumerateFiles(Path.Combine(root.FullName, "src", "Ferry.Core", "Trust"), "*.cs")
            .Append(Path.Combine(root.FullName, "src", "Ferry.Cli", "Commands", "VerifyBlobCommand.cs")).ToList();
        Assert.True(files.Count > 5);
        foreach (var f in files)
        {
            string text = File.ReadAllText(f);
            foreach (var api in new[] { "System.Net", "HttpClient", "Socket", "Dns.", "WebRequest", "Ferry.Transports" })
                Assert.False(text.Contains(api, StringComparison.Ordinal), $"{Path.GetFileName(f)} uses {api}");
        }
    }
}
