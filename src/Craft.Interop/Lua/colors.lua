-- Craft's `colors` (and `colours`): CraftOS's 16 colours as bit values, and the functions over
-- sets of them, with CC:Tweaked's behaviour and messages.
--
-- Loaded by the BIOS with (expect), cc.expect's; returns the `colors` table. The BIOS makes `colours` from
-- it (the same values, British names for grey).

local expect = ...
local type, error, floor, s_format, tonumber, select = type, error, math.floor, string.format, tonumber, select

local colors = {
    white = 0x1, orange = 0x2, magenta = 0x4, lightBlue = 0x8,
    yellow = 0x10, lime = 0x20, pink = 0x40, gray = 0x80,
    lightGray = 0x100, cyan = 0x200, purple = 0x400, blue = 0x800,
    brown = 0x1000, green = 0x2000, red = 0x4000, black = 0x8000,
}


--- The union of colour sets.
function colors.combine(...)
    local r = 0
    for i = 1, select("#", ...) do
        r = r | floor(expect(i, (select(i, ...)), "number"))
    end
    return r
end

--- A set without the given colours.
function colors.subtract(set, ...)
    local r = floor(expect(1, set, "number"))
    for i = 1, select("#", ...) do
        r = r & ~floor(expect(i + 1, (select(i, ...)), "number"))
    end
    return r
end

--- Whether every colour of `color` is in `set`.
function colors.test(set, color)
    local a, b = floor(expect(1, set, "number")), floor(expect(2, color, "number"))
    return a & b == b
end

--- 0xRRGGBB from three channels in 0..1.
function colors.packRGB(r, g, b)
    expect(1, r, "number")
    expect(2, g, "number")
    expect(3, b, "number")
    return (floor(r * 255) & 0xff) << 16 | (floor(g * 255) & 0xff) << 8 | (floor(b * 255) & 0xff)
end

--- Three channels in 0..1 from 0xRRGGBB.
function colors.unpackRGB(rgb)
    rgb = floor(expect(1, rgb, "number"))
    return ((rgb >> 16) & 0xff) / 255, ((rgb >> 8) & 0xff) / 255, (rgb & 0xff) / 255
end

--- The old name: packRGB with three arguments, unpackRGB with one.
function colors.rgb8(r, g, b)
    if g == nil and b == nil then return colors.unpackRGB(r) end
    return colors.packRGB(r, g, b)
end

--- The blit character ("0".."f") of a colour.
function colors.toBlit(color)
    expect(1, color, "number")
    if color <= 0 or color > 0xffff then error("Colour out of range", 2) end
    local i, c = 0, floor(color)
    while c >= 2 do
        c = c // 2
        i = i + 1
    end
    return s_format("%x", i)
end

--- The colour of a blit character, or nil.
function colors.fromBlit(hex)
    expect(1, hex, "string")
    if #hex ~= 1 then return nil end
    local i = tonumber(hex, 16)
    if not i then return nil end
    return 1 << i
end

return colors
