/// The plain-Lua unit tests of the Lua libraries (`tests/lua-unit/run.lua`), run inside the suite
/// on a bare KeraLua state: no Computer, no BIOS, just Lua 5.4 and the library files.
module Craft.Tests.LuaLibraryTests

open System
open System.IO
open Expecto

/// The repository root: the nearest folder above the test assembly that holds Craft.sln.
let repoRoot =
    let rec up (dir: DirectoryInfo) =
        if isNull dir then
            failwithf "no Craft.sln above %s" AppContext.BaseDirectory
        elif File.Exists(Path.Combine(dir.FullName, "Craft.sln")) then
            dir.FullName
        else
            up dir.Parent

    up (DirectoryInfo AppContext.BaseDirectory)

/// Runs the file; returns what it passed to os.exit (None if it never called it), what it printed,
/// and the Lua error it raised, if any.
let private runUnitTests (path: string) =
    use lua = new KeraLua.Lua(true)
    lua.NewTable()
    lua.PushString(path)
    lua.RawSetInteger(-2, 0L)
    lua.SetGlobal("arg")

    let setup =
        """
        __printed = {}
        print = function(...)
            local parts = table.pack(...)
            for i = 1, parts.n do parts[i] = tostring(parts[i]) end
            __printed[#__printed + 1] = table.concat(parts, "\t", 1, parts.n)
        end
        __exit = nil
        os.exit = function(code)
            __exit = { code = code }
            error("__craft_test_exit__", 0)
        end
        """

    if lua.DoString setup then
        failwithf "setup failed: %s" (lua.ToString -1)

    let failed = lua.DoFile path
    let error = if failed then lua.ToString -1 else null
    lua.SetTop 0

    lua.DoString "return __exit ~= nil, __exit and __exit.code, table.concat(__printed, '\\n')"
    |> ignore

    let exited = lua.ToBoolean 1
    let code = lua.ToBoolean 2
    let printed = lua.ToString 3

    let error =
        if error = "__craft_test_exit__" then
            None
        else
            Option.ofObj error

    (if exited then Some code else None), printed, error

let tests =
    testList
        "lua libraries"
        [
            test "tests/lua-unit/run.lua passes on plain Lua 5.4" {
                let path = Path.Combine(repoRoot, "tests", "lua-unit", "run.lua")
                let exit, printed, error = runUnitTests path
                Expect.isNone error $"the script raised an error\n{printed}"
                Expect.equal exit (Some true) $"os.exit(true) expected\n{printed}"
                Expect.stringContains printed " passed, 0 failed" printed
            }

            test "tests/lua-unit/programs.lua (loaders, require, shell, settings) passes on plain Lua 5.4" {
                let path = Path.Combine(repoRoot, "tests", "lua-unit", "programs.lua")
                let exit, printed, error = runUnitTests path
                Expect.isNone error $"the script raised an error\n{printed}"
                Expect.equal exit (Some true) $"os.exit(true) expected\n{printed}"
                Expect.stringContains printed " passed, 0 failed" printed
            }
        ]
