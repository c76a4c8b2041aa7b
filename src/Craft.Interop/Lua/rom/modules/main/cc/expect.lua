--- Argument checks for functions written in Lua, as CC:Tweaked's cc.expect module provides them:
-- `expect(index, value, type...)`, `field(tbl, key, type...)` and `range(number[, min[, max]])`.

local select, type, error, tostring, concat = select, type, error, tostring, table.concat
local getinfo = debug and debug.getinfo

-- "a", "a or b", "a, b or c"
local function typeList(...)
    local n = select("#", ...)
    local names = { ... }
    if n == 1 then return names[1] end
    if n == 2 then return names[1] .. " or " .. names[2] end
    return concat(names, ", ", 1, n - 1) .. " or " .. names[n]
end

local function matches(value, ...)
    local t = type(value)
    for i = 1, select("#", ...) do
        if t == select(i, ...) then return true end
    end
    return false
end

-- The name of the function that called the one doing the check, when the debug library can tell.
local function callerName()
    if not getinfo then return nil end
    local ok, info = pcall(getinfo, 4, "nS")
    if ok and info and info.name and info.name ~= "" and info.what ~= "main" then return info.name end
    return nil
end

local function expect(index, value, ...)
    if matches(value, ...) then return value end
    if type(index) ~= "number" then
        error(("bad argument #1 (number expected, got %s)"):format(type(index)), 2)
    end
    local name = callerName()
    local wanted = typeList(...)
    if name then
        error(("bad argument #%d to '%s' (%s expected, got %s)"):format(index, name, wanted, type(value)), 3)
    end
    error(("bad argument #%d (%s expected, got %s)"):format(index, wanted, type(value)), 3)
end

local function field(tbl, key, ...)
    if type(tbl) ~= "table" then
        error(("bad argument #1 (table expected, got %s)"):format(type(tbl)), 2)
    end
    local value = tbl[key]
    if matches(value, ...) then return value end
    if value == nil then
        error(("field '%s' missing"):format(tostring(key)), 3)
    end
    error(("bad field '%s' (%s expected, got %s)"):format(tostring(key), typeList(...), type(value)), 3)
end

local function range(num, min, max)
    expect(1, num, "number")
    min = expect(2, min, "number", "nil") or -math.huge
    max = expect(3, max, "number", "nil") or math.huge
    if num ~= num or num < min or num > max then
        error(("number outside of range (expected %s to be within %s and %s)"):format(tostring(num), tostring(min), tostring(max)), 3)
    end
    return num
end

return setmetatable({ expect = expect, field = field, range = range }, {
    __call = function(_, ...) return expect(...) end,
})
