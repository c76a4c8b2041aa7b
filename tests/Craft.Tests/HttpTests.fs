/// End-to-end tests of the HTTP server API (SPEC §2): real Lua scripts from `lua/http/` on a real
/// `Computer`, talked to over loopback by raw sockets, `HttpClient` and curl. They assert on
/// bytes, status codes, headers and order; the only times are safety timeouts.
module Craft.Tests.HttpTests

open System
open System.IO
open System.Net
open System.Net.Http
open System.Net.Sockets
open System.Text.Json
open System.Text.RegularExpressions
open System.Threading.Tasks
open Craft.Interop
open Craft.Tests.ScriptHost
open Craft.Tests.HttpHelpers
open Expecto

/// Runs `body` against a started script, then stops it (server_stop) and expects a clean end:
/// exit code 0 and nothing on standard error.
let private servingThen setup script (body: Running -> Task<unit>) (afterwards: Running -> unit) =
    withScript setup script [] (fun r ->
        task {
            do! body r
            let! code = r.Stop()
            Expect.equal code 0 $"the script ends cleanly ({r.Transcript})"
            Expect.equal r.Err.Text "" "nothing on standard error"
            afterwards r
        })

let private serving setup script body = servingThen setup script body ignore

let private echo name (body: Running -> Task<unit>) =
    testTask name { do! serving standard "echo.lua" body }

/// The number the script printed as `seen N` when it stopped.
let private seen (r: Running) =
    r.Out.Lines
    |> List.pick (fun l ->
        if l.StartsWith "seen " then
            Some(int (l.Substring 5))
        else
            None)

/// What the script printed after `prefix`, on the lines starting with it.
let private printedAfter (r: Running) (prefix: string) =
    r.LinesStarting prefix |> List.map (fun l -> l.Substring prefix.Length)

/// Expects `Retry-After: 1`, which every 503 of the server carries.
let private expectRetryAfter (response: RawResponse) =
    Expect.equal (response.Header "Retry-After") (Some "1") "with Retry-After"

/// Expects a 503 with `Retry-After: 1`.
let private expect503 (response: RawResponse) (message: string) =
    Expect.equal response.Status 503 message
    expectRetryAfter response

/// Sends a 4-byte POST to `path` that waits for 100 Continue before its body, so that the server is
/// surely handling the request when this returns.
let private postAfterContinue (c: RawConnection) (path: string) =
    task {
        do! c.Send(requestBytes $"POST {path} HTTP/1.1" [ "Content-Length: 4"; "Expect: 100-continue" ] [||])
        let! interim = c.ReadHead()
        Expect.stringStarts interim "HTTP/1.1 100 Continue" "the server reads the body"
        do! c.Send(bytesOf "body")
    }

/// 1 MiB of every byte value, with runs of NUL and 0xFF.
let private binaryMiB =
    Array.init (1024 * 1024) (fun i ->
        match i % 1024 with
        | n when n < 16 -> 0uy
        | n when n < 32 -> 0xFFuy
        | _ -> byte (i * 7 % 256))

let private chunkedBody (chunks: byte array list) =
    Array.concat
        [
            for c in chunks do
                bytesOf $"{c.Length:x}\r\n"
                c
                bytesOf "\r\n"
            bytesOf "0\r\n\r\n"
        ]

