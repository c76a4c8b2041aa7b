/// What the server guarantees under overload, faults and bad input: every request gets one
/// complete answer, even while the computer is busy or ending; memory held for peers is bounded;
/// what HTTP forbids never reaches the script. Scripts are in `lua/reliability/`.
module Craft.Tests.ReliabilityTests

open System
open System.IO
open System.Threading.Tasks
open Craft.Interop
open Craft.Tests.ScriptHost
open Craft.Tests.HttpHelpers
open Expecto

let private script (name: string) =
    Path.Combine(AppContext.BaseDirectory, "lua", "reliability", name)

/// Runs `lua/reliability/<name>` with options from `setup`, until `body` is done.
let private withReliability (setup: Setup) (name: string) (args: string list) body =
    withRunning (launch setup portLine (script name) args) body


/// `count` requests sent at once, each on a connection of its own; their responses.
let private concurrently (count: int) (send: int -> Task<RawResponse>) =
    task {
        let! responses = Task.WhenAll [| for i in 1..count -> send i |]
        return List.ofArray responses
    }

let private statuses (responses: RawResponse list) =
    responses |> List.countBy (fun r -> r.Status) |> List.sort

let private unavailable (r: RawResponse) =
    r.Status = 503 && r.Header "Retry-After" = Some "1"

let overload =
    testList
        "overload while the computer is busy"
        [
            testTask "requests past their deadline get 503 while the computer is blocked" {
                // read() holds the computer's thread as a long native call would: nothing the
                // computer does can answer them. The test feeds the line only after every answer.
                do!
                    withReliability
                        (fun out err input ->
                            ComputerOptions(
                                Output = out,
                                Error = err,
                                Input = input,
                                ResponseDeadline = TimeSpan.FromSeconds 1.0
                            ))
                        "blocked.lua"
                        []
                        (fun r ->
                            task {
                                let! _ = r.WaitLine "blocked"
                                let! responses = concurrently 20 (fun i -> rawGet r.Port $"/{i}")

                                Expect.isTrue
                                    (List.forall unavailable responses)
                                    $"every request 503 with Retry-After while blocked: {statuses responses}"

                                r.Input.Send "go"
                                let! _ = r.WaitLine "unblocked"
                                let! after = rawGet r.Port "/after"
                                Expect.equal after.Text "served" "served once the computer is free"
                                Expect.isEmpty (r.LinesStarting "got") "no refused request reached the script"
                                let! _ = r.Stop()
                                ()
                            })
            }

            testTask "requests beyond the queue and backlog get 503 at once while the computer is blocked" {
                do!
                    withReliability
                        (fun out err input ->
                            ComputerOptions(
                                Output = out,
                                Error = err,
                                Input = input,
                                EventQueueCapacity = 1,
                                InboundBacklog = 0
                            ))
                        "blocked.lua"
                        []
                        (fun r ->
                            task {
                                let! _ = r.WaitLine "blocked"
                                // One request fits (the queue holds one event): it waits for the computer.
                                let waiting = rawGet r.Port "/first"
                                do! Task.Delay 300 // let it reach the mailbox first (order, not timing, is tested)
                                let! refused = concurrently 5 (fun i -> rawGet r.Port $"/{i}")

                                Expect.isTrue
                                    (List.forall unavailable refused)
                                    $"no room: 503 without waiting for the computer: {statuses refused}"

                                Expect.isFalse waiting.IsCompleted "the one that fits still waits"
                                r.Input.Send "go"
                                let! first = within "the waiting request" waiting
                                Expect.equal first.Text "served" "the one that fitted is served"
                                let! _ = r.Stop()
                                ()
                            })
            }
        ]

