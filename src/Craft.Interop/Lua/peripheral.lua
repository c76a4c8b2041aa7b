-- Craft's `peripheral`: CC:Tweaked's peripheral API over the peripherals a C# host attached
-- (Computer.AttachPeripheral; a headless computer has none of its own).
--
-- Loaded by the BIOS with (native, expect): `native` is the table Apis/Peripherals.cs pushes
-- (names, isPresent, getType, getMethods, call). Its call returns `true, results...` or
-- `false, message`; the message is raised here, in the caller, as CC:Tweaked raises it.

local n, expect = ...
local type, error, getmetatable, setmetatable, ipairs = type, error, getmetatable, setmetatable, ipairs

local peripheral = {}

function peripheral.getNames()
    return n.names()
end

function peripheral.isPresent(name)
    expect(1, name, "string")
    return n.isPresent(name)
end

-- The metatable of a wrapped peripheral, or an error for any other table.
local function wrapped(p)
    local mt = getmetatable(p)
    if type(mt) ~= "table" or mt.__name ~= "peripheral" or type(mt.types) ~= "table" then
        error("bad argument #1 (table is not a peripheral)", 3)
    end
    return mt
end

function peripheral.getType(p)
    expect(1, p, "string", "table")
    if type(p) == "string" then return n.getType(p) end
    return table.unpack(wrapped(p).types)
end

function peripheral.hasType(p, wanted)
    expect(1, p, "string", "table")
    expect(2, wanted, "string")
    if type(p) == "string" then
        local t = n.getType(p)
        if t == nil then return nil end
        return t == wanted
    end
    return wrapped(p).types[wanted] ~= nil
end

function peripheral.getMethods(name)
    expect(1, name, "string")
    return n.getMethods(name)
end

function peripheral.getName(p)
    expect(1, p, "table")
    local mt = getmetatable(p)
    if type(mt) ~= "table" or mt.__name ~= "peripheral" or type(mt.name) ~= "string" then
        error("bad argument #1 (table is not a peripheral)", 2)
    end
    return mt.name
end

-- The native's answer: its results, or its message raised where peripheral.call was called
-- (a tail call, so level 2 is that caller).
local function answer(ok, ...)
    if ok then return ... end
    error((...), 2)
end

function peripheral.call(name, method, ...)
    expect(1, name, "string")
    expect(2, method, "string")
    if not n.isPresent(name) then return nil end
    return answer(n.call(name, method, ...))
end

function peripheral.wrap(name)
    expect(1, name, "string")
    local methods = n.getMethods(name)
    if not methods then return nil end
    local types = { n.getType(name) }
    for i = 1, #types do types[types[i]] = true end
    local result = setmetatable({}, { __name = "peripheral", name = name, type = types[1], types = types })
    for _, method in ipairs(methods) do
        result[method] = function(...)
            return answer(n.call(name, method, ...))
        end
    end
    return result
end

function peripheral.find(wanted, filter)
    expect(1, wanted, "string")
    expect(2, filter, "function", "nil")
    local found = {}
    for _, name in ipairs(n.names()) do
        if n.getType(name) == wanted then
            local p = peripheral.wrap(name)
            if p and (filter == nil or filter(name, p)) then found[#found + 1] = p end
        end
    end
    return table.unpack(found)
end

return peripheral
