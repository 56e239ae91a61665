using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Connections;

namespace Ferry.Cli.Commands;

/// <summary>
/// Keeps <c>ferry serve</c> answering when clients are many or hostile: at most <see cref="MaxConnections"/>
/// connections, and no client address holding more than <see cref="MaxPerAddress"/>. When a new connection would go
/// over either bound, the oldest idle connection (no request in flight: a keep-alive, or one that has not finished
/// sending its headers) is closed to make room, first among the crowding address's own; when none is idle the new
/// connection is refused. Idle connections therefore never lock a normal client out.
/// </summary>
internal sealed class ConnectionGate(int maxConnections, int maxPerAddress)
{
    private sealed class Entry(ConnectionContext context, IPAddress? address, long opened)
    {
        public ConnectionContext Context { get; } = context;
        public IPAddress? Address { get; } = address;
        public long Opened { get; } = opened;
        public int Active;
        public long LastUsed = opened;
    }

    private readonly Dictionary<string, Entry> _open = new(StringComparer.Ordinal);
    private readonly Dictionary<IPAddress, int> _perAddress = [];
    private readonly Lock _lock = new();

    public int MaxConnections => maxConnections;
    public int MaxPerAddress => maxPerAddress;

    /// <summary>Connections closed to make room, and new ones refused (for the log and tests).</summary>
    public int Evicted { get; private set; }
    public int Refused { get; private set; }

    /// <summary>Kestrel connection middleware: admits the connection (making room if it must) or closes it at once.</summary>
    public async Task RunAsync(ConnectionContext context, ConnectionDelegate next)
    {
        var address = (context.RemoteEndPoint as IPEndPoint)?.Address;
        var entry = new Entry(context, address, Stopwatch.GetTimestamp());
        List<Entry> victims = [];
        bool admitted;
        lock (_lock)
        {
            admitted = MakeRoom(address, victims);
            if (admitted)
            {
                _open[context.ConnectionId] = entry;
                if (address is not null)
                    _perAddress[address] = _perAddress.GetValueOrDefault(address) + 1;
            }
            else
            {
                Refused++;
            }
            Evicted += victims.Count;
        }
        foreach (var v in victims)
            v.Context.Abort(new ConnectionAbortedException("closed to make room for a new connection (ferry serve's connection limit)"));
        if (!admitted)
        {
            context.Abort(new ConnectionAbortedException("too many connections"));
            return;
        }
        try
        {
            await next(context).ConfigureAwait(false);
        }
        finally
        {
            lock (_lock)
            {
                if (_open.Remove(context.ConnectionId) && address is not null)
                {
                    int left = _perAddress[address] - 1;
                    if (left == 0)
                        _perAddress.Remove(address);
                    else
                        _perAddress[address] = left;
                }
            }
        }
    }

    /// <summary>Picks the idle connections to close so one more fits; false when no room can be made.</summary>
    private bool MakeRoom(IPAddress? address, List<Entry> victims)
    {
        if (address is not null && _perAddress.GetValueOrDefault(address) >= maxPerAddress)
        {
            if (OldestIdle(e => address.Equals(e.Address), victims) is not { } own)
                return false;
            victims.Add(own);
        }
        if (_open.Count - victims.Count >= maxConnections)
        {
            // The most crowded address gives way first, then whoever has been idle longest.
            var crowded = _perAddress.OrderByDescending(kv => kv.Value).Select(kv => kv.Key).FirstOrDefault();
            var v = (crowded is null ? null : OldestIdle(e => crowded.Equals(e.Address), victims)) ?? OldestIdle(_ => true, victims);
            if (v is null)
                return false;
            victims.Add(v);
        }
        return true;
    }

    private Entry? OldestIdle(Func<Entry, bool> which, List<Entry> taken)
    {
        Entry? best = null;
        foreach (var e in _open.Values)
        {
            if (Volatile.Read(ref e.Active) == 0 && which(e) && !taken.Contains(e) && (best is null || e.LastUsed < best.LastUsed))
                best = e;
        }
        return best;
    }

    /// <summary>A request started on the connection: it is not idle until the request ends.</summary>
    public void RequestStarted(string connectionId)
    {
        lock (_lock)
        {
            if (_open.TryGetValue(connectionId, out var e))
                e.Active++;
        }
    }

    public void RequestEnded(string connectionId)
    {
        lock (_lock)
        {
            if (_open.TryGetValue(connectionId, out var e))
            {
                e.Active--;
                e.LastUsed = Stopwatch.GetTimestamp();
            }
        }
    }

    public int Count
    {
        get
        {
            lock (_lock)
                return _open.Count;
        }
    }
}

/// <summary>
/// Basic auth for <c>ferry serve</c> that holds up against guessing: every check of an unknown user costs what a known
/// one does (bcrypt against a dummy hash of the same cost), so names cannot be found by timing; bcrypt runs on at most
/// half the cores; an address that fails <see cref="FailuresAllowed"/> times within a minute gets <c>429</c> with
/// <c>Retry-After</c> (no bcrypt) for <see cref="Lockout"/>. Credentials already verified (remembered by their
/// SHA-256, never in clear) are accepted at once, also from a throttled address, so valid users stay fast.
/// </summary>
internal sealed class AuthGate : IDisposable
{
    public enum Outcome { Allowed, Missing, Denied, Throttled }

