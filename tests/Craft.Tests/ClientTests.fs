/// End-to-end tests of the http client (SPEC §6): Lua scripts in `lua/client/` run by a real
/// computer against independent peers nobody here wrote (Python's `http.server`, Debian's
/// python3-websockets server; both in `peers/`), and against Craft's own server in the same
/// script. The scripts check what they get and print "ok"; a failed check is their error.
module Craft.Tests.ClientTests

open System
open System.Collections.Concurrent
open System.Diagnostics
open System.IO
open System.Net
open System.Net.Sockets
open System.Threading.Tasks
open Craft.Interop
open Craft.Server
open Craft.Tests.ScriptHost
open Expecto

/// A peer process that prints its port first, then lines the test may look at.
type Peer(script: string) =
    let info =
        ProcessStartInfo("/usr/bin/python3", RedirectStandardOutput = true, RedirectStandardError = true)

    do info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "peers", script))
    let proc = Process.Start info
    let lines = new BlockingCollection<string>()

    let port =
        let first = proc.StandardOutput.ReadLine()

        match Int32.TryParse first with
        | true, p -> p
        | _ -> failtestf "%s did not start: %s %s" script first (proc.StandardError.ReadToEnd())

    let reader =
        Task.Run(fun () ->
            let mutable line = proc.StandardOutput.ReadLine()

            while not (isNull line) do
                lines.Add line
                line <- proc.StandardOutput.ReadLine())

    member _.Port = port

    /// Waits for a line the peer prints (failing the test after `patience`).
    member _.WaitLine(wanted: string) =
        let until = DateTime.UtcNow + patience
        let mutable found = false

        while not found && DateTime.UtcNow < until do
            let mutable line = null

            if lines.TryTake(&line, 200) && line = wanted then
                found <- true

        if not found then
            failtestf "the peer never printed '%s'" wanted

    member _.Stop() =
        try
            proc.Kill true
        with _ ->
            ()

        proc.Dispose()

    interface IDisposable with
        member this.Dispose() = this.Stop()

    interface IAsyncDisposable with
        member this.DisposeAsync() =
            this.Stop()
            ValueTask.CompletedTask

/// A port nobody listens on, and nobody can take while the tests run: a socket bound to it that
/// never listens, so connections to it are refused. (A port probed and let go could be taken by
/// a server of a test running beside, which answered the "refused" request with a 404.)
let private closedPortHolder =
    lazy
        (let socket =
            new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)

         socket.Bind(IPEndPoint(IPAddress.Loopback, 0))
         socket)

let private closedPort () =
    (closedPortHolder.Force().LocalEndPoint :?> IPEndPoint).Port

let private allowLoopback =
    [ HttpRule.AllowAddress "127.0.0.1" ] :> Collections.Generic.IReadOnlyList<_>

/// Runs lua/client/NAME with `args`; its exit code, output and errors.
/// `options` makes the computer's options from its output and error writers.
let private run (options: TextWriter -> TextWriter -> ComputerOptions) (name: string) (args: string list) =
    task {
        let output = new StringWriter()
        let error = new StringWriter()
        let script = Path.Combine(AppContext.BaseDirectory, "lua", "client", name)
        use computer = new Computer(options output error)
        let! code = within $"lua/client/{name}" (computer.RunFileAsync(script, args))
        return code, output.ToString(), error.ToString()
    }

let private expectOk (code: int, output: string, error: string) =
    Expect.equal code 0 $"the script failed:\n{output}\n{error}"
    Expect.stringContains output "ok" "the script says ok"

let private small output error =
    ComputerOptions(
        Output = output,
        Error = error,
        HttpRules = allowLoopback,
        MaxHttpDownloadBytes = 1000L,
        MaxHttpUploadBytes = 1000L,
        MaxWebSocketMessageBytes = 1000,
        MaxClientWebSockets = 2
    )

/// A computer on the test's writers whose scripts may reach 127.0.0.1.
let private allowingLoopback: Setup =
    fun out err input -> ComputerOptions(Output = out, Error = err, Input = input, HttpRules = allowLoopback)

let private example name =
    Path.Combine(AppContext.BaseDirectory, "examples", name)

/// The port in an example's "... http://localhost:PORT/ ..." or "ws://localhost:PORT/" line.
let private localhostPort (line: string) =
    let m = Text.RegularExpressions.Regex.Match(line, "localhost:([0-9]+)/")
    if m.Success then Some(int m.Groups[1].Value) else None

let private header (answer: Net.Http.HttpResponseMessage) (name: string) =
    match answer.Headers.TryGetValues name with
    | true, values -> String.Join(",", values)
    | _ -> ""

