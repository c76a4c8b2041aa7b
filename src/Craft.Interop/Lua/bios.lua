-- Craft's BIOS: builds the CraftOS environment around a script and returns the kernel, the
-- function the host runs as the computer's one top-level coroutine.
--
-- The rule this file exists for: the host's native functions never raise a Lua error and never
-- yield (both would unwind through .NET frames). They return status values, and the wrappers here
-- turn those into errors and yields.
--
-- Called by the host with:
--   native   a table of host functions (see Craft.Interop's LuaRuntime for each one)
--   config   { id, label, host, version, sandbox = { name = true, ... } }
--   sources  { textutils = "...", parallel = "...", bit32 = "...", http = "...", fs = "...", io = "..." }

local native, config, sources = ...

local type, select, tostring, tonumber, error, pcall = type, select, tostring, tonumber, error, pcall
local rawequal, setmetatable = rawequal, setmetatable
local pack, unpack, concat = table.pack, table.unpack, table.concat
local co_create, co_resume, co_yield, co_wrap = coroutine.create, coroutine.resume,
    coroutine.yield, coroutine.wrap
local sethook = debug.sethook
local floor = math.floor
local raw_load = load

local n_queue, n_startTimer, n_cancelTimer = native.queueEvent, native.startTimer, native.cancelTimer
local n_expired, n_clock, n_utc, n_offset = native.expired, native.clock, native.utcMillis, native.localOffsetMillis
local n_write, n_writeError, n_readLine, n_shutdown = native.write, native.writeError, native.readLine, native.shutdown

-- Argument checks, worded as CraftOS-PC words them: "bad argument #1 (number expected, got nil)".
local function expect(index, value, wanted, level)
    local got = type(value)
    if got ~= wanted then
        error(("bad argument #%d (%s expected, got %s)"):format(index, wanted, got), (level or 2) + 1)
    end
    return value
end

local function expectOpt(index, value, wanted, level)
    if value == nil then return nil end
    -- A tail call: this function's frame is gone when expect raises, so the level is unchanged.
    return expect(index, value, wanted, level)
end

-------------------------------------------------------------------------------------------------
-- Runaway scripts: every coroutine the script runs gets a count hook that asks the host whether
-- the computer has gone too long without yielding. The host only sets a flag; the error is
-- raised here.

local HOOK_EVERY = 100000

local function watchdog()
    local why = n_expired()
    if why then error(why, 0) end
end

local function watch(co)
    sethook(co, watchdog, "", HOOK_EVERY)
    return co
end

coroutine.create = function(f)
    return watch(co_create(f))
end

coroutine.wrap = function(f)
    local co = watch(co_create(f))
    return function(...)
        local r = pack(co_resume(co, ...))
        if r[1] then return unpack(r, 2, r.n) end
        error(r[2], 0)
    end
end

-------------------------------------------------------------------------------------------------
-- Events

-- Parameters of events the script queued, by the id the host gave them; the host takes them out
-- when it delivers (or drops) the event.
local payloads = {}

-- How the kernel turns raw network events (kind 2 and up) into what the script sees; filled in
-- by the http library.
local project = {}

-- These three are the event path's hot loop: no tables unless the event has parameters, and the
-- type checks skipped for the name or filter last seen to be a string (type() costs more than
-- the rest of the call: it makes a string each time). Comparing with a string never runs an __eq
-- metamethod.
local lastName, lastFilter = "", ""

function os.queueEvent(name, ...)
    if name ~= lastName then
        if type(name) ~= "string" then expect(1, name, "string") end
        lastName = name
    end
    local n = select("#", ...)
    local id = n_queue(name, n > 0)
    if id and n > 0 then payloads[id] = pack(...) end
end

function os.pullEventRaw(filter)
    if filter ~= nil and filter ~= lastFilter then
        if type(filter) ~= "string" then expect(1, filter, "string") end
        lastFilter = filter
    end
    return co_yield(filter)
end

local function unlessTerminated(name, ...)
    if name == "terminate" then error("Terminated", 0) end
    return name, ...
end

function os.pullEvent(filter)
    if filter ~= nil and filter ~= lastFilter then
        if type(filter) ~= "string" then expect(1, filter, "string") end
        lastFilter = filter
    end
    return unlessTerminated(co_yield(filter))
end

function os.startTimer(seconds)
    expect(1, seconds, "number")
    return n_startTimer(seconds)
end

function os.cancelTimer(id)
    expect(1, id, "number")
    n_cancelTimer(id)
end

function sleep(seconds)
    expectOpt(1, seconds, "number")
    local timer = n_startTimer(seconds or 0)
    repeat
        local _, id = os.pullEvent("timer")
    until id == timer
end

-------------------------------------------------------------------------------------------------
-- Time. The in-game clock runs 72 times faster than real time (a Minecraft day is 20 minutes)
-- and starts, like a new Minecraft world, on day 1 at 06:00.

local MS_PER_DAY = 86400000
local startUtc = n_utc()

local function ingameMillis()
    local real = n_utc() - startUtc
    return MS_PER_DAY + 6 * 3600000 + real * 72
end

local function millisFor(kind, fname)
    kind = kind == nil and "ingame" or kind
    if type(kind) ~= "string" then
        error(("bad argument #1 (string expected, got %s)"):format(type(kind)), 3)
    end
    kind = kind:lower()
    if kind == "utc" then return n_utc()
    elseif kind == "local" then return n_utc() + n_offset()
    elseif kind == "ingame" then return ingameMillis()
    end
    error("Unsupported operation", 3)
end

local std_time = os.time
function os.clock() return n_clock() end
function os.epoch(kind) return floor(millisFor(kind)) end

function os.time(kind)
    if type(kind) == "table" then return std_time(kind) end
    local ms = millisFor(kind) % MS_PER_DAY
    return ms / 3600000
end

function os.day(kind)
    return floor(millisFor(kind) / MS_PER_DAY)
end

-------------------------------------------------------------------------------------------------
-- The computer

local label = config.label

function os.getComputerID() return config.id end
os.computerID = os.getComputerID

function os.getComputerLabel() return label end
os.computerLabel = os.getComputerLabel

function os.setComputerLabel(new)
    expectOpt(1, new, "string")
    label = new
end

function os.version() return "CraftOS 1.9" end

-- os.shutdown([code]): the computer ends with that exit code (CraftOS-PC's addition).
function os.shutdown(code)
    expectOpt(1, code, "number")
    n_shutdown(code or 0, false)
    -- The host ends the script at its next yield; nothing after this runs.
    while true do co_yield() end
end

-- os.reboot(): the host runs the same script again in a fresh computer.
function os.reboot()
    n_shutdown(0, true)
    while true do co_yield() end
end

_HOST = config.host

-------------------------------------------------------------------------------------------------
-- The terminal (term.lua over Apis/Terminal.cs), and output and input through it: print, write
-- and term share one cursor. Lines count as CraftOS counts them (one per newline written).

local screen, termNative
do
    local chunk, err = raw_load(sources.term, "@term", "t", _G)
    if not chunk then error(err, 0) end
    term, screen, termNative = chunk(native.term, expect)
end

local t_write, t_newLine = termNative.write, termNative.newLine
local plainRendering = termNative.rendering == "plain"
local s_find, s_sub, s_match = string.find, string.sub, string.match

-- On the screen of the plain rendering, text is never wrapped (SPEC §7): each newline is the
-- screen's own, which the rendering writes even on an empty line.
local function plainWrite(text)
    local lines, pos = 0, 1
    while true do
        local nl = s_find(text, "\n", pos, true)
        if not nl then
            if pos <= #text then t_write(pos == 1 and text or s_sub(text, pos)) end
            return lines
        end
        if nl > pos then t_write(s_sub(text, pos, nl - 1)) end
        t_newLine()
        lines = lines + 1
        pos = nl + 1
    end
end

-- Anywhere else (a terminal, a window, a redirect): CraftOS's write, wrapping words at the
-- target's width and scrolling at its bottom.
local function wrappingWrite(text)
    local w, h = term.getSize()
    local x, y = term.getCursorPos()
    local lines = 0
    local function newLine()
        if y + 1 <= h then
            term.setCursorPos(1, y + 1)
        else
            term.setCursorPos(1, h)
            term.scroll(1)
        end
        x, y = term.getCursorPos()
        lines = lines + 1
    end
    local pos, len = 1, #text
    while pos <= len do
        local blank = s_match(text, "^[ \t]+", pos)
        if blank then
            term.write(blank)
            x, y = term.getCursorPos()
            pos = pos + #blank
        elseif s_sub(text, pos, pos) == "\n" then
            newLine()
            pos = pos + 1
        else
            local word = s_match(text, "^[^ \t\n]+", pos)
            pos = pos + #word
            if #word > w then
                while #word > 0 do
                    if x > w then newLine() end
                    term.write(word)
                    word = s_sub(word, w - x + 2)
                    x, y = term.getCursorPos()
                end
            else
                if x + #word - 1 > w then newLine() end
                term.write(word)
                x, y = term.getCursorPos()
            end
        end
    end
    return lines
end

local function emit(text)
    if plainRendering and term.current() == screen then return plainWrite(text) end
    return wrappingWrite(text)
end

function write(text)
    return emit(tostring(text))
end

local function joined(...)
    local n = select("#", ...)
    local parts = {}
    for i = 1, n do parts[i] = tostring((select(i, ...))) end
    return concat(parts, "\t") .. "\n"
end

function print(...)
    return emit(joined(...))
end

-- Plain: standard error, as a log wants it. A terminal: in red on the screen, as CraftOS shows it.
function printError(...)
    if plainRendering then
        n_writeError(joined(...))
        return
    end
    local colour = term.getTextColour()
    term.setTextColour(0x4000)
    local ok, err = pcall(print, ...)
    term.setTextColour(colour)
    if not ok then error(err, 0) end
end

function read()
    return n_readLine()
end

-------------------------------------------------------------------------------------------------
-- Libraries and compatibility names

local function library(name, ...)
    local chunk, err = raw_load(sources[name], "@" .. name, "t", _G)
    if not chunk then error(err, 0) end
    return chunk(...)
end

-- textutils' JSON runs natively (Apis/Json.cs, native.json); the Lua reader runs only where the
-- native one cannot decide (very deep nesting...). That reader runs no script code (no
-- metamethods, no callbacks) and ends in time linear in its input, so the watchdog's count hook,
-- which costs about a third of its time, is off while it reads documents big enough for that to
-- pay for switching the hook. Arguments are checked before it runs.
do
    local gethook, co_running = debug.gethook, coroutine.running
    local function wrap_parse(parse)
        return function(s, ...)
            if #s < 256 then return parse(s, ...) end
            local co = co_running()
            if gethook(co) ~= watchdog then return parse(s, ...) end
            sethook(co)
            local ok, value, message = pcall(parse, s, ...)
            sethook(co, watchdog, "", HOOK_EVERY)
            if not ok then error(value, 0) end
            return value, message
        end
    end
    textutils = library("textutils", native.json, wrap_parse)
end
parallel = library("parallel")
bit32 = library("bit32")

_G.unpack = table.unpack -- the global: a local named unpack is in scope here

-------------------------------------------------------------------------------------------------
-- CraftOS compatibility of the language: the Lua 5.1 names CraftOS keeps, numbers printed as
-- CraftOS prints them, and CraftOS's globals. (One block: the rest of the BIOS does not depend on
-- it, except that the libraries loaded after it see its tostring.)

do
    local getinfo, getupvalue, upvaluejoin = debug.getinfo, debug.getupvalue, debug.upvaluejoin
    local mtype, s_format, next, G = math.type, string.format, next, _G

    -- Numbers. CraftOS (Lua 5.1) has only floats and prints them with "%.14g": 10/2 prints "5",
    -- 2^63 "9.2233720368548e+18". Lua 5.4 prints integral floats with ".0". Every conversion that
    -- goes through luaL_tolstring (tostring, print, write, string.format's "%s", error values)
    -- asks the number metatable's __tostring, so this one function covers them all; strings never
    -- see it. The VM's own conversions (`..`, table.concat, string functions given a number) do
    -- not, and keep ".0" (docs/differences.md). Integers print as Lua prints them (all digits).
    debug.setmetatable(0, {
        __tostring = function(x)
            if mtype(x) == "float" then return s_format("%.14g", x) end
            return x .. "" -- an integer: the VM's own conversion is the fastest there is
        end,
        __metatable = false, -- getmetatable(1) is falsy, as in CraftOS, and the table stays ours
    })

    -- getfenv / setfenv over the _ENV upvalue, as CC:Tweaked's Cobalt does: a level (1, the
    -- default, is the caller; 0 the globals) or a function. A function without an _ENV upvalue
    -- (a C function, or one that reads no global) has the globals as its environment; setfenv
    -- gives the function a fresh _ENV of its own, so that closures sharing the old one keep it.
    local function envIndex(f)
        local i = 1
        while true do
            local name = getupvalue(f, i)
            if name == "_ENV" then return i end
            if name == nil then return nil end
            i = i + 1
        end
    end

    local function target(f, fname, default)
        if type(f) == "function" then return f end
        if f == nil and default then f = default end
        if type(f) ~= "number" then
            error(("bad argument #1 to '%s' (number expected, got %s)"):format(fname, type(f)), 3)
        end
        f = floor(f)
        if f < 0 then error(("bad argument #1 to '%s' (level must be non-negative)"):format(fname), 3) end
        if f == 0 then return 0 end
        -- Level 1 is the caller of getfenv: to getinfo here it is 3 (target 1, getfenv 2).
        local info = getinfo(f + 2, "f")
        if info == nil then error(("bad argument #1 to '%s' (invalid level)"):format(fname), 3) end
        return info.func
    end

    function getfenv(f)
        f = target(f, "getfenv", 1)
        if f == 0 then return G end
        local i = envIndex(f)
        if i == nil then return G end
        local _, env = getupvalue(f, i)
        if type(env) ~= "table" then return G end
        return env
    end

    function setfenv(f, env)
        f = target(f, "setfenv")
        if type(env) ~= "table" then
            error(("bad argument #2 to 'setfenv' (table expected, got %s)"):format(type(env)), 2)
        end
        if f == 0 or getinfo(f, "S").what == "C" then
            error("'setfenv' cannot change environment of given object", 2)
        end
        local i = envIndex(f)
        if i then upvaluejoin(f, i, function() return env end, 1) end
        return f
    end

    -- table.maxn: the largest positive numeric key, 0 if none (Lua 5.1).
    function table.maxn(t)
        expect(1, t, "table")
        local max = 0
        for k in next, t do
            if type(k) == "number" and k > max then max = k end
        end
        return max
    end

    local log = math.log
    function math.log10(x) return log(x, 10) end

    -- CraftOS's bit library is bit32 under its old names (CC:Tweaked's BIOS does exactly this), so
    -- its results are unsigned 32-bit: bit.bnot(0) is 4294967295, bit.brshift(-8, 1) 4294967292.
    bit = {
        bnot = bit32.bnot,
        band = bit32.band,
        bor = bit32.bor,
        bxor = bit32.bxor,
        brshift = bit32.arshift,
        blshift = bit32.lshift,
        blogic_rshift = bit32.rshift,
    }

    os.sleep = sleep
    _HEADLESS = true
