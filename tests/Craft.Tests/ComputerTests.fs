/// End to end: real Lua scripts from `lua/computer/`, run by a real `Computer` whose output and
/// error writers are captured; each test asserts on the exact text and the exit code.
module Craft.Tests.ComputerTests

open System
open System.Collections.Generic
open System.IO
open System.Text
open System.Threading
open System.Threading.Tasks
open Craft.Interop
open Expecto

/// The safety net for a run: generous, never a timing assertion.
let private patience = TimeSpan.FromSeconds 30.0

let private scriptPath (name: string) =
    Path.Combine(AppContext.BaseDirectory, "lua", "computer", name)

/// Lines as the scripts print them: each ends with "\n".
let private lines (items: string list) =
    items |> List.map (fun l -> l + "\n") |> String.concat ""

/// A thread-safe writer that remembers everything and can tell when a text has appeared.
type private WatchedWriter() =
    inherit TextWriter()
    let gate = obj ()
    let text = StringBuilder()
    let waiters = List<string * TaskCompletionSource>()

    let check () =
        let now = text.ToString()

        for (wanted, tcs) in List.ofSeq waiters do
            if now.Contains(wanted: string) then
                tcs.TrySetResult() |> ignore
                waiters.Remove((wanted, tcs)) |> ignore

    override _.Encoding = Encoding.UTF8

    override _.Write(c: char) =
        lock gate (fun () ->
            text.Append c |> ignore
            check ())

    override _.Write(s: string) =
        lock gate (fun () ->
            text.Append s |> ignore
            check ())

    override _.ToString() = lock gate (fun () -> text.ToString())

    /// Completes once `wanted` has been written (at once if it already was).
    member _.Seen(wanted: string) : Task =
        lock gate (fun () ->
            let tcs = TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)
            waiters.Add((wanted, tcs))
            check ()
            tcs.Task)

/// An input whose lines take a while to come, like a person typing.
type private SlowReader(delay: TimeSpan, line: string) =
    inherit TextReader()
    let mutable given = false

    override _.ReadLine() =
        if given then
            null
        else
            given <- true
            Thread.Sleep delay
            line

type private Outcome = { Code: int; Out: string; Err: string }

/// Options writing to the given writers, reading from an empty input; `tweak` adjusts the rest.
let private standard (out: TextWriter) (err: TextWriter) =
    ComputerOptions(Output = out, Error = err, Input = new StringReader(""))

/// Runs a started computer's task to its end (within the safety net) and collects what it wrote.
let private finish (computer: Computer) (out: WatchedWriter) (err: WatchedWriter) (run: Task<int>) =
    task {
        try
            let! code = run.WaitAsync patience

            return
                {
                    Code = code
                    Out = out.ToString()
                    Err = err.ToString()
                }
        finally
            computer.DisposeAsync().AsTask().Wait patience |> ignore
    }

/// A computer with the standard options, running `lua/computer/<file>` until `token` is cancelled.
type private Started =
    {
        Computer: Computer
        Output: WatchedWriter
        Errors: WatchedWriter
        Run: Task<int>
    }

let private startFile (file: string) (token: CancellationToken) =
    let out = new WatchedWriter()
    let err = new WatchedWriter()
    let c = new Computer(standard out err)

    {
        Computer = c
        Output = out
        Errors = err
        Run = c.RunFileAsync(scriptPath file, cancellationToken = token)
    }

/// Waits until the script has printed `text`, cancels its token, and runs it to its end.
let private cancelAfter (text: string) (cancel: CancellationTokenSource) (s: Started) =
    task {
        do! s.Output.Seen(text).WaitAsync patience
        cancel.Cancel()
        return! finish s.Computer s.Output s.Errors s.Run
    }

/// Waits until the script has printed `text`, disposes its computer, and waits for its exit code.
let private disposeAfter (text: string) (s: Started) =
    task {
        do! s.Output.Seen(text).WaitAsync patience
        do! s.Computer.DisposeAsync().AsTask().WaitAsync patience
        return! s.Run.WaitAsync patience
    }

