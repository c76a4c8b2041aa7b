/// What the HTTP tests share: a real `Computer` running a script from `lua/http/` (or an example),
/// whose printed lines the test can wait for and whose `read()` the test can feed; a raw HTTP/1.1
/// client over a socket, for exact bytes and for what a well-behaved client never sends; a shared
/// `HttpClient`; and `curl`.
module Craft.Tests.HttpHelpers

open System
open System.Diagnostics
open System.IO
open System.Net.Http
open System.Net.Sockets
open System.Text
open System.Threading
open Craft.Interop
open Craft.Tests.ScriptHost
open Expecto

/// Bytes as one char per byte, and back: HTTP heads and Lua strings are bytes.
let latin1 = Encoding.Latin1

let bytesOf (text: string) = latin1.GetBytes text
let textOf (bytes: byte array) = latin1.GetString bytes

/// A test script's path: `lua/http/<name>` next to the test assembly.
let scriptPath (name: string) =
    Path.Combine(AppContext.BaseDirectory, "lua", "http", name)

/// An example's path (the examples are copied next to the test assembly).
let examplePath (name: string) =
    Path.Combine(AppContext.BaseDirectory, "examples", name)

/// The defaults, with output captured and input fed by the test.
let standard: Setup =
    fun out err input -> ComputerOptions(Output = out, Error = err, Input = input)

/// The defaults with a response deadline of `seconds`.
let deadlineOf (seconds: float) : Setup =
    fun out err input ->
        ComputerOptions(Output = out, Error = err, Input = input, ResponseDeadline = TimeSpan.FromSeconds seconds)

/// The defaults with small head limits: request line 100 bytes, header block 200 bytes, 5 header
/// lines, and 1 s to send them.
let smallHeads: Setup =
    fun out err input ->
        ComputerOptions(
            Output = out,
            Error = err,
            Input = input,
            MaxRequestLineBytes = 100,
            MaxRequestHeaderBytes = 200,
            MaxRequestHeaderCount = 5,
            RequestHeadersTimeout = TimeSpan.FromSeconds 1.0
        )

/// The defaults with a request body limit of `bytes`.
let bodyLimitOf (bytes: int64) : Setup =
    fun out err input -> ComputerOptions(Output = out, Error = err, Input = input, MaxRequestBodyBytes = bytes)

/// Runs the script at `path` and waits for the first printed line that `portOf` finds a port in;
/// `Stop` queues `server_stop` (which every test script ends on).
let launch setup portOf path args =
    launchWith "server_stop" setup portOf path args

/// Starts `lua/http/<name>` set up by `setup` and waits until it prints `port N`.
let startWith setup (name: string) (args: string list) =
    launch setup portLine (scriptPath name) args

let start name args = startWith standard name args

let withScript setup name args body =
    withRunning (startWith setup name args) body

// ---- A raw HTTP/1.1 client ----

/// A response as received on the wire.
type RawResponse =
    {
        /// The status line, as sent (`HTTP/1.1 200 OK`).
        StatusLine: string
        Status: int
        Reason: string
        /// Header lines in order, names as sent.
        Headers: (string * string) list
        /// The body, chunked encoding removed.
        Body: byte array
        /// Whether the body came chunked.
        Chunked: bool
    }

    /// Every value of a header (names compared ignoring case).
    member this.Values(name: string) =
        this.Headers
        |> List.filter (fun (n, _) -> String.Equals(n, name, StringComparison.OrdinalIgnoreCase))
        |> List.map snd

    /// A header's one value, if present.
    member this.Header(name: string) = this.Values name |> List.tryHead

    member this.Text = textOf this.Body

