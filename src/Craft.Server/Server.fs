/// The Kestrel shell of a computer: one Kestrel server per bound port. Handlers read a request
/// whole, post it to the computer as an `Input`, and wait for the computer's answer; the computer
/// calls back into the shell to carry out network effects. The shell never touches the core's
/// state or the Lua state: it only posts inputs and completes what it is told to.
namespace Craft.Server

open System
open System.Buffers
open System.Collections.Concurrent
open System.Collections.Generic
open System.IO
open System.Net
open System.Net.WebSockets
open System.Security.Cryptography
open System.Security.Cryptography.X509Certificates
open System.Text
open System.Threading
open System.Threading.Tasks
open System.Threading.Tasks.Sources
open Microsoft.AspNetCore.Hosting.Server
open Microsoft.AspNetCore.Hosting.Server.Features
open Microsoft.AspNetCore.Http
open Microsoft.AspNetCore.Http.Features
open Microsoft.AspNetCore.Server.Kestrel.Core
open Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets
open Microsoft.Extensions.DependencyInjection
open Microsoft.Extensions.Logging
open Microsoft.Extensions.Logging.Abstractions
open Microsoft.Extensions.Options
open Craft

/// How the shell serves.
type ShellOptions =
    {
        /// The address every port binds to.
        Address: IPAddress
        /// Largest request body; larger ones get 413.
        MaxRequestBodyBytes: int64
        /// Largest WebSocket message received; larger ones close the client with 1009.
        MaxMessageBytes: int
        /// Keep-alive ping interval for WebSocket clients.
        PingInterval: TimeSpan
        /// Where to write one line per request, if anywhere.
        RequestLog: TextWriter option
        /// How long a released port's open requests and connections may take to finish (the
        /// response deadline and a margin): requests the script holds can still be answered.
        DrainTimeout: TimeSpan
        /// Longest request line; longer ones get 414.
        MaxRequestLineBytes: int
        /// Largest header block; larger ones get 431.
        MaxRequestHeaderBytes: int
        /// Most header lines in a request; more get 431.
        MaxRequestHeaderCount: int
        /// How long a client may take to send the request line and headers (then 408).
        RequestHeadersTimeout: TimeSpan
        /// How long a connection may stay open without a request: a new one before its first
        /// byte, a keep-alive one between requests.
        KeepAliveTimeout: TimeSpan
        /// The computer's clock in milliseconds (the core's `Millis`): requests are stamped with
        /// it when they have been read, and their wait for the computer counts from then.
        Clock: Func<int64>
        /// How long a request may wait for the computer to take it before it is answered 503
        /// without it (the response deadline).
        WaitDeadline: TimeSpan
        /// Connections open at once, every port together; more are closed as soon as accepted.
        MaxConnections: int
        /// Request-body bytes held at once, every request together; a request whose body would
        /// pass it gets 503.
        MaxBufferedBodyBytes: int64
        /// Bytes waiting to be sent to one WebSocket client; past it the client is closed (1008).
        MaxSendQueueBytes: int64
        /// How long shutdown waits for every answer to reach the wire and connections to end.
        ShutdownTimeout: TimeSpan
        /// When not null, every port serves TLS with it (HTTPS and WSS).
        Certificate: X509Certificate2
        /// Where the shell (category `Craft.Server`) and Kestrel log; null: nowhere.
        LoggerFactory: ILoggerFactory
    }

/// A whole request, as the script will see it.
[<AllowNullLiteral>]
type IncomingRequest
    (
        id: RequestId,
        port: Port,
        httpMethod: string,
        target: string,
        headers: KeyValuePair<string, string> array,
        body: byte array,
        length: int,
        remoteAddress: string,
        remotePort: int,
        release: Action<byte array, int>
    ) =
    let mutable released = 0
    member _.Id = id
    member _.Port = port
    member _.Method = httpMethod
    /// The request target as sent (path and query; an absolute-form target's path and query).
    member _.Target = target
    /// Header names as sent, repeated headers joined with ", ".
    member _.Headers = headers
    /// The body bytes, chunked encoding removed. Valid until the request is answered: the
    /// buffer is pooled, and the computer copies the body into Lua when it delivers the event.
    member _.Body = ReadOnlyMemory<byte>(body, 0, length)
    member _.RemoteAddress = remoteAddress
    member _.RemotePort = remotePort

    /// Gives the body's buffer back (once) and its bytes back to the buffered-body budget.
    member _.Release() =
        if Interlocked.Exchange(&released, 1) = 0 then
            release.Invoke(body, length)

/// A response head: status, reason phrase (empty: the standard one) and header lines in order.
type ResponseHead =
    {
        Status: int
        Reason: string
        Headers: KeyValuePair<string, string> array
    }

/// What the computer tells a waiting request handler.
[<RequireQualifiedAccess>]
type Outgoing =
    /// The whole response. `owner`, when not null, holds the body's memory: the shell disposes
    /// it once the bytes are written (or the client is gone), so that the body's buffer can come
    /// from a pool.
    | Complete of head: ResponseHead * body: ReadOnlyMemory<byte> * owner: IDisposable
    /// Start streaming: the head and the first bytes (`owner` as in `Complete`).
    | Start of head: ResponseHead * body: ReadOnlyMemory<byte> * owner: IDisposable
    /// More streamed bytes (`owner` as in `Complete`).
    | Chunk of body: ReadOnlyMemory<byte> * owner: IDisposable
    /// The streamed response is complete.
    | End
    /// 503 with Retry-After.
    | Unavailable
    /// 426: this port only speaks WebSocket.
    | UpgradeRequired
    /// Complete the WebSocket handshake: the connection becomes this client.
    | Accept of client: WebSocketClient * headers: KeyValuePair<string, string> array

/// Whether a bound port's socket was released. Set and checked under its lock: once it is set,
/// none of that socket's requests reach the computer any more, so that a listener added later
/// on the same port number cannot be handed them (they get 503).
[<AllowNullLiteral>]
type private Gate() =
    member val Released = false with get, set

/// Per port: the Kestrel server and what it routes to.
type private Endpoint =
    {
        Server: KestrelServer
        Port: Port
        Gate: Gate
    }

