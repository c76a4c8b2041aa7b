namespace Craft

open System

// The pure core. Read Craft.Core.fsi first: it documents every type. The implementation follows
// one pattern: each input is handled by a small function from the state (and the effects so far,
// newest first) to a new state and effects; `settle` then restores the queue's invariants
// (inbound events move into the queue while it has room; a waiting script gets the head).

type Port = int
type RequestId = int64
type ClientId = int64
type TimerId = int
type PayloadId = int64
type Millis = int64
type FetchId = int64

type Limits =
    {
        QueueCapacity: int
        BacklogCapacity: int
        ResponseDeadline: Millis
        MaxMessageBytes: int
        MaxFetches: int
        MaxClientSockets: int
    }

[<RequireQualifiedAccess>]
module Limits =
    let defaults =
        {
            QueueCapacity = 256
            BacklogCapacity = 4096
            ResponseDeadline = 15_000L
            MaxMessageBytes = 128 * 1024
            MaxFetches = 16
            MaxClientSockets = 4
        }

[<RequireQualifiedAccess>]
type Event =
    | HttpRequest of port: Port * request: RequestId
    | WebSocketConnect of port: Port * client: ClientId
    | WebSocketMessage of client: ClientId * data: byte array * binary: bool
    | WebSocketClosed of client: ClientId * reason: string option * code: int option
    | Timer of timer: TimerId
    | Terminate
    | Custom of name: string * payload: PayloadId
    | Fetched of fetch: FetchId
    | SocketOpened of client: ClientId
    | SocketFailed of client: ClientId * reason: string

[<RequireQualifiedAccess>]
type Origin =
    | Script
    | Host

[<RequireQualifiedAccess>]
type Purpose =
    | Http
    | WebSocket

[<RequireQualifiedAccess>]
type RequestStage =
    | Backlog
    | Queued
    | Held

type Request =
    {
        Id: RequestId
        Port: Port
        Stage: RequestStage
        Deadline: Millis
    }

[<RequireQualifiedAccess>]
type ClientStage =
    | Connecting
    | Open
    | Closing

type Client =
    {
        Id: ClientId
        Port: Port
        Stage: ClientStage
        Outbound: bool
    }

type Fifo<'T> =
    private
        {
            Front: 'T list
            Back: 'T list
            Length: int
        }

    member q.Count = q.Length
    member q.IsEmpty = q.Length = 0

type private EmptyFifo<'T>() =
    static member val Value: Fifo<'T> = { Front = []; Back = []; Length = 0 }

[<RequireQualifiedAccess>]
module Fifo =
    let empty<'T> : Fifo<'T> = EmptyFifo<'T>.Value

    // The front list is empty only when the queue is: the first element is always at hand.
    let enqueue x q =
        if q.Length = 0 then
            { Front = [ x ]; Back = []; Length = 1 }
        else
            { q with
                Back = x :: q.Back
                Length = q.Length + 1
            }

    let tryDequeue q =
        match q.Front with
        | [] -> ValueNone
        // The common case on the event path: no list to reverse, no new queue.
        | [ x ] when q.Length = 1 -> ValueSome(struct (x, empty))
        | [ x ] ->
            ValueSome(
                struct (x,
                        {
                            Front = List.rev q.Back
                            Back = []
                            Length = q.Length - 1
                        })
            )
        | x :: rest ->
            ValueSome(
                struct (x,
                        { q with
                            Front = rest
                            Length = q.Length - 1
                        })
            )

    let tryPeek q =
        match q.Front with
        | x :: _ -> ValueSome x
        | [] -> ValueNone

    let toList q = q.Front @ List.rev q.Back

    let contains x q =
        List.contains x q.Front || List.contains x q.Back

    let filter keep q =
        let kept = toList q |> List.filter keep

        {
            Front = kept
            Back = []
            Length = List.length kept
        }

[<RequireQualifiedAccess>]
type Due =
    | Timer of TimerId
    | Request of RequestId

[<CustomEquality; CustomComparison>]
type DueAt =
    {
        At: Millis
        What: Due
    }

    // Compared field by field, without F#'s generic comparison: the agenda is on every request's
    // path, and comparing a tuple of a number and a union boxes the number at every step.
    member private d.Rank =
        match d.What with
        | Due.Timer id -> struct (0, int64 id)
        | Due.Request id -> struct (1, id)

    member d.CompareTo(other: DueAt) =
        if d.At <> other.At then
            (if d.At < other.At then -1 else 1)
        else
            let struct (kind, id) = d.Rank
            let struct (otherKind, otherId) = other.Rank

            if kind <> otherKind then
                (if kind < otherKind then -1 else 1)
            elif id <> otherId then
                (if id < otherId then -1 else 1)
            else
                0

    override d.Equals(other: obj) =
        match other with
        | :? DueAt as o -> d.CompareTo o = 0
        | _ -> false

    override d.GetHashCode() =
        let struct (kind, id) = d.Rank
        HashCode.Combine(d.At, kind, id)

    interface IComparable<DueAt> with
        member d.CompareTo(other: DueAt) = d.CompareTo other

    interface IComparable with
        member d.CompareTo(other: obj) =
            match other with
            | :? DueAt as o -> d.CompareTo o
            | _ -> invalidArg "other" "not a DueAt"

