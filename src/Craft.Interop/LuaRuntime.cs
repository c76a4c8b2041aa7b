// The Lua side of a computer: one native Lua 5.4 state (KeraLua), the BIOS, the kernel thread and
// the native functions the Lua wrappers call.
//
// Rules (DESIGN.md): a native never raises a Lua error and never yields; it catches every .NET
// exception; strings cross as bytes (Latin-1 maps each byte to one char and back, losslessly);
// every delegate handed to Lua is kept alive in a field for the state's lifetime.

using System.Collections;
using System.Reflection;
using System.Text;
using KeraLua;

namespace Craft.Interop;

internal sealed partial class LuaRuntime : IDisposable
{
    private static readonly Encoding Bytes = Encoding.Latin1;

    private readonly Computer _computer;
    private readonly ComputerOptions _options;
    private readonly Lua _main;
    private readonly Lua _co;
    private readonly IntPtr _coHandle;
    private IntPtr _lastHandle;
    private Lua? _last;

    // Keeps the native delegates alive as long as the Lua state can call them.
    private readonly List<LuaFunction> _natives = new();

    // The fs API's natives and open files (Apis/FileSystem.cs).
    private readonly Apis.FileSystem _fileSystem;

    // The http client's natives and events (Apis/HttpClient.cs).
    private readonly Apis.HttpClient _httpClient;
    // The terminal: its model, renderer and natives (Apis/Terminal.cs).
    private readonly Apis.Terminal _terminal;
    // textutils' JSON writer and reader (Apis/Json.cs).
    private readonly Apis.Json _json = new();

    public LuaRuntime(Computer computer, ComputerOptions options)
    {
        _computer = computer;
        _options = options;
        _main = new Lua(openLibs: true);
        _fileSystem = new Apis.FileSystem(computer.RootDirectory, options.FileSystemCapacity);
        _httpClient = new Apis.HttpClient(computer, options);
        _terminal = new Apis.Terminal(options.Terminal, options.Output);

        var bios = Resource("bios.lua");
        if (_main.LoadBuffer(bios, "@bios.lua", "t") != LuaStatus.OK)
            throw new InvalidOperationException("bios.lua does not compile: " + Describe(_main, -1));

        PushNatives();
        PushConfig();
        PushSources();
        if (_main.PCall(3, 3, 0) != LuaStatus.OK)
            throw new InvalidOperationException("bios.lua failed: " + Describe(_main, -1));

        // Stack: kernel, project, payloads.
        PayloadsRef = _main.Ref(LuaRegistry.Index);
        ProjectRef = _main.Ref(LuaRegistry.Index);
        _main.PushNil();
        FilterRef = _main.Ref(LuaRegistry.Index);
        _co = _main.NewThread();
        _coHandle = _co.Handle;
        ThreadRef = _main.Ref(LuaRegistry.Index);
        _main.XMove(_co, 1); // the kernel becomes the thread's function
    }

    /// <summary>The kernel's thread: the computer's one top-level coroutine.</summary>
    public Lua Thread => _co;

    private int ProjectRef { get; }
    private int PayloadsRef { get; }
    private int FilterRef { get; }
    private int ThreadRef { get; }

    /// <summary>The computer shuts down: the terminal leaves its output tidy (once).</summary>
    public void FinishTerminal() => _terminal.Finish();

    public void Dispose()
    {
        FinishTerminal();
        try { _fileSystem.Dispose(); } catch { }
        try { _main.Dispose(); } catch { }
    }

