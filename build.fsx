// Craft build script: FAKE targets run by plain `dotnet fsi`.
//
//   dotnet fsi build.fsx                 (default target: Build)
//   dotnet fsi build.fsx -t Test
//   dotnet fsi build.fsx -t Run          (runs examples/hello.lua)
//   dotnet fsi build.fsx -t Stress [-- --case NAME[,NAME...]]   (see docs/reliability.md)
//
//   dotnet fsi build.fsx -t Pack         (NuGet packages and the craft tool in artifacts/)
//
// Targets: Clean, Restore, Build, Test, Pack, Format, CheckFormat, Bench, Stress, Run.
//
// FSharp.Control.Reactive is referenced explicitly: Fake.Core.Target asks for 5.x, which the
// package source lacks; 4.4.2 works (NuGet prints a harmless NU1605 downgrade warning).

#r "nuget: Fake.Core.Target, 6.2.0"
#r "nuget: FSharp.Control.Reactive, 4.4.2"
#r "nuget: Fake.DotNet.Cli, 6.2.0"
#r "nuget: Fake.IO.FileSystem, 6.2.0"

open System
open System.IO
open Fake.Core
open Fake.Core.TargetOperators
open Fake.IO
open Fake.IO.Globbing.Operators

// Plain fsi has no FAKE runner: create the execution context by hand from the script's own
// arguments (fsi.CommandLineArgs = [| "build.fsx"; "-t"; "Test"; ... |]).
fsi.CommandLineArgs
|> Array.skip 1
|> Array.toList
|> Context.FakeExecutionContext.Create false "build.fsx"
|> Context.RuntimeContext.Fake
|> Context.setExecutionContext

let root = __SOURCE_DIRECTORY__
Directory.SetCurrentDirectory root

let solution = "Craft.sln"
let configuration = "Release"

/// Runs `dotnet <args>` in the repository root, output passing through to the console; fails
/// the build on a non-zero exit code.
let dotnet (args: string list) =
    Trace.tracefn "> dotnet %s" (String.Join(" ", args))

    CreateProcess.fromRawCommand "dotnet" args
    |> CreateProcess.withWorkingDirectory root
    |> CreateProcess.ensureExitCodeWithMessage (sprintf "'dotnet %s' failed" (String.Join(" ", args)))
    |> Proc.run
    |> ignore

/// The test projects of the solution: every project in it under tests/ that is a program
/// (OutputType Exe); class libraries there, such as tests/Craft.Tests.CSharp, are only used by them.
let testProjects () =
    let result =
        CreateProcess.fromRawCommand "dotnet" [ "sln"; solution; "list" ]
        |> CreateProcess.withWorkingDirectory root
        |> CreateProcess.redirectOutput
        |> CreateProcess.ensureExitCode
        |> Proc.run

    result.Result.Output.Split([| '\n'; '\r' |], StringSplitOptions.RemoveEmptyEntries)
    |> Array.map (fun line -> line.Trim().Replace('\\', '/'))
    |> Array.filter (fun p -> p.StartsWith "tests/" && (p.EndsWith ".fsproj" || p.EndsWith ".csproj"))
    |> Array.filter (fun p -> File.ReadAllText(Path.Combine(root, p)).Contains "<OutputType>Exe</OutputType>")
    |> Array.toList

/// The F# sources Fantomas formats: src, tests and this script.
let fantomasTargets =
    [ "src"; "tests"; "build.fsx" ]
    |> List.filter (fun p -> Directory.Exists p || File.Exists p)

let toolsRestored = lazy (dotnet [ "tool"; "restore" ])

Target.create "Clean" (fun _ ->
    [
        "src/*/bin"
        "src/*/obj"
        "tests/*/bin"
        "tests/*/obj"
        "**/TestResults"
        "**/BenchmarkDotNet.Artifacts"
        "artifacts"
    ]
    |> List.collect (fun pattern -> !!pattern |> Seq.toList)
    |> Shell.deleteDirs)

