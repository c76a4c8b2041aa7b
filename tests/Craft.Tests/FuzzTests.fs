/// Fuzzers that run with the other tests, each bounded to a few seconds: the WebSocket frame
/// follower over arbitrary bytes and over well-formed frames cut anywhere, and a real server over
/// mutated HTTP requests sent by hand.
module Craft.Tests.FuzzTests

open System
open System.IO
open System.IO.Pipelines
open System.Net.Sockets
open System.Text.RegularExpressions
open System.Threading
open System.Threading.Tasks
open Craft.Server
open Craft.Tests.ScriptHost
open Craft.Tests.HttpHelpers
open Expecto
open FsCheck
open FsCheck.FSharp

// ---- The frame follower ----

/// `data` cut at `cuts` (positions in it, in any order, repeats and out-of-range ones ignored).
let private chunksOf (data: byte array) (cuts: int list) =
    let inside =
        cuts
        |> List.filter (fun c -> c > 0 && c < data.Length)
        |> List.distinct
        |> List.sort

    (0 :: inside) @ [ data.Length ] |> List.pairwise

/// Feeds `data` cut at `cuts` to a new follower: its `LastClose` and `Violation`. Fails if that
/// does not return within 5 s (a safety net: it takes microseconds).
let private follow (data: byte array) (cuts: int list) =
    let run =
        Task.Run<int * int>(
            Func<int * int>(fun () ->
                let follower = FrameFollower()

                for start, finish in chunksOf data cuts do
                    follower.Feed(ReadOnlySpan(data, start, finish - start))

                follower.LastClose, follower.Violation)
        )

    if not (run.Wait(TimeSpan.FromSeconds 5.0)) then
        failtestf "Feed did not return within 5 s on %d bytes" data.Length

    run.Result

let private anyByte = Gen.choose (0, 255) |> Gen.map byte

/// Random bytes, with the ones that make frame headers interesting (close, extended lengths,
/// mask bit, the top bit of a 64-bit length) more likely.
let private frameishByte =
    Gen.frequency
        [
            6, anyByte
            1, Gen.elements [ 0x88uy; 0x08uy; 0x82uy; 0x7Euy; 0x7Fuy; 0xFEuy; 0xFFuy; 0x80uy; 0x00uy ]
        ]

let private bytesUpTo (n: int) (element: Gen<byte>) =
    gen {
        let! length = Gen.choose (0, n)
        return! Gen.arrayOfLength length element
    }

/// Up to 70000 random bytes, made quickly.
let private bigPayload =
    Gen.map2
        (fun length (seed: int) ->
            let data = Array.zeroCreate<byte> length
            Random(seed).NextBytes data
            data)
        (Gen.choose (126, 70000))
        (Gen.choose (0, Int32.MaxValue))

let private cutsIn (data: byte array) =
    Gen.listOf (Gen.choose (0, data.Length))

/// One frame as a test generates it.
type private FrameSpec =
    {
        Fin: bool
        Opcode: byte
        /// 7, 16 or 64: how the length is written (16 and 64 may be longer than needed).
        Width: int
        Key: byte array option
        Payload: byte array
    }

/// The code a follower should read from a frame: Some code for a close frame (0 without one).
let private closeCodeOf (frame: FrameSpec) =
    if frame.Opcode <> 8uy then
        None
    elif frame.Payload.Length >= 2 then
        Some(int frame.Payload[0] <<< 8 ||| int frame.Payload[1])
    else
        Some 0

let private lastCloseOf (frames: FrameSpec list) =
    frames |> List.choose closeCodeOf |> List.tryLast |> Option.defaultValue -1

/// A frame header with a 64-bit length whose top bit is set: `length` OR 2^63.
let private violatingHeader (length: int64) (key: byte array) =
    Array.concat
        [
            [| 0x82uy; 0xFFuy |]
            [| for shift in 56..-8..0 -> byte ((length ||| Int64.MinValue) >>> shift) |]
            key
        ]