/// Options with a runaway timeout of 0.5 s.
let private runawayHalfSecond (out: TextWriter) (err: TextWriter) =
    ComputerOptions(Output = out, Error = err, RunawayTimeout = TimeSpan.FromSeconds 0.5)

/// Expects exactly this output, error output and exit code.
let private expectOutcome (r: Outcome) (out: string) (err: string) (code: int) =
    Expect.equal r.Out out "output"
    Expect.equal r.Err err "error output"
    Expect.equal r.Code code "exit code"

/// Runs `lua/computer/<file>` with `args` on a computer built by `make out err`. The source is
/// handed to RunAsync with the file's bare name as chunk name, so that messages read `file:line:`
/// (RunFileAsync names the chunk by its whole path, which Lua shortens to "...<last 56 chars>").
let private runWith make (file: string) (args: string list) =
    let out = new WatchedWriter()
    let err = new WatchedWriter()
    let computer = new Computer(make (out :> TextWriter) (err :> TextWriter))
    let source = File.ReadAllText(scriptPath file)
    finish computer out err (computer.RunAsync(source, file, List.toArray args))

let private run file = runWith standard file []

/// Runs `lua/computer/<file>` through RunFileAsync.
let private runFile (file: string) =
    let out = new WatchedWriter()
    let err = new WatchedWriter()
    let computer = new Computer(standard out err)
    finish computer out err (computer.RunFileAsync(scriptPath file))

/// The test: the script's exact output, nothing on the error writer, exit code 0.
let private prints name file (expected: string list) =
    testTask name {
        let! r = run file
        Expect.equal r.Err "" "error output"
        Expect.equal r.Out (lines expected) "output"
        Expect.equal r.Code 0 "exit code"
    }

let private events =
    testList
        "events"
        [
            prints
                "parameters of every type survive os.queueEvent, nils and count included"
                "event_params.lua"
                [
                    "n\t11"
                    "name\tkinds"
                    "nil\ttrue"
                    "true\ttrue"
                    "false\ttrue"
                    "integer\t42\tinteger"
                    "float\t2.5\tfloat"
                    "bytes\t7\ttrue"
                    "table\ttrue"
                    "function\ttrue"
                    "thread\ttrue"
                    "trailing nil\ttrue"
                    "bare\t1\tbare"
                    "odd name\ttrue\t3"
                ]

            testTask "userdata parameters arrive as the same value" {
                let! r =
                    runWith
                        (fun o e -> ComputerOptions(Output = o, Error = e, Unsandboxed = HashSet<string>([ "io" ])))
                        "event_userdata.lua"
                        []

                Expect.equal r.Out (lines [ "type\tuserdata"; "same\ttrue" ]) "output"
                Expect.equal r.Code 0 "exit code"
            }

            prints
                "a filtered pull discards the events before the one it wants"
                "event_filter.lua"
                [ "c\t3"; "d\t4"; "e\t5" ]

            testTask "bad event names and filters are refused, also right after good ones" {
                let! r = run "event_args.lua"

                let bad n got =
                    $"false\tevent_args.lua:{n}: bad argument #1 (string expected, got {got})"

                expectOutcome
                    r
                    (lines
                        [
                            bad 5 "nil"
                            bad 6 "number"
                            bad 8 "table"
                            "good"
                            bad 10 "number"
                            bad 11 "boolean"
                            "good"
                            bad 14 "table"
                        ])
                    "top level\n"
                    1
            }

            prints
                "filters: a non-string one waits for terminate, terminate passes any, dropped events' parameters go"
                "event_direct.lua"
                [
                    "raw\tterminate"
                    "pull\tfalse\tTerminated"
                    "b\t1"
                    "timer\ttrue"
                    "y\t2"
                    "x\t3"
                ]

            prints
                "tables travel by reference"
                "event_tables.lua"
                [ "same table\ttrue"; "sees change\t2"; "change visible to sender\tback" ]

            prints
                "events a script queues beyond the queue's 256 are dropped"
                "event_overflow.lua"
                [ "received\t256\tlast\t256"; "after\tok" ]

            prints
                "timers fire in the order they fall due; a cancelled timer never fires"
                "timers.lua"
                [
                    "distinct ids\ttrue"
                    "integer ids\tinteger\tinteger"
                    "early late"
                    "first"
                    "timer\ttrue"
                    "false\tbad argument #1 (number expected, got string)"
                    "false\tbad argument #1 (number expected, got nil)"
                ]

            prints
                "sleep waits for its own timer and discards the other events"
                "sleep.lua"
                [ "waited\ttrue"; "after"; "sleep(0) and sleep() return" ]
        ]