Target.create "Restore" (fun _ -> dotnet [ "restore"; solution; "--locked-mode" ])

Target.create "Build" (fun _ -> dotnet [ "build"; solution; "-c"; configuration; "--no-restore" ])

Target.create "Test" (fun _ ->
    let projects = testProjects ()

    if List.isEmpty projects then
        failwith "no test projects found under tests/ in the solution"

    // Run every project even if one fails, then fail with the list of failures.
    let failures =
        projects
        |> List.filter (fun project ->
            Trace.tracefn "> dotnet run --project %s -c %s --no-build" project configuration

            let exitCode =
                CreateProcess.fromRawCommand
                    "dotnet"
                    [ "run"; "--project"; project; "-c"; configuration; "--no-build"; "--" ]
                |> CreateProcess.withWorkingDirectory root
                |> Proc.run
                |> fun r -> r.ExitCode

            exitCode <> 0)

    if not (List.isEmpty failures) then
        failwithf "tests failed in: %s" (String.Join(", ", failures)))

// The NuGet packages (Craft.Core, Craft.Server, Craft.Interop, Craft.Hosting) and the craft
// .NET tool (Craft.Cli), with their symbol packages, in artifacts/. Only projects under src/
// are packable. PACK_VERSION overrides the version (e.g. 0.2.0-preview.1).
Target.create "Pack" (fun _ ->
    // Another version is built again, so that the assemblies carry it too.
    let version =
        match Environment.GetEnvironmentVariable "PACK_VERSION" with
        | null
        | "" -> [ "--no-build" ]
        | v -> [ "--no-restore"; sprintf "-p:Version=%s" v ]

    Shell.cleanDir "artifacts"
    dotnet ([ "pack"; solution; "-c"; configuration; "-o"; "artifacts" ] @ version))

Target.create "Format" (fun _ ->
    toolsRestored.Force()
    dotnet ([ "fantomas" ] @ fantomasTargets))

Target.create "CheckFormat" (fun _ ->
    toolsRestored.Force()
    dotnet ([ "fantomas"; "--check" ] @ fantomasTargets))

// Craft against plain Kestrel, side by side: prints the table (CPU per request and requests/s
// per case) and rewrites the measured section of docs/benchmarks.md. HTTP cases need wrk
// (Debian: apt-get install wrk); nginx + its Lua module, when installed, is the hello anchor.
// Some cases only: dotnet fsi build.fsx -t Bench -- --only hello,json --runs 3
Target.create "Bench" (fun p ->
    dotnet (
        [
            "run"
            "--project"
            "bench/Craft.Bench"
            "-c"
            configuration
            "--no-build"
            "--"
            "--out"
            "docs/benchmarks.md"
        ]
        @ p.Context.Arguments
    ))

// Attacks on a real `craft run` process (slowloris, floods, never-reading clients, overload...);
// rewrites the measured table in docs/reliability.md. Not part of CI: it takes minutes and
// wants slowhttptest (Debian: apt-get install slowhttptest) and prlimit.
// One case: dotnet fsi build.fsx -t Stress -- --case ws-flood (or STRESS_CASE=ws-flood).
Target.create "Stress" (fun p ->
    dotnet (
        [
            "run"
            "--project"
            "bench/Craft.Stress"
            "-c"
            configuration
            "--no-build"
            "--"
            "--out"
            "docs/reliability.md"
            "--craft"
            "src/Craft.Cli/bin/Release/net10.0/craft.dll"
        ]
        @ p.Context.Arguments
    ))

Target.create "Run" (fun _ ->
    dotnet
        [
            "run"
            "--project"
            "src/Craft.Cli"
            "-c"
            configuration
            "--no-build"
            "--"
            "run"
            "examples/hello.lua"
        ])

"Clean" ?=> "Restore"
"Restore" ==> "Build"
"Build" ==> "Test"
"Build" ==> "Pack"
"Build" ==> "Run"
"Build" ==> "Bench"
"Build" ==> "Stress"

Target.runOrDefaultWithArguments "Build"
