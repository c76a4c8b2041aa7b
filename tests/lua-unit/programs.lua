-- Plain Lua 5.4 unit tests for Craft's loaders, require/package, shell and settings
-- (src/Craft.Interop/Lua/{expect,programs,require,shell,settings}.lua), over a fake `fs` kept in a
-- Lua table. Run from the repository root:  lua5.4 tests/lua-unit/programs.lua

local root = (arg and arg[0] or ""):match("^(.-)tests[/\\]lua%-unit[/\\]programs%.lua$") or ""
local lib_dir = root .. "src/Craft.Interop/Lua/"

local passed, failures = 0, 0
local function check(name, cond, detail)
    if cond then passed = passed + 1 else
        failures = failures + 1
        print("FAIL: " .. name .. (detail and ("\n      " .. tostring(detail)) or ""))
    end
end
local function eq(name, got, want)
    check(name, got == want, "expected " .. string.format("%q", tostring(want)) .. "\n      got      " .. string.format("%q", tostring(got)))
end
local function errorOf(fn, ...)
    local ok, err = pcall(fn, ...)
    if ok then return "(no error)" end
    return err
end

---------------------------------------------------------------------------
-- A fake fs over a table of files (path without leading slash -> contents)
---------------------------------------------------------------------------
local files = {}

