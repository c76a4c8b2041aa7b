/// What the server's and the client's WebSocket connections share: the connection object the
/// computer sends through, and the loops that read whole messages (with backpressure) and write
/// what the script sends, in order.
namespace Craft.Server

open System
open System.Net.WebSockets
open System.Threading
open System.Threading.Channels
open System.Threading.Tasks
open System.Threading.Tasks.Sources
open Craft

/// A counting signal with one waiter, woken on the thread that releases it: the computer's
/// thread lets a client's reader go on with no hop to the thread pool (the reader only starts
/// its next receive, which waits for bytes, before it gives the thread back).
[<Sealed>]
type ResumeSignal() =
    let mutable count = 0
    let mutable waiting = false

    [<DefaultValue>]
    val mutable private Source: ManualResetValueTaskSourceCore<bool>

    /// Lets the waiter (or the next wait) go on once.
    member this.Release() =
        let wake =
            lock this (fun () ->
                if waiting then
                    waiting <- false
                    true
                else
                    count <- count + 1
                    false)

        if wake then
            this.Source.SetResult true

    /// Waits for a release (at once if one is owed).
    member this.WaitAsync() : ValueTask =
        lock this (fun () ->
            if count > 0 then
                count <- count - 1
                ValueTask.CompletedTask
            else
                this.Source.Reset()
                waiting <- true
                ValueTask(this, this.Source.Version))

    interface IValueTaskSource with
        member this.GetResult(token) = this.Source.GetResult token |> ignore
        member this.GetStatus(token) = this.Source.GetStatus token

        member this.OnCompleted(continuation, state, token, flags) =
            this.Source.OnCompleted(continuation, state, token, flags)

/// One WebSocket connection. Created by the computer when it accepts the upgrade (so that the
/// script may send at once); the handler attaches the socket once the handshake is done.
[<AllowNullLiteral>]
type WebSocketClient(id: ClientId) =
    // The sender continues on the thread that queued (the computer's, almost always): a message
    // to an idle connection goes out without a hop to the thread pool; a send that has to wait
    // for the connection gives the thread back at once.
    let sends =
        Channel.CreateUnbounded<struct (byte array * bool * int * string)>(
            UnboundedChannelOptions(SingleReader = true, AllowSynchronousContinuations = true)
        )

    let resume = ResumeSignal()
    member _.Id = id
    /// Messages and the close to send, in order (close: code > 0).
    member _.Sends = sends
    /// Released when the core lets the reader read the next message.
    member _.Resume = resume

    /// Bytes handed to `Sends` and not yet written to the connection.
    [<DefaultValue>]
    val mutable Queued: int64

    /// 1 once the send queue passed its cap and the connection was given up.
    [<DefaultValue>]
    val mutable Overflowed: int

    /// The connection's WebSocket, once the handshake is done.
    [<DefaultValue>]
    val mutable Socket: WebSocket

/// What only the connection's owner can tell about how it ended.
type ConnectionEnd =
    {
        /// The peer's close frame carried a code (.NET reports one without a code as 1000).
        CloseHadCode: unit -> bool
        /// The code of the close frame .NET itself sent, 0 if none (1007 for invalid UTF-8).
        SentClose: unit -> int
        /// .NET aborted the connection itself (a keep-alive ping went unanswered).
        Aborted: unit -> bool
    }