let private endings =
    [ "return"; "error"; "shutdown"; "runaway" ]
    |> List.map (fun how ->
        testTask $"a script that ends ({how}) with 200 requests waiting answers every one 503, completely" {
            let setup: Setup =
                fun out err input ->
                    ComputerOptions(
                        Output = out,
                        Error = err,
                        Input = input,
                        RunawayTimeout = TimeSpan.FromSeconds 1.0
                    )

            let! r = launch setup portLine (script "ending.lua") [ how ]

            try
                let first = rawGet r.Port "/first"
                let! _ = r.WaitLine "first"
                let others = [ for i in 2..200 -> rawGet r.Port $"/{i}" ]
                // Let them reach the server before the script ends (they are only sent here; what
                // is asserted is that each gets a whole answer, not when).
                do! Task.Delay 1000
                r.Input.Send "end"
                let! responses = Task.WhenAll(first :: others)
                let responses = List.ofArray responses

                Expect.isTrue
                    (List.forall unavailable responses)
                    $"every client has a whole 503 (status line, Retry-After, no body cut short): {statuses responses}"

                let! code = r.Finish()
                Expect.equal code (if how = "return" || how = "shutdown" then 0 else 1) "exit code"
            finally
                r.Computer.DisposeAsync().AsTask().Wait(patience) |> ignore
        })

/// The same through `craft run`, whose process exits as soon as the computer ends: what was not
/// on the wire by then is lost.
let private endingProcess =
    [ "return"; "shutdown" ]
    |> List.map (fun how ->
        testTask $"craft run: a script that ends ({how}) with 200 requests waiting answers every one before exiting" {
            let proc = CliTests.startCraft [ "run"; script "ending.lua"; how ]

            try
                let! first = proc.StandardOutput.ReadLineAsync()
                let port = (portLine first).Value
                let firstRequest = rawGet port "/first"
                let! line = proc.StandardOutput.ReadLineAsync()
                Expect.equal line "first" "the script holds the first request"
                let others = [ for i in 2..200 -> rawGet port $"/{i}" ]
                // Let them reach the server before the script ends (sent, not timed).
                do! Task.Delay 1000
                do! proc.StandardInput.WriteLineAsync "end"
                do! proc.StandardInput.FlushAsync()
                let! responses = Task.WhenAll(firstRequest :: others)
                let responses = List.ofArray responses

                Expect.isTrue
                    (List.forall unavailable responses)
                    $"every client has a whole 503 before the process exits: {statuses responses}"

                do! withinUnit "craft to exit" (proc.WaitForExitAsync())
                Expect.equal proc.ExitCode 0 "exit code"
            finally
                if not proc.HasExited then
                    proc.Kill true

                proc.Dispose()
        })

let failedHandlers =
    testList
        "answers the script did not give"
        [
            testTask "an error in an http.listen callback answers its request 500 at once" {
                // The deadline is far beyond the test's patience: only an immediate answer passes.
                do!
                    withReliability
                        (fun out err input ->
                            ComputerOptions(
                                Output = out,
                                Error = err,
                                Input = input,
                                ResponseDeadline = TimeSpan.FromMinutes 5.0
                            ))
                        "listen_error.lua"
                        []
                        (fun r ->
                            task {
                                let! response = rawGet r.Port "/"
                                Expect.equal response.Status 500 "500, not an empty 200"
                                Expect.isEmpty response.Body "what the handler wrote before failing is dropped"
                                Expect.isNone (response.Header "X-Partial") "its headers too"
                                let! line = r.WaitPrefix "listen ended: "
                                Expect.stringContains line "boom" "the error goes on to http.listen's caller"
                                let! _ = r.Stop()
                                ()
                            })
            }

            testTask "a request whose event the script discarded gets 500 at the deadline, not an empty 200" {
                do!
                    withReliability
                        (fun out err input ->
                            ComputerOptions(
                                Output = out,
                                Error = err,
                                Input = input,
                                ResponseDeadline = TimeSpan.FromSeconds 4.0
                            ))
                        "discard.lua"
                        []
                        (fun r ->
                            task {
                                let slow = rawGet r.Port "/slow"
                                let! _ = r.WaitLine "sleeping"
                                let! dropped = rawGet r.Port "/dropped"
                                let! slow = slow
                                Expect.equal slow.Text "slept" "the handled request is answered"
                                Expect.equal dropped.Status 500 "the untouched one is an error"
                                Expect.isFalse (List.contains "got /dropped" r.Out.Lines) "sleep() discarded its event"
                                let! _ = r.Stop()
                                ()
                            })
            }
        ]