let private encode (frame: FrameSpec) =
    use out = new MemoryStream()
    let n = frame.Payload.Length
    out.WriteByte((if frame.Fin then 0x80uy else 0uy) ||| frame.Opcode)
    let maskBit = if frame.Key.IsSome then 0x80uy else 0uy

    match frame.Width with
    | 7 -> out.WriteByte(maskBit ||| byte n)
    | 16 ->
        out.WriteByte(maskBit ||| 126uy)
        out.WriteByte(byte (n >>> 8))
        out.WriteByte(byte n)
    | _ ->
        out.WriteByte(maskBit ||| 127uy)

        for shift in 56..-8..0 do
            out.WriteByte(byte (int64 n >>> shift))

    match frame.Key with
    | Some key ->
        out.Write(key, 0, 4)
        out.Write(frame.Payload |> Array.mapi (fun i b -> b ^^^ key[i % 4]), 0, n)
    | None -> out.Write(frame.Payload, 0, n)

    out.ToArray()

let private closePayload =
    Gen.oneof
        [
            Gen.constant [||]
            Gen.map Array.singleton anyByte
            gen {
                let! code =
                    Gen.frequency
                        [
                            3, Gen.elements [ 1000; 1001; 1002; 1007; 1009; 4000 ]
                            1, Gen.choose (0, 65535)
                        ]

                let! reason = bytesUpTo 20 anyByte
                return Array.append [| byte (code >>> 8); byte code |] reason
            }
        ]

let private frameSpec =
    gen {
        let! opcode =
            Gen.frequency
                [
                    3, Gen.constant 8uy
                    4, Gen.elements [ 0uy; 1uy; 2uy; 9uy; 10uy ]
                    1, Gen.elements [ 3uy; 11uy; 15uy ]
                ]

        let! payload =
            if opcode = 8uy then
                closePayload
            else
                Gen.frequency [ 12, bytesUpTo 200 anyByte; 1, bigPayload ]

        let! width =
            if payload.Length <= 125 then
                Gen.elements [ 7; 7; 7; 16; 64 ]
            elif payload.Length <= 65535 then
                Gen.elements [ 16; 64 ]
            else
                Gen.constant 64

        let! fin = Gen.elements [ true; false ]
        let! key = Gen.optionOf (Gen.arrayOfLength 4 anyByte)

        return
            {
                Fin = fin
                Opcode = opcode
                Width = width
                Key = key
                Payload = payload
            }
    }

/// What may follow the well-formed frames.
type private Tail =
    | Clean
    /// A frame that announces more bytes than come (up to 2^62), then some of them.
    | Truncated of length: int64 * bytes: byte array
    /// A 64-bit length with its top bit set, then anything, close frames included.
    | Violating of length: int64 * after: byte array

let private tail =
    Gen.oneof
        [
            Gen.constant Clean
            Gen.map2
                (fun l b -> Truncated(l, b))
                (Gen.elements [ 65536L; 1L <<< 32; 1L <<< 40; (1L <<< 62) + 5L; Int64.MaxValue ])
                (bytesUpTo 64 frameishByte)
            gen {
                let! low = Gen.elements [ 0L; 1L; 2L; 125L; 1L <<< 40; Int64.MaxValue ]
                let! after = Gen.listOfLength 3 frameSpec
                let! garbage = bytesUpTo 32 frameishByte
                return Violating(low, Array.concat (List.map encode after @ [ garbage ]))
            }
        ]

