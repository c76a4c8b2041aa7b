// Network effects, carried out on the computer's thread through the Kestrel shell
// (Craft.Server), and the response handles' state.

using System.Buffers;
using Craft.Server;
using Microsoft.FSharp.Core;

namespace Craft.Interop;

/// <summary>
/// Response bytes on their way out: a buffer from the shared pool that grows as the script
/// writes, given back when the shell has written it to the connection (it disposes it). Bodies
/// are copied out of Lua once; without the pool, every response's copy was new garbage (64 KiB a
/// request for a static file), and the computer's thread paid for collecting it.
/// </summary>
internal sealed class PooledBody : IDisposable
{
    private byte[]? _buffer;
    private int _length;

    public PooledBody(int capacity) => _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(256, capacity));

    public int Length => _length;

    /// <summary>The bytes written so far.</summary>
    public ReadOnlyMemory<byte> Written => _buffer.AsMemory(0, _length);

    public void Write(ReadOnlySpan<byte> data)
    {
        var buffer = _buffer ?? throw new ObjectDisposedException(nameof(PooledBody));
        if (data.Length > buffer.Length - _length)
        {
            long wanted = Math.Max((long)_length + data.Length, 2L * buffer.Length);
            if ((long)_length + data.Length > Array.MaxLength) throw new OutOfMemoryException("response body too large");
            var bigger = ArrayPool<byte>.Shared.Rent((int)Math.Min(wanted, Array.MaxLength));
            buffer.AsSpan(0, _length).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(buffer);
            _buffer = buffer = bigger;
        }
        data.CopyTo(buffer.AsSpan(_length));
        _length += data.Length;
    }

    public void Clear() => _length = 0;

    public void Dispose()
    {
        var buffer = Interlocked.Exchange(ref _buffer, null);
        if (buffer is not null) ArrayPool<byte>.Shared.Return(buffer);
    }
}

/// <summary>What a script has built of one response so far. Owned by the computer's thread.</summary>
internal sealed class ResponseState
{
    public int Status = 200;
    public string Reason = "";
    /// <summary>The headers the script set, in order (null until it sets one: most set none).</summary>
    public List<KeyValuePair<string, string[]>>? Headers;
    public PooledBody? Body;
    public bool Streaming;
    public bool Closed;
    /// <summary>The script set a status or a header, wrote or flushed: at the deadline it gets what
    /// it built. A response never touched is answered 500 instead of an empty 200.</summary>
    public bool Touched;

    public void SetHeader(string name, string[] values)
    {
        Headers ??= new();
        for (int i = 0; i < Headers.Count; i++)
        {
            if (string.Equals(Headers[i].Key, name, StringComparison.OrdinalIgnoreCase))
            {
                Headers[i] = new(name, values);
                return;
            }
        }
        Headers.Add(new(name, values));
    }

    public ResponseHead Head(bool complete)
    {
        if (Headers is null) return new ResponseHead(Status, Reason, []);
        // A complete response's length is what was written, whatever the script said.
        static bool Kept(string name, bool complete) =>
            !(complete && string.Equals(name, "Content-Length", StringComparison.OrdinalIgnoreCase));
        int count = 0;
        foreach (var (name, values) in Headers)
            if (Kept(name, complete)) count += values.Length;
        var lines = new KeyValuePair<string, string>[count];
        int at = 0;
        foreach (var (name, values) in Headers)
            if (Kept(name, complete))
                foreach (var value in values) lines[at++] = new(name, value);
        return new ResponseHead(Status, Reason, lines);
    }

    /// <summary>What was written so far and its owner (null when nothing was), handed over without
    /// a copy: the buffer now belongs to the answer (a later write starts a new one).</summary>
    public (ReadOnlyMemory<byte> Bytes, IDisposable? Owner) TakeBody()
    {
        var body = Body;
        Body = null;
        if (body is null) return (ReadOnlyMemory<byte>.Empty, null);
        if (body.Length == 0)
        {
            body.Dispose();
            return (ReadOnlyMemory<byte>.Empty, null);
        }
        return (body.Written, body);
    }
}

public sealed partial class Computer
{
    private Shell? _shell;
    private readonly Dictionary<long, ResponseState> _responses = new();
    private readonly Dictionary<int, KeyValuePair<string, string>[]> _handshakeHeaders = new();
    private LuaRuntime? _runtime;

