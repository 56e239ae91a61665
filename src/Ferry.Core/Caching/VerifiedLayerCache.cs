using Ferry.Digests;
using Ferry.IO;

namespace Ferry.Caching;

/// <summary>How a compressed layer's diff_id is checked by a copy.</summary>
internal enum DiffIdCheck
{
    /// <summary>The layer is inflated beside the copy and its uncompressed bytes hashed ("checked now").</summary>
    Inflate,

    /// <summary>
    /// The cache vouches for it ("checked by the cache"): an earlier run inflated the bytes of this compressed digest
    /// and found exactly the config's diff_id. The compressed bytes must still be hashed as they are copied.
    /// </summary>
    Cache,
}

/// <summary>
/// A small persistent cache, one per user, of layers whose diff_id was verified: once a layer's compressed bytes have
/// been inflated and found to hash to its config's diff_id, the pair (<c>sha256:gzip…</c> → <c>sha256:diff…</c>, with
/// the media type) is recorded, and a later copy of the same compressed digest need not inflate it again — as
/// containers/image's blob-info cache records compressed/uncompressed pairs.
/// <para>
/// <b>What a hit means.</b> Decompression is deterministic, so bytes that hash to the compressed digest inflate to the
/// same diff_id every time. The cache therefore replaces only the inflate, never the compressed-digest check: a layer is
/// <see cref="DiffIdCheck.Cache"/> only when the cached diff_id <i>equals</i> the config's, and its compressed bytes must
/// still hash to the compressed digest as they are copied (bytes that do not are an error exactly as without the
/// cache). A cached diff_id that differs from the config's is not an error by itself: the layer is inflated, and the
/// inflate decides (a pair that inflates fine then replaces the cached one). A cache that is missing, cut short, damaged
/// or unreadable only means more inflating.
/// </para>
/// <para>
/// <b>What the cache cannot catch.</b> A well-formed pair written by someone who can write the file (<c>C → X</c> where
/// the bytes of <c>C</c> really inflate to <c>Y</c>) would let a layer whose config says <c>X</c> through unchecked. The
/// per-line check only detects damage; what guards against a forged pair is that the cache is trusted only when its
/// directory and file are owned by this user and writable by nobody else (otherwise it is not used, with one warning),
/// that the directory is created 0700 and the file 0600, and that <c>ferry verify</c> never consults it.
/// </para>
/// <para>
/// <b>Where.</b> <c>$FERRY_CACHE_DIR</c> when set (empty: no cache), else <c>$XDG_CACHE_HOME/ferry</c> (an absolute
/// path; a relative one is ignored, as the XDG spec says), else <c>~/.cache/ferry</c>; the file is
/// <c>verified-layers-v1</c> in it (its format: <see cref="CacheFormat"/>), beside <c>verified-layers-v1.lock</c>.
/// </para>
/// <para>
/// <b>Bounded.</b> At most <see cref="DefaultMaxEntries"/> pairs (a full file is about 21 MB; loading it takes well
/// under a second); when a write would exceed it, the pairs least recently recorded or used are dropped. A file is read
/// only up to <see cref="ReadLimit"/> bytes, whatever it says its size is.
/// </para>
/// <para>
/// <b>Hostile paths.</b> A symbolic link, FIFO, device or directory where the file or lock file should be, or a cache
/// owned or writable by someone else, is never followed, read, waited on or replaced: the cache is not used for the
/// run, with one warning. A read-only directory or file leaves lookups working and drops records, with one debug note.
/// </para>
/// <para>
/// <b>Concurrent runs.</b> The file is read without a lock (it is only ever replaced whole, by rename, so a reader sees
/// the old file or the new one). <see cref="Flush"/> takes an exclusive <c>flock</c> on the lock file (released by the
/// kernel if the holder dies), reads the file again, merges this run's pairs into what is there (so two runs' records are
/// both kept), writes a 0600 temp file beside it, flushes it to disk and renames it over the file. A lock not had within
/// <see cref="LockWait"/> drops this run's records (one debug note).
/// </para>
/// <para>Thread-safe: a copy looks up and records from parallel transfers.</para>
/// </summary>
internal sealed class VerifiedLayerCache : IDisposable
{
    /// <summary>The cache file's name (the format's version is in it: a new format gets a new file).</summary>
    public const string FileName = "verified-layers-v1";