/// Well-formed frames, a tail, the bytes, and what a follower should conclude.
let private frameRun =
    gen {
        let! count = Gen.choose (0, 8)
        let! frames = Gen.listOfLength count frameSpec
        let! tail = tail
        let body = frames |> List.map encode |> Array.concat

        let bytes, expected =
            match tail with
            | Clean -> body, (lastCloseOf frames, 0)
            | Truncated(length, bytes) ->
                let header =
                    encode
                        {
                            Fin = true
                            Opcode = 2uy
                            Width = 64
                            Key = None
                            Payload = [||]
                        }
                // The same header with the announced length instead of 0.
                let header =
                    Array.append header[0..1] [| for shift in 56..-8..0 -> byte (length >>> shift) |]

                Array.concat [ body; header; bytes ], (lastCloseOf frames, 0)
            | Violating(length, after) ->
                Array.concat [ body; violatingHeader length [| 1uy; 2uy; 3uy; 4uy |]; after ],
                (lastCloseOf frames, 1002)

        let! cuts = cutsIn bytes
        return bytes, cuts, expected
    }

let private frameConfig =
    { FsCheckConfig.defaultConfig with
        maxTest = 500
    }

let private frames =
    testList
        "frames"
        [
            testCase "the header from the bug report: recorded as 1002, the rest ignored" (fun () ->
                let close =
                    encode
                        {
                            Fin = true
                            Opcode = 8uy
                            Width = 7
                            Key = Some [| 9uy; 8uy; 7uy; 6uy |]
                            Payload = [| 0x03uy; 0xE8uy |]
                        }

                let header = violatingHeader 0L [| 1uy; 2uy; 3uy; 4uy |]
                Expect.equal header[0..9] [| 0x82uy; 0xFFuy; 0x80uy; 0uy; 0uy; 0uy; 0uy; 0uy; 0uy; 0uy |] "the bytes"
                let data = Array.concat [ close; header; close; Array.zeroCreate 100_000 ]
                Expect.equal (follow data []) (1000, 1002) "the close before it counts, nothing after it"

                Expect.equal
                    (follow data [ 3; 4; 5; close.Length + 3; close.Length + 9; close.Length + 13 ])
                    (1000, 1002)
                    "cut anywhere")

            testPropertyWithConfig frameConfig "any bytes, cut anywhere: Feed returns, and the cuts change nothing"
            <| Prop.forAll
                (Arb.fromGen (
                    gen {
                        let! data =
                            Gen.frequency [ 4, bytesUpTo 64 frameishByte; 1, bytesUpTo 4000 frameishByte ]

                        let! cuts = cutsIn data
                        return data, cuts
                    }
                ))
                (fun (data, cuts) -> Expect.equal (follow data cuts) (follow data []) "the same as in one piece")

            testPropertyWithConfig frameConfig "well-formed frames, cut anywhere: the last close frame's code"
            <| Prop.forAll (Arb.fromGen frameRun) (fun (bytes, cuts, expected) ->
                Expect.equal (follow bytes cuts) expected "LastClose and Violation")
        ]

// ---- The request head scanner ----

/// What a scanner concluded: heads completed, the bad ones among them, whether it still follows.
let private scanOf (feed: RequestHeadScanner -> unit) =
    let run =
        Task.Run<int * int list * bool>(
            Func<int * int list * bool>(fun () ->
                let scanner = RequestHeadScanner()
                feed scanner
                let heads = scanner.HeadsCompleted

                heads,
                [
                    for i in 0 .. heads - 1 do
                        if scanner.IsBadHead i then
                            i
                ],
                scanner.Following)
        )

    if not (run.Wait(TimeSpan.FromSeconds 5.0)) then
        failtest "Feed did not return within 5 s"

    run.Result

/// Feeds `data` cut at `cuts` to a new scanner.
let private scan (data: byte array) (cuts: int list) =
    scanOf (fun scanner ->
        for start, finish in chunksOf data cuts do
            scanner.Feed(ReadOnlySpan(data, start, finish - start)))

