/// The pure core of a Craft computer: listeners, WebSocket servers, clients, pending requests,
/// timers and the event queue as immutable data, changed only by `Core.step`.
///
/// Nothing here performs I/O, reads a clock, starts a thread or mutates shared state. Time
/// arrives as data (`Input.Tick`), and everything the world must do arrives back as data
/// (`Effect`), which a shell carries out. A step never throws for an expected outcome: a port in
/// use, a closed handle or an oversized message are replies.
namespace Craft

/// A TCP port number (0..65535; 0 asks the system for a free one).
type Port = int

/// Identifies one HTTP request. Assigned by the shell; unique for the computer's lifetime.
type RequestId = int64

/// Identifies one WebSocket client. Assigned by the core; never reused by a computer.
type ClientId = int64

/// Identifies one timer started by the script.
type TimerId = int

/// Identifies the parameters of an event queued by the script or the host. The parameters
/// themselves (Lua values) stay with the host; the core only orders the events.
type PayloadId = int64

/// Milliseconds on the computer's clock (the shell decides where zero is).
type Millis = int64

/// Identifies one outbound HTTP request or URL check (`http.request`, `http.checkURLAsync`).
/// Assigned by the host, which keeps what was asked and what came back; unique for the
/// computer's lifetime.
type FetchId = int64

/// The limits the core enforces. Every one is configurable; `Limits.defaults` gives SPEC's values.
type Limits =
    {
        /// Events the queue holds at most (CraftOS: 256). Script events beyond it are dropped.
        QueueCapacity: int
        /// Network requests and connections that may wait for room in the queue (default 4096).
        /// Past it they are answered 503.
        BacklogCapacity: int
        /// How long the script has to close a response after its event was queued (default 15 s).
        ResponseDeadline: Millis
        /// Largest WebSocket message the script may send (default 128 KiB).
        MaxMessageBytes: int
        /// Outbound HTTP requests running at once (default 16, as CC:Tweaked); more wait their turn.
        MaxFetches: int
        /// Client WebSockets open or connecting at once (default 4, as CC:Tweaked); more are refused.
        MaxClientSockets: int
    }

[<RequireQualifiedAccess>]
module Limits =
    /// SPEC's defaults: queue 256, backlog 4096, deadline 15 s, messages 128 KiB, 16 outbound
    /// requests, 4 client WebSockets.
    val defaults: Limits

/// An event as the script sees it, in the order it sees them.
[<RequireQualifiedAccess>]
type Event =
    /// `http_request(port, req, res)`.
    | HttpRequest of port: Port * request: RequestId
    /// `websocket_server_connect(port, handle)`.
    | WebSocketConnect of port: Port * client: ClientId
    /// `websocket_server_message(clientID, message, isBinary)`, or `websocket_message(url, message,
    /// isBinary)` for a client WebSocket the script opened. The array is never mutated.
    | WebSocketMessage of client: ClientId * data: byte array * binary: bool
    /// `websocket_server_closed(clientID, reason, code)`, or `websocket_closed(url, reason, code)`.
    | WebSocketClosed of client: ClientId * reason: string option * code: int option
    /// `timer(id)`.
    | Timer of timer: TimerId
    /// `terminate`.
    | Terminate
    /// Any other event, queued by `os.queueEvent` or by the host; its parameters stay with the host.
    | Custom of name: string * payload: PayloadId
    /// An outbound request or URL check finished: `http_success`, `http_failure` or `http_check`
    /// (the host holds the outcome).
    | Fetched of fetch: FetchId
    /// `websocket_success(url, handle)`: a client WebSocket connected; its messages follow.
    | SocketOpened of client: ClientId
    /// `websocket_failure(url, reason)`: a client WebSocket could not connect. Nothing follows.
    | SocketFailed of client: ClientId * reason: string

/// Who queued a `Custom` event. The script's events are dropped when the queue is full (as in
/// CraftOS); the host's wait in the backlog like network events.
[<RequireQualifiedAccess>]
type Origin =
    | Script
    | Host

/// What a bind is for.
[<RequireQualifiedAccess>]
type Purpose =
    | Http
    | WebSocket

/// Where an HTTP request is in its life.
[<RequireQualifiedAccess>]
type RequestStage =
    /// Waiting in the inbound backlog for room in the event queue.
    | Backlog
    /// Its `http_request` event is in the queue.
    | Queued
    /// Its event was delivered; the script holds the handles.
    | Held