end

do
    local chunk, err = raw_load(sources.http, "@http", "t", _G)
    if not chunk then error(err, 0) end
    http = (chunk(native, project, expect, expectOpt))
end

do
    local function api(name, ...)
        local chunk, err = raw_load(sources[name], "@" .. name, "t", _G)
        if not chunk then error(err, 0) end
        return (chunk(...))
    end
    fs = api("fs", native.fs, expect, expectOpt)
    -- The host's io only when the host widens the sandbox for it; otherwise CraftOS's, over fs.
    if not (config.sandbox or {}).io then
        -- io.write and io.stdout go through the terminal, with print's cursor.
        io = api("io", fs, { write = function(text) emit(text) end, writeError = n_writeError, readLine = n_readLine }, expect, expectOpt)
    end
end

-- The rest of CraftOS around the terminal: colours, keys, window, paintutils, vector, peripheral.
-- They check arguments as cc.expect does (naming the function).
do
    local cc = library("expect", debug.getinfo).expect
    colors = library("colors", cc)
    colours = {}
    for k, v in pairs(colors) do colours[k] = v end
    colours.grey, colours.gray = colors.gray, nil
    colours.lightGrey, colours.lightGray = colors.lightGray, nil
    keys = library("keys", cc)
    window = library("window", cc, colors, term)
    paintutils = library("paintutils", cc, colors, term, fs)
    vector = library("vector", cc)
    peripheral = library("peripheral", native.peripheral, cc)
