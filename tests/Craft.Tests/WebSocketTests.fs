/// End-to-end tests of the WebSocket server (SPEC §3): real computers running the scripts in
/// `lua/ws/`, talked to over loopback by `ClientWebSocket`, by hand-written frames, by `HttpClient`
/// and by an independent client (Debian's python3-websockets).
module Craft.Tests.WebSocketTests

open System
open System.Diagnostics
open System.IO
open System.Net
open System.Net.Http
open System.Net.Http.Headers
open System.Net.WebSockets
open System.Text
open System.Threading
open System.Threading.Tasks
open Craft.Interop
open Craft.Tests.ScriptHost
open Craft.Tests.WsHelpers
open Expecto

/// The default message limit (128 KiB).
let private limit = 128 * 1024

let private kinds = [ WebSocketMessageType.Text; WebSocketMessageType.Binary ]

/// `size` bytes of text (printable ASCII) or binary (every byte value).
let private payload (random: Random) (kind: WebSocketMessageType) size =
    if kind = WebSocketMessageType.Text then
        Array.init size (fun _ -> byte (random.Next(0x20, 0x7F)))
    else
        let data = Array.zeroCreate<byte> size
        random.NextBytes data
        data

/// Sends `data` and expects it back unchanged, with its type.
let private echoes (ws: WebSocket) (kind: WebSocketMessageType) (data: byte array) =
    task {
        do! sendBytes ws data kind

        match! receiveMessage ws with
        | Choice1Of2(back, backKind) ->
            Expect.equal backKind kind $"a {kind} message of {data.Length} bytes comes back as {kind}"
            Expect.isTrue (back = data) $"a {kind} message of {data.Length} bytes comes back intact"
        | Choice2Of2(status, reason) -> failtestf "closed (%A %s) instead of echoing %d bytes" status reason data.Length
    }

/// Stops the script; expects exit code 0, no broken contract, and the totals it printed.
let private stopClean (s: Running) =
    task {
        let! code = s.Stop()
        Expect.equal code 0 $"the script ends cleanly (errors: {s.Err.Text})"
        Expect.isEmpty (s.LinesStarting "error") "the script saw the event contract kept"
        let! summary = s.WaitPrefix "summary "
        return summary
    }

/// Stops the script cleanly (see `stopClean`) and expects the totals it printed.
let private stopsWith (s: Running) (summary: string) (message: string) =
    task {
        let! printed = stopClean s
        Expect.equal printed summary message
    }

/// Stops the script cleanly (see `stopClean`), whatever its totals.
let private stopsClean (s: Running) =
    task {
        let! _ = stopClean s
        ()
    }

/// A test with `lua/ws/echo.lua` running.
let private echoTest name (body: Running -> Task<unit>) =
    testTask name { do! withScript "echo.lua" [] body }

/// Expects the server's close frame next, with 1001 (going away).
let private expectGoingAway (ws: WebSocket) =
    task {
        let! status, _ = receiveClose ws
        Expect.equal status (Nullable WebSocketCloseStatus.EndpointUnavailable) "1001 going away"
    }

/// Expects the server to end the raw client's TCP connection.
let private expectEnded (raw: RawClient) =
    task {
        let! ended = raw.WaitForEnd()
        Expect.isTrue ended "the server ends the connection"
    }

/// A raw client named `name` sends what `send` writes; expects no echo and a close with `code`,
/// on the wire and in the script's closed event.
let private closedWith (s: Running) (code: int) (name: string) (send: RawClient -> unit) =
    task {
        use! raw = rawConnect s.Port
        raw.SendText $"!name {name}"
        send raw
        let! before, close = raw.ReceiveUntilClose()
        Expect.isEmpty before "no echo"
        Expect.equal (fst (closeCodeOf close)) (Some code) $"{code} on the wire"
        let! line = s.WaitPrefix $"closed {name} "
        Expect.stringEnds line $" {code}" $"{code} in the closed event"
    }

/// Sends each (FIN, opcode, payload) as one frame.
let private sendFrames frames (raw: RawClient) =
    for fin, opcode, data in frames do
        raw.Send(fin, opcode, data)

let private closeWith (ws: WebSocket) (code: int) (reason: string) =
    task {
        use cts = new CancellationTokenSource(patience)
        do! ws.CloseAsync(enum<WebSocketCloseStatus> code, reason, cts.Token)
    }

