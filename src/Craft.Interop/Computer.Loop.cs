// The computer's one thread: it owns the core's state and the Lua state. Other threads (Kestrel's,
// timers', the host's) only post inputs to the mailbox. Every input goes through Core.step, and
// the effects it returns are carried out here, in order.

using System.Collections.Concurrent;
using System.Diagnostics;
using KeraLua;
using Microsoft.FSharp.Core;

namespace Craft.Interop;

public sealed partial class Computer
{
    private readonly Mailbox _mailbox = new();

    private readonly ConcurrentDictionary<long, object?[]> _hostPayloads = new();
    // How many entries _hostPayloads holds: asked once per event, and an empty
    // ConcurrentDictionary's IsEmpty takes all its locks.
    private long _hostPayloadCount;
    private long _nextPayload;

    private TaskCompletionSource<int>? _completion;
    private Thread? _thread;
    private volatile bool _aborting;
    private readonly long _startTimestamp = Stopwatch.GetTimestamp();

    // Owned by the computer's thread.
    private Craft.State _state = null!;
    private Craft.Event? _delivered;
    private Craft.Reply? _reply;
    private long _discarded = -1;
    private bool _shutdownRequested;
    private int _shutdownCode;
    private bool _rebootRequested;
    // The watchdog's clock: Environment.TickCount64 (milliseconds, coarse and cheap: it is read
    // once per event).
    private long _resumedAt;
    private long _runawayMillis;

    private Task<int> Launch(byte[] source, string chunkName, IReadOnlyList<string> args, CancellationToken cancellationToken)
    {
        _completion = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        _state = Craft.Core.initial(_options.ToLimits());
        _runawayMillis = (long)Math.Ceiling(_options.RunawayTimeout.TotalMilliseconds);
        if (cancellationToken.CanBeCanceled)
            cancellationToken.Register(static c => ((Computer)c!).Post(Craft.Input.Terminate), this);

        _thread = new Thread(() => Main(source, chunkName, args), 16 * 1024 * 1024)
        {
            IsBackground = true,
            Name = "craft-computer",
        };
        _thread.Start();
        return _completion.Task;
    }

    /// <summary>Posts an input for the computer's thread. Safe from any thread.</summary>
    internal void Post(Craft.Input input) => _mailbox.Post(input);

    private void PostHostEvent(string name, object?[] args)
    {
        // Event names travel as Lua bytes, one char per byte; a host's name is text, sent as UTF-8
        // like its string parameters.
        if (!System.Text.Ascii.IsValid(name))
            name = System.Text.Encoding.Latin1.GetString(System.Text.Encoding.UTF8.GetBytes(name));
        var id = Interlocked.Increment(ref _nextPayload);
        _hostPayloads[id] = args;
        Interlocked.Increment(ref _hostPayloadCount);
        Post(Craft.Input.NewQueueEvent(name, id, Craft.Origin.Host));
    }

    private void Abort()
    {
        _aborting = true;
        _mailbox.Post(Craft.Input.NewTick(Now()));
        if (_completion is null && Interlocked.Exchange(ref _started, 1) == 0)
        {
            // Never started: nothing to release.
        }
    }

    private long Now() => (long)Stopwatch.GetElapsedTime(_startTimestamp).TotalMilliseconds;

    private void Main(byte[] source, string chunkName, IReadOnlyList<string> args)
    {
        // os.reboot(): the same script again in a fresh computer, once every port is released.
        while (RunOnce(source, chunkName, args, out _))
        {
            _shutdownRequested = _rebootRequested = false;
            _shutdownCode = 0;
            _state = Craft.Core.initial(_options.ToLimits());
            _responses.Clear();
            _handshakeHeaders.Clear();
            _hostPayloads.Clear();
            Interlocked.Exchange(ref _hostPayloadCount, 0);
        }
    }

    /// <summary>Runs the script once; true when it asked to reboot.</summary>
    private bool RunOnce(byte[] source, string chunkName, IReadOnlyList<string> args, out int exitCode)
    {
        exitCode = 1;
        LuaRuntime? runtime = null;
        try
        {
            runtime = new LuaRuntime(this, _options);
            exitCode = Run(runtime, source, chunkName, args);
        }
        catch (Exception e)
        {
            // A bug in Craft, not in the script: say so plainly.
            SafeWriteError($"craft: internal error: {e}\n");
            exitCode = 1;
        }
        finally
        {
            try
            {
                Apply(Craft.Input.Shutdown);
                ShutdownNetwork();
            }
            catch (Exception e)
            {
                SafeWriteError($"craft: internal error while shutting down: {e}\n");
            }

            runtime?.Dispose();
            try { _options.Output.Flush(); } catch { }
        }
        if (_rebootRequested && !_aborting) return true;
        LogEnded(chunkName, exitCode);
        _completion!.TrySetResult(exitCode);
        return false;
    }

