/// Logging: a computer given an ILoggerFactory reports binds, requests, refusals by its limits,
/// script errors and how the run ended, as events with named fields. The factory here captures
/// every event with its structured state.
module Craft.Tests.LoggingTests

open System
open System.Collections.Concurrent
open System.Collections.Generic
open System.IO
open System.Net.Http
open System.Net.WebSockets
open System.Threading
open Craft.Interop
open Craft.Tests.ScriptHost
open Expecto
open Microsoft.Extensions.Logging

/// One logged event: its category, level, event name, formatted message and named fields.
type Captured =
    {
        Category: string
        Level: LogLevel
        Event: string
        Message: string
        Fields: Map<string, obj>
    }

    member this.Field(name: string) =
        match this.Fields.TryFind name with
        | Some v -> v
        | None -> failtestf "event %s has no field %s (%A)" this.Event name this.Fields

/// An ILoggerProvider that keeps every event, and whether a level was asked about.
type Capture(minimum: LogLevel) =
    let events = ConcurrentQueue<Captured>()

    member _.Events = List.ofSeq events

    member this.Named(event: string) =
        this.Events |> List.filter (fun e -> e.Event = event)

    interface ILoggerProvider with
        member _.CreateLogger(category) =
            { new ILogger with
                member _.BeginScope _ = null
                member _.IsEnabled level = level >= minimum

                member _.Log(level, eventId, state, error, format) =
                    if level >= minimum then
                        let fields =
                            match box state with
                            | :? IReadOnlyList<KeyValuePair<string, obj>> as pairs ->
                                pairs |> Seq.map (fun kv -> kv.Key, kv.Value) |> Map.ofSeq
                            | _ -> Map.empty

                        events.Enqueue
                            {
                                Category = category
                                Level = level
                                Event = eventId.Name
                                Message = format.Invoke(state, error)
                                Fields = fields
                            }
            }

        member _.Dispose() = ()

let private factoryOf (capture: Capture) =
    LoggerFactory.Create(fun b -> b.SetMinimumLevel(LogLevel.Trace).AddProvider capture |> ignore)

let private script =
    Path.Combine(AppContext.BaseDirectory, "lua", "ship", "both.lua")

/// Waits (within the patience) until `count` events named `event` were captured.
let private waitEvents (capture: Capture) (event: string) (count: int) =
    task {
        let deadline = DateTime.UtcNow + patience

        while List.length (capture.Named event) < count && DateTime.UtcNow < deadline do
            do! Threading.Tasks.Task.Delay 20

        let found = capture.Named event
        Expect.isGreaterThanOrEqual found.Length count $"{count} {event} events: {capture.Events}"
        return found
    }

