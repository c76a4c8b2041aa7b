// Network effects. Until the Kestrel shell lands, binding reports that networking is unavailable.

using KeraLua;

namespace Craft.Interop;

public sealed partial class Computer
{
    private void ExecuteNetwork(Craft.Effect effect)
    {
        switch (effect)
        {
            case Craft.Effect.Bind b:
                Apply(Craft.Input.NewBindFailed(b.port, "networking is not available"));
                break;
        }
    }

    private void ShutdownNetwork()
    {
    }
}

internal sealed partial class LuaRuntime
{
    private void AddNetworkNatives()
    {
    }

    private int PushNetworkEvent(Lua l, Craft.Event e)
    {
        l.PushInteger(0);
        l.PushString("unknown");
        return 2;
    }
}
