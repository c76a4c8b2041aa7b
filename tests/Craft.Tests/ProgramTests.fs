/// End to end: the script as a CraftOS program (arg, shell, require, package), the CraftOS
/// loaders and settings, as far as they work on a computer without files (scripts in
/// `lua/programs/`, run by a real `Computer`).
module Craft.Tests.ProgramTests

open System
open System.IO
open Craft.Interop
open Expecto

let private patience = TimeSpan.FromSeconds 30.0

/// Runs `lua/programs/<file>` as source named `file` with `args`; returns output, error output
/// and exit code.
let private run (file: string) (args: string list) =
    task {
        let outText = new StringWriter()
        let errText = new StringWriter()
        let out = TextWriter.Synchronized outText
        let err = TextWriter.Synchronized errText
        use computer = new Computer(ComputerOptions(Output = out, Error = err))

        let source =
            File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "lua", "programs", file))

        let! code = computer.RunAsync(source, file, List.toArray args).WaitAsync patience
        return outText.ToString(), errText.ToString(), code
    }

let private lines (items: string list) =
    items |> List.map (fun l -> l + "\n") |> String.concat ""

let tests =
    testList
        "programs"
        [
            testTask "the script runs as the first program: arg, shell, own globals, require" {
                let! out, err, code = run "program.lua" [ "one"; "two words" ]

                Expect.equal
                    out
                    (lines
                        [
                            "program.lua\t2\tone\ttwo words\tone\ttwo words"
                            "program.lua\t[]\t.:/rom/programs"
                            "a/c\tx/y\t../up"
                            "list\tnil"
                            "/bin"
                            "nil\t1\ttrue"
                            "function\ttable\ttrue\ttrue"
                            "hello from greeting\ttrue"
                            "module 'absent' not found:"
                            "\tno field package.preload['absent']"
                            "\tno file 'absent'"
                            "\tno file 'absent.lua'"
                            "\tno file 'absent/init.lua'"
                            "\tno file '/rom/modules/main/absent'"
                            "\tno file '/rom/modules/main/absent.lua'"
                            "\tno file '/rom/modules/main/absent/init.lua'"
                        ])
                    "output"

                Expect.equal err "" "error output"
                Expect.equal code 0 "exit code"
            }

            testTask "loaders without files; load names chunks as CraftOS does; no host loaders" {
                let! out, err, code = run "loaders.lua" []

                Expect.equal
                    out
                    (lines
                        [
                            "nil\tFile not found"
                            "false\tFile not found"
                            "false"
                            "false"
                            "false"
                            "named:1: boom"
                            "named:1: unexpected symbol near <eof>"
                            "exact:1: boom"
                            "/file.lua:1: boom"
                            "nil\tattempt to load a binary chunk (mode is 't')"
                            "function\tfunction\tnil\tnil"
                        ])
                    "output"

                Expect.equal err (lines [ "File not found"; "No such program"; "No such program" ]) "error output"
                Expect.equal code 0 "exit code"
            }

            testTask "settings: define, set, get, details, names, unset, clear, setting_changed" {
                let! out, err, code = run "settings.lua" []

                Expect.equal
                    out
                    (lines
                        [
                            "2\tnil\tfallback"
                            "setting_changed\tdemo.count\t7\t2"
                            "7"
                            "settings.lua:8: bad argument #2 to 'set' (number expected, got string)"
                            "settings.lua:9: bad argument #1 to 'get' (string expected, got nil)"
                            "How many\t2\t7\ttrue"
                            "demo.count,demo.list"
                            "2"
                            "nil"
                        ])
                    "output"

                Expect.equal err "" "error output"
                Expect.equal code 0 "exit code"
            }
        ]
