/// What the WebSocket tests share: a real `Computer` running a script from `lua/ws/`, whose
/// printed lines the test can wait for; `ClientWebSocket` helpers; and a raw client that writes
/// and parses frames by hand, for what a well-behaved client never sends.
module Craft.Tests.WsHelpers

open System
open System.IO
open System.Net.Sockets
open System.Net.WebSockets
open System.Security.Cryptography
open System.Text
open System.Threading
open Craft.Interop
open Craft.Tests.ScriptHost
open Expecto

/// The path of a test script (copied next to the test assembly).
let scriptPath (name: string) =
    Path.Combine(AppContext.BaseDirectory, "lua", "ws", name)

/// A computer's options with its output and errors going to the two writers.
let defaults (out: TextWriter) (err: TextWriter) =
    ComputerOptions(Output = out, Error = err, Input = TextReader.Null)

/// Runs the script file at `path` on a computer with options from `make`, and waits until it
/// prints a line from which `portOf` reads the port it serves on; `Stop` queues the event `stop`.
let startFile make (path: string) (args: string list) (portOf: string -> int option) =
    launchWith "stop" (fun out err _ -> make out err) portOf path args

/// Starts `lua/ws/<name>` on a computer with options from `make` and waits until it prints `port N`.
let startWith make (name: string) (args: string list) =
    startFile make (scriptPath name) args portLine

let start name args = startWith defaults name args

let withScriptUsing make name args body =
    withRunning (startWith make name args) body

let withScript name args body = withScriptUsing defaults name args body

// ---- ClientWebSocket ----

let connectWith (setup: ClientWebSocket -> unit) (uri: Uri) =
    task {
        let ws = new ClientWebSocket()
        setup ws
        use cts = new CancellationTokenSource(patience)
        do! ws.ConnectAsync(uri, cts.Token)
        return ws
    }

let connect uri = connectWith ignore uri

let sendText (ws: WebSocket) (text: string) =
    ws.SendAsync(ArraySegment(Encoding.UTF8.GetBytes text), WebSocketMessageType.Text, true, CancellationToken.None)

let sendBytes (ws: WebSocket) (data: byte array) (kind: WebSocketMessageType) =
    ws.SendAsync(ArraySegment data, kind, true, CancellationToken.None)

/// One whole message: `Choice1Of2 (bytes, kind)`, or `Choice2Of2 (closeStatus, description)`.
let receiveMessage (ws: WebSocket) =
    task {
        use cts = new CancellationTokenSource(patience)
        use data = new MemoryStream()
        let buffer = Array.zeroCreate<byte> 65536
        let mutable result = None

        while result.IsNone do
            let! r = ws.ReceiveAsync(ArraySegment buffer, cts.Token)

            if r.MessageType = WebSocketMessageType.Close then
                result <- Some(Choice2Of2(r.CloseStatus, r.CloseStatusDescription))
            else
                data.Write(buffer, 0, r.Count)

                if r.EndOfMessage then
                    result <- Some(Choice1Of2(data.ToArray(), r.MessageType))

        return result.Value
    }

/// The next message as text; fails on a close.
let receiveText (ws: WebSocket) =
    task {
        match! receiveMessage ws with
        | Choice1Of2(data, WebSocketMessageType.Text) -> return Encoding.UTF8.GetString data
        | Choice1Of2(_, kind) -> return failtestf "expected a text message, got %A" kind
        | Choice2Of2(status, reason) -> return failtestf "expected a message, got close %A %s" status reason
    }

/// Expects the server's close frame next; its status and description.
let receiveClose (ws: WebSocket) =
    task {
        match! receiveMessage ws with
        | Choice2Of2(status, reason) -> return status, reason
        | Choice1Of2(data, _) -> return failtestf "expected a close, got a message of %d bytes" data.Length
    }

// ---- A raw client: frames by hand ----

/// The frame opcodes (RFC 6455 5.2).
module Opcode =
    let Continuation, Text, Binary, Close, Ping, Pong = 0uy, 1uy, 2uy, 8uy, 9uy, 10uy

/// One frame as received: FIN, opcode and payload.
type Frame =
    {
        Fin: bool
        Opcode: byte
        Payload: byte array
    }

/// The close code and reason in a close frame's payload (None, "" when it has none).
let closeCodeOf (frame: Frame) =
    if frame.Payload.Length >= 2 then
        Some(int frame.Payload[0] <<< 8 ||| int frame.Payload[1]),
        Encoding.UTF8.GetString(frame.Payload, 2, frame.Payload.Length - 2)
    else
        None, ""