let private parallelTests =
    testList
        "parallel"
        [
            prints
                "functions start in argument order and every coroutine sees every event"
                "parallel_order.lua"
                [
                    "a1 b1 c1 a2:x b2:x"
                    "2\tsecond done"
                    "waitForAny()\t0"
                    "waitForAll()\t0"
                    "false\tbad argument #2 (function expected, got number)"
                    "false\tinner"
                ]

            prints
                "each coroutine's own filter is honoured"
                "parallel_filters.lua"
                [ "B got y1"; "C got y1"; "A got x2"; "B got x2"; "C got x2"; "C got x3" ]

            prints
                "terminate reaches every coroutine whatever its filter"
                "parallel_terminate.lua"
                [ "false\tTerminated"; "raw got terminate" ]
        ]

let private libraries =
    testList
        "libraries"
        [
            prints
                "JSON: unicode escapes, nesting, empty arrays, null, round trips, bad JSON gives nil and a message"
                "json.lua"
                [
                    "unicode\t636166C3A920E282AC20F09F9880"
                    "escapes\ttrue"
                    "bytes out\t\"\\u00C3\\u00A9\""
                    "unicode out\t\"\\u00E9\\uD83D\\uDE00\""
                    "control out\t\"\\u0000\\u0001\\n\\u007F\""
                    "list\t4\t1\tinteger\t2.5\ttrue\tfalse\tv"
                    "deep\ttrue"
                    "nested out\t[[1,[2,[3]]],{\"a\":{\"b\":{\"c\":\"d\"}}}]"
                    "empty\ttrue\t[]\t{}"
                    "empty plain\ttable\t{}"
                    "sentinel mutate\tfalse\tjson.lua:28: attempt to mutate textutils.empty_json_array"
                    "null hole\t1\tnil\t3"
                    "null top\tnil"
                    "null object\tnil"
                    "parse_null\ttrue\t{\"a\":null}"
                    "null out\t[1,null,3]\t[1,null,3]"
                    "round trip\tcraft\ta\tb\t-12.75\ttrue"
                    "numbers\t1\t-0.5\t1e+100\t3"
                    "bad\t\"{bad\"\tnil\tMalformed JSON at position 2: Unexpected \"b\", expected object key."
                    "bad\t\"[1, 2\"\tnil\tMalformed JSON at position 6: Unexpected end of input, expected ',' or ']'."
                    "bad\t\"\\\"open\"\tnil\tMalformed JSON at position 6: Unexpected end of input, expected '\"'."
                    "bad\t\"tru\"\tnil\tMalformed JSON at position 1: Unexpected character \"t\"."
                    "bad\t\"[1] x\"\tnil\tMalformed JSON at position 5: Unexpected trailing character \"x\"."
                    "bad\t\"\"\tnil\tMalformed JSON at position 1: Unexpected end of input."
                    "bad\t\"{\\\"a\\\" 1}\"\tnil\tMalformed JSON at position 6: Unexpected \"1\", expected ':'."
                    "not a string\tfalse\tbad argument #1 to 'unserializeJSON' (string expected, got number)"
                    "function\tfalse\tCannot serialize type function"
                    "recursive\tfalse\tCannot serialize table with recursive entries"
                ]

            prints
                "serialize and unserialize as CraftOS formats them"
                "serialize.lua"
                [
                    "{"
                    "  1,"
                    "  \"two\","
                    "  {"
                    "    three = 3,"
                    "  },"
                    "}"
                    "{1,2,x=true,}"
                    "\"line\\"
                    "break\\000\\\"q\\\"\""
                    "1/0\t-1/0\t0.5\t7\tnil\tfalse"
                    "{}\t{[10]=\"ten\",}\t{[\"key with space\"]=1,}"
                    "{[\"end\"]=1,}"
                    "round trip\t1\t2.5\tthree\tx\ttrue\ttrue"
                    "unserialize number\t42\tinteger"
                    "unserialize bad\tnil\tnil"
                    "no globals\tnil\tnil"
                    "same name\ttrue\ttrue"
                    "repeated\tfalse\tCannot serialize table with repeated entries"
                    "repeated allowed\t{{},{},}"
                    "recursive\tfalse\tCannot serialize table with recursive entries"
                    "function\tfalse\tCannot serialize type function"
                ]

            prints
                "urlEncode"
                "urlencode.lua"
                [
                    "abc+XYZ+019+-_."
                    "a%26b%3Dc%2Fd%3Fe%23f%25g%2Bh%7Ei"
                    "line%0D%0Abreak"
                    "%C3%A9"
                    ""
                    "false\tbad argument #1 to 'urlEncode' (string expected, got nil)"
                ]

            prints
                "the Lua 5.2 names: unpack, loadstring, bit32, and CraftOS's aliases"
                "compat.lua"
                [
                    "unpack\t1\t2\t3"
                    "unpack range\t2\t3"
                    "loadstring\t42"
                    "loadstring error\tnil\t[string \"return +\"]:1: unexpected symbol near '+'"
                    "band\t12"
                    "bor\t7"
                    "bxor\t6"
                    "bnot\t4294967295"
                    "lshift\t2147483648\t0"
                    "rshift\t1\t15"
                    "arshift\t4160749568"
                    "btest\ttrue\tfalse"
                    "extract\t15"
                    "aliases\ttrue\ttrue\ttrue"
                ]
        ]

