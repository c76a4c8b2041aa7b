/// The computer's file system: `fs`, `io` and the sandbox. Lua scripts from `lua/fs/` run in a
/// fresh temporary root each; the sandbox type is also hit directly, and by a property over
/// random path strings.
module Craft.Tests.FileSystemTests

open System
open System.IO
open System.Threading.Tasks
open Craft.Interop
open Craft.Interop.Apis
open Expecto
open FsCheck
open FsCheck.FSharp

let private patience = TimeSpan.FromSeconds 60.0

/// A fresh temporary directory, deleted by the caller's `use`.
type TempDir() =
    let path =
        Path.Combine(Path.GetTempPath(), "craft-fs-" + Guid.NewGuid().ToString("N"))
        |> Directory.CreateDirectory
        |> _.FullName

    member _.Path = path

    member _.Delete() =
        try
            Directory.Delete(path, true)
        with _ ->
            ()

    interface IDisposable with
        member this.Dispose() = this.Delete()

    interface IAsyncDisposable with
        member this.DisposeAsync() =
            this.Delete()
            ValueTask.CompletedTask

let private scriptSource (name: string) =
    Path.Combine(AppContext.BaseDirectory, "lua", "fs", name)

/// Runs lua/fs/NAME as the program NAME of `root`; its exit code, output and errors.
let private runIn (root: string) (name: string) (capacity: Nullable<int64>) (input: string) =
    task {
        let script = Path.Combine(root, name)
        File.Copy(scriptSource name, script)
        let output = new StringWriter()
        let error = new StringWriter()

        let options =
            ComputerOptions(
                Output = output,
                Error = error,
                Input = new StringReader(input),
                RootDirectory = root,
                FileSystemCapacity = capacity
            )

        use computer = new Computer(options)
        let run = computer.RunFileAsync(script)
        let! finished = Task.WhenAny(run, Task.Delay patience)

        if not (obj.ReferenceEquals(finished, run)) then
            failtestf "%s did not end" name

        return run.Result, output.ToString(), error.ToString()
    }

let private passes name capacity input =
    task {
        use root = new TempDir()
        let! code, output, error = runIn root.Path name capacity input
        Expect.equal (code, error.Replace("to stderr\n", "")) (0, "") $"{name} ends without an error\n{output}"
        Expect.stringEnds output "ok\n" "the script reached its end"
        return output
    }

let private script name =
    testTask name {
        let! _ = passes name (Nullable()) ""
        ()
    }

let private canLink =
    lazy
        (use t = new TempDir()

         try
             File.CreateSymbolicLink(Path.Combine(t.Path, "l"), t.Path) |> ignore
             true
         with _ ->
             false)

/// A root holding real/inside.txt and three links: outfile and outdir lead outside, inlink to real/.
let private attackRoot (root: string) (outside: string) =
    File.WriteAllText(Path.Combine(outside, "secret.txt"), "secret")
    Directory.CreateDirectory(Path.Combine(root, "real")) |> ignore
    File.WriteAllText(Path.Combine(root, "real", "inside.txt"), "inside")

    File.CreateSymbolicLink(Path.Combine(root, "outfile"), Path.Combine(outside, "secret.txt"))
    |> ignore

    Directory.CreateSymbolicLink(Path.Combine(root, "outdir"), outside) |> ignore
    Directory.CreateSymbolicLink(Path.Combine(root, "inlink"), "real") |> ignore

/// Whether a host path is canonical (no component is a link) and under `root`.
let private canonicalUnder (root: string) (real: string) =
    let rec noLinks (p: string) =
        if isNull p || p = Path.GetPathRoot p then
            true
        else
            let info = FileInfo p

            (not (info.Exists || Directory.Exists p) || isNull info.LinkTarget)
            && noLinks (Path.GetDirectoryName p)

    (real = root
     || real.StartsWith(root + string Path.DirectorySeparatorChar, StringComparison.Ordinal))
    && noLinks real

let private pathPiece =
    Gen.oneof
        [
            Gen.elements
                [
                    ".."
                    "."
                    "..."
                    "/"
                    "\\"
                    "a"
                    "b"
                    "outdir"
                    "inlink"
                    "outfile"
                    "rom"
                    "%2e%2e"
                    " "
                    ":"
                    "*"
                    "?"
                    "\000"
                    "é"
                    "~"
                ]
            Gen.constant (String('n', 300))
            Gen.map string (Gen.choose (1, 255) |> Gen.map char)
        ]

let private pathGen =
    gen {
        let! n = Gen.choose (0, 12)
        let! pieces = Gen.listOfLength n pathPiece
        return String.Join("", pieces)
    }

