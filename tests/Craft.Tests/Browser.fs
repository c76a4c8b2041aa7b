/// A real browser for the tests: Debian's `chromium`, headless, driven through its DevTools
/// protocol over one WebSocket (.NET's `ClientWebSocket`, flat sessions: one per tab). Nothing is
/// downloaded: the browser is the system's (`.ci/run` installs it), or `CRAFT_CHROMIUM` names one.
///
/// Every call to the browser fails the test with a clear message when no answer comes within
/// `patience`: a guard against hangs, never a timing assertion. The browser is killed with its
/// whole process group when the test ends, whatever happens.
module Craft.Tests.Browser

open System
open System.Collections.Generic
open System.Diagnostics
open System.IO
open System.Net.WebSockets
open System.Runtime.InteropServices
open System.Text
open System.Text.Json
open System.Text.Json.Nodes
open System.Threading
open System.Threading.Tasks
open Craft.Tests.ScriptHost
open Expecto

/// `kill(2)`: a negative pid names a process group.
[<DllImport("libc", SetLastError = true)>]
extern int private kill(int pid, int signal)

/// One event the browser sent: the tab's session ("" for the browser itself), its method, its
/// parameters.
type DevtoolsEvent =
    {
        Session: string
        Method: string
        Params: JsonElement
    }

    member this.Str(name: string) =
        match this.Params.TryGetProperty name with
        | true, v when v.ValueKind = JsonValueKind.String -> v.GetString()
        | _ -> ""

/// The DevTools protocol over one WebSocket: numbered calls and their answers, and every event
/// kept in arrival order.
type Devtools(ws: ClientWebSocket) =
    let gate = obj ()
    let mutable nextId = 0
    let pending = Dictionary<int, string * TaskCompletionSource<JsonElement>>()
    let events = ResizeArray<DevtoolsEvent>()

    let waiters =
        ResizeArray<(DevtoolsEvent -> bool) * TaskCompletionSource<DevtoolsEvent>>()

    let sending = new SemaphoreSlim(1)
    let mutable broken: string option = None

    let received (root: JsonElement) =
        match root.TryGetProperty "id" with
        | true, id ->
            let entry =
                lock gate (fun () ->
                    match pending.TryGetValue(id.GetInt32()) with
                    | true, entry ->
                        pending.Remove(id.GetInt32()) |> ignore
                        Some entry
                    | _ -> None)

            match entry with
            | Some(meth, tcs) ->
                match root.TryGetProperty "error" with
                | true, error -> tcs.TrySetException(Exception($"{meth} failed: {error.GetRawText()}")) |> ignore
                | _ -> tcs.TrySetResult(root.GetProperty "result") |> ignore
            | None -> ()
        | _ ->
            let event =
                {
                    Session =
                        match root.TryGetProperty "sessionId" with
                        | true, s -> s.GetString()
                        | _ -> ""
                    Method = root.GetProperty("method").GetString()
                    Params =
                        match root.TryGetProperty "params" with
                        | true, p -> p
                        | _ -> JsonDocument.Parse("{}").RootElement
                }

            lock gate (fun () ->
                events.Add event

                for (wanted, tcs) in List.ofSeq waiters do
                    if wanted event then
                        tcs.TrySetResult event |> ignore
                        waiters.Remove((wanted, tcs)) |> ignore)

    let fail (why: string) =
        lock gate (fun () ->
            broken <- Some why

            for (meth, tcs) in List.ofSeq pending.Values do
                tcs.TrySetException(Exception($"{meth}: {why}")) |> ignore

            pending.Clear())

    // Reads every message until the connection ends.
    let _reader =
        task {
            let buffer = Array.zeroCreate<byte> 65536
            use message = new MemoryStream()

            try
                while ws.State = WebSocketState.Open do
                    let! r = ws.ReceiveAsync(ArraySegment buffer, CancellationToken.None)

                    if r.MessageType = WebSocketMessageType.Close then
                        fail "the browser closed its DevTools connection"
                    else
                        message.Write(buffer, 0, r.Count)

                        if r.EndOfMessage then
                            let doc =
                                JsonDocument.Parse(ReadOnlyMemory(message.GetBuffer(), 0, int message.Length))

                            message.SetLength 0L
                            received (doc.RootElement.Clone())

                fail "the DevTools connection ended"
            with e ->
                fail $"the DevTools connection broke: {e.Message}"
        }

    /// Calls `meth` with `args` in the tab `session` ("" for the browser); its result.
    member _.Call(session: string, meth: string, args: JsonObject) : Task<JsonElement> =
        task {
            let tcs =
                TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously)

            let id =
                lock gate (fun () ->
                    match broken with
                    | Some why -> failtestf "%s: %s" meth why
                    | None ->
                        nextId <- nextId + 1
                        pending[nextId] <- (meth, tcs)
                        nextId)

            let message = JsonObject()
            message["id"] <- id
            message["method"] <- meth
            message["params"] <- args

            if session <> "" then
                message["sessionId"] <- session

            let bytes = Encoding.UTF8.GetBytes(message.ToJsonString())
            do! sending.WaitAsync()

            try
                do! ws.SendAsync(ArraySegment bytes, WebSocketMessageType.Text, true, CancellationToken.None)
            finally
                sending.Release() |> ignore

            return! within $"the browser to answer {meth}" tcs.Task
        }

    /// How many events have arrived so far: a mark for `WaitFrom`.
    member _.Mark = lock gate (fun () -> events.Count)

    /// The events so far that satisfy `wanted`.
    member _.Events(wanted: DevtoolsEvent -> bool) =
        lock gate (fun () -> events |> Seq.filter wanted |> List.ofSeq)

    /// The first event at or after `mark` that satisfies `wanted`, arrived or still to come.
    member _.WaitFrom(mark: int, what: string, wanted: DevtoolsEvent -> bool) : Task<DevtoolsEvent> =
        let waiting =
            lock gate (fun () ->
                let found =
                    seq { mark .. events.Count - 1 }
                    |> Seq.map (fun i -> events[i])
                    |> Seq.tryFind wanted

                match found with
                | Some event -> Task.FromResult event
                | None ->
                    let tcs =
                        TaskCompletionSource<DevtoolsEvent>(TaskCreationOptions.RunContinuationsAsynchronously)

                    waiters.Add((wanted, tcs))
                    tcs.Task)

        within what waiting

