module Craft.Tests.Main

open Expecto

[<EntryPoint>]
let main argv =
    runTestsWithCLIArgs
        []
        argv
        (testList
            "craft"
            [
                CoreTests.tests
                WebSocketTests.tests
                HttpTests.tests
                ComputerTests.tests
                LuaLibraryTests.tests
                CliTests.tests
                CSharpApiTests.tests
            ])