/// Feeds `data` cut at `cuts` through a pipe and a `ScanningPipeReader`, read the way a parser
/// reads: reads that wait for data and reads that do not, consuming and examining a random part
/// of what it got each time (`picks`, fractions in 0..1000).
let private scanThroughPipe (data: byte array) (cuts: int list) (picks: (int * int * bool) list) =
    scanOf (fun scanner ->
        let pipe =
            Pipe(
                PipeOptions(
                    pauseWriterThreshold = 0L,
                    readerScheduler = PipeScheduler.Inline,
                    writerScheduler = PipeScheduler.Inline
                )
            )

        let reader = ScanningPipeReader(pipe.Reader, scanner)
        let mutable picks = picks

        let readOnce (early: ValueTask<ReadResult> option) =
            let result =
                match early with
                | Some pending -> pending.AsTask().Result
                | None -> reader.ReadAsync().AsTask().Result

            let buffer = result.Buffer

            let c, e =
                match picks with
                | (c, e, _) :: rest ->
                    picks <- rest
                    c, e
                | [] -> 1000, 1000

            let consumed = buffer.Length * int64 c / 1000L
            let examined = consumed + (buffer.Length - consumed) * int64 e / 1000L
            // Examining less than all of it makes the next read return at once; only when more
            // data is written next, so that no read waits for ever.
            reader.AdvanceTo(buffer.GetPosition consumed, buffer.GetPosition examined)
            result.IsCompleted

        for start, finish in chunksOf data cuts do
            let early =
                match picks with
                | (_, _, true) :: _ -> Some(reader.ReadAsync()) // waits for the write below
                | _ -> None

            System.Buffers.BuffersExtensions.Write(pipe.Writer, ReadOnlySpan(data, start, finish - start))
            pipe.Writer.FlushAsync().AsTask().Wait()
            readOnce early |> ignore

        pipe.Writer.Complete()
        let mutable completed = false
        picks <- []

        while not completed do
            completed <- readOnce None

        reader.Complete())

/// Valid spellings of a Content-Length of n: digits, leading zeros, spaces and tabs around.
let private goodLength =
    Gen.elements [ sprintf " %d"; sprintf "%d"; sprintf " 00%d"; sprintf "\t%d \t" ]


/// A Content-Length line for n that HTTP forbids.
let private badLength =
    Gen.elements
        [
            sprintf " +%d"
            (fun n -> if n = 0 then " -0" else $" -0{n}")
            sprintf " %d %d" 3
            sprintf " 0x%x"
            (fun _ -> "")
            (fun _ -> " ")
            sprintf " %d, %d" 3
            sprintf " %de0"
            sprintf " %d\r\nContent-Length: 3"
            sprintf " %d\r\ncontent-length: 3"
        ]

/// A request the scanner must follow, as text; a Content-Length value for its body, if any.
let private requestWith (framings: string list) (lengthValue: Gen<int -> string>) =
    gen {
        let! methodName =
            Gen.elements [ "GET"; "POST"; "PUT"; "DELETE"; "HEAD"; "OPTIONS"; "PATCH"; "connect-ish" ]

        let! target =
            Gen.elements [ "/"; "/a/b?x=1&y=%20"; "*"; "http://127.0.0.1/abs"; "/HTTP/1.1" ]

        let! others =
            Gen.listOf (
                Gen.elements
                    [
                        "Accept: */*"
                        "X-Content-Length: +3"
                        "Content-Length-X: -0"
                        "Content-Lengt: 0x3"
                        "X: Content-Length: +3"
                        "Transfer-Encodings: gzip"
                        "Connection: keep-alive"
                        "Connection:"
                        "Upgrade-Insecure-Requests: 1"
                        "Cookie: a=b; c=\"d\""
                        "User-Agent: " + String('u', 300)
                        "X-Empty:"
                        "X-Tabs:\tvalue\t"
                    ]
            )

        let! body =
            Gen.elements [ "abc"; ""; "0\r\n\r\nGET / HTTP/1.1\r\n\r\n"; String('b', 2000) ]

        let! framing = Gen.elements framings
        let body = if framing = "length" && body = "" then "abc" else body
        let! lengthText = lengthValue
        let! chunks = Gen.choose (1, 4)
        let! extension = Gen.elements [ ""; ";a=b"; ";a=\"q;\\\"\""; "; a = b ;c"; ";x=\rx" ]
        let! trailers = Gen.elements [ ""; "T: 1\r\n"; "T: 1\r\nContent-Length: +3\r\n" ]
        let! lineEnd = Gen.frequency [ 5, Gen.constant "\r\n"; 1, Gen.constant "\n" ]
        let! emptyFirst = Gen.frequency [ 9, Gen.constant ""; 1, Gen.constant "\r\n" ]

        let head, bodyText =
            match framing with
            | "length" -> [ $"Content-Length:{lengthText body.Length}" ], body
            | "chunked" ->
                let size = max 1 (body.Length / chunks)

                let pieces =
                    [
                        for i in 0..size .. body.Length - 1 -> body.Substring(i, min size (body.Length - i))
                    ]

                let encoded =
                    String.Join("", [ for p in pieces -> $"{p.Length:x}{extension}\r\n{p}\r\n" ])
                    + $"0{extension}\r\n{trailers}\r\n"

                [ "Transfer-Encoding: chunked" ], encoded
            | _ -> [], ""

        let lines = [ $"{methodName} {target} HTTP/1.1"; "Host: 127.0.0.1" ] @ others @ head
        return emptyFirst + String.Join(lineEnd, lines) + lineEnd + lineEnd + bodyText
    }