/// The JSON object of `pairs`, for a call's arguments.
let args (pairs: (string * JsonNode) list) =
    let o = JsonObject()

    for (k, v) in pairs do
        o[k] <- v

    o

let private str (s: string) : JsonNode = JsonValue.Create s
let private num (n: float) : JsonNode = JsonValue.Create n
let private int' (n: int) : JsonNode = JsonValue.Create n
let private bool' (b: bool) : JsonNode = JsonValue.Create b

/// A response the tab's page received, from its network log.
type Response =
    {
        Url: string
        Status: int
        MimeType: string
    }

/// One tab, attached through its own session.
type Tab(devtools: Devtools, session: string, targetId: string, name: string) =
    let call meth a = devtools.Call(session, meth, a)
    let mine (e: DevtoolsEvent) = e.Session = session

    member _.Name = name
    member _.TargetId = targetId
    member _.Session = session

    /// Runs `expression` in the page (awaiting a promise); its value.
    member _.Eval(expression: string) : Task<JsonElement> =
        task {
            let! r =
                call
                    "Runtime.evaluate"
                    (args
                        [
                            "expression", str expression
                            "returnByValue", bool' true
                            "awaitPromise", bool' true
                        ])

            match r.TryGetProperty "exceptionDetails" with
            | true, details -> return failtestf "in tab %s, %s threw: %s" name expression (details.GetRawText())
            | _ ->
                match r.GetProperty("result").TryGetProperty "value" with
                | true, v -> return v
                | _ -> return JsonDocument.Parse("null").RootElement
        }

    member this.Text(expression: string) =
        task {
            let! v = this.Eval expression

            return
                if v.ValueKind = JsonValueKind.String then
                    v.GetString()
                else
                    v.GetRawText()
        }

    /// Waits until `expression` is true in the page, failing the test with `what` (and what the
    /// page shows) if it never is.
    member this.WaitUntil(what: string, expression: string) =
        let givenUp = ref false

        let poll =
            task {
                let mutable ok = false

                while not ok && not givenUp.Value do
                    let! v = this.Eval $"Boolean({expression})"
                    ok <- v.ValueKind = JsonValueKind.True

                    if not ok then
                        do! Task.Delay 50
            }

        task {
            let! finished = Task.WhenAny(poll, Task.Delay patience)

            if not (obj.ReferenceEquals(finished, poll)) then
                givenUp.Value <- true
                let! shown = this.Text "document.body ? document.body.innerText : '(no body)'"
                failtestf "tab %s: timed out waiting for %s; the page shows:\n%s" name what shown

            do! poll
        }

    /// Loads `url` and waits for its load event.
    member _.Navigate(url: string) =
        task {
            let mark = devtools.Mark
            let! r = call "Page.navigate" (args [ "url", str url ])

            match r.TryGetProperty "errorText" with
            | true, e when e.GetString() <> "" -> failtestf "tab %s could not load %s: %s" name url (e.GetString())
            | _ -> ()

            let! _ =
                devtools.WaitFrom(
                    mark,
                    $"tab {name} to load {url}",
                    fun e -> mine e && e.Method = "Page.loadEventFired"
                )

            ()
        }

    /// Runs `act` (a click on a link, say) and waits for the page it leads to to load.
    member _.Loading(what: string, act: unit -> Task<unit>) =
        task {
            let mark = devtools.Mark
            do! act ()

            let! _ =
                devtools.WaitFrom(
                    mark,
                    $"tab {name} to load {what}",
                    fun e -> mine e && e.Method = "Page.loadEventFired"
                )

            ()
        }

    member _.BringToFront() =
        task {
            let! _ = call "Page.bringToFront" (args [])
            ()
        }

    /// A left click in the middle of the element `selector`, as a mouse does.
    member this.Click(selector: string) =
        task {
            do! this.BringToFront()

            let! box =
                this.Eval(
                    $"(() => {{ const e = document.querySelector({JsonSerializer.Serialize selector}); "
                    + "if (!e) return null; e.scrollIntoView(); const r = e.getBoundingClientRect(); "
                    + "return [r.left + r.width / 2, r.top + r.height / 2]; })()"
                )

            if box.ValueKind <> JsonValueKind.Array then
                failtestf "tab %s has no %s to click" name selector

            let x, y = box[0].GetDouble(), box[1].GetDouble()

            for kind in [ "mouseMoved"; "mousePressed"; "mouseReleased" ] do
                let! _ =
                    call
                        "Input.dispatchMouseEvent"
                        (args
                            [
                                "type", str kind
                                "x", num x
                                "y", num y
                                "button", str (if kind = "mouseMoved" then "none" else "left")
                                "clickCount", int' (if kind = "mouseMoved" then 0 else 1)
                            ])

                ()
        }

    /// Types `text` into whatever has the focus, as a keyboard (or an input method) does.
    member this.Type(text: string) =
        task {
            do! this.BringToFront()
            let! _ = call "Input.insertText" (args [ "text", str text ])
            ()
        }

    /// Presses and releases Enter.
    member this.PressEnter() =
        task {
            do! this.BringToFront()

            for kind, text in [ "keyDown", Some "\r"; "keyUp", None ] do
                let a =
                    args
                        [
                            "type", str kind
                            "key", str "Enter"
                            "code", str "Enter"
                            "windowsVirtualKeyCode", int' 13
                        ]

                text |> Option.iter (fun t -> a["text"] <- t)
                let! _ = call "Input.dispatchKeyEvent" a
                ()
        }

    /// The responses in this tab's network log, in order.
    member _.Responses =
        devtools.Events(fun e -> mine e && e.Method = "Network.responseReceived")
        |> List.map (fun e ->
            let r = e.Params.GetProperty "response"

            {
                Url = r.GetProperty("url").GetString()
                Status = r.GetProperty("status").GetInt32()
                MimeType = r.GetProperty("mimeType").GetString()
            })

    /// Requests that failed without a response (refused, blocked, aborted...): URL and reason.
    member _.Failures =
        let urls =
            devtools.Events(fun e -> mine e && e.Method = "Network.requestWillBeSent")
            |> List.map (fun e -> e.Str "requestId", e.Params.GetProperty("request").GetProperty("url").GetString())
            |> dict

        devtools.Events(fun e -> mine e && e.Method = "Network.loadingFailed")
        |> List.map (fun e ->
            let id = e.Str "requestId"

            (match urls.TryGetValue id with
             | true, url -> url
             | _ -> id),
            e.Str "errorText")

    /// Uncaught exceptions, console errors and the browser's own error log lines (a failed
    /// resource, a refused WebSocket) in this tab.
    member _.Errors =
        devtools.Events(fun e ->
            mine e
            && (e.Method = "Runtime.exceptionThrown"
                || e.Method = "Runtime.consoleAPICalled" && e.Str "type" = "error"
                || e.Method = "Log.entryAdded"
                   && e.Params.GetProperty("entry").GetProperty("level").GetString() = "error"))
        |> List.map (fun e -> $"{e.Method} {e.Params.GetRawText()}")

    /// The server-sent events this tab's pages received: event name, id, data.
    member _.ServerSentEvents =
        devtools.Events(fun e -> mine e && e.Method = "Network.eventSourceMessageReceived")
        |> List.map (fun e -> e.Str "eventName", e.Str "eventId", e.Str "data")

    /// The URLs of the WebSockets this tab's pages opened.
    member _.WebSockets =
        devtools.Events(fun e -> mine e && e.Method = "Network.webSocketCreated")
        |> List.map (fun e -> e.Str "url")

    /// Waits for an event `meth` of this tab (arrived or still to come) that satisfies `wanted`.
    member _.WaitEvent(what: string, meth: string, wanted: DevtoolsEvent -> bool) =
        devtools.WaitFrom(0, $"tab {name}: {what}", fun e -> mine e && e.Method = meth && wanted e)

    /// Saves a PNG of what the tab shows to `path`.
    member _.Screenshot(path: string) =
        task {
            let! r = call "Page.captureScreenshot" (args [ "format", str "png" ])
            File.WriteAllBytes(path, Convert.FromBase64String(r.GetProperty("data").GetString()))
        }