let private computer =
    testList
        "the computer"
        [
            testTask "identity, label, version and clocks; argument errors blame the caller" {
                let! r =
                    runWith
                        (fun o e -> ComputerOptions(Output = o, Error = e, ComputerId = 7, Label = "lab"))
                        "computer.lua"
                        []

                Expect.equal r.Err "" "error output"

                Expect.equal
                    r.Out
                    (lines
                        [
                            "id\t7\tinteger"
                            "label\tlab"
                            "label\trenamed"
                            "label\tnil"
                            "bad label\tfalse\tbad argument #1 (string expected, got number)"
                            "version\tCraftOS 1.9"
                            "host\ttrue"
                            "clock\tnumber\ttrue"
                            "epoch\tinteger\tinteger\tinteger"
                            "epoch utc\ttrue"
                            "time\tnumber\ttrue"
                            "day\tinteger\ttrue\ttrue"
                            "time table\ttrue"
                            "date\t1970-01-01"
                            "bad epoch\tfalse\tUnsupported operation"
                            "false\tcomputer.lua:22: bad argument #1 (string expected, got number)"
                            "false\tcomputer.lua:25: bad argument #1 (number expected, got string)"
                            "false\tcomputer.lua:28: bad argument #1 (number expected, got string)"
                        ])
                    "output"

                Expect.equal r.Code 0 "exit code"
            }

            testTask "_HOST has CraftOS's shape, naming Craft and the version Computer.Version reports" {
                let out = new StringWriter()

                let! code =
                    (new Computer(standard out out)).RunAsync("print(_HOST)").WaitAsync(patience)

                Expect.equal code 0 "exit code"
                Expect.equal (out.ToString()) $"ComputerCraft 1.113.1 (Craft {Computer.Version})\n" "_HOST"
            }

            prints "os.shutdown() ends the script at once with exit code 0" "shutdown.lua" [ "before" ]

            prints "os.shutdown() ends the script from inside pcall and parallel" "shutdown_nested.lua" []

            testTask "arguments arrive as ..." {
                let! r = runWith standard "args.lua" [ "a b"; ""; "é"; "--flag" ]

                Expect.equal
                    r.Out
                    (lines [ "count\t4"; "1\t[a b]\t3"; "2\t[]\t0"; "3\t[é]\t2"; "4\t[--flag]\t6" ])
                    "output"

                Expect.equal r.Code 0 "exit code"
            }

            testTask "print, write and printError go to the captured writers; read() reads the input" {
                let! r =
                    runWith
                        (fun o e ->
                            ComputerOptions(Output = o, Error = e, Input = new StringReader("first line\nsecond\n")))
                        "output.lua"
                        []

                Expect.equal
                    r.Out
                    (lines
                        [
                            "one\t2\tnil\ttrue"
                            "print returns\t1"
                            "no newlinewrite returns\t0"
                            ""
                            "a"
                            "b"
                            "write lines\t2"
                            "x"
                            "y"
                            "print lines\t2"
                            "read\tfirst line"
                            "read\tsecond"
                            "read\tnil"
                        ])
                    "output"

                Expect.equal r.Err "to error\t42\n" "error output"
                Expect.equal r.Code 0 "exit code"
            }
        ]

