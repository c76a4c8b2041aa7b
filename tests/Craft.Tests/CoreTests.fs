/// Properties and examples for the pure core (`Craft.Core.fs`).
module Craft.Tests.CoreTests

open Craft
open Craft.Tests.Generators
open Expecto

let private config =
    { FsCheckConfig.defaultConfig with
        arbitrary = [ typeof<Arbitraries> ]
        maxTest = 300
    }

let private property name (body: Scenario -> unit) = testPropertyWithConfig config name body

let private answersOf (steps: Step list) =
    effects steps
    |> List.choose (function
        | Effect.Answer(id, how) -> Some(id, Choice1Of2 how)
        | Effect.Accept(id, client) -> Some(id, Choice2Of2 client)
        | _ -> None)

let private arrivals (steps: Step list) =
    steps
    |> List.choose (fun s ->
        match s.Input with
        | Input.RequestArrived(id, _, _, _) -> Some id
        | _ -> None)

/// The events of one client that the script saw, in order.
let private clientEvents client events =
    events
    |> List.filter (function
        | Event.WebSocketConnect(_, c)
        | Event.WebSocketMessage(c, _, _)
        | Event.WebSocketClosed(c, _, _) -> c = client
        | _ -> false)

let private acceptedClients steps =
    effects steps
    |> List.choose (function
        | Effect.Accept(_, c) -> Some c
        | _ -> None)

let private fetchesAsked (steps: Step list) =
    steps
    |> List.choose (fun s ->
        match s.Input with
        | Input.Fetch(f, check) when not s.Before.Stopped -> Some(f, check)
        | _ -> None)

let private outboundClients steps =
    effects steps
    |> List.choose (function
        | Effect.Reply(Reply.SocketStarted c) -> Some c
        | _ -> None)

/// The events of one client WebSocket the script opened, in order.
let private socketEvents client events =
    events
    |> List.filter (function
        | Event.SocketOpened c
        | Event.SocketFailed(c, _)
        | Event.WebSocketMessage(c, _, _)
        | Event.WebSocketClosed(c, _, _) -> c = client
        | _ -> false)

/// The state a scenario leaves the core in, without the final shutdown.
let private stateAfter scenario =
    match runWith false false scenario with
    | [] -> Core.initial scenario.Limits
    | steps -> (List.last steps).After

let private noShutdown scenario =
    { scenario with
        Commands = scenario.Commands |> List.filter ((<>) Shutdown)
    }