/// A request waiting for its answer, and its answers in order: one for most requests (the whole
/// response, 503, 426, an upgrade), a stream's start, chunks and end for the rest. The computer
/// (or the shell, when it answers without the computer) writes them; the request's handler reads
/// them. One object per request instead of a channel: most requests need one answer and one
/// wake-up. `Claim` says who answers it: 0 while it waits in the computer's mailbox, 1 once the
/// computer took it (the core answers it from then on), 2 when the shell answered it without the
/// computer (it waited past its deadline).
[<Sealed; AllowNullLiteral>]
type private Pending(request: IncomingRequest, arrived: int64) =
    // The oldest answer not yet read (null: none), and any after it.
    let mutable next: Outgoing = Unchecked.defaultof<_>
    let mutable later: Queue<Outgoing> = null
    let mutable reading = false
    // The answer a wake on the pool delivers.
    let mutable waking: Outgoing = Unchecked.defaultof<_>

    [<DefaultValue>]
    val mutable private Source: ManualResetValueTaskSourceCore<Outgoing>

    member _.Request = request
    /// When it had been read, on the computer's clock.
    member _.Arrived = arrived

    [<DefaultValue>]
    val mutable Claim: int

    // What the shell needs to end the request, kept here rather than in closures of its own.
    [<DefaultValue>]
    val mutable Context: HttpContext

    /// Kestrel's request handler waits on this task.
    [<DefaultValue>]
    val mutable Completion: TaskCompletionSource

    /// An upgrade (not counted among the plain requests shutdown waits for).
    [<DefaultValue>]
    val mutable Upgrade: bool

    /// 1 once the request has ended.
    [<DefaultValue>]
    val mutable Finished: int

    /// Adds an answer (any thread). A whole response wakes the handler on this very thread when
    /// `here` says this thread can spare the time: what is left is short work for Kestrel (write
    /// the bytes, end the request, start reading the next one), cheaper done here than after a hop
    /// to the thread pool. Anything else, or when this thread has better things to do, continues on
    /// the pool.
    member this.Write(outgoing: Outgoing, here: bool) =
        let wake =
            lock this (fun () ->
                if reading then
                    reading <- false
                    true
                elif isNull (box next) then
                    next <- outgoing
                    false
                else
                    if isNull later then
                        later <- Queue()

                    later.Enqueue outgoing
                    false)

        if wake then
            let stay =
                match outgoing with
                | Outgoing.Complete _
                | Outgoing.Unavailable
                | Outgoing.UpgradeRequired -> here
                | _ -> false

            if stay then
                this.Source.SetResult outgoing
            else
                // This object is the pool's work item (no wrapper allocated per hop): at most one
                // wake is ever in flight, since the next waits for the reader to read again.
                waking <- outgoing
                ThreadPool.UnsafeQueueUserWorkItem(this, false) |> ignore

    /// The next answer, at once if it is there.
    member this.Read() : ValueTask<Outgoing> =
        lock this (fun () ->
            if not (isNull (box next)) then
                let answer = next

                next <-
                    if isNull later || later.Count = 0 then
                        Unchecked.defaultof<_>
                    else
                        later.Dequeue()

                ValueTask<Outgoing>(answer)
            else
                this.Source.Reset()
                reading <- true
                ValueTask<Outgoing>(this, this.Source.Version))

    /// The next answer if it is there; otherwise null, and `next` runs with this object when it
    /// comes (where `Read`'s continuation would), to take it with `Result`.
    member this.TryRead(next: Action<obj>) : Outgoing =
        let answer = this.Read()

        if answer.IsCompleted then
            answer.Result
        else
            (this :> IValueTaskSource<Outgoing>)
                .OnCompleted(next, this, this.Source.Version, ValueTaskSourceOnCompletedFlags.FlowExecutionContext)

            Unchecked.defaultof<_>

    /// The answer that woke `TryRead`'s continuation.
    member this.Result = this.Source.GetResult this.Source.Version

    interface IValueTaskSource<Outgoing> with
        member this.GetResult(token) = this.Source.GetResult token
        member this.GetStatus(token) = this.Source.GetStatus token

        member this.OnCompleted(continuation, state, token, flags) =
            this.Source.OnCompleted(continuation, state, token, flags)

    interface IThreadPoolWorkItem with
        member this.Execute() =
            let outgoing = waking
            waking <- Unchecked.defaultof<_>
            this.Source.SetResult outgoing

/// An upgraded connection's stream with its frames followed both ways. When .NET's WebSocket
/// disposes it while it is still in use, `abandoned` says whether that was an abort (a keep-alive
/// ping went unanswered) and ends the connection then, since Kestrel would keep reading on.
type private WatchedStream(inner: Stream, abandoned: unit -> bool) =
    inherit Stream()
    let incoming = FrameFollower()
    let outgoing = FrameFollower()
    let mutable finished = false
    let mutable wasAborted = false

    /// Frames from the peer.
    member _.Incoming = incoming
    /// Frames to the peer, .NET's own included.
    member _.Outgoing = outgoing
    /// The WebSocket aborted the connection by itself.
    member _.WasAborted = wasAborted
    /// The connection is done: disposing is ours from now on, not an abort.
    member _.Finish() = finished <- true

    override _.CanRead = true
    override _.CanWrite = true
    override _.CanSeek = false
    override _.Length = raise (NotSupportedException())

    override _.Position
        with get () = raise (NotSupportedException())
        and set _ = raise (NotSupportedException())

    override _.Seek(_, _) = raise (NotSupportedException())
    override _.SetLength _ = raise (NotSupportedException())
    override _.Flush() = inner.Flush()
    override _.FlushAsync(cancellationToken) = inner.FlushAsync(cancellationToken)

    override _.Read(buffer: byte array, offset, count) =
        let n = inner.Read(buffer, offset, count)
        incoming.Feed(ReadOnlySpan(buffer, offset, n))
        n

    override _.ReadAsync(buffer: Memory<byte>, cancellationToken) =
        let reading = inner.ReadAsync(buffer, cancellationToken)

        if reading.IsCompletedSuccessfully then
            let n = reading.Result
            incoming.Feed(Span<byte>.op_Implicit(buffer.Span.Slice(0, n)))
            ValueTask<int>(n)
        else
            ValueTask<int>(
                task {
                    let! n = reading
                    incoming.Feed(Memory<byte>.op_Implicit(buffer.Slice(0, n)).Span)
                    return n
                }
            )

    override this.ReadAsync(buffer: byte array, offset, count, cancellationToken) =
        this.ReadAsync(Memory(buffer, offset, count), cancellationToken).AsTask()

    override _.Write(buffer: byte array, offset, count) =
        outgoing.Feed(ReadOnlySpan(buffer, offset, count))
        inner.Write(buffer, offset, count)

    override _.WriteAsync(buffer: ReadOnlyMemory<byte>, cancellationToken) =
        outgoing.Feed(buffer.Span)
        inner.WriteAsync(buffer, cancellationToken)

    override _.WriteAsync(buffer: byte array, offset, count, cancellationToken) =
        outgoing.Feed(ReadOnlySpan(buffer, offset, count))
        inner.WriteAsync(buffer, offset, count, cancellationToken)

    override _.Dispose(disposing) =
        if disposing then
            if not finished && not wasAborted then
                wasAborted <- abandoned ()

            inner.Dispose()

        base.Dispose(disposing)

