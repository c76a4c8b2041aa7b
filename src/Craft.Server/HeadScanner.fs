/// Following HTTP/1.1 request framing (RFC 9112) over the raw bytes a client sends, to find the
/// request heads whose Content-Length Kestrel reads leniently.
namespace Craft.Server

open System
open System.Buffers
open System.IO.Pipelines
open System.Threading
open System.Threading.Tasks
open System.Runtime.CompilerServices
open System.Threading.Tasks.Sources

/// Where a `RequestHeadScanner` is.
type private Scan =
    /// The request line's method.
    | Method = 0
    /// The rest of the request line (target, version).
    | RequestLine = 1
    /// A header line's name (at its first byte: an empty line ends the head).
    | Name = 2
    /// A Content-Length value.
    | LengthValue = 3
    /// A Transfer-Encoding value.
    | CodingValue = 4
    /// A Connection value.
    | ConnectionValue = 5
    /// The rest of a header line that does not matter.
    | SkipLine = 6
    /// Content-Length body bytes.
    | Body = 7
    /// A chunk's size (hex digits).
    | ChunkSize = 8
    /// A chunk extension, up to CRLF.
    | ChunkExtension = 9
    /// A CR in a chunk extension.
    | ChunkExtensionCr = 10
    /// The LF after a chunk size.
    | ChunkSizeLf = 11
    /// A chunk's data.
    | ChunkData = 12
    /// The CR after a chunk's data.
    | ChunkDataCr = 13
    /// The LF after a chunk's data.
    | ChunkDataLf = 14
    /// A trailer line (at its first byte: an empty line ends the body).
    | Trailer = 15
    /// The LF that must follow a CR in a trailer line.
    | TrailerLf = 16
    /// Given up: nothing more is followed.
    | Stopped = 17