let private validRequest = requestWith [ "none"; "length"; "chunked" ] goodLength

let private pipelined (count: Gen<int>) =
    gen {
        let! n = count
        let! requests = Gen.listOfLength n validRequest
        return requests
    }

let private scannerConfig =
    { FsCheckConfig.defaultConfig with
        maxTest = 300
    }

let private scanner =
    testList
        "head scanner"
        [
            testPropertyWithConfig
                scannerConfig
                "valid pipelined requests, cut anywhere: every head counted, none flagged"
            <| Prop.forAll
                (Arb.fromGen (
                    gen {
                        let! requests = pipelined (Gen.choose (1, 6))
                        let data = bytesOf (String.Join("", requests))
                        let! cuts = cutsIn data
                        return requests, data, cuts
                    }
                ))
                (fun (requests, data, cuts) ->
                    Expect.equal (scan data cuts) (requests.Length, [], true) "all followed, none bad")

            testPropertyWithConfig scannerConfig "a bad Content-Length is flagged at exactly its index"
            <| Prop.forAll
                (Arb.fromGen (
                    gen {
                        let! before = pipelined (Gen.choose (0, 4))
                        let! bad = requestWith [ "length" ] badLength

                        let! after = pipelined (Gen.choose (0, 2))
                        let data = bytesOf (String.Join("", before @ [ bad ] @ after))
                        let! cuts = cutsIn data
                        return before.Length, data, cuts
                    }
                ))
                (fun (index, data, cuts) ->
                    let heads, bad, following = scan data cuts
                    Expect.equal (heads, bad, following) (index + 1, [ index ], false) "flagged, then stopped")

            testPropertyWithConfig scannerConfig "through a ScanningPipeReader: every byte once, in order"
            <| Prop.forAll
                (Arb.fromGen (
                    gen {
                        let! requests = pipelined (Gen.choose (1, 6))
                        let data = bytesOf (String.Join("", requests))
                        let! cuts = cutsIn data

                        let! picks =
                            Gen.listOf (
                                Gen.zip3 (Gen.choose (0, 1000)) (Gen.choose (0, 1000)) (Gen.elements [ true; false ])
                            )

                        return requests.Length, data, cuts, picks
                    }
                ))
                (fun (count, data, cuts, picks) ->
                    Expect.equal (scanThroughPipe data cuts picks) (count, [], true) "all followed, none bad")

            testPropertyWithConfig scannerConfig "any bytes, cut anywhere: Feed returns, and the cuts change nothing"
            <| Prop.forAll
                (Arb.fromGen (
                    gen {
                        let httpish =
                            Gen.frequency
                                [
                                    3, anyByte
                                    3, Gen.elements (List.ofArray "\r\n\r\n :;0123456789abcdefABCDEF+-\t"B)
                                ]

                        let! pieces =
                            Gen.listOf (
                                Gen.oneof
                                    [
                                        Gen.map Array.singleton httpish
                                        Gen.elements
                                            [
                                                "GET / HTTP/1.1\r\nHost: a\r\n"B
                                                "Content-Length: "B
                                                "Transfer-Encoding: chunked\r\n"B
                                                "Connection: upgrade\r\n"B
                                                "\r\n"B
                                                "5;x\r\nhello\r\n"B
                                                "0\r\n\r\n"B
                                            ]
                                    ]
                            )

                        let data = Array.concat pieces
                        let! cuts = cutsIn data
                        return data, cuts
                    }
                ))
                (fun (data, cuts) -> Expect.equal (scan data cuts) (scan data []) "the same as in one piece")

            testCase "a megabyte of random bytes, and of one long header line, in linear time" (fun () ->
                let random = Array.zeroCreate<byte> 1_000_000
                Random(7).NextBytes random
                let long = Array.append "GET / HTTP/1.1\r\nX: "B (Array.create 1_000_000 'a'B)
                let lines = Array.concat (Array.create 100_000 "GET / HTTP/1.1\r\n\r\n"B)

                for data in [ random; long; lines ] do
                    let watch = Diagnostics.Stopwatch.StartNew()
                    scan data [ for i in 1..1000 -> i * 997 ] |> ignore
                    Expect.isLessThan watch.ElapsedMilliseconds 2000L "quick"

                let heads, bad, following = scan lines []
                Expect.equal (heads, bad, following) (100_000, [], true) "every GET counted")
        ]

