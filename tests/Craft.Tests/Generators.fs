/// Random scenarios for the core, and a small driver that plays the shell's part: it answers
/// binds at once, numbers requests, and feeds the core what the world would report. Every step is
/// recorded so that properties can look at the whole run.
module Craft.Tests.Generators

open Craft
open FsCheck
open FsCheck.FSharp

/// A port whose bind always fails in the driver (another program holds it).
[<Literal>]
let TakenPort = 9

/// What happens next in a scenario. Picks are indices into whatever exists at that moment, so
/// every generated command means something in the state it meets.
type Command =
    | AddListener of port: Port
    | RemoveListener of port: Port
    | OpenServer of port: Port
    | CloseServer of port: Port
    /// `lag`: how long before the core heard of it the shell finished reading it.
    | Request of port: Port * upgrade: bool * lag: int
    | Pull
    | Respond of pick: int
    | Flush of pick: int
    | Send of pick: int * size: int
    | CloseClient of pick: int * code: int
    | Message of pick: int * binary: bool
    | PeerClose of pick: int * withCode: bool
    | QueueScript
    | QueueHost
    | Advance of ms: int
    | StartTimer of ms: int
    | CancelTimer of pick: int
    | Terminate
    | Shutdown
    /// `http.request` (or a URL check, which never waits its turn).
    | Fetch of check: bool
    /// The world finishes a started fetch (or, now and then, one it never heard of).
    | CompleteFetch of pick: int
    /// `http.websocket`.
    | OpenSocket
    /// A connecting client WebSocket's handshake succeeds.
    | SocketConnect of pick: int
    /// A connecting client WebSocket fails.
    | SocketFail of pick: int

type Scenario =
    {
        Limits: Limits
        Commands: Command list
    }

/// One step of a run: the input, the state before and after, and the effects.
type Step =
    {
        Input: Input
        Before: State
        After: State
        Effects: Effect list
    }

let private port = Gen.elements [ 0; 1; 2; 3; TakenPort ]
let private knownPort = Gen.elements [ 1; 2; 3 ]
let private pick = Gen.choose (0, 7)

let command: Gen<Command> =
    Gen.frequency
        [
            4, Gen.map AddListener port
            2, Gen.map RemoveListener knownPort
            3, Gen.map OpenServer port
            2, Gen.map CloseServer knownPort
            10,
            Gen.map3
                (fun p u lag -> Request(p, u, lag))
                knownPort
                (Gen.elements [ false; false; true ])
                (Gen.frequency [ 6, Gen.constant 0; 1, Gen.choose (0, 150) ])
            10, Gen.constant Pull
            5, Gen.map Respond pick
            1, Gen.map Flush pick
            2, Gen.map2 (fun p n -> Send(p, n)) pick (Gen.choose (0, 12))
            2, Gen.map2 (fun p c -> CloseClient(p, c)) pick (Gen.elements [ 1000; 4000 ])
            6, Gen.map2 (fun p b -> Message(p, b)) pick (Gen.elements [ false; true ])
            2, Gen.map2 (fun p c -> PeerClose(p, c)) pick (Gen.elements [ false; true ])
            4, Gen.constant QueueScript
            1, Gen.constant QueueHost
            3, Gen.map Advance (Gen.choose (0, 60))
            2, Gen.map StartTimer (Gen.choose (0, 50))
            1, Gen.map CancelTimer pick
            1, Gen.constant Terminate
            1, Gen.constant Shutdown
            4, Gen.map Fetch (Gen.elements [ false; false; true ])
            4, Gen.map CompleteFetch (Gen.choose (0, 9))
            2, Gen.constant OpenSocket
            2, Gen.map SocketConnect pick
            1, Gen.map SocketFail pick
        ]

