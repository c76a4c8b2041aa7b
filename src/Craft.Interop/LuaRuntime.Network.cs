// The natives behind Lua/http.lua, and the projection of network events into the kernel's raw
// events. Each native returns status values (true / false, message); http.lua raises.

using System.Buffers;
using System.Runtime.InteropServices;
using KeraLua;

namespace Craft.Interop;

internal sealed partial class LuaRuntime
{
    private const string Closed = "attempt to use a closed file";
    private const string HeadersSent = "headers already sent";

    private static bool Fail(Lua s, string message)
    {
        s.PushBoolean(false);
        s.PushString(message);
        return false;
    }

    private static int Ok(Lua s)
    {
        s.PushBoolean(true);
        return 1;
    }

    /// <summary>RFC 9110 token characters, allowed in header names.</summary>
    internal static bool IsToken(string name)
    {
        if (name.Length == 0) return false;
        foreach (char c in name)
        {
            bool ok = c is >= 'a' and <= 'z' or >= 'A' and <= 'Z' or >= '0' and <= '9'
                or '!' or '#' or '$' or '%' or '&' or '\'' or '*' or '+' or '-' or '.' or '^' or '_' or '`' or '|' or '~';
            if (!ok) return false;
        }
        return true;
    }

    /// <summary>Header values: visible bytes, spaces and tabs; never CR, LF, NUL or other controls.</summary>
    internal static bool IsFieldValue(string value)
    {
        foreach (char c in value)
            if (c < 0x20 && c != '\t' || c == 0x7F) return false;
        return true;
    }

    private ResponseState? OpenResponse(Lua s, out int results)
    {
        var st = _computer.Response(s.ToInteger(1));
        results = st is null ? 2 : 0;
        if (st is null) Fail(s, Closed);
        return st;
    }