let private http = new HttpClient(Timeout = patience)

let messages =
    testList
        "messages"
        [
            echoTest "messages of 0, 125, 126, 65535, 65536 and limit bytes come back intact, text and binary" (fun s ->
                task {
                    use! ws = connect (s.Uri())
                    let random = Random 42

                    for size in [ 0; 125; 126; 65535; 65536; limit ] do
                        for kind in kinds do
                            do! echoes ws kind (payload random kind size)

                    // Multi-byte UTF-8, and every byte value (NUL and 0xFF included).
                    do! echoes ws WebSocketMessageType.Text (Encoding.UTF8.GetBytes "héllo ☃ 𝄞 \u0000 end")
                    do! echoes ws WebSocketMessageType.Binary [| 0uy .. 255uy |]

                    do! closeWith ws 1000 "done"
                    let! _ = s.WaitPrefix "closed #1 "
                    do! stopsWith s "summary connects=1 closes=1 messages=14 errors=0" "every message counted once"
                })

            echoTest "a message one byte over the limit closes the client with 1009, text and binary" (fun s ->
                task {
                    for kind in kinds do
                        use! ws = connect (s.Uri())
                        do! sendText ws $"!name big-{kind}"
                        let sending = sendBytes ws (Array.create (limit + 1) 'a'B) kind
                        let! status, _ = receiveClose ws

                        Expect.equal status (Nullable WebSocketCloseStatus.MessageTooBig) "the client gets 1009"

                        try
                            do! sending
                        with _ ->
                            ()

                        let! line = s.WaitPrefix $"closed big-{kind} "

                        Expect.equal
                            line
                            $"closed big-{kind} Message too large 1009"
                            "the script's closed event has 1009"

                    do! stopsWith s "summary connects=2 closes=2 messages=2 errors=0" "no oversized message event"
                })

            echoTest "send over the limit raises Message is too large; the client stays usable" (fun s ->
                task {
                    use! ws = connect (s.Uri())
                    do! sendText ws "!too-large"
                    let! reply = receiveText ws
                    Expect.stringContains reply "Message is too large" "the error"
                    do! echoes ws WebSocketMessageType.Text "still open"B
                    do! stopsClean s
                })

            echoTest "fragmented messages are joined into one event, control frames between fragments" (fun s ->
                task {
                    // ClientWebSocket: a text message split inside a multi-byte character,
                    // and a binary message whose fragments cross the reader's buffer sizes.
                    use! ws = connect (s.Uri())
                    let text = Encoding.UTF8.GetBytes "fragmented é message"
                    let split = Array.IndexOf(text, 0xC3uy) + 1

                    for part, last in [ text[.. split - 1], false; text[split..], true ] do
                        do! ws.SendAsync(ArraySegment part, WebSocketMessageType.Text, last, CancellationToken.None)

                    let! back = receiveText ws
                    Expect.equal back "fragmented é message" "the text fragments are one message"

                    let binary = payload (Random 7) WebSocketMessageType.Binary 100000

                    for offset, count in [ 0, 3000; 3000, 60000; 63000, 37000 ] do
                        do!
                            ws.SendAsync(
                                ArraySegment(binary, offset, count),
                                WebSocketMessageType.Binary,
                                (offset + count = binary.Length),
                                CancellationToken.None
                            )

                    match! receiveMessage ws with
                    | Choice1Of2(back, kind) ->
                        Expect.equal kind WebSocketMessageType.Binary "binary"
                        Expect.isTrue (back = binary) "the binary fragments are one message"
                    | Choice2Of2(status, _) -> failtestf "closed %A" status

                    // Raw frames: a ping and an unsolicited pong between the fragments.
                    use! raw = rawConnect s.Port
                    raw.SendText "!name raw"
                    raw.Send(false, Opcode.Text, "Hel"B)
                    raw.Send(true, Opcode.Ping, "p1"B)
                    raw.Send(false, Opcode.Continuation, "lo "B)
                    raw.Send(true, Opcode.Pong, "unasked"B)
                    raw.Send(false, Opcode.Continuation, [||])
                    raw.Send(true, Opcode.Continuation, "world"B)
                    let! pong = raw.Receive()
                    Expect.equal (pong.Opcode, pong.Payload) (Opcode.Pong, "p1"B) "the ping is answered"
                    let! echo = raw.Receive()

                    Expect.equal
                        (echo.Fin, echo.Opcode, Encoding.UTF8.GetString echo.Payload)
                        (true, Opcode.Text, "Hello world")
                        "one joined message"

                    raw.SendText "!count"
                    let! count = raw.Receive()

                    Expect.equal (Encoding.UTF8.GetString count.Payload) "1" "the ping and pong were not messages"

                    do! stopsClean s
                })

            echoTest "1000 pipelined messages come back in order" (fun s ->
                task {
                    use! ws = connect (s.Uri())
                    let message i = $"message {i} " + String('x', i % 300)

                    let receiving =
                        task {
                            for i in 0..999 do
                                let! back = receiveText ws
                                Expect.equal back (message i) $"message {i} in order"
                        }

                    for i in 0..999 do
                        do! sendText ws (message i)

                    do! withinUnit "1000 echoes" receiving
                    do! stopsClean s
                })

            echoTest "100 concurrent clients each get their own messages back in order" (fun s ->
                task {
                    let client n =
                        task {
                            use! ws = connect (s.Uri())
                            do! sendText ws $"!name c{n}"

                            let receiving =
                                task {
                                    for i in 0..49 do
                                        let! back = receiveText ws
                                        Expect.equal back $"c{n} {i}" $"client {n} message {i}"
                                }

                            for i in 0..49 do
                                do! sendText ws $"c{n} {i}"

                            do! receiving
                            do! closeWith ws 1000 $"c{n} done"
                        }

                    do! withinUnit "100 clients" (Task.WhenAll [ for n in 1..100 -> client n ])
                    let! _ = s.WaitPrefixCount("closed c", 100)
                    do! stopsWith s "summary connects=100 closes=100 messages=5100 errors=0" "every event once"

                    for n in 1..100 do
                        Expect.equal
                            (s.LinesStarting $"closed c{n} ")
                            [ $"closed c{n} c{n} done 1000" ]
                            "one closed event per client"
                })
        ]