let private request =
    testList
        "request handle"
        [
            echo "a 1 MiB body with NUL and 0xFF bytes arrives and returns intact"
            <| fun r ->
                task {
                    use content = new ByteArrayContent(binaryMiB)
                    use! response = http.PostAsync(r.Url "/echo", content)
                    let! body = response.Content.ReadAsByteArrayAsync()
                    Expect.equal response.StatusCode HttpStatusCode.OK "200"
                    Expect.equal body.Length binaryMiB.Length "the same length"
                    Expect.isTrue (body = binaryMiB) "the same bytes, both ways"
                }

            echo "a chunked request body reaches the script without its chunk framing"
            <| fun r ->
                task {
                    let body = chunkedBody [ bytesOf "hello"; [| 0uy; 0xFFuy |]; bytesOf " world\r\n" ]

                    let! response =
                        exchange r.Port (requestBytes "POST /echo HTTP/1.1" [ "Transfer-Encoding: chunked" ] body)

                    Expect.equal response.Status 200 "200"

                    Expect.equal
                        response.Body
                        (Array.concat [ bytesOf "hello"; [| 0uy; 0xFFuy |]; bytesOf " world\r\n" ])
                        "joined"

                    // A large streamed body of unknown length (HttpClient sends it chunked).
                    use content = new StreamContent(new MemoryStream(binaryMiB))

                    use message =
                        new HttpRequestMessage(HttpMethod.Post, r.Url "/echo", Content = content)

                    message.Headers.TransferEncodingChunked <- true
                    use! streamed = http.SendAsync message
                    let! back = streamed.Content.ReadAsByteArrayAsync()
                    Expect.isTrue (back = binaryMiB) "1 MiB sent chunked comes back intact"
                }

            echo "read(n) reads n bytes, read() one, then nil; readAll then gives \"\""
            <| fun r ->
                task {
                    let! response = rawPost r.Port "/read" (bytesOf "abcdefg")
                    Expect.equal response.Text "\"abc\" \"d\" \"efg\" nil nil \"\"" "the reads"
                }

            echo "readLine splits at \\n and \\r\\n, keeps them on request, and gives nil at the end"
            <| fun r ->
                task {
                    let! plain = rawPost r.Port "/lines" (bytesOf "one\ntwo\r\nthree")
                    Expect.equal plain.Text "\"one\" \"two\" \"three\" nil nil \"\"" "without line endings"

                    let! trailing = rawPost r.Port "/lines?trailing=1" (bytesOf "one\ntwo\r\nthree")

                    Expect.equal trailing.Text "\"one\\n\" \"two\\r\\n\" \"three\" nil nil \"\"" "with line endings"

                    let! blank = rawPost r.Port "/lines" (bytesOf "a\n\r\n\nb\n")

                    Expect.equal
                        blank.Text
                        "\"a\" \"\" \"\" \"b\" nil nil \"\""
                        "empty lines, and no line after the last \\n"

                    let! empty = rawGet r.Port "/lines"
                    Expect.equal empty.Text "nil nil \"\"" "an empty body"
                }

            echo "getURL is the target as sent; getMethod the method"
            <| fun r ->
                task {
                    for verb in [ "GET"; "POST"; "PUT"; "DELETE"; "PATCH"; "OPTIONS" ] do
                        let target = "/echo?x=1&y=%20z%2F&empty=&x=2"
                        let! response = exchange r.Port (requestBytes $"{verb} {target} HTTP/1.1" [] [||])
                        Expect.equal (response.Header "X-Method") (Some verb) "the method"
                        Expect.equal (response.Header "X-URL") (Some target) "the target, query and escapes untouched"
                }

            echo "getRequestHeaders: lookups ignore case, repeated headers are joined, the table is a copy"
            <| fun r ->
                task {
                    let! response =
                        exchange
                            r.Port
                            (requestBytes
                                "GET /headers HTTP/1.1"
                                [ "content-TYPE: text/plain"; "X-Custom: v"; "X-Multi: 1"; "X-Multi: 2" ]
                                [||])

                    Expect.equal
                        (response.Text.Split '\n' |> List.ofArray)
                        [
                            "content-type=\"text/plain\""
                            "CONTENT-TYPE=\"text/plain\""
                            "Content-Type=\"text/plain\""
                            "x-custom=\"v\""
                            "x-multi=\"1, 2\""
                            "missing=nil"
                            "fresh=\"v\""
                        ]
                        "the lookups"
                }

            echo "getRemoteAddress is the client's address and port"
            <| fun r ->
                task {
                    use! connection = RawConnection.Open r.Port
                    do! connection.Send(requestBytes "GET /echo HTTP/1.1" [] [||])
                    let! response = connection.ReadResponse()

                    Expect.equal
                        (response.Header "X-Remote")
                        (Some $"127.0.0.1 {connection.LocalPort}")
                        "address and port"
                }

            echo "the handles work with . and :"
            <| fun r ->
                task {
                    let! response = rawPost r.Port "/colon" (bytesOf "body")
                    Expect.equal response.StatusLine "HTTP/1.1 201 Created" "setStatusCode"
                    Expect.equal (response.Header "X-Colon") (Some "POST /colon") "getMethod, getURL"
                    Expect.equal response.Text "body" "readAll, write"
                }

            echo "handles are plain tables: pairs lists their functions and a copy answers like the handle"
            <| fun r ->
                task {
                    let! response = rawPost r.Port "/copy" (bytesOf "body")
                    Expect.equal response.StatusLine "HTTP/1.1 202 Accepted" "setStatusCode through the copy"
                    Expect.equal (response.Header "X-Copy") (Some "POST /copy") "getMethod, getURL through the copy"

                    Expect.equal
                        response.Text
                        ("req: close,getMethod,getRemoteAddress,getRequestHeaders,getURL,read,readAll,readLine\n"
                         + "res: close,flush,setResponseHeader,setStatusCode,write,writeLine\n"
                         + "body")
                        "the keys, then the body read through the copy and the handle"
                }

            echo "after close the response raises, the request stays readable until closed itself"
            <| fun r ->
                task {
                    let! response = rawPost r.Port "/closed" (bytesOf "body")
                    Expect.equal response.Text "done" "the response"
                    let! _ = r.WaitPrefix "closed: readAll"

                    let lines = printedAfter r "closed: "

                    let closed = "attempt to use a closed file"

                    Expect.equal
                        lines
                        [
                            $"write {closed}"
                            $"writeLine {closed}"
                            $"flush {closed}"
                            $"setStatusCode {closed}"
                            $"setResponseHeader {closed}"
                            "close again ok"
                            "url /closed"
                            "read after res.close \"bo\""
                            "req.close again ok"
                            $"read {closed}"
                            $"readLine {closed}"
                            $"readAll {closed}"
                        ]
                        "what each call did"
                }
        ]