    private void AddNetworkNatives()
    {
        _computer.Attach(this);

        Native("addListener", Guarded(s =>
        {
            switch (_computer.Ask(Craft.Input.NewAddListener((int)s.ToInteger(1))))
            {
                case Craft.Reply.Listening listening:
                    s.PushBoolean(true);
                    s.PushInteger(listening.port);
                    return 2;
                case Craft.Reply.CouldNotOpen why:
                    s.PushBoolean(false);
                    PushText(s, why.reason);
                    return 2;
                default:
                    s.PushBoolean(false);
                    s.PushString("unexpected reply");
                    return 2;
            }
        }));

        Native("removeListener", Guarded(s =>
        {
            _computer.Apply(Craft.Input.NewRemoveListener((int)s.ToInteger(1)));
            _computer.DrainMailbox();
            return 0;
        }));

        Native("resStatus", Guarded(s =>
        {
            var st = OpenResponse(s, out int failed);
            if (st is null) return failed;
            if (st.Streaming) return Fail(s, HeadersSent) ? 1 : 2; // flush() sent them
            double code = s.ToNumber(2);
            if (!(code >= 100 && code <= 999) || Math.Floor(code) != code)
                return Fail(s, "bad argument #1 (status code out of range)") ? 1 : 2;
            var reason = Text(s, 3) ?? "";
            if (!IsFieldValue(reason) || reason.Contains('\r') || reason.Contains('\n'))
                return Fail(s, "bad argument #2 (invalid reason phrase)") ? 1 : 2;
            st.Status = (int)code;
            st.Reason = reason;
            st.Touched = true;
            return Ok(s);
        }));

        Native("resHeader", Guarded(s =>
        {
            var st = OpenResponse(s, out int failed);
            if (st is null) return failed;
            if (st.Streaming) return Fail(s, HeadersSent) ? 1 : 2;
            var name = Text(s, 2) ?? "";
            if (!IsToken(name)) return Fail(s, "bad argument #1 (invalid header name)") ? 1 : 2;
            string[] values;
            if (s.Type(3) == LuaType.Table)
            {
                var list = new List<string>();
                for (long i = 1; ; i++)
                {
                    s.RawGetInteger(3, i);
                    var v = Text(s, -1);
                    s.Pop(1);
                    if (v is null) break;
                    list.Add(v);
                }
                values = list.ToArray();
            }
            else
            {
                values = [Text(s, 3) ?? ""];
            }
            foreach (var v in values)
                if (!IsFieldValue(v)) return Fail(s, "bad argument #2 (invalid header value)") ? 1 : 2;
            st.SetHeader(name, values);
            st.Touched = true;
            return Ok(s);
        }));

        Native("resWrite", Guarded(s =>
        {
            long id = s.ToInteger(1);
            var st = OpenResponse(s, out int failed);
            if (st is null) return failed;
            // Straight from the Lua string into the response's buffer: no array in between.
            var data = StringSpan(s, 2);
            st.Touched = true;
            if (st.Streaming)
            {
                if (data.Length > 0 && _computer.ShellIfAny is { } shell)
                {
                    var chunk = new PooledBody(data.Length);
                    chunk.Write(data);
                    shell.Send(id, Craft.Server.Outgoing.NewChunk(chunk.Written, chunk));
                }
            }
            else
            {
                (st.Body ??= new PooledBody(data.Length)).Write(data);
            }
            return Ok(s);
        }));

        Native("resFlush", Guarded(s =>
        {
            _computer.CatchUpClock();
            var reply = _computer.Ask(Craft.Input.NewFlushResponse(s.ToInteger(1)));
            if (reply is not null && reply.IsDone) return Ok(s);
            Fail(s, Closed);
            return 2;
        }));

        Native("resClose", Guarded(s =>
        {
            _computer.Apply(Craft.Input.NewCloseResponse(s.ToInteger(1)));
            return 0;
        }));

        // resFail(id): the handler raised an error. A response not yet streaming becomes a bare
        // 500 (what the script built of it is dropped); a streaming one ends where it is.
        Native("resFail", Guarded(s =>
        {
            long id = s.ToInteger(1);
            if (_computer.Response(id) is { } st && !st.Streaming)
            {
                st.Status = 500;
                st.Reason = "";
                st.Headers?.Clear();
                st.Body?.Clear();
            }
            _computer.Apply(Craft.Input.NewCloseResponse(id));
            return 0;
        }));

        AddWebSocketNatives();
        _httpClient.Register((name, body) => Native(name, Guarded(body)));
    }

    /// <summary>Network events as raw kernel events: (kind, ...).</summary>
    private int PushNetworkEvent(Lua l, Craft.Event e)
    {
        int client = _httpClient.PushEvent(l, e);
        if (client > 0) return client;
        switch (e)
        {
            case Craft.Event.HttpRequest r:
                var request = _computer.ShellIfAny?.TryGetRequest(r.request);
                _computer.OpenResponse(r.request);
                l.CheckStack(12);
                l.PushInteger(2);
                l.PushInteger(r.port);
                l.PushInteger(r.request);
                if (request is null)
                {
                    l.PushString("GET");
                    l.PushString("/");
                    l.NewTable();
                    l.PushString("");
                    l.PushString("");
                    l.PushInteger(0);
                }
                else
                {
                    PushBytes(l, request.Method);
                    PushBytes(l, request.Target);
                    l.CreateTable(0, request.Headers.Length);
                    foreach (var (name, value) in request.Headers)
                    {
                        PushBytes(l, name);
                        PushBytes(l, value);
                        l.RawSet(-3);
                    }
                    PushSpan(l, request.Body.Span);
                    PushBytes(l, request.RemoteAddress);
                    l.PushInteger(request.RemotePort);
                }
                return 9;
            case Craft.Event.WebSocketConnect c:
                l.PushInteger(3);
                l.PushInteger(c.port);
                l.PushInteger(c.client);
                return 3;
            case Craft.Event.WebSocketMessage m:
                l.PushInteger(4);
                l.PushInteger(m.client);
                l.PushBuffer(m.data);
                l.PushBoolean(m.binary);
                return 4;
            case Craft.Event.WebSocketClosed x:
                l.PushInteger(5);
                l.PushInteger(x.client);
                if (x.reason is { } reason && reason.Value is not null) PushText(l, reason.Value); else l.PushNil();
                if (x.code is { } code) l.PushInteger(code.Value); else l.PushNil();
                return 4;
            default:
                l.PushInteger(0);
                l.PushString("unknown");
                return 2;
        }
    }