let closing =
    testList
        "closing"
        [
            echoTest "peer close with code and reason: closed event with them, exactly once" (fun s ->
                task {
                    use! ws = connect (s.Uri())
                    do! sendText ws "!name peer"
                    do! closeWith ws 4000 "bye"

                    Expect.equal
                        ws.CloseStatus
                        (Nullable(enum<WebSocketCloseStatus> 4000))
                        "the server echoes the code"

                    use! raw = rawConnect s.Port
                    raw.SendText "!name raw"
                    raw.SendClose(Some 4001, "raw bye")
                    let! _, close = raw.ReceiveUntilClose()
                    Expect.equal (closeCodeOf close) (Some 4001, "raw bye") "the server echoes code and reason"
                    do! expectEnded raw

                    let! _ = s.WaitPrefix "closed peer "
                    let! summary = stopClean s

                    Expect.equal (s.LinesStarting "closed peer ") [ "closed peer bye 4000" ] "once, peer's code"

                    Expect.equal (s.LinesStarting "closed raw ") [ "closed raw raw bye 4001" ] "once, peer's code"

                    Expect.equal summary "summary connects=2 closes=2 messages=2 errors=0" "two closed events"
                })

            echoTest "peer close without a code: closed event with nil, nil" (fun s ->
                task {
                    use! raw = rawConnect s.Port
                    raw.SendText "!name empty"
                    raw.SendClose(None, "")
                    let! _, close = raw.ReceiveUntilClose()
                    // .NET cannot send an empty close frame; 1000 is a valid answer (RFC 6455 5.5.1).
                    Expect.equal (closeCodeOf close) (Some 1000, "") "the server answers with 1000"
                    do! expectEnded raw
                    let! summary = stopClean s
                    Expect.equal (s.LinesStarting "closed empty ") [ "closed empty nil nil" ] "nil, nil, once"
                    Expect.equal summary "summary connects=1 closes=1 messages=1 errors=0" "one closed event"
                })

            echoTest "local close with code and reason: sent to the peer, closed event once, handle raises" (fun s ->
                task {
                    use! raw = rawConnect s.Port
                    raw.SendText "!name local"
                    raw.SendText "!close 4002 server bye"
                    let! before, close = raw.ReceiveUntilClose()
                    Expect.isEmpty before "nothing before the close"
                    Expect.equal (closeCodeOf close) (Some 4002, "server bye") "the script's code and reason"
                    raw.SendClose(Some 4002, "")
                    do! expectEnded raw

                    // Without arguments: 1000.
                    use! ws = connect (s.Uri())
                    do! sendText ws "!name default"
                    do! sendText ws "!close"
                    let! status, _ = receiveClose ws
                    Expect.equal status (Nullable WebSocketCloseStatus.NormalClosure) "1000 by default"

                    // With a code only.
                    use! ws2 = connect (s.Uri())
                    do! sendText ws2 "!name code"
                    do! sendText ws2 "!close 4003"
                    let! status, reason = receiveClose ws2
                    Expect.equal (status, reason) (Nullable(enum<WebSocketCloseStatus> 4003), "") "the code"

                    let! _ = s.WaitPrefix "closed default "
                    let! _ = s.WaitPrefix "closed code "
                    let! summary = stopClean s
                    Expect.equal (s.LinesStarting "closed local ") [ "closed local server bye 4002" ] "once"
                    Expect.equal (s.LinesStarting "closed default ") [ "closed default nil 1000" ] "once"
                    Expect.equal (s.LinesStarting "closed code ") [ "closed code nil 4003" ] "once"

                    Expect.equal
                        (s.LinesStarting "closed locally ")
                        [ "closed locally local"; "closed locally default"; "closed locally code" ]
                        "the handles raised after close and closed again quietly"

                    Expect.equal summary "summary connects=3 closes=3 messages=6 errors=0" "three closed events"
                })

            echoTest
                "handles are plain tables: pairs lists their functions and a copy answers like the handle"
                (fun s ->
                    task {
                        use! ws = connect (s.Uri())
                        do! sendText ws "!copy"
                        let! reply = receiveText ws

                        Expect.equal
                            reply
                            "client: clientID,close,receive,send; server: close,getPort,listen; same id: true"
                            "the keys, sent through the copy"

                        do! echoes ws WebSocketMessageType.Text "after"B
                        do! stopsWith s "summary connects=1 closes=0 messages=2 errors=0" "one client"
                    })

            echoTest "close with a code or reason a close frame cannot carry raises; the client stays open" (fun s ->
                task {
                    use! ws = connect (s.Uri())
                    do! sendText ws "!bad-close"
                    let! errors = receiveText ws
                    let code = "bad argument #1 (invalid close code)"

                    Expect.equal
                        (errors.Split '|' |> List.ofArray)
                        [
                            code
                            code
                            code
                            code
                            code
                            "bad argument #2 (reason longer than 123 bytes)"
                        ]
                        "999, 1005, 1006, 1015, 5000 and a 124-byte reason"

                    do! echoes ws WebSocketMessageType.Text "still open"B
                    do! sendText ws $"!close 4000 {String('r', 123)}"
                    let! status, reason = receiveClose ws

                    Expect.equal
                        (status, reason.Length)
                        (Nullable(enum<WebSocketCloseStatus> 4000), 123)
                        "123 bytes fit"

                    do! stopsWith s "summary connects=1 closes=1 messages=3 errors=0" "one closed event"
                })

            echoTest "an abrupt TCP close: closed event with 1006 and a message" (fun s ->
                task {
                    let! raw = rawConnect s.Port
                    raw.SendText "!name abrupt"
                    raw.SendText "!count"
                    let! _ = raw.Receive()
                    raw.Abort()
                    let! line = s.WaitPrefix "closed abrupt "
                    Expect.stringEnds line " 1006" "1006"
                    Expect.isFalse (line.Contains " nil ") "with a message"
                    do! stopsWith s "summary connects=1 closes=1 messages=2 errors=0" "once"
                })

            echoTest "the script ending closes its clients with 1001" (fun s ->
                task {
                    use! ws = connect (s.Uri())
                    do! echoes ws WebSocketMessageType.Text "hi"B
                    let! _ = stopClean s
                    do! expectGoingAway ws
                })
        ]