    /// <summary>The variable that moves the cache (<c>FERRY_CACHE_DIR=/path</c>) or turns it off (<c>FERRY_CACHE_DIR=</c>).</summary>
    public const string EnvironmentVariable = "FERRY_CACHE_DIR";

    /// <summary>The most pairs kept.</summary>
    public const int DefaultMaxEntries = 100_000;

    /// <summary>The most bytes of the file read (a full file of the longest lines is under 30 MiB).</summary>
    public const int ReadLimit = 32 << 20;

    /// <summary>A pair vouched for a layer gets its "last used" time renewed when it is older than this (so a run that only hits rarely writes).</summary>
    private const long RefreshSeconds = 24 * 60 * 60;

    private readonly Lock _gate = new();
    private readonly int _maxEntries;
    private readonly TimeProvider _time;
    private readonly Action<string>? _warn;
    private readonly Action<string>? _debug;
    private readonly Dictionary<string, string> _mediaTypes = new(StringComparer.Ordinal);
    private readonly Dictionary<CacheKey, CacheEntry> _recorded = [];
    private readonly Dictionary<CacheKey, CacheEntry> _touched = [];
    private Dictionary<CacheKey, CacheEntry>? _entries;
    private bool _repair;
    private bool _refused;
    private bool _unwritable;
    private bool _warned;
    private bool _noted;

    /// <summary>A cache that knows nothing and keeps nothing (<c>--no-cache</c>, <c>FERRY_CACHE_DIR=</c>).</summary>
    public static VerifiedLayerCache Disabled { get; } = new(null);

    /// <summary>A cache in <paramref name="directory"/> (created 0700 at the first write); <see cref="Disabled"/> when null or empty.</summary>
    /// <param name="directory">The cache directory, e.g. <see cref="DefaultDirectory"/>.</param>
    /// <param name="warn">Receives at most one warning for people: the cache was refused (a link, a FIFO, someone else's).</param>
    /// <param name="debug">Receives at most one debug note: the cache could not be read or written (a read-only directory).</param>
    /// <remarks>The callbacks may run on any thread that uses the cache, inside its lock: they must not call into it.</remarks>
    public static VerifiedLayerCache Open(string? directory, Action<string>? warn = null, Action<string>? debug = null) =>
        string.IsNullOrEmpty(directory) ? Disabled : new VerifiedLayerCache(directory, DefaultMaxEntries, null, warn, debug);

    /// <summary>The cache in <see cref="DefaultDirectory"/> of this process's environment.</summary>
    public static VerifiedLayerCache OpenDefault(Action<string>? warn = null, Action<string>? debug = null) => Open(DefaultDirectory(), warn, debug);

    /// <summary>
    /// Where the cache is: <c>$FERRY_CACHE_DIR</c> when set (null when it is empty: no cache; a relative path is taken
    /// from the current directory), else <c>$XDG_CACHE_HOME/ferry</c> when that is absolute, else <c>$HOME/.cache/ferry</c>
    /// (on Windows <c>%LOCALAPPDATA%\ferry\cache</c>); null when there is no home.
    /// </summary>
    /// <param name="environment">Reads a variable (default: this process's environment).</param>
    public static string? DefaultDirectory(Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        if (environment(EnvironmentVariable) is string own)
            return own.Length == 0 ? null : Path.GetFullPath(own);
        if (environment("XDG_CACHE_HOME") is { Length: > 0 } xdg && Path.IsPathFullyQualified(xdg))
            return Path.Combine(xdg, "ferry");
        if (OperatingSystem.IsWindows() && environment("LOCALAPPDATA") is { Length: > 0 } local && Path.IsPathFullyQualified(local))
            return Path.Combine(local, "ferry", "cache");
        if (environment("HOME") is { Length: > 0 } home && Path.IsPathFullyQualified(home))
            return Path.Combine(home, ".cache", "ferry");
        return null;
    }

