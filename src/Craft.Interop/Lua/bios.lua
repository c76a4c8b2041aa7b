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

function os.shutdown()
    n_shutdown()
    -- The host ends the script at its next yield; nothing after this runs.
    while true do co_yield() end
end

os.reboot = os.shutdown

_HOST = config.host

-------------------------------------------------------------------------------------------------
-- Output and input. Lines count as CraftOS counts them (one per newline written).

local function lines(text)
    local _, n = text:gsub("\n", "")
    return n
end

function write(text)
    text = tostring(text)
    n_write(text)
    return lines(text)
end

local function joined(...)
    local n = select("#", ...)
    local parts = {}
    for i = 1, n do parts[i] = tostring((select(i, ...))) end
    return concat(parts, "\t") .. "\n"
end

function print(...)
    local text = joined(...)
    n_write(text)
    return lines(text)
end

function printError(...)
    n_writeError(joined(...))
end

function read()
    return n_readLine()
end

-------------------------------------------------------------------------------------------------
-- Libraries and compatibility names

local function library(name)
    local chunk, err = raw_load(sources[name], "@" .. name, "t", _G)
    if not chunk then error(err, 0) end
    return chunk()
end

textutils = library("textutils")

-- JSON parsing runs no script code (no metamethods, no callbacks) and ends in time linear in its
-- input, so the watchdog's count hook, which costs about a third of the parser's time, is off
-- while it runs. Only plain calls (a string, no options) of documents big enough for that to
-- pay for switching the hook go this way; argument errors keep their position as before.
do
    local parse = textutils.unserializeJSON
    local gethook, co_running = debug.gethook, coroutine.running
    local function unserializeJSON(s, options)
        if options ~= nil or type(s) ~= "string" or #s < 256 then return parse(s, options) end
        local co = co_running()
        if gethook(co) ~= watchdog then return parse(s) end
        sethook(co)
        local ok, value, message = pcall(parse, s)
        sethook(co, watchdog, "", HOOK_EVERY)
        if not ok then error(value, 0) end
        return value, message
    end
    textutils.unserializeJSON, textutils.unserialiseJSON = unserializeJSON, unserializeJSON
end
parallel = library("parallel")
bit32 = library("bit32")

_G.unpack = table.unpack -- the global: a local named unpack is in scope here

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
        io = api("io", fs, { write = n_write, writeError = n_writeError, readLine = n_readLine }, expect, expectOpt)
    end
end

-- Text chunks only: binary chunks could break out of any sandbox.
function load(chunk, name, mode, ...)
    if select("#", ...) > 0 then
        return raw_load(chunk, name, "t", (...))
    end
    return raw_load(chunk, name, "t")
end

function loadstring(text, name)
    return raw_load(text, name, "t")
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

-- Resumes the script with a network event if its filter wants it; returns what the script
-- yielded next (ok, filter) or, when it does not want the event, (true, filter) unchanged.
local function dispatch(co, filter, kind, ...)
    local e = project[kind](...)
    if wanted(filter, e[1]) then return co_resume(co, unpack(e, 1, e.n)) end
    return true, filter
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

return kernel, project, payloads