    private int Run(LuaRuntime runtime, byte[] source, string chunkName, IReadOnlyList<string> args)
    {
        var kernel = runtime.Thread;
        if (!runtime.LoadScript(source, chunkName, out var loadError))
        {
            ScriptFailed(chunkName, loadError);
            return 1;
        }

        foreach (var arg in args) runtime.PushText(kernel, arg);

        // Two coroutines take turns here: the kernel, resumed with network events (it turns them
        // into handles for the script), and the script's own coroutine, resumed straight with
        // every other event. Whichever was resumed last is `current`.
        Lua? script = null;
        var current = kernel;
        _resumedAt = Environment.TickCount64;
        var status = kernel.Resume(null, 1 + args.Count, out int results);
        while (true)
        {
            switch (status)
            {
                case LuaStatus.Yield:
                    if (current == kernel)
                    {
                        // The kernel waits: it yields (the script's coroutine, the script's filter).
                        script ??= kernel.ToThread(-results);
                        runtime.KeepFilter(kernel, results >= 2 ? -results + 1 : 0);
                    }
                    else
                    {
                        runtime.KeepFilter(current, results >= 1 ? -results : 0);
                    }
                    current.Pop(results);
                    if (_shutdownRequested) return _shutdownCode;

                    int n;
                    while (true)
                    {
                        var next = NextEvent();
                        if (next is null) return 0;
                        _peripherals.ApplyPending();
                        if (!LuaRuntime.IsDirect(next))
                        {
                            current = kernel;
                            n = runtime.PushForKernel(kernel, next);
                            break;
                        }
                        if (runtime.Wanted(next))
                        {
                            current = script!;
                            n = runtime.PushDirect(script!, next);
                            break;
                        }
                        runtime.Drop(next);
                    }
                    _resumedAt = Environment.TickCount64;
                    status = current.Resume(null, n, out results);
                    break;

                case LuaStatus.OK when current == kernel:
                    // The kernel returns true, or false and the script's error.
                    bool ok = results >= 1 && kernel.ToBoolean(-results);
                    if (ok) return 0;
                    runtime.FinishTerminal();
                    ScriptFailed(chunkName, runtime.Describe(kernel, -results + 1));
                    return 1;

                case LuaStatus.OK:
                    // The script's coroutine ended: it returns (marker, succeeded, error).
                    if (results >= 2 && current.ToBoolean(-results + 1)) return 0;
                    runtime.FinishTerminal();
                    ScriptFailed(chunkName, runtime.Describe(current, results >= 3 ? -results + 2 : -1));
                    return 1;

                default:
                    runtime.FinishTerminal();
                    ScriptFailed(chunkName, runtime.Describe(current, -1));
                    return 1;
            }
        }
    }

    /// <summary>Waits for the next event the core delivers; null when the computer must stop.</summary>
    private Craft.Event? NextEvent()
    {
        // When the queue already holds events, the script would take the next one without the
        // loop below ever reading the mailbox or the clock: a script that keeps queueing its own
        // events (the CraftOS "queue, then pull" idiom) would never see a timer or a request.
        // In CraftOS they are queued when they happen, so let them in first.
        // The core's clock is brought up to date before the mailbox's inputs are applied: a
        // request's deadline counts from the core's "now", which must not be the time of the last
        // tick (the computer may have waited or run for seconds since).
        if (!_state.Queue.IsEmpty
            && (!_mailbox.IsEmpty || Craft.Core.nextWake(_state) is { } due && due.Value <= Now()))
        {
            CatchUpClock();
            DrainMailbox();
        }

        Apply(Craft.Input.PullEvent);
        PublishRoom();
        while (_delivered is null)
        {
            if (_aborting) return null;
            CatchUpClock();
            if (_delivered is not null) break;

            while (_delivered is null && _mailbox.TryRead(out var input))
                ApplyPosted(input);
            if (_delivered is not null || _aborting) break;
            PublishRoom();

            var wake = Craft.Core.nextWake(_state);
            int timeout = Timeout.Infinite;
            if (wake is not null)
            {
                long wait = wake.Value - Now();
                if (wait <= 0) continue;
                timeout = (int)Math.Min(wait + 1, int.MaxValue);
            }

            _mailbox.Wait(timeout);
        }

        var e = _delivered;
        _delivered = null;
        return _aborting ? null : e;
    }

    /// <summary>Steps the core with one input and carries out its effects.</summary>
    internal void Apply(Craft.Input input)
    {
        var (next, effects) = Craft.Core.step(input, _state);
        _state = next;
        for (var list = effects; !list.IsEmpty; list = list.Tail)
            Execute(list.Head);
    }

