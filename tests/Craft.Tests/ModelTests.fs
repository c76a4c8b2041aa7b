/// A model-based test of the real server: random sequences of script commands and client actions
/// run against a real `Computer` (the driver script `lua/model/driver.lua`) with real clients over
/// loopback, while the pure core (`Core.step`) is driven with the same inputs in the same order.
/// This file plays the shell's part for the model: it feeds the core what the world reports, and
/// reads from the model's effects what each client and the script must see next.
module Craft.Tests.ModelTests

open System
open System.Collections.Generic
open System.IO
open System.Net.Sockets
open System.Net.WebSockets
open System.Text
open System.Threading
open System.Threading.Tasks
open Craft
open Craft.Interop
open Craft.Tests.ScriptHost
open Craft.Tests.HttpHelpers
open Expecto
open FsCheck
open FsCheck.FSharp

/// Body and message sizes: each crosses a frame-length encoding or a buffer.
type Size =
    | Empty
    | Small
    | Medium
    | Large

let private bytesIn size =
    match size with
    | Empty -> 0
    | Small -> 100
    | Medium -> 5000
    | Large -> 70000

/// One step of a run. Picks are indices (modulo the count) into what exists when the step runs:
/// ports bound so far, requests the script holds, WebSocket clients; a step that finds nothing to
/// act on is skipped (and says so in the log).
type Action =
    /// `http.addListener`: on port 0 when `fresh`, else on a port already used in this run.
    | Listen of fresh: bool * pick: int
    | Unlisten of pick: int
    | OpenServer of fresh: bool * pick: int
    | CloseServer of pick: int
    /// A client's GET on its own connection.
    | Get of pick: int
    /// A client's POST with a body.
    | Post of pick: int * Size
    /// A client sends half a request body and resets the connection.
    | AbortMidBody of pick: int
    /// The client of a request the script holds resets its connection.
    | AbortHeld of pick: int
    /// The script answers a held request.
    | Answer of pick: int * status: int * Size
    /// A handler run by `pcall` raises with a held request.
    | Fail of pick: int
    /// A WebSocket client connects.
    | Connect of pick: int
    /// A client sends a text message.
    | ClientSend of pick: int * Size
    /// A client closes (1000).
    | ClientClose of pick: int
    /// The script sends to a client (which may be closed).
    | ScriptSend of pick: int * Size
    /// The script closes a client.
    | ScriptClose of pick: int * code: int
    /// The script blocks in `read()`: the computer takes no events until `Resume`.
    | Block
    | Resume
    /// `os.shutdown()`.
    | Shutdown

/// What a client got for one HTTP request.
type Outcome =
    | Refused
    | Responded of status: int * bodyLength: int
    /// The connection ended without a whole response.
    | Broken of string

/// What the model says a request's client must get.
type private Expected =
    /// Nothing listened on the port (the model): refused, or 503 from a socket on its way out.
    | RefusedOr503
    | Model

type private Req =
    {
        Id: RequestId
        Port: Port
        Method: string
        BodyLength: int
        Connection: RawConnection option
        Outcome: Task<Outcome>
        Expected: Expected
        mutable Scripted: (int * int) option
        mutable ClientAborted: bool
        mutable Verified: bool
    }

type private Peer =
    {
        Model: ClientId
        Socket: ClientWebSocket
        Received: ResizeArray<byte array>
        /// The close the client saw: code (None without one) and reason.
        Closed: TaskCompletionSource<int option * string>
        mutable ClosedByClient: bool
        mutable CloseVerified: bool
    }

let private waitFor = TimeSpan.FromSeconds 10.0

/// A failure inside a run: the test prints the sequence with it.
exception ModelMismatch of string

let private mismatch fmt =
    Printf.kprintf (fun s -> raise (ModelMismatch s)) fmt

