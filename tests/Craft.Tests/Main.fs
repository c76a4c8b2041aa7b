module Craft.Tests.Main

open Expecto

[<EntryPoint>]
let main argv =
    let mutable counts = None

    let remember =
        CLIArguments.Append_Summary_Handler(
            SummaryHandler(fun summary ->
                counts <-
                    Some(summary.passed.Length, summary.failed.Length + summary.errored.Length, summary.ignored.Length))
        )

    let code =
        runTestsWithCLIArgs
            [ CLIArguments.No_Spinner; remember ]
            argv
            (testList
                "craft"
                [
                    CoreTests.tests
                    WebSocketTests.tests
                    HttpTests.tests
                    ReliabilityTests.tests
                    SiteTests.tests
                    BrowserTests.tests
                    ComputerTests.tests
                    LuaLibraryTests.tests
                    JsonTests.tests
                    ProgramTests.tests
                    CliTests.tests
                    CSharpApiTests.tests
                    FuzzTests.tests
                    ModelTests.tests
                    FileSystemTests.tests
                    EndToEndTests.tests
                    ClientTests.tests
                    TerminalTests.tests
                    TlsTests.tests
                    LoggingTests.tests
                    HostingTests.tests
                    WatchTests.tests
                    PackageTests.tests
                ])

    // A plain closing line that any CI reader understands, after Expecto's own summary.
    match counts with
    // Written to the raw stream: Expecto's console writer pads lines with spaces.
    | Some(passed, failed, skipped) ->
        stdout.Flush()
        let line = $"\n{passed} passed, {failed} failed, {skipped} skipped\n"
        use raw = System.Console.OpenStandardOutput()
        raw.Write(System.Text.Encoding.ASCII.GetBytes line)
    | None -> ()

    code