let protocol =
    testList
        "protocol"
        [
            echoTest "a frame over the limit with a 64-bit length closes with 1009" (fun s ->
                task {
                    for name, length in [ "exact", int64 (limit + 1); "huge", 1L <<< 40 ] do
                        do!
                            closedWith s 1009 name (fun raw ->
                                raw.WriteHeader(true, Opcode.Binary, length)
                                raw.WritePayload(Array.zeroCreate (limit + 1), 0L))

                    do! stopsWith s "summary connects=2 closes=2 messages=2 errors=0" "no message event"
                })

            echoTest "invalid UTF-8 in a text message closes with 1007" (fun s ->
                task {
                    let cases =
                        [
                            "whole", [ true, Opcode.Text, [| 0x48uy; 0xC3uy; 0x28uy |] ]
                            "byte", [ true, Opcode.Text, [| 0x61uy; 0xFFuy; 0x61uy |] ]
                            "fragment",
                            [
                                false, Opcode.Text, "valid "B
                                true, Opcode.Continuation, [| 0xEDuy; 0xA0uy; 0x80uy |]
                            ]
                        ]

                    for name, frames in cases do
                        do! closedWith s 1007 name (sendFrames frames)

                    // The same bytes in a binary message are fine.
                    use! raw = rawConnect s.Port
                    raw.Send(true, Opcode.Binary, [| 0x61uy; 0xFFuy |])
                    let! echo = raw.Receive()

                    Expect.equal (echo.Opcode, echo.Payload) (Opcode.Binary, [| 0x61uy; 0xFFuy |]) "binary is binary"

                    do! stopsWith s "summary connects=4 closes=3 messages=4 errors=0" "no message event"
                })

            echoTest "a protocol violation closes with 1002" (fun s ->
                task {
                    let cases =
                        [
                            "opcode", [ true, 3uy, "x"B ]
                            "continuation", [ true, Opcode.Continuation, "x"B ]
                            "interleaved", [ false, Opcode.Text, "a"B; true, Opcode.Text, "b"B ]
                        ]

                    for name, frames in cases do
                        do! closedWith s 1002 name (sendFrames frames)

                    do! stopsClean s
                })

            echoTest "a 64-bit length with its top bit set closes with 1002; the server serves on" (fun s ->
                task {
                    // FIN + binary; masked, 64-bit length; the length 2^63; the masking key; and the
                    // first payload bytes in the same write, so that the server reads them with the
                    // header (on them the old frame follower spun forever).
                    let header =
                        Array.concat
                            [
                                [| 0x82uy; 0xFFuy |]
                                [| 0x80uy; 0uy; 0uy; 0uy; 0uy; 0uy; 0uy; 0uy |]
                                [| 1uy; 2uy; 3uy; 4uy |]
                                Array.create 64 0x55uy
                            ]

                    let sendHeader (raw: RawClient) =
                        raw.Stream.Write(header, 0, header.Length)
                        raw.Stream.Flush()

                    // The close frame and the closed event with 1002, then the end of the connection.
                    let rejected name =
                        task {
                            use! raw = rawConnect s.Port
                            raw.SendText $"!name {name}"
                            sendHeader raw
                            let! before, close = raw.ReceiveUntilClose()
                            Expect.isEmpty before "no echo"
                            Expect.equal (fst (closeCodeOf close)) (Some 1002) "1002 on the wire"
                            do! expectEnded raw
                            let! line = s.WaitPrefix $"closed {name} "
                            Expect.stringEnds line " 1002" "1002 in the closed event"
                        }

                    do! rejected "top"
                    // Sixteen at once; then a well-behaved client still connects and is echoed.
                    let! _ = Task.WhenAll [ for n in 1..16 -> rejected $"burst{n}" ]
                    use! ws = connect (s.Uri())
                    do! echoes ws WebSocketMessageType.Text "still serving"B
                    do! stopsWith s "summary connects=18 closes=17 messages=18 errors=0" "17 closed events"
                })

            echoTest "pings are answered and never shown to the script" (fun s ->
                task {
                    use! raw = rawConnect s.Port
                    raw.Send(true, Opcode.Ping, "abc"B)
                    let! pong = raw.Receive()
                    Expect.equal (pong.Opcode, pong.Payload) (Opcode.Pong, "abc"B) "pong with the ping's data"
                    raw.Send(true, Opcode.Pong, "unsolicited"B)
                    raw.SendText "!count"
                    let! count = raw.Receive()
                    Expect.equal (Encoding.UTF8.GetString count.Payload) "0" "no message from ping or pong"

                    // ClientWebSocket pinging every 20 ms (and waiting for the pongs).
                    use! ws =
                        connectWith
                            (fun ws ->
                                ws.Options.KeepAliveInterval <- TimeSpan.FromMilliseconds 20.0
                                ws.Options.KeepAliveTimeout <- patience)
                            (s.Uri())

                    do! Task.Delay 300
                    do! sendText ws "!count"
                    let! count = receiveText ws
                    Expect.equal count "0" "no message from the pings"
                    Expect.equal ws.State WebSocketState.Open "the pings were answered"
                    do! stopsWith s "summary connects=2 closes=0 messages=2 errors=0" "two messages only"
                })

            testTask "idle clients are pinged, and one that never answers is closed" {
                let fastPings out err =
                    ComputerOptions(
                        Output = out,
                        Error = err,
                        Input = TextReader.Null,
                        WebSocketPingInterval = TimeSpan.FromMilliseconds 100.0
                    )

                do!
                    withScriptUsing fastPings "echo.lua" [] (fun s ->
                        task {
                            use! raw = rawConnect s.Port
                            raw.SendText "!name dead"
                            let! ping = raw.Receive()
                            Expect.equal ping.Opcode Opcode.Ping "the server pings"
                            let! line = s.WaitPrefix "closed dead "
                            Expect.stringEnds line " 1006" "1006"
                            let! ended = raw.WaitForEnd()
                            Expect.isTrue ended "the server gives up on a client that does not answer"
                            do! stopsClean s
                        })
            }
        ]

