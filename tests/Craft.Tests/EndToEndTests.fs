/// End to end over real files: loaders, require, the shell, os.run/loadAPI, settings and the CLI,
/// each run by a real `Computer` (or the real `craft` process) on programs written into a fresh
/// temporary root.
module Craft.Tests.EndToEndTests

open System
open System.IO
open Craft.Interop
open Expecto
open Craft.Tests.FileSystemTests

let private patience = TimeSpan.FromSeconds 30.0

/// Writes each (path inside the root, text) under `root`, making directories as needed.
let private write (root: string) (files: (string * string) list) =
    for path, text in files do
        let full = Path.Combine(root, path)
        Directory.CreateDirectory(Path.GetDirectoryName full) |> ignore
        File.WriteAllText(full, text)

/// Runs the program `main` (a path inside `root`) with `args`: exit code, output, error output.
let private runIn (root: string) (main: string) (args: string list) =
    task {
        let outText = new StringWriter()
        let errText = new StringWriter()

        let options =
            ComputerOptions(
                Output = TextWriter.Synchronized outText,
                Error = TextWriter.Synchronized errText,
                RootDirectory = root
            )

        use computer = new Computer(options)

        let! code =
            computer.RunFileAsync(Path.Combine(root, main), List.toArray args).WaitAsync patience

        return code, outText.ToString(), errText.ToString()
    }

/// Writes `files` into a fresh root and runs `main` there.
let private run (files: (string * string) list) (main: string) (args: string list) =
    task {
        use root = new TempDir()
        write root.Path files
        return! runIn root.Path main args
    }

let private lines (items: string list) =
    items |> List.map (fun l -> l + "\n") |> String.concat ""

let private expectRun (code, out, err) (expectedOut: string list) (expectedErr: string list) =
    Expect.equal out (lines expectedOut) "output"
    Expect.equal err (lines expectedErr) "error output"
    Expect.equal code 0 "exit code"

/// app/main.lua requiring lib.util from app/lib/util.lua, with decoys where a wrong lookup
/// (the root, or the working directory) would find another lib/util.lua.
let private appFiles =
    [
        "app/main.lua",
        """local util = require("lib.util")
print(util.name, util.where)
print(require("lib.util") == util, package.loaded["lib.util"] == util)
print(package.path)
local expect = require("cc.expect")
print(type(expect.expect), package.loaded["cc.expect"] == expect, select(2, pcall(expect.expect, 1, nil, "string")))
print(arg[0], arg[1], #arg, shell.getRunningProgram(), ...)
print(select(2, pcall(require, "lib.absent")))
"""
        "app/lib/util.lua", """return { name = ..., where = "app/lib" }"""
        "lib/util.lua", """return { name = ..., where = "root lib (wrong)" }"""
    ]

let private appOutput =
    [
        "lib.util\tapp/lib"
        "true\ttrue"
        "?;?.lua;?/init.lua;/rom/modules/main/?;/rom/modules/main/?.lua;/rom/modules/main/?/init.lua"
        "function\ttrue\t/app/main.lua:6: bad argument #1 (string expected, got nil)"
        "app/main.lua\tfirst\t2\tapp/main.lua\tfirst\tsecond"
        "module 'lib.absent' not found:"
        "\tno field package.preload['lib.absent']"
        "\tno file 'app/lib/absent'"
        "\tno file 'app/lib/absent.lua'"
        "\tno file 'app/lib/absent/init.lua'"
        "\tno file '/rom/modules/main/lib/absent'"
        "\tno file '/rom/modules/main/lib/absent.lua'"
        "\tno file '/rom/modules/main/lib/absent/init.lua'"
    ]

