/// The packages, as a user gets them: pack the solution (as `build.fsx -t Pack` does) into a
/// temporary folder with a unique prerelease version, install the craft tool from it into a
/// temporary tool path and serve a script with it (curl), and build and run a new C# console
/// project that references Craft.Hosting (and through it Craft.Interop, Craft.Server, Craft.Core)
/// from that folder.
///
/// Nothing leaks into the machine's NuGet state: the packages go to a temporary global-packages
/// folder (NUGET_PACKAGES), with the machine's own folder as a read-only fallback, and the
/// console project's nuget.config adds the temporary folder to the configured sources (no
/// `<clear/>`, no registry named).
module Craft.Tests.PackageTests

open System
open System.Diagnostics
open System.IO
open System.Reflection
open System.Text
open Craft.Tests.ScriptHost
open Expecto

let private configuration =
    Assembly.GetExecutingAssembly().GetCustomAttributes<AssemblyMetadataAttribute>()
    |> Seq.tryFind (fun a -> a.Key = "Configuration")
    |> Option.map (fun a -> a.Value)
    |> Option.defaultValue "Release"

/// Generous: a cold restore and build of a new project on a busy machine.
let private slow = TimeSpan.FromMinutes 4.0

let private dotnetHost =
    match Environment.GetEnvironmentVariable "DOTNET_HOST_PATH" with
    | null
    | "" -> "dotnet"
    | path -> path

/// The machine's global packages folder, where the solution's own packages were restored.
let private machinePackages =
    match Environment.GetEnvironmentVariable "NUGET_PACKAGES" with
    | null
    | "" -> Path.Combine(Environment.GetFolderPath Environment.SpecialFolder.UserProfile, ".nuget", "packages")
    | path -> path

/// Runs a program to its end with `env` added; exit code and everything it printed.
let private run (file: string) (args: string list) (workDir: string) (env: (string * string) list) =
    task {
        let info =
            ProcessStartInfo(file, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false)

        info.WorkingDirectory <- workDir

        for a in args do
            info.ArgumentList.Add a

        for name, value in env do
            info.Environment[name] <- value

        use p = Process.Start info
        let out = p.StandardOutput.ReadToEndAsync()
        let err = p.StandardError.ReadToEndAsync()

        try
            do! p.WaitForExitAsync().WaitAsync(slow)
        with :? TimeoutException ->
            p.Kill true
            failtestf "%s %A did not finish in %O" file args slow

        let! out = out
        let! err = err
        return p.ExitCode, out + err
    }

let private consoleProject (version: string) =
    $"""<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net10.0</TargetFramework>
    <ImplicitUsings>enable</ImplicitUsings>
    <Nullable>enable</Nullable>
  </PropertyGroup>
  <ItemGroup>
    <PackageReference Include="Craft.Hosting" Version="{version}" />
    <None Include="hello.lua" CopyToOutputDirectory="PreserveNewest" />
  </ItemGroup>
</Project>
"""

let private consoleProgram =
    """using Craft.Hosting;
using Craft.Interop;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

// A hosted script that prints and ends: the host stops with it.
var output = new StringWriter();
var builder = Host.CreateApplicationBuilder(args);
builder.Logging.ClearProviders();
builder.Services.AddCraftComputer(
    new ComputerOptions { Output = output, Input = TextReader.Null },
    Path.Combine(AppContext.BaseDirectory, "hello.lua"),
    ["from the package"]);
using var host = builder.Build();
await host.RunAsync();
Console.Write(output.ToString());
Console.WriteLine($"Computer.Version {Computer.Version}");
"""

let private nugetConfig (source: string) (fallback: string) =
    $"""<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <add key="craft-local" value="{source}" />
  </packageSources>
  <fallbackPackageFolders>
    <add key="machine" value="{fallback}" />
  </fallbackPackageFolders>
</configuration>
"""