// ---- HTTP request heads ----

/// Requests the mutations start from (bytes as Latin-1 text).
let private validRequests =
    [
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        "GET /a/b?x=1&y=%20 HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\nX-Thing: value\r\n\r\n"
        "POST /p HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nabc"
        "POST /c HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
        "HEAD /h HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"
    ]

let private oddHeaders =
    [
        "Content-Length: +3"
        "Content-Length: -1"
        "Content-Length: 99999999999999999999"
        "Content-Length: 18446744073709551616"
        "Content-Length: 3, 3"
        "Content-Length: 3, 4"
        "Content-Length: 0x3"
        "Content-Length: "
        "Transfer-Encoding: chunked"
        "Transfer-Encoding: chunked, chunked"
        "Transfer-Encoding: gzip, chunked"
        "Transfer-Encoding: identity"
        "X-Control: a\u0001b"
        "X-Control: a\u007Fb"
        "X-Control: a\u0000b"
        "X-High: \u00FF\u00FE"
        "X-Empty:"
        " X-Folded: yes"
        "\tX-Tab: yes"
        "No-Colon"
        ": no-name"
        "Bad Name: x"
        "Host: other"
        "Expect: 100-continue"
        "Connection: close"
        "Connection: Upgrade\r\nUpgrade: websocket"
    ]

let private oddChunkSizes =
    [
        "80000000"
        "7FFFFFFF"
        "FFFFFFFF"
        "100000000"
        "FFFFFFFFFFFFFFFF"
        "10000000000000000"
        "-1"
        "+3"
        "0x3"
        "3;ext=1"
        "3 "
        ""
        "g"
    ]

let private oddTargets =
    [
        "http://127.0.0.1/abs?q=1"
        "http://127.0.0.1:1/"
        "*"
        "127.0.0.1:80"
        "//double"
        "/a b"
        "/%00"
        "/\u0001"
        "relative"
        ""
    ]

let private interestingChars =
    [ '\u0000'; '\u0001'; '\u007F'; '\u00FF'; '\r'; '\n'; ' '; ':'; '\t'; '%' ]

/// The head (without its blank line) and the body of a request text.
let private split (request: string) =
    match request.IndexOf "\r\n\r\n" with
    | -1 -> request, None
    | at -> request.Substring(0, at), Some(request.Substring(at + 4))

let private join (head: string) (body: string option) =
    match body with
    | Some body -> head + "\r\n\r\n" + body
    | None -> head

