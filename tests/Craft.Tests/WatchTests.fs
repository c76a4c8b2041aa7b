/// craft run --watch, as a real process over a real folder: a change to a Lua file restarts the
/// computer and the new script is served; a failing script waits for the next change; changes
/// to other files (the server's own data) do not restart it.
module Craft.Tests.WatchTests

open System
open System.IO
open Craft.Tests.ScriptHost
open Expecto

/// A server that says which version it is, on a free port: "port N VERSION".
let private server (version: string) =
    $"""local port = http.addListener(0)
print("port " .. port .. " {version}")
http.listen(port, function(req, res)
    res.write("{version}")
    res.close()
end)
"""

/// Waits for the line "port N VERSION"; N.
let private served (out: LineWriter) (version: string) =
    task {
        let! line =
            within
                $"the server's line for {version} ({out.Text})"
                (out.WaitFor(fun l -> l.StartsWith "port " && l.EndsWith(" " + version)))

        return int (line.Split(' ').[1])
    }

let tests =
    testList
        "watch"
        [
            testCaseTask "craft run --watch restarts on a change, waits after an error, ignores data files" (fun () ->
                task {
                    let dir = Directory.CreateTempSubdirectory("craft-watch-").FullName
                    let main = Path.Combine(dir, "server.lua")
                    File.WriteAllText(main, server "v1")
                    use proc = CliTests.startCraftIn (Some dir) [ "run"; "--watch"; "server.lua" ]
                    let out, err = followLines proc

                    try
                        let! port1 = served out "v1"
                        let! first = HttpHelpers.http.GetStringAsync($"http://127.0.0.1:{port1}/")
                        Expect.equal first "v1" "the first version"

                        // A data file the server might write: no restart.
                        File.WriteAllText(Path.Combine(dir, "data.txt"), "not code")

                        // The script changes: one line says why, and the new version is served.
                        File.WriteAllText(main, server "v2")
                        let! port2 = served out "v2"

                        let! why =
                            within
                                "the restart line"
                                (err.WaitFor(fun l -> l = "craft: server.lua changed, restarting"))

                        Expect.equal why "craft: server.lua changed, restarting" "one line on standard error says why"
                        let! second = HttpHelpers.http.GetStringAsync($"http://127.0.0.1:{port2}/")
                        Expect.equal second "v2" "the new version is served"

                        Expect.isFalse
                            (err.Lines |> List.exists (fun l -> l.Contains "data.txt"))
                            $"data.txt did not restart it: {err.Text}"

                        // A module under the root changes too: a script error now; the process waits.
                        File.WriteAllText(main, "error('broken on purpose')")

                        let! _ =
                            within
                                $"the waiting line ({err.Text})"
                                (err.WaitFor(fun l -> l.StartsWith "craft: the script ended (exit code 1); waiting"))

                        Expect.isTrue
                            (err.Lines |> List.exists (fun l -> l.Contains "broken on purpose"))
                            "the error is shown"

                        Expect.isFalse proc.HasExited "the process waits for a change"

                        // Fixed: served again.
                        Directory.CreateDirectory(Path.Combine(dir, "lib")) |> ignore
                        File.WriteAllText(Path.Combine(dir, "lib", "version.lua"), "return 'v3'")

                        File.WriteAllText(
                            main,
                            (server "v3").Replace("res.write(\"v3\")", "res.write(require('lib.version'))")
                        )

                        let! port3 = served out "v3"
                        let! third = HttpHelpers.http.GetStringAsync($"http://127.0.0.1:{port3}/")
                        Expect.equal third "v3" "the fixed version, with its module"

                        // A change to the module alone restarts it as well.
                        File.WriteAllText(Path.Combine(dir, "lib", "version.lua"), "return 'v4'")

                        let! _ =
                            within
                                $"the restart for the module ({err.Text})"
                                (err.WaitFor(fun l -> l = "craft: lib/version.lua changed, restarting"))

                        let! port4 =
                            within
                                "a fourth start"
                                (out.WaitCount((fun l -> l.StartsWith "port " && l.EndsWith " v3"), 2))

                        let port4 = int (port4.Split(' ').[1])
                        let! fourth = HttpHelpers.http.GetStringAsync($"http://127.0.0.1:{port4}/")
                        Expect.equal fourth "v4" "the module's new version"
                    finally
                        proc.Kill true
                        proc.WaitForExit(int patience.TotalMilliseconds) |> ignore
                        Directory.Delete(dir, true)
                })
        ]