type ColdState =
    {
        Limits: Limits
        Listeners: Set<Port>
        WebSocketServers: Set<Port>
        Binding: (Port * Purpose) list
        Bound: Set<Port>
        Clients: Map<ClientId, Client>
        Timers: Map<TimerId, Millis>
        NextTimerId: TimerId
        NextClientId: ClientId
        Dropped: int64
        Stopped: bool
        Fetching: Set<FetchId>
        FetchingCount: int
        FetchWaiting: Fifo<FetchId>
        Checking: Set<FetchId>
        Sockets: int
    }

type State =
    {
        Now: Millis
        Requests: Map<RequestId, Request>
        Queue: Fifo<Event>
        Inbound: Fifo<Event>
        Backlog: int
        Waiting: bool
        Agenda: Set<DueAt>
        Deadlines: Fifo<struct (Millis * RequestId)>
        DeadlinesKept: int
        Cold: ColdState
    }

    member s.Limits = s.Cold.Limits
    member s.Listeners = s.Cold.Listeners
    member s.WebSocketServers = s.Cold.WebSocketServers
    member s.Binding = s.Cold.Binding
    member s.Bound = s.Cold.Bound
    member s.Clients = s.Cold.Clients
    member s.Timers = s.Cold.Timers
    member s.NextTimerId = s.Cold.NextTimerId
    member s.NextClientId = s.Cold.NextClientId
    member s.Dropped = s.Cold.Dropped
    member s.Stopped = s.Cold.Stopped
    member s.Fetching = s.Cold.Fetching
    member s.FetchingCount = s.Cold.FetchingCount
    member s.FetchWaiting = s.Cold.FetchWaiting
    member s.Checking = s.Cold.Checking
    member s.Sockets = s.Cold.Sockets

[<RequireQualifiedAccess>]
type Input =
    | AddListener of port: Port
    | RemoveListener of port: Port
    | OpenWebSocketServer of port: Port
    | CloseWebSocketServer of port: Port
    | FlushResponse of request: RequestId
    | CloseResponse of request: RequestId
    | Send of client: ClientId * data: byte array * binary: bool
    | CloseClient of client: ClientId * code: int * reason: string
    | QueueEvent of name: string * payload: PayloadId * origin: Origin
    | PullEvent
    | StartTimer of delay: Millis
    | CancelTimer of timer: TimerId
    | Shutdown
    | BindSucceeded of requested: Port * actual: Port
    | BindFailed of requested: Port * reason: string
    | RequestArrived of request: RequestId * port: Port * upgrade: bool * arrived: Millis
    | MessageArrived of client: ClientId * data: byte array * binary: bool
    | ClientClosed of client: ClientId * code: int option * reason: string option
    | Terminate
    | Tick of now: Millis
    | Fetch of fetch: FetchId * check: bool
    | FetchCompleted of fetch: FetchId
    | OpenSocket
    | SocketConnected of client: ClientId
    | SocketFailed of client: ClientId * reason: string

[<RequireQualifiedAccess>]
type Answer =
    | Scripted
    | Deadline
    | Unavailable
    | UpgradeRequired

[<RequireQualifiedAccess>]
type Reply =
    | Listening of port: Port
    | ServerOpened of port: Port
    | PortInUse
    | CouldNotOpen of reason: string
    | Sent
    | MessageTooLarge
    | HandleClosed
    | Done
    | TimerStarted of timer: TimerId
    | SocketStarted of client: ClientId
    | TooManySockets

[<RequireQualifiedAccess>]
type Effect =
    | Bind of port: Port
    | Release of port: Port
    | Answer of request: RequestId * answer: Answer
    | Flush of request: RequestId
    | Accept of request: RequestId * client: ClientId
    | Send of client: ClientId * data: byte array * binary: bool
    | Close of client: ClientId * code: int * reason: string
    | ResumeReading of client: ClientId
    | Deliver of event: Event
    | Discard of payload: PayloadId
    | Reply of reply: Reply
    | StartFetch of fetch: FetchId
    | AbandonFetch of fetch: FetchId
    | Connect of client: ClientId