let private response =
    testList
        "response handle"
        [
            echo "defaults: 200 OK, Date and Content-Length, nothing else"
            <| fun r ->
                task {
                    let! response = rawGet r.Port "/hello"
                    Expect.equal response.StatusLine "HTTP/1.1 200 OK" "the status line"

                    Expect.equal
                        (response.Headers |> List.map fst |> List.sort)
                        [ "Content-Length"; "Date" ]
                        "only Date and Content-Length"

                    Expect.equal (response.Header "Content-Length") (Some "5") "the length"
                    Expect.equal response.Text "hello" "the body"
                }

            echo "setStatusCode sends the standard phrase, or the reason given"
            <| fun r ->
                task {
                    for query, line in
                        [
                            "code=404", "HTTP/1.1 404 Not Found"
                            "code=503", "HTTP/1.1 503 Service Unavailable"
                            "code=201", "HTTP/1.1 201 Created"
                            "code=299&reason=Custom", "HTTP/1.1 299 Custom"
                            "code=200&reason=Fine", "HTTP/1.1 200 Fine"
                            "code=999&reason=Last", "HTTP/1.1 999 Last"
                        ] do
                        let! response = rawGet r.Port $"/status?{query}"
                        Expect.equal response.StatusLine line query
                        let code = (query.Split '&').[0].Substring 5
                        Expect.equal response.Text $"status {code}" "the body"
                }

            echo "setResponseHeader: lists become several lines, numbers text, a later value replaces"
            <| fun r ->
                task {
                    let! response = rawGet r.Port "/headers-out"
                    Expect.equal (response.Values "Set-Cookie") [ "a=1"; "b=2; Path=/" ] "two Set-Cookie lines"
                    Expect.equal (response.Values "X-Number") [ "42" ] "a number"
                    Expect.equal (response.Values "X-Replaced") [ "two" ] "replaced, whatever the case"
                    Expect.equal (response.Header "Content-Type") (Some "text/plain; charset=utf-8") "content type"
                    Expect.equal response.Text "headers" "the body"
                }

            echo "header injection is refused with bad argument"
            <| fun r ->
                task {
                    let! response = rawGet r.Port "/inject"
                    Expect.equal response.StatusLine "HTTP/1.1 200 OK" "the status is untouched"

                    Expect.isEmpty
                        (response.Headers
                         |> List.filter (fun (n, _) -> n.Contains "Injected" || n.StartsWith "X-" || n.Contains "Bad"))
                        "no header was added"

                    let lines = response.Text.Split '\n' |> List.ofArray

                    Expect.equal
                        lines
                        [
                            "bad argument #2 (invalid header value)"
                            "bad argument #2 (invalid header value)"
                            "bad argument #2 (invalid header value)"
                            "bad argument #1 (invalid header name)"
                            "bad argument #1 (invalid header name)"
                            "bad argument #1 (invalid header name)"
                            "bad argument #1 (invalid header name)"
                            "bad argument #2 (invalid header value)"
                            "bad argument #2 (string expected, got boolean)"
                            "bad argument #2 (list of strings expected, got number at 2)"
                            "bad argument #2 (invalid reason phrase)"
                            "bad argument #1 (status code out of range)"
                            "bad argument #1 (status code out of range)"
                            "bad argument #1 (status code out of range)"
                            "bad argument #1 (number expected, got string)"
                            "bad argument #1 (string expected, got boolean)"
                            "bad argument #1 (string expected, got nil)"
                        ]
                        "each refusal"
                }

            echo "a 1xx status from the script is sent without a body, and the connection then closes"
            <| fun r ->
                task {
                    for code in [ 100; 150 ] do
                        use! connection = RawConnection.Open r.Port
                        do! connection.Send(requestBytes $"GET /nobody?code={code} HTTP/1.1" [] [||])
                        let! response = connection.ReadResponse()
                        Expect.equal response.Status code $"{code}"
                        let! rest = connection.ReadToEnd()
                        Expect.isEmpty rest "no body, nothing more"
                }

            echo "write takes numbers; writeLine adds \\n"
            <| fun r ->
                task {
                    let! response = rawGet r.Port "/write"
                    Expect.equal response.Text "42line\n7\nend" "the body"
                    Expect.equal (response.Header "Content-Length") (Some "12") "its length"
                }

            echo "HEAD, 204 and 304 carry no body"
            <| fun r ->
                task {
                    // One keep-alive connection: a body sent where none belongs would be read as the
                    // next response and break the last exchange.
                    use! connection = RawConnection.Open r.Port
                    do! connection.Send(requestBytes "HEAD /hello HTTP/1.1" [] [||])
                    let! head = connection.ReadResponse(head = true)
                    Expect.equal head.Status 200 "HEAD: 200"
                    Expect.equal (head.Header "Content-Length") (Some "5") "HEAD: the length of the body it would have"

                    for code in [ 204; 304 ] do
                        do! connection.Send(requestBytes $"GET /nobody?code={code} HTTP/1.1" [] [||])
                        let! response = connection.ReadResponse()
                        Expect.equal response.Status code $"{code}"
                        Expect.isNone (response.Header "Transfer-Encoding") "not chunked"

                    do! connection.Send(requestBytes "GET /hello HTTP/1.1" [] [||])
                    let! last = connection.ReadResponse()
                    Expect.equal last.Text "hello" "the connection is still in step"
                }
        ]

let private connections =
    testList
        "connections"
        [
            echo "50 requests on one keep-alive connection"
            <| fun r ->
                task {
                    use! connection = RawConnection.Open r.Port

                    for i in 1..50 do
                        do! connection.Send(requestBytes "POST /echo HTTP/1.1" [] (bytesOf $"request {i}"))
                        let! response = connection.ReadResponse()
                        Expect.equal response.Status 200 "200"
                        Expect.equal response.Text $"request {i}" "its own body"

                        Expect.equal
                            (response.Header "X-Remote")
                            (Some $"127.0.0.1 {connection.LocalPort}")
                            "the same connection"
                }

            echo "200 concurrent clients are all answered, each with its own response"
            <| fun r ->
                task {
                    let count = 200
                    let! all = Task.WhenAll [ for _ in 1..count -> RawConnection.Open r.Port ]

                    try
                        // Every client sends before any reads: all 200 requests are in flight at once.
                        do!
                            Task.WhenAll
                                [
                                    for i, c in Array.indexed all ->
                                        c.Send(requestBytes $"POST /echo?client={i} HTTP/1.1" [] (bytesOf $"body {i}"))
                                        :> Task
                                ]

                        let! responses = Task.WhenAll [ for c in all -> c.ReadResponse() ]

                        for i, response in Array.indexed responses do
                            Expect.equal response.Status 200 "200"
                            Expect.equal response.Text $"body {i}" "its own body"
                            Expect.equal (response.Header "X-URL") (Some $"/echo?client={i}") "its own URL"

                            Expect.equal
                                (response.Header "X-Remote")
                                (Some $"127.0.0.1 {all[i].LocalPort}")
                                "its own connection"
                    finally
                        for c in all do
                            (c :> IDisposable).Dispose()
                }

            testTask "a malformed request gets 400, the script never sees it, and the server stays healthy" {
                do!
                    servingThen
                        standard
                        "echo.lua"
                        (fun r ->
                            task {
                                let malformed =
                                    [
                                        "GARBAGE\r\n\r\n"
                                        "GET /hello HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n"
                                        "GET /hello HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"
                                        "GET /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"
                                        "GET\u0001 /hello HTTP/1.1\r\nHost: x\r\n\r\n"
                                        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"
                                    ]

                                for text in malformed do
                                    let! response = exchange r.Port (bytesOf text)
                                    Expect.equal response.Status 400 $"400 for %A{text}"

                                let! healthy = rawGet r.Port "/hello"
                                Expect.equal healthy.Text "hello" "still serving"
                            })
                        (fun r -> Expect.equal (seen r) 1 "the script saw only the good request")
            }
        ]