/// A request whose body is `sent` bytes of the `claimed` Content-Length, then nothing more.
let private stalledUpload port (claimed: int) (sent: int) =
    task {
        let! connection = RawConnection.Open port

        do!
            connection.Send(
                requestBytes "POST /stalled HTTP/1.1" [ $"Content-Length: {claimed}" ] (Array.create sent (byte 'a'))
            )

        return connection
    }

let memory =
    testList
        "memory held for peers"
        [
            testTask "request bodies share a budget: a body that would pass it gets 503, one at its edge passes" {
                do!
                    withReliability
                        (fun out err input ->
                            ComputerOptions(
                                Output = out,
                                Error = err,
                                Input = input,
                                MaxBufferedRequestBytes = 100_000L
                            ))
                        "plain.lua"
                        []
                        (fun r ->
                            task {
                                // Claims 10 MB but sent 60,000 bytes: only what arrived counts.
                                use! stalled = stalledUpload r.Port 10_000_000 60_000

                                // Wait until the server holds exactly those bytes (read as they arrive,
                                // and nothing else still counted).
                                let held () =
                                    let shell = r.Computer.ShellIfAny
                                    if isNull (box shell) then 0L else shell.BufferedBodyBytes

                                let mutable tries = 0

                                while held () <> 60_000L && tries < 400 do
                                    tries <- tries + 1
                                    do! Task.Delay 50

                                Expect.equal (held ()) 60_000L "the stalled body's bytes are counted, no more"
                                let! over = rawPost r.Port "/over" (Array.create 40_001 (byte 'b'))
                                Expect.isTrue (unavailable over) "one byte past the budget: 503 with Retry-After"
                                let! edge = rawPost r.Port "/edge" (Array.create 40_000 (byte 'b'))
                                Expect.equal edge.Status 200 "exactly at the budget: served"
                                stalled.Abort()

                                // Its bytes go back to the budget once the connection is gone.
                                let mutable freed = false
                                let mutable tries = 0

                                while not freed && tries < 400 do
                                    tries <- tries + 1
                                    let! big = rawPost r.Port "/big" (Array.create 99_000 (byte 'c'))
                                    freed <- big.Status = 200

                                    if not freed then
                                        do! Task.Delay 50

                                Expect.isTrue freed "its bytes went back to the budget"
                                let! _ = r.Stop()
                                ()
                            })
            }

            testTask "a WebSocket client that never reads is closed with 1008; the script's sends never fail" {
                do!
                    withReliability
                        (fun out err input ->
                            ComputerOptions(
                                Output = out,
                                Error = err,
                                Input = input,
                                MaxWebSocketSendQueueBytes = 1024L * 1024L
                            ))
                        "ws_flood.lua"
                        []
                        (fun r ->
                            task {
                                use! _client = WsHelpers.rawConnect r.Port
                                let! _ = r.WaitLine "connected"
                                r.Computer.QueueEvent "go"
                                let! _ = r.WaitLine "sent all"
                                let! line = r.WaitPrefix "closed "
                                Expect.equal line "closed 1008 Send queue full" "the script hears why"
                                Expect.isEmpty r.Err.Lines "no error in the script"
                                let! _ = r.Stop()
                                ()
                            })
            }
        ]