    /// <param name="directory">The cache directory; null: <see cref="Disabled"/>'s behaviour.</param>
    /// <param name="maxEntries">The most pairs kept.</param>
    /// <param name="time">The clock for "last used" (tests).</param>
    /// <param name="warn">See <see cref="Open"/>.</param>
    /// <param name="debug">See <see cref="Open"/>.</param>
    internal VerifiedLayerCache(string? directory, int maxEntries = DefaultMaxEntries, TimeProvider? time = null, Action<string>? warn = null, Action<string>? debug = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxEntries, 1);
        Location = directory is null ? null : Path.GetFullPath(directory);
        _maxEntries = maxEntries;
        _time = time ?? TimeProvider.System;
        _warn = warn;
        _debug = debug;
    }

    /// <summary>The cache directory; null for a disabled cache.</summary>
    public string? Location { get; }

    /// <summary>The cache file; null for a disabled cache.</summary>
    public string? FilePath => Location is null ? null : Path.Combine(Location, FileName);

    private string LockPath => FilePath + ".lock";

    /// <summary>Whether lookups can hit: a directory is set and the cache was not refused (a link, a FIFO, someone else's).</summary>
    public bool IsEnabled => Location is not null && !_refused;

    /// <summary>How long <see cref="Flush"/> waits for another run's write.</summary>
    internal TimeSpan LockWait { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Lines dropped when the file was last read (damaged, cut, conflicting): for tests.</summary>
    internal int DroppedLines { get; private set; }

    /// <summary>
    /// How the diff_id of the compressed layer <paramref name="compressed"/> (<paramref name="mediaType"/>) is to be
    /// checked against the config's <paramref name="configDiffId"/>: <see cref="DiffIdCheck.Cache"/> only when the cache
    /// holds exactly this pair; otherwise (no pair, a different diff_id, a digest that is not SHA-256, no cache)
    /// <see cref="DiffIdCheck.Inflate"/>. Never throws for the cache's sake: an unreadable cache is an empty one.
    /// </summary>
    public DiffIdCheck Check(Digest compressed, string mediaType, Digest configDiffId)
    {
        if (!Sha256Hash.TryFrom(configDiffId, out var diffId) || !TryKey(compressed, mediaType, out var key))
            return DiffIdCheck.Inflate;
        lock (_gate)
        {
            if (Find(key) is not { } entry || entry.DiffId != diffId)
                return DiffIdCheck.Inflate;
            long now = Now;
            if (now - entry.Stamp >= RefreshSeconds && !_unwritable)
                _touched[key] = new CacheEntry(diffId, now);
            return DiffIdCheck.Cache;
        }
    }

    /// <summary>The diff_id the cache holds for <paramref name="compressed"/> (<paramref name="mediaType"/>), or null.</summary>
    public Digest? DiffIdOf(Digest compressed, string mediaType)
    {
        if (!TryKey(compressed, mediaType, out var key))
            return null;
        lock (_gate)
            return Find(key)?.DiffId.ToDigest();
    }

    /// <summary>
    /// Records that the bytes of <paramref name="compressed"/> (<paramref name="mediaType"/>) were just inflated and
    /// hashed to <paramref name="diffId"/>. Call it only when both checks passed: the compressed bytes hashed to
    /// <paramref name="compressed"/> and the uncompressed ones to <paramref name="diffId"/> (<see cref="RecordAtEnd"/>
    /// does it at the right moment). It replaces any pair held for the layer. Kept in memory until <see cref="Flush"/>.
    /// A pair that cannot be kept (not SHA-256, a media type with parameters, an uncompressed layer whose digest is its
    /// diff_id, a disabled or read-only cache) is ignored.
    /// </summary>
    public void Record(Digest compressed, string mediaType, Digest diffId)
    {
        if (compressed == diffId || !Sha256Hash.TryFrom(diffId, out var hash) || !TryKey(compressed, mediaType, out var key))
            return;
        lock (_gate)
        {
            if (Location is null || _refused || _unwritable)
                return;
            var entry = new CacheEntry(hash, Now);
            _recorded[key] = entry;
            _touched.Remove(key);
            if (_entries is not null)
                _entries[key] = entry;
        }
    }

    /// <summary>Every pair known to this instance (the file as read, with this run's records), in file order: for tests and inspection.</summary>
    internal IReadOnlyList<(Digest Compressed, string MediaType, Digest DiffId, long LastUsed)> Snapshot()
    {
        lock (_gate)
        {
            _ = Find(default);
            return (_entries ?? []).OrderBy(kv => kv.Key).Select(kv => (kv.Key.Compressed.ToDigest(), kv.Key.MediaType, kv.Value.DiffId.ToDigest(), kv.Value.Stamp)).ToList();
        }
    }

    /// <summary>
    /// <paramref name="checkedLayer"/>, read through: when a read reaches its end — which it does only once both the
    /// compressed digest and the diff_id were verified (a <see cref="DiffIdVerifyingStream"/> over the copy's
    /// <see cref="VerifyingStream"/>, which throw at the end otherwise) — the pair is <see cref="Record"/>ed. A layer
    /// not read to its end, or whose check threw, records nothing.
    /// </summary>
    public Stream RecordAtEnd(Stream checkedLayer, Digest compressed, string mediaType, Digest diffId) =>
        !IsEnabled ? checkedLayer : new RecordingStream(checkedLayer, () => Record(compressed, mediaType, diffId));

    /// <summary>
    /// Writes this run's pairs (and renewed "last used" times, and a repair of a damaged file) into the file, merged
    /// with what other runs wrote meanwhile; nothing when there is nothing new. Never throws for the cache's sake: a
    /// refused, read-only or long-locked cache drops them (one warning or debug note). May be called any number of times.
    /// </summary>
    public void Flush()
    {
        Dictionary<CacheKey, CacheEntry> recorded, touched;
        bool repair;
        lock (_gate)
        {
            if (Location is null || _refused || _unwritable || (_recorded.Count == 0 && _touched.Count == 0 && !_repair))
            {
                _recorded.Clear();
                _touched.Clear();
                return;
            }
            recorded = new Dictionary<CacheKey, CacheEntry>(_recorded);
            touched = new Dictionary<CacheKey, CacheEntry>(_touched);
            repair = _repair;
            _recorded.Clear();
            _touched.Clear();
            _repair = false;
        }
        try
        {
            Write(recorded, touched, repair);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            lock (_gate)
                _unwritable = true;
            Note($"{FilePath}: cannot write the verified-layer cache ({e.Message}): the layers verified by this run are not recorded");
        }
    }

    /// <summary>Flushes (see <see cref="Flush"/>).</summary>
    public void Dispose() => Flush();

    private long Now => _time.GetUtcNow().ToUnixTimeSeconds();

    private bool TryKey(Digest compressed, string mediaType, out CacheKey key)
    {
        key = default;
        if (Location is null || !Sha256Hash.TryFrom(compressed, out var hash) || !CacheFormat.IsValidMediaType(mediaType))
            return false;
        lock (_gate)
            key = new CacheKey(hash, Intern(mediaType));
        return true;
    }

    private string Intern(ReadOnlySpan<char> mediaType)
    {
        var lookup = _mediaTypes.GetAlternateLookup<ReadOnlySpan<char>>();
        if (lookup.TryGetValue(mediaType, out var known))
            return known;
        string s = mediaType.ToString();
        _mediaTypes[s] = s;
        return s;
    }

    /// <summary>The pair held for <paramref name="key"/> (the file read at the first lookup). Under <see cref="_gate"/>.</summary>
    private CacheEntry? Find(CacheKey key)
    {
        if (Location is null || _refused)
            return null;
        if (_entries is null)
        {
            var contents = Read(underLock: false);
            _entries = contents?.Entries ?? [];
            foreach (var (k, e) in _recorded)
                _entries[k] = e;
            if (contents is { NeedsRepair: true })
                _repair = true;
        }
        return _entries.TryGetValue(key, out var entry) ? entry : null;
    }

    /// <summary>
    /// Reads the file: its pairs (none when it or the directory is missing); null when it cannot be used — refused
    /// (<see cref="_refused"/> set, one warning) or unreadable (one debug note). Called under <see cref="_gate"/> or by
    /// the one flushing thread.
    /// </summary>
    private CacheContents? Read(bool underLock)
    {
        string dir = Location!, file = FilePath!;
        if (CacheFiles.StatPath(dir, out int errno) is not { } dirStatus)
        {
            if (errno is 2 or 20 || !OperatingSystem.IsLinux()) // ENOENT, ENOTDIR: no cache yet
                return Empty();
            Note($"{dir}: cannot read the verified-layer cache directory ({System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(errno)})");
            return null;
        }
        if (DirectoryProblem(dir, dirStatus) is string why)
            return Refuse(why);
        Microsoft.Win32.SafeHandles.SafeFileHandle handle;
        FileKind kind;
        try
        {
            (handle, kind, _) = LocalFiles.OpenRead(file, follow: false);
        }
        catch (FileNotFoundException)
        {
            return Empty();
        }
        catch (DirectoryNotFoundException)
        {
            return Empty();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            if (LocalFiles.KindOf(file, follow: false) == FileKind.Symlink)
                return Refuse($"{file} is a symbolic link (it is not followed)");
            Note($"{file}: cannot read the verified-layer cache ({e.Message})");
            return null;
        }
        using (handle)
        {
            if (kind != FileKind.Regular)
                return Refuse($"{file} is {LocalFiles.Describe(kind)}, not a regular file");
            if (CacheFiles.StatHandle(handle) is { } status && CacheFiles.Distrust(status) is string whyFile)
                return Refuse($"{file}: {whyFile}");
            byte[] buffer;
            int length;
            try
            {
                (buffer, length) = ReadBounded(handle);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Note($"{file}: cannot read the verified-layer cache ({e.Message})");
                return null;
            }
            var contents = CacheFormat.Parse(buffer.AsSpan(0, Math.Min(length, ReadLimit)), cut: length > ReadLimit, InternLocked);
            if (!underLock)
                DroppedLines = contents.DroppedLines;
            return contents;
        }

        CacheContents Empty() => new([], 0, false);
    }

    /// <summary>Why the cache directory cannot be used: not a directory, or someone else's (see <see cref="CacheFiles.Distrust"/>).</summary>
    private static string? DirectoryProblem(string dir, CacheFiles.Status status) =>
        status.Kind != FileKind.Directory ? $"{dir} is {LocalFiles.Describe(status.Kind)}, not a directory"
        : CacheFiles.Distrust(status) is string why ? $"{dir}: {why}" : null;

    private string InternLocked(ReadOnlySpan<char> mediaType)
    {
        lock (_gate)
            return Intern(mediaType);
    }

    /// <summary>Up to <see cref="ReadLimit"/> + 1 bytes of the file, however long it says it is.</summary>
    private static (byte[] Buffer, int Length) ReadBounded(Microsoft.Win32.SafeHandles.SafeFileHandle handle)
    {
        long claimed = RandomAccess.GetLength(handle);
        byte[] buffer = new byte[(int)Math.Clamp(claimed + 1, 4096, ReadLimit + 1L)];
        int length = 0;
        while (length < ReadLimit + 1)
        {
            if (length == buffer.Length)
                Array.Resize(ref buffer, (int)Math.Min(buffer.Length * 2L, ReadLimit + 1L));
            int n = RandomAccess.Read(handle, buffer.AsSpan(length), length);
            if (n <= 0)
                break;
            length += n;
        }
        return (buffer, length);
    }

    private CacheContents? Refuse(string why)
    {
        lock (_gate)
        {
            _refused = true;
            _entries = [];
            _recorded.Clear();
            _touched.Clear();
            if (_warned)
                return null;
            _warned = true;
        }
        _warn?.Invoke($"warning: {why}: the verified-layer cache is not used (layers are inflated to check their diff_id)");
        return null;
    }

    private void Note(string message)
    {
        lock (_gate)
        {
            if (_noted)
                return;
            _noted = true;
        }
        _debug?.Invoke(message);
    }

    /// <summary>Merges into the file under the lock: see the class's remarks.</summary>
    private void Write(Dictionary<CacheKey, CacheEntry> recorded, Dictionary<CacheKey, CacheEntry> touched, bool repair)
    {
        string dir = Location!, file = FilePath!;
        if (LocalFiles.KindOf(dir, follow: true) == FileKind.Missing)
        {
            if (OperatingSystem.IsWindows())
                Directory.CreateDirectory(dir);
            else
                Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        if (CacheFiles.StatPath(dir, out _) is { } dirStatus && DirectoryProblem(dir, dirStatus) is string why)
        {
            Refuse(why);
            return;
        }
        Microsoft.Win32.SafeHandles.SafeFileHandle lockHandle;
        try
        {
            lockHandle = CacheFiles.OpenLock(LockPath);
        }
        catch (IOException e) when (LocalFiles.KindOf(LockPath, follow: false) is FileKind.Symlink or FileKind.Directory || LocalFiles.IsSpecial(LocalFiles.KindOf(LockPath, follow: false)))
        {
            Refuse(e.Message);
            return;
        }
        using (lockHandle)
        {
            if (!WaitForLock(lockHandle))
            {
                Note($"{LockPath}: another ferry held the verified-layer cache for {LockWait.TotalSeconds:0} s: the layers verified by this run are not recorded");
                return;
            }
            var current = Read(underLock: true);
            if (current is null)
                return; // refused (warned) or unreadable (noted): never overwrite what could not be read
            var merged = current.Entries;
            bool changed = repair || current.NeedsRepair;
            foreach (var (key, entry) in recorded)
            {
                if (!merged.TryGetValue(key, out var had) || had != entry)
                {
                    merged[key] = entry;
                    changed = true;
                }
            }
            foreach (var (key, entry) in touched)
            {
                if (merged.TryGetValue(key, out var had) && had.DiffId == entry.DiffId && had.Stamp < entry.Stamp)
                {
                    merged[key] = entry;
                    changed = true;
                }
            }
            if (merged.Count > _maxEntries)
            {
                foreach (var old in merged.OrderBy(kv => kv.Value.Stamp).ThenBy(kv => kv.Key).Take(merged.Count - _maxEntries).Select(kv => kv.Key).ToList())
                    merged.Remove(old);
                changed = true;
            }
            if (changed)
                Replace(dir, file, CacheFormat.Write(merged));
            lock (_gate)
            {
                // What other runs recorded is now known here too (this run's later records stay on top).
                foreach (var (k, e) in _recorded)
                    merged[k] = e;
                _entries = merged;
            }
        }
    }

    private bool WaitForLock(Microsoft.Win32.SafeHandles.SafeFileHandle handle)
    {
        long deadline = Environment.TickCount64 + (long)LockWait.TotalMilliseconds;
        int pause = 2;
        while (!CacheFiles.TryLock(handle, LockPath))
        {
            if (Environment.TickCount64 >= deadline)
                return false;
            Thread.Sleep(pause);
            pause = Math.Min(pause * 2, 50);
        }
        return true;
    }

    /// <summary>Writes <paramref name="bytes"/> to a 0600 temp file beside <paramref name="file"/>, to disk, and renames it over the file.</summary>
    private void Replace(string dir, string file, byte[] bytes)
    {
        var kind = LocalFiles.KindOf(file, follow: false);
        if (kind is not (FileKind.Regular or FileKind.Missing))
        {
            Refuse($"{file} is {LocalFiles.Describe(kind)}, not a regular file");
            return;
        }
        string temp = TemporaryFiles.New(dir, $".{FileName}.", "", ".tmp");
        try
        {
            using (var fs = LocalFiles.CreatePrivate(temp, bufferSize: 0, options: FileOptions.None))
            {
                fs.Write(bytes);
                fs.Flush(flushToDisk: true);
            }
            File.Move(temp, file, overwrite: true);
            TemporaryFiles.Unregister(temp);
        }
        catch
        {
            TemporaryFiles.Delete(temp);
            throw;
        }
    }

    /// <summary>A read-through stream that runs an action once, when a read reports the end.</summary>
    private sealed class RecordingStream(Stream inner, Action atEnd) : Archive.ReadOnlyStream
    {
        private bool _ended;
        private bool _disposed;

        public override int Read(Span<byte> buffer)
        {
            int n = inner.Read(buffer);
            End(n, buffer.Length);
            return n;
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            int n = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            End(n, buffer.Length);
            return n;
        }

        private void End(int n, int asked)
        {
            if (n == 0 && asked > 0 && !_ended)
            {
                _ended = true;
                atEnd();
            }
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing && !_disposed)
            {
                _disposed = true;
                inner.Dispose();
            }
            base.Dispose(disposing);
        }

        public override async ValueTask DisposeAsync()
        {
            // Once: the base's DisposeAsync calls Dispose(true), and not every inner stream may be disposed twice.
            if (!_disposed)
            {
                _disposed = true;
                await inner.DisposeAsync().ConfigureAwait(false);
            }
            await base.DisposeAsync().ConfigureAwait(false);
        }
    }
}
