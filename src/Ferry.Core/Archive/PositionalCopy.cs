using System.Buffers;
using Microsoft.Win32.SafeHandles;

namespace Ferry.Archive;

/// <summary>
/// Copies a stream into a file at an offset, with two buffers: the next chunk is read (and hashed, when the source is a
/// verifying stream) while the previous one is being written, so one blob keeps a reader and a writer busy.
/// </summary>
internal static class PositionalCopy
{
    /// <summary>Bytes per read and per write.</summary>
    public const int ChunkSize = 1 << 20;

    /// <summary>
    /// Copies exactly <paramref name="size"/> bytes of <paramref name="source"/>, read to its end (so a verifying stream
    /// checks its digest), to <paramref name="file"/> at <paramref name="offset"/>. A source shorter or longer than
    /// <paramref name="size"/> is a <see cref="DigestMismatchException"/> naming <paramref name="name"/>.
    /// </summary>
    public static async Task CopyAsync(Stream source, SafeFileHandle file, long offset, long size, string name, CancellationToken cancellationToken)
    {
        byte[] reading = ArrayPool<byte>.Shared.Rent(ChunkSize);
        byte[] writing = ArrayPool<byte>.Shared.Rent(ChunkSize);
        Task? pending = null;
        try
        {
            long copied = 0;
            int n;
            while ((n = await source.ReadAtLeastAsync(reading.AsMemory(0, ChunkSize), ChunkSize, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false)) > 0)
            {
                if (copied + n > size)
                    throw new DigestMismatchException($"{name}: content is longer than its declared size {size}");
                if (pending is not null)
                    await pending.ConfigureAwait(false);
                pending = RandomAccess.WriteAsync(file, reading.AsMemory(0, n), offset + copied, cancellationToken).AsTask();
                copied += n;
                (reading, writing) = (writing, reading);
            }
            if (pending is not null)
            {
                var last = pending;
                pending = null;
                await last.ConfigureAwait(false);
            }
            if (copied != size)
                throw new DigestMismatchException($"{name}: content is {copied} bytes, declared size is {size}");
        }
        finally
        {
            if (pending is not null)
            {
                // A buffer goes back to the pool only once nothing writes from it.
                try
                {
                    await pending.ConfigureAwait(false);
                }
                catch (Exception)
                {
                    // already failing
                }
            }
            ArrayPool<byte>.Shared.Return(reading);
            ArrayPool<byte>.Shared.Return(writing);
        }
    }
}
