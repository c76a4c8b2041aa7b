-- Craft: CraftOS-compatible `textutils` library (non-terminal subset).
--
-- Pure Lua 5.4. The chunk returns the library table. Only standard Lua
-- globals are used and they are captured as locals when the chunk runs, so
-- the host may load this with a restricted environment.
--
-- Behaviour follows CC: Tweaked's textutils (serialise, JSON, urlEncode,
-- formatTime). Terminal-drawing helpers (slowWrite, pagedPrint, tabulate, ...)
-- are intentionally not provided here.

local type, pairs, next, tostring, tonumber = type, pairs, next, tostring, tonumber
local error, pcall, select, load = error, pcall, select, load
local setmetatable, getmetatable, rawget, rawequal = setmetatable, getmetatable, rawget, rawequal

local s_format, s_byte, s_char = string.format, string.byte, string.char
local s_sub, s_find, s_match, s_gsub = string.sub, string.find, string.match, string.gsub
local t_concat = table.concat
local m_floor, m_type, HUGE = math.floor, math.type, math.huge
local u_char, u_codes = utf8.char, utf8.codes

local textutils = {}

---------------------------------------------------------------------------
-- Argument checking, worded like CraftOS's cc.expect.
---------------------------------------------------------------------------

local function describe_types(...)
    local names, count = {}, 0
    for i = 1, select("#", ...) do
        local name = select(i, ...)
        if name ~= "nil" then
            count = count + 1
            names[count] = name
        end
    end
    if count == 0 then return "nil" end
    if count == 1 then return names[1] end
    return t_concat(names, ", ", 1, count - 1) .. " or " .. names[count]
end

local function shown_type(value)
    local ty = type(value)
    if ty == "table" then
        local mt = getmetatable(value)
        if type(mt) == "table" then
            local name = rawget(mt, "__name")
            if type(name) == "string" then return name end
        end
    end
    return ty
end

-- Raises at the caller of the public function (level 3 from here).
local function want_arg(fname, index, value, ...)
    local ty = type(value)
    for i = 1, select("#", ...) do
        if select(i, ...) == ty then return value end
    end
    error(s_format("bad argument #%d to '%s' (%s expected, got %s)",
        index, fname, describe_types(...), shown_type(value)), 3)
end

local function want_field(tbl, key, ...)
    local value = tbl[key]
    local ty = type(value)
    for i = 1, select("#", ...) do
        if select(i, ...) == ty then return value end
    end
    if value == nil then
        error(s_format("field '%s' missing from table", key), 3)
    end
    error(s_format("bad field '%s' (%s expected, got %s)", key, describe_types(...), shown_type(value)), 3)
end

---------------------------------------------------------------------------
-- Value formatting helpers shared by serialise and JSON.
---------------------------------------------------------------------------

-- Numbers are printed the way CraftOS's tostring prints them: floats use
-- "%.14g" with no trailing ".0" (CC has no visible integer/float split),
-- NaN/infinity as "nan"/"inf"/"-inf". Lua 5.4 integers are printed exactly.
local function number_text(n)
    if m_type(n) == "integer" then return s_format("%d", n) end
    if n ~= n then return "nan" end
    if n == HUGE then return "inf" end
    if n == -HUGE then return "-inf" end
    if n == 0 then return "0" end -- CC prints -0.0 as "0"
    return s_format("%.14g", n)
end

-- CraftOS's string.format("%q"): only '"', '\\', newline, carriage return and
-- NUL are escaped; every other byte is written as-is.
local quote_escapes = {
    ['"'] = '\\"',
    ["\\"] = "\\\\",
    ["\n"] = "\\\n",
    ["\r"] = "\\r",
    ["\0"] = "\\000",
}
local function quote(s)
    return '"' .. (s_gsub(s, '["\\\n\r\0]', quote_escapes)) .. '"'
end

---------------------------------------------------------------------------
-- serialise / unserialise
---------------------------------------------------------------------------

local reserved_words = {}
for word in ("and break do else elseif end false for function if in local nil not or repeat return then true until while")
    :gmatch("%a+") do
    reserved_words[word] = true
end

local pretty_layout = { open = "{\n", step = "  ", key_open = "[ ", key_close = " ] = ", assign = " = ", sep = ",\n" }
local compact_layout = { open = "{", step = "", key_open = "[", key_close = "]=", assign = "=", sep = "," }