/// Whether this process can bind the port right now (then lets it go again).
let private portIsFree (port: int) =
    try
        let probe = TcpListener(IPAddress.Loopback, port)
        probe.Start()
        probe.Stop()
        true
    with :? SocketException ->
        false

let private closedFile = "attempt to use a closed file"

let private listeners =
    testList
        "listeners"
        [
            testTask "argument errors, port 0, adding twice, removing, and a port another program holds" {
                let holder = new TcpListener(IPAddress.Loopback, 0)
                holder.Start()
                let held = (holder.LocalEndpoint :?> IPEndPoint).Port
                let out = new LineWriter()
                let err = new LineWriter()
                let computer = new Computer(standard out err (new LineFeed()))

                let! code =
                    within "api.lua" (computer.RunFileAsync(scriptPath "api.lua", [ string held ]))

                do! computer.DisposeAsync()
                holder.Stop()
                Expect.equal code 0 $"api.lua ends cleanly ({err.Text})"

                let lines = out.Lines
                let heldLine = List.last lines

                Expect.equal
                    (List.take (lines.Length - 1) lines)
                    [
                        "addListener string: bad argument #1 (number expected, got string)"
                        "addListener nil: bad argument #1 (number expected, got nil)"
                        "addListener -1: bad argument #1 (port out of range)"
                        "addListener 65536: bad argument #1 (port out of range)"
                        "addListener 1.5: bad argument #1 (port out of range)"
                        "removeListener string: bad argument #1 (number expected, got string)"
                        "removeListener 70000: bad argument #1 (port out of range)"
                        "listen string: bad argument #1 (number expected, got string)"
                        "listen no callback: bad argument #2 (function expected, got nil)"
                        "listen table callback: bad argument #2 (function expected, got table)"
                        "addListener 0 gives a port: true"
                        "addListener again: true"
                        "removeListener: ok"
                        "removeListener again: ok"
                        "removeListener never listened: ok"
                        "listening again at once: true"
                    ]
                    "each check"

                Expect.stringStarts heldLine "held port: false Could not open server: " "a port in use cannot be opened"
            }

            testTask
                "http.listen ends on a truthy return, server_stop, an error and terminate, and frees the port each time" {
                do!
                    withScript standard "listen.lua" [] (fun r ->
                        task {
                            let get path =
                                task {
                                    let! response = rawGet r.Port path
                                    Expect.equal response.Text path $"{path} is served"
                                }

                            let free (phase: int) how =
                                task {
                                    Expect.isTrue (portIsFree r.Port) $"the port is free after {how}"
                                    r.Input.Send "go"
                                    let! _ = r.WaitLine $"again {phase} true"
                                    ()
                                }

                            // 1. truthy return
                            do! get "/a"
                            do! get "/end"
                            let! _ = r.WaitLine "phase return ended"
                            do! free 2 "a truthy return"

                            // 2. server_stop; the other events are discarded
                            do! get "/b"
                            r.Computer.QueueEvent("other", 1, "x")
                            r.Computer.QueueEvent "server_stop"
                            let! _ = r.WaitLine "phase stop ended, next event marker"
                            do! free 3 "server_stop"

                            // 3. an error raised by the callback
                            do! get "/c"
                            do! get "/boom"
                            let! _ = r.WaitLine "phase error ended: false boom"
                            do! free 4 "an error"

                            // 4. terminate
                            do! get "/d"
                            r.Computer.QueueEvent "terminate"
                            let! _ = r.WaitLine "phase terminate ended: false Terminated"
                            do! free 5 "terminate"

                            do! get "/e"
                            let! code = r.Stop()
                            Expect.equal code 0 "the script ends cleanly"
                            let! _ = r.WaitLine "phase last ended"

                            Expect.equal r.Err.Text "" "nothing on standard error"
                        })
            }

            testTask
                "removeListener answers waiting requests 503, the held one can still be answered, and the port is reused at once" {
                do!
                    withScript standard "remove.lua" [] (fun r ->
                        task {
                            use! first = RawConnection.Open r.Port
                            do! first.Send(requestBytes "GET /first HTTP/1.1" [] [||])
                            let! _ = r.WaitLine "holding /first"

                            // The computer is blocked in read(): these requests wait. Each announces a
                            // body and waits for 100 Continue, so that the server is surely handling it
                            // before the script goes on.
                            let! waiting = Task.WhenAll [ for _ in 1..5 -> RawConnection.Open r.Port ]

                            for i, c in Array.indexed waiting do
                                do! postAfterContinue c $"/waiting{i}"

                            r.Input.Send "go"
                            let! _ = r.WaitLine "removed"

                            for c in waiting do
                                let! response = c.ReadResponse()
                                expect503 response "a waiting request gets 503"
                                (c :> IDisposable).Dispose()

                            let! held = first.ReadResponse()
                            Expect.equal held.Text "held and answered" "the held request is answered by the script"

                            let! _ = r.WaitLine "listening again: true"
                            let! again = rawGet r.Port "/again"
                            Expect.equal again.Text "again /again" "the port serves again"

                            let! code = r.Stop()
                            Expect.equal code 0 "the script ends cleanly"
                            let! _ = r.WaitLine "served /again"
                            Expect.equal r.Err.Text "" "nothing on standard error"
                        })
            }

            testTask "a plain request to a port with only a WebSocket server gets 426" {
                do!
                    serving standard "wsonly.lua" (fun r ->
                        task {
                            let! response = rawGet r.Port "/"
                            Expect.equal response.Status 426 "426 Upgrade Required"
                            Expect.equal (response.Header "Upgrade") (Some "websocket") "names the upgrade"
                        })
            }
        ]

