/// The terminal (SPEC §7): the plain and ansi renderers' bytes, driven through the model; window
/// over both; the libraries around the terminal (lua/term/library.lua) in a real computer; host
/// peripherals from C#; os.shutdown's exit code and os.reboot through the command line.
module Craft.Tests.TerminalTests

open System
open System.IO
open System.Net
open System.Net.Sockets
open System.Text
open Craft.Interop
open Craft.Interop.Apis
open Expecto

let private patience = TimeSpan.FromSeconds 30.0

let private bytes (s: string) = Encoding.UTF8.GetBytes s

/// A model over a plain renderer, and what it rendered so far.
let private plain () =
    let r = PlainRenderer()
    TerminalModel(r, 51, 19), (fun () -> Encoding.UTF8.GetString(r.Take()))

let private ansi () =
    let r = AnsiRenderer(20, 5)
    TerminalModel(r, 20, 5), (fun () -> Encoding.UTF8.GetString(r.Take()))

let private write (t: TerminalModel) (s: string) = t.Write(ReadOnlySpan(bytes s))

let private blit (t: TerminalModel) (s: string) (fg: byte) (bg: byte) =
    let n = s.Length
    t.Blit(ReadOnlySpan(bytes s), ReadOnlySpan(Array.create n fg), ReadOnlySpan(Array.create n bg))

/// Runs Lua source in a computer with the given rendering; output, error output and exit code.
let private runWith (kind: TerminalKind) (source: string) =
    task {
        let out = new StringWriter()
        let err = new StringWriter()

        use computer =
            new Computer(
                ComputerOptions(
                    Output = TextWriter.Synchronized out,
                    Error = TextWriter.Synchronized err,
                    Input = TextReader.Null,
                    Terminal = kind
                )
            )

        let! code = computer.RunAsync(source, "term.lua").WaitAsync patience
        return out.ToString(), err.ToString(), code
    }

let private dashboard =
    """
    term.clear()
    local w = window.create(term.current(), 2, 2, 12, 3)
    w.setCursorPos(1, 1) w.write("Served: ") w.write("5")
    w.setCursorPos(1, 2) w.setTextColour(colors.lime) w.write("Up: 3s")
    w.setCursorPos(1, 1) w.write("Served: 6")
    term.setCursorPos(1, 6)
    print("done")
    """

let private freePort () =
    let l = new TcpListener(IPAddress.Loopback, 0)
    l.Start()
    let port = (l.LocalEndpoint :?> IPEndPoint).Port
    l.Stop()
    port