/// A TCP connection that did the upgrade handshake by hand.
type RawClient(tcp: TcpClient, stream: NetworkStream, response: string) =
    inherit TcpPeer(tcp)
    let mask = [| 0x12uy; 0x34uy; 0x56uy; 0x78uy |]

    let readExactly (count: int64) =
        task {
            let buffer = Array.zeroCreate<byte>(int count)
            use cts = new CancellationTokenSource(patience)
            do! stream.ReadExactlyAsync(buffer.AsMemory(), cts.Token)
            return buffer
        }

    /// The handshake response head, as received.
    member _.Response = response

    member _.Stream = stream

    /// Writes one masked frame header with an explicit payload length (which may lie).
    member _.WriteHeader(fin: bool, opcode: byte, length: int64) =
        use head = new MemoryStream()
        head.WriteByte((if fin then 0x80uy else 0uy) ||| opcode)

        if length < 126L then
            head.WriteByte(0x80uy ||| byte length)
        elif length <= 65535L then
            head.WriteByte(0x80uy ||| 126uy)
            head.WriteByte(byte (length >>> 8))
            head.WriteByte(byte length)
        else
            head.WriteByte(0x80uy ||| 127uy)

            for shift in 56..-8..0 do
                head.WriteByte(byte (length >>> shift))

        head.Write(mask, 0, 4)
        stream.Write(head.ToArray(), 0, int head.Length)

    /// Masked payload bytes, the mask applied from `offset` into the frame's payload.
    member _.WritePayload(payload: byte array, offset: int64) =
        let masked =
            payload |> Array.mapi (fun i b -> b ^^^ mask[int ((offset + int64 i) % 4L)])

        stream.Write(masked, 0, masked.Length)

    /// Writes one whole masked frame.
    member this.Send(fin: bool, opcode: byte, payload: byte array) =
        this.WriteHeader(fin, opcode, int64 payload.Length)
        this.WritePayload(payload, 0L)
        stream.Flush()

    member this.SendText(text: string) =
        this.Send(true, Opcode.Text, Encoding.UTF8.GetBytes text)

    /// A close frame with a code and reason, or an empty one.
    member this.SendClose(code: int option, reason: string) =
        let payload =
            match code with
            | Some code -> Array.append [| byte (code >>> 8); byte code |] (Encoding.UTF8.GetBytes reason)
            | None -> [||]

        this.Send(true, Opcode.Close, payload)

    /// Reads the server's next frame (the server never masks).
    member _.Receive() =
        task {
            let! head = readExactly 2L
            let fin = head[0] &&& 0x80uy <> 0uy
            let opcode = head[0] &&& 0x0Fuy
            let short = int64 (head[1] &&& 0x7Fuy)

            let! length =
                task {
                    if short = 126L then
                        let! b = readExactly 2L
                        return int64 b[0] <<< 8 ||| int64 b[1]
                    elif short = 127L then
                        let! b = readExactly 8L
                        return Array.fold (fun acc x -> acc <<< 8 ||| int64 x) 0L b
                    else
                        return short
                }

            let! payload = readExactly length

            return
                {
                    Fin = fin
                    Opcode = opcode
                    Payload = payload
                }
        }

    /// Reads frames until a close frame; the frames before it, and the close frame.
    member this.ReceiveUntilClose() =
        task {
            let before = ResizeArray<Frame>()
            let mutable close = None

            while close.IsNone do
                let! frame = this.Receive()

                if frame.Opcode = Opcode.Close then
                    close <- Some frame
                else
                    before.Add frame

            return List.ofSeq before, close.Value
        }

    /// Whether the server then ends the TCP connection (reads to the end, ignoring any bytes).
    member _.WaitForEnd() =
        task {
            let buffer = Array.zeroCreate<byte> 4096
            use cts = new CancellationTokenSource(patience)
            let mutable ended = false

            try
                while not ended do
                    let! n = stream.ReadAsync(buffer.AsMemory(), cts.Token)
                    ended <- n = 0
            with :? IOException ->
                ended <- true

            return ended
        }

/// Opens a TCP connection and does the upgrade handshake with `extraHeaders` (lines without CRLF).
/// Fails unless the server answers 101 with the right `Sec-WebSocket-Accept`.
let rawConnectWith (port: int) (extraHeaders: string list) =
    task {
        let tcp = new TcpClient()
        use cts = new CancellationTokenSource(patience)
        do! tcp.ConnectAsync("127.0.0.1", port, cts.Token)
        let stream = tcp.GetStream()
        let key = Convert.ToBase64String(RandomNumberGenerator.GetBytes 16)

        let request =
            String.concat
                "\r\n"
                ([
                    "GET / HTTP/1.1"
                    $"Host: 127.0.0.1:{port}"
                    "Upgrade: websocket"
                    "Connection: Upgrade"
                    $"Sec-WebSocket-Key: {key}"
                    "Sec-WebSocket-Version: 13"
                 ]
                 @ extraHeaders
                 @ [ ""; "" ])

        let bytes = Encoding.ASCII.GetBytes request
        do! stream.WriteAsync(bytes, 0, bytes.Length)

        // Read the response head byte by byte so that no frame bytes are consumed.
        let head = StringBuilder()
        let one = Array.zeroCreate<byte> 1

        while not (head.ToString().EndsWith "\r\n\r\n") do
            do! stream.ReadExactlyAsync(one.AsMemory(), cts.Token)
            head.Append(char one[0]) |> ignore

        let response = head.ToString()
        Expect.stringStarts response "HTTP/1.1 101" "the handshake is accepted"

        let accept =
            Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")))

        Expect.stringContains response $"Sec-WebSocket-Accept: {accept}" "the accept key is right"
        return new RawClient(tcp, stream, response)
    }

let rawConnect port = rawConnectWith port []