let handles =
    testList
        "handles"
        [
            testTask "listen and receive time out; closed handles raise; close stays usable" {
                do!
                    withScript "handle.lua" [] (fun s ->
                        task {
                            let expect (line: string) = s.WaitLine line :> Task

                            do! expect "out of range: false bad argument #1 (port out of range)"
                            do! expect "same port: nil Port already in use"
                            do! expect "listen timeout: nil"
                            use! ws = connect (s.Uri())
                            do! expect "listened: userdata"
                            do! expect "receive timeout: nil"
                            do! expect "waiting"
                            do! sendText ws "one"
                            do! sendBytes ws [| 0uy; 255uy |] WebSocketMessageType.Binary
                            do! expect "received: one false"
                            do! expect "received binary: 2 true 0,255"
                            do! expect "send over the limit: false Message is too large"
                            do! expect "send at the limit: true nil"
                            let! atLimit = receiveText ws
                            Expect.equal atLimit (String('y', limit)) "the message at the limit"

                            match! receiveMessage ws with
                            | Choice1Of2(data, kind) ->
                                Expect.equal
                                    (data, kind)
                                    (Array.append "binary"B [| 0uy; 255uy |], WebSocketMessageType.Binary)
                                    "binary"
                            | Choice2Of2(status, _) -> failtestf "closed %A" status

                            do! expect "receive until the peer closes"
                            do! closeWith ws 4002 "done"
                            do! expect "receive when the peer closed: nil"
                            do! expect "receive after close: false attempt to use a closed file"
                            do! expect "send after close: false attempt to use a closed file"
                            do! expect "close after close: true nil"
                            do! expect "close again: true nil"

                            use! ws2 = connect (s.Uri())
                            do! expect "second"
                            let! status, reason = receiveClose ws2

                            Expect.equal
                                (status, reason)
                                (Nullable(enum<WebSocketCloseStatus> 4003), "server done")
                                "local"

                            do! expect "send after local close: false attempt to use a closed file"
                            do! expect "receive after local close: false attempt to use a closed file"
                            do! expect "close after local close: true nil"
                            do! expect "local closed: true server done 4003"

                            use! ws3 = connect (s.Uri())
                            do! expect "third"
                            do! closeWith ws3 1001 "going"
                            do! expect "third closed: true going 1001"
                            do! expect "listen after close: false attempt to use a closed file"
                            do! expect "done"
                            let! code = s.Finish()
                            Expect.equal code 0 $"the script ends cleanly ({s.Err.Text})"
                        })
            }

            echoTest "client ids are unique over 1000 connections" (fun s ->
                task {
                    let one n =
                        task {
                            use! ws = connect (s.Uri())
                            do! sendText ws $"!name k{n}"
                            do! echoes ws WebSocketMessageType.Text (Encoding.UTF8.GetBytes $"k{n}")
                            do! closeWith ws 1000 ""
                        }

                    // 20 at a time, so that ids are handed out while others are released.
                    for batch in 0..49 do
                        do!
                            withinUnit
                                "a batch of connections"
                                (Task.WhenAll [ for i in 0..19 -> one (batch * 20 + i) ])

                    let! _ = s.WaitPrefixCount("closed k", 1000)
                    do! stopsWith s "summary connects=1000 closes=1000 messages=2000 errors=0" "all distinct"
                })
        ]

