// The outbound side of the network (SPEC §6): what a script's http.request, http.checkURL and
// http.websocket ask, kept here until the core lets it start, and carried out by the shell's
// Outbound (Craft.Server). Owned by the computer's thread, like the rest of the computer.

using Craft.Server;

namespace Craft.Interop;

public sealed partial class Computer
{
    private Outbound? _outbound;
    private long _nextFetch;

    /// <summary>What a fetch was asked with: the URL as the script wrote it (its events carry
    /// it), and the request, or null for a URL check.</summary>
    private readonly Dictionary<long, (string Url, FetchRequest? Request, Uri Target, bool Binary)> _fetches = new();

    /// <summary>Client WebSockets the script opened: the URL as written and how to connect.</summary>
    private readonly Dictionary<long, (string Url, Uri Target, KeyValuePair<string, string>[] Headers, TimeSpan Timeout)> _sockets = new();

    private Outbound OutboundNetwork => _outbound ??= new Outbound(
        new OutboundOptions(
            _options.ParsedHttpRules(),
            _options.MaxHttpDownloadBytes,
            _options.MaxHttpUploadBytes,
            _options.MaxWebSocketMessageBytes,
            _options.MaxWebSocketSendQueueBytes,
            _options.WebSocketPingInterval,
            $"computercraft/{LuaRuntime.CcTweakedVersion} Craft/{Version}",
            _options.HttpTrustedCertificates.ToArray()),
        Post);

    /// <summary>http.request: queues the request with the core (it starts now or waits its turn).</summary>
    internal void StartFetch(string url, FetchRequest request, bool binary)
    {
        var id = ++_nextFetch;
        _fetches[id] = (url, request, request.Url, binary);
        Apply(Craft.Input.NewFetch(id, false));
    }

    /// <summary>http.checkURLAsync: the name is resolved and the rules applied.</summary>
    internal void StartCheck(string url, Uri target)
    {
        var id = ++_nextFetch;
        _fetches[id] = (url, null, target, false);
        Apply(Craft.Input.NewFetch(id, true));
    }

    /// <summary>http.websocket: the client's id, or null when too many are open already.</summary>
    internal long? OpenSocket(string url, Uri target, KeyValuePair<string, string>[] headers, TimeSpan timeout)
    {
        switch (Ask(Craft.Input.OpenSocket))
        {
            case Craft.Reply.SocketStarted started:
                // The core asked to connect before it replied: the connection starts below, once
                // its parameters are known.
                _sockets[started.client] = (url, target, headers, timeout);
                OutboundNetwork.Connect(started.client, target, headers, timeout);
                return started.client;
            default:
                return null;
        }
    }

    private void ExecuteOutbound(Craft.Effect effect)
    {
        switch (effect)
        {
            case Craft.Effect.StartFetch f when _fetches.TryGetValue(f.fetch, out var what):
                if (what.Request is { } request) OutboundNetwork.Start(f.fetch, request);
                else OutboundNetwork.Check(f.fetch, what.Target);
                break;
            case Craft.Effect.AbandonFetch a:
                _fetches.Remove(a.fetch);
                _outbound?.Abandon(a.fetch);
                break;
            case Craft.Effect.Connect:
                // Carried out by OpenSocket, which has the socket's parameters.
                break;
        }
    }

    /// <summary>A finished fetch, for its event: the URL as written and how it ended.</summary>
    internal (string Url, bool Binary, FetchOutcome? Outcome) TakeFetch(long id)
    {
        _fetches.Remove(id, out var what);
        var outcome = _outbound?.TakeOutcome(id);
        return (what.Url ?? "", what.Binary, outcome);
    }

    /// <summary>The URL of a client WebSocket the script opened, or null for a server's client.</summary>
    internal string? SocketUrl(long client) => _sockets.TryGetValue(client, out var s) ? s.Url : null;

    /// <summary>The client WebSocket's last event was delivered: forget it.</summary>
    internal void ForgetSocket(long client) => _sockets.Remove(client);

    private bool IsOutboundClient(long client) => _outbound is { } o && o.Owns(client);

    private void ShutdownOutbound()
    {
        _outbound?.Dispose();
        _outbound = null;
        _fetches.Clear();
        _sockets.Clear();
    }
}