let private deadline =
    testList
        "deadline"
        [
            testTask "at the deadline the buffered response is sent and the handles close" {
                do!
                    serving (deadlineOf 1.0) "deadline.lua" (fun r ->
                        task {
                            let expectClosed url =
                                task {
                                    r.Computer.QueueEvent "after"
                                    let! _ = r.WaitLine $"reported {url}"

                                    let lines = printedAfter r $"after {url}: "

                                    Expect.equal
                                        lines
                                        [
                                            $"write {closedFile}"
                                            $"writeLine {closedFile}"
                                            $"flush {closedFile}"
                                            $"setStatusCode {closedFile}"
                                            $"setResponseHeader {closedFile}"
                                            "close ok"
                                            $"url {url}"
                                            $"read {closedFile}"
                                            $"readLine {closedFile}"
                                            $"readAll {closedFile}"
                                            "req.close ok"
                                        ]
                                        "the handles are closed"
                                }

                            let! partial = rawPost r.Port "/partial" (bytesOf "data")
                            Expect.equal partial.StatusLine "HTTP/1.1 202 Accepted" "the status set"
                            Expect.equal (partial.Header "X-Partial") (Some "yes") "the header set"
                            Expect.equal partial.Text "partial" "the bytes written"
                            Expect.equal (partial.Header "Content-Length") (Some "7") "their length"
                            do! expectClosed "/partial"

                            let! streamed = rawPost r.Port "/streamed" (bytesOf "data")
                            Expect.equal streamed.Status 202 "the status set"
                            Expect.isTrue streamed.Chunked "a flushed response streams"
                            Expect.equal streamed.Text "partial and more" "everything written, and a proper end"
                            do! expectClosed "/streamed"
                        })
            }

            testTask "a request whose deadline passes while it waits in the queue gets 503 and never reaches the script" {
                do!
                    servingThen
                        (deadlineOf 0.3)
                        "busy.lua"
                        (fun r ->
                            task {
                                // 30 events of 40 ms each will be ahead of the request: 1.2 s of
                                // work, four times the deadline.
                                use! waiting = RawConnection.Open r.Port

                                do! postAfterContinue waiting "/late"
                                r.Input.Send "go"
                                let! response = waiting.ReadResponse()
                                expect503 response "503"
                                let! _ = r.WaitLine "work done"
                                ()
                            })
                        (fun r -> Expect.equal (seen r) 0 "the script never saw it")
            }

            testTask "the deadline counts from the request's arrival, also after the computer sat idle" {
                do!
                    serving (deadlineOf 2.0) "slow.lua" (fun r ->
                        task {
                            // Idle for longer than the deadline, then a request the script takes
                            // 0.2 s to answer: well inside its own 2 s.
                            do! Task.Delay 2500
                            let! response = rawGet r.Port "/after-idle"
                            Expect.equal response.Status 200 "answered by the script"
                            Expect.equal response.Text "slow /after-idle" "the script's answer"
                        })
            }

            testTask "a flush after a long computation gets its whole deadline from that moment" {
                do!
                    serving (deadlineOf 2.0) "busy_flush.lua" (fun r ->
                        task {
                            let! response = rawGet r.Port "/"
                            Expect.equal response.Text "abc" "everything written before the close"
                        })
            }

            testTask "each flush restarts the deadline: a stream is limited by idle time" {
                do!
                    serving (deadlineOf 1.5) "stream.lua" (fun r ->
                        task {
                            // 12 ticks, 0.2 s apart: 2.4 s in all, longer than the deadline.
                            let! response = rawGet r.Port "/ticks?n=12"
                            Expect.equal (response.Header "Content-Type") (Some "text/event-stream") "SSE"

                            let expected = String.Join("", [ for i in 1..12 -> $"data: tick {i}\n\n" ])

                            Expect.equal response.Text expected "every tick, then the end"
                            let! _ = r.WaitLine "ticks done"
                            ()
                        })
            }
        ]

let private streaming =
    testList
        "streaming"
        [
            testTask "flush sends what is written; the client reads it before the rest exists" {
                do!
                    serving standard "stream.lua" (fun r ->
                        task {
                            use! connection = RawConnection.Open r.Port
                            do! connection.Send(requestBytes "GET /stream HTTP/1.1" [] [||])
                            let! head = connection.ReadHead()
                            Expect.stringStarts head "HTTP/1.1 200 OK\r\n" "200"
                            Expect.stringContains head "Transfer-Encoding: chunked" "chunked"
                            Expect.stringContains head "Content-Type: text/plain" "the script's header"
                            let! first = connection.ReadChunk()
                            Expect.equal (textOf first) "first\n" "the first part, before the script writes more"
                            let! _ = r.WaitPrefix "after flush: "

                            Expect.contains
                                r.Out.Lines
                                "after flush: headers already sent, headers already sent"
                                "status and headers cannot change once sent"

                            r.Computer.QueueEvent "next"
                            let! second = connection.ReadChunk()
                            let! third = connection.ReadChunk()
                            let! last = connection.ReadChunk()
                            Expect.equal (textOf second) "second\n" "the second flush"
                            Expect.equal (textOf third) "third\n" "what close sent"
                            Expect.isEmpty last "then the end"

                            // The same with HttpClient, reading the stream as it comes.
                            use! response =
                                http.GetAsync(r.Url "/stream", HttpCompletionOption.ResponseHeadersRead)

                            use! stream = response.Content.ReadAsStreamAsync()
                            let buffer = Array.zeroCreate<byte> 64
                            let! n = stream.ReadAsync(buffer.AsMemory())
                            Expect.equal (textOf buffer[0 .. n - 1]) "first\n" "read incrementally"
                            r.Computer.QueueEvent "next"
                            use rest = new StreamReader(stream)
                            let! tail = rest.ReadToEndAsync()
                            Expect.equal tail "second\nthird\n" "the rest"
                        })
            }

            testTask "a flushed response with the script's Content-Length is not chunked" {
                do!
                    serving standard "stream.lua" (fun r ->
                        task {
                            use! connection = RawConnection.Open r.Port
                            do! connection.Send(requestBytes "GET /length HTTP/1.1" [] [||])
                            let! _ = r.WaitLine "flushed /length"
                            r.Computer.QueueEvent "next"
                            let! response = connection.ReadResponse()
                            Expect.isFalse response.Chunked "not chunked"
                            Expect.equal (response.Header "Content-Length") (Some "13") "the script's length"
                            Expect.equal response.Text "first\nsecond\n" "the body"
                        })
            }

            testTask "a client that goes away mid-response does not fail the script" {
                do!
                    serving standard "stream.lua" (fun r ->
                        task {
                            // Mid-stream.
                            let! gone = RawConnection.Open r.Port
                            do! gone.Send(requestBytes "GET /gone HTTP/1.1" [] [||])
                            let! _ = gone.ReadHead()
                            let! first = gone.ReadChunk()
                            Expect.equal (textOf first) "first\n" "the first part"
                            gone.Abort()
                            r.Computer.QueueEvent "next"
                            let! _ = r.WaitLine "gone writes ok: true"

                            // Before anything was sent.
                            let! hold = RawConnection.Open r.Port
                            do! hold.Send(requestBytes "GET /hold HTTP/1.1" [] [||])
                            let! _ = r.WaitLine "holding /hold"
                            hold.Abort()
                            r.Computer.QueueEvent "next"
                            let! _ = r.WaitLine "hold writes ok: true"

                            let! plain = rawGet r.Port "/plain"
                            Expect.equal plain.Text "plain" "still serving"
                        })
            }
        ]