let private awaitOr (what: string) (t: Task<'T>) =
    if t.Wait waitFor then
        t.Result
    else
        mismatch "timed out waiting for %s" what

let private until (what: string) (condition: unit -> bool) =
    let deadline = DateTime.UtcNow + waitFor

    while not (condition ()) do
        if DateTime.UtcNow > deadline then
            mismatch "timed out waiting for %s" what

        Thread.Sleep 5

let private isEventLine (line: string) =
    [ "req "; "connect "; "msg "; "closed "; "event " ]
    |> List.exists (fun p -> line.StartsWith p)

/// Requests that reach the computer while it is blocked are posted by Kestrel's threads in an
/// order the test does not control: within a run of consecutive `req` lines, order is not checked.
let private normalise (lines: string list) =
    let rec go acc run rest =
        let flush acc = (run |> List.sort |> List.rev) @ acc

        match rest with
        | [] -> List.rev (flush acc)
        | (l: string) :: tail when l.StartsWith "req " -> go acc (l :: run) tail
        | l :: tail -> go (l :: flush acc) [] tail

    go [] [] lines

/// One run: the real computer, its clients, and the model beside them.
type private Run(running: Running, log: ResizeArray<string>) =
    // ---- The model and the shell's part for it ----
    let mutable model = Core.initial Limits.defaults
    let mailbox = Queue<Input>()
    let pendingDeliveries = Queue<Event>()
    let delivered = ResizeArray<Event>()
    let answers = Dictionary<RequestId, Answer>()
    let accepts = Dictionary<RequestId, ClientId>()
    let sends = Dictionary<ClientId, ResizeArray<byte array>>()
    let closes = Dictionary<ClientId, int>()
    let binds = ResizeArray<Port>()
    let mutable reply: Reply option = None
    let mutable blocked = false
    let mutable stopped = false
    let actions = Dictionary<PayloadId, unit -> unit>()

    // ---- The real side ----
    let known = ResizeArray<Port>()
    let requests = Dictionary<RequestId, Req>()
    let peers = Dictionary<ClientId, Peer>()
    let names = Dictionary<ClientId, int>()
    let mutable nextRequest = 0L
    let mutable seq = 0

    let sendsTo client =
        match sends.TryGetValue client with
        | true, l -> l
        | _ ->
            let l = ResizeArray()
            sends[client] <- l
            l

    let apply (input: Input) =
        let s, effects = Core.step input model
        model <- s

        for e in effects do
            match e with
            | Effect.Deliver ev -> pendingDeliveries.Enqueue ev
            | Effect.Answer(id, a) ->
                if answers.ContainsKey id then
                    mismatch "the model answered request %d twice" id

                answers[id] <- a
            | Effect.Accept(id, c) -> accepts[id] <- c
            | Effect.Send(c, data, _) -> (sendsTo c).Add data
            | Effect.Close(c, code, _) -> closes[c] <- code
            | Effect.Reply r -> reply <- Some r
            | Effect.Bind p -> binds.Add p
            | _ -> ()

    let drain () =
        while mailbox.Count > 0 do
            apply (mailbox.Dequeue())

    /// The script asks for its next event (as `Computer.NextEvent` does).
    let pullEvent () =
        if not blocked && not stopped then
            if not model.Queue.IsEmpty && mailbox.Count > 0 then
                drain ()

            apply Input.PullEvent

            while pendingDeliveries.Count = 0 && mailbox.Count > 0 do
                apply (mailbox.Dequeue())

    /// Hands delivered events to the (modelled) script, which reacts and pulls again.
    let pump () =
        while pendingDeliveries.Count > 0 do
            let ev = pendingDeliveries.Dequeue()

            if stopped then
                mismatch "the model delivered %A after shutdown" ev

            delivered.Add ev

            match ev with
            | Event.Custom("cmd", payload) -> actions[payload]()
            | _ -> ()

            pullEvent ()

    /// What the world reports: applied at once, or kept in the mailbox while the computer is blocked.
    let world (input: Input) =
        if blocked then
            mailbox.Enqueue input
        else
            apply input
            pump ()

    let ask input =
        reply <- None
        binds.Clear()
        apply input
        reply

    // ---- Rendering the model's events as the driver prints them ----

    let nameOf client =
        match names.TryGetValue client with
        | true, n -> n
        | _ ->
            let n = names.Count + 1
            names[client] <- n
            n

    let tagOf (data: byte array) =
        let text = latin1.GetString data
        let colon = text.IndexOf ':'
        if colon > 0 then text.Substring(0, colon) else "?"

    let render (ev: Event) =
        match ev with
        | Event.HttpRequest(port, id) ->
            let r = requests[id]
            Some $"req {port} /r{id} {r.Method} {r.BodyLength}"
        | Event.WebSocketConnect(port, c) -> Some $"connect {port} {nameOf c}"
        | Event.WebSocketMessage(c, data, _) -> Some $"msg {nameOf c} {tagOf data} {data.Length}"
        | Event.WebSocketClosed(c, reason, code) ->
            let code = code |> Option.map string |> Option.defaultValue "nil"
            let reason = defaultArg reason "nil"
            Some $"closed {nameOf c} {code} {reason}"
        | Event.Custom _ -> None
        | Event.Timer _ -> Some "event timer"
        | Event.Terminate -> Some "event terminate"
        // The model's scripts make no outbound requests or client sockets.
        | Event.Fetched _
        | Event.SocketOpened _
        | Event.SocketFailed _ -> None

    let expectedLines () =
        delivered |> Seq.choose render |> List.ofSeq

    let scriptLines () =
        running.Out.Lines |> List.filter isEventLine

    let note (text: string) = log.Add text

    // ---- Real commands ----

    /// Sends a command (as an event, or as a line while blocked) and waits for its `done` line.
    let command (words: obj list) =
        seq <- seq + 1
        let s = seq
        let prefix = $"done {s} "

        if blocked then
            running.Input.Send(String.Join(" ", (box s) :: words))
        else
            running.Computer.QueueEvent("cmd", List.toArray ((box s) :: words))

        let line =
            awaitOr $"'{prefix}...' ({running.Transcript})" (running.Out.WaitFor(fun l -> l.StartsWith prefix))

        s, line.Substring prefix.Length

    /// Runs a command on the real script, then the same in the model: `action` is what the
    /// modelled script does when it gets the command.
    let scripted (words: obj list) (action: string -> unit) =
        let s, result = command words

        if blocked then
            action result
        else
            actions[int64 s] <- (fun () -> action result)
            world (Input.QueueEvent("cmd", int64 s, Origin.Host))

        result

    let pickFrom (items: 'T list) pick =
        match items with
        | [] -> None
        | _ -> Some(List.item (pick % List.length items) items)

    let knownPort pick = pickFrom (List.ofSeq known) pick

    let held () =
        model.Requests
        |> Map.toList
        |> List.choose (fun (id, r) -> if r.Stage = RequestStage.Held then Some id else None)

    let bind (requested: Port) (result: string) =
        // The real bind's result is the world's: the model is told it, then must agree.
        let words = result.Split(' ', 2)

        if binds.Contains requested then
            match words with
            | [| _; p |] when words[0] = "listening" || words[0] = "server" ->
                reply <- None
                apply (Input.BindSucceeded(requested, int p))
            | _ ->
                reply <- None
                apply (Input.BindFailed(requested, result))

        let expected =
            match reply, words with
            | Some(Reply.Listening p), [| "listening"; q |]
            | Some(Reply.ServerOpened p), [| "server"; q |] when string p = q -> true
            | Some Reply.PortInUse, [| "error"; "Port already in use" |] -> true
            | Some(Reply.CouldNotOpen _), [| "error"; _ |] -> true
            | _ -> false

        if not expected then
            mismatch "the script got '%s'; the model replied %A" result reply

        match reply with
        | Some(Reply.Listening p)
        | Some(Reply.ServerOpened p) when not (known.Contains p) -> known.Add p
        | _ -> ()

    // ---- Clients ----

    let sendRequest (port: Port) (method: string) (body: byte array) (abortMidBody: bool) =
        nextRequest <- nextRequest + 1L
        let id = nextRequest

        let expected =
            if Set.contains port model.Bound then
                Model
            else
                RefusedOr503

        let connection =
            try
                Some((RawConnection.Open port).Result)
            with e when (e.GetBaseException() :? SocketException) ->
                None

        let outcome =
            match connection with
            | None -> Task.FromResult Refused
            | Some c when abortMidBody ->
                let head = requestBytes $"POST /r{id} HTTP/1.1" [ "Content-Length: 1000" ] [||]
                c.Send(Array.append head (Array.zeroCreate 10)).Wait()
                c.Abort()
                Task.FromResult(Broken "aborted by the client")
            | Some c ->
                let bytes = requestBytes $"{method} /r{id} HTTP/1.1" [] body

                task {
                    try
                        do! c.Send bytes
                        let! r = c.ReadResponse()
                        return Responded(r.Status, r.Body.Length)
                    with e ->
                        return Broken(e.GetBaseException().Message)
                }

        let r =
            {
                Id = id
                Port = port
                Method = method
                BodyLength = body.Length
                Connection = connection
                Outcome = outcome
                Expected = expected
                Scripted = None
                ClientAborted = abortMidBody
                Verified = abortMidBody
            }

        requests[id] <- r

        if abortMidBody then
            note $"  request /r{id}: sent half its body and reset"
        elif expected = Model then
            world (Input.RequestArrived(id, port, false, model.Now))

    let startReader (peer: Peer) =
        task {
            try
                let mutable go = true

                while go do
                    match! WsHelpers.receiveMessage peer.Socket with
                    | Choice1Of2(data, _) -> lock peer.Received (fun () -> peer.Received.Add data)
                    | Choice2Of2(status, reason) ->
                        peer.Closed.TrySetResult(
                            (status |> Option.ofNullable |> Option.map int),
                            (if isNull reason then "" else reason)
                        )
                        |> ignore

                        if peer.Socket.State = WebSocketState.CloseReceived then
                            do!
                                peer.Socket.CloseOutputAsync(
                                    WebSocketCloseStatus.NormalClosure,
                                    "",
                                    CancellationToken.None
                                )

                        go <- false
            with e ->
                peer.Closed.TrySetResult((None, "error: " + e.GetBaseException().Message))
                |> ignore
        }
        |> ignore

    let connect (port: Port) =
        nextRequest <- nextRequest + 1L
        let id = nextRequest
        let accepted = Set.contains port model.WebSocketServers
        let socket = new ClientWebSocket()

        let connected =
            try
                use cts = new CancellationTokenSource(waitFor)

                socket.ConnectAsync(Uri $"ws://127.0.0.1:{port}/r{id}", cts.Token).Wait()
                true
            with _ ->
                false

        match accepted, connected with
        | true, true ->
            world (Input.RequestArrived(id, port, true, model.Now))

            match accepts.TryGetValue id with
            | true, client ->
                let peer =
                    {
                        Model = client
                        Socket = socket
                        Received = ResizeArray()
                        Closed = TaskCompletionSource<_>(TaskCreationOptions.RunContinuationsAsynchronously)
                        ClosedByClient = false
                        CloseVerified = false
                    }

                peers[client] <- peer
                startReader peer
            | _ -> mismatch "the model did not accept upgrade /r%d" id
        | false, false -> socket.Dispose()
        | true, false -> mismatch "WebSocket connect to %d failed; the model has a server there" port
        | false, true -> mismatch "WebSocket connect to %d succeeded; the model has no server there" port

    // ---- Checks after every step ----

    let verify () =
        // The script saw what the model delivered, in order (and nothing more, once it settled).
        let expected = expectedLines ()

        let listing = String.Join("\n  ", expected)

        until $"the script to print {expected.Length} event lines; expected:\n  {listing}" (fun () ->
            (scriptLines ()).Length >= expected.Length)

        let actual = scriptLines ()

        if normalise actual <> normalise expected then
            mismatch
                "the script's events differ from the model's:\n script:\n  %s\n model:\n  %s"
                (String.Join("\n  ", actual))
                (String.Join("\n  ", expected))

        // Every request the model answered got exactly that answer; the others none yet.
        for r in List.ofSeq requests.Values do
            if not r.Verified && not r.ClientAborted then
                let answered = answers.TryGetValue r.Id

                match r.Expected, answered with
                | RefusedOr503, _ ->
                    match awaitOr $"the answer to /r{r.Id}" r.Outcome with
                    | Refused
                    | Responded(503, _) -> r.Verified <- true
                    | other -> mismatch "/r%d to a port the model had released got %A" r.Id other
                | Model, (true, how) ->
                    let outcome = awaitOr $"the answer to /r{r.Id}" r.Outcome

                    let ok =
                        match how, outcome with
                        | Answer.Scripted, Responded(status, length) -> r.Scripted = Some(status, length)
                        | Answer.Unavailable, Responded(503, _) -> true
                        | Answer.UpgradeRequired, Responded(426, _) -> true
                        | Answer.Deadline, Responded _ -> true
                        | _ -> false

                    if not ok then
                        mismatch
                            "/r%d: the model answered %A (scripted %A); the client got %A"
                            r.Id
                            how
                            r.Scripted
                            outcome

                    r.Verified <- true
                | Model, _ ->
                    if r.Outcome.IsCompleted then
                        mismatch "/r%d got %A while the model still has it waiting" r.Id r.Outcome.Result

        // Every client got what the model sent it, and the close the model made.
        for peer in peers.Values do
            let expected = sendsTo peer.Model |> List.ofSeq

            until $"client {nameOf peer.Model} to receive {expected.Length} messages" (fun () ->
                lock peer.Received (fun () -> peer.Received.Count >= expected.Length)
                || peer.Closed.Task.IsCompleted)

            let received = lock peer.Received (fun () -> List.ofSeq peer.Received)

            if received <> expected then
                mismatch
                    "client %d received %A; the model sent %A"
                    (nameOf peer.Model)
                    (received |> List.map (fun d -> tagOf d, d.Length))
                    (expected |> List.map (fun d -> tagOf d, d.Length))

            match closes.TryGetValue peer.Model with
            | true, _ when peer.CloseVerified -> ()
            | true, code ->
                match awaitOr $"client {nameOf peer.Model}'s close" peer.Closed.Task with
                | Some c, _ when c = code ->
                    peer.CloseVerified <- true
                    // The client answered the close: the connection ends (the model removes it).
                    apply (Input.ClientClosed(peer.Model, Some code, None))
                | other -> mismatch "client %d: the model closed it with %d; it saw %A" (nameOf peer.Model) code other
            | _ ->
                if not peer.ClosedByClient && peer.Closed.Task.IsCompleted then
                    mismatch
                        "client %d was closed (%A) but the model did not close it"
                        (nameOf peer.Model)
                        peer.Closed.Task.Result

    // ---- Steps ----

    member _.Init() = pullEvent ()

    member _.Stopped = stopped

    member this.Perform(action: Action) =
        let skip why = note $"  skipped: {why}"

        let whenRunning f =
            if stopped then skip "the script has ended"
            elif blocked then skip "blocked"
            else f ()

        match action with
        | Listen(fresh, pick) ->
            if stopped then
                skip "the script has ended"
            elif blocked then
                skip "blocked"
            else
                let port = if fresh then 0 else defaultArg (knownPort pick) 0

                scripted [ "listen"; port ] (fun result ->
                    ask (Input.AddListener port) |> ignore
                    bind port result)
                |> fun r -> note $"  listen {port}: {r}"
        | OpenServer(fresh, pick) ->
            whenRunning (fun () ->
                let port = if fresh then 0 else defaultArg (knownPort pick) 0

                scripted [ "wsopen"; port ] (fun result ->
                    ask (Input.OpenWebSocketServer port) |> ignore
                    bind port result)
                |> fun r -> note $"  wsopen {port}: {r}")
        | Unlisten pick ->
            match knownPort pick with
            | _ when stopped -> skip "the script has ended"
            | None -> skip "no port"
            | Some port ->
                scripted [ "unlisten"; port ] (fun _ ->
                    apply (Input.RemoveListener port)
                    drain ())
                |> ignore

                note $"  unlisten {port}"
        | CloseServer pick ->
            whenRunning (fun () ->
                match knownPort pick with
                | None -> skip "no port"
                | Some port ->
                    let has = Set.contains port model.WebSocketServers

                    scripted [ "wsclose"; port ] (fun _ ->
                        if has then
                            apply (Input.CloseWebSocketServer port)
                            drain ())
                    |> ignore

                    note $"  wsclose {port}")
        | Get pick ->
            match knownPort pick with
            | None -> skip "no port"
            | Some port ->
                sendRequest port "GET" [||] false
                note $"  GET /r{nextRequest} on {port}"
        | Post(pick, size) ->
            match knownPort pick with
            | None -> skip "no port"
            | Some port ->
                sendRequest port "POST" (Array.create (bytesIn size) (byte 'p')) false
                note $"  POST /r{nextRequest} on {port}"
        | AbortMidBody pick ->
            match knownPort pick with
            | None -> skip "no port"
            | Some port -> sendRequest port "POST" [||] true
        | AbortHeld pick ->
            let candidates =
                held ()
                |> List.filter (fun id -> not requests[id].ClientAborted && requests[id].Connection.IsSome)

            match pickFrom candidates pick with
            | None -> skip "no held request"
            | Some id ->
                requests[id].Connection.Value.Abort()
                requests[id].ClientAborted <- true
                note $"  the client of /r{id} reset its connection"
        | Answer(pick, status, size) ->
            whenRunning (fun () ->
                match pickFrom (held ()) pick with
                | None -> skip "no held request"
                | Some id ->
                    let length = bytesIn size
                    requests[id].Scripted <- Some(status, length)

                    scripted [ "answer"; $"/r{id}"; status; length ] (fun _ -> apply (Input.CloseResponse id))
                    |> ignore

                    note $"  answer /r{id} {status} with {length} bytes")
        | Fail pick ->
            whenRunning (fun () ->
                match pickFrom (held ()) pick with
                | None -> skip "no held request"
                | Some id ->
                    let result = scripted [ "fail"; $"/r{id}" ] ignore
                    note $"  handler of /r{id}: {result}")
        | Connect pick ->
            match knownPort pick with
            | _ when blocked -> skip "blocked"
            | None -> skip "no port"
            | Some port when
                Set.contains port model.Listeners
                && not (Set.contains port model.WebSocketServers)
                ->
                skip $"{port} has only an HTTP listener"
            | Some port ->
                connect port
                note $"  WebSocket connect /r{nextRequest} on {port}"
        | ClientSend(pick, size) ->
            let candidates =
                peers.Values
                |> Seq.filter (fun p -> not p.ClosedByClient && Core.isOpen p.Model model)
                |> List.ofSeq

            match pickFrom candidates pick with
            | _ when blocked -> skip "blocked"
            | None -> skip "no open client"
            | Some peer ->
                seq <- seq + 1
                let data = Encoding.ASCII.GetBytes($"{seq}:" + String('c', bytesIn size))

                peer.Socket.SendAsync(ArraySegment data, WebSocketMessageType.Text, true, CancellationToken.None).Wait()

                world (Input.MessageArrived(peer.Model, data, false))
                note $"  client {nameOf peer.Model} sends {seq}: {data.Length} bytes"
        | ClientClose pick ->
            let candidates =
                peers.Values
                |> Seq.filter (fun p -> not p.ClosedByClient && Core.isOpen p.Model model)
                |> List.ofSeq

            match pickFrom candidates pick with
            | _ when blocked -> skip "blocked"
            | None -> skip "no open client"
            | Some peer ->
                peer.ClosedByClient <- true

                peer.Socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None).Wait()

                world (Input.ClientClosed(peer.Model, Some 1000, Some "bye"))
                note $"  client {nameOf peer.Model} closes"
        | ScriptSend(pick, size) ->
            whenRunning (fun () ->
                match pickFrom (List.ofSeq peers.Values) pick with
                | None -> skip "no client"
                | Some peer ->
                    let n = nameOf peer.Model
                    let length = bytesIn size
                    let tag = seq + 1
                    let data = Encoding.ASCII.GetBytes($"{tag}:" + String('s', length))

                    let result =
                        scripted [ "send"; n; tag; length ] (fun result ->
                            match ask (Input.Send(peer.Model, data, false)), result with
                            | Some Reply.Sent, "sent" -> ()
                            | Some Reply.HandleClosed, "error attempt to use a closed file" -> ()
                            | other, _ ->
                                mismatch "send to client %d: the script got '%s'; the model %A" n result other)

                    note $"  script sends {tag} to client {n}: {result}")
        | ScriptClose(pick, code) ->
            whenRunning (fun () ->
                match pickFrom (List.ofSeq peers.Values) pick with
                | None -> skip "no client"
                | Some peer ->
                    let n = nameOf peer.Model

                    scripted [ "close"; n; code ] (fun _ -> apply (Input.CloseClient(peer.Model, code, "srv")))
                    |> ignore

                    note $"  script closes client {n} with {code}")
        | Block ->
            whenRunning (fun () ->
                scripted [ "block" ] (fun _ -> blocked <- true) |> ignore
                note "  blocked")
        | Resume ->
            if stopped || not blocked then
                skip "not blocked"
            else
                command [ "resume" ] |> ignore
                blocked <- false
                pullEvent ()
                pump ()
                note "  resumed"
        | Shutdown ->
            if stopped then
                skip "the script has ended"
            else
                scripted [ "shutdown" ] (fun _ ->
                    apply Input.Shutdown
                    stopped <- true
                    blocked <- false
                    // Requests posted while the script ran meet a stopped computer.
                    drain ())
                |> ignore

                let code = awaitOr "the script to end" running.Exit

                if code <> 0 then
                    mismatch "exit code %d after os.shutdown()" code

                note "  shut down"

        verify ()

    /// After the run: the invariants that hold whatever the model says.
    member _.Finish() =
        verify ()
        let lines = scriptLines ()

        if not running.Exit.IsCompleted then
            mismatch "the script has not ended"

        let shutdownAt =
            running.Out.Lines |> List.tryFindIndex (fun l -> l.EndsWith " shutdown")

        match shutdownAt with
        | Some i when i < running.Out.Lines.Length - 1 ->
            mismatch "the script printed after shutdown: %A" (running.Out.Lines |> List.skip (i + 1))
        | _ -> ()

        if running.Err.Text <> "" then
            mismatch "the script wrote errors: %s" running.Err.Text

        // Every request got exactly one whole answer, or was refused.
        for r in requests.Values do
            if not r.ClientAborted then
                match r.Outcome.Result with
                | Broken why -> mismatch "/r%d: the connection ended without a whole answer (%s)" r.Id why
                | _ -> ()

        // Per client: connect, then its messages in the order sent, then closed exactly once.
        let perClient = Dictionary<string, ResizeArray<string>>()

        for line in lines do
            let words = line.Split ' '

            let client =
                match words[0] with
                | "connect" -> Some words[2]
                | "msg"
                | "closed" -> Some words[1]
                | _ -> None

            match client with
            | Some n ->
                if not (perClient.ContainsKey n) then
                    perClient[n] <- ResizeArray()

                perClient[n].Add words[0]
            | None -> ()

        for KeyValue(n, kinds) in perClient do
            let kinds = List.ofSeq kinds

            // A client still open at shutdown has no closed event (the script has ended): it
            // must have been closed with 1001 instead.
            let closedAtShutdown () =
                names
                |> Seq.exists (fun (KeyValue(client, name)) ->
                    string name = n && closes.TryGetValue client = (true, 1001))

            let ok =
                match kinds with
                | "connect" :: rest ->
                    let messages = rest |> List.takeWhile ((=) "msg")

                    match rest |> List.skip messages.Length with
                    | [ "closed" ] -> true
                    | [] -> closedAtShutdown ()
                    | _ -> false
                | _ -> false

            if not ok then
                mismatch "client %s: the script saw %A" n kinds

        // Every client saw its connection close (1001 at shutdown for those still open).
        for peer in peers.Values do
            awaitOr $"client {nameOf peer.Model} to be closed" peer.Closed.Task |> ignore

    member _.Dispose() =
        for peer in peers.Values do
            peer.Socket.Abort()
            peer.Socket.Dispose()

        for r in requests.Values do
            r.Connection |> Option.iter (fun c -> (c :> IDisposable).Dispose())

let private driverPath =
    Path.Combine(AppContext.BaseDirectory, "lua", "model", "driver.lua")

let private setup: Setup =
    fun out err input ->
        // The deadline is far beyond a run: the model never ticks.
        ComputerOptions(Output = out, Error = err, Input = input, ResponseDeadline = TimeSpan.FromSeconds 120.0)

/// Runs one sequence; on a mismatch, fails with the sequence, the log and the transcript.
let runSequence (actions: Action list) =
    let running =
        (launchWith "stop" setup (fun l -> if l = "ready" then Some 0 else None) driverPath []).Result

    let log = ResizeArray<string>()
    let run = new Run(running, log)

    try
        try
            run.Init()

            for a in actions do
                log.Add $"%A{a}"
                run.Perform a

            if not run.Stopped then
                log.Add "Shutdown (end of the sequence)"
                run.Perform Shutdown

            run.Finish()

            // CRAFT_MODEL_LOG=1 shows every run's log, to see what the sequences exercise.
            if Environment.GetEnvironmentVariable "CRAFT_MODEL_LOG" = "1" then
                printfn "%s\n" (String.Join("\n", log))
        with e ->
            let why =
                match e with
                | ModelMismatch m -> m
                | e -> e.ToString()

            failtestf
                "%s\n\nsequence:\n  %s\n\nlog:\n%s\n\n%s"
                why
                (String.Join("\n  ", actions |> List.map (sprintf "%A")))
                (String.Join("\n", log))
                running.Transcript
    finally
        run.Dispose()
        running.Computer.DisposeAsync().AsTask().Wait(patience) |> ignore
        running.Terminator.Dispose()

let private action: Gen<Action> =
    let pick = Gen.choose (0, 9)
    let size = Gen.elements [ Empty; Small; Medium; Large ]

    Gen.frequency
        [
            3, Gen.map2 (fun f p -> Listen(f, p)) (Gen.elements [ true; false ]) pick
            1, Gen.map Unlisten pick
            2, Gen.map2 (fun f p -> OpenServer(f, p)) (Gen.elements [ true; false ]) pick
            1, Gen.map CloseServer pick
            4, Gen.map Get pick
            3, Gen.map2 (fun p s -> Post(p, s)) pick size
            1, Gen.map AbortMidBody pick
            1, Gen.map AbortHeld pick
            4, Gen.map3 (fun p st s -> Answer(p, st, s)) pick (Gen.elements [ 200; 201; 404; 500 ]) size
            1, Gen.map Fail pick
            3, Gen.map Connect pick
            3, Gen.map2 (fun p s -> ClientSend(p, s)) pick size
            1, Gen.map ClientClose pick
            2, Gen.map2 (fun p s -> ScriptSend(p, s)) pick size
            1, Gen.map2 (fun p c -> ScriptClose(p, c)) pick (Gen.elements [ 1000; 4001 ])
            1, Gen.constant Block
            3, Gen.constant Resume
            1, Gen.constant Shutdown
        ]

/// A listener, a WebSocket server, a client and a held request first, so that most steps find
/// something to act on.
let private sequences: Gen<Action list> =
    gen {
        let! length = Gen.choose (4, 12)
        let! steps = Gen.listOfLength length action
        return Listen(true, 0) :: OpenServer(true, 0) :: Connect 1 :: Get 0 :: steps
    }

/// Shrinks by dropping one step at a time (each candidate is a real run: keep it short).
let private shrink (actions: Action list) =
    seq {
        for i in 4 .. List.length actions - 1 do
            yield List.removeAt i actions
    }

let private config =
    { FsCheckConfig.defaultConfig with
        maxTest = 25
    }

let tests =
    testList
        "model"
        [
            testPropertyWithConfig
                config
                "the real computer does what the core says, step by step"
                (Prop.forAll (Arb.fromGenShrink (sequences, shrink)) runSequence)
        ]
