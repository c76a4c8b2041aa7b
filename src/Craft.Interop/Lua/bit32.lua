-- Craft: Lua 5.2 `bit32` library for Lua 5.4 (as provided by CraftOS).
--
-- All results are non-negative integers in [0, 2^32). Arguments are reduced to
-- 32 bits the way CraftOS (Cobalt) does: floats are truncated toward zero,
-- numeric strings are accepted, and the value is taken modulo 2^32.

local type, tonumber, error, select = type, tonumber, error, select
local s_format = string.format
local m_type, m_tointeger, m_floor, m_ceil = math.type, math.tointeger, math.floor, math.ceil
local MAXINT, MININT = math.maxinteger, math.mininteger

local MASK = 0xFFFFFFFF
local SIGN = 0x80000000

-- Converts an argument to an unsigned 32-bit integer, or raises an argument
-- error attributed to the caller of the bit32 function.
local function u32(value, index, fname, level)
    local n = value
    if type(n) == "string" then n = tonumber(n) end
    if type(n) ~= "number" then
        error(s_format("bad argument #%d to '%s' (number expected, got %s)",
            index, fname, type(value)), level or 3)
    end
    if m_type(n) == "float" then
        if n ~= n then
            n = 0
        elseif n >= 0x1p63 then
            n = MAXINT
        elseif n < -0x1p63 then
            n = MININT
        else
            n = m_tointeger(n >= 0 and m_floor(n) or m_ceil(n))
        end
    end
    return n & MASK
end

-- Same, but as a signed 32-bit value (for shift amounts, fields and widths).
local function s32(value, index, fname)
    local n = u32(value, index, fname, 4)
    if n >= SIGN then return n - 0x100000000 end
    return n
end

local function shift_left(x, disp)
    if disp >= 32 or disp <= -32 then return 0 end
    if disp >= 0 then return (x << disp) & MASK end
    return x >> -disp
end

local function rotate_left(x, disp)
    disp = disp & 31
    return ((x << disp) | (x >> (32 - disp))) & MASK
end

local function field_args(field, width, fi, fname)
    if field < 0 then
        error(s_format("bad argument #%d to '%s' (field cannot be negative)", fi, fname), 3)
    end
    if width <= 0 then
        error(s_format("bad argument #%d to '%s' (width must be positive)", fi + 1, fname), 3)
    end
    if field + width > 32 then
        error("trying to access non-existent bits", 3)
    end
end

local bit32 = {}

function bit32.band(...)
    local r = MASK
    for i = 1, select("#", ...) do r = r & u32((select(i, ...)), i, "band") end
    return r
end

function bit32.bor(...)
    local r = 0
    for i = 1, select("#", ...) do r = r | u32((select(i, ...)), i, "bor") end
    return r
end

function bit32.bxor(...)
    local r = 0
    for i = 1, select("#", ...) do r = r ~ u32((select(i, ...)), i, "bxor") end
    return r
end

function bit32.btest(...)
    local r = MASK
    for i = 1, select("#", ...) do r = r & u32((select(i, ...)), i, "btest") end
    return r ~= 0
end

function bit32.bnot(x)
    return ~u32(x, 1, "bnot") & MASK
end

function bit32.lshift(x, disp)
    return shift_left(u32(x, 1, "lshift"), s32(disp, 2, "lshift"))
end

function bit32.rshift(x, disp)
    return shift_left(u32(x, 1, "rshift"), -s32(disp, 2, "rshift"))
end

function bit32.arshift(x, disp)
    x = u32(x, 1, "arshift")
    disp = s32(disp, 2, "arshift")
    if disp < 0 then return shift_left(x, -disp) end
    if x & SIGN == 0 then return shift_left(x, -disp) end
    -- Negative value: shift in copies of the sign bit.
    if disp >= 32 then return MASK end
    return ((x >> disp) | (MASK << (32 - disp))) & MASK
end

function bit32.lrotate(x, disp)
    return rotate_left(u32(x, 1, "lrotate"), s32(disp, 2, "lrotate"))
end

function bit32.rrotate(x, disp)
    return rotate_left(u32(x, 1, "rrotate"), -s32(disp, 2, "rrotate"))
end

function bit32.extract(n, field, width)
    n = u32(n, 1, "extract")
    field = s32(field, 2, "extract")
    width = width == nil and 1 or s32(width, 3, "extract")
    field_args(field, width, 2, "extract")
    return (n >> field) & ((1 << width) - 1)
end

function bit32.replace(n, v, field, width)
    n = u32(n, 1, "replace")
    v = u32(v, 2, "replace")
    field = s32(field, 3, "replace")
    width = width == nil and 1 or s32(width, 4, "replace")
    field_args(field, width, 3, "replace")
    local mask = ((1 << width) - 1) << field
    return ((n & ~mask) | ((v << field) & mask)) & MASK
end

return bit32
