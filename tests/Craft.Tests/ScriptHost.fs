/// What the WebSocket and HTTP tests share: a real `Computer` running a Lua script that serves on a
/// port it prints, whose printed lines the test can wait for and whose `read()` the test can feed.
module Craft.Tests.ScriptHost

open System
open System.Collections.Concurrent
open System.IO
open System.Net.Sockets
open System.Text
open System.Threading
open System.Threading.Tasks
open Craft.Interop
open Expecto

/// The safety net for anything a test waits for: generous, never a timing assertion.
let patience = TimeSpan.FromSeconds 30.0

/// Waits for a task, failing the test with `what` if it does not finish in `patience`.
let withinUnit (what: string) (t: Task) : Task =
    task {
        let! finished = Task.WhenAny(t, Task.Delay patience)

        if not (obj.ReferenceEquals(finished, t)) then
            failtestf "timed out waiting for %s" what

        do! t
    }

/// Waits for a task, failing the test with `what` if it does not finish in `patience`; its result.
let within (what: string) (t: Task<'T>) : Task<'T> =
    task {
        do! withinUnit what (t :> Task)
        return t.Result
    }

/// A writer that keeps every line and lets a test wait for a line.
type LineWriter() =
    inherit TextWriter()
    let gate = obj ()
    let lines = ResizeArray<string>()
    let partial = StringBuilder()
    let waiters = ResizeArray<(string -> bool) * TaskCompletionSource<string>>()

    let complete (line: string) =
        lines.Add line

        for (wanted, tcs) in List.ofSeq waiters do
            if wanted line then
                tcs.TrySetResult line |> ignore
                waiters.Remove((wanted, tcs)) |> ignore

    override _.Encoding = Encoding.UTF8

    override _.Write(c: char) =
        lock gate (fun () ->
            if c = '\n' then
                complete (partial.ToString())
                partial.Clear() |> ignore
            elif c <> '\r' then
                partial.Append c |> ignore)

    override this.Write(s: string) =
        if not (isNull s) then
            for c in s do
                this.Write c

    /// Every complete line so far.
    member _.Lines = lock gate (fun () -> List.ofSeq lines)

    /// Everything written so far, for failure messages.
    member this.Text = String.Join("\n", this.Lines)

    /// The first line (already written or still to come) that satisfies `wanted`.
    member _.WaitFor(wanted: string -> bool) : Task<string> =
        lock gate (fun () ->
            match Seq.tryFind wanted lines with
            | Some line -> Task.FromResult line
            | None ->
                let tcs =
                    TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously)

                waiters.Add((wanted, tcs))
                tcs.Task)

    /// Completes once `count` lines (written or still to come) satisfy `wanted`.
    member this.WaitCount(wanted: string -> bool, count: int) : Task<string> =
        let mutable seen = 0

        this.WaitFor(fun line ->
            if wanted line then
                seen <- seen + 1

            seen >= count)

/// Standard input for a script: `read()` blocks the computer's thread until the test sends a line.
type LineFeed() =
    inherit TextReader()
    let lines = new BlockingCollection<string>()

    member _.Send(line: string) = lines.Add line

    override _.ReadLine() =
        let mutable line = null
        if lines.TryTake(&line, patience) then line else null

