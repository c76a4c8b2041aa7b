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

-- Optional chunk arguments: the host's JSON natives (Apis/Json.cs: serialize, parse) and a
-- wrapper for the Lua JSON reader when it runs (the BIOS turns the watchdog's hook off in it).
-- Without them (plain Lua, tests/lua-unit) the Lua versions do everything.
local n_json, wrap_parse = ...
local n_serialize = n_json and n_json.serialize
local n_parse = n_json and n_json.parse

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

-- A string made only of these bytes (printable ASCII but '"' and '\') is
-- written as '"' .. s .. '"' in either string mode.
local JSON_PLAIN = '^[^\0-\31"\\\127-\255]*$'

-- JSON text of short plain strings, alone and after a ",". Checking a
-- string costs far more than a table lookup, and JSON strings repeat a lot.
-- Bounded: dropped when full.
local QUOTED_MAX, QUOTED_LEN = 1024, 40
local quoted, quoted_next, quoted_size = {}, {}, 0

-- The JSON text of plain string `s` (remembered if short), or nil.
local function quote_plain(s)
    if not s_find(s, JSON_PLAIN) then return nil end
    local text = '"' .. s .. '"'
    if #s <= QUOTED_LEN then
        if quoted_size >= QUOTED_MAX then quoted, quoted_next, quoted_size = {}, {}, 0 end
        quoted[s], quoted_next[s] = text, ',"' .. s .. '"'
        quoted_size = quoted_size + 1
    end
    return text
end

-- Object key pieces for keys that need no escaping (the same in both string
-- modes), as the first member (after the "{") and after a ","; raw keys
-- ('name:') for NBT style. Bounded: dropped when full.
local KEY_CACHE_MAX, KEY_MAX = 1024, 64
local keys_first, keys_next, keys_size = {}, {}, 0
local nbt_first, nbt_next, nbt_size = {}, {}, 0

local function key_text(key, nbt, unicode, first)
    local text
    if nbt then
        text = key .. ":"
        if #key <= KEY_MAX then
            if nbt_size >= KEY_CACHE_MAX then nbt_first, nbt_next, nbt_size = {}, {}, 0 end
            nbt_first[key], nbt_next[key] = "{" .. text, "," .. text
            nbt_size = nbt_size + 1
        end
    elseif s_find(key, JSON_PLAIN) then
        text = '"' .. key .. '":'
        if #key <= KEY_MAX then
            if keys_size >= KEY_CACHE_MAX then keys_first, keys_next, keys_size = {}, {}, 0 end
            keys_first[key], keys_next[key] = "{" .. text, "," .. text
            keys_size = keys_size + 1
        end
    else
        text = json_string(key, unicode) .. ":"
    end
    if first then return "{" .. text end
    return "," .. text
end

-- Number text exactly as number_text gives it.
-- Integers: `..` prints them with the same "%d" format; small ones cached.
local small_ints, two_digits = {}, {}
for i = 0, 255 do small_ints[i] = s_format("%d", i) end
for i = 0, 99 do two_digits[i] = s_format("%02d", i) end

-- Floats: "%.14g" is slow, so
-- * one or two decimals are printed directly: if fl(x * 10^d) is an integer
--   m below 1e14, x is within 2^-53 (relative) of m / 10^d, a number of at
--   most 14 significant digits, which "%.14g" therefore prints exactly (as
--   "[-]int.frac", since 0.01 <= |m / 10^d| < 1e13). Only when the C
--   locale's decimal point is "." (ctx.point, checked once per call).
-- * otherwise `..` prints "%.14g", but adds ".0" when that looks like an
--   integer, which cannot happen for values below 1e9 at least 1e-5 away
--   from an integer (rounding to 14 significant digits moves them by less
--   than 0.5e-5).
-- Floats that are not integers (or NaN).
local function fraction_text(value, ctx)
    local m, scale = value * 10, 10
    if m % 1 ~= 0 then m, scale = value * 100, 100 end
    if m % 1 == 0 and m < 1e14 and m > -1e14 then
        m = m | 0
        local sign = ""
        if m < 0 then sign, m = "-", -m end
        local frac = m % scale
        if frac % 10 ~= 0 then
            local point = ctx.point
            if point == nil then
                point = 0.5 .. "" == "0.5"
                ctx.point = point
            end
            if point then
                local digits = two_digits[frac]
                if scale == 10 then digits = small_ints[frac] end
                m = m // scale
                return sign .. (small_ints[m] or m .. "") .. "." .. digits
            end
        end
    end
    local frac = value % 1
    if frac >= 1e-5 and frac <= 0.99999 and value < 1e9 and value > -1e9 then
        return value .. ""
    end
    return number_text(value)
end

-- Integers and integral floats below 1e14 print the same digits with "%d"
-- and "%.14g" (-0.0 too: "0").
local function json_number(value, ctx)
    if value // 1 ~= value then return fraction_text(value, ctx) end
    if value < 1e14 and value > -1e14 then
        return small_ints[value] or (value | 0) .. ""
    end
    return number_text(value)
end

-- Sentinel tables and their JSON text (a plain lookup: no metamethods run).
local sentinel_json = { [empty_json_array] = "[]", [json_null] = "null" }

-- The writer appends pieces to `out` after index `n` and returns the new last
-- index. `ctx` holds the visiting marks (table keys), the options and the
-- key caches to use (string keys). Nothing is kept in upvalues, since __pairs/__index metamethods may
-- yield or re-enter serializeJSON. Nested tables are written from as few
-- live locals as possible: each level of nesting takes that many slots of
-- the Lua stack.
local write_json_table

-- Writes the piece `sep` ("", "," or an object key), then the value.
local function write_json(value, sep, out, n, ctx)
    local ty = type(value)
    out[n + 1] = sep
    n = n + 2
    if ty == "string" then
        out[n] = quoted[value] or quote_plain(value) or json_string(value, ctx.unicode)
        return n
    elseif ty == "table" then
        local text = sentinel_json[value]
        if text then
            out[n] = text
            return n
        end
        return write_json_table(value, out, n - 1, ctx)
    elseif ty == "number" then
        out[n] = json_number(value, ctx)
        return n
    elseif ty == "boolean" then
        out[n] = tostring(value)
        return n
    end
    error("Cannot serialize type " .. ty, 0)
end

write_json_table = function(tbl, out, n, ctx)
    do
        local mark = ctx[tbl]
        if mark ~= nil then table_state_error(mark) end
    end
    ctx[tbl] = true

    if next(tbl) == nil then
        n = n + 1
        out[n] = "{}"
    else
        -- The first member's key piece starts with the "{"; an array is only
        -- known to be one after all keys are seen.
        local fields, highest = 0, 0
        do
            for key, item in pairs(tbl) do
                if key == highest + 1 then
                    -- The array part: 1, 2, 3, ... As for any number key,
                    -- keep the highest (the test fails on integer wrap-around).
                    if key > highest then highest = key end
                else
                    local ktext
                    if fields == 0 then ktext = ctx.first_keys[key] else ktext = ctx.next_keys[key] end
                    if ktext == nil then
                        local kt = type(key)
                        if kt == "string" then
                            ktext = key_text(key, ctx.nbt, ctx.unicode, fields == 0)
                        elseif kt == "number" and key > highest and key < HUGE then
                            highest = key
                        end
                        -- Keys of any other type are dropped, as in CraftOS.
                    end
                    if ktext then
                        fields = fields + 1
                        local it = quoted[item]
                        if it then
                            out[n + 1] = ktext
                            n = n + 2
                            out[n] = it
                        else
                            it = type(item)
                            if it == "string" then
                                out[n + 1] = ktext
                                n = n + 2
                                out[n] = quote_plain(item) or json_string(item, ctx.unicode)
                            elseif it == "number" then
                                out[n + 1] = ktext
                                n = n + 2
                                out[n] = json_number(item, ctx)
                            elseif it == "table" and not sentinel_json[item] then
                                out[n + 1] = ktext
                                n = write_json_table(item, out, n + 1, ctx)
                            else
                                n = write_json(item, ktext, out, n, ctx)
                            end
                        end
                    end
                end
            end
        end

        if fields > 0 then
            -- An object. Array-part values are still written (and thrown
            -- away) so type and repetition errors match CraftOS.
            if highest >= 1 then
                local keep = n
                for i = 1, highest do
                    local item = tbl[i]
                    if item ~= nil then n = write_json(item, "", out, n, ctx) end
                end
                n = keep
            end
            n = n + 1
            out[n] = "}"
        elseif highest >= 1 then
            -- Array part runs up to the highest numeric key, with holes as null.
            n = n + 1
            out[n] = "["
            for i = 1, highest do
                local item = tbl[i]
                local it
                if i == 1 then
                    it = quoted[item]
                else
                    it = quoted_next[item]
                    if not it then
                        n = n + 1
                        out[n] = ","
                    end
                end
                if it then
                    n = n + 1
                    out[n] = it
                else
                    it = type(item)
                    if it == "string" then
                        n = n + 1
                        out[n] = quote_plain(item) or json_string(item, ctx.unicode)
                    elseif it == "number" then
                        n = n + 1
                        out[n] = json_number(item, ctx)
                    elseif it == "table" and not sentinel_json[item] then
                        n = write_json_table(item, out, n, ctx)
                    elseif item == nil then
                        n = n + 1
                        out[n] = "null"
                    else
                        n = write_json(item, "", out, n, ctx)
                    end
                end
            end
            n = n + 1
            out[n] = "]"
        else
            n = n + 1
            out[n] = "{}"
        end
    end

    if ctx.reps then
        ctx[tbl] = nil
    else
        ctx[tbl] = false
    end
    return n
end

-- One output buffer kept for reuse while results stay small (stale pieces
-- past the end are never read, and hold at most that much text).
local spare_buffer

-- The Lua writer: the reference for the native one, and what runs when that cannot decide.
local function write_json_text(value, nbt, unicode, reps)
    local ctx = { first_keys = keys_first, next_keys = keys_next, nbt = nbt, unicode = unicode, reps = reps }
    if nbt then ctx.first_keys, ctx.next_keys = nbt_first, nbt_next end
    local out = spare_buffer or {}
    spare_buffer = nil
    local n = write_json(value, "", out, 0, ctx)
    local result = t_concat(out, "", 1, n)
    if n <= 4096 and #result <= 65536 then spare_buffer = out end
    return result
end

-- serializeJSON, with the native writer `native` (nil: the Lua one only). Argument errors are
-- raised at the caller of the public function (called from it as a tail call).
local function serialize_json(value, options, native)
    local ty = type(value)
    if ty ~= "table" and ty ~= "string" and ty ~= "number" and ty ~= "boolean" then
        want_arg("serializeJSON", 1, value, "table", "string", "number", "boolean")
    end
    local nbt, unicode, reps
    if options ~= nil then
        local ot = type(options)
        if ot == "boolean" then
            nbt = options
        elseif ot == "table" then
            nbt = want_field(options, "nbt_style", "boolean", "nil")
            unicode = want_field(options, "unicode_strings", "boolean", "nil")
            reps = want_field(options, "allow_repetitions", "boolean", "nil")
        else
            want_arg("serializeJSON", 2, options, "table", "boolean", "nil")
        end
    end
    if native then
        -- true, text | false, the Lua writer's error | nil: undecided (see Apis/Json.cs)
        local ok, text = native(value, nbt, unicode, reps, empty_json_array, json_null)
        if ok then return text end
        if ok == false then error(text, 0) end
    end
    return write_json_text(value, nbt, unicode, reps)
end

function textutils.serializeJSON(value, options)
    return serialize_json(value, options, n_serialize)
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
local number_start = { ["-"] = true }
for d = 0, 9 do number_start[tostring(d)] = true end

-- Options of the parse in progress. The parser never runs user code (it cannot
-- yield or re-enter), so these are set once per unserializeJSON call.
local p_nbt, p_null, p_empty = false, nil, true

local space = { [" "] = true, ["\n"] = true, ["\r"] = true, ["\t"] = true }

-- Patterns for the common cases. Every call into the string library costs
-- more than the matching itself, so each match covers as much as it can: a
-- key with its ':', a plain string or number with the separator after it.
-- `()(.?)` gives the position and the character that follow. When a match
-- fails (escapes, unusual numbers, malformed input...) the general code
-- below takes over and produces exactly the original results and errors.
-- A plain string has no escapes or control characters; a simple number is
-- digits and dots with a digit first, for which the general number pattern
-- would capture the same text (tonumber decides if it is valid).
local WS = "[ \n\r\t]*"
local SKIP = "^" .. WS .. "()(.?)"
local PLAIN_STRING = '^"([^\0-\31"\\]*)"()'
local NUMBER = "^(-?%d+%.?%d*[eE]?[+-]?%d*)()"

local function fast_patterns(ws)
    local plain, simple_number = '"([^\0-\31"\\]*)"', "(-?%d[%d%.]*)"
    return "^" .. ws .. plain .. ws .. ":" .. ws .. "()(.?)",   -- key
        "^{" .. ws .. plain .. ws .. ":" .. ws .. "()(.?)",     -- "{" and the first key
        "^" .. plain .. ws .. "([,}])" .. ws .. "()",           -- object member string
        "^" .. simple_number .. ws .. "([,}])" .. ws .. "()",   -- object member number
        "^" .. plain .. ws .. "([,%]])" .. ws .. "()(.?)",      -- array element string
        "^" .. simple_number .. ws .. "([,%]])" .. ws .. "()(.?)" -- array element number
end
-- Compact documents are matched without the whitespace items; the first
-- whitespace seen between tokens switches to the set that allows it.
local C_KEY, C_OPEN, C_OSTR, C_ONUM, C_ASTR, C_ANUM = fast_patterns("")
local W_KEY, W_OPEN, W_OSTR, W_ONUM, W_ASTR, W_ANUM = fast_patterns(WS)
local P_KEY, P_OPEN, P_OSTR, P_ONUM, P_ASTR, P_ANUM

-- Skips whitespace; returns the position and character after it.
local function skip(str, pos)
    local after, c = s_match(str, SKIP, pos)
    if after ~= pos then
        P_KEY, P_OPEN, P_OSTR, P_ONUM, P_ASTR, P_ANUM = W_KEY, W_OPEN, W_OSTR, W_ONUM, W_ASTR, W_ANUM
    end
    return after, c
end

-- Reads the body of a string literal; `pos` is just after the opening quote.
-- Returns the decoded string and the position after the closing quote.
local function read_string(str, pos, closer)
    local special = closer == "'" and "['\\\0-\31]" or '["\\\0-\31]'
    local parts, n = {}, 0
    while true do
        local at = s_find(str, special, pos)
        if not at then
            fail(#str + 1, "Unexpected end of input, expected '\"'.")
        end
        if at > pos then
            n = n + 1
            parts[n] = s_sub(str, pos, at - 1)
            pos = at
        end
        local c = s_sub(str, pos, pos)
        if c == closer then
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
        else
            fail(pos + 1, "Unescaped whitespace " .. quote(c) .. ".")
        end
    end
    return t_concat(parts, "", 1, n), pos + 1
end

local function read_number(str, pos)
    local _, last, text = s_find(str, "^(-?%d+%.?%d*[eE]?[+-]?%d*)", pos)
    local value = text and tonumber(text)
    if not value then
        fail(pos, "Malformed number " .. quote(text or s_match(str, "^-?[%w%.%+%-]*", pos)) .. ".")
    end
    if p_nbt and nbt_number_suffix[s_sub(str, last + 1, last + 1)] then
        return value, last + 2
    end
    return value, last + 1
end

local read_object, read_array

-- Reads the value at `pos`, whose first character is `c` (pos is never at
-- whitespace). Returns the value and the position after it.
local function read_value(str, pos, c)
    if c == '"' then
        local value, after = s_match(str, PLAIN_STRING, pos)
        if value then return value, after end
        return read_string(str, pos + 1, '"')
    elseif c == "{" then
        return read_object(str, pos)
    elseif c == "[" then
        return read_array(str, pos)
    elseif number_start[c] then
        if not p_nbt then
            local text, after = s_match(str, NUMBER, pos)
            local value = text and tonumber(text)
            if value then return value, after end
        end
        return read_number(str, pos)
    elseif c == "t" then
        if s_sub(str, pos + 1, pos + 3) == "rue" then return true, pos + 4 end
    elseif c == "f" then
        if s_sub(str, pos + 1, pos + 4) == "alse" then return false, pos + 5 end
    elseif c == "n" then
        if s_sub(str, pos + 1, pos + 3) == "ull" then
            if p_null then return json_null, pos + 4 end
            return nil, pos + 4
        end
    elseif c == "'" and p_nbt then
        return read_string(str, pos + 1, "'")
    elseif c == "" then
        fail(pos, "Unexpected end of input.")
    end
    fail(pos, "Unexpected character " .. quote(c) .. ".")
end

-- Reads an object key the fast pattern did not match, and the ':' after it.
-- `pos` is at `c` (not whitespace). Returns the key, then the position and
-- character of the value.
local function read_key(str, pos, c)
    local key
    if c == '"' then
        key, pos = read_string(str, pos + 1, '"')
    elseif p_nbt and s_find(str, "^%a", pos) then
        local _, last = s_find(str, "^%a[%w_]*", pos)
        key, pos = s_sub(str, pos, last), last + 1
    else
        fail_expected(pos, c, "object key")
    end
    pos, c = skip(str, pos)
    if c ~= ":" then fail_expected(pos, c, "':'") end
    return key, skip(str, pos + 1)
end

-- Tables are read by read_object / read_array, with `pos` at the "{" / "[".
-- They return the table, then the position and character of the first
-- non-whitespace after it (every caller skips that whitespace anyway).
-- Nested tables are read from as few live locals as possible: each level of
-- nesting takes that many slots of the Lua stack.
read_object = function(str, pos)
    local obj = {}
    local key, c
    do
        local after
        key, after, c = s_match(str, P_OPEN, pos)
        if key then
            pos = after
            if space[c] then pos, c = skip(str, pos) end
        else
            pos, c = skip(str, pos + 1)
            if c == "}" then
                pos = pos + 1
                c = s_sub(str, pos, pos)
                if space[c] then pos, c = skip(str, pos) end
                return obj, pos, c
            end
            if c == "" then fail(pos, "Unexpected end of input, expected '}'.") end
            key, pos, c = read_key(str, pos, c)
        end
    end

    while true do
        -- The value (first character `c`) and the separator after it.
        if c == "{" or c == "[" then
            local value, after, sep = (c == "{" and read_object or read_array)(str, pos)
            obj[key] = value
            if sep == "}" then
                after = after + 1
                c = s_sub(str, after, after)
                if space[c] then after, c = skip(str, after) end
                return obj, after, c
            end
            if sep ~= "," then fail_expected(after, sep, "',' or '}'") end
            pos = after + 1
        else
            local value, sep, after
            if c == '"' then
                value, sep, after = s_match(str, P_OSTR, pos)
            elseif number_start[c] and not p_nbt then
                local text
                text, sep, after = s_match(str, P_ONUM, pos)
                value = text and tonumber(text)
            end
            if value == nil then
                value, pos = read_value(str, pos, c)
                after, sep = skip(str, pos)
                if sep ~= "," and sep ~= "}" then fail_expected(after, sep, "',' or '}'") end
                after = after + 1
            end
            obj[key] = value
            if sep == "}" then
                c = s_sub(str, after, after)
                if space[c] then after, c = skip(str, after) end
                return obj, after, c
            end
            pos = after
        end

        -- The next key and its ':'.
        local after
        key, after, c = s_match(str, P_KEY, pos)
        if key then
            pos = after
            if space[c] then pos, c = skip(str, pos) end
        else
            pos, c = skip(str, pos)
            key, pos, c = read_key(str, pos, c)
        end
    end
end

read_array = function(str, pos)
    pos = pos + 1
    local c = s_sub(str, pos, pos)
    if space[c] then pos, c = skip(str, pos) end

    if p_nbt and nbt_array_prefix[c] and s_sub(str, pos + 1, pos + 1) == ";" then
        pos, c = skip(str, pos + 2)
    end

    if c == "" then fail_expected(pos, c, "']'") end
    if c == "]" then
        local arr = empty_json_array
        if not p_empty then arr = {} end
        pos = pos + 1
        c = s_sub(str, pos, pos)
        if space[c] then pos, c = skip(str, pos) end
        return arr, pos, c
    end

    local arr, n = {}, 0
    while true do
        n = n + 1
        if c == "{" or c == "[" then
            local value, after, sep = (c == "{" and read_object or read_array)(str, pos)
            arr[n] = value
            if sep ~= "," and sep ~= "]" then fail_expected(after, sep, "',' or ']'") end
            pos = after + 1
            c = s_sub(str, pos, pos)
            if space[c] then pos, c = skip(str, pos) end
            if sep == "]" then return arr, pos, c end
        else
            local value, sep, after, nc
            if c == '"' then
                value, sep, after, nc = s_match(str, P_ASTR, pos)
            elseif number_start[c] and not p_nbt then
                local text
                text, sep, after, nc = s_match(str, P_ANUM, pos)
                value = text and tonumber(text)
            end
            if value == nil then
                value, pos = read_value(str, pos, c)
                after, sep = skip(str, pos)
                if sep ~= "," and sep ~= "]" then fail_expected(after, sep, "',' or ']'") end
                after = after + 1
                nc = s_sub(str, after, after)
            end
            arr[n] = value
            pos, c = after, nc
            if space[c] then pos, c = skip(str, pos) end
            if sep == "]" then return arr, pos, c end
        end
    end
end

-- The Lua reader: the reference for the native one, and what runs when that cannot decide.
local function read_json_text(s, nbt, parse_null, parse_empty_array)
    p_nbt, p_null, p_empty = nbt, parse_null, parse_empty_array ~= false
    P_KEY, P_OPEN, P_OSTR, P_ONUM, P_ASTR, P_ANUM = C_KEY, C_OPEN, C_OSTR, C_ONUM, C_ASTR, C_ANUM

    local start, c = s_match(s, SKIP, 1)
    local ok, value, pos = pcall(read_value, s, start, c)
    if not ok then
        if type(value) == "table" and getmetatable(value) == ParseFailure then
            return nil, s_format("Malformed JSON at position %d: %s", value.pos, value.msg)
        end
        error(value, 0)
    end

    pos = s_match(s, SKIP, pos)
    if pos <= #s then
        return nil, s_format("Malformed JSON at position %d: Unexpected trailing character %s.",
            pos, quote(s_sub(s, pos, pos)))
    end
    return value
end
local parse_json = wrap_parse and wrap_parse(read_json_text) or read_json_text

-- unserializeJSON, with the native reader `native` (nil: the Lua one only). Argument errors are
-- raised at the caller of the public function (called from it as a tail call).
local function unserialize_json(s, options, native)
    if type(s) ~= "string" then want_arg("unserializeJSON", 1, s, "string") end
    local nbt, parse_null, parse_empty_array
    if options ~= nil then
        if type(options) ~= "table" then want_arg("unserializeJSON", 2, options, "table", "nil") end
        nbt = want_field(options, "nbt_style", "boolean", "nil")
        parse_null = want_field(options, "parse_null", "boolean", "nil")
        parse_empty_array = want_field(options, "parse_empty_array", "boolean", "nil")
    end
    if native then
        -- true, value | false, message | nil: undecided (see Apis/Json.cs)
        local ok, value = native(s, nbt, parse_null, parse_empty_array ~= false, empty_json_array, json_null)
        if ok then return value end
        if ok == false then return nil, value end
    end
    return parse_json(s, nbt, parse_null, parse_empty_array)
end

function textutils.unserializeJSON(s, options)
    return unserialize_json(s, options, n_parse)
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

---------------------------------------------------------------------------
-- The terminal side: slow and paged printing, tables in columns. These use the globals of the
-- computer (term, write, print, sleep, os.pullEvent) when called.
---------------------------------------------------------------------------

-- Text cut into lines of at most `width` characters, at spaces where it can be.
local function wrap_lines(text, width)
    local lines = {}
    for para in (text .. "\n"):gmatch("(.-)\n") do
        local line = ""
        for space, word in para:gmatch("(%s*)(%S+)") do
            if line ~= "" and #line + #space + #word > width then
                lines[#lines + 1] = line
                line, space = "", ""
            end
            line = line .. space .. word
            while #line > width do
                lines[#lines + 1] = s_sub(line, 1, width)
                line = s_sub(line, width + 1)
            end
        end
        lines[#lines + 1] = line
    end
    return lines
end

function textutils.slowWrite(text, rate)
    want_arg("slowWrite", 2, rate, "number", "nil")
    rate = rate or 20
    if rate < 0 then error("Rate must be positive", 2) end
    local pause = 1 / rate
    local shown = t_concat(wrap_lines(tostring(text), (term.getSize())), "\n")
    for i = 1, #shown do
        sleep(pause)
        write(s_sub(shown, i, i))
    end
end

function textutils.slowPrint(text, rate)
    textutils.slowWrite(text, rate)
    print()
end

-- A scroll that stops for a key once `free` lines have gone by.
local function paged_scroll(target, free)
    local scroll = target.scroll
    free = free or 0
    return function(n)
        for _ = 1, n do
            scroll(1)
            if free > 0 then
                free = free - 1
            else
                local _, h = target.getSize()
                target.setCursorPos(1, h)
                target.write("Press any key to continue")
                os.pullEvent("key")
                target.clearLine()
                target.setCursorPos(1, h)
            end
        end
    end
end

function textutils.pagedPrint(text, free_lines)
    want_arg("pagedPrint", 2, free_lines, "number", "nil")
    local previous = term.current()
    local paged = {}
    for k, v in pairs(previous) do paged[k] = v end
    paged.scroll = paged_scroll(previous, free_lines)
    term.redirect(paged)
    local ok, result = pcall(function()
        if text ~= nil then return print(text) end
        return print()
    end)
    term.redirect(previous)
    if not ok then error(result, 0) end
    return result
end

local function tabulate(paged, ...)
    local args = table.pack(...)
    for i = 1, args.n do want_arg(paged and "pagedTabulate" or "tabulate", i, args[i], "number", "table") end
    local w, h = term.getSize()
    local column = w / 8
    for i = 1, args.n do
        local row = args[i]
        if type(row) == "table" then
            for j, item in pairs(row) do
                local ty = type(item)
                if ty ~= "string" and ty ~= "number" then
                    error("bad argument #" .. i .. "." .. tostring(j) .. " (string expected, got " .. ty .. ")", 3)
                end
                column = math.max(#tostring(item) + 1, column)
            end
        end
    end
    local columns = m_floor(w / column)
    local printed = 0
    local function new_line()
        if paged and printed >= h - 3 then textutils.pagedPrint() else print() end
        printed = printed + 1
    end
    local colour = term.getTextColour()
    for i = 1, args.n do
        local row = args[i]
        if type(row) == "number" then
            term.setTextColour(row)
        elseif #row > 0 then
            local col = 1
            for _, item in ipairs(row) do
                if col > columns then
                    col = 1
                    new_line()
                end
                local _, y = term.getCursorPos()
                term.setCursorPos(1 + m_floor((col - 1) * column), y)
                term.write(tostring(item))
                col = col + 1
            end
            print()
        end
    end
    term.setTextColour(colour)
end

function textutils.tabulate(...) return tabulate(false, ...) end
function textutils.pagedTabulate(...) return tabulate(true, ...) end

---------------------------------------------------------------------------
-- complete: Lua names that continue a partial expression, as the Lua prompt completes them.
---------------------------------------------------------------------------

local no_completions = setmetatable({}, { __newindex = function() error("attempt to modify a constant table", 2) end })

function textutils.complete(text, search)
    want_arg("complete", 1, text, "string")
    want_arg("complete", 2, search, "table", "nil")
    if reserved_words[text] then return no_completions end
    local tbl = search or _ENV
    local start = 1
    -- Walk a.b.c to the last table.
    while true do
        local dot = s_find(text, ".", start, true)
        if not dot then break end
        local v = tbl[s_sub(text, start, dot - 1)]
        if type(v) ~= "table" then return no_completions end
        tbl, start = v, dot + 1
    end
    local method = s_find(text, ":", start, true)
    if method then
        local v = tbl[s_sub(text, start, method - 1)]
        if type(v) ~= "table" then return no_completions end
        tbl, start = v, method + 1
    end
    local part = s_sub(text, start)
    local results, seen = {}, {}
    while tbl do
        for k, v in pairs(tbl) do
            if not seen[k] and type(k) == "string" and s_find(k, part, 1, true) == 1
                and not reserved_words[k] and s_match(k, "^[%a_][%w_]*$") then
                local rest = s_sub(k, #part + 1)
                if method then
                    local mt = type(v) == "table" and getmetatable(v)
                    if type(v) == "function" or (mt and (type(mt.__call) == "function" or type(mt.__call) == "table")) then
                        results[#results + 1] = rest .. "("
                    end
                else
                    if type(v) == "function" then
                        rest = rest .. "("
                    elseif type(v) == "table" and next(v) ~= nil then
                        rest = rest .. "."
                    end
                    results[#results + 1] = rest
                end
            end
            seen[k] = true
        end
        local mt = getmetatable(tbl)
        tbl = mt and type(mt.__index) == "table" and mt.__index or nil
    end
    table.sort(results)
    return results
end

-- The second value: the Lua JSON writer and reader alone (the reference the native ones are
-- checked against by tests/Craft.Tests/JsonTests.fs). The BIOS keeps it from scripts.
local reference = {
    serializeJSON = function(value, options) return serialize_json(value, options, nil) end,
    unserializeJSON = function(s, options) return unserialize_json(s, options, nil) end,
}

return textutils, reference
