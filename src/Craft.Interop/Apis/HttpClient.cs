// The natives behind the client half of Lua/http.lua (SPEC §6): http.request, http.checkURL and
// http.websocket start here, and their events are turned into raw kernel events here (kinds 6 to
// 11; http.lua projects them into what the script sees).
//
// Protocol: every native returns `true, values...` or `false, message` (plus `true` when the
// caller must raise it rather than return it) and never raises; http.lua raises.

using System.Text;
using Craft.Server;
using KeraLua;

namespace Craft.Interop.Apis;

internal sealed class HttpClient
{
    private readonly Computer _computer;
    private readonly ComputerOptions _options;

    public HttpClient(Computer computer, ComputerOptions options)
    {
        _computer = computer;
        _options = options;
    }

    // ---- URLs, as CC:Tweaked reads and refuses them ----

    /// <summary>An http(s) URL, or CC:Tweaked's message for why it is not one.</summary>
    public static Uri? ParseHttp(string url, out string error)
    {
        error = "";
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.IsFile || uri.IsUnc)
        {
            error = url.Contains(':') ? "URL malformed" : "Must specify http or https";
            return null;
        }
        var scheme = uri.Scheme.ToLowerInvariant();
        if (scheme != "http" && scheme != "https")
        {
            error = $"Invalid protocol '{scheme}'";
            return null;
        }
        if (uri.Host.Length == 0)
        {
            error = "URL malformed";
            return null;
        }
        return uri;
    }

    /// <summary>A ws(s) URL (a URL without a scheme is read as ws://), or why it is not one.</summary>
    public static Uri? ParseWebSocket(string url, out string error)
    {
        error = "";
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.IsFile || uri.IsUnc || uri.Host.Length == 0)
        {
            if (!url.Contains("://") && Uri.TryCreate("ws://" + url, UriKind.Absolute, out var bare) && bare.Host.Length > 0)
                return bare;
            error = "URL malformed";
            return null;
        }
        if (uri.Scheme != "ws" && uri.Scheme != "wss")
        {
            error = $"Invalid scheme '{url[..url.IndexOf(':')]}'";
            return null;
        }
        return uri;
    }

    // ---- Natives ----

    public void Register(Action<string, Func<Lua, int>> native)
    {
        // fetch(url, method, headers, body|nil, binary, redirect, timeout|nil) -> true | false, message
        native("fetch", s =>
        {
            var url = Utf8(s, 1);
            var target = ParseHttp(url, out var error);
            if (target is null) return Fail(s, error);
            if (!Headers(s, 3, out var headers, out error)) return Fail(s, error, raise: true);
            byte[]? body = s.Type(4) == LuaType.String ? LuaRuntime.StringSpan(s, 4).ToArray() : null;
            var method = LuaRuntime.Text(s, 2) ?? (body is null ? "GET" : "POST");
            var request = new FetchRequest(target, method, headers, body!, s.ToBoolean(6), Timeout(s, 7));
            _computer.StartFetch(url, request, s.ToBoolean(5));
            s.PushBoolean(true);
            return 1;
        });

        // checkURL(url) -> true | false, message
        native("checkURL", s =>
        {
            var url = Utf8(s, 1);
            var target = ParseHttp(url, out var error);
            if (target is null) return Fail(s, error);
            _computer.StartCheck(url, target);
            s.PushBoolean(true);
            return 1;
        });

        // websocket(url, headers, timeout|nil) -> true, client | false, message[, raise]
        native("websocket", s =>
        {
            var url = Utf8(s, 1);
            var target = ParseWebSocket(url, out var error);
            if (target is null) return Fail(s, error);
            if (!Headers(s, 2, out var headers, out error)) return Fail(s, error, raise: true);
            var client = _computer.OpenSocket(url, target, headers, Timeout(s, 3));
            if (client is null) return Fail(s, "Too many websockets already open", raise: true);
            s.PushBoolean(true);
            s.PushInteger(client.Value);
            return 2;
        });
    }

    private static string Utf8(Lua s, int index) =>
        Encoding.UTF8.GetString(LuaRuntime.StringSpan(s, index));

    private TimeSpan Timeout(Lua s, int index)
    {
        if (s.Type(index) != LuaType.Number) return _options.HttpTimeout;
        double seconds = s.ToNumber(index);
        return seconds > 0 ? TimeSpan.FromSeconds(seconds) : TimeSpan.Zero;
    }

    private static int Fail(Lua s, string message, bool raise = false)
    {
        s.SetTop(0);
        s.PushBoolean(false);
        s.PushBuffer(Encoding.UTF8.GetBytes(message));
        if (!raise) return 2;
        s.PushBoolean(true);
        return 3;
    }

    /// <summary>A headers table: string names to string values (anything else is skipped, as
    /// CC:Tweaked does); names must be tokens and values free of control bytes.</summary>
    private static bool Headers(Lua s, int index, out KeyValuePair<string, string>[] headers, out string error)
    {
        var list = new List<KeyValuePair<string, string>>();
        headers = [];
        error = "";
        if (s.Type(index) != LuaType.Table) return true;
        s.PushNil();
        while (s.Next(index))
        {
            if (s.Type(-2) == LuaType.String && s.Type(-1) == LuaType.String)
            {
                var name = LuaRuntime.Text(s, -2)!;
                var value = LuaRuntime.Text(s, -1)!;
                if (!LuaRuntime.IsToken(name))
                {
                    s.Pop(2);
                    error = $"Invalid header name '{name}'";
                    return false;
                }
                if (!LuaRuntime.IsFieldValue(value) || value.Contains('\r') || value.Contains('\n'))
                {
                    s.Pop(2);
                    error = $"Invalid value for header '{name}'";
                    return false;
                }
                list.Add(new(name, value));
            }
            s.Pop(1);
        }
        headers = list.ToArray();
        return true;
    }

    // ---- Events ----

    /// <summary>Pushes an outbound event as a raw kernel event (kind, ...) and returns how many
    /// values; 0 when the event is not the client's.</summary>
    public int PushEvent(Lua l, Craft.Event e)
    {
        l.CheckStack(12);
        switch (e)
        {
            case Craft.Event.Fetched f:
                var (url, binary, outcome) = _computer.TakeFetch(f.fetch);
                if (outcome is FetchOutcome.Checked check)
                {
                    l.PushInteger(7);
                    PushUtf8(l, url);
                    l.PushBoolean(check.ok);
                    if (check.ok) l.PushNil(); else PushUtf8(l, check.message);
                    return 4;
                }
                l.PushInteger(6);
                PushUtf8(l, url);
                l.PushBoolean(binary);
                FetchResponse? response = null;
                switch (outcome)
                {
                    case FetchOutcome.Succeeded ok:
                        l.PushNil();
                        response = ok.response;
                        break;
                    case FetchOutcome.Failed failed:
                        PushUtf8(l, failed.message);
                        response = failed.response?.Value;
                        break;
                    default:
                        PushUtf8(l, "Could not connect");
                        break;
                }
                if (response is null) return 4;
                l.PushInteger(response.Status);
                LuaRuntime.PushBytes(l, response.Reason);
                l.CreateTable(0, response.Headers.Length);
                foreach (var (name, value) in response.Headers)
                {
                    LuaRuntime.PushBytes(l, name);
                    LuaRuntime.PushBytes(l, value);
                    l.RawSet(-3);
                }
                LuaRuntime.PushSpan(l, response.Body);
                return 8;
            case Craft.Event.SocketOpened o:
                l.PushInteger(8);
                PushUtf8(l, _computer.SocketUrl(o.client) ?? "");
                l.PushInteger(o.client);
                return 3;
            case Craft.Event.SocketFailed x:
                l.PushInteger(9);
                PushUtf8(l, _computer.SocketUrl(x.client) ?? "");
                PushUtf8(l, x.reason);
                _computer.ForgetSocket(x.client);
                return 3;
            case Craft.Event.WebSocketMessage m when _computer.SocketUrl(m.client) is { } socketUrl:
                l.PushInteger(10);
                PushUtf8(l, socketUrl);
                l.PushInteger(m.client);
                l.PushBuffer(m.data);
                l.PushBoolean(m.binary);
                return 5;
            case Craft.Event.WebSocketClosed c when _computer.SocketUrl(c.client) is { } closedUrl:
                l.PushInteger(11);
                PushUtf8(l, closedUrl);
                l.PushInteger(c.client);
                if (c.reason is { } reason && reason.Value is not null) PushUtf8(l, reason.Value); else l.PushNil();
                if (c.code is { } code) l.PushInteger(code.Value); else l.PushNil();
                _computer.ForgetSocket(c.client);
                return 5;
            default:
                return 0;
        }
    }

    private static void PushUtf8(Lua l, string text) => l.PushBuffer(Encoding.UTF8.GetBytes(text));
}