/// Small limits so that the queue fills, the backlog overflows and deadlines pass often.
let limits: Gen<Limits> =
    gen {
        let! queue = Gen.choose (1, 6)
        let! backlog = Gen.choose (0, 4)
        let! deadline = Gen.choose (5, 120)
        let! fetches = Gen.choose (1, 3)
        let! sockets = Gen.choose (0, 2)

        return
            {
                QueueCapacity = queue
                BacklogCapacity = backlog
                ResponseDeadline = int64 deadline
                MaxMessageBytes = 8
                MaxFetches = fetches
                MaxClientSockets = sockets
            }
    }

let scenario: Gen<Scenario> =
    gen {
        let! limits = limits
        let! length = Gen.choose (0, 120)
        let! commands = Gen.listOfLength length command
        return { Limits = limits; Commands = commands }
    }

/// Registered with FsCheck so that properties can take a `Scenario` argument.
type Arbitraries =
    static member Scenario() : Arbitrary<Scenario> =
        // Shorter runs first: drop the second half, then each command in turn.
        let shrink (s: Scenario) =
            let n = List.length s.Commands

            seq {
                if n > 1 then
                    yield List.take (n / 2) s.Commands

                for i in 0 .. n - 1 do
                    yield List.removeAt i s.Commands
            }
            |> Seq.map (fun commands -> { s with Commands = commands })

        Arb.fromGenShrink (scenario, shrink)

/// The driver's own memory: what a shell would know.
type private Driver =
    {
        State: State
        Steps: Step list
        NextRequest: RequestId
        NextFreePort: Port
        NextPayload: PayloadId
        NextMessage: int
        Clients: ClientId list
        NextFetch: FetchId
        /// Fetches the core started and the world has not finished yet.
        Started: FetchId list
    }

let private nth pick items =
    match items with
    | [] -> None
    | _ -> Some(List.item (pick % List.length items) items)

/// Feed one input, then whatever the shell reports back at once (bind results).
let rec private feed input (d: Driver) =
    let after, effects = Core.step input d.State

    let d =
        { d with
            State = after
            Steps =
                {
                    Input = input
                    Before = d.State
                    After = after
                    Effects = effects
                }
                :: d.Steps
            Clients =
                d.Clients
                @ (effects
                   |> List.choose (function
                       | Effect.Accept(_, c)
                       | Effect.Reply(Reply.SocketStarted c) -> Some c
                       | _ -> None))
            Started =
                d.Started
                @ (effects
                   |> List.choose (function
                       | Effect.StartFetch f -> Some f
                       | _ -> None))
        }

    effects
    |> List.fold
        (fun d effect ->
            match effect with
            | Effect.Bind TakenPort -> feed (Input.BindFailed(TakenPort, "Address already in use")) d
            | Effect.Bind 0 ->
                feed
                    (Input.BindSucceeded(0, d.NextFreePort))
                    { d with
                        NextFreePort = d.NextFreePort + 1
                    }
            | Effect.Bind p -> feed (Input.BindSucceeded(p, p)) d
            | _ -> d)
        d

/// A message body that tells, by its bytes, which message it was.
let messageBytes (n: int) = System.BitConverter.GetBytes n

