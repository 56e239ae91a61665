using System.Net;

namespace Ferry.Transports.Http;

/// <summary>
/// Reading from peers that may lie or stall: every body is read with a size limit (stopping at the limit), every wait
/// has a timeout. Shared by the registry and the Docker Engine clients.
/// </summary>
internal static class HttpLimits
{
    /// <summary>The largest token-server reply read: 1 MiB (a JWT is a few KiB).</summary>
    public const int MaxTokenBytes = 1 << 20;

    /// <summary>The largest error body read (for its message): 64 KiB.</summary>
    public const int MaxErrorBytes = 64 << 10;

    /// <summary>The slowest a transfer may go, averaged over each <c>--timeout</c> window: 1 KiB/s (a peer sending a byte a second is given up).</summary>
    public const long MinTransferRate = 1024;

    /// <summary>The largest small JSON answer of a daemon (<c>/version</c>, <c>/info</c>): 1 MiB.</summary>
    public const int MaxDaemonDocumentBytes = 1 << 20;

    /// <summary>
    /// Reads a whole small body (a manifest, a token, an error, <c>/version</c>) within <paramref name="limit"/> bytes
    /// and <paramref name="deadline"/> (the whole body, so a peer sending a byte a second cannot hold us).
    /// </summary>
    /// <exception cref="PeerException">The body is larger than the limit, or not complete in time.</exception>
    public static async Task<byte[]> ReadBodyAsync(HttpResponseMessage response, int limit, TimeSpan deadline, string peer, string what, CancellationToken cancellationToken)
    {
        if (response.Content.Headers.ContentLength is long declared && declared > limit)
            throw new PeerException($"{peer}: {what} is {declared} bytes, over the {limit}-byte limit");
        using var timer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timer.CancelAfter(deadline);
        try
        {
            await using var body = await response.Content.ReadAsStreamAsync(timer.Token).ConfigureAwait(false);
            using var ms = new MemoryStream();
            byte[] buf = new byte[64 << 10];
            int n;
            while ((n = await body.ReadAsync(buf, timer.Token).ConfigureAwait(false)) > 0)
            {
                if (ms.Length + n > limit)
                    throw new PeerException($"{peer}: {what} is larger than the {limit}-byte limit");
                ms.Write(buf, 0, n);
            }
            return ms.ToArray();
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new PeerException($"{peer}: {what} was not complete within {Seconds(deadline)} (a stalled peer?)");
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            throw new PeerException($"{peer}: {what}: the connection broke: {Innermost(e)}", e);
        }
    }

    /// <summary>"30 s", "2 min".</summary>
    public static string Seconds(TimeSpan t) =>
        t.TotalSeconds < 1 ? $"{Math.Max(1, Math.Round(t.TotalMilliseconds)):0} ms" : t.TotalSeconds < 10 ? $"{t.TotalSeconds:0.#} s" : t.TotalSeconds < 120 ? $"{t.TotalSeconds:0} s" : $"{t.TotalMinutes:0.#} min";

    /// <summary>The innermost exception's message (the one that says what happened).</summary>
    public static string Innermost(Exception e)
    {
        var x = e;
        while (x.InnerException is not null)
            x = x.InnerException;
        return x.Message;
    }

    /// <summary>Whether a status is a redirect with a Location to follow.</summary>
    public static bool IsRedirect(HttpStatusCode s) => s is HttpStatusCode.MovedPermanently or HttpStatusCode.Found or HttpStatusCode.SeeOther
        or HttpStatusCode.TemporaryRedirect or HttpStatusCode.PermanentRedirect;

    /// <summary>Whether two URIs have the same scheme, host and port: credentials given for one may go to the other.</summary>
    public static bool SameOrigin(Uri a, Uri b) =>
        string.Equals(a.Scheme, b.Scheme, StringComparison.OrdinalIgnoreCase) && string.Equals(a.IdnHost, b.IdnHost, StringComparison.OrdinalIgnoreCase) && a.Port == b.Port;
}

/// <summary>A transfer slower than the minimum rate over a whole window (a peer that trickles).</summary>
internal sealed class TooSlowException(string message) : IOException(message);

/// <summary>
/// A read stream over a network body that fails when no byte arrives for <c>idle</c> (each read gets its own deadline)
/// and, with a minimum rate, when fewer than <c>minBytesPerSecond</c> × <c>idle</c> bytes arrive in a window of
/// <c>idle</c>. The idle failure is an <see cref="IOException"/> (a broken download: a resuming reader may retry from its
/// offset); the slow one a <see cref="TooSlowException"/>.
/// </summary>
internal sealed class IdleTimeoutStream(Stream inner, TimeSpan idle, IDisposable? owner = null, long minBytesPerSecond = 0) : Ferry.Archive.ReadOnlyStream
{
    private long _windowStart = System.Diagnostics.Stopwatch.GetTimestamp();
    private long _windowBytes;

    public override int Read(Span<byte> buffer) => throw new NotSupportedException("a network body is read asynchronously");

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        using var timer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timer.CancelAfter(idle);
        int n;
        try
        {
            n = await inner.ReadAsync(buffer, timer.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new IOException($"no data for {HttpLimits.Seconds(idle)} (the transfer stalled)");
        }
        if (minBytesPerSecond > 0 && n > 0)
        {
            _windowBytes += n;
            var elapsed = System.Diagnostics.Stopwatch.GetElapsedTime(_windowStart);
            if (elapsed >= idle)
            {
                if (_windowBytes < minBytesPerSecond * elapsed.TotalSeconds)
                    throw new TooSlowException($"the transfer went at {_windowBytes / elapsed.TotalSeconds:0.#} bytes/s for {HttpLimits.Seconds(elapsed)}, below the {minBytesPerSecond / 1024} KiB/s minimum");
                _windowStart = System.Diagnostics.Stopwatch.GetTimestamp();
                _windowBytes = 0;
            }
        }
        return n;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
            owner?.Dispose();
        }
        base.Dispose(disposing);
    }
}

/// <summary>
/// A write-through stream that re-arms a watchdog on every write: while a request body is being sent, the
/// "first byte" timeout of the answer must not run; it starts when the body is done.
/// </summary>
internal sealed class ActivityStream(Stream inner, CancellationTokenSource watchdog, TimeSpan timeout) : Ferry.Archive.WriteThroughStream(inner)
{
    protected override void Wrote(int count) => Rearm();

    private void Rearm()
    {
        try
        {
            watchdog.CancelAfter(timeout);
        }
        catch (ObjectDisposedException)
        {
        }
    }
}