let tests =
    testList
        "end to end"
        [
            testTask "loadfile (both forms), chunk names, File not found; dofile runs in _G and raises" {
                let! result =
                    run
                        [
                            "lib/x.lua",
                            """-- loaded by loadfile
local what = ...
if what == "boom" then error("bad") end
return what, greeting
"""
                            "lib/set.lua", "shared = 'from dofile'\nreturn 1, 2\n"
                            "lib/bad.lua", "error('dofile fails')\n"
                            "lib/syntax.lua", "x = = 1\n"
                            "main.lua",
                            """local f = loadfile("lib/x.lua", { greeting = "hi" })
print(f("ok"))
local g = loadfile("/lib/../lib/x.lua", "t", setmetatable({ greeting = "hey" }, { __index = _G }))
print(g("ok"))
print(pcall(g, "boom"))
_G.greeting = "global"
print(loadfile("lib/x.lua")("ok"))
print(loadfile("nope.lua"))
print(loadfile("lib"))
print(loadfile("lib/syntax.lua"))
print(dofile("lib/set.lua"))
print(rawget(_G, "shared"), shared)
print(pcall(dofile, "lib/bad.lua"))
print(pcall(dofile, "nope.lua"))
print(select(2, pcall(load("error('x')", "name"))))
print(select(2, pcall(loadstring("error('x')", "name"))))
print(select(2, pcall(load("error('x')", "@/lib/y.lua"))))
"""
                        ]
                        "main.lua"
                        []

                expectRun
                    result
                    [
                        "ok\thi"
                        "ok\they"
                        "false\t/lib/x.lua:3: bad"
                        "ok\tglobal"
                        "nil\tFile not found"
                        "nil\tFile not found"
                        "nil\t/lib/syntax.lua:1: unexpected symbol near '='"
                        "1\t2"
                        "from dofile\tfrom dofile"
                        "false\t/lib/bad.lua:1: dofile fails"
                        "false\tFile not found"
                        "name:1: x"
                        "name:1: x"
                        "/lib/y.lua:1: x"
                    ]
                    []
            }

            testTask "require from the program's directory, cc.expect from /rom, package.loaded, package.path" {
                let! result = run appFiles "app/main.lua" [ "first"; "second" ]
                expectRun result appOutput []
            }

            testTask "the CLI: require from the program's directory when the working directory is elsewhere" {
                use root = new TempDir()
                use elsewhere = new TempDir()
                write root.Path appFiles
                write elsewhere.Path [ "lib/util.lua", "return { name = ..., where = 'working directory (wrong)' }" ]

                let! (r: CliTests.Result) =
                    CliTests.craftIn
                        (Some elsewhere.Path)
                        [
                            "run"
                            "--root"
                            root.Path
                            Path.Combine(root.Path, "app", "main.lua")
                            "first"
                            "second"
                        ]

                Expect.equal r.Err "" "error output"
                Expect.equal r.Out (lines appOutput) "output"
                Expect.equal r.Code 0 "exit code"
            }

            testTask "the CLI: without --root the script's directory is the root, wherever the process runs" {
                use root = new TempDir()
                use elsewhere = new TempDir()
                write root.Path appFiles
                write elsewhere.Path [ "lib/util.lua", "return { name = ..., where = 'working directory (wrong)' }" ]

                let! (r: CliTests.Result) =
                    CliTests.craftIn
                        (Some elsewhere.Path)
                        [ "run"; Path.Combine(root.Path, "app", "main.lua"); "first" ]

                Expect.equal r.Err "" "error output"
                Expect.stringStarts r.Out "lib.util\tapp/lib\n" "app/lib/util.lua, as lib/util.lua of the root app/"
                Expect.stringContains r.Out "\nmain.lua\tfirst\t1\tmain.lua\tfirst\n" "arg"
                Expect.equal r.Code 0 "exit code"
            }

            testTask "the CLI: a script outside --root is a usage error; inside, its path is relative to the root" {
                use root = new TempDir()
                use outside = new TempDir()
                write outside.Path [ "x.lua", "print('ran')" ]
                write root.Path [ "site/server.lua", "print(arg[0], arg[1], shell.getRunningProgram())" ]

                let! (r: CliTests.Result) =
                    CliTests.craftIn (Some outside.Path) [ "run"; "--root"; root.Path; "x.lua" ]

                CliTests.usageError r

                let! (r: CliTests.Result) =
                    CliTests.craftIn
                        (Some outside.Path)
                        [
                            "run"
                            "--root"
                            root.Path
                            Path.Combine(root.Path, "site", "server.lua")
                            "a"
                        ]

                Expect.equal (r.Out, r.Err, r.Code) ("site/server.lua\ta\tsite/server.lua\n", "", 0) "inside"
            }

            testTask "shell.run and shell.execute: a second program with its own arg; No such program" {
                let! result =
                    run
                        [
                            "child.lua",
                            """print("child", arg[0], arg[1], arg.n, shell.getRunningProgram(), select("#", ...), mine)
leaked = true
if arg[1] == "fail" then error("failed on purpose") end
"""
                            "tool", "print('tool', arg[0])"
                            "bin/deep.lua", "print('deep', arg[0], shell.getRunningProgram(), require('helper'))"
                            "bin/helper.lua", "return 'helper of bin'"
                            "main.lua",
                            """mine = "main's"
print(shell.run("child", "a", "b c"))
print(shell.run("child \"two words\""))
print(shell.execute("child.lua", "x"))
print(shell.run("child", "fail"))
print(shell.run("nothing"))
print(shell.execute("nothing"))
print(shell.run("tool"))
print(shell.run("bin/deep"))
print(shell.resolveProgram("child"), shell.resolveProgram("tool"), shell.resolveProgram("child.lua"), shell.resolveProgram("nothing"))
print(rawget(_G, "leaked"), leaked, shell.getRunningProgram())
"""
                        ]
                        "main.lua"
                        []

                expectRun
                    result
                    [
                        "child\tchild\ta\t3\tchild.lua\t3\tnil"
                        "true"
                        "child\tchild\ttwo words\t1\tchild.lua\t1\tnil"
                        "true"
                        "child\tchild.lua\tx\t1\tchild.lua\t1\tnil"
                        "true"
                        "child\tchild\tfail\t1\tchild.lua\t1\tnil"
                        "false"
                        "false"
                        "false"
                        "tool\ttool"
                        "true"
                        "deep\tbin/deep\tbin/deep.lua\thelper of bin"
                        "true"
                        "child.lua\ttool\tchild.lua\tnil"
                        "nil\tnil\tmain.lua"
                    ]
                    [ "/child.lua:3: failed on purpose"; "No such program"; "No such program" ]
            }

            testTask "os.run, os.loadAPI (globals as _G[name], .lua stripped), os.unloadAPI" {
                let! result =
                    run
                        [
                            "prog.lua", "print('prog', who, shell, ...)\nran = true\n"
                            "bad.lua", "error('bad program')\n"
                            "apis/mathx.lua", "function double(x) return x * 2 end\nlocal hidden = 1\nvalue = 21\n"
                            "apis/broken.lua", "error('oops')\n"
                            "main.lua",
                            """local env = { who = "env" }
print(os.run(env, "prog.lua", 1, 2))
print(env.ran, rawget(_G, "ran"))
print(os.run({}, "missing.lua"))
print(os.run({}, "bad.lua"))
print(os.loadAPI("apis/mathx.lua"))
print(type(mathx), mathx.double(4), mathx.value, mathx.hidden, rawget(_G, "mathx") == mathx)
os.unloadAPI("mathx")
print(rawget(_G, "mathx"))
print(pcall(os.loadAPI, "apis/broken.lua"))
print(rawget(_G, "broken"))
"""
                        ]
                        "main.lua"
                        []

                expectRun
                    result
                    [
                        "prog\tenv\tnil\t1\t2"
                        "true"
                        "true\tnil"
                        "false"
                        "false"
                        "true"
                        "table\t8\t21\tnil\ttrue"
                        "nil"
                        "false\tFailed to load API broken due to /apis/broken.lua:1: oops"
                        "nil"
                    ]
                    [ "File not found"; "/bad.lua:1: bad program" ]
            }

            testTask "settings: saved to /.settings in CraftOS's format, loaded by the next computer at start" {
                use root = new TempDir()

                write
                    root.Path
                    [
                        "save.lua",
                        """settings.define("demo.port", { type = "number", default = 80 })
settings.set("demo.port", 8080)
settings.set("demo.name", "craft")
settings.set("demo.list", { 1, "two" })
print(settings.save())
"""
                        "load.lua",
                        """print(settings.get("demo.port"), settings.get("demo.name"), (settings.get("demo.list") or {})[2])
print(textutils.serialize(settings.getNames()))
"""
                    ]

                let! result = runIn root.Path "save.lua" []
                expectRun result [ "true" ] []
                let text = File.ReadAllText(Path.Combine(root.Path, ".settings"))
                Expect.stringStarts text "{\n  [ \"demo." "textutils.serialize of a table"
                Expect.stringContains text "\n  [ \"demo.port\" ] = 8080,\n" "a number"
                Expect.stringContains text "\n  [ \"demo.name\" ] = \"craft\",\n" "a string"
                Expect.stringContains text "\n  [ \"demo.list\" ] = {\n    1,\n    \"two\",\n  },\n" "a table"
                let! result = runIn root.Path "load.lua" []

                expectRun
                    result
                    [
                        "8080\tcraft\ttwo"
                        "{\n  \"demo.list\",\n  \"demo.name\",\n  \"demo.port\",\n}"
                    ]
                    []

                // A file written by CraftOS itself.
                File.WriteAllText(Path.Combine(root.Path, ".settings"), "{\n  [ \"demo.port\" ] = 25,\n}")
                let! result = runIn root.Path "load.lua" []
                let (code: int), (out: string), _ = result
                Expect.equal (code, out.Split('\n')[0]) (0, "25\tnil\tnil") "read at start"
            }

            testTask "arg of the main script; pairs over a file handle lists its functions" {
                let! result =
                    run
                        [
                            "app/main.lua",
                            """print(arg[0], arg[1], arg[2], #arg)
local h = fs.open("f.txt", "w")
local copy, names = {}, {}
for k, v in pairs(h) do copy[k] = v; names[#names + 1] = k .. ":" .. type(v) end
table.sort(names)
print(table.concat(names, " "))
copy.write("copied")
copy.close()
local r = {}
for k, v in pairs(fs.open("f.txt", "r")) do r[k] = v end
print(r.readAll())
r.close()
"""
                        ]
                        "app/main.lua"
                        [ "one"; "two words" ]

                expectRun
                    result
                    [
                        "app/main.lua\tone\ttwo words\t2"
                        "close:function flush:function seek:function write:function writeLine:function"
                        "copied"
                    ]
                    []
            }
        ]