let private onLines (request: string) (change: string list -> Gen<string list>) =
    gen {
        let head, body = split request
        let! lines = change (List.ofArray (head.Split "\r\n"))
        return join (String.Join("\r\n", lines)) body
    }

/// One random change to a request text.
let private mutate (request: string) : Gen<string> =
    let position = Gen.choose (0, request.Length)

    let someChar =
        Gen.oneof [ Gen.elements interestingChars; Gen.map char (Gen.choose (0, 255)) ]

    Gen.oneof
        [
            // Replace, insert or delete bytes.
            gen {
                let! at = Gen.choose (0, max 0 (request.Length - 1))
                let! c = someChar

                return
                    if request = "" then
                        ""
                    else
                        request.Remove(at, 1).Insert(at, string c)
            }
            Gen.map2 (fun at (c: char) -> request.Insert(at, string c)) position someChar
            gen {
                let! at = position
                let! count = Gen.choose (1, 3)
                return request.Remove(at, min count (request.Length - at))
            }
            // Duplicate a header line, or add an odd one.
            onLines request (fun lines ->
                gen {
                    let! at = Gen.choose (0, lines.Length - 1)
                    return List.insertAt at lines[at] lines
                })
            onLines request (fun lines ->
                gen {
                    let! header = Gen.elements oddHeaders
                    let! at = Gen.choose (1, lines.Length)
                    return List.insertAt at header lines
                })
            // Another request target.
            onLines request (fun lines ->
                gen {
                    let! target = Gen.elements oddTargets

                    match lines with
                    | first :: rest ->
                        match first.Split ' ' with
                        | [| methodName; _; version |] -> return $"{methodName} {target} {version}" :: rest
                        | _ -> return lines
                    | [] -> return lines
                })
            // Another version or method.
            onLines request (fun lines ->
                gen {
                    let! version =
                        Gen.elements [ "HTTP/1.2"; "HTTP/2.0"; "HTTP/0.9"; "http/1.1"; "HTTP/1"; "HTTP/1.1 x"; "" ]

                    let! methodName =
                        Gen.elements [ "GET"; "POST"; "PUT"; "OPTIONS"; "CONNECT"; "TRACE"; "G\u0000T"; "get"; "" ]

                    match lines with
                    | first :: rest ->
                        match first.Split ' ' with
                        | [| _; target; _ |] -> return $"{methodName} {target} {version}" :: rest
                        | _ -> return lines
                    | [] -> return lines
                })
            // Bare LF: one line ending, or all of them.
            gen {
                let! all = Gen.elements [ true; false ]
                let at = request.IndexOf "\r\n"

                return
                    if all then request.Replace("\r\n", "\n")
                    elif at >= 0 then request.Remove(at, 1)
                    else request
            }
            // A chunked body with an odd chunk size.
            gen {
                let! size = Gen.elements oddChunkSizes
                let head, _ = split request

                let lines =
                    head.Split "\r\n"
                    |> Array.filter (fun l -> not (l.StartsWith("Content-Length", StringComparison.OrdinalIgnoreCase)))

                return
                    join
                        (String.Join("\r\n", lines) + "\r\nTransfer-Encoding: chunked")
                        (Some $"{size}\r\nabc\r\n0\r\n\r\n")
            }
            // An odd Content-Length for a 3-byte body.
            gen {
                let! header =
                    Gen.elements (oddHeaders |> List.filter (fun h -> h.StartsWith "Content-Length"))

                let head, _ = split request
                return join (head + "\r\n" + header) (Some "abc")
            }
        ]

/// A valid request changed one to three times.
let private mutatedRequest =
    gen {
        let! start = Gen.elements validRequests
        let! times = Gen.choose (1, 3)
        let mutable request = Gen.constant start

        for _ in 1..times do
            request <- Gen.bind mutate request

        return! request
    }