    /// <summary>Tells http.lua that a request was answered without the script: its handles close.</summary>
    public void Expire(long id)
    {
        try
        {
            int top = _main.GetTop();
            _main.RawGetInteger(LuaRegistry.Index, ProjectRef);
            _main.GetField(-1, "expire");
            _main.PushInteger(id);
            _main.PCall(1, 0, 0);
            _main.SetTop(top);
        }
        catch
        {
            // Nothing the script did can make this fail; if it does, the handles just stay open.
        }
    }

    private void AddWebSocketNatives()
    {
        Native("openServer", Guarded(s =>
        {
            int port = (int)s.ToInteger(1);
            var headers = new List<KeyValuePair<string, string>>();
            if (s.Type(2) == LuaType.Table)
            {
                s.PushNil();
                while (s.Next(2))
                {
                    var name = s.Type(-2) == LuaType.String ? Text(s, -2) : null;
                    var value = s.Type(-1) is LuaType.String or LuaType.Number ? Bytes.GetString(s.ToBuffer(-1, false)) : null;
                    s.Pop(1);
                    if (name is null || value is null) continue;
                    if (!IsToken(name)) { s.SetTop(0); return Fail(s, "bad argument #2 (invalid header name)") ? 1 : 2; }
                    if (!IsFieldValue(value)) { s.SetTop(0); return Fail(s, "bad argument #2 (invalid header value)") ? 1 : 2; }
                    headers.Add(new(name, value));
                }
            }
            switch (_computer.Ask(Craft.Input.NewOpenWebSocketServer(port)))
            {
                case Craft.Reply.ServerOpened opened:
                    _computer.SetHandshakeHeaders(opened.port, headers.ToArray());
                    s.PushBoolean(true);
                    s.PushInteger(opened.port);
                    return 2;
                case Craft.Reply.CouldNotOpen why:
                    s.PushBoolean(false);
                    PushText(s, "Could not open server: " + why.reason);
                    return 2;
                default:
                    s.PushBoolean(false);
                    s.PushString("Port already in use");
                    return 2;
            }
        }));

        Native("closeServer", Guarded(s =>
        {
            _computer.Apply(Craft.Input.NewCloseWebSocketServer((int)s.ToInteger(1)));
            _computer.DrainMailbox();
            return 0;
        }));

        Native("send", Guarded(s =>
        {
            var data = s.ToBuffer(2, false) ?? [];
            switch (_computer.Ask(Craft.Input.NewSend(s.ToInteger(1), data, s.ToBoolean(3))))
            {
                case { IsSent: true }: return Ok(s);
                case { IsMessageTooLarge: true }: Fail(s, "Message is too large"); return 2;
                default: Fail(s, Closed); return 2;
            }
        }));

        Native("closeClient", Guarded(s =>
        {
            var reason = s.Type(3) == LuaType.String ? Text(s, 3) ?? "" : "";
            _computer.Apply(Craft.Input.NewCloseClient(s.ToInteger(1), (int)s.ToInteger(2), reason));
            return 0;
        }));

        Native("isOpen", Guarded(s =>
        {
            s.PushBoolean(_computer.IsClientOpen(s.ToInteger(1)));
            return 1;
        }));

        // newClientID(id) -> a full userdata naming the client (unique per connection).
        Native("newClientID", Guarded(s =>
        {
            long id = s.ToInteger(1);
            var block = s.NewUserData(sizeof(long));
            Marshal.WriteInt64(block, id);
            if (s.NewMetaTable("craft.clientID"))
            {
                s.PushString("clientID");
                s.SetField(-2, "__name");
            }
            s.SetMetaTable(-2);
            return 1;
        }));
    }
}