[<RequireQualifiedAccess>]
module WebSocketPump =
    /// The innermost exception's message: what went wrong on the wire.
    let innermost (e: exn) =
        let mutable e = e

        while not (isNull e.InnerException) do
            e <- e.InnerException

        e.Message

    /// Reads whole messages until the connection ends; reports each and waits for the core to
    /// let it read the next (backpressure). Reports the end exactly once.
    let receive
        (post: Input -> unit)
        (maxMessageBytes: int)
        (how: ConnectionEnd)
        (client: WebSocketClient)
        (socket: WebSocket)
        =
        task {
            let mutable buffer = Array.zeroCreate<byte> 4096
            let mutable ended = false

            try
                while not ended do
                    let mutable length = 0
                    let mutable complete = false
                    let mutable kind = WebSocketMessageType.Text

                    while not complete && not ended do
                        if length = buffer.Length then
                            let bigger = Array.zeroCreate<byte>(min (buffer.Length * 2) (maxMessageBytes + 1))

                            Buffer.BlockCopy(buffer, 0, bigger, 0, length)
                            buffer <- bigger

                        let! result =
                            socket.ReceiveAsync(
                                ArraySegment(buffer, length, buffer.Length - length),
                                CancellationToken.None
                            )

                        if result.MessageType = WebSocketMessageType.Close then
                            ended <- true

                            // .NET reports a close frame without a code as 1000.
                            let code =
                                if result.CloseStatus.HasValue && how.CloseHadCode() then
                                    Some(int result.CloseStatus.Value)
                                else
                                    None

                            let reason =
                                if code.IsSome then
                                    Some result.CloseStatusDescription
                                else
                                    None

                            try
                                if socket.State = WebSocketState.CloseReceived then
                                    let status =
                                        if result.CloseStatus.HasValue then
                                            result.CloseStatus.Value
                                        else
                                            WebSocketCloseStatus.Empty

                                    do!
                                        socket.CloseOutputAsync(
                                            status,
                                            result.CloseStatusDescription,
                                            CancellationToken.None
                                        )
                            with _ ->
                                ()

                            post (Input.ClientClosed(client.Id, code, reason))
                        else
                            kind <- result.MessageType
                            length <- length + result.Count
                            complete <- result.EndOfMessage

                            if length > maxMessageBytes then
                                ended <- true

                                try
                                    do!
                                        socket.CloseOutputAsync(
                                            WebSocketCloseStatus.MessageTooBig,
                                            "Message too large",
                                            CancellationToken.None
                                        )
                                with _ ->
                                    ()

                                post (Input.ClientClosed(client.Id, Some 1009, Some "Message too large"))

                    if complete && not ended then
                        let data = buffer.AsSpan(0, length).ToArray()
                        post (Input.MessageArrived(client.Id, data, (kind = WebSocketMessageType.Binary)))
                        do! client.Resume.WaitAsync()
            with e ->
                if not ended then
                    let code, reason =
                        match e with
                        // .NET failed the connection itself; its close frame says why.
                        | _ when how.SentClose() = 1007 -> 1007, "Invalid UTF-8 in text message"
                        | _ when how.Aborted() -> 1006, "No answer to ping"
                        | :? WebSocketException as w when
                            w.WebSocketErrorCode = WebSocketError.Faulted
                            || w.WebSocketErrorCode = WebSocketError.HeaderError
                            ->
                            1002, "Protocol error"
                        | _ -> 1006, innermost e

                    if code <> 1006 then
                        try
                            do! socket.CloseOutputAsync(enum<WebSocketCloseStatus> code, reason, CancellationToken.None)
                        with _ ->
                            ()

                    post (Input.ClientClosed(client.Id, Some code, Some reason))
        }

    /// Sends what the script sends, in order; a close ends it.
    let send (client: WebSocketClient) (socket: WebSocket) =
        task {
            let mutable running = true

            while running do
                let! more = client.Sends.Reader.WaitToReadAsync()

                if not more then
                    running <- false
                else
                    let mutable item = Unchecked.defaultof<_>

                    while running && client.Sends.Reader.TryRead(&item) do
                        let struct (data, binary, code, reason) = item

                        try
                            if code > 0 then
                                running <- false

                                if
                                    socket.State = WebSocketState.Open
                                    || socket.State = WebSocketState.CloseReceived
                                then
                                    do!
                                        socket.CloseOutputAsync(
                                            enum<WebSocketCloseStatus> code,
                                            reason,
                                            CancellationToken.None
                                        )
                            elif
                                socket.State = WebSocketState.Open
                                || socket.State = WebSocketState.CloseReceived
                            then
                                let kind =
                                    if binary then
                                        WebSocketMessageType.Binary
                                    else
                                        WebSocketMessageType.Text

                                do! socket.SendAsync(ArraySegment data, kind, true, CancellationToken.None)

                            if not (isNull data) then
                                Interlocked.Add(&client.Queued, -(int64 data.Length)) |> ignore
                        with _ ->
                            // The peer went away; the receive side reports it.
                            ()
        }

    /// Queues a message for a client. A client that does not read while the script keeps
    /// sending is given up once its queue passes `maxQueue`: the connection is aborted and the
    /// script hears `closed` with 1008; the script's `send` itself never fails for it.
    let enqueue (post: Input -> unit) (maxQueue: int64) (c: WebSocketClient) (data: byte array) (binary: bool) =
        if Volatile.Read(&c.Overflowed) = 0 then
            if Interlocked.Add(&c.Queued, int64 data.Length) > maxQueue then
                if Interlocked.Exchange(&c.Overflowed, 1) = 0 then
                    post (Input.ClientClosed(c.Id, Some 1008, Some "Send queue full"))
                    c.Sends.Writer.TryComplete() |> ignore

                    // Drop what waits: it will never be sent.
                    let mutable item = Unchecked.defaultof<_>

                    while c.Sends.Reader.TryRead(&item) do
                        ()

                    match c.Socket with
                    | null -> ()
                    | socket -> socket.Abort()

                    c.Resume.Release()
            else
                c.Sends.Writer.TryWrite(struct (data, binary, 0, null)) |> ignore

    /// Queues the close frame; the reader stops waiting.
    let close (c: WebSocketClient) (code: int) (reason: string) =
        c.Sends.Writer.TryWrite(struct (null, false, code, reason)) |> ignore
        c.Resume.Release()
