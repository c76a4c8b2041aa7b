-- Argument checks worded as CC:Tweaked's cc.expect words them:
--   bad argument #1 to 'set' (string expected, got nil)
--   bad field 'default' (number, string, boolean or table expected, got function)
-- The function's name is included when the debug library can tell it (it is captured here, before
-- the BIOS hides `debug` from scripts).
--
-- Called with: getinfo (debug.getinfo, or nil when the name is not wanted).

local getinfo = ...
local type, select, error, pcall, concat = type, select, error, pcall, table.concat

-- "a", "a or b", "a, b or c"; nil is left out as CC:Tweaked leaves it out.
local function names(...)
    local list = {}
    for i = 1, select("#", ...) do
        local t = select(i, ...)
        if t ~= "nil" then list[#list + 1] = t end
    end
    if #list == 0 then return "nil" end
    if #list == 1 then return list[1] end
    return concat(list, ", ", 1, #list - 1) .. " or " .. list[#list]
end

local function matches(t, ...)
    for i = 1, select("#", ...) do
        if t == select(i, ...) then return true end
    end
    return false
end

-- Checks argument `index`; returns the value. The error points at the caller's caller.
local function expect(index, value, ...)
    local t = type(value)
    if matches(t, ...) then return value end
    local name
    if getinfo then
        local ok, info = pcall(getinfo, 3, "nS")
        if ok and info and info.name and info.name ~= "" and info.what ~= "C" then name = info.name end
    end
    if name then
        error(("bad argument #%d to '%s' (%s expected, got %s)"):format(index, name, names(...), t), 3)
    end
    error(("bad argument #%d (%s expected, got %s)"):format(index, names(...), t), 3)
end

-- Checks the field `key` of a table argument; returns its value.
local function field(tbl, key, ...)
    local value = tbl[key]
    local t = type(value)
    if matches(t, ...) then return value end
    if value == nil then error(("field '%s' missing from table"):format(key), 3) end
    error(("bad field '%s' (%s expected, got %s)"):format(key, names(...), t), 3)
end

return { expect = expect, field = field }
