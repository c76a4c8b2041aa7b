/// Craft.Hosting: a script run as a hosted service of a real Generic Host, started and stopped
/// by the host.
module Craft.Tests.HostingTests

open System
open System.IO
open System.Net.Sockets
open System.Threading
open Craft.Hosting
open Craft.Interop
open Craft.Tests.ScriptHost
open Craft.Tests.LoggingTests
open Expecto
open Microsoft.Extensions.DependencyInjection
open Microsoft.Extensions.Hosting
open Microsoft.Extensions.Logging

let private script =
    Path.Combine(AppContext.BaseDirectory, "lua", "ship", "both.lua")

let private serviceOf (host: IHost) =
    host.Services.GetServices<IHostedService>()
    |> Seq.pick (function
        | :? CraftComputerService as s -> Some s
        | _ -> None)

let tests =
    testList
        "hosting"
        [
            testCaseTask
                "AddCraftComputer: the host starts the script, it serves, StopAsync ends it cleanly and frees its ports"
                (fun () ->
                    task {
                        let out = new LineWriter()
                        let capture = new Capture(LogLevel.Information)
                        let builder = Host.CreateApplicationBuilder(Array.empty<string>)
                        builder.Logging.ClearProviders().AddProvider(capture) |> ignore

                        builder.Services.AddCraftComputer(
                            ComputerOptions(Output = out, Error = out, Input = TextReader.Null),
                            script
                        )
                        |> ignore

                        use host = builder.Build()
                        use cts = new CancellationTokenSource(patience)
                        do! host.StartAsync(cts.Token)
                        let service = serviceOf host
                        let! line = within "the script's port" (out.WaitFor(fun l -> l.StartsWith "port "))
                        let port = int (line.Substring 5)
                        let! wsLine = within "the WebSocket port" (out.WaitFor(fun l -> l.StartsWith "ws "))
                        let wsPort = int (wsLine.Substring 3)

                        let! answer = HttpHelpers.http.GetStringAsync($"http://127.0.0.1:{port}/hosted")
                        Expect.equal answer "GET /hosted 0" "served while the host runs"
                        Expect.isFalse service.Completion.IsCompleted "still running"

                        // A WebSocket client open at shutdown is closed with 1001 (going away).
                        use ws = new Net.WebSockets.ClientWebSocket()
                        do! ws.ConnectAsync(Uri $"ws://127.0.0.1:{wsPort}/", cts.Token)

                        do! host.StopAsync(cts.Token)
                        Expect.isTrue service.Completion.IsCompleted "the script has ended when StopAsync returns"
                        Expect.equal service.Completion.Result 0 "a script waiting for an event ends with 0"

                        let buffer = Array.zeroCreate<byte> 16
                        let! closing = ws.ReceiveAsync(ArraySegment buffer, cts.Token)
                        Expect.equal closing.MessageType Net.WebSockets.WebSocketMessageType.Close "a close frame"

                        Expect.equal
                            closing.CloseStatus
                            (Nullable Net.WebSockets.WebSocketCloseStatus.EndpointUnavailable)
                            "1001"

                        // Its ports are free again.
                        for p in [ port; wsPort ] do
                            let listener = new TcpListener(Net.IPAddress.Loopback, p)
                            listener.Start()
                            listener.Stop()

                        // The host's logging got the computer's events.
                        Expect.isNonEmpty (capture.Named "Listening") "the computer logs to the host's ILoggerFactory"
                        Expect.isEmpty (capture.Named "ScriptEnded") "stopping is not the script ending by itself"
                    })

            testCaseTask "a script that ends by itself stops the application" (fun () ->
                task {
                    let dir = Directory.CreateTempSubdirectory("craft-host-").FullName
                    let path = Path.Combine(dir, "short.lua")
                    File.WriteAllText(path, "print('done')")

                    try
                        let builder = Host.CreateApplicationBuilder(Array.empty<string>)
                        builder.Logging.ClearProviders() |> ignore

                        builder.Services.AddCraftComputer(
                            ComputerOptions(Output = TextWriter.Null, Error = TextWriter.Null, Input = TextReader.Null),
                            path
                        )
                        |> ignore

                        use host = builder.Build()
                        use cts = new CancellationTokenSource(patience)
                        let service = serviceOf host
                        // RunAsync returns only when the application stops (and disposes the host).
                        do! withinUnit "the host to stop by itself" (host.RunAsync(cts.Token))
                        Expect.isFalse cts.IsCancellationRequested "stopped by the script, not by the test"
                        Expect.equal service.Completion.Result 0 "exit code"
                    finally
                        Directory.Delete(dir, true)
                })
        ]