    private Shell Network => _shell ??= new Shell(
        new ShellOptions(
            _options.HostAddress,
            _options.MaxRequestBodyBytes,
            _options.MaxWebSocketMessageBytes,
            _options.WebSocketPingInterval,
            _options.RequestLog ? FSharpOption<TextWriter>.Some(_options.Error) : FSharpOption<TextWriter>.None,
            _options.ResponseDeadline + TimeSpan.FromSeconds(5),
            _options.MaxRequestLineBytes,
            _options.MaxRequestHeaderBytes,
            _options.MaxRequestHeaderCount,
            _options.RequestHeadersTimeout,
            _options.KeepAliveTimeout,
            new Func<long>(Now),
            _options.ResponseDeadline,
            _options.MaxConnections,
            _options.MaxBufferedRequestBytes,
            _options.MaxWebSocketSendQueueBytes,
            _options.ShutdownTimeout,
            _options.Certificate,
            _options.LoggerFactory),
        Post);

    internal Shell? ShellIfAny => _shell;

    private void ExecuteNetwork(Craft.Effect effect)
    {
        switch (effect)
        {
            case Craft.Effect.Bind b:
                var bound = Network.Bind(b.port);
                LogBind(b.port, bound.IsOk, bound.IsOk ? bound.ResultValue : 0, bound.IsOk ? null : bound.ErrorValue);
                PublishRoom();
                Apply(bound.IsOk
                    ? Craft.Input.NewBindSucceeded(b.port, bound.ResultValue)
                    : Craft.Input.NewBindFailed(b.port, bound.ErrorValue));
                break;
            case Craft.Effect.Release r:
                _shell?.Release(r.port);
                _handshakeHeaders.Remove(r.port);
                break;
            case Craft.Effect.Answer a:
                Answer(a.request, a.answer);
                break;
            case Craft.Effect.Flush f:
                if (_responses.TryGetValue(f.request, out var st) && !st.Streaming)
                {
                    st.Streaming = true;
                    var (first, owner) = st.TakeBody();
                    _shell?.Send(f.request, Outgoing.NewStart(st.Head(complete: false), first, owner));
                }
                break;
            case Craft.Effect.Accept a:
                var port = _shell?.TryGetRequest(a.request)?.Port ?? -1;
                _handshakeHeaders.TryGetValue(port, out var extra);
                _shell?.Accept(a.request, a.client, extra ?? []);
                break;
            case Craft.Effect.Send s:
                if (IsOutboundClient(s.client)) _outbound!.SendMessage(s.client, s.data, s.binary);
                else _shell?.SendMessage(s.client, s.data, s.binary);
                break;
            case Craft.Effect.Close c:
                if (IsOutboundClient(c.client)) _outbound!.Close(c.client, c.code, c.reason);
                else _shell?.Close(c.client, c.code, c.reason);
                break;
            case Craft.Effect.ResumeReading r:
                if (IsOutboundClient(r.client)) _outbound!.ResumeReading(r.client);
                else _shell?.ResumeReading(r.client);
                break;
            default:
                ExecuteOutbound(effect);
                break;
        }
    }

    private void Answer(long id, Craft.Answer how)
    {
        var shell = _shell;
        _responses.Remove(id, out var st);
        if (st is not null) st.Closed = true;
        if (!how.IsScripted) _runtime?.Expire(id);
        if (shell is null) return;

        if (how.IsDeadline && st is not { Touched: true })
        {
            // The script never touched it (its handler failed, or it dropped the event): an error,
            // not an empty success.
            shell.Send(id, Outgoing.NewComplete(new ResponseHead(500, "", []), ReadOnlyMemory<byte>.Empty, null));
        }
        else if (how.IsScripted || how.IsDeadline)
        {
            st ??= new ResponseState();
            if (st.Streaming)
            {
                var (rest, owner) = st.TakeBody();
                if (rest.Length > 0) shell.Send(id, Outgoing.NewChunk(rest, owner));
                shell.Send(id, Outgoing.End);
            }
            else
            {
                var (body, owner) = st.TakeBody();
                shell.Send(id, Outgoing.NewComplete(st.Head(complete: true), body, owner));
            }
        }
        else if (how.IsUpgradeRequired)
        {
            shell.Send(id, Outgoing.UpgradeRequired);
        }
        else
        {
            shell.Send(id, st is { Streaming: true } ? Outgoing.End : Outgoing.Unavailable);
        }
    }

    private void ShutdownNetwork()
    {
        ShutdownOutbound();
        _shell?.Dispose();
        _shell = null;
    }

    // ---- Natives' side (the computer's thread) ----

    internal ResponseState OpenResponse(long id)
    {
        var st = new ResponseState();
        _responses[id] = st;
        return st;
    }

    internal ResponseState? Response(long id) =>
        _responses.TryGetValue(id, out var st) && !st.Closed ? st : null;

    internal void Attach(LuaRuntime runtime) => _runtime = runtime;

    internal void SetHandshakeHeaders(int port, KeyValuePair<string, string>[] headers) =>
        _handshakeHeaders[port] = headers;
}