/// Follows the requests a client sends on one HTTP/1.1 connection, fed its raw bytes in order and
/// cut anywhere, and records for each request head whether its Content-Length was valid: every
/// Content-Length line 1*DIGIT between optional spaces and tabs (RFC 9110 8.6, 5.5), and no more
/// than one such line. Kestrel reads the value with a signed-number parser (`+3`, `-0` pass) and
/// then shows the application only the number, so the application cannot check it itself.
///
/// It follows request line and headers to the empty line, then the body (Content-Length bytes, or
/// chunked framing: size, extensions, data, CRLF, the last chunk and its trailer lines), then the
/// next request. Where it cannot be sure to cut the bytes into requests as Kestrel does, it gives
/// up, and every later head is unknown (not bad): a head longer than `maxHeadBytes`, a request
/// Kestrel would refuse anyway (a bare CR, a folded line), a Transfer-Encoding other than exactly
/// `chunked` (or with HTTP/1.0, or beside a Content-Length), a chunk size past 2^31, a request line
/// that is not HTTP/1.0 or HTTP/1.1, a CONNECT request, and a request with `Upgrade` or a
/// `Connection: upgrade` (after a 101 the bytes are no longer HTTP). It also stops after the first
/// bad head: the server closes the connection after refusing it. A valid request is never flagged.
///
/// Total: any bytes, cut anywhere, are followed in one pass with a bounded amount of work per
/// byte, without exceptions; the result does not depend on the cuts. One thread feeds it; the
/// results may be read from another (a head's result is final once it is counted).
[<Sealed; AllowNullLiteral>]
type RequestHeadScanner(maxHeadBytes: int) =
    static let connectName = "connect"B
    static let chunkedName = "chunked"B
    static let upgradeName = "upgrade"B
    // The header names that matter, lowercase; their bit in `candidates`.
    static let names = [| "content-length"B; "transfer-encoding"B; "connection"B; "upgrade"B |]

    static let versionTail11 = 0x485454502F312E31UL // "HTTP/1.1"
    static let versionTail10 = 0x485454502F312E30UL // "HTTP/1.0"

    let mutable stage = Scan.Method
    let mutable heads = 0
    let mutable firstBad = -1
    /// Bytes of the current head (or trailer section) so far.
    let mutable headBytes = 0
    /// A CR was the last byte of a head line: an LF must follow.
    let mutable cr = false
    /// Bytes of the current line (request line: its content; header line: its name).
    let mutable lineLength = 0
    /// The request line's method is still "CONNECT" (any case) so far.
    let mutable connect = true
    /// The request line's last 8 bytes, and the one before them.
    let mutable last8 = 0UL
    let mutable ninth = 0uy
    /// Header names (bits of `names`) the current name still matches.
    let mutable candidates = 0
    // What the head says.
    let mutable lengthLines = 0
    let mutable lengthBad = false
    let mutable length = 0L
    let mutable lengthHuge = false
    let mutable codingLines = 0
    let mutable chunked = false
    let mutable giveUp = false
    let mutable http10 = false
    // Within a Content-Length or Transfer-Encoding value: 0 before it, 1 in it, 2 after it.
    let mutable part = 0
    let mutable matched = 0
    let mutable digits = 0
    /// Body or chunk-data bytes still to skip; the chunk size being read.
    let mutable remaining = 0L

    let stop () = stage <- Scan.Stopped

    let startHead () =
        stage <- Scan.Method
        headBytes <- 0
        cr <- false
        lineLength <- 0
        connect <- true
        last8 <- 0UL
        ninth <- 0uy
        lengthLines <- 0
        lengthBad <- false
        length <- 0L
        lengthHuge <- false
        codingLines <- 0
        chunked <- false
        giveUp <- false
        http10 <- false

    let startLine () =
        stage <- Scan.Name
        lineLength <- 0
        candidates <- (1 <<< names.Length) - 1

    let isOws (b: byte) = b = ' 'B || b = '\t'B

    /// The empty line: the head is complete.
    let headEnds () =
        let index = heads

        if lengthLines > 1 || (lengthLines = 1 && lengthBad) then
            firstBad <- index
            Volatile.Write(&heads, index + 1)
            stop ()
        else
            Volatile.Write(&heads, index + 1)

            if
                giveUp
                || lengthHuge
                || index = Int32.MaxValue - 1
                || (codingLines > 0 && (codingLines > 1 || not chunked || http10 || lengthLines > 0))
            then
                stop ()
            elif codingLines = 1 then
                stage <- Scan.ChunkSize
                remaining <- 0L
                digits <- 0
            elif length > 0L then
                remaining <- length
                stage <- Scan.Body
            else
                startHead ()

    /// A line of the head ended (its CR, if any, already taken).
    let lineEnds () =
        match stage with
        | Scan.Method ->
            // An empty line before the request line is ignored (RFC 9112 2.2); a request line
            // without a space is refused by Kestrel.
            if lineLength = 0 then connect <- true else stop ()
        | Scan.RequestLine ->
            if ninth <> ' 'B then
                stop ()
            elif last8 = versionTail10 then
                http10 <- true
            elif last8 <> versionTail11 then
                stop ()

            if stage <> Scan.Stopped then
                startLine ()
        | Scan.Name -> if lineLength = 0 then headEnds () else stop () // no colon
        | Scan.LengthValue ->
            if digits = 0 then
                lengthBad <- true

            startLine ()
        | Scan.CodingValue ->
            if codingLines = 1 && (part = 1 || part = 2) && matched = chunkedName.Length then
                chunked <- true

            startLine ()
        | Scan.ConnectionValue
        | Scan.SkipLine -> startLine ()
        | _ -> ()

    /// A byte of a head line other than CR and LF.
    let headByte (b: byte) =
        match stage with
        | Scan.Method ->
            if b = ' 'B then
                if lineLength = 0 then
                    stop ()
                else
                    if connect && lineLength = connectName.Length then
                        giveUp <- true

                    stage <- Scan.RequestLine
            else
                if lineLength >= connectName.Length || (b ||| 0x20uy) <> connectName[lineLength] then
                    connect <- false

                lineLength <- lineLength + 1
        | Scan.RequestLine ->
            ninth <- byte (last8 >>> 56)
            last8 <- (last8 <<< 8) ||| uint64 b
        | Scan.Name ->
            if b = ':'B then
                if lineLength = 0 then
                    stop ()
                else
                    part <- 0
                    matched <- 0
                    digits <- 0
                    let found = candidates &&& -candidates // the lowest bit left

                    if
                        found <> 0
                        && names[Numerics.BitOperations.TrailingZeroCount found].Length = lineLength
                    then
                        match found with
                        | 1 ->
                            lengthLines <- lengthLines + 1
                            length <- 0L
                            stage <- Scan.LengthValue
                        | 2 ->
                            codingLines <- codingLines + 1
                            stage <- Scan.CodingValue
                        | 4 -> stage <- Scan.ConnectionValue
                        | _ ->
                            giveUp <- true
                            stage <- Scan.SkipLine
                    else
                        stage <- Scan.SkipLine
            elif lineLength = 0 && isOws b then
                stop () // a folded line (obs-fold): Kestrel refuses it
            else
                let lower = b ||| 0x20uy
                let mutable c = candidates

                while c <> 0 do
                    let bit = c &&& -c
                    let name = names[Numerics.BitOperations.TrailingZeroCount bit]

                    if lineLength >= name.Length || name[lineLength] <> lower then
                        candidates <- candidates &&& ~~~bit

                    c <- c &&& ~~~bit

                lineLength <- lineLength + 1
        | Scan.LengthValue ->
            if b >= '0'B && b <= '9'B && part < 2 then
                part <- 1
                digits <- digits + 1

                if length > (Int64.MaxValue - 9L) / 10L then
                    lengthHuge <- true
                else
                    length <- length * 10L + int64 (b - '0'B)
            elif isOws b then
                if part = 1 then
                    part <- 2
            else
                lengthBad <- true
        | Scan.CodingValue ->
            if isOws b then
                if part = 1 then
                    part <- 2
            elif part = 2 then
                part <- 3 // something after the coding
            elif part < 2 then
                part <- 1

                if
                    matched >= 0
                    && matched < chunkedName.Length
                    && (b ||| 0x20uy) = chunkedName[matched]
                then
                    matched <- matched + 1
                else
                    matched <- -1
        | Scan.ConnectionValue ->
            // Looks for "upgrade" anywhere in the value: no proper prefix of it is also a suffix.
            let lower = b ||| 0x20uy

            if lower = upgradeName[matched] then
                matched <- matched + 1

                if matched = upgradeName.Length then
                    giveUp <- true
                    matched <- 0
            else
                matched <- if lower = upgradeName[0] then 1 else 0
        | _ -> ()

    /// A chunk-size line ended: its data, or the trailer section after the last chunk.
    let sizeLineEnds () =
        if remaining = 0L then
            stage <- Scan.Trailer
            headBytes <- 0
            lineLength <- 0
        else
            stage <- Scan.ChunkData

    let hexValue (b: byte) =
        if b >= '0'B && b <= '9'B then int (b - '0'B)
        elif b >= 'a'B && b <= 'f'B then int (b - 'a'B) + 10
        elif b >= 'A'B && b <= 'F'B then int (b - 'A'B) + 10
        else -1

    /// Follows with a 64 KiB cap on a request head.
    new() = RequestHeadScanner(65536)

    /// How many request heads have been completed so far.
    member _.HeadsCompleted = Volatile.Read(&heads)

    /// Whether it still follows the connection (false once it gave up or found a bad head).
    member _.Following = stage <> Scan.Stopped

    /// Whether head `index` (0-based, in order on the connection) is complete and had an invalid
    /// Content-Length. False for a head not yet complete or after the scanner gave up.
    member _.IsBadHead(index: int) =
        index >= 0 && index < Volatile.Read(&heads) && index = firstBad

    /// Gives up: nothing more is followed, and later heads are unknown.
    member _.Stop() = stop ()

    /// Follows `data`, the next bytes the client sent.
    member _.Feed(data: ReadOnlySpan<byte>) =
        let mutable i = 0

        while i < data.Length do
            match stage with
            | Scan.Stopped -> i <- data.Length
            | Scan.Body ->
                let take = int (min remaining (int64 (data.Length - i)))
                remaining <- remaining - int64 take
                i <- i + take

                if remaining = 0L then
                    startHead ()
            | Scan.ChunkData ->
                let take = int (min remaining (int64 (data.Length - i)))
                remaining <- remaining - int64 take
                i <- i + take

                if remaining = 0L then
                    stage <- Scan.ChunkDataCr
            | Scan.ChunkSize ->
                let b = data[i]
                i <- i + 1
                let v = hexValue b

                if v >= 0 then
                    digits <- digits + 1
                    remaining <- (remaining <<< 4) ||| int64 v

                    if remaining > int64 Int32.MaxValue then
                        stop ()
                elif digits = 0 then
                    stop ()
                elif b = ';'B then
                    stage <- Scan.ChunkExtension
                elif b = '\r'B then
                    stage <- Scan.ChunkSizeLf
                else
                    stop ()
            | Scan.ChunkExtension ->
                // Kestrel drains an extension up to CRLF; a bare LF there is not followed.
                let rest = data.Slice(i)
                let at = rest.IndexOfAny('\r'B, '\n'B)

                if at < 0 then
                    i <- data.Length
                else
                    i <- i + at + 1

                    if rest[at] = '\r'B then
                        stage <- Scan.ChunkExtensionCr
                    else
                        stop ()
            | Scan.ChunkExtensionCr ->
                let b = data[i]
                i <- i + 1

                if b = '\n'B then
                    sizeLineEnds ()
                elif b <> '\r'B then
                    stage <- Scan.ChunkExtension
            | Scan.ChunkSizeLf ->
                let b = data[i]
                i <- i + 1

                if b = '\n'B then sizeLineEnds () else stop ()
            | Scan.ChunkDataCr ->
                if data[i] = '\r'B then
                    stage <- Scan.ChunkDataLf
                else
                    stop ()

                i <- i + 1
            | Scan.ChunkDataLf ->
                if data[i] = '\n'B then
                    stage <- Scan.ChunkSize
                    remaining <- 0L
                    digits <- 0
                else
                    stop ()

                i <- i + 1
            | Scan.Trailer ->
                // Trailer lines end with CRLF; an empty one ends the body.
                let rest = data.Slice(i)
                let at = rest.IndexOfAny('\r'B, '\n'B)
                let taken = if at < 0 then rest.Length else at + 1
                headBytes <- headBytes + taken

                if headBytes > maxHeadBytes then
                    stop ()
                elif at < 0 then
                    lineLength <- lineLength + rest.Length
                    i <- data.Length
                else
                    lineLength <- lineLength + at
                    i <- i + taken

                    if rest[at] = '\r'B then
                        stage <- Scan.TrailerLf
                    else
                        stop ()
            | Scan.TrailerLf ->
                if data[i] <> '\n'B then
                    stop ()
                elif lineLength = 0 then
                    startHead ()
                else
                    stage <- Scan.Trailer
                    lineLength <- 0

                i <- i + 1
            | Scan.SkipLine when not cr && data[i] <> '\r'B && data[i] <> '\n'B ->
                // A value that does not matter: on to the end of its line.
                let rest = data.Slice(i)
                let at = rest.IndexOfAny('\r'B, '\n'B)
                let taken = if at < 0 then rest.Length else at
                headBytes <- headBytes + taken
                i <- i + taken

                if headBytes > maxHeadBytes then
                    stop ()
            | _ ->
                // The head: request line and header lines, byte by byte.
                let b = data[i]
                i <- i + 1
                headBytes <- headBytes + 1

                if headBytes > maxHeadBytes then
                    stop ()
                elif b = '\n'B then
                    cr <- false
                    lineEnds ()
                elif cr then
                    stop () // a bare CR: Kestrel refuses it
                elif b = '\r'B then
                    cr <- true
                else
                    headByte b