let private ending =
    testList
        "shutdown"
        [
            for how, path, exitCode in [ "os.shutdown()", "/shutdown", 0; "an error", "/error", 1 ] do
                testTask $"when the script ends by {how}, requests it holds get 503" {
                    do!
                        withScript standard "shutdown.lua" [] (fun r ->
                            task {
                                use! first = RawConnection.Open r.Port
                                do! first.Send(requestBytes "GET /held HTTP/1.1" [] [||])
                                let! _ = r.WaitLine "holding /held"
                                use! last = RawConnection.Open r.Port
                                do! last.Send(requestBytes $"GET {path} HTTP/1.1" [] [||])
                                let! code = r.Finish()
                                Expect.equal code exitCode "the exit code"

                                for c in [ first; last ] do
                                    let! response = c.ReadResponse()
                                    expect503 response "503"

                                if exitCode = 1 then
                                    Expect.stringContains r.Err.Text "shutdown.lua:17: failed on purpose" "the error"
                            })
                }
        ]

let private limits =
    testList
        "limits"
        [
            testTask "the body limit: at the limit served, one byte over 413 with Content-Length and chunked" {
                let limit = 1000

                let body n = Array.init n (fun i -> byte (i % 251))

                let chunked n =
                    let b = body n
                    chunkedBody [ b[0..99]; b[100 .. n - 2]; b[n - 1 ..] ]

                do!
                    servingThen
                        (bodyLimitOf (int64 limit))
                        "echo.lua"
                        (fun r ->
                            task {
                                let! atLimit = rawPost r.Port "/echo" (body limit)
                                Expect.equal atLimit.Status 200 "at the limit"
                                Expect.equal atLimit.Body (body limit) "the whole body"

                                let! over = rawPost r.Port "/echo" (body (limit + 1))
                                Expect.equal over.Status 413 "one byte over"

                                let! chunkedAt =
                                    exchange
                                        r.Port
                                        (requestBytes
                                            "POST /echo HTTP/1.1"
                                            [ "Transfer-Encoding: chunked" ]
                                            (chunked limit))

                                Expect.equal chunkedAt.Status 200 "chunked, at the limit"
                                Expect.equal chunkedAt.Body (body limit) "the whole body"

                                let! chunkedOver =
                                    exchange
                                        r.Port
                                        (requestBytes
                                            "POST /echo HTTP/1.1"
                                            [ "Transfer-Encoding: chunked" ]
                                            (chunked (limit + 1)))

                                Expect.equal chunkedOver.Status 413 "chunked, one byte over"
                            })
                        (fun r -> Expect.equal (seen r) 2 "the script never saw the bodies over the limit")
            }
        ]

let private overload =
    testList
        "overload"
        [
            testTask "past a full queue and backlog requests get 503; every request gets one answer" {
                let setup: Setup =
                    fun out err input ->
                        ComputerOptions(
                            Output = out,
                            Error = err,
                            Input = input,
                            EventQueueCapacity = 4,
                            InboundBacklog = 2
                        )

                let mutable served = 0

                do!
                    withRunning (launch setup portLine (scriptPath "busy.lua") [ "4"; "40" ]) (fun r ->
                        task {
                            // The script fills its queue (4 events) once the requests are in.
                            let! clients = Task.WhenAll [ for _ in 1..8 -> RawConnection.Open r.Port ]

                            for c in clients do
                                do! postAfterContinue c "/crowd"

                            r.Input.Send "go"
                            let! responses = Task.WhenAll [ for c in clients -> c.ReadResponse() ]

                            for response in responses do
                                Expect.contains [ 200; 503 ] response.Status "served or refused"

                                if response.Status = 503 then
                                    expectRetryAfter response

                            served <- responses |> Array.filter (fun x -> x.Status = 200) |> Array.length
                            Expect.isLessThan served 8 "not all fit"
                            Expect.isGreaterThanOrEqual served 2 "the backlog's worth are served"
                            let! code = r.Stop()
                            Expect.equal code 0 "the script ends cleanly"
                            let! _ = r.WaitPrefix "seen "
                            Expect.equal (seen r) served "the script saw exactly the requests it served"

                            for c in clients do
                                (c :> IDisposable).Dispose()
                        })
            }
        ]

