/// The C# API proved from real C# code (tests/Craft.Tests.CSharp): each scenario is a C# method
/// that uses the API as a C# host would and returns what it observed.
module Craft.Tests.CSharpApiTests

open System
open System.IO
open Craft.Tests.CSharp
open Expecto

let tests =
    testList
        "C# API"
        [
            testTask "options with init and with, RunAsync with arguments and a token, await using" {
                let! (r: Observed) = HostScenarios.RunWithArgumentsAsync()
                Expect.equal r.Output "args\t3\tone\ttwo words\tünï\nid\t42\tfrom C#\n" "output"
                Expect.equal r.Error "to error\n" "error"
                Expect.equal r.ExitCode 0 "exit code"
            }

            testTask "HttpRules from C#: an allow-list reaches its address and nothing else" {
                let! (r: Observed) = HostScenarios.HttpRulesAsync()
                Expect.equal r.Output "hi GET\nfalse\tDomain not permitted\n" "output"
                Expect.equal r.ExitCode 0 $"exit code: {r.Error}"
            }

            testTask "RunFileAsync: an uncaught error is exit code 1 and file:line: message" {
                let path = Path.Combine(AppContext.BaseDirectory, "lua", "computer", "error.lua")
                let! (r: Observed) = HostScenarios.RunFileAsync(path)
                Expect.equal r.Output "before\n" "output"
                Expect.stringEnds r.Error "error.lua:4: boom\n" "error"
                Expect.equal r.ExitCode 1 "exit code"
            }

            testTask "QueueEvent from another thread: parameters converted to Lua values" {
                let! (r: Observed) = HostScenarios.QueueEventFromAnotherThreadAsync()

                let first =
                    [
                        "n=10"
                        "text <C3><A9>"
                        "integer:7"
                        "integer:9000000000"
                        "float:0.25"
                        "true"
                        "<00><FF><0A>"
                        "{1:a,2:2}"
                        "{key:value}"
                        "nil"
                    ]

                Expect.equal r.Output (String.Join(" | ", first) + "\nn=1\n") "output"
                Expect.equal r.Error "" "error"
                Expect.equal r.ExitCode 0 "exit code"
            }

            testTask "cancelling the token terminates: os.pullEvent raises Terminated" {
                let! (r: Observed) = HostScenarios.CancelAsync(raw = false)
                Expect.equal r.Output "waiting\n" "output"
                Expect.equal r.Error "Terminated\n" "error"
                Expect.equal r.ExitCode 1 "exit code"
            }

            testTask "cancelling the token terminates: os.pullEventRaw sees terminate" {
                let! (r: Observed) = HostScenarios.CancelAsync(raw = true)
                Expect.equal r.Output "waiting\nsaw\tterminate\nafter\n" "output"
                Expect.equal r.Error "" "error"
                Expect.equal r.ExitCode 0 "exit code"
            }

            testTask "leaving await using ends a running script" {
                let! completed = HostScenarios.DisposeEndsTheRunAsync()
                Expect.isTrue completed "the run's task completed"
            }
        ]