/// One TCP connection to a port, reading responses off it exactly.
type RawConnection(tcp: TcpClient) =
    inherit TcpPeer(tcp)
    let stream = tcp.GetStream()
    let mutable buffered: byte array = [||]
    let mutable ended = false

    /// Reads more bytes into the buffer; false at the end of the stream.
    let fill () =
        task {
            let chunk = Array.zeroCreate<byte> 65536
            use cts = new CancellationTokenSource(patience)

            let! n =
                task {
                    try
                        return! stream.ReadAsync(chunk.AsMemory(), cts.Token)
                    with :? IOException ->
                        return 0
                }

            if n = 0 then
                ended <- true
                return false
            else
                buffered <- Array.append buffered chunk[0 .. n - 1]
                return true
        }

    let take count =
        let taken = buffered[0 .. count - 1]
        buffered <- buffered[count..]
        taken

    let indexOf (pattern: byte array) =
        let span = ReadOnlySpan<byte>(buffered)
        span.IndexOf(ReadOnlySpan<byte>(pattern))

    /// Bytes up to and including `terminator`; fails if the connection ends first.
    let readThrough (terminator: string) =
        task {
            let pattern = bytesOf terminator
            let mutable at = indexOf pattern

            while at < 0 do
                let! more = fill ()

                if not more then
                    failtestf "the connection ended before %A (had %A)" terminator (textOf buffered)

                at <- indexOf pattern

            return take (at + pattern.Length)
        }

    let readExactly count =
        task {
            while buffered.Length < count do
                let! more = fill ()

                if not more then
                    failtestf "the connection ended after %d of %d body bytes" buffered.Length count

            return take count
        }

    let readToEnd () =
        task {
            let mutable more = true

            while more do
                let! m = fill ()
                more <- m

            return take buffered.Length
        }

    static member Open(port: int) =
        task {
            let tcp = new TcpClient()
            tcp.NoDelay <- true
            use cts = new CancellationTokenSource(patience)
            do! tcp.ConnectAsync("127.0.0.1", port, cts.Token)
            return new RawConnection(tcp)
        }

    /// The client side's port, as the server sees it.
    member _.LocalPort = (tcp.Client.LocalEndPoint :?> Net.IPEndPoint).Port

    member _.Send(bytes: byte array) =
        task {
            do! stream.WriteAsync(bytes.AsMemory())
            do! stream.FlushAsync()
        }

    member this.SendText(text: string) = this.Send(bytesOf text)

    /// Reads one response. `head`: it answers a HEAD request (no body whatever the headers say).
    member _.ReadResponse(?head: bool) =
        task {
            let! headBytes = readThrough "\r\n\r\n"
            let headText = textOf headBytes
            let lines = headText.Split("\r\n") |> Array.filter (fun l -> l <> "")
            let statusLine = lines[0]
            let parts = statusLine.Split(' ', 3)
            let status = int parts[1]
            let reason = if parts.Length > 2 then parts[2] else ""

            let headers =
                [
                    for line in lines[1..] ->
                        let colon = line.IndexOf ':'
                        line.Substring(0, colon), line.Substring(colon + 1).Trim()
                ]

            let value name =
                headers
                |> List.tryFind (fun (n, _) -> String.Equals(n, name, StringComparison.OrdinalIgnoreCase))
                |> Option.map snd

            let noBody = defaultArg head false || status < 200 || status = 204 || status = 304

            let chunked =
                value "Transfer-Encoding"
                |> Option.exists (fun v -> v.Contains("chunked", StringComparison.OrdinalIgnoreCase))

            let! body =
                task {
                    if noBody then
                        return [||]
                    elif chunked then
                        use all = new MemoryStream()
                        let mutable last = false

                        while not last do
                            let! sizeLine = readThrough "\r\n"
                            let size = Convert.ToInt32((textOf sizeLine).Trim().Split(';')[0], 16)

                            if size = 0 then
                                // Trailers (none expected), then the empty line.
                                let! first = readThrough "\r\n"
                                let mutable trailer = textOf first

                                while trailer <> "\r\n" do
                                    let! next = readThrough "\r\n"
                                    trailer <- textOf next

                                last <- true
                            else
                                let! data = readExactly size
                                all.Write(data, 0, data.Length)
                                let! _ = readThrough "\r\n"
                                ()

                        return all.ToArray()
                    else
                        match value "Content-Length" with
                        | Some length -> return! readExactly (int length)
                        | None -> return! readToEnd ()
                }

            return
                {
                    StatusLine = statusLine
                    Status = status
                    Reason = reason
                    Headers = headers
                    Body = body
                    Chunked = chunked
                }
        }

    /// Reads the head of a response only (status line and headers), leaving the body unread.
    member _.ReadHead() =
        task {
            let! head = readThrough "\r\n\r\n"
            return textOf head
        }

    /// Reads one chunk of a chunked body: its bytes, or [||] for the last chunk.
    member _.ReadChunk() =
        task {
            let! sizeLine = readThrough "\r\n"
            let size = Convert.ToInt32((textOf sizeLine).Trim(), 16)

            if size = 0 then
                let! _ = readThrough "\r\n"
                return [||]
            else
                let! data = readExactly size
                let! _ = readThrough "\r\n"
                return data
        }

    /// Everything until the server closes the connection.
    member _.ReadToEnd() = readToEnd ()

    /// Whether the server closed the connection (reads until the end; any bytes are ignored).
    member _.WaitForClose() =
        task {
            let! _ = readToEnd ()
            return ended
        }