let clientProperties =
    testList
        "core properties: outbound requests and client WebSockets"
        [
            property "one completion event per request: delivered once, or abandoned at shutdown, never both"
            <| fun scenario ->
                let steps = runWith true true scenario
                let fx = effects steps

                for f, _ in fetchesAsked steps do
                    let deliveredCount =
                        fx |> List.filter ((=) (Effect.Deliver(Event.Fetched f))) |> List.length

                    let started = fx |> List.filter ((=) (Effect.StartFetch f)) |> List.length
                    let abandoned = List.contains (Effect.AbandonFetch f) fx
                    Expect.isLessThanOrEqual deliveredCount 1 $"fetch {f} completed twice"
                    Expect.isLessThanOrEqual started 1 $"fetch {f} started twice"
                    Expect.isFalse (deliveredCount = 1 && abandoned) $"fetch {f} delivered and abandoned"

                    let completed =
                        steps
                        |> List.exists (fun s -> s.Input = Input.FetchCompleted f && not s.Before.Stopped)

                    if completed then
                        Expect.isTrue (deliveredCount = 1 || abandoned) $"fetch {f} completed but never told"

            property "without shutdown, every request the world completes is delivered exactly once"
            <| fun scenario ->
                let steps = runWith true false (noShutdown scenario)
                let events = delivered steps

                for f, _ in fetchesAsked steps do
                    let completed = steps |> List.exists (fun s -> s.Input = Input.FetchCompleted f)

                    let count = events |> List.filter ((=) (Event.Fetched f)) |> List.length
                    Expect.equal count (if completed then 1 else 0) $"fetch {f} delivered {count} times"

            property "limits never exceeded: running requests, open client WebSockets"
            <| fun scenario ->
                for step in run scenario do
                    let s = step.After
                    Expect.isLessThanOrEqual s.Fetching.Count s.Limits.MaxFetches "too many requests running"
                    Expect.equal s.FetchingCount s.Fetching.Count "the running count is not the running requests"
                    Expect.isLessThanOrEqual s.Sockets s.Limits.MaxClientSockets "too many client sockets"

                    let outbound = s.Clients |> Map.filter (fun _ c -> c.Outbound) |> Map.count

                    Expect.equal s.Sockets outbound "the socket count is not the outbound clients"

                    if s.Fetching.Count < s.Limits.MaxFetches then
                        Expect.isTrue s.FetchWaiting.IsEmpty "a request waits while there is room"

                    if step.Input = Input.OpenSocket && not step.Before.Stopped then
                        let refused = List.contains (Effect.Reply Reply.TooManySockets) step.Effects
                        Expect.equal refused (step.Before.Sockets >= s.Limits.MaxClientSockets) "refused with room"

            property "requests that wait start in the order they were made"
            <| fun scenario ->
                let steps = run scenario

                let asked = fetchesAsked steps |> List.filter (snd >> not) |> List.map fst

                let started =
                    effects steps
                    |> List.choose (function
                        | Effect.StartFetch f when List.contains f asked -> Some f
                        | _ -> None)

                Expect.equal started (List.take started.Length asked) "requests started out of order"

            property "per client WebSocket: success, then messages in order, then closed once; or one failure"
            <| fun scenario ->
                let steps = runWith true false (noShutdown scenario)
                let events = delivered steps

                for client in outboundClients steps do
                    let seen = socketEvents client events

                    let arrived =
                        steps
                        |> List.choose (fun s ->
                            match s.Input with
                            | Input.MessageArrived(c, data, _) when c = client && Core.isOpen c s.Before -> Some data
                            | _ -> None)

                    match seen with
                    | [] ->
                        Expect.isTrue
                            (Map.tryFind client (List.last steps).After.Clients
                             |> Option.exists (fun c -> c.Stage = ClientStage.Connecting))
                            "no event, yet not connecting"
                    | [ Event.SocketFailed _ ] -> Expect.isEmpty arrived "messages on a failed socket"
                    | Event.SocketOpened _ :: rest ->
                        let messages =
                            rest
                            |> List.choose (function
                                | Event.WebSocketMessage(_, d, _) -> Some d
                                | _ -> None)

                        Expect.equal messages arrived "messages out of order, lost or invented"

                        match List.skip messages.Length rest with
                        | []
                        | [ Event.WebSocketClosed _ ] -> ()
                        | tail -> failtest $"after the messages: {tail}"
                    | other -> failtest $"client socket {client}: {other}"

            property "nothing is started, connected or delivered after shutdown"
            <| fun scenario ->
                for step in run scenario do
                    if step.Before.Stopped then
                        for e in step.Effects do
                            match e with
                            | Effect.StartFetch _
                            | Effect.Connect _
                            | Effect.Deliver _ -> failtest $"{e} after shutdown ({step.Input})"
                            | _ -> ()

            property "shutdown abandons every request and closes every client WebSocket, connecting or open"
            <| fun scenario ->
                let s = stateAfter scenario
                let after, fx = Core.step Input.Shutdown s

                if not s.Stopped then
                    for f in Set.toList s.Fetching @ Set.toList s.Checking @ Fifo.toList s.FetchWaiting do
                        Expect.contains fx (Effect.AbandonFetch f) "request not abandoned"

                    for KeyValue(c, client) in s.Clients do
                        if client.Outbound && client.Stage <> ClientStage.Closing then
                            Expect.contains fx (Effect.Close(c, 1001, "Going away")) "client socket not closed"

                Expect.isEmpty after.Fetching "requests remain"
                Expect.isTrue after.FetchWaiting.IsEmpty "waiting requests remain"
                Expect.equal after.Sockets 0 "client sockets remain"
        ]