local function table_state_error(mark)
    if mark == false then
        error("Cannot serialize table with repeated entries", 0)
    end
    error("Cannot serialize table with recursive entries", 0)
end

local write_lua

local function write_lua_table(tbl, ctx, indent, out)
    local mark = ctx.visiting[tbl]
    if mark ~= nil then table_state_error(mark) end
    ctx.visiting[tbl] = true

    if next(tbl) == nil then
        out[#out + 1] = "{}"
    else
        local layout = ctx.layout
        local inner = ctx.compact and "" or indent .. layout.step
        out[#out + 1] = layout.open

        -- Sequence part first, read raw so metatables do not interfere.
        local last = 0
        while true do
            local item = rawget(tbl, last + 1)
            if item == nil then break end
            last = last + 1
            out[#out + 1] = inner
            write_lua(item, ctx, inner, out)
            out[#out + 1] = layout.sep
        end

        -- Everything else, in raw traversal order.
        for key, item in next, tbl do
            local in_sequence = m_type(key) == "integer" and key >= 1 and key <= last
            if not in_sequence then
                out[#out + 1] = inner
                if type(key) == "string" and not reserved_words[key] and s_find(key, "^[%a_][%a%d_]*$") then
                    out[#out + 1] = key
                    out[#out + 1] = layout.assign
                else
                    out[#out + 1] = layout.key_open
                    write_lua(key, ctx, inner, out)
                    out[#out + 1] = layout.key_close
                end
                write_lua(item, ctx, inner, out)
                out[#out + 1] = layout.sep
            end
        end

        out[#out + 1] = (ctx.compact and "" or indent) .. "}"
    end

    if ctx.allow_repetitions then
        ctx.visiting[tbl] = nil
    else
        ctx.visiting[tbl] = false
    end
end

write_lua = function(value, ctx, indent, out)
    local ty = type(value)
    if ty == "table" then
        write_lua_table(value, ctx, indent, out)
    elseif ty == "string" then
        out[#out + 1] = quote(value)
    elseif ty == "number" then
        if value ~= value then
            out[#out + 1] = "0/0"
        elseif value == HUGE then
            out[#out + 1] = "1/0"
        elseif value == -HUGE then
            out[#out + 1] = "-1/0"
        else
            out[#out + 1] = number_text(value)
        end
    elseif ty == "boolean" or ty == "nil" then
        out[#out + 1] = tostring(value)
    else
        error("Cannot serialize type " .. ty, 0)
    end
end

function textutils.serialize(value, opts)
    want_arg("serialize", 2, opts, "table", "nil")
    local compact, allow_repetitions = false, false
    if opts then
        compact = want_field(opts, "compact", "boolean", "nil") or false
        allow_repetitions = want_field(opts, "allow_repetitions", "boolean", "nil") or false
    end
    local ctx = {
        visiting = {},
        compact = compact,
        allow_repetitions = allow_repetitions,
        layout = compact and compact_layout or pretty_layout,
    }
    local out = {}
    write_lua(value, ctx, "", out)
    return t_concat(out)
end
textutils.serialise = textutils.serialize

function textutils.unserialize(s)
    want_arg("unserialize", 1, s, "string")
    local fn = load("return " .. s, "unserialize", "t", {})
    if fn then
        local ok, result = pcall(fn)
        if ok then return result end
    end
    return nil
end
textutils.unserialise = textutils.unserialize

---------------------------------------------------------------------------
-- JSON sentinels
---------------------------------------------------------------------------

local function make_sentinel(text, name)
    local message = "attempt to mutate textutils." .. name
    return setmetatable({}, {
        __newindex = function() error(message, 2) end,
        __tostring = function() return text end,
    })
end

local empty_json_array = make_sentinel("[]", "empty_json_array")
local json_null = make_sentinel("null", "json_null")
textutils.empty_json_array = empty_json_array
textutils.json_null = json_null

---------------------------------------------------------------------------
-- JSON output
---------------------------------------------------------------------------

-- Byte -> escape for the default (8-bit) string mode: the usual short escapes,
-- other control characters and every byte >= 0x7F as \u00XX.
local json_byte_escapes = {
    ['"'] = '\\"',
    ["\\"] = "\\\\",
    ["\b"] = "\\b",
    ["\f"] = "\\f",
    ["\n"] = "\\n",
    ["\r"] = "\\r",
    ["\t"] = "\\t",
}
for b = 0, 0x1F do
    local c = s_char(b)
    if not json_byte_escapes[c] then json_byte_escapes[c] = s_format("\\u%04X", b) end
end
for b = 0x7F, 0xFF do
    json_byte_escapes[s_char(b)] = s_format("\\u%04X", b)
end

local function json_string(s, unicode)
    if unicode and s_find(s, "[\128-\255]") then
        local parts, n = { '"' }, 1
        for _, cp in u_codes(s) do
            local piece
            if cp >= 0x10000 then
                local v = cp - 0x10000
                piece = s_format("\\u%04X\\u%04X", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF))
            elseif cp < 0x80 and json_byte_escapes[s_char(cp)] then
                piece = json_byte_escapes[s_char(cp)]
            elseif cp >= 0x7F then
                piece = s_format("\\u%04X", cp)
            else
                piece = s_char(cp)
            end
            n = n + 1
            parts[n] = piece
        end
        parts[n + 1] = '"'
        return t_concat(parts)
    end
    return '"' .. (s_gsub(s, '[\0-\31"\\\127-\255]', json_byte_escapes)) .. '"'
end

local write_json

local function write_json_table(tbl, ctx)
    local mark = ctx.visiting[tbl]
    if mark ~= nil then table_state_error(mark) end
    ctx.visiting[tbl] = true

    local result
    if next(tbl) == nil then
        result = "{}"
    else
        local fields, field_count = {}, 0
        local highest = 0
        for key, item in pairs(tbl) do
            local kt = type(key)
            if kt == "string" then
                local name = ctx.nbt_style and key or json_string(key, ctx.unicode)
                field_count = field_count + 1
                fields[field_count] = name .. ":" .. write_json(item, ctx)
            elseif kt == "number" and key > highest and key < HUGE then
                highest = key
            end
            -- Keys of any other type are dropped, as in CraftOS.
        end

        -- Array part runs up to the highest numeric key, with holes as null.
        local items, item_count = {}, 0
        for i = 1, highest do
            local item = tbl[i]
            item_count = item_count + 1
            if item == nil then
                items[item_count] = "null"
            else
                items[item_count] = write_json(item, ctx)
            end
        end

        if field_count > 0 or item_count == 0 then
            result = "{" .. t_concat(fields, ",") .. "}"
        else
            result = "[" .. t_concat(items, ",") .. "]"
        end
    end

    if ctx.allow_repetitions then
        ctx.visiting[tbl] = nil
    else
        ctx.visiting[tbl] = false
    end
    return result
end

write_json = function(value, ctx)
    if rawequal(value, empty_json_array) then return "[]" end
    if rawequal(value, json_null) then return "null" end
    local ty = type(value)
    if ty == "table" then
        return write_json_table(value, ctx)
    elseif ty == "string" then
        return json_string(value, ctx.unicode)
    elseif ty == "number" then
        return number_text(value)
    elseif ty == "boolean" then
        return tostring(value)
    end
    error("Cannot serialize type " .. ty, 0)
end

function textutils.serializeJSON(value, options)
    want_arg("serializeJSON", 1, value, "table", "string", "number", "boolean")
    want_arg("serializeJSON", 2, options, "table", "boolean", "nil")
    local ctx = { visiting = {} }
    if type(options) == "boolean" then
        ctx.nbt_style = options
    elseif type(options) == "table" then
        ctx.nbt_style = want_field(options, "nbt_style", "boolean", "nil")
        ctx.unicode = want_field(options, "unicode_strings", "boolean", "nil")
        ctx.allow_repetitions = want_field(options, "allow_repetitions", "boolean", "nil")
    end
    return write_json(value, ctx)
end
textutils.serialiseJSON = textutils.serializeJSON

---------------------------------------------------------------------------
-- JSON input
---------------------------------------------------------------------------

local ParseFailure = {}

local function fail(pos, msg)
    error(setmetatable({ pos = pos, msg = msg }, ParseFailure), 0)
end

local function fail_expected(pos, found, wanted)
    local shown = found == "" and "end of input" or quote(found)
    fail(pos, "Unexpected " .. shown .. ", expected " .. wanted .. ".")
end

local simple_escapes = {
    b = "\b", f = "\f", n = "\n", r = "\r", t = "\t",
    ['"'] = '"', ["/"] = "/", ["\\"] = "\\",
}

local nbt_number_suffix = { b = true, B = true, s = true, S = true, l = true, L = true, f = true, F = true, d = true, D = true }
local nbt_array_prefix = { I = true, L = true, B = true }

local function skip_space(str, pos)
    local _, last = s_find(str, "^[ \n\r\t]+", pos)
    if last then return last + 1 end
    return pos
end

-- Reads the body of a string literal; `pos` is just after the opening quote.
-- Returns the decoded string and the position after the closing quote.
local function read_string(str, pos, closer)
    local plain = closer == "'" and "^[^\0-\31'\\]+" or '^[^\0-\31"\\]+'
    local parts, n = {}, 0
    while true do
        local c = s_sub(str, pos, pos)
        if c == "" then
            fail(pos, "Unexpected end of input, expected '\"'.")
        elseif c == closer then
            break
        elseif c == "\\" then
            local esc = s_sub(str, pos + 1, pos + 1)
            if esc == "" then
                fail(pos, "Unexpected end of input, expected escape sequence.")
            elseif esc == "u" then
                local hex = s_match(str, "^%x%x%x%x", pos + 2)
                if not hex then
                    fail(pos, "Malformed unicode escape " .. quote(s_sub(str, pos + 2, pos + 5)) .. ".")
                end
                local cp = tonumber(hex, 16)
                pos = pos + 6
                -- Join a UTF-16 surrogate pair into one code point.
                if cp >= 0xD800 and cp <= 0xDBFF then
                    local low = s_match(str, "^\\u(%x%x%x%x)", pos)
                    local low_cp = low and tonumber(low, 16)
                    if low_cp and low_cp >= 0xDC00 and low_cp <= 0xDFFF then
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (low_cp - 0xDC00)
                        pos = pos + 6
                    end
                end
                n = n + 1
                parts[n] = u_char(cp)
            else
                local out = simple_escapes[esc]
                if not out then
                    fail(pos + 1, "Unknown escape character " .. quote(esc) .. ".")
                end
                n = n + 1
                parts[n] = out
                pos = pos + 2
            end
        elseif s_byte(c) >= 0x20 then
            local _, last = s_find(str, plain, pos)
            n = n + 1
            parts[n] = s_sub(str, pos, last)
            pos = last + 1
        else
            fail(pos + 1, "Unescaped whitespace " .. quote(c) .. ".")
        end
    end
    return t_concat(parts, "", 1, n), pos + 1
end

local function read_number(str, pos, opts)
    local _, last, text = s_find(str, "^(-?%d+%.?%d*[eE]?[+-]?%d*)", pos)
    local value = text and tonumber(text)
    if not value then
        fail(pos, "Malformed number " .. quote(text or s_match(str, "^-?[%w%.%+%-]*", pos)) .. ".")
    end
    if opts.nbt_style and nbt_number_suffix[s_sub(str, last + 1, last + 1)] then
        return value, last + 2
    end
    return value, last + 1
end

local read_value

local function read_object(str, pos, opts)
    local obj = {}
    pos = skip_space(str, pos + 1)
    local c = s_sub(str, pos, pos)
    if c == "" then fail(pos, "Unexpected end of input, expected '}'.") end
    if c == "}" then return obj, pos + 1 end

    while true do
        local key
        if c == '"' then
            key, pos = read_string(str, pos + 1, '"')
        elseif opts.nbt_style and s_find(str, "^%a", pos) then
            local _, last = s_find(str, "^%a[%w_]*", pos)
            key, pos = s_sub(str, pos, last), last + 1
        else
            fail_expected(pos, c, "object key")
        end

        pos = skip_space(str, pos)
        c = s_sub(str, pos, pos)
        if c ~= ":" then fail_expected(pos, c, "':'") end

        local value
        value, pos = read_value(str, skip_space(str, pos + 1), opts)
        obj[key] = value

        pos = skip_space(str, pos)
        c = s_sub(str, pos, pos)
        if c == "}" then break end
        if c ~= "," then fail_expected(pos, c, "',' or '}'") end
        pos = skip_space(str, pos + 1)
        c = s_sub(str, pos, pos)
    end
    return obj, pos + 1
end

local function read_array(str, pos, opts)
    local arr, n = {}, 0
    pos = skip_space(str, pos + 1)
    local c = s_sub(str, pos, pos)

    if opts.nbt_style and nbt_array_prefix[c] and s_sub(str, pos + 1, pos + 1) == ";" then
        pos = skip_space(str, pos + 2)
        c = s_sub(str, pos, pos)
    end

    if c == "" then fail_expected(pos, c, "']'") end
    if c == "]" then
        if opts.parse_empty_array ~= false then return empty_json_array, pos + 1 end
        return {}, pos + 1
    end

    while true do
        n = n + 1
        arr[n], pos = read_value(str, pos, opts)

        pos = skip_space(str, pos)
        c = s_sub(str, pos, pos)
        if c == "]" then break end
        if c ~= "," then fail_expected(pos, c, "',' or ']'") end
        pos = skip_space(str, pos + 1)
    end
    return arr, pos + 1
end

read_value = function(str, pos, opts)
    local c = s_sub(str, pos, pos)
    if c == '"' then
        return read_string(str, pos + 1, '"')
    elseif c == "'" and opts.nbt_style then
        return read_string(str, pos + 1, "'")
    elseif c == "-" or (c >= "0" and c <= "9" and c ~= "") then
        return read_number(str, pos, opts)
    elseif c == "{" then
        return read_object(str, pos, opts)
    elseif c == "[" then
        return read_array(str, pos, opts)
    elseif c == "t" then
        if s_sub(str, pos + 1, pos + 3) == "rue" then return true, pos + 4 end
    elseif c == "f" then
        if s_sub(str, pos + 1, pos + 4) == "alse" then return false, pos + 5 end
    elseif c == "n" then
        if s_sub(str, pos + 1, pos + 3) == "ull" then
            if opts.parse_null then return json_null, pos + 4 end
            return nil, pos + 4
        end
    elseif c == "" then
        fail(pos, "Unexpected end of input.")
    end
    fail(pos, "Unexpected character " .. quote(c) .. ".")
end

function textutils.unserializeJSON(s, options)
    want_arg("unserializeJSON", 1, s, "string")
    want_arg("unserializeJSON", 2, options, "table", "nil")
    local opts
    if options then
        opts = {
            nbt_style = want_field(options, "nbt_style", "boolean", "nil"),
            parse_null = want_field(options, "parse_null", "boolean", "nil"),
            parse_empty_array = want_field(options, "parse_empty_array", "boolean", "nil"),
        }
    else
        opts = {}
    end

    local ok, value, pos = pcall(read_value, s, skip_space(s, 1), opts)
    if not ok then
        if type(value) == "table" and getmetatable(value) == ParseFailure then
            return nil, s_format("Malformed JSON at position %d: %s", value.pos, value.msg)
        end
        error(value, 0)
    end

    pos = skip_space(s, pos)
    if pos <= #s then
        return nil, s_format("Malformed JSON at position %d: Unexpected trailing character %s.",
            pos, quote(s_sub(s, pos, pos)))
    end
    return value
end
textutils.unserialiseJSON = textutils.unserializeJSON

---------------------------------------------------------------------------
-- urlEncode / formatTime
---------------------------------------------------------------------------

local function url_escape(c)
    if c == " " then return "+" end
    local b = s_byte(c)
    if b < 0x80 then return s_format("%%%02X", b) end
    -- CraftOS treats strings as Latin-1 and re-encodes high bytes as UTF-8.
    return s_format("%%%02X%%%02X", 0xC0 | (b >> 6), 0x80 | (b & 0x3F))
end

function textutils.urlEncode(str)
    want_arg("urlEncode", 1, str, "string")
    str = s_gsub(str, "\n", "\r\n")
    return (s_gsub(str, "[^A-Za-z0-9%-_%.]", url_escape))
end

function textutils.formatTime(time, twenty_four_hour)
    want_arg("formatTime", 1, time, "number")
    want_arg("formatTime", 2, twenty_four_hour, "boolean", "nil")
    local suffix
    if not twenty_four_hour then
        suffix = time >= 12 and "PM" or "AM"
        if time >= 13 then time = time - 12 end
    end
    local hour = m_floor(time)
    local minute = m_floor((time - hour) * 60)
    if suffix then
        return s_format("%d:%02d %s", hour == 0 and 12 or hour, minute, suffix)
    end
    return s_format("%d:%02d", hour, minute)
end

return textutils