/// A request's bytes: request line, headers (each `Name: value`) and body; adds Host and, when
/// there is a body and no Transfer-Encoding, Content-Length.
let requestBytes (requestLine: string) (headers: string list) (body: byte array) =
    let hasLength =
        headers
        |> List.exists (fun h ->
            h.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase)
            || h.StartsWith("Transfer-Encoding:", StringComparison.OrdinalIgnoreCase))

    let lines =
        [ requestLine; "Host: 127.0.0.1" ]
        @ headers
        @ (if body.Length > 0 && not hasLength then
               [ $"Content-Length: {body.Length}" ]
           else
               [])

    Array.append (bytesOf (String.Join("\r\n", lines) + "\r\n\r\n")) body

/// Opens a connection, sends `bytes`, reads one response and closes.
let exchange (port: int) (bytes: byte array) =
    task {
        use! connection = RawConnection.Open port
        do! connection.Send bytes
        return! connection.ReadResponse()
    }

/// `GET path` on a connection of its own.
let rawGet port (path: string) =
    exchange port (requestBytes $"GET {path} HTTP/1.1" [] [||])

/// `POST path` with a body, on a connection of its own.
let rawPost port (path: string) (body: byte array) =
    exchange port (requestBytes $"POST {path} HTTP/1.1" [] body)

// ---- HttpClient ----

/// One client for every test: pooled keep-alive connections, no proxy, nothing decompressed.
let http =
    let handler =
        new SocketsHttpHandler(
            UseProxy = false,
            AutomaticDecompression = Net.DecompressionMethods.None,
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds 5.0
        )

    new HttpClient(handler, Timeout = patience)

// ---- curl ----

/// Runs curl with `args`; its exit code, standard output (bytes) and standard error.
let curl (args: string list) =
    task {
        let info = ProcessStartInfo("curl")

        for a in args do
            info.ArgumentList.Add a

        info.RedirectStandardOutput <- true
        info.RedirectStandardError <- true
        info.UseShellExecute <- false

        use p =
            try
                Process.Start info
            with e ->
                failtestf "curl is needed for this test (see README: Test prerequisites): %s" e.Message

        use out = new MemoryStream()
        let copying = p.StandardOutput.BaseStream.CopyToAsync out
        let errors = p.StandardError.ReadToEndAsync()
        use cts = new CancellationTokenSource(patience)
        do! p.WaitForExitAsync(cts.Token)
        do! copying
        let! err = errors
        return p.ExitCode, out.ToArray(), err
    }
