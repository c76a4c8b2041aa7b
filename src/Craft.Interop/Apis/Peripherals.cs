// The natives behind Lua/peripheral.lua, and the host's side: Computer.AttachPeripheral and
// DetachPeripheral.
//
// A headless computer has no peripherals; a C# host attaches objects as peripherals on named sides.
// Attach and detach may come from any thread: they are queued, and the computer's thread applies
// them (before it hands the script its next event, and before any peripheral native answers),
// then the script sees `peripheral(side)` / `peripheral_detach(side)`. A method runs on the
// computer's thread, called by `peripheral.call`; a detach while it runs takes effect after it.
//
// Protocol: call returns `true, results...` or `false, message` and never raises; peripheral.lua
// raises the message in the caller. Values cross as Computer.QueueEvent converts them, and back.

using System.Collections;
using System.Collections.Concurrent;
using System.Text;
using KeraLua;

namespace Craft.Interop.Apis
{

/// <summary>One attached peripheral: its type and its methods by name.</summary>
internal sealed record Peripheral(string Type, IReadOnlyDictionary<string, Func<object?[], object?[]?>> Methods);

internal sealed class Peripherals
{
    /// <summary>CraftOS's sides, in the order peripheral.getNames lists them.</summary>
    public static readonly string[] Sides = ["top", "bottom", "left", "right", "front", "back"];

    private readonly ConcurrentQueue<(string Side, Peripheral? Peripheral)> _pending = new();
    private int _pendingCount;

    // Owned by the computer's thread.
    private readonly Dictionary<string, Peripheral> _attached = new(StringComparer.Ordinal);
    private readonly List<LuaFunction> _natives = new();

    /// <summary>From any thread: attach (or, with null, detach) at the computer's next chance.</summary>
    public void Post(string side, Peripheral? peripheral)
    {
        _pending.Enqueue((side, peripheral));
        Interlocked.Increment(ref _pendingCount);
    }

    /// <summary>On the computer's thread: applies what the host posted, in order.</summary>
    public void ApplyPending()
    {
        if (Volatile.Read(ref _pendingCount) == 0) return;
        while (_pending.TryDequeue(out var change))
        {
            Interlocked.Decrement(ref _pendingCount);
            if (change.Peripheral is null) _attached.Remove(change.Side);
            else _attached[change.Side] = change.Peripheral;
        }
    }

    private Peripheral? Find(Lua s, int index)
    {
        ApplyPending();
        if (s.Type(index) != LuaType.String) return null;
        var name = Encoding.UTF8.GetString(LuaRuntime.StringSpan(s, index));
        return _attached.TryGetValue(name, out var p) ? p : null;
    }

    /// <summary>Pushes the table of peripheral natives. <paramref name="push"/> converts a .NET
    /// value to Lua as QueueEvent does.</summary>
    public void Push(Lua l, Action<Lua, object?> push)
    {
        var table = NativeTable.Push(l, _natives);
        void Add(string name, Func<Lua, int> body) => table.Add(name, p => Call(p, body));

        Add("names", s =>
        {
            ApplyPending();
            s.NewTable();
            long i = 1;
            foreach (var side in Sides)
            {
                if (!_attached.ContainsKey(side)) continue;
                s.PushString(side);
                s.RawSetInteger(-2, i++);
            }
            foreach (var name in _attached.Keys.Where(k => Array.IndexOf(Sides, k) < 0).Order(StringComparer.Ordinal))
            {
                s.PushBuffer(Encoding.UTF8.GetBytes(name));
                s.RawSetInteger(-2, i++);
            }
            return 1;
        });
        Add("isPresent", s =>
        {
            s.PushBoolean(Find(s, 1) is not null);
            return 1;
        });
        Add("getType", s =>
        {
            if (Find(s, 1) is { } p) s.PushBuffer(Encoding.UTF8.GetBytes(p.Type)); else s.PushNil();
            return 1;
        });
        Add("getMethods", s =>
        {
            if (Find(s, 1) is not { } p)
            {
                s.PushNil();
                return 1;
            }
            s.NewTable();
            long i = 1;
            foreach (var name in p.Methods.Keys.Order(StringComparer.Ordinal))
            {
                s.PushBuffer(Encoding.UTF8.GetBytes(name));
                s.RawSetInteger(-2, i++);
            }
            return 1;
        });
        // call(name, method, ...) -> true, results... | false, message
        Add("call", s =>
        {
            int n = s.GetTop();
            if (Find(s, 1) is not { } p) return Fail(s, "No peripheral attached");
            var method = Encoding.UTF8.GetString(LuaRuntime.StringSpan(s, 2));
            if (!p.Methods.TryGetValue(method, out var f)) return Fail(s, "No such method " + method);
            var args = new object?[Math.Max(0, n - 2)];
            try
            {
                for (int i = 3; i <= n; i++) args[i - 3] = ToValue(s, i, 0);
            }
            catch (ArgumentException e)
            {
                return Fail(s, e.Message);
            }
            object?[]? results;
            try
            {
                results = f(args);
            }
            catch (Exception e)
            {
                return Fail(s, (e is System.Reflection.TargetInvocationException { InnerException: { } inner } ? inner : e).Message);
            }
            results ??= [];
            s.SetTop(0);
            s.CheckStack(results.Length + 4);
            s.PushBoolean(true);
            foreach (var r in results) push(s, r);
            return 1 + results.Length;
        });
    }

