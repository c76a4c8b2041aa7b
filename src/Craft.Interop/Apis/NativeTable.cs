// How an API's natives are pushed into Lua: one table of functions, each delegate kept alive.

using KeraLua;

namespace Craft.Interop.Apis;

/// <summary>A table of natives being filled on top of a Lua stack. Each function also goes into
/// <c>keep</c>: Lua holds only a pointer to the delegate, so the API object must hold the delegate
/// itself for as long as the Lua state lives.</summary>
internal readonly struct NativeTable
{
    private readonly Lua _l;
    private readonly List<LuaFunction> _keep;

    private NativeTable(Lua l, List<LuaFunction> keep) => (_l, _keep) = (l, keep);

    /// <summary>Pushes a new, empty table onto <paramref name="l"/>'s stack to fill.</summary>
    public static NativeTable Push(Lua l, List<LuaFunction> keep)
    {
        l.NewTable();
        return new NativeTable(l, keep);
    }

    /// <summary>Sets <c>table[name] = f</c>.</summary>
    public void Add(string name, LuaFunction f)
    {
        _keep.Add(f);
        _l.PushCFunction(f);
        _l.SetField(-2, name);
    }
}
