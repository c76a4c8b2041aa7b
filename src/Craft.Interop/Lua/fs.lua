-- Craft's `fs`: CC:Tweaked's file system API over the computer's root and /rom.
--
-- Loaded by the BIOS with (native, expect, expectOpt): `native` is the table Apis/FileSystem.cs
-- pushes. Its functions return `true, values...` or `false, message` and never raise; the errors
-- are raised here, without a position, as CC:Tweaked's Java functions raise them.

local native, expect, expectOpt = ...

local type, select, tostring, error, rawequal, floor, char, mtype =
    type, select, tostring, error, rawequal, math.floor, string.char, math.type
local concat, sort = table.concat, table.sort

local n = native
local fs = {}

local function check(ok, ...)
    if not ok then error((...), 0) end
    return ...
end

local function sanitize(path, wildcards) return (n.sanitize(path, wildcards)) end

-- The functions that take a path, check it, and hand the native's answer back (or raise its
-- message). makeDir and delete answer nothing.
for _, name in ipairs { "list", "exists", "isDir", "isReadOnly", "getSize", "getFreeSpace", "getCapacity",
    "getDrive", "attributes" } do
    local f = n[name]
    fs[name] = function(path)
        expect(1, path, "string")
        return check(f(path))
    end
end

for _, name in ipairs { "makeDir", "delete" } do
    local f = n[name]
    fs[name] = function(path)
        expect(1, path, "string")
        check(f(path))
    end
end

-- move and copy: from a path to another.
for _, name in ipairs { "move", "copy" } do
    local f = n[name]
    fs[name] = function(path, dest)
        expect(1, path, "string")
        expect(2, dest, "string")
        check(f(path, dest))
    end
end