let tests =
    testList
        "http client"
        [
            testTask "requests against Python's http.server: methods, headers, bytes, redirects, failures, limits" {
                use peer = new Peer "http_peer.py"
                let! result = run small "http.lua" [ string peer.Port; string (closedPort ()) ]
                expectOk result
            }

            testTask "client WebSockets against python3-websockets: messages, fragments, closes, limits" {
                use peer = new Peer "ws_server_peer.py"
                let! result = run small "ws.lua" [ string peer.Port; string (closedPort ()) ]
                expectOk result
                // The script's own close reached the peer as a close frame with the script's code.
                peer.WaitLine "closed /fragments 1000"
            }

            testTask "the default rules refuse loopback, private ranges and names that resolve to them" {
                use peer = new Peer "http_peer.py"

                let! result =
                    run (fun o e -> ComputerOptions(Output = o, Error = e)) "denied.lua" [ string peer.Port ]

                expectOk result
            }

            testTask "requests past the limit wait their turn; none is lost" {
                use peer = new Peer "http_peer.py"

                let! result =
                    run
                        (fun o e ->
                            ComputerOptions(Output = o, Error = e, HttpRules = allowLoopback, MaxHttpRequests = 2))
                        "queue.lua"
                        [ string peer.Port ]

                expectOk result
            }

            testTask "a script talks to its own server through parallel: HTTP and WebSocket" {
                let! result =
                    run (fun o e -> ComputerOptions(Output = o, Error = e, HttpRules = allowLoopback)) "self.lua" []

                expectOk result
            }

            testTask "shutdown closes client WebSockets (1001) and cancels requests; nothing is queued after" {
                use http = new Peer "http_peer.py"
                use ws = new Peer "ws_server_peer.py"

                let! code, output, error =
                    run
                        (fun o e -> ComputerOptions(Output = o, Error = e, HttpRules = allowLoopback))
                        "shutdown.lua"
                        [ string http.Port; string ws.Port ]

                Expect.equal code 0 $"the script ends cleanly:\n{output}\n{error}"
                ws.WaitLine "closed /echo 1001"
            }

            testTask "examples/proxy.lua forwards methods, headers, bodies and statuses to Python's http.server" {
                use peer = new Peer "http_peer.py"

                do!
                    withRunning (
                        launchWith
                            "terminate"
                            allowingLoopback
                            localhostPort
                            (example "proxy.lua")
                            [ "0"; $"http://127.0.0.1:{peer.Port}" ]
                    )
                    <| fun r ->
                        task {
                            use client = new Net.Http.HttpClient()
                            use get = new Net.Http.HttpRequestMessage(Net.Http.HttpMethod.Get, r.Url "/echo")
                            get.Headers.Add("X-Test", "through the proxy")
                            let! answer = client.SendAsync get
                            Expect.equal (int answer.StatusCode) 200 "GET"
                            Expect.equal (header answer "X-Echo-Test") "through the proxy" "request header forwarded"
                            Expect.equal (header answer "X-Echo-Method") "GET" "method"
                            let bytes = Array.init 256 byte
                            use content = new Net.Http.ByteArrayContent(bytes)
                            let! posted = client.PutAsync(r.Url "/echo", content)
                            Expect.equal (header posted "X-Echo-Method") "PUT" "PUT"
                            let! back = posted.Content.ReadAsByteArrayAsync()
                            Expect.equal back bytes "bytes 0-255 both ways"
                            let! missing = client.GetAsync(r.Url "/status/404")
                            Expect.equal (int missing.StatusCode) 404 "a 404 comes back as a 404"
                            Expect.equal missing.ReasonPhrase "Reason 404" "with its reason"
                            let! body = missing.Content.ReadAsStringAsync()
                            Expect.equal body "status 404" "and its body"

                            use noFollow =
                                new Net.Http.HttpClient(new Net.Http.HttpClientHandler(AllowAutoRedirect = false))

                            let! moved = noFollow.GetAsync(r.Url "/redirect/1")
                            Expect.equal (int moved.StatusCode) 302 "redirects are passed on, not followed"
                            // Many at once: each answered with its own upstream answer.
                            let! all =
                                [ for i in 1..20 -> client.GetStringAsync(r.Url $"/slow?ms=50&i={i}") ]
                                |> Task.WhenAll

                            Expect.equal all.Length 20 "every concurrent request answered"
                        }
            }

            testTask "examples/ws-relay.lua relays between its clients and a python3-websockets upstream" {
                use peer = new Peer "ws_server_peer.py"

                do!
                    withRunning (
                        launchWith
                            "terminate"
                            allowingLoopback
                            localhostPort
                            (example "ws-relay.lua")
                            [ "0"; $"ws://127.0.0.1:{peer.Port}/echo" ]
                    )
                    <| fun r ->
                        task {
                            use a = new Net.WebSockets.ClientWebSocket()
                            use b = new Net.WebSockets.ClientWebSocket()
                            do! a.ConnectAsync(Uri $"ws://127.0.0.1:{r.Port}/", Threading.CancellationToken.None)
                            do! b.ConnectAsync(Uri $"ws://127.0.0.1:{r.Port}/", Threading.CancellationToken.None)
                            // Both clients are known to the relay once a message sent after both connected comes back.
                            let receive (ws: Net.WebSockets.ClientWebSocket) =
                                task {
                                    let buffer = Array.zeroCreate<byte> 1024

                                    let! got =
                                        within
                                            "a relayed message"
                                            (ws.ReceiveAsync(ArraySegment buffer, Threading.CancellationToken.None))

                                    return Text.Encoding.UTF8.GetString(buffer, 0, got.Count)
                                }

                            let send (ws: Net.WebSockets.ClientWebSocket) (text: string) =
                                ws.SendAsync(
                                    ArraySegment(Text.Encoding.UTF8.GetBytes text),
                                    Net.WebSockets.WebSocketMessageType.Text,
                                    true,
                                    Threading.CancellationToken.None
                                )

                            do! send a "hello from a"
                            let! atA = receive a
                            let! atB = receive b
                            Expect.equal atA "hello from a" "the sender hears the upstream's echo"
                            Expect.equal atB "hello from a" "so does the other client"
                            do! send b "and b"
                            let! atA = receive a
                            Expect.equal atA "and b" "b's message reaches a"
                        }
            }

            test "address rules: first match wins, host patterns, ranges, $private and the defaults" {
                let rule action text =
                    match AddressRules.parse action text with
                    | Ok r -> r
                    | Error e -> failtest e

                let decide rules host (address: string) =
                    AddressRules.decide rules host (IPAddress.Parse address)

                Expect.equal (decide [] "example.com" "93.184.216.34") RuleAction.Allow "public allowed"

                for address in
                    [
                        "127.0.0.1"
                        "127.1.2.3"
                        "10.9.8.7"
                        "172.16.0.1"
                        "172.31.255.255"
                        "192.168.0.1"
                        "169.254.169.254"
                        "100.64.0.1"
                        "0.0.0.0"
                        "::1"
                        "fe80::1"
                        "fd12::1"
                        "fc00::1"
                        "::ffff:127.0.0.1"
                        "2002:7f00:1::1"
                        "224.0.0.1"
                    ] do
                    Expect.equal (decide [] "h" address) RuleAction.Deny $"{address} is private"

                for address in [ "172.32.0.1"; "11.0.0.1"; "100.128.0.1"; "2001:db8::1"; "8.8.8.8" ] do
                    Expect.equal (decide [] "h" address) RuleAction.Allow $"{address} is not private"

                let allowLocal = [ rule RuleAction.Allow "localhost" ]
                Expect.equal (decide allowLocal "LocalHost" "127.0.0.1") RuleAction.Allow "host names ignore case"
                Expect.equal (decide allowLocal "other" "127.0.0.1") RuleAction.Deny "another name is not allowed"
                let wildcard = [ rule RuleAction.Deny "*.example.com" ]
                Expect.equal (decide wildcard "a.b.example.com" "8.8.8.8") RuleAction.Deny "wildcard"
                Expect.equal (decide wildcard "example.com" "8.8.8.8") RuleAction.Allow "*. needs a label"

                let ranges =
                    [ rule RuleAction.Allow "10.1.0.0/16"; rule RuleAction.Deny "8.8.8.0/24" ]

                Expect.equal (decide ranges "h" "10.1.2.3") RuleAction.Allow "allowed range"
                Expect.equal (decide ranges "h" "10.2.0.1") RuleAction.Deny "outside it: the defaults"
                Expect.equal (decide ranges "h" "8.8.8.8") RuleAction.Deny "denied range"
                let first = [ rule RuleAction.Deny "127.0.0.1"; rule RuleAction.Allow "$private" ]
                Expect.equal (decide first "h" "127.0.0.1") RuleAction.Deny "first match wins"
                Expect.equal (decide first "h" "127.0.0.2") RuleAction.Allow "the next rule"

                for bad in [ ""; "10.0.0.0/33"; "nonsense/8"; "::1/129" ] do
                    Expect.isError (AddressRules.parse RuleAction.Allow bad) $"'{bad}' is refused"

                Expect.throws
                    (fun () ->
                        Computer(ComputerOptions(HttpRules = [ HttpRule.DenyAddress "1.2.3.4/99" ]))
                        |> ignore)
                    "a bad rule is refused when the computer is made"
            }
        ]