let tests =
    testList
        "logging"
        [
            testCaseTask
                "binds, requests, 413 and 1009 refusals, script error and end reach the ILogger with their fields"
                (fun () ->
                    task {
                        let capture = new Capture(LogLevel.Trace)
                        use factory = factoryOf capture

                        let setup: Setup =
                            fun out err input ->
                                ComputerOptions(
                                    Output = out,
                                    Error = err,
                                    Input = input,
                                    LoggerFactory = factory,
                                    MaxRequestBodyBytes = 10L,
                                    MaxWebSocketMessageBytes = 100
                                )

                        let! r = launchWith "stop" setup portLine script []

                        try
                            let! wsLine = r.WaitPrefix "ws "
                            let wsPort = int (wsLine.Substring 3)

                            // Both ports were bound, each logged with its scheme, address and port.
                            let! listening = waitEvents capture "Listening" 2

                            Expect.equal
                                (listening |> List.map (fun e -> e.Field "Port" :?> int) |> List.sort)
                                (List.sort [ r.Port; wsPort ])
                                "one Listening per port"

                            for e in listening do
                                Expect.equal e.Category "Craft.Computer" "category"
                                Expect.equal e.Level LogLevel.Information "level"
                                Expect.equal (e.Field "Scheme") (box "http") "scheme"
                                Expect.equal (e.Field "Address") (box "127.0.0.1") "address"

                            // A request served: its line, with method, target and status as fields.
                            let! served = HttpHelpers.http.GetStringAsync(r.Url "/logged?x=1")
                            Expect.equal served "GET /logged?x=1 0" "served"
                            let! requests = waitEvents capture "Request" 1
                            let request = requests |> List.find (fun e -> e.Field "Target" = box "/logged?x=1")
                            Expect.equal request.Category "Craft.Server" "category"
                            Expect.equal (request.Field "Method") (box "GET") "method"
                            Expect.equal (request.Field "Status") (box 200) "status"
                            Expect.equal (request.Field "Port") (box r.Port) "port"

                            Expect.equal
                                request.Message
                                $"GET /logged?x=1 200 (port {r.Port})"
                                "the --request-log line and the port"

                            // A body over the limit: 413, refused by the shell, logged as a warning.
                            use content = new StringContent("01234567890")
                            let! tooLarge = HttpHelpers.http.PostAsync(r.Url "/big", content)
                            Expect.equal (int tooLarge.StatusCode) 413 "413"
                            let! refused = waitEvents capture "Refused" 1
                            let refusal = refused.Head
                            Expect.equal refusal.Level LogLevel.Warning "a warning"
                            Expect.equal (refusal.Field "Status") (box 413) "status"
                            Expect.equal (refusal.Field "Target") (box "/big") "target"
                            Expect.equal (refusal.Field "Method") (box "POST") "method"

                            // A WebSocket message over the limit: the client is closed with 1009.
                            use ws = new ClientWebSocket()
                            use cts = new CancellationTokenSource(patience)
                            do! ws.ConnectAsync(Uri $"ws://127.0.0.1:{wsPort}/", cts.Token)

                            do!
                                ws.SendAsync(
                                    ArraySegment(Array.zeroCreate<byte> 101),
                                    WebSocketMessageType.Binary,
                                    true,
                                    cts.Token
                                )

                            let! closedByLimit = waitEvents capture "WebSocketClosedByLimit" 1
                            Expect.equal (closedByLimit.Head.Field "Code") (box 1009) "1009"
                            Expect.equal (closedByLimit.Head.Field "Reason") (box "Message too large") "reason"

                            let! exitCode = r.Stop()
                            Expect.equal exitCode 0 "the script ended"
                            let! ended = waitEvents capture "Ended" 1
                            Expect.equal (ended.Head.Field "ExitCode") (box 0) "exit code 0"
                            Expect.equal (ended.Head.Field "Program") (box "/both.lua") "the program"
                            Expect.isEmpty (capture.Named "ScriptError") "no script error"
                        finally
                            r.Computer.DisposeAsync().AsTask().Wait(patience) |> ignore
                    })

            testCaseTask "a script error is an Error event with the message; the end says exit code 1" (fun () ->
                task {
                    let capture = new Capture(LogLevel.Information)
                    use factory = factoryOf capture
                    let err = new StringWriter()

                    let options =
                        ComputerOptions(
                            Output = TextWriter.Null,
                            Error = err,
                            Input = TextReader.Null,
                            LoggerFactory = factory
                        )

                    let! code =
                        task {
                            use computer = new Computer(options)
                            return! computer.RunAsync("local x = nil\nreturn x.y", "broken")
                        }

                    Expect.equal code 1 "exit code"
                    let errors = capture.Named "ScriptError"
                    Expect.equal errors.Length 1 $"one ScriptError: {capture.Events}"
                    Expect.equal errors.Head.Level LogLevel.Error "an error"
                    Expect.equal (errors.Head.Field "Program") (box "broken") "the program"
                    let message = string (errors.Head.Field "Error")
                    Expect.stringContains message "broken:2:" "where"
                    Expect.equal (err.ToString()) (message + "\n") "the same message on Error, as before"
                    let ended = capture.Named "Ended"
                    Expect.equal (ended |> List.map (fun e -> e.Field "ExitCode")) [ box 1 ] "Ended with 1"
                })

            testCaseTask
                "a logger that asks for warnings only gets no request events (the level is checked first)"
                (fun () ->
                    task {
                        let capture = new Capture(LogLevel.Warning)
                        use factory = factoryOf capture

                        let setup: Setup =
                            fun out err input ->
                                ComputerOptions(Output = out, Error = err, Input = input, LoggerFactory = factory)

                        do!
                            withRunning (launchWith "stop" setup portLine script []) (fun r ->
                                task {
                                    let! served = HttpHelpers.http.GetStringAsync(r.Url "/quiet")
                                    Expect.equal served "GET /quiet 0" "served"
                                    let! _ = r.Stop()
                                    Expect.isEmpty (capture.Named "Request") "no request events"
                                    Expect.isEmpty (capture.Named "Listening") "no information events"
                                })
                    })

            testCaseTask "craft run --log-level information logs to standard error, not standard output" (fun () ->
                task {
                    use proc = CliTests.startCraft [ "run"; "--log-level"; "information"; script ]
                    let out, err = followLines proc

                    try
                        let! line =
                            within "craft prints its port" (out.WaitFor(fun l -> l.StartsWith "port "))

                        let port = line.Substring 5
                        let! served = HttpHelpers.http.GetStringAsync($"http://127.0.0.1:{port}/cli-log")
                        Expect.equal served "GET /cli-log 0" "served"

                        let! logged =
                            within
                                $"the request's log line ({err.Text})"
                                (err.WaitFor(fun l ->
                                    l.Contains "Craft.Server[1]" && l.Contains $"GET /cli-log 200 (port {port})"))

                        Expect.stringContains logged "info:" "at information"

                        let! _ =
                            within
                                "the bind's log line"
                                (err.WaitFor(fun l -> l.Contains $"Listening on http://127.0.0.1:{port}"))

                        Expect.isFalse
                            (out.Lines |> List.exists (fun l -> l.Contains "Craft."))
                            "nothing logged on standard output"
                    finally
                        proc.Kill true
                })
        ]