let private errors =
    testList
        "errors"
        [
            testTask "time spent waiting in read() does not count as running without yielding" {
                let! r =
                    runWith
                        (fun o e ->
                            ComputerOptions(
                                Output = o,
                                Error = e,
                                Input = new SlowReader(TimeSpan.FromSeconds 1.0, "slow line"),
                                RunawayTimeout = TimeSpan.FromSeconds 0.5
                            ))
                        "read_slow.lua"
                        []

                Expect.equal r.Err "" "error output"
                Expect.equal r.Out (lines [ "read\tslow line"; "done\t500000500000" ]) "output"
                Expect.equal r.Code 0 "exit code"
            }

            testTask "an uncaught error is printed as file:line: message, exit code 1" {
                let! r = run "error.lua"
                expectOutcome r "before\n" "error.lua:4: boom\n" 1
            }

            testTask "RunFileAsync names the chunk as CraftOS names a program: its path inside the root" {
                let! r = runFile "error.lua"
                Expect.equal r.Out "before\n" "output"
                Expect.equal r.Err "/error.lua:4: boom\n" "error output (never the host's path)"
                Expect.equal (r.Err.Split('\n').Length) 2 "one line"
                Expect.equal r.Code 1 "exit code"
            }

            testTask "an error value that is not a string is named by its type" {
                let! r = run "error_value.lua"
                Expect.equal r.Err "(table error value)\n" "error output"
                Expect.equal r.Code 1 "exit code"
            }

            testTask "a syntax error: nothing runs, the message, exit code 1" {
                let! r = run "syntax_error.lua"
                expectOutcome r "" "syntax_error.lua:2: unexpected symbol near '='\n" 1
            }

            testTask "a script that never yields gets Too long without yielding (RunawayTimeout 0.5 s)" {
                let! r = runWith runawayHalfSecond "runaway.lua" []

                expectOutcome r "spinning\n" "Too long without yielding\n" 1
            }

            testTask "JSON parsing leaves the watchdog on and argument errors where they were" {
                let! r = runWith runawayHalfSecond "json_watch.lua" []

                expectOutcome
                    r
                    (lines
                        [
                            "101"
                            "false\tjson_watch.lua:5: bad argument #1 to 'unserializeJSON' (string expected, got nil)"
                            "spinning"
                        ])
                    "Too long without yielding\n"
                    1
            }

            testTask "the watchdog's error can be caught, yielding resets it, and coroutines are watched" {
                let! r = runWith runawayHalfSecond "runaway_recover.lua" []

                Expect.equal
                    r.Out
                    (lines
                        [
                            "false\tToo long without yielding"
                            "recovered"
                            "false\tToo long without yielding"
                            "false\tToo long without yielding"
                        ])
                    "output"

                Expect.equal r.Code 0 "exit code"
            }
        ]