    public const int FailuresAllowed = 10;
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(1);
    public static readonly TimeSpan Lockout = TimeSpan.FromSeconds(30);

    private readonly Htpasswd _users;
    private readonly string _dummy;
    private readonly SemaphoreSlim _bcrypt = new(Math.Max(1, Environment.ProcessorCount / 2));
    private readonly ConcurrentDictionary<string, bool> _verified = new(StringComparer.Ordinal);
    private readonly Dictionary<IPAddress, (int Count, long Since, long LockedUntil)> _failures = [];
    private readonly Lock _lock = new();

    public AuthGate(Htpasswd users)
    {
        _users = users;
        // A hash of a random password at the users' cost: unknown names are checked against it, in the same time.
        _dummy = BCrypt.Net.BCrypt.HashPassword(Convert.ToHexString(RandomNumberGenerator.GetBytes(16)), users.WorkFactor);
    }

    /// <summary>Checks an <c>Authorization</c> header from <paramref name="address"/>; for <see cref="Outcome.Throttled"/>, how long to wait.</summary>
    public async Task<(Outcome Outcome, TimeSpan RetryAfter)> CheckAsync(string authorization, IPAddress? address, CancellationToken cancel)
    {
        if (authorization.Length == 0)
            return (Outcome.Missing, default);
        if (!Htpasswd.TryDecode(authorization, out string user, out string password))
            return (Fail(address), default);
        string key = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(user + ":" + password)));
        if (_verified.ContainsKey(key))
            return (Outcome.Allowed, default);
        if (Locked(address) is { } wait)
            return (Outcome.Throttled, wait);
        bool ok;
        await _bcrypt.WaitAsync(cancel).ConfigureAwait(false);
        try
        {
            string hash = _users.HashOf(user) ?? _dummy;
            ok = Htpasswd.Verify(password, hash) && _users.HashOf(user) is not null;
        }
        finally
        {
            _bcrypt.Release();
        }
        if (!ok)
        {
            var outcome = Fail(address);
            return (outcome, outcome == Outcome.Throttled ? Locked(address) ?? Lockout : default);
        }
        if (_verified.Count < 1000)
            _verified[key] = true;
        return (Outcome.Allowed, default);
    }

    public void Dispose() => _bcrypt.Dispose();

    private TimeSpan? Locked(IPAddress? address)
    {
        if (address is null)
            return null;
        lock (_lock)
        {
            if (!_failures.TryGetValue(address, out var f) || f.LockedUntil == 0)
                return null;
            var left = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), f.LockedUntil);
            if (left > TimeSpan.Zero)
                return left;
            _failures.Remove(address);
            return null;
        }
    }

    /// <summary>Counts a failure; the address is locked out once it has too many within the window.</summary>
    private Outcome Fail(IPAddress? address)
    {
        if (address is null)
            return Outcome.Denied;
        lock (_lock)
        {
            long now = Stopwatch.GetTimestamp();
            if (_failures.Count > 10_000)
            {
                foreach (var old in _failures.Where(kv => Stopwatch.GetElapsedTime(kv.Value.Since, now) > Window && kv.Value.LockedUntil < now).Select(kv => kv.Key).ToList())
                    _failures.Remove(old);
            }
            var f = _failures.GetValueOrDefault(address);
            if (f.Count == 0 || Stopwatch.GetElapsedTime(f.Since, now) > Window)
                f = (0, now, 0);
            f.Count++;
            if (f.Count >= FailuresAllowed)
                f.LockedUntil = now + (long)(Lockout.TotalSeconds * Stopwatch.Frequency);
            _failures[address] = f;
            return f.LockedUntil > now ? Outcome.Throttled : Outcome.Denied;
        }
    }
}

/// <summary>What goes into the access log of a client's text: control characters (CR, LF, ESC, …) and Unicode's
/// invisible direction marks are escaped, so a request cannot forge a log line or drive the terminal.</summary>
internal static class LogText
{
    public static string Escape(string? text)
    {
        if (string.IsNullOrEmpty(text))
            return "";
        StringBuilder? sb = null;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            bool bad = c < ' ' || c is >= '\u007f' and <= '\u009f' || c is '\u2028' or '\u2029' || c is >= '\u202a' and <= '\u202e' || c is >= '\u2066' and <= '\u2069' || c == '\\';
            if (!bad)
            {
                sb?.Append(c);
                continue;
            }
            sb ??= new StringBuilder(text.Length + 16).Append(text, 0, i);
            sb.Append(c == '\\' ? "\\\\" : c <= '\u00ff' ? $"\\x{(int)c:x2}" : $"\\u{(int)c:x4}");
        }
        string s = sb?.ToString() ?? text;
        return s.Length > 2048 ? s[..2048] + "…" : s;
    }
}