/// Where the browser is: `CRAFT_CHROMIUM`, or `chromium` on the PATH.
let executable () =
    match Environment.GetEnvironmentVariable "CRAFT_CHROMIUM" with
    | null
    | "" ->
        (Environment.GetEnvironmentVariable "PATH").Split(':', StringSplitOptions.RemoveEmptyEntries)
        |> Seq.map (fun dir -> Path.Combine(dir, "chromium"))
        |> Seq.tryFind File.Exists
    | path -> if File.Exists path then Some path else None

/// Whether the tests run under CI (`CI=true`), where a missing browser is a failure, not a skip.
let underCi () =
    match Environment.GetEnvironmentVariable "CI" with
    | null -> false
    | v -> v.Equals("true", StringComparison.OrdinalIgnoreCase) || v = "1"

/// A headless chromium with its own profile in a temporary folder, and its DevTools connection.
type Chromium private (proc: Process, group: bool, profile: string, ws: ClientWebSocket, devtools: Devtools) =
    let tabs = ResizeArray<Tab>()

    /// Starts the browser; `Error why` when it cannot start.
    static member Start() : Task<Result<Chromium, string>> =
        task {
            match executable () with
            | None -> return Error "no chromium on the PATH (Debian's chromium package; or set CRAFT_CHROMIUM)"
            | Some exe ->
                let profile = Directory.CreateTempSubdirectory("craft-chromium-").FullName
                // Its own process group (setsid), so that the browser and every helper it starts
                // are killed together.
                let group = File.Exists "/usr/bin/setsid"
                let info = ProcessStartInfo(if group then "/usr/bin/setsid" else exe)

                if group then
                    info.ArgumentList.Add exe

                for a in
                    [
                        "--headless=new"
                        "--no-sandbox"
                        "--disable-gpu"
                        "--disable-dev-shm-usage"
                        "--no-first-run"
                        "--no-default-browser-check"
                        "--disable-extensions"
                        "--disable-background-networking"
                        "--disable-component-update"
                        "--disable-sync"
                        "--remote-debugging-address=127.0.0.1"
                        "--remote-debugging-port=0"
                        $"--user-data-dir={profile}"
                        "about:blank"
                    ] do
                    info.ArgumentList.Add a

                // Its crash database and settings in the profile folder too, not in $HOME.
                info.Environment["XDG_CONFIG_HOME"] <- profile
                info.Environment["XDG_CACHE_HOME"] <- profile
                info.RedirectStandardOutput <- true
                info.RedirectStandardError <- true
                info.UseShellExecute <- false
                let errors = ResizeArray<string>()

                let listening =
                    TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously)

                let marker = "DevTools listening on "

                let proc =
                    try
                        Some(Process.Start info)
                    with e ->
                        errors.Add e.Message
                        None

                match proc with
                | None -> return Error $"{exe} did not start: {String.Join('\n', errors)}"
                | Some proc ->
                    proc.ErrorDataReceived.Add(fun line ->
                        match line.Data with
                        | null -> listening.TrySetResult "" |> ignore
                        | data when data.StartsWith marker ->
                            listening.TrySetResult(data.Substring marker.Length) |> ignore
                        | data ->
                            lock errors (fun () ->
                                if errors.Count < 200 then
                                    errors.Add data))

                    proc.OutputDataReceived.Add ignore
                    proc.BeginErrorReadLine()
                    proc.BeginOutputReadLine()
                    let! first = Task.WhenAny(listening.Task, Task.Delay patience)

                    let started =
                        obj.ReferenceEquals(first, listening.Task) && listening.Task.Result <> ""

                    let ws = new ClientWebSocket()

                    let! connected =
                        task {
                            if not started then
                                return false
                            else
                                try
                                    use cts = new CancellationTokenSource(patience)
                                    do! ws.ConnectAsync(Uri listening.Task.Result, cts.Token)
                                    return true
                                with e ->
                                    lock errors (fun () -> errors.Add $"DevTools connection: {e.Message}")
                                    return false
                        }

                    if connected then
                        return Ok(new Chromium(proc, group, profile, ws, Devtools ws))
                    else
                        // Its standard error closed: it is exiting.
                        if listening.Task.IsCompleted && listening.Task.Result = "" then
                            proc.WaitForExit(int patience.TotalMilliseconds) |> ignore

                        let exited =
                            if proc.HasExited then
                                $" (it exited with code {proc.ExitCode})"
                            else
                                ""

                        Chromium.Kill(proc, group)
                        ws.Dispose()
                        proc.Dispose()
                        Chromium.Remove profile
                        let said = lock errors (fun () -> String.Join("\n", errors |> Seq.truncate 20))
                        return Error $"{exe} did not open its DevTools port{exited}:\n{said}"
        }

    static member private Kill(proc: Process, group: bool) =
        try
            if group then
                kill (-proc.Id, 9) |> ignore

            if not proc.HasExited then
                proc.Kill true

            proc.WaitForExit(int patience.TotalMilliseconds) |> ignore
        with _ ->
            ()

    static member private Remove(profile: string) =
        try
            Directory.Delete(profile, true)
        with _ ->
            ()

    member _.Devtools = devtools

    /// The tabs opened so far.
    member _.Tabs = List.ofSeq tabs

    /// Opens a new tab, named `name` in failure messages, with its network log, console and
    /// errors recorded.
    member _.NewTab(name: string) : Task<Tab> =
        task {
            let! target =
                devtools.Call("", "Target.createTarget", args [ "url", str "about:blank" ])

            let targetId = target.GetProperty("targetId").GetString()

            let! attached =
                devtools.Call("", "Target.attachToTarget", args [ "targetId", str targetId; "flatten", bool' true ])

            let session = attached.GetProperty("sessionId").GetString()

            for domain in [ "Page"; "Runtime"; "Network"; "Log" ] do
                let! _ = devtools.Call(session, $"{domain}.enable", args [])
                ()

            // Every tab behaves as the focused one (typing into a background tab works).
            let! _ =
                devtools.Call(session, "Emulation.setFocusEmulationEnabled", args [ "enabled", bool' true ])

            let tab = Tab(devtools, session, targetId, name)
            tabs.Add tab
            return tab
        }

    /// Closes a tab, as a user does.
    member _.Close(tab: Tab) =
        task {
            let! _ =
                devtools.Call("", "Target.closeTarget", args [ "targetId", str tab.TargetId ])

            tabs.Remove tab |> ignore
        }

    /// Saves a screenshot of every open tab into `folder`; the paths, and what each tab shows.
    member _.SaveState(folder: string, prefix: string) =
        task {
            Directory.CreateDirectory folder |> ignore
            let notes = ResizeArray<string>()

            for tab in List.ofSeq tabs do
                let path = Path.Combine(folder, $"{prefix}-{tab.Name}.png")

                try
                    do! tab.Screenshot path
                    let! url = tab.Text "location.href"
                    let! shown = tab.Text "document.body ? document.body.innerText : '(no body)'"
                    notes.Add $"tab {tab.Name} ({url}), screenshot {path}, shows:\n{shown}"
                with e ->
                    notes.Add $"tab {tab.Name}: no screenshot ({e.Message})"

            return List.ofSeq notes
        }

    interface IDisposable with
        member _.Dispose() =
            Chromium.Kill(proc, group)
            ws.Dispose()
            proc.Dispose()
            Chromium.Remove profile

/// Where failing browser tests save their screenshots: next to the test assembly.
let screenshots = Path.Combine(AppContext.BaseDirectory, "TestResults", "browser")

/// Runs `body`; when it fails, saves a screenshot of every open tab into `screenshots` and adds
/// the paths and what each tab shows to the failure.
let private guarded (browser: Chromium) (name: string) (body: unit -> Task<unit>) =
    task {
        let prefix =
            String(
                name
                |> Seq.map (fun c -> if Char.IsLetterOrDigit c then c else '-')
                |> Array.ofSeq
            )

        let! (failure: exn option) =
            task {
                try
                    do! body ()
                    return None
                with e ->
                    return Some e
            }

        match failure with
        | None -> ()
        | Some(:? IgnoreException as e) -> raise e
        | Some e ->
            let! (notes: string list) =
                task {
                    try
                        return! browser.SaveState(screenshots, prefix)
                    with e ->
                        return [ $"no screenshots: {e.Message}" ]
                }

            let text = String.Join("\n", notes)

            match e with
            | :? AssertException -> raise (AssertException $"{e.Message}\n{text}")
            | _ -> raise (Exception($"{e.GetType().Name}: {e.Message}\n{text}", e))
    }

/// A test with a fresh browser and a server: `serve` starts the server, runs what it is given
/// with it, and stops it; `body` drives the browser against it. On failure every open tab is
/// screenshotted (while the server still runs) into `screenshots`, and the paths and what each
/// tab showed are added to the failure message. When the browser cannot start, the test fails
/// under CI (`.ci/run` installs it) and is skipped, saying why, elsewhere.
let browserTest
    (name: string)
    (serve: ('server -> Task<unit>) -> Task<unit>)
    (body: Chromium -> 'server -> Task<unit>)
    =
    let run () : Task<unit> =
        task {
            match! Chromium.Start() with
            | Error why when underCi () -> failtestf "the browser could not start (and CI=true): %s" why
            | Error why ->
                let message =
                    $"SKIPPED, no browser: {why}. Install Debian's chromium (.ci/run does) to run the browser tests."

                eprintfn "%s: %s" name message
                skiptest message
            | Ok browser ->
                try
                    do! serve (fun server -> guarded browser name (fun () -> body browser server))
                finally
                    (browser :> IDisposable).Dispose()
        }

    testTask name { do! run () }