let ports =
    testList
        "ports"
        [
            testTask "HTTP and WebSocket on one port" {
                do!
                    withScript "shared-port.lua" [] (fun s ->
                        task {
                            let! page = http.GetStringAsync($"http://127.0.0.1:{s.Port}/index.html?x=1")
                            Expect.equal page "page /index.html?x=1" "plain requests reach the HTTP listener"
                            use! ws = connect (s.Uri "/chat")
                            do! sendText ws "hi"
                            let! back = receiveText ws
                            Expect.equal back "echo hi" "upgrades reach the WebSocket server"
                            let! again = http.GetStringAsync($"http://127.0.0.1:{s.Port}/again")
                            Expect.equal again "page /again" "HTTP still works with a client connected"
                            let! code = s.Stop()
                            Expect.equal code 0 "the script ends cleanly"
                        })
            }

            echoTest "server.close stops new connections; connected clients stay open" (fun s ->
                task {
                    use! ws = connect (s.Uri())
                    do! sendText ws "!close-server"
                    let! reply = receiveText ws
                    Expect.equal reply "server closed; listen: attempt to use a closed file" "listen raises"
                    do! echoes ws WebSocketMessageType.Text "still here"B

                    let! refused =
                        task {
                            try
                                use! _ = connect (s.Uri())
                                return false
                            with _ ->
                                return true
                        }

                    Expect.isTrue refused "no new connection once the port is released"
                    do! echoes ws WebSocketMessageType.Binary [| 1uy; 2uy |]
                    do! stopsWith s "summary connects=1 closes=0 messages=3 errors=0" "one client"
                })

            echoTest "a plain request to a WebSocket-only port gets 426" (fun s ->
                task {
                    use! response = http.GetAsync($"http://127.0.0.1:{s.Port}/")
                    Expect.equal response.StatusCode HttpStatusCode.UpgradeRequired "426"

                    Expect.contains response.Headers.Upgrade (ProductHeaderValue "websocket") "Upgrade: websocket"

                    do! stopsWith s "summary connects=0 closes=0 messages=0 errors=0" "no event"
                })

            testTask "the subprotocol named in the server's headers is selected when offered" {
                do!
                    withScript "echo.lua" [ "protocols=chat, superchat"; "header=X-Craft-Test:yes" ] (fun s ->
                        task {
                            let offering (protocols: string list) =
                                connectWith (fun ws -> protocols |> List.iter ws.Options.AddSubProtocol) (s.Uri())

                            use! ws = offering [ "superchat" ]
                            Expect.equal ws.SubProtocol "superchat" "the one offered"
                            use! ws2 = offering [ "other"; "superchat"; "chat" ]
                            Expect.equal ws2.SubProtocol "chat" "the server's first choice among those offered"
                            do! echoes ws2 WebSocketMessageType.Text "works"B

                            use! raw = rawConnectWith s.Port [ "Sec-WebSocket-Protocol: other" ]
                            Expect.isFalse (raw.Response.Contains "Sec-WebSocket-Protocol") "none when none matches"
                            Expect.stringContains raw.Response "X-Craft-Test: yes" "extra headers are sent"
                            use! plain = rawConnect s.Port
                            Expect.isFalse (plain.Response.Contains "Sec-WebSocket-Protocol") "none when none offered"
                            do! stopsClean s
                        })
            }
        ]

