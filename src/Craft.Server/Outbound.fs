/// The outbound side of a computer's network: the HTTP requests, URL checks and client
/// WebSockets a script starts (SPEC §6). Like the server's side it only carries out effects
/// (`StartFetch`, `AbandonFetch`, `Connect`, and `Send`, `Close`, `ResumeReading` for its
/// sockets) and posts what happened as inputs; the core decides what may start and when.
///
/// One `SocketsHttpHandler` per computer carries every request and every client WebSocket, and
/// every connection it makes goes through `connect`, which resolves the name itself and checks
/// each address against the rules before a byte is sent: redirects and names that resolve to a
/// denied address are refused the same way.
namespace Craft.Server

open System
open System.Buffers
open System.Collections.Concurrent
open System.Collections.Generic
open System.IO
open System.Net
open System.Net.Http
open System.Net.Sockets
open System.Net.Security
open System.Net.WebSockets
open System.Security.Authentication
open System.Security.Cryptography.X509Certificates
open System.Threading
open System.Threading.Tasks
open Craft

/// How a computer's outbound requests behave. Every limit is CC:Tweaked's by default.
type OutboundOptions =
    {
        /// The host's address rules, tried before the defaults (deny `$private`, allow the rest).
        Rules: AddressRule list
        /// Largest response body (16 MiB); larger: `Response is too large`.
        MaxDownloadBytes: int64
        /// Largest request body (4 MiB); larger: `Request body is too large`.
        MaxUploadBytes: int64
        /// Largest WebSocket message received; larger ones close the socket with 1009.
        MaxMessageBytes: int
        /// Bytes waiting to be sent on one client WebSocket before it is given up (1008).
        MaxSendQueueBytes: int64
        /// Keep-alive ping interval for client WebSockets.
        PingInterval: TimeSpan
        /// Sent when the script sets no `User-Agent`.
        UserAgent: string
        /// Certificates trusted as roots besides the system's (a private CA, a test's own).
        Trusted: X509Certificate2 array
    }

/// One request as the script made it.
type FetchRequest =
    {
        Url: Uri
        Method: string
        Headers: KeyValuePair<string, string> array
        /// Null: no body.
        Body: byte array
        /// Follow redirects (at most 16).
        Redirect: bool
        /// Zero: none.
        Timeout: TimeSpan
    }

/// A server's final answer.
type FetchResponse =
    {
        Status: int
        Reason: string
        /// Names as the server sent them; repeated headers joined with ",".
        Headers: KeyValuePair<string, string> array
        Body: byte array
    }

/// How a fetch ended: what the script's event will say.
[<RequireQualifiedAccess>]
type FetchOutcome =
    /// A 2xx answer: `http_success`.
    | Succeeded of response: FetchResponse
    /// No answer, or one outside 2xx: `http_failure(url, message[, handle])`.
    | Failed of message: string * response: FetchResponse option
    /// A URL check: `http_check(url, ok[, message])`.
    | Checked of ok: bool * message: string

/// A failure whose message is the one the script sees.
exception OutboundFailure of string