/// A connection's request heads as a `RequestHeadScanner` followed them, and how many requests
/// the handler has taken from it. A connection feature, so each request's `HttpContext.Features`
/// reaches it (Kestrel's request features fall back to the connection's). HTTP/1.1 runs one
/// request at a time per connection: `Requests` needs no lock.
[<Sealed; AllowNullLiteral>]
type private HeadScan(scanner: RequestHeadScanner) =
    member _.Scanner = scanner

    [<DefaultValue>]
    val mutable Requests: int

/// A connection's transport, its input shown to a scanner first.
type private ScannedTransport(inner: System.IO.Pipelines.IDuplexPipe, input: System.IO.Pipelines.PipeReader) =
    interface System.IO.Pipelines.IDuplexPipe with
        member _.Input = input
        member _.Output = inner.Output

type private App(handle: HttpContext -> Task) =
    interface IHttpApplication<HttpContext> with
        // Kestrel keeps one context per connection for the application to reuse, as ASP.NET
        // Core's own hosting does: a keep-alive connection then costs no new context per request.
        member _.CreateContext(features) =
            match features with
            | :? Abstractions.IHostContextContainer<HttpContext> as container ->
                match container.HostContext with
                | :? DefaultHttpContext as reused ->
                    reused.Initialize features
                    reused :> HttpContext
                | _ ->
                    let context = DefaultHttpContext(features)
                    container.HostContext <- context
                    context :> HttpContext
            | _ -> DefaultHttpContext(features) :> HttpContext

        member _.ProcessRequestAsync(context) = handle context

        member _.DisposeContext(context, _) =
            match context with
            | :? DefaultHttpContext as d -> d.Uninitialize()
            | _ -> ()