local function canon(...)
    local parts = {}
    for i = 1, select("#", ...) do
        for part in tostring((select(i, ...))):gmatch("[^/\\]+") do
            if part == ".." then
                if #parts == 0 then error("Invalid Path", 0) end
                parts[#parts] = nil
            elseif part ~= "." then parts[#parts + 1] = part end
        end
    end
    return table.concat(parts, "/")
end

local fs = {}
fs.combine = function(...) return canon(...) end
fs.isDir = function(p)
    p = canon(p)
    if p == "" then return true end
    for name in pairs(files) do if name:sub(1, #p + 1) == p .. "/" then return true end end
    return false
end
fs.exists = function(p) return files[canon(p)] ~= nil or fs.isDir(p) end
fs.getName = function(p) p = canon(p) return p == "" and "root" or p:match("[^/]+$") end
fs.getDir = function(p) p = canon(p) return p == "" and ".." or (p:match("^(.*)/[^/]*$") or "") end
fs.getSize = function(p) return #files[canon(p)] end
fs.list = function(p)
    p = canon(p)
    local prefix, seen, out = p == "" and "" or p .. "/", {}, {}
    for name in pairs(files) do
        if name:sub(1, #prefix) == prefix then
            local first = name:sub(#prefix + 1):match("^[^/]+")
            if not seen[first] then seen[first] = true out[#out + 1] = first end
        end
    end
    table.sort(out)
    return out
end
fs.open = function(p, mode)
    p = canon(p)
    if mode:sub(1, 1) == "r" then
        local text = files[p]
        if text == nil or fs.isDir(p) then return nil, "/" .. p .. ": No such file" end
        local pos = 1
        return {
            readAll = function() local r = text:sub(pos) pos = #text + 1 return r end,
            readLine = function()
                if pos > #text then return nil end
                local line = text:match("^[^\n]*", pos) pos = pos + #line + 1 return line
            end,
            close = function() end,
        }
    end
    local buffer = {}
    return {
        write = function(s) buffer[#buffer + 1] = tostring(s) end,
        close = function() files[p] = table.concat(buffer) end,
    }
end

---------------------------------------------------------------------------
-- A computer's _G, with the libraries loaded into it as the BIOS loads them
---------------------------------------------------------------------------
local G = {}
for _, name in ipairs({ "string", "table", "math", "utf8", "coroutine", "select", "type", "pairs",
    "ipairs", "next", "tostring", "tonumber", "error", "pcall", "setmetatable", "getmetatable",
    "rawget", "rawset", "rawequal", "print" }) do G[name] = _G[name] end
G._G = G
G.fs = fs
local printed, events = {}, {}
G.printError = function(...) printed[#printed + 1] = table.concat({ ... }, "\t") end
G.os = { queueEvent = function(...) events[#events + 1] = table.pack(...) end }
G.bit32 = {}
local function chunkName(n) if type(n) == "string" and not n:find("^[@=]") then return "=" .. n end return n end
G.load = function(chunk, name, mode, ...)
    if select("#", ...) > 0 then return load(chunk, chunkName(name), "t", (...)) end
    return load(chunk, chunkName(name), "t", G)
end

local function lib(name, ...)
    local fh = assert(io.open(lib_dir .. name .. ".lua", "rb"))
    local source = fh:read("a")
    fh:close()
    return assert(load(source, "@" .. name .. ".lua", "t", G))(...)
end

G.textutils = lib("textutils")
local checks = lib("expect", debug.getinfo)
G.settings = lib("settings", checks)
local make_package = lib("require", checks).make
local programs = lib("programs", checks, G.load)
local shells = lib("shell", checks, make_package, debug.getinfo, debug.getupvalue, debug.setupvalue)
G.loadfile, G.dofile = programs.loadfile, programs.dofile
G.os.run, G.os.loadAPI, G.os.unloadAPI = programs.run, programs.loadAPI, programs.unloadAPI

---------------------------------------------------------------------------
-- expect
---------------------------------------------------------------------------
do
    local function named(x) checks.expect(1, x, "string", "nil") end
    local t = { named = named }
    eq("expect names the function", errorOf(function() t.named(1) end):match("bad argument.*$"),
        "bad argument #1 to 'named' (string expected, got number)")
    eq("expect lists types", errorOf(function() checks.expect(2, {}, "number", "string", "nil") end):match("bad argument.*$"),
        "bad argument #2 (number or string expected, got table)")
end

---------------------------------------------------------------------------
-- loadfile, dofile, os.run, os.loadAPI, os.unloadAPI
---------------------------------------------------------------------------
do
    files["lib/one.lua"] = "local a = ... return (a or 0) + 1, x"
    files["lib/bad.lua"] = "error('bad file')"
    files["lib/syntax.lua"] = "x = = 1"
    files["lib/bin.lua"] = string.dump(function() return 1 end)

    local a, b = G.loadfile("nope.lua")
    eq("loadfile missing", a, nil)
    eq("loadfile missing message", b, "File not found")

    local f = G.loadfile("lib/one.lua")
    eq("loadfile runs", (f(41)), 42)
    local f2 = G.loadfile("/lib/one.lua", { x = "env" })
    eq("loadfile(path, env)", select(2, f2()), "env")
    local f3 = G.loadfile("lib/one.lua", "t", { x = "env3" })
    eq("loadfile(path, mode, env)", select(2, f3()), "env3")
    eq("loadfile chunk name", errorOf(G.loadfile("lib/bad.lua")), "/lib/bad.lua:1: bad file")
    eq("loadfile canonical name", errorOf(G.loadfile("./lib/../lib/bad.lua")), "/lib/bad.lua:1: bad file")
    local s, serr = G.loadfile("lib/syntax.lua")
    check("loadfile syntax error", s == nil and serr:find("^/lib/syntax.lua:1:") ~= nil, serr)
    local bin = G.loadfile("lib/bin.lua")
    eq("loadfile refuses binary chunks", bin, nil)
    eq("loadfile bad arg", errorOf(G.loadfile, 1):match("bad argument.*$"), "bad argument #1 (string expected, got number)")

    eq("dofile returns", (G.dofile("lib/one.lua")), 1)
    eq("dofile raises", errorOf(G.dofile, "lib/bad.lua"), "/lib/bad.lua:1: bad file")
    check("dofile missing raises", errorOf(G.dofile, "nope.lua"):find("File not found$") ~= nil)

    files["prog/run.lua"] = "result = { ... } shared = (shared or 0) + 1"
    local env = {}
    eq("os.run succeeds", G.os.run(env, "prog/run.lua", "a", "b"), true)
    eq("os.run args", env.result[2], "b")
    eq("os.run env base is _G", getmetatable(env).__index, G)
    eq("os.run leaves _G alone", rawget(G, "result"), nil)
    printed = {}
    eq("os.run failure", G.os.run({}, "lib/bad.lua"), false)
    eq("os.run prints the error", printed[1], "/lib/bad.lua:1: bad file")
    printed = {}
    eq("os.run missing", G.os.run({}, "nope"), false)
    eq("os.run missing message", printed[1], "File not found")

    files["apis/things.lua"] = "value = 7 function twice(n) return n * 2 end local hidden = 1"
    eq("loadAPI", G.os.loadAPI("apis/things.lua"), true)
    eq("loadAPI global", G.things.value, 7)
    eq("loadAPI function", G.things.twice(4), 8)
    eq("loadAPI no _ENV", G.things._ENV, nil)
    G.os.unloadAPI("things")
    eq("unloadAPI", G.things, nil)
    files["apis/broken"] = "error('nope', 0)"
    eq("loadAPI failure raises", errorOf(function() G.os.loadAPI("apis/broken") end):match("Failed.*$"), "Failed to load API broken due to nope")
    eq("loadAPI missing raises", errorOf(function() G.os.loadAPI("apis/none.lua") end):match("Failed.*$"), "Failed to load API none due to File not found")
    G.os.unloadAPI("_G")
    eq("unloadAPI keeps _G", G._G, G)
end

---------------------------------------------------------------------------
-- require and package
---------------------------------------------------------------------------
do
    files["app/main.lua"] = "return require('mod')"
    files["app/mod.lua"] = "loads = (loads or 0) + 1 return { name = 'mod', loads = loads, args = { ... } }"
    files["app/pkg/init.lua"] = "return 'pkg init'"
    files["app/pkg/sub.lua"] = "return 'sub'"
    files["mod.lua"] = "return { name = 'root mod' }"
    files["rom/modules/main/cc/thing.lua"] = "return 'rom thing'"
    files["app/loop.lua"] = "return require('loop')"
    files["app/fails.lua"] = "error('module failed', 0)"
    files["app/syntax.lua"] = "return = 1"
    files["app/nothing.lua"] = "local x = 1"

    local env = setmetatable({}, { __index = G })
    local require, package = make_package(env, "app")
    env.require, env.package = require, package

    local m = require("mod")
    eq("require relative to the program's directory", m.name, "mod")
    eq("require passes name", m.args[1], "mod")
    eq("require passes path", m.args[2], "app/mod.lua")
    eq("require loads into the program's env", rawget(env, "loads"), 1)
    eq("require caches", require("mod"), m)
    eq("package.loaded", package.loaded.mod, m)
    eq("require ?/init.lua", require("pkg"), "pkg init")
    eq("require dotted", require("pkg.sub"), "sub")
    eq("require /rom/modules/main", require("cc.thing"), "rom thing")
    eq("require module returning nothing", require("nothing"), true)
    package.preload.pre = function(name) return "preloaded " .. name end
    eq("package.preload", require("pre"), "preloaded pre")
    eq("package.loaded._G", package.loaded._G, G)
    eq("package.loaded.string", package.loaded.string, string)
    eq("package.loaded.package", package.loaded.package, package)
    eq("package.path", package.path,
        "?;?.lua;?/init.lua;/rom/modules/main/?;/rom/modules/main/?.lua;/rom/modules/main/?/init.lua")
    eq("package.searchers", type(package.searchers[2]), "function")
    eq("package.loaders is package.searchers", package.loaders, package.searchers)
    eq("searchpath", package.searchpath("pkg.sub", package.path), "app/pkg/sub.lua")
    local none, tried = package.searchpath("x", "?.lua;/abs/?.lua")
    eq("searchpath miss", none, nil)
    eq("searchpath tried", tried, "no file 'app/x.lua'\n\tno file '/abs/x.lua'")

    local err = errorOf(require, "missing")
    eq("require not found message", err:match("module.*$"), "module 'missing' not found:\n" ..
        "\tno field package.preload['missing']\n" ..
        "\tno file 'app/missing'\n\tno file 'app/missing.lua'\n\tno file 'app/missing/init.lua'\n" ..
        "\tno file '/rom/modules/main/missing'\n\tno file '/rom/modules/main/missing.lua'\n" ..
        "\tno file '/rom/modules/main/missing/init.lua'")
    local here = errorOf(function() require("missing") end)
    check("require error points at the caller", here:find("programs%.lua:%d+: module 'missing'") ~= nil, here)
    check("require loop", errorOf(require, "loop"):find("loop or previous error loading module 'loop'", 1, true) ~= nil)
    eq("require failing module", errorOf(require, "fails"), "module failed")
    eq("failing module not cached", package.loaded.fails, nil)
    check("require syntax error", errorOf(require, "syntax"):find("error loading module 'syntax' from file 'app/syntax.lua'", 1, true) ~= nil)
    eq("require bad arg", errorOf(require, 1):match("bad argument.*$"), "bad argument #1 (string expected, got number)")

    local r2 = make_package(setmetatable({}, { __index = G }), "")
    eq("other program, other modules", r2("mod").name, "root mod")
end

---------------------------------------------------------------------------
-- shell
---------------------------------------------------------------------------
do
    local words = shells.tokenise('edit "my file.txt"  x\ty', "z")
    eq("tokenise count", #words, 5)
    eq("tokenise quoted", words[2], "my file.txt")
    eq("tokenise last", words[5], "z")

    local shell = shells.new()
    eq("dir", shell.dir(), "")
    eq("path", shell.path(), ".:/rom/programs")
    eq("resolve", shell.resolve("a/./b/../c"), "a/c")
    eq("resolve absolute", shell.resolve("/x/y"), "x/y")

    files["bin/hello.lua"] = "said = { [0] = arg[0], ... } return"
    files["rom/programs/tool"] = "return"
    files["bin/who.lua"] = "whoami = shell.getRunningProgram() dirname = shell.dir()"
    files["bin/fail.lua"] = "error('it failed')"
    files["bin/quiet.lua"] = "error('', 0)"
    files["bin/uses.lua"] = "got = require('helper')"
    files["bin/helper.lua"] = "return 'helped'"
    files["bin/broken.lua"] = "x = = 2"
    files["bin/nested.lua"] = "ok1 = shell.run('who') after = shell.getRunningProgram()"

    eq("resolveProgram along the path", shell.resolveProgram("tool"), "rom/programs/tool")
    eq("resolveProgram missing", shell.resolveProgram("hello"), nil)
    shell.setPath(".:/bin:/rom/programs")
    eq("setPath", shell.path(), ".:/bin:/rom/programs")
    eq("resolveProgram adds .lua", shell.resolveProgram("hello"), "bin/hello.lua")
    eq("resolveProgram with a path", shell.resolveProgram("bin/hello"), "bin/hello.lua")
    eq("resolveProgram exact file", shell.resolveProgram("/bin/hello.lua"), "bin/hello.lua")
    shell.setAlias("hi", "hello")
    eq("alias", shell.resolveProgram("hi"), "bin/hello.lua")
    eq("aliases copy", shell.aliases().hi, "hello")
    shell.clearAlias("hi")
    eq("clearAlias", shell.aliases().hi, nil)

    local programs = shell.programs()
    eq("programs", table.concat(programs, ","), "broken,fail,hello,helper,mod,nested,quiet,tool,uses,who")

    eq("run", shell.run('hello a "b c"'), true)
    local said = rawget(G, "said")
    eq("run leaves _G alone", said, nil)

    -- The program's globals stay in its own env: look at what it set through a capture.
    local captured
    G.capture = function(t) captured = t end
    files["bin/cap.lua"] = "capture({ arg = arg, n = select('#', ...), first = ..., shell = shell, require = require })"
    eq("execute", shell.execute("cap", "x y", "z"), true)
    eq("execute arg[0]", captured.arg[0], "cap")
    eq("execute arg[1] verbatim", captured.arg[1], "x y")
    eq("execute ...", captured.n, 2)
    eq("execute first", captured.first, "x y")
    eq("execute shell", captured.shell, shell)
    eq("execute own require", type(captured.require), "function")

    G.capture = function(t) captured = t end
    files["bin/who.lua"] = "capture({ who = shell.getRunningProgram() })"
    shell.run("who")
    eq("getRunningProgram", captured.who, "bin/who.lua")
    eq("getRunningProgram after", shell.getRunningProgram(), nil)

    files["bin/uses.lua"] = "capture({ got = require('helper') })"
    shell.run("uses")
    eq("program require relative to its directory", captured.got, "helped")

    printed = {}
    eq("No such program", shell.run("nothing-here"), false)
    eq("No such program printed", printed[1], "No such program")
    printed = {}
    eq("failing program", shell.run("fail"), false)
    eq("failing program printed", printed[1], "/bin/fail.lua:1: it failed")
    printed = {}
    eq("empty error", shell.run("quiet"), false)
    eq("empty error not printed", #printed, 0)
    printed = {}
    eq("syntax error", shell.run("broken"), false)
    check("syntax error printed", (printed[1] or ""):find("^/bin/broken.lua:1:") ~= nil, printed[1])
    eq("empty command", shell.run(""), false)
    eq("execute bad arg", errorOf(shell.execute, "x", 1):match("bad argument.*$"), "bad argument #2 (string expected, got number)")

    eq("setDir not a dir", errorOf(shell.setDir, "bin/hello.lua"):match("Not a directory$"), "Not a directory")
    shell.setDir("/bin/")
    eq("setDir", shell.dir(), "bin")
    eq("resolve against dir", shell.resolve("x"), "bin/x")
    eq("resolveProgram . is the dir", shell.resolveProgram("hello"), "bin/hello.lua")

    local child = shells.new(shell)
    eq("child shell inherits dir", child.dir(), "bin")
    eq("child shell inherits path", child.path(), ".:/bin:/rom/programs")

    -- runMain: the script as first program, with its own environment.
    local main = assert(load("top = true capture({ arg = arg, prog = shell.getRunningProgram(), env = _ENV, req = require, pkg = package, a = ... })", "@/site/server.lua", "t", G))
    shells.runMain(main, nil, "one")
    eq("runMain program from chunk name", captured.prog, "site/server.lua")
    eq("runMain arg[0]", captured.arg[0], "site/server.lua")
    eq("runMain arg[1]", captured.arg[1], "one")
    eq("runMain ...", captured.a, "one")
    eq("runMain own env", rawget(G, "top"), nil)
    eq("runMain env global", rawget(captured.env, "top"), true)
    eq("runMain package path", captured.pkg.path:sub(1, 5), "?;?.l")
    local main2 = assert(load("capture({ prog = shell.getRunningProgram() })", "@/tmp/host/x.lua", "t", G))
    shells.runMain(main2, "/apps/x.lua")
    eq("runMain explicit program", captured.prog, "apps/x.lua")
    local main3 = assert(load("error('top failed')", "@/s.lua", "t", G))
    eq("runMain raises", errorOf(shells.runMain, main3), "/s.lua:1: top failed")
end

---------------------------------------------------------------------------
-- settings
---------------------------------------------------------------------------
do
    local settings = G.settings
    events = {}
    settings.define("a.num", { description = "A number", default = 3, type = "number" })
    eq("get default", settings.get("a.num"), 3)
    eq("get explicit default", settings.get("missing", "dflt"), "dflt")
    settings.set("a.num", 5)
    eq("set/get", settings.get("a.num"), 5)
    eq("setting_changed", events[1] and events[1][1], "setting_changed")
    eq("setting_changed new", events[1] and events[1][3], 5)
    eq("setting_changed old", events[1] and events[1][4], 3)
    settings.set("a.num", 5)
    eq("no event when unchanged", #events, 1)
    eq("typed set", errorOf(function() settings.set("a.num", "x") end):match("bad argument.*$"),
        "bad argument #2 to 'set' (number expected, got string)")
    eq("set nil", errorOf(function() settings.set("b", nil) end):match("bad argument.*$"),
        "bad argument #2 to 'set' (number, string, boolean or table expected, got nil)")
    eq("set name", errorOf(function() settings.set(1, 1) end):match("bad argument.*$"),
        "bad argument #1 to 'set' (string expected, got number)")
    eq("define bad type", errorOf(function() settings.define("x", { type = "thing" }) end):match("Unknown.*$"),
        'Unknown type "thing". Expected one of number, string, boolean, table.')
    eq("define bad field", errorOf(function() settings.define("x", { description = 1 }) end):match("bad field.*$"),
        "bad field 'description' (string expected, got number)")

    local t = { 1, 2 }
    settings.set("tbl", t)
    local got = settings.get("tbl")
    check("tables are copies", got ~= t and got[2] == 2)
    got[1] = 99
    eq("get returns a copy", settings.get("tbl")[1], 1)

    local d = settings.getDetails("a.num")
    eq("details description", d.description, "A number")
    eq("details value", d.value, 5)
    eq("details changed", d.changed, true)
    eq("details default", d.default, 3)
    eq("getNames", table.concat(settings.getNames(), ","), "a.num,tbl")

    eq("save", settings.save(), true)
    check("saved file", files[".settings"] and files[".settings"]:find('[ "a.num" ] = 5', 1, true) ~= nil, files[".settings"])
    settings.unset("a.num")
    eq("unset returns to default", settings.get("a.num"), 3)
    settings.clear()
    eq("clear", settings.get("tbl"), nil)
    eq("load", settings.load(), true)
    eq("load restores", settings.get("a.num"), 5)
    eq("load restores table", settings.get("tbl")[2], 2)
    files["other.cfg"] = '{ ["a.num"] = "wrong type", fresh = true, [1] = "skipped" }'
    eq("load path", settings.load("other.cfg"), true)
    eq("load skips wrong type", settings.get("a.num"), 5)
    eq("load new value", settings.get("fresh"), true)
    files["junk.cfg"] = "this is not a table"
    eq("load junk", settings.load("junk.cfg"), false)
    eq("load missing", settings.load("none.cfg"), false)
    settings.undefine("a.num")
    eq("undefine keeps value", settings.get("a.num"), 5)
    eq("undefined details", settings.getDetails("a.num").description, nil)
end

print(string.format("%d passed, %d failed", passed, failures))
os.exit(failures == 0)