[<RequireQualifiedAccess>]
module Core =
    /// The close code and reason sent to every client when the computer shuts down.
    [<Literal>]
    let private GoingAway = 1001

    let initial limits =
        {
            Now = 0L
            Requests = Map.empty
            Queue = Fifo.empty
            Inbound = Fifo.empty
            Backlog = 0
            Waiting = false
            Agenda = Set.empty
            Deadlines = Fifo.empty
            DeadlinesKept = 0
            Cold =
                {
                    Limits = limits
                    Listeners = Set.empty
                    WebSocketServers = Set.empty
                    Binding = []
                    Bound = Set.empty
                    Clients = Map.empty
                    Timers = Map.empty
                    NextTimerId = 1
                    NextClientId = 1L
                    Dropped = 0L
                    Stopped = false
                    Fetching = Set.empty
                    FetchingCount = 0
                    FetchWaiting = Fifo.empty
                    Checking = Set.empty
                    Sockets = 0
                }
        }

    // Effects are accumulated newest first and reversed once at the end of `step`.
    type private Acc = State * Effect list

    let private emit effect ((s, fx): Acc) : Acc = s, effect :: fx

    let private queueFull (s: State) =
        not s.Inbound.IsEmpty || s.Queue.Count >= s.Limits.QueueCapacity

    /// Whether an event counts against the inbound backlog's capacity while it waits there.
    let private isBacklogged event =
        match event with
        | Event.HttpRequest _
        | Event.WebSocketConnect _ -> true
        | _ -> false

    /// A backlogged request's entry in the agenda.
    let private backlogDue (r: Request) =
        {
            At = r.Deadline
            What = Due.Request r.Id
        }

    /// Whether a deadline entry still stands: its request is queued or held, with that deadline.
    let private stands requests (struct (at: Millis, id: RequestId)) =
        match Map.tryFind id requests with
        | Some r -> r.Deadline = at && r.Stage <> RequestStage.Backlog
        | None -> false

    /// `Deadlines` without the stale entries at its front, and without any stale entry once
    /// they are most of it (past twice the length it had after the last such sweep, plus 64);
    /// with the length to remember.
    let private tidied requests (q: Fifo<struct (Millis * RequestId)>) kept =
        let rec front q =
            match Fifo.tryPeek q with
            | ValueSome entry when not (stands requests entry) ->
                match Fifo.tryDequeue q with
                | ValueSome(struct (_, rest)) -> front rest
                | ValueNone -> q
            | _ -> q

        let q = front q

        if q.Count > 2 * kept + 64 then
            let q = Fifo.filter (stands requests) q
            struct (q, q.Count)
        else
            struct (q, min kept q.Count)

    /// The request is queued or held, with a new deadline (`Now + ResponseDeadline`).
    let private setDeadline (r: Request) stage deadline (s: State) =
        let requests =
            Map.add
                r.Id
                { r with
                    Stage = stage
                    Deadline = deadline
                }
                s.Requests

        let deadlines = Fifo.enqueue (struct (deadline, r.Id)) s.Deadlines

        if r.Stage = RequestStage.Backlog then
            // Its deadline was in the agenda.
            { s with
                Requests = requests
                Agenda = Set.remove (backlogDue r) s.Agenda
                Deadlines = deadlines
            }
        else
            // Its old entry, if it had one, is stale now.
            let struct (deadlines, kept) = tidied requests deadlines s.DeadlinesKept

            { s with
                Requests = requests
                Deadlines = deadlines
                DeadlinesKept = kept
            }

    let private setStage id stage (s: State) =
        match Map.tryFind id s.Requests with
        | Some r ->
            { s with
                Requests = Map.add id { r with Stage = stage } s.Requests
            }
        | None -> s

    let private forgetRequest (r: Request) (s: State) =
        if r.Stage = RequestStage.Backlog then
            { s with
                Requests = Map.remove r.Id s.Requests
                Agenda = Set.remove (backlogDue r) s.Agenda
            }
        else
            let requests = Map.remove r.Id s.Requests
            let struct (deadlines, kept) = tidied requests s.Deadlines s.DeadlinesKept

            { s with
                Requests = requests
                Deadlines = deadlines
                DeadlinesKept = kept
            }

    /// An event has just entered the queue: the bookkeeping that follows from it.
    let private entered event ((s, fx): Acc) : Acc =
        match event with
        | Event.HttpRequest(_, id) ->
            match Map.tryFind id s.Requests with
            | Some r ->
                // The script gets the whole deadline from the moment the event is queued.
                setDeadline r RequestStage.Queued (s.Now + s.Limits.ResponseDeadline) s, fx
            | None -> s, fx
        | Event.WebSocketMessage(client, _, _) -> s, Effect.ResumeReading client :: fx
        | _ -> s, fx

    /// Network, timer and host events: into the queue when it has room and nothing waits before
    /// them, otherwise to the back of the inbound backlog. Never dropped.
    let private admit event ((s, fx): Acc) : Acc =
        if queueFull s then
            { s with
                Inbound = Fifo.enqueue event s.Inbound
                Backlog = if isBacklogged event then s.Backlog + 1 else s.Backlog
            },
            fx
        else
            entered
                event
                ({ s with
                    Queue = Fifo.enqueue event s.Queue
                 },
                 fx)

    /// Restore the invariants after any change: move inbound events into the queue while it has
    /// room, and hand the head of the queue to a waiting script.
    let rec private settle ((s, fx): Acc) : Acc =
        if not s.Inbound.IsEmpty && s.Queue.Count < s.Limits.QueueCapacity then
            match Fifo.tryDequeue s.Inbound with
            | ValueSome(struct (event, rest)) ->
                let s =
                    { s with
                        Inbound = rest
                        Queue = Fifo.enqueue event s.Queue
                        Backlog = if isBacklogged event then s.Backlog - 1 else s.Backlog
                    }

                settle (entered event (s, fx))
            | ValueNone -> s, fx
        elif s.Waiting then
            match Fifo.tryDequeue s.Queue with
            | ValueSome(struct (event, rest)) ->
                let s = { s with Queue = rest; Waiting = false }

                let s =
                    match event with
                    | Event.HttpRequest(_, id) -> setStage id RequestStage.Held s
                    | _ -> s

                settle (s, Effect.Deliver event :: fx)
            | ValueNone -> s, fx
        else
            s, fx

    let private answer (r: Request) how ((s, fx): Acc) : Acc =
        forgetRequest r s, Effect.Answer(r.Id, how) :: fx

    /// Answer 503 to a request that the script has not seen, taking its event out of the queue or
    /// the backlog.
    let private withdraw (r: Request) ((s, fx): Acc) : Acc =
        let isIt event =
            match event with
            | Event.HttpRequest(_, id) -> id = r.Id
            | _ -> false

        let s =
            match r.Stage with
            | RequestStage.Backlog ->
                { s with
                    Inbound = Fifo.filter (isIt >> not) s.Inbound
                    Backlog = s.Backlog - 1
                }
            | RequestStage.Queued ->
                { s with
                    Queue = Fifo.filter (isIt >> not) s.Queue
                }
            | RequestStage.Held -> s

        answer r Answer.Unavailable (s, fx)

    /// Close the port's socket if neither an HTTP listener nor a WebSocket server uses it now.
    let private releaseIfUnused port ((s, fx): Acc) : Acc =
        if
            Set.contains port s.Bound
            && not (Set.contains port s.Listeners || Set.contains port s.WebSocketServers)
        then
            { s with
                Cold =
                    { s.Cold with
                        Bound = Set.remove port s.Bound
                    }
            },
            Effect.Release port :: fx
        else
            s, fx

    let private startBind port purpose ((s, fx): Acc) : Acc =
        { s with
            Cold =
                { s.Cold with
                    Binding = s.Binding @ [ port, purpose ]
                }
        },
        Effect.Bind port :: fx

    let private addListener port ((s, _) as acc: Acc) =
        if s.Stopped then
            emit (Effect.Reply(Reply.CouldNotOpen "the computer has shut down")) acc
        elif port <> 0 && Set.contains port s.Listeners then
            emit (Effect.Reply(Reply.Listening port)) acc
        elif port <> 0 && Set.contains port s.Bound then
            let s, fx = acc

            { s with
                Cold =
                    { s.Cold with
                        Listeners = Set.add port s.Listeners
                    }
            },
            Effect.Reply(Reply.Listening port) :: fx
        else
            startBind port Purpose.Http acc

    let private openWebSocketServer port ((s, _) as acc: Acc) =
        if s.Stopped then
            emit (Effect.Reply(Reply.CouldNotOpen "the computer has shut down")) acc
        elif port <> 0 && Set.contains port s.WebSocketServers then
            emit (Effect.Reply Reply.PortInUse) acc
        elif port <> 0 && Set.contains port s.Bound then
            let s, fx = acc

            { s with
                Cold =
                    { s.Cold with
                        WebSocketServers = Set.add port s.WebSocketServers
                    }
            },
            Effect.Reply(Reply.ServerOpened port) :: fx
        else
            startBind port Purpose.WebSocket acc

    let private bindSucceeded requested actual ((s, fx): Acc) : Acc =
        let rec take before rest =
            match rest with
            | [] -> None
            | (port, purpose) :: tail when port = requested -> Some(purpose, List.rev before @ tail)
            | head :: tail -> take (head :: before) tail

        match take [] s.Binding with
        | Some(purpose, others) when not s.Stopped ->
            let s =
                { s with
                    Cold =
                        { s.Cold with
                            Binding = others
                            Bound = Set.add actual s.Bound
                        }
                }

            match purpose with
            | Purpose.Http ->
                { s with
                    Cold =
                        { s.Cold with
                            Listeners = Set.add actual s.Listeners
                        }
                },
                Effect.Reply(Reply.Listening actual) :: fx
            | Purpose.WebSocket ->
                { s with
                    Cold =
                        { s.Cold with
                            WebSocketServers = Set.add actual s.WebSocketServers
                        }
                },
                Effect.Reply(Reply.ServerOpened actual) :: fx
        | Some(_, others) ->
            { s with
                Cold = { s.Cold with Binding = others }
            },
            Effect.Release actual :: fx
        | None when Set.contains actual s.Bound -> s, fx
        | None -> s, Effect.Release actual :: fx

    let private bindFailed requested reason ((s, fx): Acc) : Acc =
        let rec drop rest =
            match rest with
            | [] -> []
            | (port, _) :: tail when port = requested -> tail
            | head :: tail -> head :: drop tail

        { s with
            Cold = { s.Cold with Binding = drop s.Binding }
        },
        Effect.Reply(Reply.CouldNotOpen reason) :: fx

    let private removeListener port ((s, _) as acc: Acc) =
        if not (Set.contains port s.Listeners) then
            acc
        else
            let waiting =
                s.Requests
                |> Map.toList
                |> List.map snd
                |> List.filter (fun r -> r.Port = port && r.Stage <> RequestStage.Held)

            let acc =
                { s with
                    Cold =
                        { s.Cold with
                            Listeners = Set.remove port s.Listeners
                        }
                },
                snd acc

            let acc = List.fold (fun acc r -> withdraw r acc) acc waiting
            releaseIfUnused port acc

    let private closeWebSocketServer port ((s, fx): Acc) =
        if Set.contains port s.WebSocketServers then
            releaseIfUnused
                port
                ({ s with
                    Cold =
                        { s.Cold with
                            WebSocketServers = Set.remove port s.WebSocketServers
                        }
                 },
                 fx)
        else
            s, fx

    let private requestArrived id port upgrade arrived ((s, _) as acc: Acc) =
        let full = queueFull s && s.Backlog >= s.Limits.BacklogCapacity
        // A request's wait counts from when the shell read it, not from when the core heard of it.
        let deadline = arrived + s.Limits.ResponseDeadline

        if s.Stopped || full || deadline <= s.Now then
            emit (Effect.Answer(id, Answer.Unavailable)) acc
        elif Map.containsKey id s.Requests then
            // A shell must not reuse an id; the request already has its one answer coming.
            acc
        elif upgrade && Set.contains port s.WebSocketServers then
            let client = s.NextClientId

            let s =
                { s with
                    Cold =
                        { s.Cold with
                            NextClientId = client + 1L
                            Clients =
                                Map.add
                                    client
                                    {
                                        Id = client
                                        Port = port
                                        Stage = ClientStage.Open
                                        Outbound = false
                                    }
                                    s.Clients
                        }
                }

            admit (Event.WebSocketConnect(port, client)) (s, Effect.Accept(id, client) :: snd acc)
        elif Set.contains port s.Listeners then
            let stage =
                if queueFull s then
                    RequestStage.Backlog
                else
                    RequestStage.Queued

            let s =
                { s with
                    Requests =
                        Map.add
                            id
                            {
                                Id = id
                                Port = port
                                Stage = stage
                                Deadline = deadline
                            }
                            s.Requests
                    // A queued request's deadline is set as it enters the queue (`entered`).
                    Agenda =
                        if stage = RequestStage.Backlog then
                            Set.add { At = deadline; What = Due.Request id } s.Agenda
                        else
                            s.Agenda
                }

            admit (Event.HttpRequest(port, id)) (s, snd acc)
        elif Set.contains port s.WebSocketServers then
            emit (Effect.Answer(id, Answer.UpgradeRequired)) acc
        else
            emit (Effect.Answer(id, Answer.Unavailable)) acc

    let private send client (data: byte array) binary ((s, _) as acc: Acc) =
        match Map.tryFind client s.Clients with
        | Some c when c.Stage = ClientStage.Open && not s.Stopped ->
            if data.Length > s.Limits.MaxMessageBytes then
                emit (Effect.Reply Reply.MessageTooLarge) acc
            else
                acc
                |> emit (Effect.Send(client, data, binary))
                |> emit (Effect.Reply Reply.Sent)
        | _ -> emit (Effect.Reply Reply.HandleClosed) acc

    /// The client's connection has ended: it is forgotten, and an outbound socket frees its place.
    let private forgetClient (c: Client) (s: State) =
        { s with
            Cold =
                { s.Cold with
                    Clients = Map.remove c.Id s.Clients
                    Sockets = if c.Outbound then s.Sockets - 1 else s.Sockets
                }
        }

    let private closeClient client code (reason: string) ((s, _) as acc: Acc) =
        match Map.tryFind client s.Clients with
        | Some c when c.Stage = ClientStage.Open ->
            let s =
                if c.Outbound then
                    // A socket the script opened frees its place at once (as in CC:Tweaked); the
                    // connection finishes its close on its own, and nothing of it is shown again.
                    forgetClient c s
                else
                    { s with
                        Cold =
                            { s.Cold with
                                Clients = Map.add client { c with Stage = ClientStage.Closing } s.Clients
                            }
                    }

            let reasonOpt = if reason = "" then None else Some reason

            (s, Effect.Close(client, code, reason) :: snd acc)
            |> admit (Event.WebSocketClosed(client, reasonOpt, Some code))
            |> emit (Effect.Reply Reply.Done)
        | _ -> emit (Effect.Reply Reply.Done) acc

    let private clientClosed client code reason ((s, _) as acc: Acc) =
        match Map.tryFind client s.Clients with
        | Some c when c.Stage = ClientStage.Open ->
            admit (Event.WebSocketClosed(client, reason, code)) (forgetClient c s, snd acc)
        // A socket that never opened ends as a failure: the script never had its handle.
        | Some c when c.Stage = ClientStage.Connecting ->
            let why = defaultArg reason "Connection lost"
            admit (Event.SocketFailed(client, why)) (forgetClient c s, snd acc)
        | Some c -> forgetClient c s, snd acc
        | None -> acc

    /// `http.request` or a URL check: a request starts while fewer than `MaxFetches` run, and
    /// waits its turn otherwise; a check never waits. Each ends with exactly one `Fetched`.
    let private fetch id check ((s, fx): Acc) : Acc =
        let known =
            Set.contains id s.Fetching
            || Set.contains id s.Checking
            || Fifo.contains id s.FetchWaiting

        if s.Stopped then
            s, Effect.AbandonFetch id :: fx
        elif known then
            // A host must not reuse an id; that fetch already has its one completion coming.
            s, fx
        elif check then
            { s with
                Cold =
                    { s.Cold with
                        Checking = Set.add id s.Checking
                    }
            },
            Effect.StartFetch id :: fx
        elif s.FetchingCount < s.Limits.MaxFetches then
            { s with
                Cold =
                    { s.Cold with
                        Fetching = Set.add id s.Fetching
                        FetchingCount = s.FetchingCount + 1
                    }
            },
            Effect.StartFetch id :: fx
        else
            { s with
                Cold =
                    { s.Cold with
                        FetchWaiting = Fifo.enqueue id s.FetchWaiting
                    }
            },
            fx

    /// Start waiting requests while there is room for them.
    let rec private startWaiting ((s, fx): Acc) : Acc =
        if s.FetchingCount < s.Limits.MaxFetches then
            match Fifo.tryDequeue s.FetchWaiting with
            | ValueSome(struct (id, rest)) ->
                startWaiting (
                    { s with
                        Cold =
                            { s.Cold with
                                FetchWaiting = rest
                                Fetching = Set.add id s.Fetching
                                FetchingCount = s.FetchingCount + 1
                            }
                    },
                    Effect.StartFetch id :: fx
                )
            | ValueNone -> s, fx
        else
            s, fx

    let private fetchCompleted id ((s, fx): Acc) : Acc =
        if Set.contains id s.Fetching then
            admit
                (Event.Fetched id)
                ({ s with
                    Cold =
                        { s.Cold with
                            Fetching = Set.remove id s.Fetching
                            FetchingCount = s.FetchingCount - 1
                        }
                 },
                 fx)
            |> startWaiting
        elif Set.contains id s.Checking then
            admit
                (Event.Fetched id)
                ({ s with
                    Cold =
                        { s.Cold with
                            Checking = Set.remove id s.Checking
                        }
                 },
                 fx)
        else
            // Unknown, or cancelled by shutdown: its outcome is nobody's.
            s, Effect.AbandonFetch id :: fx

    /// `http.websocket`: a new outbound client, connecting, while fewer than `MaxClientSockets` are.
    let private openSocket ((s, _) as acc: Acc) =
        if s.Stopped then
            emit (Effect.Reply(Reply.CouldNotOpen "the computer has shut down")) acc
        elif s.Sockets >= s.Limits.MaxClientSockets then
            emit (Effect.Reply Reply.TooManySockets) acc
        else
            let client = s.NextClientId

            let s =
                { s with
                    Cold =
                        { s.Cold with
                            NextClientId = client + 1L
                            Sockets = s.Sockets + 1
                            Clients =
                                Map.add
                                    client
                                    {
                                        Id = client
                                        Port = -1
                                        Stage = ClientStage.Connecting
                                        Outbound = true
                                    }
                                    s.Clients
                        }
                }

            s, Effect.Reply(Reply.SocketStarted client) :: Effect.Connect client :: snd acc

    let private socketConnected client ((s, fx): Acc) : Acc =
        match Map.tryFind client s.Clients with
        | Some c when c.Stage = ClientStage.Connecting ->
            admit
                (Event.SocketOpened client)
                ({ s with
                    Cold =
                        { s.Cold with
                            Clients = Map.add client { c with Stage = ClientStage.Open } s.Clients
                        }
                 },
                 fx)
        // Nobody waits for it any more (shutdown): the connection is closed again.
        | _ -> s, Effect.Close(client, GoingAway, "Going away") :: fx

    let private socketFailed client reason ((s, fx): Acc) : Acc =
        match Map.tryFind client s.Clients with
        | Some c when c.Stage = ClientStage.Connecting ->
            admit (Event.SocketFailed(client, reason)) (forgetClient c s, fx)
        | _ -> s, fx

    let private messageArrived client data binary ((s, _) as acc: Acc) =
        match Map.tryFind client s.Clients with
        | Some c when c.Stage = ClientStage.Open -> admit (Event.WebSocketMessage(client, data, binary)) acc
        // The script closed it: nothing more is shown, but the reader keeps draining to the close.
        | _ -> emit (Effect.ResumeReading client) acc

    let private queueEvent name payload origin ((s, _) as acc: Acc) =
        if s.Stopped then
            emit (Effect.Discard payload) acc
        else
            match origin with
            | Origin.Host -> admit (Event.Custom(name, payload)) acc
            | Origin.Script when s.Queue.Count < s.Limits.QueueCapacity ->
                let s, fx = acc

                { s with
                    Queue = Fifo.enqueue (Event.Custom(name, payload)) s.Queue
                },
                fx
            | Origin.Script ->
                let s, fx = acc

                { s with
                    Cold = { s.Cold with Dropped = s.Dropped + 1L }
                },
                Effect.Discard payload :: fx

    let private startTimer delay ((s, fx): Acc) : Acc =
        let id = s.NextTimerId
        let due = s.Now + max 0L delay

        let s =
            { s with
                Agenda =
                    if s.Stopped then
                        s.Agenda
                    else
                        Set.add { At = due; What = Due.Timer id } s.Agenda
                Cold =
                    { s.Cold with
                        NextTimerId = id + 1
                        Timers = Map.add id due s.Timers
                    }
            }

        s, Effect.Reply(Reply.TimerStarted id) :: fx

    let private cancelTimer id ((s, fx): Acc) : Acc =
        match Map.tryFind id s.Timers with
        | Some due ->
            { s with
                Agenda = Set.remove { At = due; What = Due.Timer id } s.Agenda
                Cold =
                    { s.Cold with
                        Timers = Map.remove id s.Timers
                    }
            },
            fx
        | None -> s, fx

    let private flushResponse id ((s, _) as acc: Acc) =
        match Map.tryFind id s.Requests with
        | Some r when r.Stage = RequestStage.Held ->
            // A streaming response gets a fresh deadline with every flush: it is idle time, not
            // the length of the stream, that is limited.
            let s = setDeadline r r.Stage (s.Now + s.Limits.ResponseDeadline) s
            (s, snd acc) |> emit (Effect.Flush id) |> emit (Effect.Reply Reply.Done)
        | _ -> emit (Effect.Reply Reply.HandleClosed) acc

    let private closeResponse id ((s, _) as acc: Acc) =
        match Map.tryFind id s.Requests with
        | Some r when r.Stage = RequestStage.Held -> answer r Answer.Scripted acc
        | _ -> acc

    /// The agenda's first entry comes before the first request deadline `(at, id)`: the order of
    /// `DueAt` (time, then timers before requests, then ids).
    let private agendaFirst (item: DueAt) (struct (at: Millis, id: RequestId)) =
        item.At < at
        || item.At = at
           && (match item.What with
               | Due.Timer _ -> true
               | Due.Request other -> other < id)

    /// Timers and deadlines up to `now` fall due, oldest first.
    let private tick now ((s, fx): Acc) : Acc =
        let s = { s with Now = max now s.Now }

        let fromAgenda ((s, fx): Acc) (item: DueAt) : Acc =
            let s =
                { s with
                    Agenda = Set.remove item s.Agenda
                }

            match item.What with
            | Due.Timer id ->
                admit
                    (Event.Timer id)
                    ({ s with
                        Cold =
                            { s.Cold with
                                Timers = Map.remove id s.Timers
                            }
                     },
                     fx)
            | Due.Request id ->
                match Map.tryFind id s.Requests with
                | Some r -> withdraw r (s, fx)
                | None -> s, fx

        let fromDeadlines ((s, fx): Acc) : Acc =
            match Fifo.tryDequeue s.Deadlines with
            | ValueSome(struct (entry, rest)) ->
                let s = { s with Deadlines = rest }
                let struct (at, id) = entry

                match Map.tryFind id s.Requests with
                | Some r when r.Deadline = at && r.Stage = RequestStage.Held -> answer r Answer.Deadline (s, fx)
                | Some r when r.Deadline = at && r.Stage = RequestStage.Queued -> withdraw r (s, fx)
                | _ -> s, fx // stale
            | ValueNone -> s, fx

        let rec loop ((s, _) as acc: Acc) =
            let next =
                if Set.isEmpty s.Agenda then
                    None
                else
                    Some(Set.minElement s.Agenda)

            match next, Fifo.tryPeek s.Deadlines with
            | Some item, ValueSome entry when agendaFirst item entry ->
                if item.At > s.Now then acc else loop (fromAgenda acc item)
            | _, ValueSome(struct (at, _)) -> if at > s.Now then acc else loop (fromDeadlines acc)
            | Some item, ValueNone -> if item.At > s.Now then acc else loop (fromAgenda acc item)
            | None, ValueNone -> acc

        loop (s, fx)

    let private shutdown ((s, fx): Acc) : Acc =
        if s.Stopped then
            s, fx
        else
            let discards =
                Fifo.toList s.Queue @ Fifo.toList s.Inbound
                |> List.choose (fun event ->
                    match event with
                    | Event.Custom(_, payload) -> Some(Effect.Discard payload)
                    // A finished fetch nobody will see: its outcome is let go.
                    | Event.Fetched id -> Some(Effect.AbandonFetch id)
                    | _ -> None)

            let answers =
                s.Requests
                |> Map.toList
                |> List.map (fun (id, _) -> Effect.Answer(id, Answer.Unavailable))

            let closes =
                s.Clients
                |> Map.toList
                |> List.choose (fun (id, c) ->
                    match c.Stage with
                    | ClientStage.Open
                    | ClientStage.Connecting -> Some(Effect.Close(id, GoingAway, "Going away"))
                    | ClientStage.Closing -> None)

            let releases = s.Bound |> Set.toList |> List.map Effect.Release

            let abandons =
                Set.toList s.Fetching @ Set.toList s.Checking @ Fifo.toList s.FetchWaiting
                |> List.map Effect.AbandonFetch

            let stopped =
                let fresh = initial s.Limits

                { fresh with
                    Now = s.Now
                    Cold =
                        { fresh.Cold with
                            NextTimerId = s.NextTimerId
                            NextClientId = s.NextClientId
                            Dropped = s.Dropped
                            Stopped = true
                        }
                }

            stopped, List.rev (discards @ answers @ closes @ abandons @ releases) @ fx

    /// The general path: every input, then `settle`.
    let private stepAll input (state: State) =
        let acc: Acc = state, []

        let acc =
            match input with
            | Input.AddListener port -> addListener port acc
            | Input.RemoveListener port -> removeListener port acc
            | Input.OpenWebSocketServer port -> openWebSocketServer port acc
            | Input.CloseWebSocketServer port -> closeWebSocketServer port acc
            | Input.FlushResponse id -> flushResponse id acc
            | Input.CloseResponse id -> closeResponse id acc
            | Input.Send(client, data, binary) -> send client data binary acc
            | Input.CloseClient(client, code, reason) -> closeClient client code reason acc
            | Input.QueueEvent(name, payload, origin) -> queueEvent name payload origin acc
            | Input.PullEvent ->
                let s, fx = acc
                (if s.Stopped then s else { s with Waiting = true }), fx
            | Input.StartTimer delay -> startTimer delay acc
            | Input.CancelTimer id -> cancelTimer id acc
            | Input.Shutdown -> shutdown acc
            | Input.BindSucceeded(requested, actual) -> bindSucceeded requested actual acc
            | Input.BindFailed(requested, reason) -> bindFailed requested reason acc
            | Input.RequestArrived(id, port, upgrade, arrived) -> requestArrived id port upgrade arrived acc
            | Input.MessageArrived(client, data, binary) -> messageArrived client data binary acc
            | Input.ClientClosed(client, code, reason) -> clientClosed client code reason acc
            | Input.Terminate -> if (fst acc).Stopped then acc else admit Event.Terminate acc
            | Input.Tick now -> tick now acc
            | Input.Fetch(id, check) -> fetch id check acc
            | Input.FetchCompleted id -> fetchCompleted id acc
            | Input.OpenSocket -> openSocket acc
            | Input.SocketConnected client -> socketConnected client acc
            | Input.SocketFailed(client, reason) -> socketFailed client reason acc

        let s, fx = settle acc
        s, List.rev fx

    // The hot inputs (the event path's and a plain request's whole life) get a path of their
    // own that skips the accumulator and `settle`, and copies the state once. Each is exactly
    // what `stepAll` would do in the states it is taken in (the properties check the two against
    // each other).
    let step input (state: State) =
        match input with
        | Input.QueueEvent(name, payload, Origin.Script) when
            not state.Stopped
            && not state.Waiting
            && state.Queue.Count < state.Limits.QueueCapacity
            ->
            { state with
                Queue = Fifo.enqueue (Event.Custom(name, payload)) state.Queue
            },
            []
        | Input.PullEvent when not state.Stopped && state.Inbound.IsEmpty ->
            match Fifo.tryDequeue state.Queue with
            | ValueSome(struct (Event.HttpRequest(_, id) as event, rest)) ->
                { state with
                    Queue = rest
                    Waiting = false
                    Requests =
                        match Map.tryFind id state.Requests with
                        | Some r -> Map.add id { r with Stage = RequestStage.Held } state.Requests
                        | None -> state.Requests
                },
                [ Effect.Deliver event ]
            | ValueSome(struct (event, rest)) ->
                { state with
                    Queue = rest
                    Waiting = false
                },
                [ Effect.Deliver event ]
            | ValueNone -> { state with Waiting = true }, []
        // A plain request for a listener while the queue has room: it is queued, or handed to the
        // waiting script, with the whole deadline from now.
        | Input.RequestArrived(id, port, false, arrived) when
            not state.Stopped
            && state.Inbound.IsEmpty
            && state.Queue.Count < state.Limits.QueueCapacity
            && (not state.Waiting || state.Queue.IsEmpty)
            && arrived + state.Limits.ResponseDeadline > state.Now
            && Set.contains port state.Listeners
            && not (Map.containsKey id state.Requests)
            ->
            let deadline = state.Now + state.Limits.ResponseDeadline
            let event = Event.HttpRequest(port, id)

            let request stage =
                {
                    Id = id
                    Port = port
                    Stage = stage
                    Deadline = deadline
                }

            let deadlines = Fifo.enqueue (struct (deadline, id)) state.Deadlines

            if state.Waiting then
                { state with
                    Waiting = false
                    Requests = Map.add id (request RequestStage.Held) state.Requests
                    Deadlines = deadlines
                },
                [ Effect.Deliver event ]
            else
                { state with
                    Queue = Fifo.enqueue event state.Queue
                    Requests = Map.add id (request RequestStage.Queued) state.Requests
                    Deadlines = deadlines
                },
                []
        | Input.CloseResponse id ->
            match Map.tryFind id state.Requests with
            | Some r when r.Stage = RequestStage.Held -> forgetRequest r state, [ Effect.Answer(id, Answer.Scripted) ]
            | _ -> stepAll input state
        // Time passes and nothing falls due.
        | Input.Tick now when
            (Set.isEmpty state.Agenda || (Set.minElement state.Agenda).At > max now state.Now)
            && (match Fifo.tryPeek state.Deadlines with
                | ValueSome(struct (at, _)) -> at > max now state.Now
                | ValueNone -> true)
            ->
            (if now > state.Now then { state with Now = now } else state), []
        | _ -> stepAll input state

    /// The general path alone, for checking the fast paths against it.
    let stepGeneral input state = stepAll input state

    let nextWake (state: State) =
        let agenda =
            if Set.isEmpty state.Agenda then
                None
            else
                Some (Set.minElement state.Agenda).At

        match agenda, Fifo.tryPeek state.Deadlines with
        | Some a, ValueSome(struct (d, _)) -> Some(min a d)
        | None, ValueSome(struct (d, _)) -> Some d
        | a, ValueNone -> a

    let isOpen client (state: State) =
        match Map.tryFind client state.Clients with
        | Some c -> c.Stage = ClientStage.Open && not state.Stopped
        | None -> false

    let isPending request (state: State) = Map.containsKey request state.Requests