function fs.combine(path, ...)
    expect(1, path, "string")
    local parts = { sanitize(path, true) }
    for i = 1, select("#", ...) do
        local part = select(i, ...)
        expect(i + 1, part, "string")
        part = sanitize(part, true)
        if part ~= "" then parts[#parts + 1] = part end
    end
    if parts[1] == "" then table.remove(parts, 1) end
    return sanitize(concat(parts, "/"), true)
end

function fs.getName(path)
    expect(1, path, "string")
    path = sanitize(path, true)
    if path == "" then return "root" end
    return path:match("([^/]*)$")
end

function fs.getDir(path)
    expect(1, path, "string")
    path = sanitize(path, true)
    if path == "" then return ".." end
    return path:match("^(.*)/[^/]*$") or ""
end

function fs.isDriveRoot(path)
    expect(1, path, "string")
    return fs.getDir(path) == ".." or fs.getDrive(path) ~= fs.getDrive(fs.getDir(path))
end

-- fs.find: "*" matches any run of characters within a name, "?" one character.
local function globPattern(glob)
    local out = {}
    for i = 1, #glob do
        local c = glob:sub(i, i)
        if c == "*" then out[#out + 1] = "[^/]*"
        elseif c == "?" then out[#out + 1] = "[^/]"
        elseif c:match("%w") then out[#out + 1] = c
        else out[#out + 1] = "%" .. c
        end
    end
    return "^" .. concat(out) .. "$"
end

function fs.find(wild)
    expect(1, wild, "string")
    -- CC:Tweaked's cleaning drops "?": keep it as a private-use character meanwhile.
    local QUESTION = "\239\163\191"
    wild = sanitize(wild:gsub("%?", QUESTION), true):gsub(QUESTION, "?")
    local first = wild:find("[*?]")
    if not first then
        if fs.exists(wild) then return { wild } end
        return {}
    end
    local base = wild:sub(1, first - 1):match("^(.*)/") or ""
    if not fs.isDir(base) then return {} end
    local pattern, found = globPattern(wild), {}
    local function walk(dir)
        for _, name in ipairs(fs.list(dir)) do
            local path = dir == "" and name or dir .. "/" .. name
            if path:find(pattern) then found[#found + 1] = path end
            if fs.isDir(path) then walk(path) end
        end
    end
    walk(base)
    sort(found)
    return found
end

-- fs.complete(partial, dir[, includeFiles[, includeDirs]]) or (partial, dir, options): the
-- endings that complete `partial` to names under `dir`, as CraftOS's shell completion uses.
function fs.complete(partial, dir, includeFiles, includeDirs)
    expect(1, partial, "string")
    expect(2, dir, "string")
    local includeHidden = false
    if type(includeFiles) == "table" then
        local options = includeFiles
        includeFiles, includeDirs, includeHidden = options.include_files, options.include_dirs, options.include_hidden
    else
        expectOpt(3, includeFiles, "boolean")
        expectOpt(4, includeDirs, "boolean")
    end
    includeFiles = includeFiles ~= false
    includeDirs = includeDirs ~= false

    if partial:sub(1, 1) == "/" then dir, partial = "", partial:sub(2)
    end
    local start = partial:match("^(.*)/") or nil
    if start then
        dir = fs.combine(dir, start)
        partial = partial:sub(#start + 2)
    end
    local results = {}
    if not fs.isDir(dir) then return results end
    if partial == "." or partial == ".." then
        if includeDirs then results[#results + 1] = "/" end
    end
    for _, name in ipairs(fs.list(dir)) do
        if #name >= #partial and name:sub(1, #partial) == partial
            and (includeHidden or partial ~= "" or name:sub(1, 1) ~= ".") then
            local rest = name:sub(#partial + 1)
            if fs.isDir(fs.combine(dir, name)) then
                results[#results + 1] = rest .. "/"
                if includeDirs and rest ~= "" then results[#results + 1] = rest end
            elseif includeFiles and rest ~= "" then
                results[#results + 1] = rest
            end
        end
    end
    return results
end

-------------------------------------------------------------------------------------------------
-- Handles: plain tables of functions (pairs lists them) that work as h.f() and h:f().

local modes = {
    r = "r", rb = "r", w = "w", wb = "w", a = "a", ab = "a",
    ["r+"] = "r+", ["r+b"] = "r+", ["w+"] = "w+", ["w+b"] = "w+",
}

local function method(handle, f)
    return function(first, ...)
        if rawequal(first, handle) then return f(...) end
        return f(first, ...)
    end
end

local function toBytes(value, index)
    local t = type(value)
    if t == "string" then return value end
    if t == "number" then return tostring(value) end
    error(("bad argument #%d (string expected, got %s)"):format(index, t), 0)
end

function fs.open(path, mode)
    expect(1, path, "string")
    expect(2, mode, "string")
    local kind = modes[mode]
    if not kind then error("Unsupported mode", 0) end
    local binary = mode:find("b", 1, true) ~= nil
    local ok, id = n.open(path, kind)
    if not ok then return nil, id end

    local handle = {}
    local canRead = kind == "r" or kind == "r+" or kind == "w+"
    local canWrite = kind ~= "r"

    if canRead then
        handle.read = method(handle, function(count)
            expectOpt(1, count, "number")
            if count ~= nil and count < 0 then error("Cannot read a negative number of bytes", 0) end
            if count == nil then return check(n.read(id, 1, binary)) end
            return check(n.read(id, floor(count), false))
        end)
        handle.readLine = method(handle, function(withTrailing)
            expectOpt(1, withTrailing, "boolean")
            return check(n.readLine(id, withTrailing))
        end)
        handle.readAll = method(handle, function() return check(n.readAll(id)) end)
    end

    if canWrite then
        handle.write = method(handle, function(value)
            if binary and type(value) == "number" then
                local b = value >= 0 and floor(value) or -floor(-value)
                return check(n.write(id, char(b % 256)))
            end
            check(n.write(id, toBytes(value, 1)))
        end)
        handle.writeLine = method(handle, function(value)
            check(n.write(id, toBytes(value, 1) .. "\n"))
        end)
        handle.flush = method(handle, function() check(n.flush(id)) end)
    end

    if kind ~= "a" then
        handle.seek = method(handle, function(whence, offset)
            expectOpt(1, whence, "string")
            expectOpt(2, offset, "number")
            if whence ~= nil and whence ~= "set" and whence ~= "cur" and whence ~= "end" then
                error("bad argument #1 to 'seek' (invalid option '" .. whence .. "')", 0)
            end
            local good, position = n.seek(id, whence, offset)
            if good then return position end
            if position == "attempt to use a closed file" then error(position, 0) end
            return nil, position
        end)
    end

    handle.close = method(handle, function() check(n.close(id)) end)
    return handle
end

return fs