let private headLimits =
    /// A request whose head is exactly `line` and `headers` (no Host added): its status.
    let statusOf port (line: string) (headers: string list) =
        task {
            let head =
                String.concat "" [ line + "\r\n"; yield! headers |> List.map (fun h -> h + "\r\n"); "\r\n" ]

            let! response = exchange port (bytesOf head)
            return response.Status
        }

    testList
        "head limits"
        [
            testTask "the request line, header block and header count limits: at the limit served, one over 414 or 431" {
                do!
                    servingThen
                        smallHeads
                        "echo.lua"
                        (fun r ->
                            task {
                                // The request line counts with its CRLF: 98 + 2 bytes.
                                let line n =
                                    "GET /echo?" + String('a', n - 2 - "GET /echo? HTTP/1.1".Length) + " HTTP/1.1"

                                let host = "Host: x"
                                let! atLine = statusOf r.Port (line 100) [ host ]
                                Expect.equal atLine 200 "a request line at the limit"
                                let! overLine = statusOf r.Port (line 101) [ host ]
                                Expect.equal overLine 414 "one byte over"

                                // The header block counts every header line with its CRLF.
                                let padded n =
                                    [ host; "X-A: " + String('a', n - (host.Length + 2) - "X-A: ".Length - 2) ]

                                let! atBlock = statusOf r.Port "GET /echo HTTP/1.1" (padded 200)
                                Expect.equal atBlock 200 "a header block at the limit"
                                let! overBlock = statusOf r.Port "GET /echo HTTP/1.1" (padded 201)
                                Expect.equal overBlock 431 "one byte over"

                                let lines n =
                                    host :: [ for i in 2..n -> $"X-{i}: v" ]

                                let! atCount = statusOf r.Port "GET /echo HTTP/1.1" (lines 5)
                                Expect.equal atCount 200 "as many headers as allowed"
                                let! overCount = statusOf r.Port "GET /echo HTTP/1.1" (lines 6)
                                Expect.equal overCount 431 "one more"
                            })
                        (fun r -> Expect.equal (seen r) 3 "the script saw only the requests within the limits")
            }

            testTask "a client that takes too long over its headers gets 408 and the connection closes" {
                do!
                    servingThen
                        smallHeads
                        "echo.lua"
                        (fun r ->
                            task {
                                use! slow = RawConnection.Open r.Port
                                do! slow.SendText "GET /hello HTTP/1.1\r\nHost: x\r\n"
                                let! response = slow.ReadResponse()
                                Expect.equal response.Status 408 "408 Request Timeout"
                                let! closed = slow.WaitForClose()
                                Expect.isTrue closed "then the connection closes"

                                let! healthy = rawGet r.Port "/hello"
                                Expect.equal healthy.Text "hello" "still serving"
                            })
                        (fun r -> Expect.equal (seen r) 1 "the script saw only the good request")
            }

            testTask "Kestrel's head limits are the defaults: 8 KiB request line, 32 KiB of headers, 100 headers" {
                do!
                    serving standard "echo.lua" (fun r ->
                        task {
                            let! line =
                                statusOf r.Port ("GET /echo?" + String('a', 9000) + " HTTP/1.1") [ "Host: x" ]

                            Expect.equal line 414 "a request line over 8 KiB"

                            let! block =
                                statusOf r.Port "GET /echo HTTP/1.1" [ "Host: x"; "X-Big: " + String('b', 33000) ]

                            Expect.equal block 431 "a header block over 32 KiB"

                            let! count =
                                statusOf r.Port "GET /echo HTTP/1.1" [ for i in 1..101 -> $"X-H{i}: {i}" ]

                            Expect.equal count 431 "more than 100 headers"
                        })
            }
        ]

let private withCurl =
    testList
        "curl"
        [
            echo "curl: a POST, a HEAD and a chunked binary upload"
            <| fun r ->
                task {
                    let! code, out, err =
                        curl [ "-sS"; "-i"; "--data-binary"; "hello curl"; r.Url "/echo?from=curl" ]

                    Expect.equal code 0 $"curl succeeds ({err})"
                    let text = textOf out
                    Expect.stringStarts text "HTTP/1.1 200 OK\r\n" "the status line"
                    Expect.stringContains text "X-Method: POST\r\n" "the method the script saw"
                    Expect.stringContains text "X-URL: /echo?from=curl\r\n" "the URL the script saw"
                    Expect.stringContains text "Content-Length: 10\r\n" "the length"
                    Expect.stringEnds text "\r\n\r\nhello curl" "the body"

                    let! code, out, err = curl [ "-sS"; "-I"; r.Url "/hello" ]
                    Expect.equal code 0 $"curl -I succeeds ({err})"
                    Expect.stringStarts (textOf out) "HTTP/1.1 200 OK\r\n" "HEAD: the status line"
                    Expect.stringContains (textOf out) "Content-Length: 5\r\n" "HEAD: the length"

                    let file = Path.GetTempFileName()

                    try
                        let data = binaryMiB[0..100_000]
                        File.WriteAllBytes(file, data)

                        let! code, out, err =
                            curl
                                [
                                    "-sS"
                                    "-H"
                                    "Transfer-Encoding: chunked"
                                    "--data-binary"
                                    "@" + file
                                    r.Url "/echo"
                                ]

                        Expect.equal code 0 $"curl succeeds ({err})"
                        Expect.isTrue (out = data) "the binary body, sent chunked, comes back intact"
                    finally
                        File.Delete file
                }
        ]

/// The port in an example's first line, `Serving http://localhost:N/...`.
let private servingLine (line: string) =
    let m = Regex.Match(line, @"^Serving http://localhost:(\d+)/")
    if m.Success then Some(int m.Groups[1].Value) else None

/// Runs an example on a free port, then stops it with server_stop and expects a clean end.
let private example name (args: string list) (body: Running -> Task<unit>) =
    testTask $"examples/{name}" {
        do!
            withRunning (launch standard servingLine (examplePath name) ("0" :: args)) (fun r ->
                task {
                    do! body r
                    let! code = r.Stop()
                    Expect.equal code 0 $"the example ends cleanly ({r.Transcript})"
                    Expect.equal r.Err.Text "" "nothing on standard error"
                })
    }

