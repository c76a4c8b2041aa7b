--- A pretty printer (Wadler's "prettier printer"), as CC:Tweaked's cc.pretty module has it:
-- documents built from text, lines, nesting and groups, rendered to a string or the terminal at a
-- width, and `pretty(value)`, a document showing any Lua value (tables as `{ 1, 2, a = 3 }`, broken
-- over indented lines when they do not fit).
--
-- A document is a table with the Doc metatable: `tag` names its kind ("nil", "text", "line",
-- "concat", "nest", "group"). Documents concatenate with `..` (strings become text).

local expect = require("cc.expect")
local expect, field = expect.expect, expect.field
local type, getmetatable, setmetatable, tostring, select = type, getmetatable, setmetatable, tostring, select
local rep, concat_strings, floor, min = string.rep, table.concat, math.floor, math.min

local Doc = { __name = "doc" }

local function doc(t) return setmetatable(t, Doc) end

--- The empty document.
local empty = doc({ tag = "nil" })
--- A single space.
local space = doc({ tag = "text", text = " " })
--- A line break, or nothing when its group fits on one line.
local line = doc({ tag = "line", flat = "" })
--- A line break, or a space when its group fits on one line.
local space_line = doc({ tag = "line", flat = " " })

local function is_doc(v) return getmetatable(v) == Doc end

--- Text in an optional colour. Newlines in it become line breaks.
local function text(s, colour)
    expect(1, s, "string")
    expect(2, colour, "number", "nil")
    if not s:find("\n", 1, true) then return doc({ tag = "text", text = s, colour = colour }) end
    local parts, n = {}, 0
    for piece, nl in s:gmatch("([^\n]*)(\n?)") do
        if piece ~= "" then
            n = n + 1
            parts[n] = doc({ tag = "text", text = piece, colour = colour })
        end
        if nl ~= "" then
            n = n + 1
            parts[n] = line
        end
    end
    parts.tag, parts.n = "concat", n
    return doc(parts)
end

--- Documents one after another (strings become text).
local function concat(...)
    local parts, n = { tag = "concat" }, 0
    for i = 1, select("#", ...) do
        local d = select(i, ...)
        if type(d) == "string" then d = text(d) end
        if not is_doc(d) then expect(i, d, "document") end
        if d.tag ~= "nil" then
            n = n + 1
            parts[n] = d
        end
    end
    parts.n = n
    return doc(parts)
end

Doc.__concat = concat

--- `d` with its line breaks indented `depth` spaces more.
local function nest(depth, d)
    expect(1, depth, "number")
    if not is_doc(d) then expect(2, d, "document") end
    if depth <= 0 then error("depth must be a positive number", 2) end
    return doc({ tag = "nest", depth = depth, d })
end

--- `d` on one line (its line breaks flattened) if it fits, else as it is.
local function group(d)
    if not is_doc(d) then expect(1, d, "document") end
    if d.tag == "group" then return d end
    return doc({ tag = "group", d })
end

-- How much of `room` is left once `d` is laid out flat (negative: it does not fit).
local function remaining(d, room)
    local tag = d.tag
    if room < 0 then return room end
    if tag == "text" then return room - #d.text
    elseif tag == "line" then return room - #d.flat
    elseif tag == "concat" then
        for i = 1, d.n do
            room = remaining(d[i], room)
            if room < 0 then break end
        end
        return room
    elseif tag == "nest" or tag == "group" then return remaining(d[1], room)
    end
    return room
end

-- Lays `d` out, calling emit(text, colour) for text and emit(nil, indent) for a line break.
local function layout(d, width, ribbon, emit, start)
    local function go(d, indent, col, flat)
        local tag = d.tag
        if tag == "text" then
            emit(d.text, d.colour)
            return col + #d.text
        elseif tag == "line" then
            if flat then
                if d.flat ~= "" then emit(d.flat) end
                return col + #d.flat
            end
            emit(nil, indent)
            return indent
        elseif tag == "concat" then
            for i = 1, d.n do col = go(d[i], indent, col, flat) end
            return col
        elseif tag == "nest" then
            return go(d[1], indent + d.depth, col, flat)
        elseif tag == "group" then
            if flat or not width then return go(d[1], indent, col, true) end
            local fits = remaining(d[1], min(width, ribbon + indent) - col) >= 0
            return go(d[1], indent, col, fits)
        end
        return col
    end
    go(d, 0, start or 0, false)
end

local function ribbon_of(width, frac)
    if not width then return nil end
    local r = (frac or 0.6) * width
    if r < 0 then r = 0 end
    if r > width then r = width end
    return r
end

--- The document as a string, laid out for `width` (no limit when nil).
local function render(d, width, ribbon_frac)
    if not is_doc(d) then expect(1, d, "document") end
    expect(2, width, "number", "nil")
    expect(3, ribbon_frac, "number", "nil")
    local out, n = {}, 0
    layout(d, width, ribbon_of(width, ribbon_frac), function(s, extra)
        n = n + 1
        if s then out[n] = s else out[n] = "\n" .. rep(" ", extra) end
    end)
    return concat_strings(out, "", 1, n)
end

Doc.__tostring = function(d) return render(d) end

--- Draws the document on the terminal at the cursor, in its colours.
local function write(d, ribbon_frac)
    if not is_doc(d) then expect(1, d, "document") end
    expect(2, ribbon_frac, "number", "nil")
    local width = term.getSize()
    local default = term.getTextColour()
    local x = term.getCursorPos()
    layout(d, width, ribbon_of(width, ribbon_frac), function(s, extra)
        if s then
            term.setTextColour(extra or default)
            term.write(s)
        else
            _G.write("\n")
            if extra > 0 then term.write(rep(" ", extra)) end
        end
    end, math.max(x - 1, 0))
    term.setTextColour(default)
end

--- Draws the document, then a newline.
local function print(d, ribbon_frac)
    if not is_doc(d) then expect(1, d, "document") end
    expect(2, ribbon_frac, "number", "nil")
    write(d, ribbon_frac)
    _G.write("\n")
end

local keywords = {}
for w in ("and break do else elseif end false for function if in local nil not or repeat return then true until while"):gmatch("%a+") do
    keywords[w] = true
end

-- Keys in order: strings first (alphabetically), then numbers, then the rest as found.
local function key_before(a, b)
    local ta, tb = type(a), type(b)
    if ta == "string" then return tb ~= "string" or a < b end
    if tb == "string" then return false end
    if ta == "number" then return tb ~= "number" or a < b end
    return false
end

local function show_function(fn, options)
    local info = debug and debug.getinfo and debug.getinfo(fn, "Su")
    local name = tostring(fn)
    if options.function_source and info and info.short_src and info.linedefined and info.linedefined >= 1 then
        name = "function<" .. info.short_src .. ":" .. info.linedefined .. ">"
    end
    if options.function_args and info and info.what == "Lua" and info.nparams and debug.getlocal then
        local args = {}
        for i = 1, info.nparams do args[i] = debug.getlocal(fn, i) or "?" end
        if info.isvararg then args[#args + 1] = "..." end
        name = name .. "(" .. concat_strings(args, ", ") .. ")"
    end
    return name
end

local function show(value, options, seen)
    local t = type(value)
    if t == "string" then
        return text((("%q"):format(value):gsub("\\\n", "\\n")), colours.red)
    elseif t == "number" then
        return text(tostring(value), colours.magenta)
    elseif t == "function" then
        return text(show_function(value, options), colours.lightGrey)
    elseif t ~= "table" or seen[value] then
        return text(tostring(value), colours.lightGrey)
    end
    local mt = getmetatable(value)
    if mt ~= nil and type(mt) == "table" and mt.__tostring then return text(tostring(value)) end
    if next(value) == nil then return text("{}") end

    seen[value] = true
    local items, n = { space_line }, 1
    local function add(d)
        n = n + 1
        items[n] = d
    end
    local length = #value
    for i = 1, length do
        if i > 1 then
            add(text(","))
            add(space_line)
        end
        add(show(value[i], options, seen))
    end
    local keys = {}
    for k in pairs(value) do
        if type(k) ~= "number" or k % 1 ~= 0 or k < 1 or k > length then keys[#keys + 1] = k end
    end
    table.sort(keys, key_before)
    for i, k in ipairs(keys) do
        if i > 1 or length >= 1 then
            add(text(","))
            add(space_line)
        end
        if type(k) == "string" and not keywords[k] and k:match("^[%a_][%a%d_]*$") then
            add(text(k .. " = "))
        else
            add(text("["))
            add(show(k, options, seen))
            add(text("] = "))
        end
        add(show(value[k], options, seen))
    end
    seen[value] = nil
    return group(concat(text("{"), nest(2, concat(table.unpack(items, 1, n))), space_line, text("}")))
end

--- A document showing any Lua value.
local function pretty(value, options)
    expect(2, options, "table", "nil")
    options = options or {}
    return show(value, {
        function_source = field(options, "function_source", "boolean", "nil") or false,
        function_args = field(options, "function_args", "boolean", "nil") or false,
    }, {})
end

--- pretty, then print.
local function pretty_print(value, options, ribbon_frac)
    expect(2, options, "table", "nil")
    expect(3, ribbon_frac, "number", "nil")
    return print(pretty(value, options or {}), ribbon_frac)
end

return {
    empty = empty, space = space, line = line, space_line = space_line,
    text = text, concat = concat, nest = nest, group = group,
    write = write, print = print, render = render,
    pretty = pretty, pretty_print = pretty_print,
}