/// The independent client: Debian's python3-websockets (installed by .ci/run).
let python =
    testTask "an independent client (python3-websockets) talks to the server" {
        let pythonPath = "/usr/bin/python3"

        do!
            withScript "echo.lua" [ "protocols=chat" ] (fun s ->
                task {
                    let script = Path.Combine(AppContext.BaseDirectory, "peers", "ws_peer.py")

                    let info =
                        ProcessStartInfo(pythonPath, RedirectStandardOutput = true, RedirectStandardError = true)

                    for arg in [ script; string s.Port; string limit ] do
                        info.ArgumentList.Add arg

                    use peer = Process.Start info
                    let output = peer.StandardOutput.ReadToEndAsync()
                    let errors = peer.StandardError.ReadToEndAsync()
                    do! withinUnit "the python peer" (peer.WaitForExitAsync())
                    let! output = output
                    let! errors = errors
                    Expect.equal peer.ExitCode 0 $"the python peer succeeds:\n{output}\n{errors}"
                    Expect.stringContains output "ok" "the python peer says ok"
                    let! _ = s.WaitPrefix "closed python-big "
                    let! summary = stopClean s
                    Expect.equal (s.LinesStarting "closed python ") [ "closed python python bye 4000" ] "its close"

                    Expect.equal
                        (s.LinesStarting "closed python-big ")
                        [ "closed python-big Message too large 1009" ]
                        "its oversized message"

                    Expect.stringContains summary "errors=0" "the contract held"
                })
    }


