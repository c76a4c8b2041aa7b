// The computer's mailbox: any thread posts inputs, the computer's thread takes them in order.

using System.Collections.Concurrent;

namespace Craft.Interop;

/// <summary>
/// A queue with one reader that sleeps on it when there is nothing to do. A post wakes the reader
/// only when it sleeps: a busy computer costs its posters (Kestrel's threads, timers, the host)
/// the enqueue and nothing else, and an idle one wakes once for a burst of posts. (A channel's
/// wait costs a task per wait and spins before it sleeps: CPU the computer's thread takes from
/// the threads that serve its connections.)
/// </summary>
internal sealed class Mailbox
{
    private readonly ConcurrentQueue<Craft.Input> _queue = new();
    private readonly object _gate = new();
    // 1 from just before the reader checks the queue for the last time until it is awake again.
    private int _sleeping;

    /// <summary>Adds an input. Safe from any thread.</summary>
    public void Post(Craft.Input input)
    {
        _queue.Enqueue(input);
        // A full fence between publishing the input and reading _sleeping (the queue's own
        // publication is a release write, which a later read may pass), as between the reader's
        // write of _sleeping and its look at the queue: either the reader sees this input before
        // it sleeps, or this sees it sleeping and wakes it.
        Interlocked.MemoryBarrier();
        if (Volatile.Read(ref _sleeping) == 1)
            lock (_gate) Monitor.Pulse(_gate);
    }

    public bool TryRead(out Craft.Input input) => _queue.TryDequeue(out input!);

    public bool IsEmpty => _queue.IsEmpty;

    /// <summary>Sleeps until an input is posted or the timeout passes (the reader's thread only).</summary>
    public void Wait(int millisecondsTimeout)
    {
        lock (_gate)
        {
            Interlocked.Exchange(ref _sleeping, 1);
            if (_queue.IsEmpty) Monitor.Wait(_gate, millisecondsTimeout);
            Volatile.Write(ref _sleeping, 0);
        }
    }
}