let connections =
    testList
        "connections"
        [
            testTask "past the connection limit new connections are closed; the server keeps serving" {
                do!
                    withReliability
                        (fun out err input ->
                            ComputerOptions(Output = out, Error = err, Input = input, MaxConnections = 5))
                        "plain.lua"
                        []
                        (fun r ->
                            task {
                                let! idle = Task.WhenAll [| for _ in 1..5 -> RawConnection.Open r.Port |]

                                // Served once each, so that all five are known to count; they stay open.
                                for c in idle do
                                    do! c.SendText "GET /idle HTTP/1.1\r\nHost: x\r\n\r\n"
                                    let! response = c.ReadResponse()
                                    Expect.equal response.Status 200 "within the limit"

                                // Closed at once: the reset may even reach the client before its
                                // connect or its write completes.
                                let rec reset (e: exn) =
                                    match e with
                                    | :? System.Net.Sockets.SocketException as e ->
                                        e.SocketErrorCode = System.Net.Sockets.SocketError.ConnectionReset
                                        || e.SocketErrorCode = System.Net.Sockets.SocketError.ConnectionAborted
                                        || e.SocketErrorCode = System.Net.Sockets.SocketError.Shutdown
                                    | :? System.IO.IOException as e when not (isNull e.InnerException) ->
                                        reset e.InnerException
                                    | _ -> false

                                let! closed =
                                    task {
                                        try
                                            let! refused = RawConnection.Open r.Port
                                            do! refused.SendText "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
                                            return! refused.WaitForClose()
                                        with e when reset e ->
                                            return true
                                    }

                                Expect.isTrue closed "the sixth is closed without an answer"
                                idle[0].Abort()
                                // Once one is gone, a new one is served.
                                let mutable served = false
                                let mutable tries = 0

                                while not served && tries < 400 do
                                    tries <- tries + 1

                                    try
                                        let! response = rawGet r.Port "/again"
                                        served <- response.Status = 200
                                    with _ ->
                                        do! Task.Delay 50

                                Expect.isTrue served "served again below the limit"

                                for c in idle do
                                    (c :> IDisposable).Dispose()

                                let! _ = r.Stop()
                                ()
                            })
            }

            testTask "a connection that sends nothing is closed after the keep-alive timeout" {
                do!
                    withReliability
                        (fun out err input ->
                            ComputerOptions(
                                Output = out,
                                Error = err,
                                Input = input,
                                KeepAliveTimeout = TimeSpan.FromSeconds 1.0
                            ))
                        "plain.lua"
                        []
                        (fun r ->
                            task {
                                use! silent = RawConnection.Open r.Port
                                let! closed = silent.WaitForClose()
                                Expect.isTrue closed "closed by the server (well before Kestrel's 130 s)"
                                let! _ = r.Stop()
                                ()
                            })
            }
        ]

/// Sends raw request bytes on a connection of its own; the status of the answer.
let private statusOf port (bytes: byte array) =
    task {
        let! response = exchange port bytes
        return response.Status
    }

