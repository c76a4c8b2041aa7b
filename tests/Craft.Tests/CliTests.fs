/// The `craft` command, run as a real process (`dotnet craft.dll ...`).
module Craft.Tests.CliTests

open System
open System.Diagnostics
open System.IO
open System.Reflection
open System.Threading.Tasks
open Craft.Interop
open Expecto

/// The configuration the tests were built with (the CLI is built with the same one).
let private configuration =
    Assembly.GetExecutingAssembly().GetCustomAttributes<AssemblyMetadataAttribute>()
    |> Seq.tryFind (fun a -> a.Key = "Configuration")
    |> Option.map (fun a -> a.Value)
    |> Option.defaultValue "Release"

let private craftDll =
    Path.Combine(LuaLibraryTests.repoRoot, "src", "Craft.Cli", "bin", configuration, "net10.0", "craft.dll")

/// Starts `dotnet craft.dll args` in the working directory `workDir` (the test's own when None),
/// with its standard streams redirected to the test.
let startCraftIn (workDir: string option) (args: string list) =
    let dotnet =
        match Environment.GetEnvironmentVariable "DOTNET_HOST_PATH" with
        | null
        | "" -> "dotnet"
        | path -> path

    let info = ProcessStartInfo(dotnet)
    info.ArgumentList.Add craftDll

    for a in args do
        info.ArgumentList.Add a

    info.RedirectStandardOutput <- true
    info.RedirectStandardError <- true
    info.RedirectStandardInput <- true
    info.UseShellExecute <- false

    match workDir with
    | Some dir -> info.WorkingDirectory <- dir
    | None -> ()

    Process.Start info

/// Starts `dotnet craft.dll args` with its standard streams redirected to the test.
let startCraft (args: string list) = startCraftIn None args

let private script name =
    Path.Combine(AppContext.BaseDirectory, "lua", "computer", name)

type Result = { Code: int; Out: string; Err: string }

/// Runs `dotnet craft.dll args` in `workDir` with no input; fails the test after 30 s.
let craftIn (workDir: string option) (args: string list) =
    task {
        use proc = startCraftIn workDir args
        proc.StandardInput.Close()
        let out = proc.StandardOutput.ReadToEndAsync()
        let err = proc.StandardError.ReadToEndAsync()

        try
            do! proc.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds 30.0)
        with :? TimeoutException ->
            proc.Kill true
            failtestf "craft %A did not finish" args

        let! out = out
        let! err = err

        return
            {
                Code = proc.ExitCode
                Out = out
                Err = err
            }
    }

/// Runs `dotnet craft.dll args` with no input; fails the test after 30 s.
let private craft (args: string list) = craftIn None args

/// One line on standard error, starting "craft: ", nothing on standard output, exit code 2.
let usageError (r: Result) =
    Expect.equal r.Code 2 "exit code"
    Expect.equal r.Out "" "standard output"
    Expect.stringStarts r.Err "craft: " "standard error"
    Expect.equal (r.Err.TrimEnd('\n').Split('\n').Length) 1 $"one line: {r.Err}"

/// Expects exactly this standard output, standard error and exit code.
let private expectOutcome (r: Result) (out: string) (err: string) (code: int) =
    Expect.equal r.Out out "standard output"
    Expect.equal r.Err err "standard error"
    Expect.equal r.Code code "exit code"

let tests =
    testList
        "craft command"
        [
            test "craft.dll was built with the tests" { Expect.isTrue (File.Exists craftDll) $"{craftDll} exists" }

            testTask "--version prints the version" {
                let! r = craft [ "--version" ]
                Expect.equal r.Code 0 "exit code"
                Expect.equal r.Out $"craft {Computer.Version}\n" "standard output"
                Expect.equal r.Err "" "standard error"
            }

            testTask "--help prints the usage" {
                let! r = craft [ "--help" ]
                Expect.equal r.Code 0 "exit code"
                Expect.stringStarts r.Out "Usage: craft run [OPTIONS] SCRIPT [ARGS...]" "standard output"
                Expect.stringContains r.Out "--runaway SECONDS" "lists the options"
                Expect.equal r.Err "" "standard error"
            }

            testTask "run SCRIPT ARGS: the script gets the arguments" {
                let! r = craft [ "run"; script "args.lua"; "a"; "b c" ]
                expectOutcome r "count\t2\n1\t[a]\t1\n2\t[b c]\t3\n" "" 0
            }

            testTask "options before SCRIPT configure the computer; later ones are the script's" {
                let! r =
                    craft
                        [
                            "run"
                            "--id"
                            "7"
                            "--label"
                            "lab"
                            "--allow"
                            "os.getenv"
                            script "getenv.lua"
                            "--id"
                        ]

                Expect.equal r.Out "getenv\tfunction\nPATH set\tstring\nio.popen\tnil\tos.exit\tnil\n" "standard output"
                Expect.equal r.Code 0 "exit code"
            }

            testTask "an uncaught error: the message on standard error, exit code 1" {
                let! r = craft [ "run"; script "error.lua" ]
                Expect.equal r.Out "before\n" "standard output"
                Expect.stringEnds r.Err "error.lua:4: boom\n" "standard error"
                Expect.equal r.Code 1 "exit code"
            }

            testTask "--runaway sets the watchdog" {
                let! r = craft [ "run"; "--runaway"; "0.5"; script "runaway.lua" ]
                Expect.equal r.Err "Too long without yielding\n" "standard error"
                Expect.equal r.Code 1 "exit code"
            }

            testTask "no arguments: one line, exit code 2" {
                let! r = craft []
                usageError r
                Expect.stringContains r.Err "--help" "points at the help"
            }

            testTask "a missing script: one line, exit code 2" {
                let! r = craft [ "run"; "missing.lua" ]
                usageError r
                Expect.stringContains r.Err "missing.lua" "names the file"
            }

            testTask "an unknown option: one line, exit code 2" {
                let! r = craft [ "run"; "--bogus"; "x.lua" ]
                usageError r
                Expect.stringContains r.Err "--bogus" "names the option"
            }

            testTask "a bad option value: one line, exit code 2" {
                let! r = craft [ "run"; "--queue"; "0"; "x.lua" ]
                usageError r
                Expect.stringContains r.Err "--queue" "names the option"
            }

            testTask "a bad --http-allow pattern: one line, exit code 2" {
                let! r = craft [ "run"; "--http-allow"; "10.0.0.0/99"; "x.lua" ]
                usageError r
                Expect.stringContains r.Err "--http-allow" "names the option"
            }

            testTask "--http-allow and --http-deny rules, in order, before the defaults" {
                let rules = Path.Combine(AppContext.BaseDirectory, "lua", "client", "rules.lua")

                let! r =
                    craft [ "run"; "--http-deny"; "127.0.0.3"; "--http-allow"; "127.0.0.0/8"; rules ]

                Expect.equal r.Code 0 $"exit code: {r.Err}"

                Expect.equal
                    r.Out
                    "127.0.0.1\ttrue\n127.0.0.3\tfalse\tDomain not permitted\n10.0.0.1\tfalse\tDomain not permitted\n"
                    "the first matching rule decides"
            }

            testTask "an option without its value: one line, exit code 2" {
                let! r = craft [ "run"; "--runaway" ]
                usageError r
            }

            testTask "run without SCRIPT: one line, exit code 2" {
                let! r = craft [ "run" ]
                usageError r
            }

            testTask "an unknown command: one line, exit code 2" {
                let! r = craft [ "frobnicate" ]
                usageError r
            }
        ]