    /// <summary>
    /// Applies every input already posted. Called after a port's socket is released: the requests
    /// that socket already posted must meet the state that released it (they get 503), not a
    /// listener the script adds later on the same port number.
    /// </summary>
    internal void DrainMailbox()
    {
        while (_mailbox.TryRead(out var input)) ApplyPosted(input);
    }

    /// <summary>
    /// Applies an input from the mailbox. A request is the shell's until the computer takes it:
    /// one the shell already answered (it waited past its deadline while the computer was busy)
    /// never reaches the core.
    /// </summary>
    private void ApplyPosted(Craft.Input input)
    {
        if (input is Craft.Input.RequestArrived r && _shell is { } shell && !shell.Claim(r.request)) return;
        Apply(input);
    }

    /// <summary>Tells the shell how many more requests the core can take (room in its queue and
    /// backlog), so that requests beyond it are refused at once even while the computer is busy.</summary>
    private void PublishRoom()
    {
        if (_shell is not { } shell) return;
        var s = _state;
        shell.SetRoom(s.Limits.QueueCapacity - s.Queue.Count + s.Limits.BacklogCapacity - s.Backlog);
    }

    /// <summary>Steps the core with a script's request and returns the core's reply to it.</summary>
    internal Craft.Reply? Ask(Craft.Input input)
    {
        _reply = null;
        Apply(input);
        var reply = _reply;
        _reply = null;
        return reply;
    }

    private void Execute(Craft.Effect effect)
    {
        switch (effect)
        {
            case Craft.Effect.Deliver d:
                _delivered = d.@event;
                break;
            case Craft.Effect.Reply r:
                _reply = r.reply;
                break;
            case Craft.Effect.Discard d:
                _discarded = d.payload;
                if (_hostPayloads.TryRemove(d.payload, out _)) Interlocked.Decrement(ref _hostPayloadCount);
                break;
            default:
                ExecuteNetwork(effect);
                break;
        }
    }

    // ---- Natives' side of the loop (called on the computer's thread only) ----

    /// <summary>os.queueEvent: the payload id, or -1 when the queue was full and it was dropped.</summary>
    internal long QueueScriptEvent(string name)
    {
        var id = Interlocked.Increment(ref _nextPayload);
        _discarded = -1;
        Apply(Craft.Input.NewQueueEvent(name, id, Craft.Origin.Script));
        return _discarded == id ? -1 : id;
    }

    /// <summary>Brings the core's clock up to date, for an input whose effect counts from "now"
    /// (a timer's delay, a flush's fresh deadline) while the script has been running. Within the
    /// same millisecond, with nothing due, the tick would change nothing and is not made.</summary>
    internal void CatchUpClock()
    {
        var now = Now();
        if (now > _state.Now || Craft.Core.nextWake(_state) is { } due && due.Value <= now)
            Apply(Craft.Input.NewTick(now));
    }

    internal int StartTimer(double seconds)
    {
        CatchUpClock();
        long ms = double.IsNaN(seconds) || seconds <= 0 ? 0 : (long)Math.Ceiling(Math.Min(seconds, 1e12) * 1000);
        return Ask(Craft.Input.NewStartTimer(ms)) is Craft.Reply.TimerStarted started ? started.timer : -1;
    }

    internal void CancelTimer(int id) => Apply(Craft.Input.NewCancelTimer(id));

    internal double Clock() => Stopwatch.GetElapsedTime(_startTimestamp).TotalSeconds;

    /// <summary>os.shutdown(code) / os.reboot(): the script ends at its next yield.</summary>
    internal void RequestShutdown(int code, bool reboot)
    {
        _shutdownRequested = true;
        _shutdownCode = code;
        _rebootRequested = reboot;
    }

    /// <summary>The script waited for the host (read()), which is not running: restart the watchdog.</summary>
    internal void RestartWatchdog() => _resumedAt = Environment.TickCount64;

    /// <summary>Why the script must stop now (the runaway watchdog), or null.</summary>
    internal string? Expired()
    {
        if (_aborting) return "Computer is shutting down";
        return Environment.TickCount64 - _resumedAt > _runawayMillis ? "Too long without yielding" : null;
    }

    internal bool IsClientOpen(long client) => Craft.Core.isOpen(client, _state);

    internal bool HasHostPayloads => Volatile.Read(ref _hostPayloadCount) != 0;

    internal object?[]? TakeHostPayload(long id)
    {
        if (!_hostPayloads.TryRemove(id, out var args)) return null;
        Interlocked.Decrement(ref _hostPayloadCount);
        return args;
    }

    internal void SafeWriteError(string text)
    {
        try
        {
            _options.Error.Write(text);
            _options.Error.Flush();
        }
        catch
        {
            // A closed standard error must not take the computer down.
        }
    }
}