let badInput =
    testList
        "what HTTP forbids never reaches the script"
        [
            testTask "malformed framing and control bytes are refused with 400" {
                do!
                    withReliability standard "plain.lua" []
                    <| fun r ->
                        task {
                            let get headers =
                                requestBytes "GET /bad HTTP/1.1" headers [||]

                            let cases =
                                [
                                    "chunked twice",
                                    requestBytes
                                        "POST /bad HTTP/1.1"
                                        [ "Transfer-Encoding: chunked, chunked" ]
                                        (bytesOf "3\r\nabc\r\n0\r\n\r\n")
                                    "a chunk size past 2^31",
                                    requestBytes
                                        "POST /bad HTTP/1.1"
                                        [ "Transfer-Encoding: chunked" ]
                                        (bytesOf "80000000\r\nabc\r\n")
                                    "byte 0x01 in a header value", get [ "X-Bad: a\001b" ]
                                    "byte 0x7F in a header value", get [ "X-Bad: a\127b" ]
                                    // Content-Length = 1*DIGIT (RFC 9110 8.6). Kestrel reads a
                                    // signed number and shows only the number it read.
                                    for value in [ "+3"; "-0"; "+0"; "3 3"; "0x3"; "" ] do
                                        $"Content-Length: {value}",
                                        requestBytes "POST /bad HTTP/1.1" [ $"Content-Length: {value}" ] (bytesOf "abc")
                                    "two Content-Length lines",
                                    requestBytes
                                        "POST /bad HTTP/1.1"
                                        [ "Content-Length: 3"; "Content-Length: 3" ]
                                        (bytesOf "abc")
                                ]

                            let! statuses = Task.WhenAll [| for _, bytes in cases -> statusOf r.Port bytes |]

                            let wrong =
                                List.zip (List.map fst cases) (List.ofArray statuses)
                                |> List.filter (fun (_, status) -> status <> 400)

                            Expect.isEmpty wrong "every case gets 400"

                            Expect.isEmpty (r.LinesStarting "url /bad") "none reached the script"
                            let! ok = rawGet r.Port "/fine"
                            Expect.equal ok.Text "/fine" "the server still serves"
                            let! _ = r.Stop()
                            ()
                        }
            }

            testTask "a bad Content-Length pipelined after good requests: they are served, it is refused" {
                do!
                    withReliability standard "plain.lua" []
                    <| fun r ->
                        task {
                            use! connection = RawConnection.Open r.Port

                            do!
                                connection.Send(
                                    Array.concat
                                        [
                                            requestBytes "GET /one HTTP/1.1" [] [||]
                                            requestBytes "POST /two HTTP/1.1" [ "Content-Length: 03" ] (bytesOf "abc")
                                            requestBytes
                                                "POST /three HTTP/1.1"
                                                [ "Transfer-Encoding: chunked" ]
                                                (bytesOf "3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\n")
                                            requestBytes "POST /bad HTTP/1.1" [ "Content-Length: +3" ] (bytesOf "abc")
                                            requestBytes "GET /after HTTP/1.1" [] [||]
                                        ]
                                )

                            for path in [ "/one"; "/two"; "/three" ] do
                                let! response = connection.ReadResponse()
                                Expect.equal (response.Status, response.Text) (200, path) "a valid request is served"

                            let! refused = connection.ReadResponse()
                            Expect.equal refused.Status 400 "the bad one is refused"
                            Expect.equal (refused.Header "Connection") (Some "close") "and the connection closed"
                            let! closed = connection.WaitForClose()
                            Expect.isTrue closed "nothing after it is read"
                            Expect.isEmpty (r.LinesStarting "url /bad") "the bad one never reached the script"
                            Expect.isEmpty (r.LinesStarting "url /after") "nor what follows it"
                            let! _ = r.Stop()
                            ()
                        }
            }

            testTask "an absolute-form target reaches getURL() as its path and query" {
                do!
                    withReliability standard "plain.lua" []
                    <| fun r ->
                        task {
                            let! response =
                                exchange r.Port (requestBytes "GET http://127.0.0.1/a/b?x=1 HTTP/1.1" [] [||])

                            Expect.equal response.Text "/a/b?x=1" "origin form"
                            let! _ = r.Stop()
                            ()
                        }
            }

            testTask "a failed WebSocket handshake is 400 and the script hears nothing of it" {
                do!
                    withReliability standard "plain.lua" []
                    <| fun r ->
                        task {
                            let upgrade key version =
                                requestBytes
                                    "GET / HTTP/1.1"
                                    [
                                        "Upgrade: websocket"
                                        "Connection: Upgrade"
                                        $"Sec-WebSocket-Key: {key}"
                                        $"Sec-WebSocket-Version: {version}"
                                    ]
                                    [||]

                            let! badKey = statusOf r.Port (upgrade "not-a-key" "13")
                            Expect.equal badKey 400 "bad key"
                            let! oldVersion = statusOf r.Port (upgrade "dGhlIHNhbXBsZSBub25jZQ==" "8")
                            Expect.equal oldVersion 400 "version 8"
                            use! good = WsHelpers.rawConnect r.Port
                            let! _ = r.WaitLine "connect"
                            Expect.equal (r.LinesStarting "connect").Length 1 "only the good handshake connected"
                            Expect.isEmpty (r.LinesStarting "closed") "no closed event for the refused ones"
                            let! _ = r.Stop()
                            ()
                        }
            }
        ]

let tests =
    testSequenced
    <| testList
        "reliability"
        [
            overload
            testList "ending" (endings @ endingProcess)
            failedHandlers
            memory
            connections
            badInput
        ]