let private json (text: string) = JsonDocument.Parse(text).RootElement

let private send (verb: string) (url: string) (body: string option) =
    task {
        use message = new HttpRequestMessage(HttpMethod verb, url)

        match body with
        | Some b -> message.Content <- new StringContent(b)
        | None -> ()

        use! response = http.SendAsync message
        let! text = response.Content.ReadAsStringAsync()
        return response.StatusCode, response, text
    }

let private examples =
    testList
        "examples"
        [
            example "hello.lua" []
            <| fun r ->
                task {
                    let! text = http.GetStringAsync(r.Url "/anything")
                    Expect.equal text "hello" "hello"
                }

            example "json-api.lua" []
            <| fun r ->
                task {
                    let todos = r.Url "/todos"
                    let! status, response, text = send "GET" todos None
                    Expect.equal status HttpStatusCode.OK "an empty list"
                    Expect.equal text "[]" "as a JSON array"

                    Expect.equal (string response.Content.Headers.ContentType) "application/json" "JSON"

                    let! status, response, text = send "POST" todos (Some """{"title": "write tests"}""")
                    Expect.equal status HttpStatusCode.Created "created"
                    Expect.equal (string response.Headers.Location) "/todos/1" "where"
                    let created = json text
                    Expect.equal (created.GetProperty("id").GetInt32()) 1 "the id"
                    Expect.equal (created.GetProperty("title").GetString()) "write tests" "the title"
                    Expect.isFalse (created.GetProperty("done").GetBoolean()) "not done"

                    let! status, _, _ = send "POST" todos (Some """{"title": "write docs & examples"}""")
                    Expect.equal status HttpStatusCode.Created "created"
                    let! status, _, text = send "POST" todos (Some "{not json")
                    Expect.equal status HttpStatusCode.BadRequest "bad JSON"
                    Expect.stringStarts ((json text).GetProperty("error").GetString()) "bad JSON" "says why"
                    let! status, _, _ = send "POST" todos (Some """{"title": 3}""")
                    Expect.equal status (enum<HttpStatusCode> 422) "a title must be a string"

                    let! status, _, text = send "PATCH" (r.Url "/todos/1") (Some """{"done": true}""")
                    Expect.equal status HttpStatusCode.OK "updated"
                    Expect.isTrue ((json text).GetProperty("done").GetBoolean()) "done now"

                    let titles query =
                        task {
                            let! text = http.GetStringAsync(todos + query)

                            return
                                [
                                    for item in (json text).EnumerateArray() -> item.GetProperty("title").GetString()
                                ]
                        }

                    let! all = titles ""
                    Expect.equal all [ "write tests"; "write docs & examples" ] "both, in order"
                    let! finished = titles "?done=true"
                    Expect.equal finished [ "write tests" ] "the done one"
                    let! searched = titles "?q=DOCS%20%26"
                    Expect.equal searched [ "write docs & examples" ] "a search, URL-decoded"

                    let! status, _, text = send "GET" (r.Url "/todos/2") None
                    Expect.equal status HttpStatusCode.OK "one item"
                    Expect.equal ((json text).GetProperty("id").GetInt32()) 2 "the second"
                    let! status, _, _ = send "DELETE" (r.Url "/todos/2") None
                    Expect.equal status HttpStatusCode.NoContent "deleted"
                    let! status, _, _ = send "GET" (r.Url "/todos/2") None
                    Expect.equal status HttpStatusCode.NotFound "gone"
                    let! status, response, _ = send "PUT" todos None
                    Expect.equal status HttpStatusCode.MethodNotAllowed "no PUT"
                    Expect.equal (String.Join(", ", response.Content.Headers.Allow)) "GET, POST" "what is allowed"
                    let! status, _, _ = send "GET" (r.Url "/nothing") None
                    Expect.equal status HttpStatusCode.NotFound "no route"
                }

            example "sse.lua" [ "0.05" ]
            <| fun r ->
                task {
                    let! page = http.GetStringAsync(r.Url "/")
                    Expect.stringContains page "new EventSource(\"/events\")" "the page"

                    use! response =
                        http.GetAsync(r.Url "/events?count=3", HttpCompletionOption.ResponseHeadersRead)

                    Expect.equal (string response.Content.Headers.ContentType) "text/event-stream" "SSE"
                    Expect.isTrue (response.Headers.TransferEncodingChunked.GetValueOrDefault()) "streamed"
                    let! text = response.Content.ReadAsStringAsync()

                    let blocks =
                        text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries) |> List.ofArray

                    Expect.equal blocks.Head "retry: 1000" "the reconnect time first"
                    let events = blocks.Tail
                    Expect.equal events.Length 3 "three events, then the end"

                    let sequences =
                        [
                            for e in events ->
                                let lines = e.Split '\n'
                                Expect.equal lines[1] "event: tick" "named tick"
                                let data = json (lines[2].Substring "data: ".Length)
                                Expect.equal lines[0] $"""id: {data.GetProperty("sequence").GetInt32()}""" "its id"
                                data.GetProperty("sequence").GetInt32()
                        ]

                    Expect.equal sequences [ sequences.Head .. sequences.Head + 2 ] "consecutive"
                }
        ]

let private fairness =
    testList
        "fairness"
        [
            testTask "a script that keeps queueing its own events still gets its timers and requests" {
                do!
                    serving standard "spin.lua" (fun r ->
                        task {
                            let! _ = r.WaitLine "timer fired"
                            let! response = rawGet r.Port "/"
                            Expect.equal response.Text "served while spinning" "the request is served"
                        })
            }
        ]

let tests =
    testList
        "http"
        [
            request
            response
            connections
            listeners
            deadline
            streaming
            ending
            limits
            overload
            headLimits
            withCurl
            examples
            fairness
        ]
