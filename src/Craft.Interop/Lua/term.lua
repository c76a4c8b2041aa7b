-- Craft's `term`: CraftOS's terminal API over the computer's one terminal (Apis/Terminal.cs),
-- with redirect/current/native as CC:Tweaked's term.lua has them.
--
-- Loaded by the BIOS with (native, expect): `native` is the table Apis/Terminal.cs pushes. Its
-- functions never raise; the argument checks and CC:Tweaked's errors are here. Colours cross to
-- the host as palette indices (0 white .. 15 black); scripts see CraftOS's bit values (1 .. 32768).
--
-- Returns: term, the native terminal object, and the natives the BIOS's write/print use.

local n, expect = ...

local type, error, tostring, floor, select = type, error, tostring, math.floor, select
local s_find, s_lower = string.find, string.lower

local function colourIndex(colour, index)
    if type(colour) ~= "number" then expect(index or 1, colour, "number", 3) end
    -- As CraftOS: the highest bit set names the colour; nothing below 1 or past 15 bits.
    colour = floor(colour)
    if colour <= 0 or colour > 0xffff then error("Colour out of range", 3) end
    local i = 0
    while colour >= 2 do
        colour = colour // 2
        i = i + 1
    end
    return i
end

local function number(index, value)
    if type(value) ~= "number" then expect(index, value, "number", 3) end
    return value
end

local screen = {}

function screen.write(text)
    n.write(tostring(text))
end

function screen.blit(text, fg, bg)
    if type(text) ~= "string" then expect(1, text, "string") end
    if type(fg) ~= "string" then expect(2, fg, "string") end
    if type(bg) ~= "string" then expect(3, bg, "string") end
    if #fg ~= #text or #bg ~= #text then error("Arguments must be the same length", 2) end
    n.blit(text, fg, bg)
end

function screen.clear() n.clear() end
function screen.clearLine() n.clearLine() end
function screen.getCursorPos() return n.getCursorPos() end

function screen.setCursorPos(x, y)
    number(1, x)
    number(2, y)
    n.setCursorPos(x, y)
end

function screen.setCursorBlink(blink)
    if type(blink) ~= "boolean" then expect(1, blink, "boolean") end
    n.setCursorBlink(blink)
end

function screen.getCursorBlink() return n.getCursorBlink() end
function screen.getSize() return n.getSize() end

function screen.scroll(lines)
    n.scroll(number(1, lines))
end

function screen.isColour() return true end
screen.isColor = screen.isColour

function screen.setTextColour(colour) n.setTextColour(colourIndex(colour)) end
function screen.getTextColour() return 1 << n.getTextColour() end
function screen.setBackgroundColour(colour) n.setBackgroundColour(colourIndex(colour)) end
function screen.getBackgroundColour() return 1 << n.getBackgroundColour() end
screen.setTextColor, screen.getTextColor = screen.setTextColour, screen.getTextColour
screen.setBackgroundColor, screen.getBackgroundColor = screen.setBackgroundColour, screen.getBackgroundColour

-- setPaletteColour(colour, r, g, b) or setPaletteColour(colour, 0xRRGGBB).
function screen.setPaletteColour(colour, r, g, b)
    local i = colourIndex(colour)
    if type(r) == "number" and g == nil and b == nil then
        local rgb = floor(r)
        n.setPaletteColour(i, ((rgb >> 16) & 0xff) / 255, ((rgb >> 8) & 0xff) / 255, (rgb & 0xff) / 255)
        return
    end
    number(2, r)
    number(3, g)
    number(4, b)
    n.setPaletteColour(i, r, g, b)
end

function screen.getPaletteColour(colour)
    return n.getPaletteColour(colourIndex(colour))
end

screen.setPaletteColor, screen.getPaletteColor = screen.setPaletteColour, screen.getPaletteColour

-------------------------------------------------------------------------------------------------
-- The term API: every function of the current redirect target, plus redirect/current/native.

local term = {}
local target = screen

function term.redirect(to)
    if type(to) ~= "table" then expect(1, to, "table") end
    if to == term then
        error("term is not a recommended redirect target, try term.current() instead", 2)
    end
    -- A target missing a function raises when that function is used, as in CraftOS.
    for name, f in pairs(screen) do
        if type(f) == "function" and type(to[name]) ~= "function" then
            to[name] = function()
                error("Redirect object is missing method " .. name .. ".", 2)
            end
        end
    end
    local previous = target
    target = to
    return previous
end

function term.current() return target end
function term.native() return screen end

function term.nativePaletteColour(colour)
    return n.nativePaletteColour(colourIndex(colour))
end
term.nativePaletteColor = term.nativePaletteColour

for name in pairs(screen) do
    term[name] = function(...) return target[name](...) end
end

return term, screen, { write = n.write, newLine = n.newLine, rendering = n.rendering() }