let private sandbox =
    testList
        "sandbox"
        [
            prints
                "each sandboxed name is nil and load only takes text"
                "sandbox.lua"
                [
                    "io.popen\tnil"
                    "debug\tnil"
                    "dofile\tfunction"
                    "loadfile\tfunction"
                    "require\tnil"
                    "package\tnil"
                    "collectgarbage\tnil"
                    "os.execute\tnil"
                    "os.exit\tnil"
                    "os.remove\tnil"
                    "os.rename\tnil"
                    "os.getenv\tnil"
                    "os.tmpname\tnil"
                    "os.setlocale\tnil"
                    "string.dump\tnil"
                    "string methods\ttrue"
                    "load text\t2"
                    "load mode b\ttext"
                    "load env\tenv"
                    "load fn\t7"
                    "load error\tnil\tchunk:1: unexpected symbol near '+'"
                ]

            testTask "with string.dump exposed, load, loadstring and unserialize still refuse binary chunks" {
                let! r =
                    runWith
                        (fun o e ->
                            ComputerOptions(Output = o, Error = e, Unsandboxed = HashSet<string>([ "string.dump" ])))
                        "sandbox_binary.lua"
                        []

                let refused = "nil\tattempt to load a binary chunk (mode is 't')"

                Expect.equal
                    r.Out
                    (lines
                        [
                            "binary\ttrue"
                            "load\t" + refused
                            "load b\t" + refused
                            "load bt\t" + refused
                            "loadstring\t" + refused
                            "unserialize\tnil"
                        ])
                    "output"

                Expect.equal r.Code 0 "exit code"
            }

            testTask "Unsandboxed os.getenv exposes it and nothing else" {
                let! r =
                    runWith
                        (fun o e ->
                            ComputerOptions(Output = o, Error = e, Unsandboxed = HashSet<string>([ "os.getenv" ])))
                        "getenv.lua"
                        []

                Expect.equal
                    r.Out
                    (lines [ "getenv\tfunction"; "PATH set\tstring"; "io.popen\tnil\tos.exit\tnil" ])
                    "output"

                Expect.equal r.Code 0 "exit code"
            }
        ]