    /// <summary>A Lua value as .NET sees it: null, bool, long, double, string (or byte[] when the
    /// bytes are not UTF-8), and tables as object?[] (a sequence 1..n) or
    /// Dictionary&lt;object, object?&gt;. Functions, coroutines and userdata become null.</summary>
    internal static object? ToValue(Lua s, int index, int depth)
    {
        switch (s.Type(index))
        {
            case LuaType.Boolean: return s.ToBoolean(index);
            case LuaType.Number: return s.IsInteger(index) ? (object)s.ToInteger(index) : s.ToNumber(index);
            case LuaType.String:
                {
                    var bytes = LuaRuntime.StringSpan(s, index);
                    return System.Text.Unicode.Utf8.IsValid(bytes) ? Encoding.UTF8.GetString(bytes) : bytes.ToArray();
                }
            case LuaType.Table:
                {
                    if (depth >= 32) throw new ArgumentException("Cannot pass a table nested this deeply (or recursive) to the host");
                    index = s.AbsIndex(index);
                    s.CheckStack(4);
                    var dict = new Dictionary<object, object?>();
                    long count = 0;
                    bool sequence = true;
                    s.PushNil();
                    while (s.Next(index))
                    {
                        var key = ToValue(s, -2, depth + 1);
                        var value = ToValue(s, -1, depth + 1);
                        s.Pop(1);
                        if (key is null) continue;
                        if (key is not long) sequence = false;
                        dict[key] = value;
                        count++;
                    }
                    if (sequence && count > 0)
                    {
                        var list = new object?[count];
                        for (long i = 1; i <= count; i++)
                        {
                            if (!dict.TryGetValue(i, out var v)) return dict;
                            list[i - 1] = v;
                        }
                        return list;
                    }
                    return dict;
                }
            default: return null;
        }
    }

    private static int Fail(Lua s, string message)
    {
        s.SetTop(0);
        s.PushBoolean(false);
        s.PushBuffer(Encoding.UTF8.GetBytes(message));
        return 2;
    }

    private static int Call(IntPtr p, Func<Lua, int> body)
    {
        var s = Lua.FromIntPtr(p);
        try
        {
            return body(s);
        }
        catch (Exception e)
        {
            return Fail(s, "internal error: " + e.Message);
        }
    }
}

}

namespace Craft.Interop
{
public sealed partial class Computer
{
    private readonly Apis.Peripherals _peripherals = new();
    // The host's view of what is attached, so that events pair up whatever thread calls.
    private readonly HashSet<string> _hostPeripherals = new(StringComparer.Ordinal);

    internal Apis.Peripherals Peripherals => _peripherals;

    /// <summary>
    /// Attaches a peripheral on <paramref name="side"/> (<c>"top"</c>, <c>"left"</c>, ... or any
    /// name, such as <c>"monitor_0"</c>), replacing what was there, and queues
    /// <c>peripheral(side)</c>. Scripts call it through <c>peripheral.call</c>, <c>wrap</c> and
    /// <c>find</c>. Each method is called on the computer's thread with the Lua arguments converted
    /// to .NET (nil → null, booleans, integers → long, other numbers → double, strings → string
    /// (byte[] when not UTF-8), tables → object?[] for a sequence 1..n, else
    /// Dictionary&lt;object, object?&gt;) and returns the values for Lua (null for none), converted as
    /// <see cref="QueueEvent"/> converts its parameters. An exception it throws is raised in the
    /// caller as a Lua error with the exception's message. Safe from any thread.
    /// </summary>
    public void AttachPeripheral(string side, string type, IReadOnlyDictionary<string, Func<object?[], object?[]?>> methods)
    {
        ArgumentException.ThrowIfNullOrEmpty(side);
        ArgumentException.ThrowIfNullOrEmpty(type);
        ArgumentNullException.ThrowIfNull(methods);
        var copy = new Dictionary<string, Func<object?[], object?[]?>>(methods, StringComparer.Ordinal);
        lock (_hostPeripherals)
        {
            // Replacing one is detaching it first, as CraftOS sees a swapped block.
            if (!_hostPeripherals.Add(side)) QueueEvent("peripheral_detach", side);
            _peripherals.Post(side, new Apis.Peripheral(type, copy));
            QueueEvent("peripheral", side);
        }
    }

    /// <summary>
    /// Detaches the peripheral on <paramref name="side"/> and queues <c>peripheral_detach(side)</c>;
    /// nothing when none is attached there. A call running on it finishes first. Safe from any thread.
    /// </summary>
    public void DetachPeripheral(string side)
    {
        ArgumentException.ThrowIfNullOrEmpty(side);
        lock (_hostPeripherals)
        {
            if (!_hostPeripherals.Remove(side)) return;
            _peripherals.Post(side, null);
            QueueEvent("peripheral_detach", side);
        }
    }
}
}
