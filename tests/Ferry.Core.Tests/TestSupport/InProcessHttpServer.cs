using System.Net;
using System.Net.Sockets;

namespace Ferry.Tests.TestSupport;

/// <summary>The part every in-process peer shares: an HttpListener on a free 127.0.0.1 port, each request handled on the thread pool.</summary>
public abstract class InProcessHttpServer : IDisposable
{
    private readonly HttpListener _listener = new();
    private Task? _serve;

    protected InProcessHttpServer()
    {
        Port = FreePort();
        _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
    }

    /// <summary>The port it listens on.</summary>
    public int Port { get; }

    /// <summary>Starts answering (call once the subclass is set up).</summary>
    protected void Start()
    {
        _listener.Start();
        _serve = Task.Run(ServeAsync);
    }

    /// <summary>Answers one request; the response is closed afterwards.</summary>
    protected abstract Task HandleAsync(HttpListenerContext ctx);

    internal static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext ctx;
            try
            {
                ctx = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }
            _ = Task.Run(async () =>
            {
                try
                {
                    await HandleAsync(ctx);
                }
                catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException)
                {
                }
                finally
                {
                    try
                    {
                        ctx.Response.Close();
                    }
                    catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
                    {
                    }
                }
            });
        }
    }

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        try
        {
            _serve?.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }
        Disposing();
        GC.SuppressFinalize(this);
    }

    /// <summary>What a subclass releases after the listener stopped.</summary>
    protected virtual void Disposing() { }
}