/// A script running on its own computer.
type Running =
    {
        Computer: Computer
        Out: LineWriter
        Err: LineWriter
        Input: LineFeed
        Exit: Task<int>
        /// Cancelling it queues `terminate` (as Ctrl-C does).
        Terminator: CancellationTokenSource
        /// The port the script printed.
        Port: int
        /// The event `Stop` queues, which the script ends on.
        StopEvent: string
    }

    member this.Transcript = $"output:\n{this.Out.Text}\nerrors:\n{this.Err.Text}"

    /// Waits for a printed line equal to `line`.
    member this.WaitLine(line: string) =
        within $"the line '{line}' ({this.Transcript})" (this.Out.WaitFor((=) line))

    /// Waits for the first printed line starting with `prefix`.
    member this.WaitPrefix(prefix: string) =
        within $"a line starting '{prefix}' ({this.Transcript})" (this.Out.WaitFor(fun l -> l.StartsWith prefix))

    /// Waits until `count` printed lines start with `prefix`.
    member this.WaitPrefixCount(prefix: string, count: int) =
        within
            $"{count} lines starting '{prefix}' ({this.Transcript})"
            (this.Out.WaitCount((fun l -> l.StartsWith prefix), count))

    /// The printed lines starting with `prefix`.
    member this.LinesStarting(prefix: string) =
        this.Out.Lines |> List.filter (fun l -> l.StartsWith prefix)

    member this.Url(path: string) = $"http://127.0.0.1:{this.Port}{path}"

    member this.Uri(path: string) =
        Uri($"ws://127.0.0.1:{this.Port}{path}")

    member this.Uri() = this.Uri "/"

    /// Waits for the script to end on its own; its exit code.
    member this.Finish() =
        within $"the script to end ({this.Transcript})" this.Exit

    /// Queues `StopEvent` and waits for the script to end; its exit code.
    member this.Stop() =
        this.Computer.QueueEvent this.StopEvent
        this.Finish()

    /// Queues `terminate` (as Ctrl-C does) and waits for the script to end; its exit code.
    member this.Terminate() =
        this.Terminator.Cancel()
        this.Finish()

/// Follows a started process's standard output and error line by line, so a test can wait for
/// a line while the process runs.
let followLines (proc: System.Diagnostics.Process) =
    let out = new LineWriter()
    let err = new LineWriter()

    proc.OutputDataReceived.Add(fun e ->
        if not (isNull e.Data) then
            out.Write(e.Data + "\n"))

    proc.ErrorDataReceived.Add(fun e ->
        if not (isNull e.Data) then
            err.Write(e.Data + "\n"))

    proc.BeginOutputReadLine()
    proc.BeginErrorReadLine()
    out, err

/// How a test's computer is set up, given its captured output, errors and input.
type Setup = TextWriter -> TextWriter -> TextReader -> ComputerOptions

/// Runs the script at `path` on a computer set up by `setup`, and waits for the first printed line
/// that `portOf` finds a port in; `stopEvent` is the event the script ends on.
let launchWith (stopEvent: string) (setup: Setup) (portOf: string -> int option) (path: string) (args: string list) =
    task {
        let out = new LineWriter()
        let err = new LineWriter()
        let input = new LineFeed()
        let terminator = new CancellationTokenSource()
        let computer = new Computer(setup out err input)
        let exit = computer.RunFileAsync(path, args, terminator.Token)
        let announced = out.WaitFor(portOf >> Option.isSome)
        let! first = Task.WhenAny(announced :> Task, exit :> Task, Task.Delay patience)

        if not (obj.ReferenceEquals(first, announced)) then
            do! computer.DisposeAsync()
            failtestf "%s did not print its port:\n%s\n%s" path out.Text err.Text

        return
            {
                Computer = computer
                Out = out
                Err = err
                Input = input
                Exit = exit
                Terminator = terminator
                Port = (portOf announced.Result).Value
                StopEvent = stopEvent
            }
    }

/// The port in a line `port N`.
let portLine (line: string) =
    match line.Split ' ' with
    | [| "port"; n |] ->
        match Int32.TryParse n with
        | true, p -> Some p
        | _ -> None
    | _ -> None

/// Runs `body` with a started script, and disposes the computer whatever happens.
let withRunning (starting: Task<Running>) (body: Running -> Task<unit>) =
    task {
        let! running = starting

        try
            do! body running
        finally
            running.Computer.DisposeAsync().AsTask().Wait(patience) |> ignore
            running.Terminator.Dispose()
    }

/// A test's own TCP connection to a script's port.
type TcpPeer(tcp: TcpClient) =
    /// Ends the connection at once (RST), without a goodbye, as a client that goes away does.
    member _.Abort() =
        tcp.Client.LingerState <- LingerOption(true, 0)
        tcp.Close()

    interface IDisposable with
        member _.Dispose() = tcp.Dispose()
