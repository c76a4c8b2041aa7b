/// `examples/site/`: a CraftOS-PC style web site (static files, a Lua page run through
/// `loadfile(path, env)`, modules loaded with `require`, settings in a file, a log on disk), run
/// on a copy of its folder as the computer's root.
module Craft.Tests.SiteTests

open System
open System.IO
open Craft.Interop
open Craft.Tests.ScriptHost
open Craft.Tests.HttpHelpers
open Expecto

/// A fresh copy of examples/site in a temporary folder, with its title set to `title`.
let copySite (title: string) =
    let source = Path.Combine(AppContext.BaseDirectory, "examples", "site")
    let root = Directory.CreateTempSubdirectory("craft-site-").FullName

    for file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories) do
        let target = Path.Combine(root, Path.GetRelativePath(source, file))
        Directory.CreateDirectory(Path.GetDirectoryName target) |> ignore
        File.Copy(file, target)

    File.WriteAllText(Path.Combine(root, "site.settings"), $"{{\n  [ \"site.title\" ] = \"{title}\",\n}}\n")
    root

let tests =
    testList
        "example site"
        [
            testTask "serves files with their types, Lua pages, settings, 404s, and logs to disk" {
                let root = copySite "Test site"

                try
                    let setup: Setup =
                        fun out err input -> ComputerOptions(Output = out, Error = err, Input = input)

                    do!
                        withRunning (launch setup portLine (Path.Combine(root, "server.lua")) [ "0" ])
                        <| fun r ->
                            task {
                                let get path =
                                    task {
                                        let! response = rawGet r.Port path

                                        return
                                            response.Status,
                                            defaultArg (response.Header "Content-Type") "",
                                            response.Text
                                    }

                                let! status, kind, body = get "/"
                                Expect.equal (status, kind) (200, "text/html; charset=utf-8") "the index page"
                                Expect.stringContains body "<img src=\"/logo.svg\"" "as stored"
                                let! status, kind, _ = get "/style.css"
                                Expect.equal (status, kind) (200, "text/css; charset=utf-8") "a style sheet"
                                let! status, kind, body = get "/logo.svg"
                                Expect.equal (status, kind) (200, "image/svg+xml") "an image"

                                Expect.equal
                                    body
                                    (File.ReadAllText(Path.Combine(root, "public", "logo.svg")))
                                    "its bytes"

                                let! _, _, first = get "/hello?name=Ann"
                                Expect.stringContains first "<h1>Hello, Ann</h1>" "the Lua page ran"

                                Expect.stringContains
                                    first
                                    "<title>Test site</title>"
                                    "the title came from the settings file"

                                Expect.stringContains first "Visit number 1." "first visit"
                                let! _, _, second = get "/hello?name=%3Cb%3E"
                                Expect.stringContains second "Visit number 2." "the page keeps its count in a file"
                                let! status, _, _ = get "/nope"
                                Expect.equal status 404 "not found"
                                let! status, _, body = get "/../server.lua"
                                Expect.equal status 404 "no way out of public/"
                                Expect.isFalse (body.Contains "http.listen") "the source is not served"
                                let! _ = r.Stop()

                                let log = File.ReadAllLines(Path.Combine(root, "logs", "access.log"))
                                Expect.contains log "GET /hello?name=Ann 200" "one line per request, appended"
                                Expect.contains log "GET /nope 404" "errors too"

                                Expect.equal
                                    (File.ReadAllText(Path.Combine(root, "data", "visits.txt")))
                                    "2"
                                    "the counter file"
                            }
                finally
                    Directory.Delete(root, true)
            }
        ]
