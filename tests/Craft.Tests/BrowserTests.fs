/// The examples that serve pages, in a real browser (headless chromium, see `Browser.fs`): each
/// script runs as it is, the browser loads its page, a user's clicks and keys act on it, and the
/// tests read the page's DOM and the browser's network log and console.
module Craft.Tests.BrowserTests

open System
open System.IO
open System.Text.Json
open System.Text.RegularExpressions
open System.Threading.Tasks
open Craft.Interop
open Craft.Tests.ScriptHost
open Craft.Tests.WsHelpers
open Craft.Tests.Browser
open Expecto

/// `examples/<parts>`, as copied next to the test assembly.
let private example (parts: string list) =
    Path.Combine(AppContext.BaseDirectory :: "examples" :: parts |> Array.ofList)

/// The port in an example's banner ("... http://localhost:N/ ...").
let private portInBanner (line: string) =
    let m = Regex.Match(line, @"://localhost:(\d+)/")
    if m.Success then Some(int m.Groups[1].Value) else None

/// Runs `body` with `examples/<parts>` serving on a free port.
let private example' parts args body =
    withRunning (startFile defaults (example parts) args portInBanner) body

/// A JavaScript string literal of `s`.
let private js (s: string) = JsonSerializer.Serialize s

let private strings (v: JsonElement) =
    [ for item in v.EnumerateArray() -> item.GetString() ]

/// Expects no uncaught exception, console error, failed request or error response in `tab`.
let private clean (tab: Tab) =
    Expect.equal tab.Errors [] $"no errors in the console of tab {tab.Name}"
    Expect.equal tab.Failures [] $"no failed requests in tab {tab.Name}"
    Expect.equal (tab.Responses |> List.filter (fun r -> r.Status >= 400)) [] $"no error responses in tab {tab.Name}"