/// A request that has not been answered yet.
type Request =
    {
        Id: RequestId
        Port: Port
        Stage: RequestStage
        /// When it is answered without the script (503 while waiting, the buffered response once held).
        Deadline: Millis
    }

[<RequireQualifiedAccess>]
type ClientStage =
    /// A client WebSocket the script opened, not connected yet.
    | Connecting
    /// Connected; its events flow.
    | Open
    /// The script closed it; its closed event is queued, the connection is finishing.
    | Closing

/// A connected WebSocket client.
type Client =
    {
        Id: ClientId
        /// The server's port; -1 for a client WebSocket the script opened.
        Port: Port
        Stage: ClientStage
        /// The script opened it (`http.websocket`), rather than a server accepting it.
        Outbound: bool
    }

/// A persistent first-in first-out queue with a count.
type Fifo<'T> =
    private
        {
            Front: 'T list
            Back: 'T list
            Length: int
        }

    member Count: int
    member IsEmpty: bool

[<RequireQualifiedAccess>]
module Fifo =
    /// The empty queue (one shared value per element type).
    val empty<'T> : Fifo<'T>
    val enqueue: 'T -> Fifo<'T> -> Fifo<'T>
    /// The first element and the rest, or ValueNone when empty. A struct result: the event path
    /// dequeues once per event and should not allocate for the answer itself.
    val tryDequeue: Fifo<'T> -> struct ('T * Fifo<'T>) voption
    /// The first element, or ValueNone when empty (constant time).
    val tryPeek: Fifo<'T> -> 'T voption
    val toList: Fifo<'T> -> 'T list
    /// Whether the queue holds the element (no list built).
    val contains: 'T -> Fifo<'T> -> bool when 'T: equality
    val filter: ('T -> bool) -> Fifo<'T> -> Fifo<'T>

/// Something scheduled in time.
[<RequireQualifiedAccess>]
type Due =
    | Timer of TimerId
    | Request of RequestId

/// An entry of the agenda: when, and what falls due then. Ordered by time, then timers before
/// requests, then by id.
[<CustomEquality; CustomComparison>]
type DueAt =
    {
        At: Millis
        What: Due
    }

    member CompareTo: other: DueAt -> int
    override Equals: other: obj -> bool
    override GetHashCode: unit -> int
    interface System.IComparable<DueAt>
    interface System.IComparable

/// The part of a computer's state that requests and events seldom change: its limits, ports,
/// clients, timers and outbound work. (Kept apart so that the request path, which copies the
/// state at every step, copies a small record.)
type ColdState =
    {
        Limits: Limits
        /// Ports with an HTTP listener.
        Listeners: Set<Port>
        /// Ports with a WebSocket server.
        WebSocketServers: Set<Port>
        /// Binds asked for and not yet reported, oldest first.
        Binding: (Port * Purpose) list
        /// Ports whose socket is open (a listener or a WebSocket server, or both, uses them).
        Bound: Set<Port>
        Clients: Map<ClientId, Client>
        /// Running timers and when they fall due.
        Timers: Map<TimerId, Millis>
        NextTimerId: TimerId
        NextClientId: ClientId
        /// Events the script queued while the queue was full.
        Dropped: int64
        /// The computer has shut down.
        Stopped: bool
        /// Outbound requests running (at most `Limits.MaxFetches`).
        Fetching: Set<FetchId>
        /// How many `Fetching` holds (a set counts its elements one by one).
        FetchingCount: int
        /// Outbound requests waiting for one of those to finish, in order.
        FetchWaiting: Fifo<FetchId>
        /// URL checks running (not limited: they only resolve a name).
        Checking: Set<FetchId>
        /// Client WebSockets connecting, open or closing (at most `Limits.MaxClientSockets`).
        Sockets: int
    }

/// The whole state of one computer: what the request and event paths change, and the rest in
/// `Cold` (whose fields it also shows as its own, to read).
type State =
    {
        /// The latest time the core was told.
        Now: Millis
        Requests: Map<RequestId, Request>
        /// The event queue, at most `Limits.QueueCapacity` long.
        Queue: Fifo<Event>
        /// Events from the network, timers and the host waiting for room in the queue, in order.
        Inbound: Fifo<Event>
        /// HTTP requests and upgrades in `Inbound` (bounded by `Limits.BacklogCapacity`).
        Backlog: int
        /// The script asked for an event and none was there yet.
        Waiting: bool
        /// Timers, and the deadlines of requests waiting in the inbound backlog, by time.
        Agenda: Set<DueAt>
        /// The deadlines of requests in the queue or held by the script, as (time, request), in
        /// the order they were set, which is their order in time: each was `Now + ResponseDeadline`
        /// then. An entry whose request is gone, or has been given a later deadline, is stale: the
        /// front is kept clear of them, and they are all dropped once they make up most of it. (A
        /// queue costs a request less than a place in `Agenda`, a sorted set.)
        Deadlines: Fifo<struct (Millis * RequestId)>
        /// The length of `Deadlines` after stale entries were last dropped from it (or less).
        DeadlinesKept: int
        Cold: ColdState
    }

    member Limits: Limits
    member Listeners: Set<Port>
    member WebSocketServers: Set<Port>
    member Binding: (Port * Purpose) list
    member Bound: Set<Port>
    member Clients: Map<ClientId, Client>
    member Timers: Map<TimerId, Millis>
    member NextTimerId: TimerId
    member NextClientId: ClientId
    member Dropped: int64
    member Stopped: bool
    member Fetching: Set<FetchId>
    member FetchingCount: int
    member FetchWaiting: Fifo<FetchId>
    member Checking: Set<FetchId>
    member Sockets: int

/// Everything that can happen to a computer: what the script asks, and what the world reports.
[<RequireQualifiedAccess>]
type Input =
    // The script.
    /// `http.addListener(port)`.
    | AddListener of port: Port
    /// `http.removeListener(port)`.
    | RemoveListener of port: Port
    /// `http.websocketServer(port)`.
    | OpenWebSocketServer of port: Port
    /// `server.close()`.
    | CloseWebSocketServer of port: Port
    /// `res.flush()`: the response starts streaming.
    | FlushResponse of request: RequestId
    /// `res.close()`: the response is complete.
    | CloseResponse of request: RequestId
    /// `client.send(message, binary)`.
    | Send of client: ClientId * data: byte array * binary: bool
    /// `client.close(code, reason)`.
    | CloseClient of client: ClientId * code: int * reason: string
    /// `os.queueEvent(name, ...)` (script) or `Computer.QueueEvent` (host).
    | QueueEvent of name: string * payload: PayloadId * origin: Origin
    /// The script waits for its next event.
    | PullEvent
    /// `os.startTimer(seconds)`, in milliseconds.
    | StartTimer of delay: Millis
    /// `os.cancelTimer(id)`.
    | CancelTimer of timer: TimerId
    /// The script ended (returned, failed or called `os.shutdown()`).
    | Shutdown
    // The world.
    /// A bind asked for by `Effect.Bind` succeeded on `actual` (which differs from 0 when 0 was asked).
    | BindSucceeded of requested: Port * actual: Port
    /// A bind asked for by `Effect.Bind` failed.
    | BindFailed of requested: Port * reason: string
    /// A whole request arrived on a port; `upgrade` when it asks for a WebSocket; `arrived` is when
    /// the shell finished reading it. Its wait for room in the queue counts from `arrived`: one
    /// already past its deadline when the core hears of it is answered 503 at once.
    | RequestArrived of request: RequestId * port: Port * upgrade: bool * arrived: Millis
    /// A whole message arrived from a client.
    | MessageArrived of client: ClientId * data: byte array * binary: bool
    /// A client's connection ended: the peer's close code and reason, or 1006 on a network error.
    | ClientClosed of client: ClientId * code: int option * reason: string option
    /// Ctrl-C, SIGTERM or cancellation: a `terminate` event.
    | Terminate
    /// The clock reads `now`: timers and deadlines up to it fall due.
    | Tick of now: Millis
    // Outbound activity: the script's requests, and what the world reports of them.
    /// `http.request` (`check = false`) or `http.checkURLAsync` (`check = true`), with an id the
    /// host chose. A request starts (`Effect.StartFetch`) when fewer than `MaxFetches` run,
    /// otherwise it waits its turn; a check starts at once.
    | Fetch of fetch: FetchId * check: bool
    /// A started fetch finished, whatever its outcome (the host holds it): one `Fetched` event.
    | FetchCompleted of fetch: FetchId
    /// `http.websocket`: replies `SocketStarted` (and asks `Effect.Connect`) or `TooManySockets`.
    | OpenSocket
    /// A client WebSocket's handshake succeeded.
    | SocketConnected of client: ClientId
    /// A client WebSocket could not connect (refused, denied, timed out, bad handshake).
    | SocketFailed of client: ClientId * reason: string

/// How a request is answered.
[<RequireQualifiedAccess>]
type Answer =
    /// With the response the script built.
    | Scripted
    /// The deadline passed while the script held it: what was buffered, as CraftOS does.
    | Deadline
    /// 503 with `Retry-After`: overload, a removed listener, a deadline passed while waiting, shutdown.
    | Unavailable
    /// 426: a plain request to a port where only a WebSocket server listens.
    | UpgradeRequired

/// The outcome of a script's request that it waits for.
[<RequireQualifiedAccess>]
type Reply =
    /// An HTTP listener is on this port.
    | Listening of port: Port
    /// A WebSocket server is on this port.
    | ServerOpened of port: Port
    /// This computer already has a WebSocket server on the port.
    | PortInUse
    /// The port could not be bound.
    | CouldNotOpen of reason: string
    /// The message was handed to the connection.
    | Sent
    /// The message is larger than `Limits.MaxMessageBytes`.
    | MessageTooLarge
    /// The handle was closed (by the script, the peer, the deadline or shutdown).
    | HandleClosed
    /// Done.
    | Done
    /// A timer started.
    | TimerStarted of timer: TimerId
    /// A client WebSocket is connecting; its `SocketOpened` or `SocketFailed` event will follow.
    | SocketStarted of client: ClientId
    /// `MaxClientSockets` client WebSockets are already open or connecting.
    | TooManySockets

/// What the shell must do, in order.
[<RequireQualifiedAccess>]
type Effect =
    /// Open a listening socket on the port (0: any free port), then report `BindSucceeded` or `BindFailed`.
    | Bind of port: Port
    /// Close the port's listening socket; connections already accepted may finish.
    | Release of port: Port
    /// Answer the request, once.
    | Answer of request: RequestId * answer: Answer
    /// Send the response's status line, headers and buffered body now, and stream what follows.
    | Flush of request: RequestId
    /// Complete the WebSocket handshake of a request; the connection is the client `client`.
    | Accept of request: RequestId * client: ClientId
    /// Send a whole message to a client.
    | Send of client: ClientId * data: byte array * binary: bool
    /// Send a close frame and close the connection.
    | Close of client: ClientId * code: int * reason: string
    /// The client's last message entered the queue: read its next one.
    | ResumeReading of client: ClientId
    /// Resume the script with this event.
    | Deliver of event: Event
    /// An event the script queued was dropped (queue full): free its parameters.
    | Discard of payload: PayloadId
    /// Give the script the outcome of what it asked.
    | Reply of reply: Reply
    /// Carry out the outbound request or check, then report `FetchCompleted`.
    | StartFetch of fetch: FetchId
    /// Forget the fetch: cancel it if it runs, drop its outcome if it has one. Nothing is reported.
    | AbandonFetch of fetch: FetchId
    /// Open the client WebSocket, then report `SocketConnected` or `SocketFailed`; once open, its
    /// messages and its end are reported as a server client's are (`MessageArrived`,
    /// `ClientClosed`), and `Send`, `Close` and `ResumeReading` apply to it alike.
    | Connect of client: ClientId

[<RequireQualifiedAccess>]
module Core =
    /// A new computer's state.
    val initial: Limits -> State

    /// Apply one input. Total: defined for every input in every state; never throws.
    val step: Input -> State -> State * Effect list

    /// The same as `step` without its fast paths: exists so that tests can check the two agree.
    val stepGeneral: Input -> State -> State * Effect list

    /// The earliest time a timer or a deadline falls due, if any: the shell should `Tick` then.
    val nextWake: State -> Millis option

    /// Whether the client handle is still usable for `send` and `receive`.
    val isOpen: ClientId -> State -> bool

    /// Whether the request's response handle is still usable (not answered yet).
    val isPending: RequestId -> State -> bool
