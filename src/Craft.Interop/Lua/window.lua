-- Craft's `window`: terminal objects that draw into a rectangle of a parent terminal and keep
-- what they show, so they can be hidden, redrawn and moved (CC:Tweaked's window API).
--
-- A window keeps each row as three strings of equal length (text, text colours, background
-- colours, colours as blit characters) and, while visible, draws a changed row through its
-- parent's setCursorPos and blit. On Craft's plain rendering, blit leaves blanks out, and a row
-- drawn again over what it showed is not repeated (Apis/Terminal.cs).
--
-- Loaded by the BIOS with (expect, colors, term), expect being cc.expect's; returns the `window` table.

local expect, colors, term = ...

local type, error, tostring, floor, pairs = type, error, tostring, math.floor, pairs
local rep, sub, lower = string.rep, string.sub, string.lower

-- Blit characters by colour value, "0" (white) to "f" (black).
local hex = {}
for i = 0, 15 do hex[1 << i] = ("0123456789abcdef"):sub(i + 1, i + 1) end

local function colourOf(colour)
    if type(colour) ~= "number" then
        error(("bad argument #1 (number expected, got %s)"):format(type(colour)), 3)
    end
    if hex[colour] then return colour end
    if colour <= 0 or colour > 0xffff then error("Colour out of range", 3) end
    local c, i = floor(colour), 0
    while c >= 2 do
        c = c // 2
        i = i + 1
    end
    return 1 << i
end

local window = {}

function window.create(parent, x, y, width, height, visible)
    expect(1, parent, "table")
    expect(2, x, "number")
    expect(3, y, "number")
    expect(4, width, "number")
    expect(5, height, "number")
    expect(6, visible, "boolean", "nil")
    if parent == term then
        error("term is not a recommended window parent, try term.current() instead", 2)
    end

    local shown = visible ~= false
    local cx, cy, blink = 1, 1, false
    local fg, bg = colors.white, colors.black
    local rows = {} -- rows[i] = { text, fg, bg }
    local palette = {}

    local blank, blanks -- a row of spaces; rows of one blit colour by colour value
    local function makeBlanks(w)
        blank = rep(" ", w)
        blanks = {}
        for colour, c in pairs(hex) do blanks[colour] = rep(c, w) end
    end
    makeBlanks(width)

    local function emptyRow()
        return { blank, blanks[fg], blanks[bg] }
    end

    for i = 1, height do rows[i] = emptyRow() end
    for i = 0, 15 do palette[1 << i] = { parent.getPaletteColour(1 << i) } end

    -- Drawing through the parent.
    local function placeCursor()
        if cx >= 1 and cy >= 1 and cx <= width and cy <= height then
            parent.setCursorPos(x + cx - 1, y + cy - 1)
        else
            parent.setCursorPos(0, 0)
        end
    end

    local function drawRow(i)
        local row = rows[i]
        parent.setCursorPos(x, y + i - 1)
        parent.blit(row[1], row[2], row[3])
    end

    local function drawAll()
        for i = 1, height do drawRow(i) end
    end

    local function restore()
        parent.setCursorBlink(blink)
        parent.setTextColour(fg)
        placeCursor()
    end

    -- Puts text (with its colour strings) at the cursor, clipped to the window.
    local function put(text, tfg, tbg)
        local first, last = cx, cx + #text - 1
        if cy >= 1 and cy <= height and first <= width and last >= 1 then
            local row = rows[cy]
            if first == 1 and last == width then
                row[1], row[2], row[3] = text, tfg, tbg
            else
                local from, to = 1, #text
                if first < 1 then from = 2 - first end
                if last > width then to = width - first + 1 end
                local left, right = math.max(first, 1), math.min(last, width)
                for k = 1, 3 do
                    local old = row[k]
                    local new = k == 1 and text or k == 2 and tfg or tbg
                    row[k] = sub(old, 1, left - 1) .. sub(new, from, to) .. sub(old, right + 1, width)
                end
            end
            if shown then drawRow(cy) end
        end
        cx = last + 1
        if shown then
            parent.setTextColour(fg)
            placeCursor()
        end
    end

    local w = {}

    function w.write(text)
        text = tostring(text)
        put(text, rep(hex[fg], #text), rep(hex[bg], #text))
    end

    function w.blit(text, tfg, tbg)
        if type(text) ~= "string" then expect(1, text, "string") end
        if type(tfg) ~= "string" then expect(2, tfg, "string") end
        if type(tbg) ~= "string" then expect(3, tbg, "string") end
        if #tfg ~= #text or #tbg ~= #text then error("Arguments must be the same length", 2) end
        put(text, lower(tfg), lower(tbg))
    end

    function w.clear()
        for i = 1, height do rows[i] = emptyRow() end
        if shown then
            drawAll()
            parent.setTextColour(fg)
            placeCursor()
        end
    end

    function w.clearLine()
        if cy < 1 or cy > height then return end
        rows[cy] = emptyRow()
        if shown then
            drawRow(cy)
            parent.setTextColour(fg)
            placeCursor()
        end
    end

    function w.getCursorPos() return cx, cy end

    function w.setCursorPos(nx, ny)
        if type(nx) ~= "number" then expect(1, nx, "number") end
        if type(ny) ~= "number" then expect(2, ny, "number") end
        cx, cy = floor(nx), floor(ny)
        if shown then placeCursor() end
    end

    function w.setCursorBlink(on)
        if type(on) ~= "boolean" then expect(1, on, "boolean") end
        blink = on
        if shown then parent.setCursorBlink(blink) end
    end

    function w.getCursorBlink() return blink end

    function w.isColour() return parent.isColour() end
    w.isColor = w.isColour

    function w.setTextColour(colour)
        fg = colourOf(colour)
        if shown then parent.setTextColour(fg) end
    end

    function w.setBackgroundColour(colour)
        bg = colourOf(colour)
    end

    function w.getTextColour() return fg end
    function w.getBackgroundColour() return bg end
    w.setTextColor, w.getTextColor = w.setTextColour, w.getTextColour
    w.setBackgroundColor, w.getBackgroundColor = w.setBackgroundColour, w.getBackgroundColour

    function w.setPaletteColour(colour, r, g, b)
        colour = colourOf(colour)
        local entry
        if type(r) == "number" and g == nil and b == nil then
            local rgb = floor(r)
            entry = { ((rgb >> 16) & 0xff) / 255, ((rgb >> 8) & 0xff) / 255, (rgb & 0xff) / 255 }
            palette[colour] = entry
        else
            if type(r) ~= "number" then expect(2, r, "number") end
            if type(g) ~= "number" then expect(3, g, "number") end
            if type(b) ~= "number" then expect(4, b, "number") end
            entry = palette[colour]
            entry[1], entry[2], entry[3] = r, g, b
        end
        if shown then return parent.setPaletteColour(colour, entry[1], entry[2], entry[3]) end
    end

    function w.getPaletteColour(colour)
        local entry = palette[colourOf(colour)]
        return entry[1], entry[2], entry[3]
    end
    w.setPaletteColor, w.getPaletteColor = w.setPaletteColour, w.getPaletteColour

    function w.getSize() return width, height end

    function w.scroll(n)
        if type(n) ~= "number" then expect(1, n, "number") end
        if n == 0 then return end
        local moved = {}
        for i = 1, height do
            moved[i] = rows[i + n] or emptyRow()
        end
        rows = moved
        if shown then
            drawAll()
            parent.setTextColour(fg)
            placeCursor()
        end
    end

    function w.getLine(line)
        if type(line) ~= "number" then expect(1, line, "number") end
        if line < 1 or line > height then error("Line is out of range.", 2) end
        local row = rows[line]
        return row[1], row[2], row[3]
    end

    function w.setVisible(on)
        if type(on) ~= "boolean" then expect(1, on, "boolean") end
        if shown == on then return end
        shown = on
        if shown then w.redraw() end
    end

    function w.isVisible() return shown end

    function w.redraw()
        if not shown then return end
        drawAll()
        for colour, entry in pairs(palette) do
            parent.setPaletteColour(colour, entry[1], entry[2], entry[3])
        end
        restore()
    end

    function w.restoreCursor()
        if shown then restore() end
    end

    function w.getPosition() return x, y end

    function w.reposition(nx, ny, nwidth, nheight, nparent)
        if type(nx) ~= "number" then expect(1, nx, "number") end
        if type(ny) ~= "number" then expect(2, ny, "number") end
        if nwidth ~= nil or nheight ~= nil then
            expect(3, nwidth, "number")
            expect(4, nheight, "number")
        end
        if nparent ~= nil and type(nparent) ~= "table" then expect(5, nparent, "table") end
        x, y = nx, ny
        if nparent then parent = nparent end
        if nwidth and nheight then
            local oldWidth = width
            makeBlanks(nwidth)
            local resized = {}
            for i = 1, nheight do
                local row = rows[i]
                if not row then
                    resized[i] = emptyRow()
                elseif nwidth <= oldWidth then
                    resized[i] = { sub(row[1], 1, nwidth), sub(row[2], 1, nwidth), sub(row[3], 1, nwidth) }
                else
                    local extra = nwidth - oldWidth
                    resized[i] = { row[1] .. rep(" ", extra), row[2] .. rep(hex[fg], extra), row[3] .. rep(hex[bg], extra) }
                end
            end
            width, height, rows = nwidth, nheight, resized
        end
        if shown then w.redraw() end
    end

    if shown then w.redraw() end
    return w
end

return window
