--- Text helpers, as CC:Tweaked's cc.strings module has them: `wrap` (words into lines of a
-- width), `ensure_width` (cut or pad a line) and `split`.

local expect = require("cc.expect").expect
local sub, match, find, rep = string.sub, string.match, string.find, string.rep

--- Cuts `text` into lines of at most `width` (the terminal's width by default), breaking at
-- spaces where it can and inside words longer than a line.
local function wrap(text, width)
    expect(1, text, "string")
    expect(2, width, "number", "nil")
    width = width or term.getSize()
    local lines, line = {}, ""
    local function flush()
        lines[#lines + 1] = line
        line = ""
    end
    local pos = 1
    while pos <= #text do
        local c = sub(text, pos, pos)
        if c == "\n" then
            flush()
            pos = pos + 1
        elseif c == " " or c == "\t" then
            local blank = match(text, "^[ \t]+", pos)
            line = line .. blank
            pos = pos + #blank
        else
            local word = match(text, "^[^ \t\n]+", pos)
            pos = pos + #word
            if #word > width then
                -- Longer than a line: as much as fits on this one, the rest on the next ones.
                while #word > 0 do
                    local room = width - #line - 1
                    if room <= 0 then
                        flush()
                        room = width
                    end
                    line = line .. sub(word, 1, room)
                    word = sub(word, room + 1)
                end
            else
                if width - #line < #word then flush() end
                line = line .. word
            end
        end
    end
    flush()
    for i = 1, #lines do lines[i] = sub(lines[i], 1, width) end
    return lines
end

--- `line` cut or padded with spaces to exactly `width` (the terminal's width by default).
local function ensure_width(line, width)
    expect(1, line, "string")
    expect(2, width, "number", "nil")
    width = width or term.getSize()
    line = sub(line, 1, width)
    if #line < width then line = line .. rep(" ", width - #line) end
    return line
end

--- The parts of `str` between occurrences of `deliminator` (a pattern unless `plain`), at most
-- `limit` of them (the last holding the rest).
local function split(str, deliminator, plain, limit)
    expect(1, str, "string")
    expect(2, deliminator, "string")
    expect(3, plain, "boolean", "nil")
    expect(4, limit, "number", "nil")
    local parts, pos = {}, 1
    while not limit or #parts < limit - 1 do
        local first, last = find(str, deliminator, pos, plain)
        if not first then break end
        if last < first then error("separator is empty", 2) end
        parts[#parts + 1] = sub(str, pos, first - 1)
        pos = last + 1
    end
    parts[#parts + 1] = sub(str, pos)
    return parts
end

return { wrap = wrap, ensure_width = ensure_width, split = split }