let tests =
    testList
        "fs"
        [
            script "api.lua"
            script "handles.lua"

            testTask "io.lua" {
                let! output = passes "io.lua" (Nullable()) "typed line\n"

                Expect.stringContains
                    output
                    "to stdout\n"
                    "io.stdout is the output (io.stderr, the errors: checked in passes)"
            }

            testTask "limits.lua: 128 open files and the capacity, at their edges" {
                let size = FileInfo(scriptSource "limits.lua").Length
                let! _ = passes "limits.lua" (Nullable(size + 100L)) ""
                ()
            }

            testTask "attacks.lua: links outside are refused, links inside work" {
                if not canLink.Value then
                    skiptest "this host cannot make symbolic links"

                use root = new TempDir()
                use outside = new TempDir()
                attackRoot root.Path outside.Path
                let! code, output, error = runIn root.Path "attacks.lua" (Nullable()) ""
                Expect.equal (code, error) (0, "") $"attacks.lua\n{output}"
                Expect.equal (File.ReadAllText(Path.Combine(outside.Path, "secret.txt"))) "secret" "untouched"
                Expect.equal (Directory.GetFiles outside.Path).Length 1 "nothing written outside"
            }

            testTask "open files are closed when the computer ends" {
                use root = new TempDir()
                let path = Path.Combine(root.Path, "held")

                let! code =
                    (new Computer(ComputerOptions(RootDirectory = root.Path, Error = TextWriter.Null)))
                        .RunAsync("local h = fs.open('held', 'w') h.write('x')")

                Expect.equal code 0 "ran"

                use again =
                    new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None)

                Expect.equal again.Length 1L "flushed and released"
            }

            testTask "source text without a root: an empty root that cannot be written" {
                let output = new StringWriter()

                let! code =
                    (new Computer(ComputerOptions(Output = output)))
                        .RunAsync(
                            "print(#fs.list('/'), fs.isReadOnly('/'), select(2, fs.open('x', 'w')), pcall(fs.makeDir, 'd'))"
                        )

                Expect.equal code 0 "ran"
                Expect.equal (output.ToString()) "1\ttrue\t/x: Access denied\tfalse\t/d: Access denied\n" "only rom"
            }

            testTask "the script runs as the program at its path inside the root" {
                use root = new TempDir()
                let site = Directory.CreateDirectory(Path.Combine(root.Path, "site")).FullName
                let script = Path.Combine(site, "server.lua")
                File.WriteAllText(script, "local h = fs.open('site/server.lua', 'r') print(h ~= nil) h.close()")
                let output = new StringWriter()

                let computer =
                    new Computer(ComputerOptions(RootDirectory = root.Path, Output = output))

                let! code = computer.RunFileAsync script
                Expect.equal (code, output.ToString()) (0, "true\n") "sees itself"
                Expect.equal computer.ProgramPath "site/server.lua" "ProgramPath"

                Expect.throws
                    (fun () ->
                        (new Computer(ComputerOptions(RootDirectory = site)))
                            .RunFileAsync(Path.Combine(root.Path, "x.lua"))
                        |> ignore)
                    "a script outside the root"
            }

            testCase "Sandbox: cleaning as CC:Tweaked cleans" (fun () ->
                for input, expected in
                    [
                        "/a//b/", "a/b"
                        "\\a\\.\\b", "a/b"
                        "a/../..", ".."
                        "a/.../b", "a/b"
                        " a / b ", "a/b"
                        "a:b|c?\"<>", "abc"
                        "x*y", "xy"
                        "%2e%2e/x", "%2e%2e/x"
                        String('n', 300), String('n', 255)
                    ] do
                    Expect.equal (Sandbox.Sanitize input) expected input

                Expect.equal (Sandbox.Sanitize("a*?", true)) "a*" "wildcards kept")

            testCase "Sandbox: links leading outside are refused, inside allowed" (fun () ->
                if not canLink.Value then
                    skiptest "this host cannot make symbolic links"

                use root = new TempDir()
                use outside = new TempDir()
                attackRoot root.Path outside.Path
                let sandbox = Sandbox(root.Path)

                for path in [ "outfile"; "outdir"; "outdir/secret.txt"; "outdir/new"; "inlink/../outdir" ] do
                    let ok, _, error = sandbox.TryMap path
                    Expect.isFalse ok path
                    Expect.stringEnds error "Access denied" path

                let ok, mapped, _ = sandbox.TryMap "inlink/inside.txt"
                Expect.isTrue ok "inside"
                Expect.equal mapped.Real (Path.Combine(sandbox.Root, "real", "inside.txt")) "resolved"
                let ok, _, error = sandbox.TryMap "a/../../etc"
                Expect.isFalse ok "above"
                Expect.equal error "/../etc: Invalid Path" "message")

            testPropertyWithConfig
                { FsCheckConfig.defaultConfig with
                    maxTest = 500
                }
                "Sandbox: any path maps under the root, or is refused"
            <| Prop.forAll (Arb.fromGen pathGen) (fun path ->
                if canLink.Value then
                    use root = new TempDir()
                    use outside = new TempDir()
                    attackRoot root.Path outside.Path
                    let sandbox = Sandbox(root.Path)

                    match sandbox.TryMap path with
                    | true, mapped, _ when not mapped.IsRom ->
                        Expect.isTrue (canonicalUnder sandbox.Root mapped.Real) $"{path} -> {mapped.Real}"

                        Expect.isTrue
                            (canonicalUnder sandbox.Root (Path.GetDirectoryName mapped.Lexical)
                             || mapped.Real = sandbox.Root)
                            $"{path} -> {mapped.Lexical}"
                    | true, mapped, _ -> Expect.isTrue (Sandbox.InRom mapped.Path) "rom"
                    | false, _, error ->
                        Expect.isTrue (error.EndsWith "Invalid Path" || error.EndsWith "Access denied") error)
        ]