let tests =
    testList
        "terminal"
        [
            testList
                "plain renderer"
                [
                    test "text appears in order; the print newline is written even on an empty line" {
                        let t, taken = plain ()
                        write t "a"
                        write t "b"
                        t.NewLine()
                        t.NewLine()
                        write t "c"
                        Expect.equal (taken ()) "ab\n\nc" "bytes"
                    }

                    test "moving forward on the same row pads with spaces, at the next text" {
                        let t, taken = plain ()
                        write t "a"
                        t.SetCursorPos(5, 1)
                        Expect.equal (taken ()) "a" "no padding before text follows"
                        write t "b"
                        Expect.equal (taken ()) "   b" "padded to column 5"
                    }

                    test "a text placed forward on a fresh line is padded from column 1" {
                        let t, taken = plain ()
                        t.SetCursorPos(3, 4)
                        write t "x"
                        Expect.equal (taken ()) "  x" "bytes"
                    }

                    test "moving to another row ends the line with one newline, only if something was written" {
                        let t, taken = plain ()
                        write t "a"
                        t.SetCursorPos(1, 3)
                        t.SetCursorPos(1, 7)
                        write t "b"
                        t.SetCursorPos(1, 1)
                        Expect.equal (taken ()) "a\nb\n" "bytes"
                    }

                    test "clear, clearLine, scroll, colours and blink write nothing" {
                        let t, taken = plain ()
                        t.Clear()
                        t.ClearLine()
                        t.Scroll 3
                        t.Scroll -1
                        t.TextColour <- 14
                        t.BackgroundColour <- 11
                        t.SetCursorBlink true
                        Expect.equal (taken ()) "" "nothing"
                    }

                    test "a progress line rewritten in place becomes separate lines, each showing the row" {
                        let t, taken = plain ()

                        for i in 1..3 do
                            t.SetCursorPos(1, 5)
                            write t "Progress: "
                            t.SetCursorPos(11, 5)
                            write t $"{i * 10}%%"

                        t.SetCursorPos(1, 6)
                        Expect.equal (taken ()) "Progress: 10%\nProgress: 20%\nProgress: 30%\n" "bytes"
                    }

                    test "text drawn again over itself is not repeated" {
                        let t, taken = plain ()
                        write t "Served: "
                        t.SetCursorPos(1, 1)
                        write t "Served: 5"
                        Expect.equal (taken ()) "Served: 5" "one line"
                    }

                    test "blit leaves out the blanks around its text" {
                        let t, taken = plain ()
                        blit t "          " 0uy 15uy
                        t.SetCursorPos(1, 1)
                        blit t "  hi      " 0uy 15uy
                        Expect.equal (taken ()) "  hi" "bytes"
                    }

                    test "print does not wrap at the width" {
                        let t, taken = plain ()
                        let long = String('x', 80)
                        write t long
                        t.NewLine()
                        Expect.equal (taken ()) (long + "\n") "one line"
                        Expect.equal (t.Width, t.Height) (51, 19) "CraftOS's size"
                    }
                ]

            testList
                "ansi renderer"
                [
                    test "the first output clears the screen; text goes where the cursor is, in its colours" {
                        let t, taken = ansi ()
                        t.SetCursorPos(3, 2)
                        write t "hi"
                        Expect.equal (taken ()) "\x1b[0m\x1b[2J\x1b[H\x1b[?25l\x1b[2;3H\x1b[97;40mhi" "bytes"
                    }

                    test "colours are SGR codes, changed only when they change" {
                        let t, taken = ansi ()
                        write t "a"
                        taken () |> ignore
                        t.TextColour <- 14
                        t.BackgroundColour <- 11
                        write t "b"
                        write t "c"
                        Expect.equal (taken ()) "\x1b[31;44mbc" "red on blue"
                    }

                    test "clear, clearLine and scroll are ED, EL and SU/SD in the background colour" {
                        let t, taken = ansi ()
                        write t "a"
                        taken () |> ignore
                        t.BackgroundColour <- 14
                        t.Clear()
                        Expect.equal (taken ()) "\x1b[97;41m\x1b[2J" "clear"
                        t.SetCursorPos(1, 3)
                        t.ClearLine()
                        Expect.equal (taken ()) "\x1b[3;1H\x1b[2K" "clearLine"
                        t.Scroll 2
                        t.Scroll -1
                        Expect.equal (taken ()) "\x1b[2S\x1b[1T" "scroll"
                    }

                    test "text past the edge is clipped; control bytes show as ?" {
                        let t, taken = ansi ()
                        t.SetCursorPos(18, 1)
                        write t "abcdef"
                        t.SetCursorPos(1, 2)
                        write t "a\u0001"
                        let out = taken ()
                        Expect.stringContains out "\x1b[1;18H\x1b[97;40mabc" "clipped at 20"
                        Expect.isFalse (out.Contains "def") "nothing past the edge"
                        Expect.stringContains out "\x1b[2;1Ha?" "control byte"
                    }

                    test "the cursor shown follows the model; finishing restores the terminal below the text" {
                        let t, taken = ansi ()
                        write t "a"
                        t.SetCursorBlink true
                        t.SetCursorPos(4, 3)
                        Expect.stringEnds (taken ()) "a\x1b[?25h\x1b[3;4H" "blink on, cursor moved"
                        t.Finish()
                        Expect.equal (taken ()) "\x1b[0m\x1b[?25h\x1b[1;1H\r\n" "reset, below row 1"
                    }

                    test "the print newline at the bottom scrolls" {
                        let t, taken = ansi ()
                        t.SetCursorPos(1, 5)
                        write t "x"
                        taken () |> ignore
                        t.NewLine()
                        Expect.equal (taken ()) "\x1b[1S" "scrolled one"
                        Expect.equal (t.X, t.Y) (1, 5) "still on the last row"
                    }
                ]

            testTask "window over the plain rendering reads as lines in a log" {
                let! out, err, code = runWith TerminalKind.Plain dashboard
                Expect.equal out " Served: 5\n Up: 3s\n Served: 6\ndone\n" "output"
                Expect.equal err "" "error"
                Expect.equal code 0 "exit code"
            }

            testTask "examples/dashboard.lua: in a log, each change is a line; requests and clients counted" {
                let setup: Craft.Tests.ScriptHost.Setup =
                    fun out err input ->
                        ComputerOptions(Output = out, Error = err, Input = input, Terminal = TerminalKind.Plain)

                let portOf (line: string) =
                    let m = Text.RegularExpressions.Regex.Match(line, "localhost:([0-9]+)/")
                    if m.Success then Some(int m.Groups[1].Value) else None

                let path = IO.Path.Combine(AppContext.BaseDirectory, "examples", "dashboard.lua")

                do!
                    Craft.Tests.ScriptHost.withRunning (
                        Craft.Tests.ScriptHost.launchWith "terminate" setup portOf path [ "0" ]
                    )
                    <| fun r ->
                        task {
                            use client = new Net.Http.HttpClient()
                            let! first = client.GetStringAsync(r.Url "/")
                            Expect.equal first "served 1, clients 0\n" "first answer"
                            use ws = new Net.WebSockets.ClientWebSocket()
                            do! ws.ConnectAsync(Uri $"ws://127.0.0.1:{r.Port}/", Threading.CancellationToken.None)
                            let! second = client.GetStringAsync(r.Url "/")
                            Expect.equal second "served 2, clients 1\n" "a WebSocket client is counted"
                            let! _ = r.WaitLine "Clients   1"
                            let! _ = r.WaitLine "Requests  2"
                            Expect.isFalse (r.Out.Text.Contains "\x1b") "no escape sequences in a log"
                        }
            }

            testTask "window over the ansi rendering draws with escape sequences" {
                let! out, _, code = runWith TerminalKind.Ansi dashboard
                Expect.stringStarts out "\x1b[0m\x1b[2J\x1b[H\x1b[?25l" "clears first"
                Expect.stringContains out "\x1b[2;2HServed: 5" "first row drawn at (2, 2)"
                Expect.stringContains out "\x1b[92;40mUp: 3s" "lime text"
                Expect.stringContains out "Served: 6" "redrawn"
                Expect.stringContains out "\x1b[6;1H" "print at row 6"
                Expect.equal code 0 "exit code"
            }

            testTask "print, write, io.write and term share one cursor; printError goes to standard error" {
                let! out, err, code =
                    runWith
                        TerminalKind.Plain
                        """
                        write("a") io.write("b") term.write("c") print("d", 1, 10/2)
                        local x, y = term.getCursorPos()
                        print(x, y, write("e\nf\n"))
                        printError("oops")
                        """

                Expect.equal out "abcd\t1\t5\ne\nf\n1\t2\t2\n" "output"
                Expect.equal err "oops\n" "error"
                Expect.equal code 0 "exit code"
            }

            testTask "the libraries around the terminal give CC:Tweaked's documented results" {
                let source =
                    File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "lua", "term", "library.lua"))

                let! out, err, code = runWith TerminalKind.Plain source
                Expect.stringContains out " passed, 0 failed" out
                Expect.isFalse (out.Contains "FAIL") out
                Expect.equal err "" "error"
                Expect.equal code 0 "exit code"
            }

            testTask "a C# host gives a script a peripheral: every value kind, errors, detached mid-call" {
                let! (r: Craft.Tests.CSharp.Observed) =
                    Craft.Tests.CSharp.HostScenarios.PeripheralAsync()

                let expected =
                    [
                        "peripheral\tleft\ttrue\ttest_device\tfalse"
                        "left\tdescribe,echo,fail,slow"
                        "left\ttest_device\ttrue"
                        "null,Boolean,Int64,Double,String,Object[],Dictionary`2,Byte[]"
                        "nil\ttrue\t7\tinteger\t2.5\ttëxt\t1\ttwo\t1"
                        "false\tthe host says no"
                        "false\tNo such method nope"
                        "true"
                        "finished"
                        "false"
                        "peripheral_detach\tleft"
                        "false\tNo peripheral attached"
                    ]
                    |> List.map (fun l -> l + "\n")
                    |> String.concat ""

                Expect.equal r.Output expected "output"
                Expect.equal r.Error "" "error"
                Expect.equal r.ExitCode 0 "exit code"
            }

            testTask "os.shutdown(n) is the process's exit code" {
                let dir = Directory.CreateTempSubdirectory "craft-term"
                let script = Path.Combine(dir.FullName, "bye.lua")
                File.WriteAllText(script, "print('bye') os.shutdown(3) print('never')")
                let! (r: CliTests.Result) = CliTests.craftIn None [ "run"; script ]
                Expect.equal r.Out "bye\n" "output"
                Expect.equal r.Code 3 "exit code"
                let! (r: CliTests.Result) = CliTests.craftIn None [ "run"; "--term"; "ansi"; script ]
                Expect.stringContains r.Out "\x1b[2J" "--term ansi renders escapes to a pipe"
                Expect.equal r.Code 3 "exit code"

                let! (r: CliTests.Result) =
                    CliTests.craftIn None [ "run"; "--term"; "fancy"; script ]

                CliTests.usageError r
            }

            testTask "os.reboot runs the script again in a fresh computer, after its port is released" {
                let dir = Directory.CreateTempSubdirectory "craft-reboot"
                let script = Path.Combine(dir.FullName, "reboot.lua")

                File.WriteAllText(
                    script,
                    """
                    local runs = 1
                    if fs.exists("runs") then
                        local f = fs.open("runs", "r") runs = tonumber(f.readAll()) + 1 f.close()
                    end
                    local f = fs.open("runs", "w") f.write(tostring(runs)) f.close()
                    local port = http.addListener(tonumber((...)))
                    print("run " .. runs .. " on " .. port .. " " .. tostring(_G.leftover))
                    _G.leftover = "from run " .. runs
                    if runs == 1 then os.reboot() end
                    os.shutdown(7)
                    """
                )

                let port = freePort ()
                let! (r: CliTests.Result) = CliTests.craftIn None [ "run"; script; string port ]
                Expect.equal r.Out $"run 1 on {port} nil\nrun 2 on {port} nil\n" "both runs bound the port"
                Expect.equal r.Err "" "error"
                Expect.equal r.Code 7 "exit code of the second run"
            }
        ]