let properties =
    testList
        "core properties"
        [
            property "every accepted request gets exactly one answer, and none is left after shutdown"
            <| fun scenario ->
                let steps = run scenario
                let answers = answersOf steps |> List.countBy fst |> Map.ofList

                for id in arrivals steps do
                    let count = Map.tryFind id answers |> Option.defaultValue 0
                    Expect.equal count 1 $"request {id} answered {count} times"

                Expect.isEmpty (List.last steps).After.Requests "requests left after shutdown"

            property "no http_request for a port is delivered after removeListener; its queued requests get 503"
            <| fun scenario ->
                let steps = runWith true false scenario

                steps
                |> List.fold
                    (fun (listening: Set<Port>) step ->
                        match step.Input with
                        | Input.RemoveListener p when step.Before.Listeners.Contains p ->
                            let waiting =
                                step.Before.Requests
                                |> Map.filter (fun _ r -> r.Port = p && r.Stage <> RequestStage.Held)

                            for KeyValue(id, _) in waiting do
                                Expect.contains
                                    step.Effects
                                    (Effect.Answer(id, Answer.Unavailable))
                                    "queued request not answered 503"

                            Set.remove p listening
                        | _ ->
                            for e in step.Effects do
                                match e with
                                | Effect.Deliver(Event.HttpRequest(p, _)) ->
                                    Expect.isTrue (listening.Contains p) $"http_request delivered for removed port {p}"
                                | _ -> ()

                            step.After.Listeners)
                    Set.empty
                |> ignore

            property "per client: connect, then its messages in arrival order, then exactly one closed"
            <| fun scenario ->
                // Shutdown ends every event, so this one looks at runs that drain instead.
                let scenario =
                    { scenario with
                        Commands = scenario.Commands |> List.filter ((<>) Shutdown)
                    }

                let steps = runWith true false scenario
                let events = delivered steps

                for client in acceptedClients steps do
                    let seen = clientEvents client events

                    let arrived =
                        steps
                        |> List.choose (fun s ->
                            match s.Input with
                            | Input.MessageArrived(c, data, _) when c = client && Core.isOpen c s.Before -> Some data
                            | _ -> None)

                    let closedByEither =
                        steps
                        |> List.exists (fun s ->
                            match s.Input with
                            | Input.ClientClosed(c, _, _)
                            | Input.CloseClient(c, _, _) -> c = client && Core.isOpen c s.Before
                            | _ -> false)

                    match seen with
                    | Event.WebSocketConnect _ :: rest ->
                        let messages, tail =
                            rest
                            |> List.partition (function
                                | Event.WebSocketMessage _ -> true
                                | _ -> false)

                        let messageData =
                            messages
                            |> List.map (function
                                | Event.WebSocketMessage(_, d, _) -> d
                                | _ -> [||])

                        Expect.equal messageData arrived "messages out of order, lost or invented"
                        Expect.isTrue (List.take messages.Length rest = messages) "a message after closed"

                        match tail with
                        | [] -> Expect.isFalse closedByEither "closed but no closed event"
                        | [ Event.WebSocketClosed _ ] -> Expect.isTrue closedByEither "closed event without a close"
                        | _ -> failtest $"more than one closed event: {tail}"
                    | other -> failtest $"client {client}: first event is not connect: {other}"

            property "remove, close and shutdown are idempotent: twice equals once"
            <| fun scenario ->
                let steps =
                    run
                        { scenario with
                            Commands = scenario.Commands
                        }

                for step in steps do
                    let s = step.Before

                    let inputs =
                        [
                            for p in [ 0; 1; 2; 3 ] do
                                Input.RemoveListener p
                                Input.CloseWebSocketServer p
                            for KeyValue(id, _) in s.Requests do
                                Input.CloseResponse id
                            for KeyValue(c, _) in s.Clients do
                                Input.CloseClient(c, 1000, "")
                            Input.Shutdown
                        ]

                    for input in inputs do
                        let once, _ = Core.step input s
                        let twice, again = Core.step input once
                        Expect.equal twice once $"{input} changed the state a second time"

                        let extra =
                            again
                            |> List.filter (function
                                | Effect.Reply Reply.Done -> false
                                | _ -> true)

                        Expect.isEmpty extra $"{input} had effects a second time"

            property "the queue never exceeds its cap; script events beyond it are dropped and counted"
            <| fun scenario ->
                for step in run scenario do
                    let s = step.After
                    Expect.isLessThanOrEqual s.Queue.Count s.Limits.QueueCapacity "queue over its cap"
                    Expect.isLessThanOrEqual s.Backlog s.Limits.BacklogCapacity "backlog over its cap"

                    if not s.Inbound.IsEmpty then
                        Expect.equal s.Queue.Count s.Limits.QueueCapacity "events wait inbound while the queue has room"

                    match step.Input with
                    | Input.QueueEvent(_, payload, Origin.Script) when not step.Before.Stopped ->
                        let dropped = s.Dropped - step.Before.Dropped
                        let discarded = List.contains (Effect.Discard payload) step.Effects
                        Expect.equal (dropped = 1L) discarded "a drop is counted exactly when the payload is discarded"
                        Expect.equal discarded (step.Before.Queue.Count >= s.Limits.QueueCapacity) "dropped with room"
                    | Input.QueueEvent(_, payload, Origin.Host) when not step.Before.Stopped ->
                        Expect.isFalse (List.contains (Effect.Discard payload) step.Effects) "a host event was dropped"
                    | Input.RequestArrived(id, _, _, _) ->
                        let kept = step.After.Requests.ContainsKey id

                        let answered =
                            step.Effects
                            |> List.exists (function
                                | Effect.Answer(r, _)
                                | Effect.Accept(r, _) -> r = id
                                | _ -> false)

                        Expect.isTrue (kept <> answered) "a request neither kept nor answered (or both)"
                    | _ -> ()

            property "a removed port can be listened on again; a shared port is released only when both are gone"
            <| fun scenario ->
                for step in run scenario do
                    let s = step.After

                    Expect.equal
                        s.Bound
                        (Set.union s.Listeners s.WebSocketServers)
                        "bound ports are exactly the used ones"

                    for e in step.Effects do
                        match e with
                        | Effect.Release p ->
                            Expect.isFalse
                                (s.Listeners.Contains p || s.WebSocketServers.Contains p)
                                "released a used port"
                        | _ -> ()

                    if not s.Stopped then
                        for p in [ 1; 2; 3 ] do
                            if not (s.Bound.Contains p) then
                                let _, fx = Core.step (Input.AddListener p) s
                                Expect.equal fx [ Effect.Bind p ] $"port {p} not bindable again"

            property "shutdown answers every pending request, closes every client and releases every port"
            <| fun scenario ->
                let s = stateAfter scenario
                let after, fx = Core.step Input.Shutdown s

                if not s.Stopped then
                    for KeyValue(id, _) in s.Requests do
                        Expect.contains fx (Effect.Answer(id, Answer.Unavailable)) "pending request not answered"

                    for KeyValue(c, client) in s.Clients do
                        if client.Stage = ClientStage.Open then
                            Expect.contains fx (Effect.Close(c, 1001, "Going away")) "client not closed with 1001"

                    for p in s.Bound do
                        Expect.contains fx (Effect.Release p) "port not released"

                Expect.isTrue after.Stopped "not stopped"
                Expect.isEmpty after.Requests "requests remain"
                Expect.isEmpty after.Bound "ports remain"
                Expect.equal after.Queue.Count 0 "events remain"

            property "events are delivered in the order they entered the queue"
            <| fun scenario ->
                for step in run scenario do
                    let pending (s: State) =
                        Fifo.toList s.Queue @ Fifo.toList s.Inbound

                    let withdrawn =
                        step.Effects
                        |> List.choose (function
                            | Effect.Answer(id, _) -> Some id
                            | _ -> None)
                        |> Set.ofList

                    let before =
                        pending step.Before
                        |> List.filter (function
                            | Event.HttpRequest(_, id) -> not (withdrawn.Contains id)
                            | _ -> true)

                    let deliveredNow =
                        step.Effects
                        |> List.choose (function
                            | Effect.Deliver e -> Some e
                            | _ -> None)

                    let now = deliveredNow @ pending step.After

                    if not step.After.Stopped then
                        Expect.isLessThanOrEqual before.Length now.Length "events vanished"
                        Expect.equal (List.take before.Length now) before "events reordered"

            property "the fast paths agree with the general step"
            <| fun scenario ->
                for step in run scenario do
                    let s = step.Before
                    let known = s.Requests |> Seq.map (fun (KeyValue(id, _)) -> id) |> List.ofSeq
                    let fresh = (List.fold max 0L known) + 1_000L
                    let deadline = s.Limits.ResponseDeadline

                    let arrivals =
                        [
                            for port in List.truncate 2 (Set.toList s.Listeners) @ [ 65_000 ] do
                                Input.RequestArrived(fresh, port, false, s.Now)
                                Input.RequestArrived(fresh, port, false, s.Now - 1L)
                                Input.RequestArrived(fresh, port, false, s.Now - deadline)
                                Input.RequestArrived(fresh, port, true, s.Now)

                            for id in List.truncate 2 known do
                                Input.RequestArrived(id, s.Requests[id].Port, false, s.Now)
                        ]

                    let inputs =
                        [
                            Input.PullEvent
                            Input.QueueEvent("e", 999_999L, Origin.Script)
                            for dt in [ -5L; 0L; deadline ] do
                                Input.Tick(s.Now + dt)
                            for id in fresh :: List.truncate 3 known do
                                Input.CloseResponse id
                        ]
                        @ arrivals

                    for input in inputs do
                        let fast, general = Core.step input s, Core.stepGeneral input s

                        // (The message only when they differ: printing an input costs more than the check.)
                        if fast <> general then
                            Expect.equal fast general $"{input} differs"

            property "every pending request's deadline is where the clock will find it, and stale entries stay bounded"
            <| fun scenario ->
                for step in run scenario do
                    let s = step.After
                    let deadlines = Fifo.toList s.Deadlines

                    let stands (struct (at, id)) =
                        match Map.tryFind id s.Requests with
                        | Some r -> r.Deadline = at && r.Stage <> RequestStage.Backlog
                        | None -> false

                    for KeyValue(id, r) in s.Requests do
                        let inAgenda =
                            Set.contains
                                {
                                    At = r.Deadline
                                    What = Due.Request id
                                }
                                s.Agenda

                        let inQueue = List.contains (struct (r.Deadline, id)) deadlines

                        if r.Stage = RequestStage.Backlog then
                            Expect.isTrue (inAgenda && not inQueue) $"backlogged request {id}: in the agenda only"
                        else
                            Expect.isTrue (inQueue && not inAgenda) $"request {id} ({r.Stage}): in the deadlines only"

                    let times = deadlines |> List.map (fun (struct (at, _)) -> at)
                    Expect.equal times (List.sort times) "deadlines in order of time"

                    match deadlines with
                    | first :: _ -> Expect.isTrue (stands first) "the first deadline is not stale"
                    | [] -> ()

                    let stale = deadlines |> List.filter (stands >> not) |> List.length

                    if stale > 2 * s.DeadlinesKept + 64 then
                        failwith $"{stale} stale deadlines, {s.DeadlinesKept} kept"

            property "client ids are unique for the computer's lifetime"
            <| fun scenario ->
                let ids = acceptedClients (run scenario)
                Expect.equal (List.distinct ids) ids "a client id was reused"
                Expect.equal (List.sort ids) ids "client ids not increasing"
        ]