let private host =
    testList
        "the host"
        [
            testTask "QueueEvent from another thread: every kind of parameter" {
                let out = new WatchedWriter()
                let err = new WatchedWriter()
                let c = new Computer(standard out err)
                let run = c.RunFileAsync(scriptPath "host_event.lua")
                do! out.Seen("ready\n").WaitAsync patience

                let dictionary = Dictionary<string, obj>()
                dictionary["a"] <- box 1
                dictionary["nested"] <- box [| 1; 2 |]

                let parameters: obj array =
                    [|
                        "héllo"
                        42
                        2.5
                        true
                        [| 0uy; 0xFFuy; 0x41uy; 0uy |]
                        ResizeArray<obj>([ box 1; box "x"; box false ])
                        dictionary
                        null
                    |]

                let sender = Thread(fun () -> c.QueueEvent("host", parameters))
                sender.Start()
                let! r = finish c out err run

                Expect.equal
                    r.Out
                    (lines
                        [
                            "ready"
                            "count\t9"
                            "1\tstring 6 68C3A96C6C6F"
                            "2\tinteger 42"
                            "3\tfloat 2.5"
                            "4\tboolean true"
                            "5\tstring 4 00FF4100"
                            "6\t{1=integer 1, 2=string 1 78, 3=boolean false}"
                            "7\t{a=integer 1, nested={1=integer 1, 2=integer 2}}"
                            "8\tnil nil"
                        ])
                    "output"

                Expect.equal r.Code 0 "exit code"
            }

            testTask "a host event name that is not ASCII arrives as UTF-8" {
                let out = new WatchedWriter()
                let err = new WatchedWriter()
                let c = new Computer(standard out err)
                c.QueueEvent("héllo", "héllo")
                let! r = finish c out err (c.RunFileAsync(scriptPath "host_name.lua"))
                Expect.equal r.Out "true\t6\ttrue\n" "output"
                Expect.equal r.Code 0 "exit code"
            }

            testTask "QueueEvent from four threads at once: none dropped, each sender's order kept" {
                let senders = 4
                let each = 250

                let! r =
                    let out = new WatchedWriter()
                    let err = new WatchedWriter()
                    // A small queue, so that host events must wait for room rather than be dropped.
                    let c =
                        new Computer(ComputerOptions(Output = out, Error = err, EventQueueCapacity = 8))

                    let run = c.RunFileAsync(scriptPath "host_many.lua", [| string (senders * each) |])

                    let threads =
                        [
                            for s in 0 .. senders - 1 ->
                                Thread(fun () ->
                                    for i in 1..each do
                                        c.QueueEvent("n", $"s{s}", i))
                        ]

                    for t in threads do
                        t.Start()

                    finish c out err run

                Expect.equal r.Out "received\t1000\ts0:250 s1:250 s2:250 s3:250\n" "output"
                Expect.equal r.Code 0 "exit code"
            }

            testTask "cancellation terminates: os.pullEvent raises Terminated, exit code 1" {
                let cancel = new CancellationTokenSource()
                let! r = startFile "terminated.lua" cancel.Token |> cancelAfter "waiting\n" cancel
                expectOutcome r "waiting\n" "Terminated\n" 1
            }

            testTask "a token cancelled before the run terminates the script at its first pull" {
                let s = startFile "terminated.lua" (CancellationToken(true))
                let! r = finish s.Computer s.Output s.Errors s.Run
                Expect.equal r.Err "Terminated\n" "error output"
                Expect.equal r.Code 1 "exit code"
            }

            testTask "cancellation: os.pullEventRaw sees the terminate event and the script carries on" {
                let cancel = new CancellationTokenSource()
                let! r = startFile "terminate_raw.lua" cancel.Token |> cancelAfter "waiting\n" cancel
                expectOutcome r (lines [ "waiting"; "got\tterminate"; "cleaned up" ]) "" 0
            }

            testTask "disposing a computer whose script waits ends the script, exit code 0" {
                let s = startFile "terminated.lua" CancellationToken.None
                let! code = disposeAfter "waiting\n" s
                Expect.equal code 0 "exit code"
                Expect.equal (s.Output.ToString()) "waiting\n" "output"
                Expect.equal (s.Errors.ToString()) "" "error output"
                Expect.throwsT<InvalidOperationException> (fun () -> s.Computer.RunAsync("") |> ignore) "no second run"
            }

            testTask "disposing a computer whose script never yields stops it with Computer is shutting down" {
                let s = startFile "runaway.lua" CancellationToken.None
                let! code = disposeAfter "spinning\n" s
                Expect.equal code 1 "exit code"
                Expect.equal (s.Errors.ToString()) "Computer is shutting down\n" "error output"
            }

            testTask "a computer runs one script" {
                let out = new StringWriter()
                let c = new Computer(standard out out)
                let! code = c.RunAsync("print('once')").WaitAsync patience
                Expect.equal code 0 "first run"

                Expect.throwsT<InvalidOperationException>
                    (fun () -> c.RunAsync("print('twice')") |> ignore)
                    "second run"

                Expect.equal (out.ToString()) "once\n" "output"
                do! c.DisposeAsync()
            }

            test "options are checked when the computer is built" {
                Expect.throwsT<ArgumentOutOfRangeException>
                    (fun () -> new Computer(ComputerOptions(RunawayTimeout = TimeSpan.Zero)) |> ignore)
                    "RunawayTimeout 0"

                Expect.throwsT<ArgumentOutOfRangeException>
                    (fun () -> new Computer(ComputerOptions(EventQueueCapacity = 0)) |> ignore)
                    "EventQueueCapacity 0"
            }

            test "a missing script file throws FileNotFoundException" {
                let c = new Computer(standard TextWriter.Null TextWriter.Null)

                Expect.throwsT<FileNotFoundException>
                    (fun () -> c.RunFileAsync(scriptPath "no-such-script.lua") |> ignore)
                    "missing file"
            }
        ]