type Outbound(options: OutboundOptions, post: Action<Input>) =
    let post (input: Input) = post.Invoke input
    // Fetches under way: their cancellation, and when they time out (Environment.TickCount64;
    // 0: never).
    let running =
        ConcurrentDictionary<FetchId, struct (CancellationTokenSource * int64)>()

    let outcomes = ConcurrentDictionary<FetchId, FetchOutcome>()

    let sockets =
        ConcurrentDictionary<ClientId, struct (WebSocketClient * CancellationTokenSource)>()

    let mutable disposed = false

    static let redirects = 16

    /// The addresses a host name stands for (an address stands for itself).
    static let resolve (host: string) (ct: CancellationToken) =
        task {
            let host = host.TrimStart('[').TrimEnd(']')

            match IPAddress.TryParse host with
            | true, address -> return [| address |]
            | _ ->
                try
                    return! Dns.GetHostAddressesAsync(host, ct)
                with
                | :? OperationCanceledException -> return raise (OperationCanceledException())
                | _ -> return raise (OutboundFailure "Unknown host")
        }

    /// The addresses of `host` the rules let a script reach: `Domain not permitted` when none.
    let permitted (host: string) (ct: CancellationToken) =
        task {
            let! addresses = resolve host ct

            let allowed =
                addresses
                |> Array.filter (fun a -> AddressRules.decide options.Rules host a = RuleAction.Allow)

            if allowed.Length = 0 then
                raise (OutboundFailure "Domain not permitted")

            return allowed
        }

    /// Every connection the handler makes: only to a permitted address.
    let connect (context: SocketsHttpConnectionContext) (ct: CancellationToken) : ValueTask<Stream> =
        ValueTask<Stream>(
            task {
                let! allowed = permitted context.DnsEndPoint.Host ct
                let socket = new Socket(SocketType.Stream, ProtocolType.Tcp)
                socket.NoDelay <- true

                let! failure =
                    task {
                        try
                            do! socket.ConnectAsync(allowed, context.DnsEndPoint.Port, ct)
                            return null
                        with
                        | :? OperationCanceledException as e -> return e :> exn
                        | _ -> return OutboundFailure "Could not connect"
                    }

                if not (isNull failure) then
                    socket.Dispose()
                    raise failure

                return new NetworkStream(socket, true) :> Stream
            }
        )

    /// The system's verdict, or a chain that ends in one of the extra trusted certificates. A
    /// name that does not match is never accepted.
    let validate =
        RemoteCertificateValidationCallback(fun _ presented chain errors ->
            if errors = SslPolicyErrors.None then
                true
            elif
                options.Trusted.Length = 0
                || isNull presented
                || errors.HasFlag SslPolicyErrors.RemoteCertificateNameMismatch
                || errors.HasFlag SslPolicyErrors.RemoteCertificateNotAvailable
            then
                false
            else
                let leaf =
                    match presented with
                    | :? X509Certificate2 as c -> c
                    | c -> X509CertificateLoader.LoadCertificate(c.GetRawCertData())

                use custom = new X509Chain()
                custom.ChainPolicy.TrustMode <- X509ChainTrustMode.CustomRootTrust
                custom.ChainPolicy.RevocationMode <- X509RevocationMode.NoCheck
                custom.ChainPolicy.CustomTrustStore.AddRange(options.Trusted)

                if not (isNull chain) then
                    for element in chain.ChainElements do
                        custom.ChainPolicy.ExtraStore.Add element.Certificate |> ignore

                custom.Build leaf)

    let handler =
        new SocketsHttpHandler(
            AllowAutoRedirect = false,
            UseCookies = false,
            UseProxy = false,
            AutomaticDecompression = DecompressionMethods.All,
            ConnectCallback = Func<_, _, _>(connect),
            SslOptions = SslClientAuthenticationOptions(RemoteCertificateValidationCallback = validate),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds 30.0,
            // Header values are Lua bytes, one char per byte, both ways.
            RequestHeaderEncodingSelector = HeaderEncodingSelector(fun _ _ -> Text.Encoding.Latin1),
            ResponseHeaderEncodingSelector = HeaderEncodingSelector(fun _ _ -> Text.Encoding.Latin1)
        )

    let invoker = new HttpMessageInvoker(handler, false)

    /// What the script sees for a failure: ours, a timeout, TLS, or "Could not connect".
    static let describe (timedOut: bool) (e: exn) =
        let rec find (e: exn) =
            match e with
            | null -> None
            | OutboundFailure message -> Some message
            | :? AuthenticationException -> Some "Could not create a secure connection"
            | e -> find e.InnerException

        match find e with
        | Some message -> message
        | None when timedOut -> "Timed out"
        | None -> "Could not connect"

    static let isRedirect status =
        status = 301 || status = 302 || status = 303 || status = 307 || status = 308

    static let schemeOk (url: Uri) =
        url.Scheme = "http" || url.Scheme = "https"

    /// Reads a body up to the limit (the caller checks whether it went past it).
    let readBody (response: HttpResponseMessage) (ct: CancellationToken) =
        task {
            let declared = response.Content.Headers.ContentLength

            if declared.HasValue && declared.Value > options.MaxDownloadBytes then
                raise (OutboundFailure "Response is too large")

            if declared.HasValue then
                // The common case: the length is known and within the limit; read it in one piece.
                let! bytes = response.Content.ReadAsByteArrayAsync(ct)

                if int64 bytes.Length > options.MaxDownloadBytes then
                    raise (OutboundFailure "Response is too large")

                return bytes
            else

                use! stream = response.Content.ReadAsStreamAsync(ct)
                use memory = new MemoryStream()
                // A pooled scratch buffer: a fresh 16 KiB one per response was most of what a
                // proxied request allocated.
                let buffer = ArrayPool<byte>.Shared.Rent 16384

                try
                    let mutable reading = true

                    while reading do
                        let! n = stream.ReadAsync(buffer.AsMemory(), ct)

                        if n = 0 then
                            reading <- false
                        else
                            memory.Write(buffer, 0, n)

                            if memory.Length > options.MaxDownloadBytes then
                                raise (OutboundFailure "Response is too large")

                    return memory.ToArray()
                finally
                    ArrayPool<byte>.Shared.Return buffer
        }

    static let headersOf (response: HttpResponseMessage) =
        [|
            for KeyValue(name, values) in response.Headers.NonValidated do
                yield KeyValuePair(name, String.Join(",", values))
            for KeyValue(name, values) in response.Content.Headers.NonValidated do
                yield KeyValuePair(name, String.Join(",", values))
        |]

    let message (request: FetchRequest) (url: Uri) (method: string) (body: byte array) =
        let message = new HttpRequestMessage(HttpMethod(method), url)
        message.Version <- HttpVersion.Version11
        message.VersionPolicy <- HttpVersionPolicy.RequestVersionOrLower

        if not (isNull body) then
            message.Content <- new ByteArrayContent(body)

        let mutable agent = false
        let mutable contentType = false

        for KeyValue(name, value) in request.Headers do
            if String.Equals(name, "User-Agent", StringComparison.OrdinalIgnoreCase) then
                agent <- true

            if
                not (message.Headers.TryAddWithoutValidation(name, value))
                && not (isNull message.Content)
            then
                if String.Equals(name, "Content-Type", StringComparison.OrdinalIgnoreCase) then
                    contentType <- true

                message.Content.Headers.TryAddWithoutValidation(name, value) |> ignore

        if not agent then
            message.Headers.TryAddWithoutValidation("User-Agent", options.UserAgent)
            |> ignore

        if not (isNull body) && not contentType then
            message.Content.Headers.TryAddWithoutValidation(
                "Content-Type",
                "application/x-www-form-urlencoded; charset=utf-8"
            )
            |> ignore

        message

    /// One request, its redirects followed as the script asked.
    let fetch (request: FetchRequest) (ct: CancellationToken) =
        task {
            if not (isNull request.Body) && int64 request.Body.Length > options.MaxUploadBytes then
                return FetchOutcome.Failed("Request body is too large", None)
            else
                let mutable url = request.Url
                let mutable method = request.Method
                let mutable body = request.Body
                let mutable hops = 0
                let mutable outcome = None

                while outcome.IsNone do
                    use message = message request url method body
                    use! response = invoker.SendAsync(message, ct)
                    let status = int response.StatusCode
                    let location = response.Headers.Location

                    if
                        request.Redirect
                        && hops < redirects
                        && isRedirect status
                        && not (isNull location)
                    then
                        let next =
                            if location.IsAbsoluteUri then
                                location
                            else
                                Uri(url, location)

                        if not (schemeOk next) then
                            outcome <- Some(FetchOutcome.Failed($"Invalid protocol '{next.Scheme}'", None))
                        else
                            hops <- hops + 1
                            url <- next

                            if status = 303 && method <> "HEAD" then
                                method <- "GET"
                                body <- null
                    else
                        let! bytes = readBody response ct

                        let reason =
                            match response.ReasonPhrase with
                            | null
                            | "" -> Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase status
                            | phrase -> phrase

                        let answer =
                            {
                                Status = status
                                Reason = reason
                                Headers = headersOf response
                                Body = bytes
                            }

                        outcome <-
                            Some(
                                if status >= 200 && status <= 299 then
                                    FetchOutcome.Succeeded answer
                                else
                                    FetchOutcome.Failed(reason, Some answer)
                            )

                return outcome.Value
        }

    /// Cancels a fetch's work; one already finished (its source disposed) has nothing to cancel.
    static let cancel (cts: CancellationTokenSource) =
        try
            cts.Cancel()
        with _ ->
            ()

    /// Stops fetch `id` if it runs: it will report no outcome.
    let stopRunning (id: FetchId) =
        match running.TryRemove id with
        | true, struct (cts, _) -> cancel cts
        | _ -> ()

    /// Cancels the fetches past their timeout. One sweep every 100 ms rather than a timer per
    /// fetch: creating and dropping a timer per request took the timer queue's lock each time,
    /// and the computer's thread waited on it.
    let expire () =
        let now = Environment.TickCount64

        for KeyValue(_, struct (cts, deadline)) in running do
            if deadline <> 0L && now >= deadline then
                cancel cts

    let mutable sweeper: Timer = null

    /// Runs `work` for fetch `id` under its timeout and its abandonment; reports the outcome.
    let run (id: FetchId) (timeout: TimeSpan) (work: CancellationToken -> Task<FetchOutcome>) =
        let cts = new CancellationTokenSource()

        let deadline =
            if timeout > TimeSpan.Zero then
                Environment.TickCount64 + max 1L (int64 (ceil timeout.TotalMilliseconds))
            else
                0L

        if deadline <> 0L && isNull (Volatile.Read(&sweeper)) then
            let timer =
                new Timer((fun _ -> expire ()), null, Timeout.Infinite, Timeout.Infinite)

            if isNull (Interlocked.CompareExchange(&sweeper, timer, null)) then
                timer.Change(100, 100) |> ignore
            else
                timer.Dispose()

        if running.TryAdd(id, struct (cts, deadline)) then
            task {
                let! outcome =
                    task {
                        try
                            return! Task.Run<FetchOutcome>(fun () -> work cts.Token)
                        with e ->
                            return FetchOutcome.Failed(describe cts.IsCancellationRequested e, None)
                    }

                // Abandoned meanwhile (shutdown): nobody wants it.
                if running.TryRemove(id) |> fst then
                    outcomes[id] <- outcome
                    post (Input.FetchCompleted id)

                cts.Dispose()
            }
            |> ignore

    /// Starts an HTTP request; `FetchCompleted` follows.
    member _.Start(id: FetchId, request: FetchRequest) = run id request.Timeout (fetch request)

    /// Starts a URL check (resolve the name, apply the rules); `FetchCompleted` follows.
    member _.Check(id: FetchId, url: Uri) =
        run id (TimeSpan.FromSeconds 30.0) (fun ct ->
            task {
                try
                    let! _ = permitted url.IdnHost ct
                    return FetchOutcome.Checked(true, null)
                with OutboundFailure message ->
                    return FetchOutcome.Checked(false, message)
            })

    /// The outcome of a completed fetch, once; null if there is none.
    member _.TakeOutcome(id: FetchId) : FetchOutcome =
        match outcomes.TryRemove id with
        | true, outcome -> outcome
        | _ -> Unchecked.defaultof<_>

    /// Forgets a fetch: cancels it if it runs, drops its outcome if it has one.
    member _.Abandon(id: FetchId) =
        stopRunning id
        outcomes.TryRemove id |> ignore

    /// Opens a client WebSocket; `SocketConnected` or `SocketFailed` follows, then its messages
    /// and its end as a server client's.
    member _.Connect(client: ClientId, url: Uri, headers: KeyValuePair<string, string> array, timeout: TimeSpan) =
        let c = WebSocketClient(client)
        let cts = new CancellationTokenSource()
        sockets[client] <- struct (c, cts)

        task {
            let socket = new ClientWebSocket()
            let mutable connected = false

            try
                try
                    socket.Options.KeepAliveInterval <- options.PingInterval
                    let mutable agent = false

                    for KeyValue(name, value) in headers do
                        if String.Equals(name, "Sec-WebSocket-Protocol", StringComparison.OrdinalIgnoreCase) then
                            for p in value.Split(',') do
                                if p.Trim() <> "" then
                                    socket.Options.AddSubProtocol(p.Trim())
                        else
                            if String.Equals(name, "User-Agent", StringComparison.OrdinalIgnoreCase) then
                                agent <- true

                            socket.Options.SetRequestHeader(name, value)

                    if not agent then
                        socket.Options.SetRequestHeader("User-Agent", options.UserAgent)

                    use limit = CancellationTokenSource.CreateLinkedTokenSource(cts.Token)

                    if timeout > TimeSpan.Zero then
                        limit.CancelAfter timeout

                    try
                        do! socket.ConnectAsync(url, invoker, limit.Token)
                    with e ->
                        let message =
                            match e with
                            | :? WebSocketException as w when
                                isNull w.InnerException || not (w.InnerException :? HttpRequestException)
                                ->
                                match describe false e with
                                | "Could not connect" when not limit.IsCancellationRequested -> w.Message
                                | other -> other
                            | _ -> describe limit.IsCancellationRequested e

                        raise (OutboundFailure message)

                    connected <- true
                    c.Socket <- socket
                    post (Input.SocketConnected client)

                    if Volatile.Read(&c.Overflowed) = 1 then
                        socket.Abort()

                    let ending =
                        {
                            CloseHadCode =
                                fun () ->
                                    socket.CloseStatus.HasValue
                                    && socket.CloseStatus.Value <> WebSocketCloseStatus.Empty
                            SentClose = fun () -> 0
                            Aborted = fun () -> false
                        }

                    let sending = WebSocketPump.send c socket
                    do! WebSocketPump.receive post options.MaxMessageBytes ending c socket
                    c.Sends.Writer.TryComplete() |> ignore
                    do! sending
                with e ->
                    if not connected then
                        let message =
                            match e with
                            | OutboundFailure message -> message
                            | e -> describe false e

                        post (Input.SocketFailed(client, message))
            finally
                sockets.TryRemove client |> ignore
                socket.Dispose()
                cts.Dispose()
        }
        |> ignore

    /// Whether the client is one of this side's WebSockets.
    member _.Owns(client: ClientId) = sockets.ContainsKey client

    member _.SendMessage(client: ClientId, data: byte array, binary: bool) =
        match sockets.TryGetValue client with
        | true, struct (c, _) -> WebSocketPump.enqueue post options.MaxSendQueueBytes c data binary
        | _ -> ()

    /// Closes a client WebSocket; one still connecting gives up.
    member _.Close(client: ClientId, code: int, reason: string) =
        match sockets.TryGetValue client with
        | true, struct (c, cts) ->
            if isNull c.Socket then
                try
                    cts.Cancel()
                with _ ->
                    ()

            WebSocketPump.close c code reason
        | _ -> ()

    member _.ResumeReading(client: ClientId) =
        match sockets.TryGetValue client with
        | true, struct (c, _) -> c.Resume.Release()
        | _ -> ()

    /// Cancels every request and check, and aborts every client WebSocket still open (the core
    /// has already asked for their close frames).
    member _.Dispose() =
        if not disposed then
            disposed <- true

            match Interlocked.Exchange(&sweeper, null) with
            | null -> ()
            | timer -> timer.Dispose()

            for KeyValue(id, _) in running do
                stopRunning id

            outcomes.Clear()

            // Close frames the core asked for get a moment to reach their peers.
            let until = DateTime.UtcNow + TimeSpan.FromSeconds 2.0

            while not sockets.IsEmpty && DateTime.UtcNow < until do
                Thread.Sleep 5

            for KeyValue(_, struct (c, cts)) in sockets do
                match c.Socket with
                | null -> ()
                | socket -> socket.Abort()

                try
                    cts.Cancel()
                with _ ->
                    ()

                c.Resume.Release()

            invoker.Dispose()
            handler.Dispose()

    interface IDisposable with
        member this.Dispose() = this.Dispose()