// ---- Examples: one per rule of SPEC that the core decides. ----

let private stepAll inputs state =
    inputs
    |> List.fold
        (fun (s, fx) input ->
            let s', fx' = Core.step input s
            s', fx @ fx')
        (state, [])

let private start = Core.initial Limits.defaults

let private listening port =
    fst (stepAll [ Input.AddListener port; Input.BindSucceeded(port, port) ] start)

let examples =
    testList
        "core examples"
        [
            test "addListener binds, then replies with the bound port" {
                let s, fx = Core.step (Input.AddListener 8080) start
                Expect.equal fx [ Effect.Bind 8080 ] "bind first"
                let s, fx = Core.step (Input.BindSucceeded(8080, 8080)) s
                Expect.equal fx [ Effect.Reply(Reply.Listening 8080) ] "then the port"
                Expect.isTrue (s.Bound.Contains 8080) "bound"
            }

            test "port 0 replies with the port the system chose" {
                let _, fx = stepAll [ Input.AddListener 0; Input.BindSucceeded(0, 41234) ] start
                Expect.contains fx (Effect.Reply(Reply.Listening 41234)) "chosen port"
            }

            test "a port already listened on: nothing changes" {
                let s = listening 8080
                let s2, fx = Core.step (Input.AddListener 8080) s
                Expect.equal fx [ Effect.Reply(Reply.Listening 8080) ] "no new bind"
                Expect.equal s2 s "same state"
            }

            test "a failed bind is a reply, not an exception" {
                let _, fx =
                    stepAll [ Input.AddListener 80; Input.BindFailed(80, "Permission denied") ] start

                Expect.contains fx (Effect.Reply(Reply.CouldNotOpen "Permission denied")) "reason"
            }

            test "a second WebSocket server on a port: port in use" {
                let s, _ =
                    stepAll [ Input.OpenWebSocketServer 9000; Input.BindSucceeded(9000, 9000) ] start

                let _, fx = Core.step (Input.OpenWebSocketServer 9000) s
                Expect.equal fx [ Effect.Reply Reply.PortInUse ] "in use"
            }

            test "HTTP and WebSocket share one port: upgrades to the server, the rest to the listener" {
                let s, fx = stepAll [ Input.OpenWebSocketServer 8080 ] (listening 8080)
                Expect.equal fx [ Effect.Reply(Reply.ServerOpened 8080) ] "no second bind"

                let s, fx =
                    stepAll
                        [
                            Input.RequestArrived(1L, 8080, true, 0L)
                            Input.RequestArrived(2L, 8080, false, 0L)
                        ]
                        s

                Expect.contains fx (Effect.Accept(1L, 1L)) "upgrade accepted"
                Expect.isTrue (s.Requests.ContainsKey 2L) "plain request to the listener"
                let s, fx = Core.step (Input.RemoveListener 8080) s
                Expect.isFalse (List.contains (Effect.Release 8080) fx) "still used by the server"
                let _, fx = Core.step (Input.CloseWebSocketServer 8080) s
                Expect.contains fx (Effect.Release 8080) "released when both are gone"
            }

            test "a plain request to a WebSocket-only port: 426" {
                let s, _ =
                    stepAll [ Input.OpenWebSocketServer 9000; Input.BindSucceeded(9000, 9000) ] start

                let _, fx = Core.step (Input.RequestArrived(7L, 9000, false, 0L)) s
                Expect.equal fx [ Effect.Answer(7L, Answer.UpgradeRequired) ] "426"
            }

            test "a request to a port nobody listens on: 503" {
                let _, fx = Core.step (Input.RequestArrived(7L, 1234, false, 0L)) start
                Expect.equal fx [ Effect.Answer(7L, Answer.Unavailable) ] "503"
            }

            test "a request is delivered to a waiting script and answered with the script's response" {
                let s, fx =
                    stepAll [ Input.PullEvent; Input.RequestArrived(5L, 8080, false, 0L) ] (listening 8080)

                Expect.equal fx [ Effect.Deliver(Event.HttpRequest(8080, 5L)) ] "delivered at once"
                let _, fx = Core.step (Input.CloseResponse 5L) s
                Expect.equal fx [ Effect.Answer(5L, Answer.Scripted) ] "the script's answer"
            }

            test "the deadline sends the buffered response of a held request, counted from queueing" {
                let s, _ =
                    stepAll
                        [
                            Input.Tick 1000L
                            Input.RequestArrived(5L, 8080, false, 1000L)
                            Input.PullEvent
                        ]
                        (listening 8080)

                let s, fx = Core.step (Input.Tick 15_999L) s
                Expect.isEmpty fx "not yet"
                let s, fx = Core.step (Input.Tick 16_000L) s
                Expect.equal fx [ Effect.Answer(5L, Answer.Deadline) ] "deadline"
                let _, fx = Core.step (Input.CloseResponse 5L) s
                Expect.isEmpty fx "closing afterwards changes nothing"
            }

            test "a request read before its deadline passed but heard of after it gets 503 at once" {
                let s, _ = stepAll [ Input.Tick 20_000L ] (listening 8080)
                let s, fx = Core.step (Input.RequestArrived(5L, 8080, false, 4_000L)) s
                Expect.equal fx [ Effect.Answer(5L, Answer.Unavailable) ] "expired while the computer was busy"
                Expect.isFalse (Core.isPending 5L s) "not kept"
            }

            test "a request's wait in the backlog counts from when the shell read it" {
                let limits =
                    { Limits.defaults with
                        QueueCapacity = 1
                        ResponseDeadline = 1_000L
                    }

                let s, _ =
                    stepAll
                        [
                            Input.AddListener 80
                            Input.BindSucceeded(80, 80)
                            Input.Tick 500L
                            Input.RequestArrived(1L, 80, false, 500L)
                            Input.RequestArrived(2L, 80, false, 100L)
                        ]
                        (Core.initial limits)

                let _, fx = Core.step (Input.Tick 1_100L) s
                Expect.equal fx [ Effect.Answer(2L, Answer.Unavailable) ] "read at 100, so due at 1,100"
            }

            test "flush restarts the deadline, so a stream is limited by idle time" {
                let s, _ =
                    stepAll [ Input.RequestArrived(5L, 8080, false, 0L); Input.PullEvent ] (listening 8080)

                let s, fx =
                    stepAll [ Input.Tick 10_000L; Input.FlushResponse 5L; Input.Tick 20_000L ] s

                Expect.equal fx [ Effect.Flush 5L; Effect.Reply Reply.Done ] "streaming, not cut"
                let _, fx = Core.step (Input.Tick 25_000L) s
                Expect.equal fx [ Effect.Answer(5L, Answer.Deadline) ] "idle too long"
            }

            test "overload: requests wait in the backlog, then 503; they enter the queue as it drains" {
                let limits =
                    { Limits.defaults with
                        QueueCapacity = 1
                        BacklogCapacity = 1
                    }

                let s, _ =
                    stepAll [ Input.AddListener 80; Input.BindSucceeded(80, 80) ] (Core.initial limits)

                let s, fx =
                    stepAll [ for i in 1L .. 3L -> Input.RequestArrived(i, 80, false, 0L) ] s

                Expect.equal fx [ Effect.Answer(3L, Answer.Unavailable) ] "third refused"
                Expect.equal s.Requests[2L].Stage RequestStage.Backlog "second waits"
                let s, fx = Core.step Input.PullEvent s
                Expect.equal fx [ Effect.Deliver(Event.HttpRequest(80, 1L)) ] "first delivered"
                Expect.equal s.Requests[2L].Stage RequestStage.Queued "second entered the queue"
            }

            test "a request whose deadline passes while waiting gets 503 and its event disappears" {
                let s, _ = stepAll [ Input.RequestArrived(1L, 80, false, 0L) ] (listening 80)
                let s, fx = Core.step (Input.Tick 15_000L) s
                Expect.equal fx [ Effect.Answer(1L, Answer.Unavailable) ] "503"
                Expect.equal s.Queue.Count 0 "event removed"
            }

            test "removeListener answers queued requests 503; held ones can still be answered" {
                let s, _ =
                    stepAll
                        [
                            Input.RequestArrived(1L, 80, false, 0L)
                            Input.PullEvent
                            Input.RequestArrived(2L, 80, false, 0L)
                        ]
                        (listening 80)

                let s, fx = Core.step (Input.RemoveListener 80) s

                Expect.equal
                    fx
                    [ Effect.Answer(2L, Answer.Unavailable); Effect.Release 80 ]
                    "queued one 503, port released"

                let _, fx = Core.step (Input.CloseResponse 1L) s
                Expect.equal fx [ Effect.Answer(1L, Answer.Scripted) ] "held one still answered"
            }

            test "script events beyond the cap are dropped; network events wait" {
                let limits =
                    { Limits.defaults with
                        QueueCapacity = 2
                    }

                let s, fx =
                    stepAll [ for i in 1L .. 3L -> Input.QueueEvent("e", i, Origin.Script) ] (Core.initial limits)

                Expect.equal fx [ Effect.Discard 3L ] "third dropped"
                Expect.equal s.Dropped 1L "counted"
                let s, fx = Core.step Input.Terminate s
                Expect.isEmpty fx "terminate waits"
                Expect.equal s.Inbound.Count 1 "in the backlog"
            }

            test "timers fire in due order, and a cancelled one never" {
                let s, fx =
                    stepAll [ Input.StartTimer 30L; Input.StartTimer 10L; Input.StartTimer 20L ] start

                Expect.equal (Core.nextWake s) (Some 10L) "wake for the earliest"
                let s, _ = stepAll [ Input.CancelTimer 3 ] s
                let s, _ = Core.step (Input.Tick 100L) s
                let _, fx = stepAll [ Input.PullEvent; Input.PullEvent; Input.PullEvent ] s
                Expect.equal fx [ Effect.Deliver(Event.Timer 2); Effect.Deliver(Event.Timer 1) ] "order by due time"
            }

            test "send: closed handle and oversized messages are replies" {
                let s, _ =
                    stepAll
                        [
                            Input.OpenWebSocketServer 90
                            Input.BindSucceeded(90, 90)
                            Input.RequestArrived(1L, 90, true, 0L)
                        ]
                        start

                let _, fx = Core.step (Input.Send(1L, Array.zeroCreate (128 * 1024 + 1), true)) s
                Expect.equal fx [ Effect.Reply Reply.MessageTooLarge ] "too large"
                let _, fx = Core.step (Input.Send(1L, Array.zeroCreate (128 * 1024), true)) s
                Expect.equal (List.last fx) (Effect.Reply Reply.Sent) "at the limit"
                let s, _ = Core.step (Input.CloseClient(1L, 1000, "")) s
                let _, fx = Core.step (Input.Send(1L, [| 1uy |], false)) s
                Expect.equal fx [ Effect.Reply Reply.HandleClosed ] "closed"
            }

            test "a local close queues the closed event with the local code; the peer's later close adds nothing" {
                let s, _ =
                    stepAll
                        [
                            Input.OpenWebSocketServer 90
                            Input.BindSucceeded(90, 90)
                            Input.RequestArrived(1L, 90, true, 0L)
                        ]
                        start

                let s, fx = Core.step (Input.CloseClient(1L, 4000, "done")) s
                Expect.contains fx (Effect.Close(1L, 4000, "done")) "close frame"
                let s, fx = Core.step (Input.ClientClosed(1L, Some 4000, Some "done")) s
                Expect.isEmpty fx "nothing more"

                let _, fx = stepAll [ Input.PullEvent; Input.PullEvent; Input.PullEvent ] s

                Expect.equal
                    fx
                    [
                        Effect.Deliver(Event.WebSocketConnect(90, 1L))
                        Effect.Deliver(Event.WebSocketClosed(1L, Some "done", Some 4000))
                    ]
                    "connect, closed"
            }

            test "backpressure: a message that finds the queue full waits and the client is not read" {
                let limits =
                    { Limits.defaults with
                        QueueCapacity = 1
                    }

                let s, _ =
                    stepAll
                        [
                            Input.OpenWebSocketServer 90
                            Input.BindSucceeded(90, 90)
                            Input.RequestArrived(1L, 90, true, 0L)
                        ]
                        (Core.initial limits)

                let s, fx = Core.step (Input.MessageArrived(1L, [| 7uy |], true)) s
                Expect.isEmpty fx "no ResumeReading while the queue is full"
                let _, fx = Core.step Input.PullEvent s

                Expect.equal
                    fx
                    [ Effect.Deliver(Event.WebSocketConnect(90, 1L)); Effect.ResumeReading 1L ]
                    "resumes once the message is in the queue"
            }

            test "shutdown: 503 for waiting requests, 1001 for clients, ports released" {
                let s, _ =
                    stepAll
                        [
                            Input.OpenWebSocketServer 80
                            Input.RequestArrived(1L, 80, false, 0L)
                            Input.RequestArrived(2L, 80, true, 0L)
                        ]
                        (listening 80)

                let s, fx = Core.step Input.Shutdown s

                Expect.equal
                    fx
                    [
                        Effect.Answer(1L, Answer.Unavailable)
                        Effect.Close(1L, 1001, "Going away")
                        Effect.Release 80
                    ]
                    "everything closed"

                let _, fx = Core.step (Input.RequestArrived(3L, 80, false, 0L)) s
                Expect.equal fx [ Effect.Answer(3L, Answer.Unavailable) ] "later requests 503"
            }
        ]

let tests = testList "core" [ properties; clientProperties; examples ]
