-- Craft's `io`: CC:Tweaked's io library, over `fs` (never the host's files) and the computer's
-- own streams for io.stdin, io.stdout and io.stderr.
--
-- Loaded by the BIOS with (fs, streams, expect, expectOpt), streams = { write, writeError,
-- readLine } (the BIOS's natives, which never raise).

local fs, streams, expect, expectOpt = ...

local type, select, tostring, tonumber, error, setmetatable, getmetatable, pcall =
    type, select, tostring, tonumber, error, setmetatable, getmetatable, pcall
local pack, unpack = table.pack, table.unpack

local io = {}

-- A file object: { _handle = fs handle or stream functions, _closed, _kind }.
local File = {}
local fileMeta = { __index = File, __name = "FILE*" }
function fileMeta.__tostring(self)
    if self._closed then return "file (closed)" end
    return ("file (%s)"):format(self._id)
end

local nextId = 0
local function wrap(handle, kind)
    nextId = nextId + 1
    return setmetatable({ _handle = handle, _kind = kind, _closed = false, _id = ("0x%08x"):format(nextId) }, fileMeta)
end

local function isFile(value) return getmetatable(value) == fileMeta end

local function checkFile(self)
    if not isFile(self) then
        error(("bad argument #1 (FILE* expected, got %s)"):format(type(self)), 3)
    end
    if self._closed then error("attempt to use a closed file", 3) end
    return self
end

function File:close()
    checkFile(self)
    if self._std then return nil, "attempt to close standard stream" end
    self._closed = true
    self._handle.close()
    return true
end

function File:flush()
    checkFile(self)
    if self._handle.flush then self._handle.flush() end
    return self
end

function File:setvbuf(mode)
    checkFile(self)
    if mode ~= "no" and mode ~= "full" and mode ~= "line" then
        error(("bad argument #1 to 'setvbuf' (invalid option '%s')"):format(tostring(mode)), 2)
    end
    return true
end

function File:seek(whence, offset)
    checkFile(self)
    expectOpt(1, whence, "string")
    expectOpt(2, offset, "number")
    local handle = self._handle
    if not handle.seek then return nil, "file is not seekable" end
    return handle.seek(whence or "cur", offset or 0)
end

-- One read format. Returns the value, or nil at the end of the file.
local function readNumber(handle)
    -- Reads the longest prefix that looks like a number, one byte at a time (no lookahead
    -- beyond one byte is possible on a stream, as in C's fscanf).
    local text = ""
    local function peek()
        if not handle.seek then return nil end
        local c = handle.read(1)
        if c ~= nil then handle.seek("cur", -1) end
        return c
    end
    while true do
        local c = peek()
        if c == nil or not c:match("%s") then break end
        handle.read(1)
    end
    while true do
        local c = peek()
        if c == nil or not (text .. c):match("^[+-]?%d*%.?%d*[eE]?[+-]?%d*$") and not (text .. c):match("^[+-]?0[xX]%x*%.?%x*$") then break end
        text = text .. handle.read(1)
    end
    return tonumber(text)
end

local function readOne(self, format)
    local handle = self._handle
    if type(format) == "number" then
        if not handle.read then return nil, "file is not readable" end
        local s = handle.read(format)
        if type(s) == "number" then s = string.char(s) end
        return s
    end
    if type(format) ~= "string" then
        error(("bad argument #1 to 'read' (invalid format)"), 3)
    end
    local f = format:gsub("^%*", ""):sub(1, 1)
    if not handle.readLine and not handle.read then return nil, "file is not readable" end
    if f == "l" then return handle.readLine(false)
    elseif f == "L" then return handle.readLine(true)
    elseif f == "a" then return handle.readAll() or ""
    elseif f == "n" then return readNumber(handle)
    end
    error(("bad argument #1 to 'read' (invalid format '%s')"):format(format), 3)
end

function File:read(...)
    checkFile(self)
    local n = select("#", ...)
    if n == 0 then return readOne(self, "l") end
    local out = {}
    for i = 1, n do
        local value, err = readOne(self, (select(i, ...)))
        if value == nil then
            if err then return nil, err end
            out[i] = nil
            return unpack(out, 1, i)
        end
        out[i] = value
    end
    return unpack(out, 1, n)
end

function File:lines(...)
    checkFile(self)
    local formats = pack(...)
    return function()
        if self._closed then error("file is already closed", 2) end
        return self:read(unpack(formats, 1, formats.n))
    end
end

function File:write(...)
    checkFile(self)
    local handle = self._handle
    if not handle.write then return nil, "file is not writable" end
    for i = 1, select("#", ...) do
        local value = select(i, ...)
        local t = type(value)
        if t ~= "string" and t ~= "number" then
            error(("bad argument #%d to 'write' (string expected, got %s)"):format(i, t), 2)
        end
        handle.write(tostring(value))
    end
    return self
end

-- The computer's streams as file objects.
local function stream(handle)
    local file = wrap(handle, "stream")
    file._std = true
    return file
end

io.stdin = stream({
    readLine = function(trailing)
        local line = streams.readLine()
        if line ~= nil and trailing then line = line .. "\n" end
        return line
    end,
    readAll = function()
        local parts = {}
        while true do
            local line = streams.readLine()
            if line == nil then break end
            parts[#parts + 1] = line .. "\n"
        end
        return table.concat(parts)
    end,
    close = function() end,
})
io.stdout = stream({ write = function(s) streams.write(s) end, flush = function() end, close = function() end })
io.stderr = stream({ write = function(s) streams.writeError(s) end, flush = function() end, close = function() end })

local currentInput, currentOutput = io.stdin, io.stdout

function io.type(value)
    if not isFile(value) then return nil end
    if value._closed then return "closed file" end
    return "file"
end

function io.open(path, mode)
    expect(1, path, "string")
    expectOpt(2, mode, "string")
    mode = mode or "r"
    local fsMode = mode:gsub("b", "")
    local valid = { r = true, w = true, a = true, ["r+"] = true, ["w+"] = true }
    if not valid[fsMode] then
        error(("bad argument #2 to 'open' (invalid mode '%s')"):format(mode), 2)
    end
    -- Every mode is opened binary-safe; binary handles give bytes as strings through io.
    local handle, err = fs.open(path, fsMode)
    if not handle then return nil, err end
    return wrap(handle, "file")
end

function io.close(file)
    if file == nil then return currentOutput:close() end
    return checkFile(file):close()
end

function io.input(file)
    if file == nil then return currentInput end
    if type(file) == "string" then
        local opened, err = io.open(file, "r")
        if not opened then error(err, 2) end
        currentInput = opened
    elseif isFile(file) then
        currentInput = file
    else
        error(("bad argument #1 to 'input' (FILE* expected, got %s)"):format(type(file)), 2)
    end
    return currentInput
end

function io.output(file)
    if file == nil then return currentOutput end
    if type(file) == "string" then
        local opened, err = io.open(file, "w")
        if not opened then error(err, 2) end
        currentOutput = opened
    elseif isFile(file) then
        currentOutput = file
    else
        error(("bad argument #1 to 'output' (FILE* expected, got %s)"):format(type(file)), 2)
    end
    return currentOutput
end

function io.read(...) return currentInput:read(...) end

function io.write(...) return currentOutput:write(...) end

function io.lines(path, ...)
    if path == nil then return currentInput:lines(...) end
    expect(1, path, "string")
    local file, err = io.open(path, "r")
    if not file then error(err, 2) end
    local formats = pack(...)
    return function()
        if file._closed then return nil end
        local values = pack(file:read(unpack(formats, 1, formats.n)))
        if values[1] == nil then file:close() end
        return unpack(values, 1, values.n)
    end
end

return io