/// The shell. `post` delivers inputs to the computer's mailbox (any thread).
type Shell(options: ShellOptions, sink: Action<Input>) =
    let post (input: Input) = sink.Invoke input
    let endpoints = ConcurrentDictionary<Port, Endpoint>()
    let pending = ConcurrentDictionary<RequestId, Pending>()
    let clients = ConcurrentDictionary<ClientId, WebSocketClient>()
    let mutable nextRequest = 0L
    let mutable closed = false
    // Requests posted to the computer and not yet taken by it, oldest first (the sweeper
    // answers those that wait past their deadline), and how many there are.
    let posted = ConcurrentQueue<Pending>()
    let mutable unseen = 0
    // How many more requests the core can take (room in its queue and backlog), as the computer
    // last said; requests beyond it while the computer is busy get 503 at once.
    let mutable room = Int32.MaxValue
    // Connections open now (every port), plain request handlers running, body bytes held.
    let mutable connections = 0
    let mutable handlers = 0
    let mutable buffered = 0L
    let mutable sweeping = 0
    // Ports released while the computer ran, still finishing their requests.
    let stopping = ConcurrentBag<Task>()

    static let websocketGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    let loggerFactory =
        if isNull options.LoggerFactory then
            NullLoggerFactory.Instance :> ILoggerFactory
        else
            options.LoggerFactory

    let logger = loggerFactory.CreateLogger "Craft.Server"

    static let innermost = WebSocketPump.innermost

    /// Posts an input; a WebSocket client closed by one of the shell's limits is logged first
    /// (1009: a message too large, 1008: its send queue full).
    let postLogged (input: Input) =
        match input with
        | Input.ClientClosed(client, Some code, Some reason) when
            (code = 1009 && reason = "Message too large")
            || (code = 1008 && reason = "Send queue full")
            ->
            Log.clientClosed logger client code reason
        | _ -> ()

        post input

    let log (context: HttpContext) (status: int) =
        match options.RequestLog with
        | Some writer ->
            try
                lock writer (fun () ->
                    writer.WriteLine(
                        $"{context.Request.Method} {context.Request.Path}{context.Request.QueryString} {status}"
                    ))
            with _ ->
                ()
        | None -> ()

        Log.request logger context status

    static let writeHead (response: HttpResponse) (head: ResponseHead) =
        response.StatusCode <- head.Status

        if head.Reason <> "" then
            response.HttpContext.Features.Get<IHttpResponseFeature>().ReasonPhrase <- head.Reason

        for KeyValue(name, value) in head.Headers do
            response.Headers.Append(name, value)

        // A 1xx is an interim response: a client waits for the final one after it, which never
        // comes. Closing the connection tells it that nothing more follows.
        if head.Status < 200 then
            response.Headers.Connection <- "close"

    static let noBody (context: HttpContext) status =
        HttpMethods.IsHead context.Request.Method
        || (status >= 100 && status < 200)
        || status = 204
        || status = 304

    static let refuse (status: int) (message: string) : unit =
        raise (Microsoft.AspNetCore.Http.BadHttpRequestException(message, status))

    /// Whether the request has no body to read: Kestrel says it cannot have one (a GET without
    /// Content-Length or Transfer-Encoding), or its Content-Length is 0.
    static let hasNoBody (request: HttpRequest) =
        let length = request.ContentLength

        (match request.HttpContext.Features.Get<IHttpRequestBodyDetectionFeature>() with
         | null -> false
         | detection -> not detection.CanHaveBody)
        || (length.HasValue && length.Value = 0L)

    /// The body, whole, in a buffer from the shared pool (its array and length). It grows as
    /// bytes arrive: a Content-Length is a claim, not a reason to allocate. Every byte counts
    /// against the buffered-body budget until the request is released.
    let readBody (request: HttpRequest) =
        task {
            let length = request.ContentLength

            // Most requests (every GET) have no body: no buffer for them.
            if hasNoBody request then
                return struct (Array.Empty<byte>(), 0)
            else
                if length.HasValue && length.Value > options.MaxRequestBodyBytes then
                    refuse 413 "Request body too large."

                let pool = ArrayPool<byte>.Shared

                let first =
                    if length.HasValue then
                        int (min length.Value 16384L)
                    else
                        16384

                let mutable buffer = pool.Rent first
                let mutable read = 0
                let mutable finished = false

                try
                    while not finished do
                        if read = buffer.Length then
                            let bigger =
                                pool.Rent(int (min (int64 read * 2L) (options.MaxRequestBodyBytes + 1L)))

                            Buffer.BlockCopy(buffer, 0, bigger, 0, read)
                            pool.Return buffer
                            buffer <- bigger

                        let! n = request.Body.ReadAsync(buffer.AsMemory(read))

                        if n = 0 then
                            finished <- true
                        else
                            // The limit is on the body's bytes: chunk framing does not count.
                            if int64 read + int64 n > options.MaxRequestBodyBytes then
                                refuse 413 "Request body too large."

                            if Interlocked.Add(&buffered, int64 n) > options.MaxBufferedBodyBytes then
                                Interlocked.Add(&buffered, -(int64 n)) |> ignore
                                refuse 503 "Too many request bytes held."

                            read <- read + n

                    return struct (buffer, read)
                with e ->
                    Interlocked.Add(&buffered, -(int64 read)) |> ignore
                    pool.Return buffer
                    return raise e
        }

    let releaseBody =
        Action<byte array, int>(fun buffer length ->
            if buffer.Length > 0 then
                Interlocked.Add(&buffered, -(int64 length)) |> ignore
                ArrayPool<byte>.Shared.Return buffer)

    /// The bytes a header value must not hold: controls other than tab, and DEL.
    static let controls =
        SearchValues.Create(
            String(
                Array.init 32 char
                |> Array.filter (fun c -> c <> '\t')
                |> Array.append [| '\127' |]
            )
        )

    /// The header lines the script sees (names as sent, repeated headers joined with ", "), and
    /// whether a value holds what Kestrel lets through and HTTP forbids (RFC 9110 5.5): control
    /// bytes. One pass over Kestrel's headers, which hands out a boxed enumerator each time.
    static let headerLines (request: HttpRequest) =
        let mutable lines = Array.zeroCreate request.Headers.Count
        let mutable count = 0
        let mutable bad = false

        for KeyValue(name, values) in request.Headers do
            let value =
                if values.Count = 1 then
                    values[0]
                else
                    String.Join(", ", values.ToArray())

            if not (isNull value) && value.AsSpan().IndexOfAny(controls) >= 0 then
                bad <- true

            if count = lines.Length then
                Array.Resize(&lines, count + 4)

            lines[count] <- KeyValuePair(name, value)
            count <- count + 1

        if count < lines.Length then
            Array.Resize(&lines, count)

        struct (lines, bad)

    /// Chunked applied twice (RFC 9112 6.1), which Kestrel lets through. (A Content-Length that is
    /// not digits is the head scanner's: Kestrel shows only the number it parsed.)
    static let chunkedTwice (request: HttpRequest) =
        request.Headers.ContainsKey "Transfer-Encoding"
        && (request.Headers["Transfer-Encoding"]
            |> Seq.collect (fun v -> v.Split ',')
            |> Seq.filter (fun v -> String.Equals(v.Trim(), "chunked", StringComparison.OrdinalIgnoreCase))
            |> Seq.length)
            >
            1

    /// The target the script sees: as sent, but the path and query of an absolute-form target
    /// (`GET http://host/a?b HTTP/1.1`), which a client sends only to a proxy.
    static let originForm (raw: string) =
        // Ordinal: the culture-aware string search costs microseconds per request.
        if raw.Length > 0 && raw[0] = '/' then
            raw
        else
            let scheme = raw.IndexOf("://", StringComparison.Ordinal)

            if raw = "*" || scheme < 0 then
                raw
            else
                let rest = raw.AsSpan(scheme + 3)
                let at = rest.IndexOfAny('/', '?')

                if at < 0 then "/"
                elif rest[at] = '?' then "/" + rest.Slice(at).ToString()
                else rest.Slice(at).ToString()

    let requestOf id port (context: HttpContext) headers (struct (body: byte array, length: int)) =
        let request = context.Request
        let raw = context.Features.Get<IHttpRequestFeature>()

        let target =
            if isNull raw || String.IsNullOrEmpty raw.RawTarget then
                request.Path.Value
            else
                originForm raw.RawTarget

        let remote = context.Connection.RemoteIpAddress

        let address =
            if isNull remote then
                ""
            elif remote.IsIPv4MappedToIPv6 then
                remote.MapToIPv4().ToString()
            else
                remote.ToString()

        IncomingRequest(
            id,
            port,
            request.Method,
            target,
            headers,
            body,
            length,
            address,
            context.Connection.RemotePort,
            releaseBody
        )

    let isWebSocketRequest (context: HttpContext) =
        let upgrade = context.Features.Get<IHttpUpgradeFeature>()

        not (isNull upgrade)
        && upgrade.IsUpgradableRequest
        && HttpMethods.IsGet context.Request.Method
        && String.Equals(context.Request.Headers.Upgrade.ToString(), "websocket", StringComparison.OrdinalIgnoreCase)

    let canned (context: HttpContext) status =
        task {
            let response = context.Response

            if not response.HasStarted then
                response.StatusCode <- status

                match status with
                | 503 ->
                    response.Headers.RetryAfter <- "1"
                    Log.refused logger context 503 "no room for it, its deadline passed, or the computer is ending"
                | 426 ->
                    response.Headers.Upgrade <- "websocket"
                    response.Headers.Connection <- "Upgrade"
                | _ -> ()

                response.ContentLength <- 0L

            log context status
        }

    let acceptWebSocket (context: HttpContext) (client: WebSocketClient) (extra: KeyValuePair<string, string> array) =
        task {
            let key = context.Request.Headers["Sec-WebSocket-Key"].ToString()

            let accept =
                Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + websocketGuid)))

            let offered =
                context.Request.Headers["Sec-WebSocket-Protocol"].ToString().Split(',')
                |> Array.map (fun s -> s.Trim())
                |> Array.filter (fun s -> s <> "")

            let mutable subprotocol = null
            let response = context.Response
            response.StatusCode <- 101
            response.Headers.Connection <- "Upgrade"
            response.Headers.Upgrade <- "websocket"
            response.Headers["Sec-WebSocket-Accept"] <- accept

            for KeyValue(name, value) in extra do
                if String.Equals(name, "Sec-WebSocket-Protocol", StringComparison.OrdinalIgnoreCase) then
                    let wanted = value.Split(',') |> Array.map (fun s -> s.Trim())

                    match wanted |> Array.tryFind (fun w -> Array.contains w offered) with
                    | Some chosen ->
                        subprotocol <- chosen
                        response.Headers["Sec-WebSocket-Protocol"] <- chosen
                    | None -> ()
                else
                    response.Headers.Append(name, value)

            log context 101
            let upgrade = context.Features.Get<IHttpUpgradeFeature>()
            let! stream = upgrade.UpgradeAsync()

            let socketOptions =
                WebSocketCreationOptions(
                    IsServer = true,
                    SubProtocol = subprotocol,
                    KeepAliveInterval = options.PingInterval,
                    KeepAliveTimeout = options.PingInterval
                )

            let created: WebSocket ref = ref null

            let abandoned () =
                let aborted =
                    not (isNull created.Value) && created.Value.State = WebSocketState.Aborted

                if aborted then
                    context.Abort()

                aborted

            let watched = new WatchedStream(stream, abandoned)
            use socket = WebSocket.CreateFromStream(watched, socketOptions)
            created.Value <- socket
            client.Socket <- socket

            // The script may have sent past the cap before the handshake was done.
            if Volatile.Read(&client.Overflowed) = 1 then
                socket.Abort()

            let ending =
                {
                    CloseHadCode = fun () -> watched.Incoming.LastClose <> 0
                    SentClose = fun () -> watched.Outgoing.LastClose
                    Aborted = fun () -> watched.WasAborted
                }

            let sending = WebSocketPump.send client socket
            do! WebSocketPump.receive postLogged options.MaxMessageBytes ending client socket
            client.Sends.Writer.TryComplete() |> ignore
            do! sending
            watched.Finish()
            clients.TryRemove(client.Id) |> ignore
        }

    /// The most of a body written in one piece: a larger one goes in slices of it, each flushed.
    static let wholeWrite = 64 * 1024

    /// Writes a body in slices, each flushed before the next: Kestrel copies what it is given
    /// into its own buffers, so one big write to a client that reads slowly would hold a second
    /// copy of the whole body; slices keep that to one slice per connection.
    let writeBody (response: HttpResponse) (body: ReadOnlyMemory<byte>) : ValueTask =
        let slice = wholeWrite

        if body.Length <= slice then
            response.Body.WriteAsync(body)
        else
            ValueTask(
                task {
                    let mutable at = 0

                    while at < body.Length do
                        let n = min slice (body.Length - at)
                        do! response.Body.WriteAsync(body.Slice(at, n))
                        do! response.Body.FlushAsync()
                        at <- at + n
                }
            )

    /// Gives a written body's memory back to its owner, if it has one.
    static let giveBack (owner: IDisposable) =
        if not (isNull owner) then
            owner.Dispose()

    /// Writes a whole response: its head, and its body (whose write may still be running).
    let writeComplete (context: HttpContext) (head: ResponseHead) (body: ReadOnlyMemory<byte>) : ValueTask =
        let response = context.Response
        writeHead response head

        if noBody context head.Status then
            if HttpMethods.IsHead context.Request.Method then
                response.ContentLength <- int64 body.Length

            ValueTask.CompletedTask
        else
            response.ContentLength <- int64 body.Length

            if body.Length > 0 && body.Length <= wholeWrite then
                // Into Kestrel's buffer without a flush of its own: Kestrel flushes once as the
                // request ends. (A write and a flush here, then the end's flush, had this thread
                // contend with the socket's sender for the connection's pipe.)
                let writer = response.BodyWriter
                body.Span.CopyTo(writer.GetSpan(body.Length))
                writer.Advance(body.Length)
                ValueTask.CompletedTask
            elif body.Length > 0 then
                writeBody response body
            else
                ValueTask.CompletedTask

    /// Writes an answer the computer gave (`first`, and what follows it for a stream).
    let respondWith (context: HttpContext) (answers: Pending) (first: Outgoing) : Task =
        task {
            let response = context.Response

            try
                match first with
                | Outgoing.Complete(head, body, owner) ->
                    try
                        do! writeComplete context head body
                    finally
                        giveBack owner

                    log context head.Status
                | Outgoing.Start(head, body, owner) ->
                    let skip = noBody context head.Status

                    try
                        writeHead response head
                        do! response.StartAsync()

                        if body.Length > 0 && not skip then
                            do! writeBody response body
                    finally
                        giveBack owner

                    do! response.Body.FlushAsync()
                    let mutable streaming = true

                    while streaming do
                        match! answers.Read() with
                        | Outgoing.Chunk(body, owner) ->
                            try
                                if not skip then
                                    do! writeBody response body
                                    do! response.Body.FlushAsync()
                            finally
                                giveBack owner
                        | _ -> streaming <- false

                    log context head.Status
                | Outgoing.Unavailable -> do! canned context 503
                | Outgoing.UpgradeRequired -> do! canned context 426
                | Outgoing.Accept(client, extra) -> do! acceptWebSocket context client extra
                | Outgoing.Chunk _
                | Outgoing.End -> do! canned context 500
            with
            | :? OperationCanceledException
            | :? IOException
            | :? Microsoft.AspNetCore.Connections.ConnectionResetException -> () // the client went away; the script is not told
        }

    /// A WebSocket handshake the shell can complete (RFC 6455 4.2.1): a 16-byte key, version 13.
    static let validHandshake (request: HttpRequest) =
        let key = request.Headers["Sec-WebSocket-Key"].ToString()

        let validKey =
            try
                key <> "" && Convert.FromBase64String(key).Length = 16
            with _ ->
                false

        validKey && request.Headers["Sec-WebSocket-Version"].ToString() = "13"

    /// Answers a request the script never sees, and closes the connection after it when the
    /// rest of the request was not read.
    let refuseRequest (context: HttpContext) status close =
        let response = context.Response
        response.StatusCode <- status
        response.ContentLength <- 0L

        if status = 503 then
            response.Headers.RetryAfter <- "1"

        Log.refused
            logger
            context
            status
            (match status with
             | 413 -> "request body too large"
             | 503 -> "too many request bytes held"
             | _ -> "malformed request")

        if close then
            // The rest of the body is not read: close rather than drain it.
            response.Headers.Connection <- "close"

        log context status

    /// Answers 503 for the computer a request that waited in its mailbox past its deadline, if
    /// the computer has not taken it meanwhile.
    let expire (p: Pending) =
        if Interlocked.CompareExchange(&p.Claim, 2, 0) = 0 then
            Interlocked.Decrement(&unseen) |> ignore
            p.Write(Outgoing.Unavailable, true)

    /// Runs every 100 ms: requests still in the mailbox past their deadline get 503 even while
    /// the computer is busy (running Lua, or stuck in a native call).
    let sweep () =
        if Interlocked.Exchange(&sweeping, 1) = 0 then
            try
                let now = options.Clock.Invoke()
                let wait = int64 options.WaitDeadline.TotalMilliseconds
                let mutable more = true

                while more do
                    match posted.TryPeek() with
                    | true, p when Volatile.Read(&p.Claim) <> 0 -> posted.TryDequeue() |> ignore
                    | true, p when now - p.Arrived >= wait ->
                        expire p
                        posted.TryDequeue() |> ignore
                    | _ -> more <- false
            finally
                Volatile.Write(&sweeping, 0)

    let sweeper = new Timer((fun _ -> sweep ()), null, 100, 100)

    /// Whether this request's head had a Content-Length that is not 1*DIGIT, which Kestrel
    /// accepted (`+3`, `-0`) and shows only as the number it read. Counts the request.
    static let badLength (context: HttpContext) =
        match context.Features.Get<HeadScan>() with
        | null -> false
        | scan ->
            let index = scan.Requests
            scan.Requests <- index + 1
            // Kestrel refuses a head it cannot read a number from: a bad one that got here has one.
            scan.Scanner.IsBadHead index && context.Request.Headers.ContentLength.HasValue

    /// The request's body, or ValueNone when the request was refused (the refusal is written) or
    /// its client went away. No task for requests without a body (every GET).
    let receive (context: HttpContext) badHead upgrade : ValueTask<struct (byte array * int) voption> =
        let none = ValueTask<struct (byte array * int) voption>(ValueNone)

        if badHead then
            refuseRequest context 400 true
            none
        elif upgrade then
            if validHandshake context.Request then
                ValueTask<_>(ValueSome(struct (Array.Empty<byte>(), 0)))
            else
                // Refused before the computer hears of it: no connect, no close.
                context.Response.Headers["Sec-WebSocket-Version"] <- "13"
                refuseRequest context 400 false
                none
        elif hasNoBody context.Request then
            ValueTask<_>(ValueSome(struct (Array.Empty<byte>(), 0)))
        else
            ValueTask<struct (byte array * int) voption>(
                task =
                    task {
                        try
                            let! body = readBody context.Request
                            return ValueSome body
                        with
                        | :? Microsoft.AspNetCore.Http.BadHttpRequestException as e ->
                            refuseRequest context e.StatusCode true
                            return ValueNone
                        | :? Microsoft.AspNetCore.Connections.ConnectionResetException
                        | :? OperationCanceledException -> return ValueNone // the client went away
                        | _ when context.RequestAborted.IsCancellationRequested -> return ValueNone
                        | _ ->
                            // Kestrel's chunked parser reports some malformed bodies with a
                            // plain IOException or worse (a chunk size past 2^31): a bad request.
                            refuseRequest context 400 true
                            return ValueNone
                    }
            )

    /// Plain requests are counted until their answer is written: shutdown waits for them.
    let endHandler upgrade =
        if not upgrade then
            Interlocked.Decrement(&handlers) |> ignore

    /// Ends a request (once): its body's buffer goes back, and Kestrel's handler completes.
    let finish (p: Pending) (work: Task) =
        if Interlocked.Exchange(&p.Finished, 1) = 0 then
            pending.TryRemove(p.Request.Id) |> ignore
            p.Request.Release()
            endHandler p.Upgrade

            if work.IsFaulted then
                p.Completion.TrySetException(work.Exception.InnerExceptions) |> ignore
            else
                p.Completion.TrySetResult() |> ignore

    /// `finish` as a task continuation, made once.
    let finishLater = Action<Task, obj>(fun work p -> finish (p :?> Pending) work)

    /// Writes the answer to a request, then `finish`es it with what the writing came to. A whole
    /// response Kestrel takes at once (the usual case: a body that fits its buffers) is written
    /// right here: no task, no state machine. Anything else goes through `respondWith`.
    let answer (context: HttpContext) (answers: Pending) (first: Outgoing) =
        let later (work: Task) =
            work.ContinueWith(finishLater, answers, TaskContinuationOptions.ExecuteSynchronously)
            |> ignore

        match first with
        | Outgoing.Complete(head, body, owner) ->
            let write =
                try
                    writeComplete context head body
                with e ->
                    ValueTask(Task.FromException e)

            if write.IsCompletedSuccessfully then
                giveBack owner
                log context head.Status
                finish answers Task.CompletedTask
            else
                later (
                    task {
                        try
                            try
                                do! write
                                log context head.Status
                            with
                            | :? OperationCanceledException
                            | :? IOException
                            | :? Microsoft.AspNetCore.Connections.ConnectionResetException -> () // the client went away
                        finally
                            giveBack owner
                    }
                )
        | _ -> later (respondWith context answers first)

    let answerWith (p: Pending) (first: Outgoing) =
        try
            answer p.Context p first
        with e ->
            finish p (Task.FromException e)

    /// `answerWith` for an answer that came later, made once.
    let answerLater =
        Action<obj>(fun o ->
            let p = o :?> Pending
            answerWith p p.Result)

    /// Hands a read request to the computer and answers it with what comes back. The request
    /// ends once (`finish`), when the answer is written or could not be.
    let serve port (gate: Gate) (context: HttpContext) upgrade lines body : Task =
        let id = Interlocked.Increment(&nextRequest)
        let request = requestOf id port context lines body
        let p = Pending(request, options.Clock.Invoke())
        p.Context <- context
        p.Upgrade <- upgrade
        // Kestrel's own continuation runs where this completes: where the answer was written
        // (the computer's thread for a whole response while no other request waits for it, the
        // pool otherwise; see `Pending.Write` and `Send`).
        p.Completion <- TaskCompletionSource()
        pending[id] <- p

        try
            let routed =
                lock gate (fun () ->
                    if closed || gate.Released then
                        false
                    elif Interlocked.Increment(&unseen) > Volatile.Read(&room) then
                        // The computer has no room for it: it would only wait to be refused.
                        Interlocked.Decrement(&unseen) |> ignore
                        false
                    else
                        posted.Enqueue p
                        post (Input.RequestArrived(id, port, upgrade, p.Arrived))
                        true)

            if not routed then
                Volatile.Write(&p.Claim, 2)
                p.Write(Outgoing.Unavailable, true)

            let first = p.TryRead answerLater

            if not (isNull (box first)) then
                answerWith p first
        with e ->
            finish p (Task.FromException e)

        p.Completion.Task

    let handle (port: Port) (gate: Gate) (context: HttpContext) : Task =
        let badLength = badLength context
        let upgrade = isWebSocketRequest context

        // Plain requests are counted until their answer is written: shutdown waits for them.
        if not upgrade then
            Interlocked.Increment(&handlers) |> ignore

        try
            let struct (lines, badValue) = headerLines context.Request

            let body =
                receive context (badLength || badValue || chunkedTwice context.Request) upgrade

            // Without a body (every GET) the request goes to the computer at once: no task.
            if body.IsCompletedSuccessfully then
                match body.Result with
                | ValueNone ->
                    endHandler upgrade
                    Task.CompletedTask
                | ValueSome body -> serve port gate context upgrade lines body
            else
                task {
                    let mutable serving = false

                    try
                        match! body with
                        | ValueNone -> ()
                        | ValueSome body ->
                            serving <- true
                            do! serve port gate context upgrade lines body
                    finally
                        if not serving then
                            endHandler upgrade
                }
        with _ ->
            endHandler upgrade
            reraise ()

    /// Connections past the limit are closed as soon as they are accepted, before they cost more
    /// than the moment: the process never runs out of file descriptors because of its peers.
    let limitConnections (next: Microsoft.AspNetCore.Connections.ConnectionDelegate) =
        Microsoft.AspNetCore.Connections.ConnectionDelegate(fun connection ->
            if Interlocked.Increment(&connections) > options.MaxConnections then
                Interlocked.Decrement(&connections) |> ignore
                Log.connectionRefused logger connection.RemoteEndPoint options.MaxConnections
                connection.Abort()
                Task.CompletedTask
            else
                task {
                    try
                        do! next.Invoke connection
                    finally
                        Interlocked.Decrement(&connections) |> ignore
                })

    /// Every byte a client sends goes by a `RequestHeadScanner` before Kestrel reads it, so that
    /// `handle` can refuse a request whose head Kestrel read leniently.
    let scanHeads (next: Microsoft.AspNetCore.Connections.ConnectionDelegate) =
        // Past Kestrel's own limits (a head it refuses with 414 or 431), the scanner gives up.
        let cap =
            int (
                min
                    (int64 Int32.MaxValue)
                    (max 65536L (int64 options.MaxRequestLineBytes + int64 options.MaxRequestHeaderBytes + 1024L))
            )

        Microsoft.AspNetCore.Connections.ConnectionDelegate(fun connection ->
            let scanner = RequestHeadScanner cap
            let transport = connection.Transport
            connection.Transport <- ScannedTransport(transport, ScanningPipeReader(transport.Input, scanner))
            connection.Features.Set<HeadScan>(HeadScan scanner)
            next.Invoke connection)

    /// Opens a Kestrel server on the port (0: any free one); the bound port, or why it failed.
    member _.Bind(port: Port) : Result<Port, string> =
        try
            let kestrel = KestrelServerOptions()
            kestrel.AddServerHeader <- false
            // The shell enforces the body limit itself (see readBody).
            kestrel.Limits.MaxRequestBodySize <- Nullable()
            kestrel.Limits.MaxRequestLineSize <- options.MaxRequestLineBytes
            kestrel.Limits.MaxRequestHeadersTotalSize <- options.MaxRequestHeaderBytes
            kestrel.Limits.MaxRequestHeaderCount <- options.MaxRequestHeaderCount
            kestrel.Limits.RequestHeadersTimeout <- options.RequestHeadersTimeout
            kestrel.Limits.KeepAliveTimeout <- options.KeepAliveTimeout
            kestrel.AllowSynchronousIO <- false
            kestrel.ApplicationServices <- ServiceCollection().BuildServiceProvider()

            kestrel.Listen(
                IPEndPoint(options.Address, port),
                fun listen ->
                    listen.Use(Func<_, _>(limitConnections)) |> ignore

                    // TLS sits between the connection limit and the head scanner, which reads
                    // plain HTTP.
                    if not (isNull options.Certificate) then
                        listen.Use(Func<_, _>(Tls.middleware options.Certificate)) |> ignore

                    listen.Use(Func<_, _>(scanHeads)) |> ignore
            )

            let transport =
                SocketTransportFactory(Options.Create(SocketTransportOptions()), loggerFactory)

            let server = new KestrelServer(Options.Create kestrel, transport, loggerFactory)

            let bound = ref port
            let gate = Gate()
            let app = App(fun context -> handle bound.Value gate context)

            server.StartAsync(app, CancellationToken.None).GetAwaiter().GetResult()

            let actual =
                server.Features.Get<IServerAddressesFeature>().Addresses
                |> Seq.tryPick (fun address ->
                    match Uri.TryCreate(address, UriKind.Absolute) with
                    | true, uri -> Some uri.Port
                    | _ -> None)
                |> Option.defaultValue port

            bound.Value <- actual

            endpoints[actual] <-
                {
                    Server = server
                    Port = actual
                    Gate = gate
                }

            Ok actual
        with e ->
            Error(innermost e)

    /// Closes the port's listening socket at once; requests and connections already accepted
    /// finish on their own.
    member _.Release(port: Port) =
        match endpoints.TryRemove port with
        | true, endpoint ->
            lock endpoint.Gate (fun () -> endpoint.Gate.Released <- true)
            // StopAsync unbinds first (the port is free again at once), then lets open requests
            // finish for up to the drain timeout before it aborts them. Shutdown waits for it.
            let drain = new CancellationTokenSource(options.DrainTimeout)

            let stopped =
                endpoint.Server
                    .StopAsync(drain.Token)
                    .ContinueWith(fun (_: Task) ->
                        drain.Dispose()
                        endpoint.Server.Dispose())

            stopping.Add stopped
        | _ -> ()

    /// The computer takes a posted request (called on its thread before the core hears of it):
    /// false when the shell already answered it (it waited past its deadline).
    member _.Claim(id: RequestId) =
        match pending.TryGetValue id with
        | true, p ->
            if Interlocked.CompareExchange(&p.Claim, 1, 0) = 0 then
                Interlocked.Decrement(&unseen) |> ignore
                true
            else
                false
        | _ -> true

    /// How many more requests the core can take now (room in its queue and its backlog).
    member _.SetRoom(n: int) = Volatile.Write(&room, n)

    /// Connections open now, every port together.
    member _.Connections = Volatile.Read(&connections)

    /// Request-body bytes held now.
    member _.BufferedBodyBytes = Interlocked.Read(&buffered)

    /// The request, while it waits for its answer.
    member _.TryGetRequest(id: RequestId) : IncomingRequest =
        match pending.TryGetValue id with
        | true, p -> p.Request
        | _ -> null

    /// Hands an answer (or more of a stream) to a waiting request (the computer's thread). While
    /// requests wait for the computer, the request's end (Kestrel's part: write, end, read the next
    /// request) goes to the pool: the computer's thread is the one every request needs, the pool's
    /// threads can share that work. With nothing waiting it ends here, without the hop.
    member _.Send(id: RequestId, outgoing: Outgoing) =
        match pending.TryGetValue id with
        | true, p -> p.Write(outgoing, Volatile.Read(&unseen) = 0)
        | _ -> ()

    /// Accepts a WebSocket upgrade; the client can be sent to at once.
    member _.Accept(id: RequestId, client: ClientId, headers: KeyValuePair<string, string> array) =
        let c = WebSocketClient(client)
        clients[client] <- c

        match pending.TryGetValue id with
        | true, p -> p.Write(Outgoing.Accept(c, headers), true)
        | _ -> post (Input.ClientClosed(client, Some 1006, Some "Connection lost"))

    /// Queues a message for a client; one that stops reading is given up past the send queue's cap.
    member _.SendMessage(client: ClientId, data: byte array, binary: bool) =
        match clients.TryGetValue client with
        | true, c -> WebSocketPump.enqueue postLogged options.MaxSendQueueBytes c data binary
        | _ -> ()

    member _.Close(client: ClientId, code: int, reason: string) =
        match clients.TryGetValue client with
        | true, c -> WebSocketPump.close c code reason
        | _ -> ()

    member _.ResumeReading(client: ClientId) =
        match clients.TryGetValue client with
        | true, c -> c.Resume.Release()
        | _ -> ()

    /// Stops every server. Whatever still waits is answered 503 first, and the servers stop
    /// only once every request handler has put its answer on the wire (or the shutdown timeout
    /// passed): a computer that ends leaves no client without its answer.
    member this.Dispose() =
        closed <- true
        sweeper.Dispose()
        let until = DateTime.UtcNow + options.ShutdownTimeout

        for KeyValue(_, p) in pending do
            if Interlocked.CompareExchange(&p.Claim, 2, 0) = 0 then
                Interlocked.Decrement(&unseen) |> ignore

            p.Write(Outgoing.Unavailable, true)

        while Volatile.Read(&handlers) > 0 && DateTime.UtcNow < until do
            Thread.Sleep 5

        // What is left now is WebSocket connections (their close frames are on their way) and
        // idle keep-alive connections: a short grace, then Kestrel aborts what remains.
        let grace =
            min (TimeSpan.FromSeconds 2.0) (max TimeSpan.Zero (until - DateTime.UtcNow))

        let stop (e: Endpoint) : Task =
            task {
                use cts = new CancellationTokenSource(grace)

                try
                    do! e.Server.StopAsync(cts.Token)
                with _ ->
                    ()

                e.Server.Dispose()
            }

        let stops =
            [|
                for port in List.ofSeq endpoints.Keys do
                    match endpoints.TryRemove port with
                    | true, e -> yield stop e
                    | _ -> ()

                yield! stopping
            |]

        try
            Task.WaitAll(stops, grace + TimeSpan.FromSeconds 1.0) |> ignore
        with _ ->
            ()

    interface IDisposable with
        member this.Dispose() = this.Dispose()