let private chat =
    browserTest
        "examples/chat/server.lua: two tabs talk through the page and its socket"
        (example' [ "chat"; "server.lua" ] [ "0" ])
        (fun browser s ->
            task {
                let lines = "[...document.querySelectorAll('#log li')].map(li => li.textContent)"
                let shows line = $"{lines}.includes({js line})"
                let status = "document.getElementById('status').textContent"

                /// Waits for the page's socket to connect or fail; expects it connected.
                let connects (tab: Tab) =
                    task {
                        do! tab.WaitUntil($"tab {tab.Name}'s socket to connect or fail", $"{status} !== 'connecting…'")
                        let! shown = tab.Text status
                        Expect.equal shown "connected" $"tab {tab.Name}'s socket connected"
                    }

                let! first = browser.NewTab "first"
                do! first.Navigate(s.Url "/")
                do! connects first
                do! first.WaitUntil("the first tab's arrival", shows "* guest1 joined")

                let! second = browser.NewTab "second"
                do! second.Navigate(s.Url "/")
                do! connects second
                do! second.WaitUntil("the second tab's arrival", shows "* guest2 joined")
                do! first.WaitUntil("the first tab to see the second arrive", shows "* guest2 joined")

                // The first user clicks into the box, types, and presses Enter, twice.
                do! first.Click "#text"
                do! first.Type "/nick Alice"
                do! first.PressEnter()
                do! first.Type "hello from the first tab, café ☕"
                do! first.PressEnter()
                let said = "Alice: hello from the first tab, café ☕"

                for tab in [ first; second ] do
                    do! tab.WaitUntil($"tab {tab.Name} to show the first tab's line", shows said)

                let! left = first.Text "document.getElementById('text').value"
                Expect.equal left "" "the box is emptied once the line is sent"

                // The second clicks into the box, types, and clicks Send.
                do! second.Click "#text"
                do! second.Type "hi Alice"
                do! second.Click "#form button"
                let answered = "guest2: hi Alice"

                for tab in [ first; second ] do
                    do! tab.WaitUntil($"tab {tab.Name} to show the second tab's line", shows answered)

                let room =
                    [
                        "* guest1 joined"
                        "* guest2 joined"
                        "* guest1 is now Alice"
                        said
                        answered
                    ]

                for tab in [ first; second ] do
                    let! shown = tab.Eval lines

                    Expect.equal
                        (strings shown)
                        room
                        $"tab {tab.Name} shows the whole room, in order (the second got the first line as history)"

                    let! info =
                        tab.Eval "[...document.querySelectorAll('#log li.info')].map(li => li.textContent)"

                    Expect.equal
                        (strings info)
                        (room |> List.filter (fun l -> l.StartsWith "* "))
                        "room news in italics"

                    Expect.equal
                        tab.WebSockets
                        [ s.Uri("/").ToString() ]
                        $"tab {tab.Name}: one socket, to the page's port"

                    clean tab

                // The second user closes the tab: the first hears of it.
                do! browser.Close second
                do! first.WaitUntil("the first tab to hear that the second left", shows "* guest2 left")

                // Ctrl-C on the server: the page says so.
                let! code = s.Terminate()
                Expect.equal code 0 $"the server ends cleanly ({s.Err.Text})"
                do! first.WaitUntil("the page to show the socket closed", $"{status} === 'disconnected (1001)'")
            })

let private sse =
    // An event every 0.05 s (rather than every second).
    browserTest
        "examples/sse.lua: the page counts the events the server pushes"
        (example' [ "sse.lua" ] [ "0"; "0.05" ])
        (fun browser s ->
            task {
                let! tab = browser.NewTab "page"
                do! tab.Navigate(s.Url "/")
                let count = "Number(document.getElementById('count').textContent)"
                do! tab.WaitUntil("the page to count 10 events", $"{count} >= 10")
                let! time = tab.Text "document.getElementById('time').textContent"
                Expect.isMatch time @"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$" "the page shows the server's time"

                // The time shown came in one of the events the browser received.
                let timeIn (e: DevtoolsEvent) =
                    JsonDocument.Parse(e.Str "data").RootElement.GetProperty("time").GetString()

                let! _ =
                    tab.WaitEvent(
                        $"an event with the time {time}",
                        "Network.eventSourceMessageReceived",
                        fun e -> timeIn e = time
                    )

                let events = tab.ServerSentEvents
                Expect.isGreaterThanOrEqual events.Length 10 "the browser received the events the page counted"

                for name, id, data in events do
                    Expect.equal name "tick" "every event is a tick"

                    let sequence =
                        JsonDocument.Parse(data).RootElement.GetProperty("sequence").GetInt32()

                    Expect.equal (string sequence) id $"the event's id is its sequence number: {data}"

                let ids = events |> List.map (fun (_, id, _) -> int id)

                Expect.equal
                    ids
                    [ ids.Head .. ids.Head + ids.Length - 1 ]
                    "one stream, in order, none lost (the first is the next one after the page connected)"

                let byPath =
                    tab.Responses
                    |> List.map (fun r -> Uri(r.Url).PathAndQuery, (r.Status, r.MimeType))

                Expect.contains byPath ("/", (200, "text/html")) "the page"
                Expect.contains byPath ("/events", (200, "text/event-stream")) "the stream"
                clean tab
                let! _ = s.Terminate()
                ()
            })

/// Runs `body` with a copy of `examples/site` serving on a free port, its title "Browser site".
let private site' (body: Running -> Task<unit>) =
    task {
        let root = SiteTests.copySite "Browser site"

        try
            let setup: Setup =
                fun out err input -> ComputerOptions(Output = out, Error = err, Input = input)

            do! withRunning (HttpHelpers.launch setup portLine (Path.Combine(root, "server.lua")) [ "0" ]) body
        finally
            Directory.Delete(root, true)
    }

let private site =
    browserTest
        "examples/site: its pages load with their images and styles, and nothing is missing"
        site'
        (fun browser s ->
            task {
                let! tab = browser.NewTab "site"

                /// The page's style sheet is the site's, and its rules apply.
                let styled (page: string) =
                    task {
                        let! sheets =
                            tab.Eval "[...document.styleSheets].map(s => s.href + ' ' + s.cssRules.length)"

                        Expect.equal (strings sheets) [ s.Url "/style.css 2" ] $"{page}: its style sheet, loaded"

                        let! looks =
                            tab.Eval
                                "[getComputedStyle(document.querySelector('h1')).color, getComputedStyle(document.body).marginTop]"

                        Expect.equal
                            (strings looks)
                            [ "rgb(51, 102, 204)"; "32px" ]
                            $"{page}: the styles apply (h1 colour, body margin)"
                    }

                do! tab.Navigate(s.Url "/")
                let! heading = tab.Text "document.querySelector('h1').textContent"
                Expect.equal heading "A web site served by a CraftOS program" "the index page"

                do!
                    tab.WaitUntil(
                        "the index page's image to load",
                        "document.images.length === 1 && document.images[0].complete && document.images[0].naturalWidth > 0"
                    )

                do! styled "the index page"

                // A user follows the link to the Lua page.
                do! tab.Loading("the Lua page", fun () -> tab.Click "a")
                let! where = tab.Text "location.pathname + location.search"
                Expect.equal where "/hello?name=visitor" "the link led to the Lua page"
                let! heading = tab.Text "document.querySelector('h1').textContent"
                Expect.equal heading "Hello, visitor" "the Lua page ran"
                let! title = tab.Text "document.title"
                Expect.equal title "Browser site" "its title comes from the settings"
                do! styled "the Lua page"

                let paths =
                    tab.Responses |> List.map (fun r -> Uri(r.Url).PathAndQuery) |> List.distinct

                for path in [ "/"; "/style.css"; "/logo.svg"; "/hello?name=visitor" ] do
                    Expect.contains paths path "requested by the browser"

                clean tab
            })

let tests = testSequenced (testList "browser" [ chat; sse; site ])