/// The examples, run as they are.
let private example (parts: string list) =
    Path.Combine(AppContext.BaseDirectory :: "examples" :: parts |> Array.ofList)

/// The port in an example's first line ("... http://localhost:N/ ..." or "ws://localhost:N/").
let private portInBanner (line: string) =
    let m = RegularExpressions.Regex.Match(line, @"://localhost:(\d+)/")
    if m.Success then Some(int m.Groups[1].Value) else None

/// A test with `examples/<parts>` running on a free port.
let private exampleTest name parts (body: Running -> Task<unit>) =
    testTask name { do! withRunning (startFile defaults (example parts) [ "0" ] portInBanner) body }

/// Terminates the example (as Ctrl-C does); expects it to end cleanly and `ws` to be closed with 1001.
let private terminatesClosing (s: Running) (ws: WebSocket) =
    task {
        let! code = s.Terminate()
        Expect.equal code 0 $"it ends cleanly ({s.Err.Text})"
        do! expectGoingAway ws
    }

let examples =
    testList
        "examples"
        [
            exampleTest "examples/ws-echo.lua echoes text and binary, and ends on terminate" [ "ws-echo.lua" ] (fun s ->
                task {
                    use! ws = connect (s.Uri())
                    do! echoes ws WebSocketMessageType.Text (Encoding.UTF8.GetBytes "héllo")
                    do! echoes ws WebSocketMessageType.Binary [| 0uy; 1uy; 255uy |]
                    do! terminatesClosing s ws
                })

            exampleTest
                "examples/chat/server.lua serves its page and the chat socket on one port"
                [ "chat"; "server.lua" ]
                (fun s ->
                    task {
                        use! page = http.GetAsync($"http://127.0.0.1:{s.Port}/")
                        Expect.equal page.StatusCode HttpStatusCode.OK "the page"
                        Expect.equal (string page.Content.Headers.ContentType) "text/html; charset=utf-8" "HTML"
                        let! html = page.Content.ReadAsStringAsync()
                        Expect.stringContains html "new WebSocket(" "the page opens the socket"
                        Expect.stringContains html "location.host + \"/\"" "on its own host and port"
                        use! missing = http.GetAsync($"http://127.0.0.1:{s.Port}/nothing")
                        Expect.equal missing.StatusCode HttpStatusCode.NotFound "404 elsewhere"

                        use! alice = connect (s.Uri())
                        let! joined = receiveText alice
                        Expect.equal joined "* guest1 joined" "a newcomer is announced"
                        do! sendText alice "/nick Alice"
                        let! renamed = receiveText alice
                        Expect.equal renamed "* guest1 is now Alice" "renamed"
                        do! sendText alice "hello, café ☕"
                        let! said = receiveText alice
                        Expect.equal said "Alice: hello, café ☕" "the sender sees its line"

                        use! bob = connect (s.Uri())
                        let lines = ResizeArray<string>()

                        for _ in 1..4 do
                            let! line = receiveText bob
                            lines.Add line

                        Expect.equal
                            (List.ofSeq lines)
                            [
                                "* guest1 joined"
                                "* guest1 is now Alice"
                                "Alice: hello, café ☕"
                                "* guest2 joined"
                            ]
                            "a newcomer gets the room's last lines, then its own arrival"

                        let! joinedToo = receiveText alice
                        Expect.equal joinedToo "* guest2 joined" "the room hears of the newcomer"
                        do! sendText bob "hi Alice"
                        let! heard = receiveText alice
                        Expect.equal heard "guest2: hi Alice" "lines reach everyone"
                        do! closeWith bob 1000 "bye"
                        let! left = receiveText alice
                        Expect.equal left "* guest2 left" "leaving is announced"

                        do! terminatesClosing s alice
                    })
        ]

let tests =
    testList "websocket" [ messages; closing; protocol; handles; ports; python; examples ]