/// Smaller requests for a failure: without one line, then without one byte.
let private shrinkRequest (request: string) =
    seq {
        let lines = request.Split '\n'

        if lines.Length > 1 then
            for i in 0 .. lines.Length - 1 -> String.Join("\n", Array.removeAt i lines)

        if request.Length <= 160 then
            for i in 0 .. request.Length - 1 -> request.Remove(i, 1)
    }

/// Sends `bytes` on a new connection, ends the sending side, and reads until the server closes or
/// 5 s pass (a safety net). The reply and whether the time ran out.
let private sendRaw (port: int) (bytes: byte array) =
    task {
        use tcp = new TcpClient()
        tcp.NoDelay <- true
        use cts = new CancellationTokenSource(TimeSpan.FromSeconds 5.0)
        do! tcp.ConnectAsync("127.0.0.1", port, cts.Token)
        let stream = tcp.GetStream()

        try
            do! stream.WriteAsync(bytes.AsMemory(), cts.Token)
            tcp.Client.Shutdown SocketShutdown.Send
        with
        | :? IOException
        | :? SocketException -> () // the server may have given up on the request already

        use reply = new MemoryStream()
        let buffer = Array.zeroCreate<byte> 4096
        let mutable reading = true
        let mutable timedOut = false

        while reading do
            try
                let! n = stream.ReadAsync(buffer.AsMemory(), cts.Token)

                if n = 0 then
                    reading <- false
                else
                    reply.Write(buffer, 0, n)
            with
            | :? OperationCanceledException ->
                timedOut <- true
                reading <- false
            | :? IOException
            | :? SocketException -> reading <- false

        return reply.ToArray(), timedOut
    }

let private statusLine =
    Regex(@"HTTP/1\.[01] (\d{3})", RegexOptions.CultureInvariant)

/// The property for one request: a status line (or nothing, if the server dropped the
/// connection), never a 5xx; and the server still answers a well-formed request with 200.
let private answersSanely (port: int) (request: string) =
    let reply, timedOut = (sendRaw port (bytesOf request)).GetAwaiter().GetResult()
    let text = textOf reply

    if timedOut then
        failtestf "no end to the reply within 5 s (got %A)" text

    // Nothing at all: the server dropped the connection without a word.
    if reply.Length > 0 then
        Expect.isTrue (text.StartsWith "HTTP/1.1 " || text.StartsWith "HTTP/1.0 ") $"a status line first, got %A{text}"

    let statuses = [ for m in statusLine.Matches text -> int m.Groups[1].Value ]

    // Kestrel answers a request line without a version it speaks (`HTTP/1.2`, `GET HTTP/1.1`) with
    // 505 (RFC 9110 15.6.6): the one 5xx allowed.
    let otherVersion =
        match request.Split('\n').[0].TrimEnd('\r').Split ' ' with
        | [| _; _; "HTTP/1.1" |]
        | [| _; _; "HTTP/1.0" |] -> false
        | _ -> true

    for status in statuses do
        if not (status = 505 && otherVersion) then
            Expect.isLessThan status 500 $"no 5xx for a request the client got wrong (reply %A{text})"

    let healthy = (rawGet port "/").GetAwaiter().GetResult()
    Expect.equal healthy.Status 200 "a well-formed request afterwards gets 200"

let private http =
    testList
        "http"
        [
            testCase "mutated requests never get a 5xx, and the server serves on" (fun () ->
                (withRunning (startWith standard "ok.lua" []) (fun r ->
                    task {
                        let config = Config.QuickThrowOnFailure.WithMaxTest(200)
                        let requests = Arb.fromGenShrink (mutatedRequest, shrinkRequest)
                        Check.One(config, Prop.forAll requests (answersSanely r.Port))
                        let! code = r.Stop()
                        Expect.equal code 0 $"the script ends cleanly ({r.Transcript})"
                        Expect.equal r.Err.Text "" "nothing on standard error"
                    }))
                    .GetAwaiter()
                    .GetResult())
        ]

let tests = testList "fuzz" [ frames; scanner; http ]