    private static byte[] Resource(string name)
    {
        using var stream = typeof(LuaRuntime).Assembly.GetManifestResourceStream("Craft.Lua." + name)
            ?? throw new InvalidOperationException($"embedded Lua file {name} is missing");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    /// <summary>The Lua wrapper for the state that called a native (the kernel's thread, usually).</summary>
    private Lua State(IntPtr l)
    {
        if (l == _coHandle) return _co;
        if (l == _lastHandle && _last is not null) return _last;
        var state = Lua.FromIntPtr(l);
        _lastHandle = l;
        _last = state;
        return state;
    }

    /// <summary>Loads the script onto the kernel's thread, after the kernel.</summary>
    public bool LoadScript(byte[] source, string chunkName, out string error)
    {
        if (_co.LoadBuffer(source, "@" + chunkName, "t") == LuaStatus.OK)
        {
            error = "";
            return true;
        }

        error = Describe(_co, -1);
        _co.Pop(1);
        return false;
    }

    // ---- Values ----

    [System.Runtime.InteropServices.DllImport("lua54", CallingConvention = System.Runtime.InteropServices.CallingConvention.Cdecl)]
    private static extern IntPtr lua_tolstring(IntPtr state, int index, out UIntPtr length);

    [System.Runtime.InteropServices.DllImport("lua54", CallingConvention = System.Runtime.InteropServices.CallingConvention.Cdecl)]
    private static extern unsafe IntPtr lua_pushlstring(IntPtr state, byte* bytes, UIntPtr length);

    /// <summary>A Lua string's bytes in place (empty when the value is not a string). Valid only
    /// while the string stays on the stack.</summary>
    public static unsafe ReadOnlySpan<byte> StringSpan(Lua l, int index)
    {
        if (l.Type(index) != LuaType.String) return ReadOnlySpan<byte>.Empty;
        var p = lua_tolstring(l.Handle, index, out var length);
        return new ReadOnlySpan<byte>((byte*)p, (int)length);
    }

    /// <summary>Pushes bytes as a Lua string (Lua copies them), from any memory.</summary>
    public static unsafe void PushSpan(Lua l, ReadOnlySpan<byte> bytes)
    {
        fixed (byte* p = bytes)
            lua_pushlstring(l.Handle, p, (UIntPtr)bytes.Length);
    }

    /// <summary>A Lua string's bytes as a lossless .NET string (one char per byte), without copying
    /// them to an intermediate array.</summary>
    public static unsafe string? Text(Lua l, int index)
    {
        if (l.Type(index) != LuaType.String) return null;
        var p = lua_tolstring(l.Handle, index, out var length);
        return Bytes.GetString((byte*)p, (int)length);
    }

    // The last event name os.queueEvent saw: scripts queue the same few names over and over.
    private string _lastName = "";
    private byte[] _lastNameBytes = [];

    private unsafe string EventName(Lua l, int index)
    {
        if (l.Type(index) != LuaType.String) return "";
        var p = lua_tolstring(l.Handle, index, out var length);
        var bytes = new ReadOnlySpan<byte>((byte*)p, (int)length);
        if (bytes.SequenceEqual(_lastNameBytes)) return _lastName;
        _lastNameBytes = bytes.ToArray();
        _lastName = Bytes.GetString(bytes);
        return _lastName;
    }

    // Event names pushed to Lua over and over: their bytes, made once.
    private readonly Dictionary<string, byte[]> _nameBytes = new();

    private byte[] NameBytes(string name)
    {
        if (!_nameBytes.TryGetValue(name, out var bytes))
        {
            bytes = Bytes.GetBytes(name);
            if (_nameBytes.Count < 4096) _nameBytes[name] = bytes;
        }
        return bytes;
    }

    private void PushName(Lua l, string name) => l.PushBuffer(NameBytes(name));

    /// <summary>Pushes .NET text as UTF-8 bytes (what a script expects from the outside world).</summary>
    public void PushText(Lua l, string text)
    {
        if (text.Length <= 256)
        {
            Span<byte> buffer = stackalloc byte[text.Length * 3];
            PushSpan(l, buffer[..Encoding.UTF8.GetBytes(text, buffer)]);
        }
        else l.PushBuffer(Encoding.UTF8.GetBytes(text));
    }

    /// <summary>Pushes a string that came from Lua (one char per byte) back as the same bytes.</summary>
    public static void PushBytes(Lua l, string bytes)
    {
        // Header names and values, methods, targets: short, and pushed for every request.
        if (bytes.Length <= 1024)
        {
            Span<byte> buffer = stackalloc byte[bytes.Length];
            Bytes.GetBytes(bytes, buffer);
            PushSpan(l, buffer);
        }
        else l.PushBuffer(Bytes.GetBytes(bytes));
    }

    /// <summary>An error value for people: strings as UTF-8 text, anything else by its type.</summary>
    public string Describe(Lua l, int index)
    {
        return l.Type(index) switch
        {
            LuaType.String or LuaType.Number => Encoding.UTF8.GetString(l.ToBuffer(index, false)),
            LuaType.Nil => "nil",
            var t => $"({l.TypeName(t)} error value)",
        };
    }

    private void PushValue(Lua l, object? value, int depth = 0)
    {
        switch (value)
        {
            case null: l.PushNil(); break;
            case bool b: l.PushBoolean(b); break;
            case string s: PushText(l, s); break;
            case byte[] bytes: l.PushBuffer(bytes); break;
            case sbyte or byte or short or ushort or int or uint or long:
                l.PushInteger(Convert.ToInt64(value)); break;
            case ulong u: l.PushNumber(u); break;
            case float or double or decimal: l.PushNumber(Convert.ToDouble(value)); break;
            case IDictionary dict when depth < 32:
                l.CreateTable(0, dict.Count);
                foreach (DictionaryEntry entry in dict)
                {
                    if (entry.Key is null) continue;
                    PushValue(l, entry.Key, depth + 1);
                    PushValue(l, entry.Value, depth + 1);
                    l.RawSet(-3);
                }
                break;
            case IEnumerable items when depth < 32:
                l.NewTable();
                long i = 1;
                foreach (var item in items)
                {
                    PushValue(l, item, depth + 1);
                    l.RawSetInteger(-2, i++);
                }
                break;
            default: PushText(l, value.ToString() ?? ""); break;
        }
    }

    // ---- The script's filter, and events passed straight to the script's coroutine ----

    // What the script waits for: 0 any event, 1 the name in _filter, 2 a value that is not a
    // string (kept in the registry at FilterRef; only terminate gets through).
    private int _filterKind;
    private byte[] _filter = [];

    // Ids of events the script queued with parameters (kept in the bios's payloads table).
    private readonly HashSet<long> _scriptPayloads = new();

    /// <summary>Keeps the filter the script yielded, at <paramref name="index"/> (0: it yielded
    /// nothing).</summary>
    public unsafe void KeepFilter(Lua l, int index)
    {
        var type = index == 0 ? LuaType.None : l.Type(index);
        if (type is LuaType.None or LuaType.Nil)
        {
            _filterKind = 0;
        }
        else if (type == LuaType.String)
        {
            var p = lua_tolstring(l.Handle, index, out var length);
            var bytes = new ReadOnlySpan<byte>((byte*)p, (int)length);
            if (_filterKind != 1 || !bytes.SequenceEqual(_filter)) _filter = bytes.ToArray();
            _filterKind = 1;
        }
        else
        {
            l.PushCopy(index);
            l.RawSetInteger(LuaRegistry.Index, FilterRef);
            _filterKind = 2;
        }
    }

    /// <summary>Events the script sees as they are, passed straight to its coroutine; the
    /// others (network events) go through the kernel to become handles.</summary>
    public static bool IsDirect(Craft.Event e) => e is Craft.Event.Custom or Craft.Event.Timer || e.IsTerminate;

    /// <summary>Whether the script's filter lets a direct event through (terminate always).</summary>
    public bool Wanted(Craft.Event e)
    {
        if (_filterKind == 0 || e.IsTerminate) return true;
        var name = e switch
        {
            Craft.Event.Custom c => c.name,
            Craft.Event.Timer => "timer",
            _ => null,
        };
        if (name is null) return false;
        if (name == "terminate") return true;
        return _filterKind == 1 && NameBytes(name).AsSpan().SequenceEqual(_filter);
    }

    /// <summary>Pushes a direct event for the script's coroutine: its name and parameters.</summary>
    public int PushDirect(Lua l, Craft.Event e)
    {
        l.CheckStack(8);
        switch (e)
        {
            case Craft.Event.Custom c:
                if (_computer.HasHostPayloads && _computer.TakeHostPayload(c.payload) is { } args)
                {
                    l.CheckStack(args.Length + 4);
                    PushName(l, c.name);
                    foreach (var arg in args) PushValue(l, arg);
                    return 1 + args.Length;
                }
                PushName(l, c.name);
                if (_scriptPayloads.Count > 0 && _scriptPayloads.Remove(c.payload))
                    return 1 + PushScriptPayload(l, c.payload);
                return 1;
            case Craft.Event.Timer t:
                l.PushString("timer");
                l.PushInteger(t.timer);
                return 2;
            default:
                l.PushString("terminate");
                return 1;
        }
    }

    /// <summary>A direct event the script's filter turned away: its parameters are let go.</summary>
    public void Drop(Craft.Event e)
    {
        if (e is not Craft.Event.Custom c) return;
        if (_computer.HasHostPayloads && _computer.TakeHostPayload(c.payload) is not null) return;
        if (_scriptPayloads.Count > 0 && _scriptPayloads.Remove(c.payload))
        {
            _main.RawGetInteger(LuaRegistry.Index, PayloadsRef);
            _main.PushNil();
            _main.RawSetInteger(-2, c.payload);
            _main.Pop(1);
        }
    }

    // Pushes the parameters the script queued with event `id` (table.pack'ed in the bios's
    // payloads table) and removes them from there. Returns how many.
    private int PushScriptPayload(Lua l, long id)
    {
        int top = l.GetTop();
        l.RawGetInteger(LuaRegistry.Index, PayloadsRef); // top + 1: payloads
        l.RawGetInteger(top + 1, id); // top + 2: the packed parameters
        l.PushNil();
        l.RawSetInteger(top + 1, id);
        int n = 0;
        if (l.Type(top + 2) == LuaType.Table)
        {
            l.PushString("n");
            l.RawGet(top + 2);
            n = l.IsInteger(-1) ? (int)Math.Clamp(l.ToInteger(-1), 0, int.MaxValue - 8) : 0;
            l.Pop(1);
            if (!l.CheckStack(n + 4)) n = 0;
            for (int i = 1; i <= n; i++) l.RawGetInteger(top + 2, i);
        }
        l.Rotate(top + 1, -2);
        l.Pop(2);
        return n;
    }

    /// <summary>Pushes a network event for the kernel: the script's filter, then (kind, ...).</summary>
    public int PushForKernel(Lua l, Craft.Event e)
    {
        l.CheckStack(2);
        switch (_filterKind)
        {
            case 0: l.PushNil(); break;
            case 1: l.PushBuffer(_filter); break;
            default: l.RawGetInteger(LuaRegistry.Index, FilterRef); break;
        }
        l.CheckStack(8);
        return 1 + PushNetworkEvent(l, e);
    }

    // ---- Natives ----

    private readonly HashSet<string> _nativeNames = new();

    private void Native(string name, LuaFunction function)
    {
        if (!_nativeNames.Add(name)) throw new InvalidOperationException($"native {name} registered twice");
        _natives.Add(function);
        _main.PushCFunction(function);
        _main.SetField(-2, name);
    }

    /// <summary>Every native returns values; on an unexpected .NET exception it returns nil, message.</summary>
    /// <summary>A native that runs its body inside <see cref="Guard"/>. The body's delegate is made
    /// once, here: a lambda written inside the native would be a new closure at every call.</summary>
    private LuaFunction Guarded(Func<Lua, int> body) => l => Guard(l, body);

    private int Guard(IntPtr l, Func<Lua, int> body)
    {
        Lua state = State(l);
        try
        {
            return body(state);
        }
        catch (Exception e)
        {
            state.SetTop(0);
            state.PushNil();
            PushText(state, "internal error: " + e.Message);
            return 2;
        }
    }

    // The hottest native, written out without Guard's closure.
    private int QueueEvent(IntPtr l)
    {
        var s = State(l);
        try
        {
            var id = _computer.QueueScriptEvent(EventName(s, 1));
            if (id < 0) s.PushBoolean(false); else s.PushInteger(id);
            if (id >= 0 && s.ToBoolean(2)) _scriptPayloads.Add(id);
            return 1;
        }
        catch (Exception e)
        {
            s.SetTop(0);
            s.PushNil();
            PushText(s, "internal error: " + e.Message);
            return 2;
        }
    }

    private void PushNatives()
    {
        _main.NewTable();

        // queueEvent(name, hasArgs) -> payload id, or false when the queue was full.
        Native("queueEvent", QueueEvent);
        Native("startTimer", Guarded(s =>
        {
            s.PushInteger(_computer.StartTimer(s.ToNumber(1)));
            return 1;
        }));
        Native("cancelTimer", Guarded(s =>
        {
            if (s.IsInteger(1) || s.IsNumber(1)) _computer.CancelTimer((int)Math.Clamp(s.ToNumber(1), int.MinValue, int.MaxValue));
            return 0;
        }));
        Native("clock", Guarded(s =>
        {
            s.PushNumber(Math.Round(_computer.Clock(), 3));
            return 1;
        }));
        Native("utcMillis", Guarded(s =>
        {
            s.PushInteger(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            return 1;
        }));
        Native("localOffsetMillis", Guarded(s =>
        {
            s.PushInteger((long)TimeZoneInfo.Local.GetUtcOffset(DateTime.UtcNow).TotalMilliseconds);
            return 1;
        }));
        Native("expired", Guarded(s =>
        {
            if (_computer.Expired() is { } why) s.PushString(why); else s.PushBoolean(false);
            return 1;
        }));
        Native("write", Guarded(s =>
        {
            var bytes = s.ToBuffer(1, false);
            if (bytes is not null) _options.Output.Write(Encoding.UTF8.GetString(bytes));
            return 0;
        }));
        Native("writeError", Guarded(s =>
        {
            var bytes = s.ToBuffer(1, false);
            if (bytes is not null) _computer.SafeWriteError(Encoding.UTF8.GetString(bytes));
            return 0;
        }));
        Native("readLine", Guarded(s =>
        {
            _options.Output.Flush();
            var line = _options.Input.ReadLine();
            _computer.RestartWatchdog();
            if (line is null) s.PushNil(); else PushText(s, line);
            return 1;
        }));
        // shutdown(code, reboot)
        Native("shutdown", Guarded(s =>
        {
            _computer.RequestShutdown((int)Math.Clamp(s.ToNumber(1), int.MinValue, int.MaxValue), s.ToBoolean(2));
            return 0;
        }));

        AddNetworkNatives();
        _fileSystem.Push(_main);
        _main.SetField(-2, "fs");
        _terminal.Push(_main);
        _main.SetField(-2, "term");
        _json.Push(_main);
        _main.SetField(-2, "json");
        _computer.Peripherals.Push(_main, (l, value) => PushValue(l, value));
        _main.SetField(-2, "peripheral");
    }

    /// <summary>The CC:Tweaked release whose CraftOS Craft follows, as <c>_HOST</c> names it.</summary>
    internal const string CcTweakedVersion = "1.113.1";

    private void PushConfig()
    {
        _main.NewTable();
        _main.PushInteger(_options.ComputerId);
        _main.SetField(-2, "id");
        if (_options.Label is { } label)
        {
            PushText(_main, label);
            _main.SetField(-2, "label");
        }
        // The script's path inside the root: it runs as that program (shell, arg, require).
        if (_computer.ProgramPath is { } program)
        {
            PushText(_main, program);
            _main.SetField(-2, "program");
        }
        // CraftOS's shape, "ComputerCraft <version> (<emulator> <version>)", which scripts parse.
        PushText(_main, $"ComputerCraft {CcTweakedVersion} (Craft {Computer.Version})");
        _main.SetField(-2, "host");
        _main.NewTable();
        foreach (var name in _options.Unsandboxed)
        {
            _main.PushBoolean(true);
            _main.SetField(-2, name);
        }
        _main.SetField(-2, "sandbox");
    }

    private void PushSources()
    {
        _main.NewTable();
        foreach (var name in new[] { "textutils", "parallel", "bit32", "http", "fs", "io", "expect", "settings", "require", "programs", "shell",
            "term", "colors", "keys", "window", "paintutils", "vector", "peripheral" })
        {
            var source = typeof(LuaRuntime).Assembly.GetManifestResourceInfo("Craft.Lua." + name + ".lua") is null
                ? null
                : Resource(name + ".lua");
            if (source is null) continue;
            _main.PushBuffer(source);
            _main.SetField(-2, name);
        }
    }
}