end

-- CraftOS names chunks "=name" unless the name says otherwise, so errors read "name:1: ...".
local function chunkName(name)
    if type(name) == "string" and not name:find("^[@=]") then return "=" .. name end
    return name
end

-- Text chunks only: binary chunks could break out of any sandbox.
function load(chunk, name, mode, ...)
    if select("#", ...) > 0 then
        return raw_load(chunk, chunkName(name), "t", (...))
    end
    return raw_load(chunk, chunkName(name), "t")
end

function loadstring(text, name)
    return raw_load(text, chunkName(name), "t")
end

-- Files, programs and modules: settings, loadfile/dofile/os.run/os.loadAPI (programs.lua),
-- per-program require/package (require.lua), the shell and its programs (shell.lua).
local programs, programShell
if sources.programs then
    local checks = library("expect", debug.getinfo)
    settings = library("settings", checks)
    local make_package = library("require", checks).make
    programs = library("programs", checks, load)
    programShell = library("shell", checks, make_package, debug.getinfo, debug.getupvalue, debug.setupvalue)
end

-------------------------------------------------------------------------------------------------
-- The kernel: runs the script in its own coroutine. Events the script sees as they are (timers,
-- terminate, events the script or the host queued) the host passes straight to the script's
-- coroutine, checking its filter itself. Network events come through the kernel, which turns
-- them into handles first: the host resumes it with (filter, kind, ...), the script's current
-- filter first, kind 2..5 (see the http library's projections). Whenever it waits for one, the
-- kernel yields (the script's coroutine, its filter) to the host.

local function wanted(filter, name)
    return filter == nil or name == filter or name == "terminate"
end

-- Resumes the script with an event if its filter wants it; returns what the script yielded
-- next (ok, filter) or, when it does not want the event, (true, filter) unchanged.
local function deliver(co, filter, name, ...)
    if wanted(filter, name) then return co_resume(co, name, ...) end
    return true, filter
end

-- A network event: its projection (the event's name and parameters, handles made) goes to the
-- script.
local function dispatch(co, filter, kind, ...)
    return deliver(co, filter, project[kind](...))
end

-- The script's coroutine ends by returning this marker (after whether the script succeeded and
-- its error), so the loop asks for no coroutine.status per event. The script runs under pcall:
-- like coroutine.resume, a C caller, so error levels and messages are as before. A function as
-- the marker: comparing with a function never runs an __eq metamethod.
local function ENDED() end

local function ended(ok, ...)
    return ENDED, ok, (...)
end

local function kernel(main, ...)
    if programShell then
        -- The script runs as the computer's first program (its own env, arg, shell, require).
        local chunk = main
        main = function(...) return programShell.runMain(chunk, config.program, ...) end
    end
    local co = watch(co_create(function(...) return ended(pcall(main, ...)) end))
    local ok, filter, succeeded, problem = co_resume(co, ...)
    while filter ~= ENDED do
        if not ok then return false, filter end
        ok, filter, succeeded, problem = dispatch(co, co_yield(co, filter))
    end
    if succeeded then return true end
    return false, problem
end

-------------------------------------------------------------------------------------------------
-- The sandbox: what a CraftOS script cannot reach unless the host widens it.

local hidden = {
    "debug", "dofile", "loadfile", "require", "package", "collectgarbage",
}
local hiddenOs = { "execute", "exit", "remove", "rename", "getenv", "tmpname", "setlocale" }
local allowed = config.sandbox or {}

for _, name in ipairs(hidden) do
    if not allowed[name] then _G[name] = nil end
end
for _, name in ipairs(hiddenOs) do
    if not allowed["os." .. name] then os[name] = nil end
end
if not allowed["string.dump"] then string.dump = nil end

-- CraftOS's loaders replace the host's (unless the host widened the sandbox to keep them).
if programs then
    if not allowed.loadfile then loadfile = programs.loadfile end
    if not allowed.dofile then dofile = programs.dofile end
    os.run, os.loadAPI, os.unloadAPI = programs.run, programs.loadAPI, programs.unloadAPI
    if fs and fs.exists("/.settings") then settings.load("/.settings") end
end

return kernel, project, payloads