let private play (d: Driver) command =
    let s = d.State

    let held =
        s.Requests
        |> Map.toList
        |> List.choose (fun (id, r) -> if r.Stage = RequestStage.Held then Some id else None)

    match command with
    | AddListener p -> feed (Input.AddListener p) d
    | RemoveListener p -> feed (Input.RemoveListener p) d
    | OpenServer p -> feed (Input.OpenWebSocketServer p) d
    | CloseServer p -> feed (Input.CloseWebSocketServer p) d
    | Request(p, upgrade, lag) ->
        feed
            (Input.RequestArrived(d.NextRequest, p, upgrade, s.Now - int64 lag))
            { d with
                NextRequest = d.NextRequest + 1L
            }
    | Pull -> feed Input.PullEvent d
    | Respond i ->
        match nth i held with
        | Some id -> feed (Input.CloseResponse id) d
        | None -> d
    | Flush i ->
        match nth i held with
        | Some id -> feed (Input.FlushResponse id) d
        | None -> d
    | Send(i, size) ->
        match nth i d.Clients with
        | Some c -> feed (Input.Send(c, Array.zeroCreate size, false)) d
        | None -> d
    | CloseClient(i, code) ->
        match nth i d.Clients with
        | Some c -> feed (Input.CloseClient(c, code, "bye")) d
        | None -> d
    | Message(i, binary) ->
        match nth i d.Clients with
        | Some c ->
            feed
                (Input.MessageArrived(c, messageBytes d.NextMessage, binary))
                { d with
                    NextMessage = d.NextMessage + 1
                }
        | None -> d
    | PeerClose(i, withCode) ->
        match nth i d.Clients with
        | Some c ->
            let input =
                if withCode then
                    Input.ClientClosed(c, Some 1001, Some "away")
                else
                    Input.ClientClosed(c, None, None)

            feed input d
        | None -> d
    | QueueScript ->
        feed
            (Input.QueueEvent("custom", d.NextPayload, Origin.Script))
            { d with
                NextPayload = d.NextPayload + 1L
            }
    | QueueHost ->
        feed
            (Input.QueueEvent("host", d.NextPayload, Origin.Host))
            { d with
                NextPayload = d.NextPayload + 1L
            }
    | Advance ms -> feed (Input.Tick(s.Now + int64 ms)) d
    | StartTimer ms -> feed (Input.StartTimer(int64 ms)) d
    | CancelTimer i ->
        match nth i (s.Timers |> Map.toList |> List.map fst) with
        | Some t -> feed (Input.CancelTimer t) d
        | None -> d
    | Terminate -> feed Input.Terminate d
    | Shutdown -> feed Input.Shutdown d
    | Fetch check -> feed (Input.Fetch(d.NextFetch, check)) { d with NextFetch = d.NextFetch + 1L }
    | CompleteFetch i ->
        // One pick in ten names a fetch the core never started (a late or stray report).
        if i = 9 then
            feed (Input.FetchCompleted 1_000_000L) d
        else
            match nth i d.Started with
            | Some f ->
                feed
                    (Input.FetchCompleted f)
                    { d with
                        Started = List.filter ((<>) f) d.Started
                    }
            | None -> d
    | OpenSocket -> feed Input.OpenSocket d
    | SocketConnect i
    | SocketFail i ->
        let connecting =
            s.Clients
            |> Map.toList
            |> List.choose (fun (id, c) -> if c.Stage = ClientStage.Connecting then Some id else None)

        match nth i connecting, command with
        | Some c, SocketConnect _ -> feed (Input.SocketConnected c) d
        | Some c, _ -> feed (Input.SocketFailed(c, "Connection refused")) d
        | None, _ -> d

/// Run a scenario; `drain` then pulls until the script has seen every event; `stop` shuts down.
let runWith (drain: bool) (stop: bool) (scenario: Scenario) : Step list =
    let start =
        {
            State = Core.initial scenario.Limits
            Steps = []
            NextRequest = 1L
            NextFreePort = 40000
            NextPayload = 1L
            NextMessage = 0
            Clients = []
            NextFetch = 1L
            Started = []
        }

    let d = List.fold play start scenario.Commands

    let rec drainAll (d: Driver) budget =
        if budget = 0 then
            d
        else
            let d' = feed Input.PullEvent d

            let delivered =
                d'.Steps.Head.Effects
                |> List.exists (function
                    | Effect.Deliver _ -> true
                    | _ -> false)

            if delivered then drainAll d' (budget - 1) else d'

    let d = if drain then drainAll d 100_000 else d
    let d = if stop then feed Input.Shutdown d else d
    List.rev d.Steps

/// Run the scenario as generated, then shut down.
let run scenario = runWith false true scenario

/// All effects of a run, in order.
let effects (steps: Step list) =
    steps |> List.collect (fun s -> s.Effects)

/// Every event delivered to the script, in order.
let delivered (steps: Step list) =
    effects steps
    |> List.choose (function
        | Effect.Deliver e -> Some e
        | _ -> None)