let tests =
    testList
        "packages"
        [
            testCaseTask
                "pack, install the craft tool and serve with it; a new console project uses the packages"
                (fun () ->
                    task {
                        let temp = Directory.CreateTempSubdirectory("craft-pack-").FullName
                        let packages = Path.Combine(temp, "packages")
                        let cache = Path.Combine(temp, "nuget-cache")
                        let tools = Path.Combine(temp, "tools")
                        let version = $"""0.0.0-ci.{DateTime.UtcNow.ToString "yyyyMMddHHmmss"}"""

                        let env =
                            [
                                "NUGET_PACKAGES", cache
                                "DOTNET_CLI_TELEMETRY_OPTOUT", "1"
                                "DOTNET_NOLOGO", "1"
                                "DOTNET_SKIP_FIRST_TIME_EXPERIENCE", "1"
                            ]

                        try
                            // 1. Pack what the tests were built from.
                            let! code, log =
                                run
                                    dotnetHost
                                    [
                                        "pack"
                                        Path.Combine(LuaLibraryTests.repoRoot, "Craft.sln")
                                        "-c"
                                        configuration
                                        "--no-build"
                                        "-o"
                                        packages
                                        $"-p:Version={version}"
                                    ]
                                    LuaLibraryTests.repoRoot
                                    env

                            Expect.equal code 0 $"dotnet pack:\n{log}"

                            let made =
                                Directory.GetFiles(packages, "*.nupkg")
                                |> Array.map Path.GetFileName
                                |> Array.sort
                                |> List.ofArray

                            Expect.equal
                                made
                                ([ "Craft.Cli"; "Craft.Core"; "Craft.Hosting"; "Craft.Interop"; "Craft.Server" ]
                                 |> List.map (fun id -> $"{id}.{version}.nupkg"))
                                "the packages, and nothing from tests/ or bench/"

                            // 2. The tool, from that folder only as an extra source.
                            let! code, log =
                                run
                                    dotnetHost
                                    [
                                        "tool"
                                        "install"
                                        "--tool-path"
                                        tools
                                        "--add-source"
                                        packages
                                        "Craft.Cli"
                                        "--version"
                                        version
                                    ]
                                    temp
                                    env

                            Expect.equal code 0 $"dotnet tool install:\n{log}"

                            let craft =
                                Path.Combine(tools, (if OperatingSystem.IsWindows() then "craft.exe" else "craft"))

                            let site = Directory.CreateDirectory(Path.Combine(temp, "site")).FullName

                            File.WriteAllText(
                                Path.Combine(site, "server.lua"),
                                "local port = http.addListener(0)\nprint(\"port \" .. port)\nhttp.listen(port, function(req, res) res.write(\"tool \" .. _VERSION .. \" \" .. req.getURL()) res.close() end)\n"
                            )

                            let info =
                                ProcessStartInfo(craft, RedirectStandardOutput = true, RedirectStandardError = true)

                            info.WorkingDirectory <- site

                            for a in [ "run"; "server.lua" ] do
                                info.ArgumentList.Add a

                            use tool = Process.Start info
                            let out = new LineWriter()
                            let err = new LineWriter()

                            tool.OutputDataReceived.Add(fun e ->
                                if not (isNull e.Data) then
                                    out.Write(e.Data + "\n"))

                            tool.ErrorDataReceived.Add(fun e ->
                                if not (isNull e.Data) then
                                    err.Write(e.Data + "\n"))

                            tool.BeginOutputReadLine()
                            tool.BeginErrorReadLine()

                            try
                                let! line =
                                    within
                                        $"the installed tool serves ({err.Text})"
                                        (out.WaitFor(fun l -> l.StartsWith "port "))

                                let! code, body, curlErr =
                                    HttpHelpers.curl [ "-sS"; $"http://127.0.0.1:{line.Substring 5}/from-the-tool" ]

                                Expect.equal code 0 $"curl: {curlErr}"

                                Expect.equal
                                    (Encoding.UTF8.GetString body)
                                    "tool Lua 5.4 /from-the-tool"
                                    "native Lua found, served"
                            finally
                                tool.Kill true

                            // 3. A new console project referencing the packages.
                            let app = Directory.CreateDirectory(Path.Combine(temp, "app")).FullName
                            File.WriteAllText(Path.Combine(app, "app.csproj"), consoleProject version)
                            File.WriteAllText(Path.Combine(app, "Program.cs"), consoleProgram)

                            File.WriteAllText(
                                Path.Combine(app, "hello.lua"),
                                "print('hello ' .. ... .. ' on ' .. _VERSION)"
                            )

                            File.WriteAllText(Path.Combine(app, "nuget.config"), nugetConfig packages machinePackages)
                            let! code, log = run dotnetHost [ "run"; "-c"; "Release" ] app env
                            Expect.equal code 0 $"dotnet run of the console project:\n{log}"
                            Expect.stringContains log "hello from the package on Lua 5.4" "the hosted script ran"

                            Expect.stringContains
                                log
                                $"Computer.Version {Craft.Interop.Computer.Version}"
                                "Craft.Interop from the package"

                            // Nothing of this version reached the machine's packages folder.
                            Expect.isFalse
                                (Directory.Exists(Path.Combine(machinePackages, "craft.interop", version)))
                                "the machine's global packages are untouched"
                        finally
                            try
                                Directory.Delete(temp, true)
                            with _ ->
                                ()
                    })
        ]
