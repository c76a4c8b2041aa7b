-- Craft's `paintutils`: pixels, lines, boxes and images drawn on the current terminal
-- (CC:Tweaked's paintutils). A pixel is a blank in a background colour, drawn with blit so that
-- the plain rendering leaves it out of logs.
--
-- Loaded by the BIOS with (expect, colors, term, fs), expect being cc.expect's; returns the table.

local expect, colors, term, fs = ...
local floor, abs, min, max, type = math.floor, math.abs, math.min, math.max, type

local paintutils = {}

-- Image characters ("0".."f") to colours; anything else is transparent.
local byChar = {}
for i = 0, 15 do byChar[("0123456789abcdef"):sub(i + 1, i + 1)] = 1 << i end

function paintutils.parseImage(image)
    expect(1, image, "string")
    local rows = {}
    for line in (image .. "\n"):gmatch("(.-)\n") do
        local row = {}
        for i = 1, #line do row[i] = byChar[line:sub(i, i):lower()] or 0 end
        rows[#rows + 1] = row
    end
    return rows
end

function paintutils.loadImage(path)
    expect(1, path, "string")
    if not fs.exists(path) then return nil end
    local file = fs.open(path, "r")
    if not file then return nil end
    local text = file.readAll() or ""
    file.close()
    return paintutils.parseImage(text)
end

local function pixel(x, y, colour)
    term.setCursorPos(x, y)
    local c = colors.toBlit(colour)
    term.blit(" ", c, c)
end

local function colourOr(colour)
    if colour then return colour end
    return term.getBackgroundColour()
end

function paintutils.drawPixel(x, y, colour)
    expect(1, x, "number")
    expect(2, y, "number")
    expect(3, colour, "number", "nil")
    pixel(floor(x), floor(y), colourOr(colour))
end

function paintutils.drawLine(startX, startY, endX, endY, colour)
    expect(1, startX, "number")
    expect(2, startY, "number")
    expect(3, endX, "number")
    expect(4, endY, "number")
    expect(5, colour, "number", "nil")
    colour = colourOr(colour)
    startX, startY, endX, endY = floor(startX), floor(startY), floor(endX), floor(endY)
    -- Bresenham: step along the longer axis, carrying the error along the shorter.
    local dx, dy = abs(endX - startX), -abs(endY - startY)
    local sx = startX < endX and 1 or -1
    local sy = startY < endY and 1 or -1
    local err, x, y = dx + dy, startX, startY
    while true do
        pixel(x, y, colour)
        if x == endX and y == endY then break end
        local e2 = 2 * err
        if e2 >= dy then err, x = err + dy, x + sx end
        if e2 <= dx then err, y = err + dx, y + sy end
    end
end

local function box(startX, startY, endX, endY, colour, filled)
    expect(1, startX, "number")
    expect(2, startY, "number")
    expect(3, endX, "number")
    expect(4, endY, "number")
    expect(5, colour, "number", "nil")
    colour = colourOr(colour)
    local left, right = floor(min(startX, endX)), floor(max(startX, endX))
    local top, bottom = floor(min(startY, endY)), floor(max(startY, endY))
    local c = colors.toBlit(colour)
    for y = top, bottom do
        if filled or y == top or y == bottom then
            local w = right - left + 1
            term.setCursorPos(left, y)
            term.blit((" "):rep(w), c:rep(w), c:rep(w))
        else
            pixel(left, y, colour)
            pixel(right, y, colour)
        end
    end
end

function paintutils.drawBox(startX, startY, endX, endY, colour)
    box(startX, startY, endX, endY, colour, false)
end

function paintutils.drawFilledBox(startX, startY, endX, endY, colour)
    box(startX, startY, endX, endY, colour, true)
end

function paintutils.drawImage(image, x, y)
    expect(1, image, "table")
    expect(2, x, "number")
    expect(3, y, "number")
    for row = 1, #image do
        local line = image[row]
        for col = 1, #line do
            if line[col] > 0 then pixel(x + col - 1, y + row - 1, line[col]) end
        end
    end
end

return paintutils