/// CraftOS compatibility of the language (SPEC 5.5): `lua/compat/<file>` prints exact results.
let private compat =
    testList
        "compat"
        [
            testTask "Lua 5.1 names, the bit library, numbers printed as CraftOS prints them, _HOST" {
                let out = new WatchedWriter()
                let err = new WatchedWriter()
                let computer = new Computer(standard out err)
                let file = "language.lua"

                let source =
                    File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "lua", "compat", file))

                let! r = finish computer out err (computer.RunAsync(source, file))

                Expect.equal r.Err "" "error output"

                Expect.equal
                    r.Out
                    (lines
                        [
                            "getfenv()\ttrue\ttrue\ttrue"
                            "getfenv(f)\ttrue\ttrue\ttrue"
                            "setfenv\ttrue\ttrue\tfrom env"
                            "others keep _G\tglobal"
                            "getfenv(2)\ttrue\ttrue\tfrom env"
                            "setfenv chunk\ttrue\t1\tnil"
                            "setfenv(1)\t42"
                            "bad level\tfalse\tbad argument #1 to 'getfenv' (level must be non-negative)"
                            "invalid level\tfalse\tbad argument #1 to 'getfenv' (invalid level)"
                            "bad env\tfalse\tbad argument #2 to 'setfenv' (table expected, got number)"
                            "C function\tfalse\t'setfenv' cannot change environment of given object"
                            "C function env\ttrue"
                            "maxn\t10\t0\t0"
                            "log10\t3\t-2\t0"
                            "os.sleep\ttrue"
                            "bnot\t4294967295\t0\t252645135"
                            "band bor bxor\t15\t3\t6\t4294967295"
                            "brshift\t4294967292\t4\t4294967295"
                            "blogic_rshift\t15\t1"
                            "blshift\t2147483648\t0\t4294967280"
                            "tostring\t5\t5\t1.5\t-0.25\t6"
                            "big\t9.2233720368548e+18\t1e+15\t9.007199254741e+15\t1e+100\t123456789012"
                            "special\tinf\t-inf\ttrue\t1e-05"
                            "integers\t9223372036854775807\t-9223372036854775808\t-7"
                            "1.5\t2\t5"
                            "4 0.1"
                            "format\t5 5\t2|    3|1.5 |"
                            "format others\t2.0 3 \"s\"\t%s 7"
                            "serialize\t5\t{2,2.5,}"
                            "json\t5\t[1,0.5,3]"
                            "metatable\tfalse\tfalse"
                            "error value\t2"
                            "concat\t5.0\t1.0,2"
                            "_HOST\ttrue"
                            "_HEADLESS\ttrue"
                        ])
                    "output"

                Expect.equal r.Code 0 "exit code"
            }
        ]

let tests =
    testList "computer" [ events; parallelTests; libraries; computer; errors; sandbox; host; compat ]