/// A `PipeReader` that shows a `RequestHeadScanner` every byte Kestrel is about to read from the
/// connection, each once and in order, before Kestrel sees it. It remembers how many bytes at the
/// start of the unconsumed data it has already shown, and follows `AdvanceTo` to keep that count.
/// A pending read costs no allocation: it completes through this object.
[<Sealed>]
type ScanningPipeReader(inner: PipeReader, scanner: RequestHeadScanner) =
    inherit PipeReader()
    let mutable source = ManualResetValueTaskSourceCore<ReadResult>()
    let mutable awaiter = Unchecked.defaultof<ValueTaskAwaiter<ReadResult>>
    let mutable last = ReadOnlySequence<byte>.Empty
    /// Bytes at the start of `last` (the unconsumed data) already shown to the scanner.
    let mutable shown = 0L
    let mutable innerDone: Action = null

    member private _.Saw(result: ReadResult) =
        if scanner.Following then
            let buffer = result.Buffer

            if buffer.Length > shown then
                let fresh = buffer.Slice(shown)

                if fresh.IsSingleSegment then
                    scanner.Feed fresh.FirstSpan
                else
                    let mutable segments = fresh.GetEnumerator()

                    while segments.MoveNext() do
                        scanner.Feed segments.Current.Span

                shown <- buffer.Length

            last <- buffer

    member private this.InnerDone() =
        try
            let result = awaiter.GetResult()
            awaiter <- Unchecked.defaultof<_>
            this.Saw result
            source.SetResult result
        with e ->
            source.SetException e

    /// The reader it reads from.
    member _.Inner = inner

    override this.ReadAsync(cancellationToken) =
        let reading = inner.ReadAsync(cancellationToken)

        if reading.IsCompletedSuccessfully then
            let result = reading.Result
            this.Saw result
            ValueTask<ReadResult>(result)
        else
            if isNull innerDone then
                innerDone <- Action(this.InnerDone)

            source.Reset()
            awaiter <- reading.GetAwaiter()
            let version = source.Version
            awaiter.UnsafeOnCompleted innerDone
            ValueTask<ReadResult>(this :> IValueTaskSource<ReadResult>, version)

    override this.TryRead(result: byref<ReadResult>) =
        if inner.TryRead(&result) then
            this.Saw result
            true
        else
            false

    override this.AdvanceTo(consumed: SequencePosition) = this.AdvanceTo(consumed, consumed)

    override _.AdvanceTo(consumed: SequencePosition, examined: SequencePosition) =
        if scanner.Following then
            try
                shown <- last.Slice(consumed).Length
            with _ ->
                scanner.Stop()

        last <- ReadOnlySequence<byte>.Empty
        inner.AdvanceTo(consumed, examined)

    override _.CancelPendingRead() = inner.CancelPendingRead()
    override _.Complete(error) = inner.Complete error
    override _.CompleteAsync(error) = inner.CompleteAsync error

    interface IValueTaskSource<ReadResult> with
        member _.GetResult(token) = source.GetResult token
        member _.GetStatus(token) = source.GetStatus token

        member _.OnCompleted(continuation, state, token, flags) =
            source.OnCompleted(continuation, state, token, flags)
