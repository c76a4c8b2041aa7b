-- Plain Lua 5.4 unit tests for Craft's pure-Lua CraftOS libraries.
-- Run from the repository root:  lua5.4 tests/lua-unit/run.lua

local root = (arg and arg[0] or ""):match("^(.-)tests[/\\]lua%-unit[/\\]run%.lua$") or ""
local lib_dir = root .. "src/Craft.Interop/Lua/"

local passed, failures = 0, 0

local function show(v)
    if type(v) == "string" then return string.format("%q", v) end
    return tostring(v) .. " (" .. (math.type(v) or type(v)) .. ")"
end

local function check(name, cond, detail)
    if cond then
        passed = passed + 1
    else
        failures = failures + 1
        print("FAIL: " .. name .. (detail and ("\n      " .. detail) or ""))
    end
end

local function eq(name, got, want)
    local same = got == want or (got ~= got and want ~= want)
    if same and type(want) == "number" then same = math.type(got) == math.type(want) end
    check(name, same, "expected " .. show(want) .. "\n      got      " .. show(got))
end

-- Deep structural equality (plain tables only).
local function deep_eq(a, b)
    if a == b then return true end
    if type(a) ~= "table" or type(b) ~= "table" then return false end
    for k, v in pairs(a) do if not deep_eq(v, b[k]) then return false end end
    for k in pairs(b) do if a[k] == nil then return false end end
    return true
end

local function raises(name, fn, want_msg)
    local ok, err = pcall(fn)
    check(name .. " (raises)", not ok, "expected an error, call succeeded")
    if not ok and want_msg then
        -- Errors raised "at the caller" carry a position prefix; compare the rest.
        local bare = type(err) == "string" and err:match("^[^:]*:%d+: (.*)$") or err
        eq(name .. " (message)", bare, want_msg)
    end
end

-- Load a library the way the host does: text mode, restricted environment
-- holding only the standard globals the libraries are allowed to use.
local allowed = {
    "string", "table", "math", "utf8", "coroutine", "select", "type", "pairs", "ipairs", "next",
    "tostring", "tonumber", "error", "pcall", "setmetatable", "getmetatable", "rawget", "rawset",
    "rawequal", "load",
}
local function load_lib(name)
    local env = {}
    for _, g in ipairs(allowed) do env[g] = _G[g] end
    setmetatable(env, {
        __index = function(_, k) error("library read undeclared global '" .. tostring(k) .. "'", 2) end,
        __newindex = function(_, k) error("library wrote global '" .. tostring(k) .. "'", 2) end,
    })
    local path = lib_dir .. name .. ".lua"
    local fh = assert(io.open(path, "rb"))
    local source = fh:read("a")
    fh:close()
    local chunk = assert(load(source, "@" .. name .. ".lua", "t", env))
    local lib = chunk()
    assert(type(lib) == "table", name .. " did not return a table")
    return lib
end

local textutils = load_lib("textutils")
local parallel = load_lib("parallel")
local bit32 = load_lib("bit32")

---------------------------------------------------------------------------
-- textutils.serialize
---------------------------------------------------------------------------
do
    local ser = textutils.serialize
    eq("serialise alias", textutils.serialise, ser)
    eq("unserialise alias", textutils.unserialise, textutils.unserialize)

    eq("ser nested", ser({ 1, 2, { 3, "x" }, a = true }),
        '{\n  1,\n  2,\n  {\n    3,\n    "x",\n  },\n  a = true,\n}')
    local keyed = ser({ name = { inner = "v", deeper = {} } })
    check("ser nested keyed", keyed == '{\n  name = {\n    inner = "v",\n    deeper = {},\n  },\n}'
        or keyed == '{\n  name = {\n    deeper = {},\n    inner = "v",\n  },\n}', keyed)
    eq("ser bracket key", ser({ ["a b"] = 1 }), '{\n  [ "a b" ] = 1,\n}')
    eq("ser keyword key", ser({ ["end"] = 1 }), '{\n  [ "end" ] = 1,\n}')
    eq("ser number key", ser({ [10] = "x" }), '{\n  [ 10 ] = "x",\n}')
    eq("ser bool key", ser({ [true] = false }), '{\n  [ true ] = false,\n}')
    eq("ser empty", ser({}), "{}")
    eq("ser compact", ser({ 1, 2, a = 3 }, { compact = true }), "{1,2,a=3,}")
    eq("ser compact nested", ser({ { 1 }, ["x y"] = { b = 2 } }, { compact = true }), '{{1,},["x y"]={b=2,},}')
    eq("ser string", ser("hi"), '"hi"')
    eq("ser string escapes", ser('a\nb"c\\\r\0d\1'), '"a\\\nb\\"c\\\\\\r\\000d\1"')
    eq("ser int", ser(42), "42")
    eq("ser float", ser(0.5), "0.5")
    eq("ser integral float", ser(3.0), "3")
    eq("ser big float", ser(2.0 ^ 53), "9.007199254741e+15")
    eq("ser inf", ser(1 / 0), "1/0")
    eq("ser -inf", ser(-1 / 0), "-1/0")
    eq("ser nan", ser(0 / 0), "0/0")
    eq("ser bool", ser(true), "true")
    eq("ser nil", ser(nil), "nil")

    raises("ser function", function() ser({ f = print }) end, "Cannot serialize type function")
    local rec = {}
    rec.self = rec
    raises("ser recursive", function() ser(rec) end, "Cannot serialize table with recursive entries")
    local shared = { 1 }
    raises("ser repeated", function() ser({ shared, shared }) end, "Cannot serialize table with repeated entries")
    eq("ser repeated allowed", ser({ shared, shared }, { allow_repetitions = true }), "{\n  {\n    1,\n  },\n  {\n    1,\n  },\n}")
    local rec2 = { {} }
    rec2[1][1] = rec2
    raises("ser recursive even with repetitions", function() ser(rec2, { allow_repetitions = true }) end,
        "Cannot serialize table with recursive entries")
    raises("ser bad opts", function() ser({}, 5) end, "bad argument #2 to 'serialize' (table expected, got number)")
    raises("ser bad opts field", function() ser({}, { compact = 1 }) end, "bad field 'compact' (boolean expected, got number)")

    -- Round trips
    local samples = {
        { 1, 2, 3, "four", { five = 5, [6] = "six" }, x = { y = { z = true } } },
        { ["with space"] = "v\n\"q\"\\", [1.5] = false, [-3] = "neg" },
        "plain\0string\r\n",
        { nested = { { {}, { "deep" } } } },
    }
    for i, v in ipairs(samples) do
        check("round trip #" .. i, deep_eq(textutils.unserialize(ser(v)), v), ser(v))
        check("round trip compact #" .. i, deep_eq(textutils.unserialize(ser(v, { compact = true })), v))
    end
    local r = textutils.unserialize(ser({ a = 1 / 0, b = -1 / 0, c = 0 / 0 }))
    check("round trip inf/nan", r.a == math.huge and r.b == -math.huge and r.c ~= r.c)
    eq("unserialize bad", textutils.unserialize("{ not lua"), nil)
    eq("unserialize runtime error", textutils.unserialize("nil + 1"), nil)
    eq("unserialize no globals", textutils.unserialize("print"), nil)
    raises("unserialize non-string", function() textutils.unserialize(1) end,
        "bad argument #1 to 'unserialize' (string expected, got number)")
end

---------------------------------------------------------------------------
-- textutils JSON
---------------------------------------------------------------------------
do
    local toj, fromj = textutils.serializeJSON, textutils.unserializeJSON
    eq("serialiseJSON alias", textutils.serialiseJSON, toj)
    eq("unserialiseJSON alias", textutils.unserialiseJSON, fromj)

    eq("json array", toj({ 1, 2, 3 }), "[1,2,3]")
    eq("json object", toj({ a = 1 }), '{"a":1}')
    eq("json nested", toj({ list = { 1, { b = false }, "s" } }), '{"list":[1,{"b":false},"s"]}')
    eq("json empty table", toj({}), "{}")
    eq("json empty array sentinel", toj(textutils.empty_json_array), "[]")
    eq("json null sentinel", toj({ textutils.json_null, 1 }), "[null,1]")
    eq("json holes", toj({ 1, nil, 3 }), "[1,null,3]")
    eq("json sparse", toj({ [3] = "x" }), '[null,null,"x"]')
    eq("json mixed keys -> object", toj({ 1, a = 2 }), '{"a":2}')
    eq("json non-string keys dropped", toj({ [true] = 1 }), "{}")
    eq("json string escapes", toj('a"b\\c\n\t\1\127'), '"a\\"b\\\\c\\n\\t\\u0001\\u007F"')
    eq("json slash unescaped", toj("a/b"), '"a/b"')
    eq("json latin1 bytes", toj("\xC3\xA9"), '"\\u00C3\\u00A9"')
    eq("json unicode_strings", toj("\xC3\xA9", { unicode_strings = true }), '"\\u00E9"')
    eq("json unicode astral", toj("\xF0\x9F\x98\x80", { unicode_strings = true }), '"\\uD83D\\uDE00"')
    eq("json unicode with ctrl", toj("\xC3\xA9\n\"", { unicode_strings = true }), '"\\u00E9\\n\\""')
    eq("json numbers", toj({ 1, 1.5, -2.0, 1e300 }), "[1,1.5,-2,1e+300]")
    eq("json bool", toj(true), "true")
    eq("json nbt style", toj({ a = { 1 } }, true), "{a:[1]}")
    eq("json nbt style opts", toj({ a = "s" }, { nbt_style = true }), '{a:"s"}')
    raises("json function", function() toj({ print }) end, "Cannot serialize type function")
    local rec = {}
    rec[1] = rec
    raises("json recursive", function() toj(rec) end, "Cannot serialize table with recursive entries")
    local shared = { 1 }
    raises("json repeated", function() toj({ shared, shared }) end, "Cannot serialize table with repeated entries")
    eq("json repeated allowed", toj({ shared, shared }, { allow_repetitions = true }), "[[1],[1]]")
    raises("json nil arg", function() toj(nil) end,
        "bad argument #1 to 'serializeJSON' (table, string, number or boolean expected, got nil)")

    -- Parsing
    local v = fromj('{"a":[1,2,{"b":null}],"c":"\\u00e9","d":-1.5e2, "e" : true , "f":false}')
    check("parse object", type(v) == "table" and v.a[1] == 1 and v.a[2] == 2 and next(v.a[3]) == nil
        and v.c == "\xC3\xA9" and v.d == -150.0 and v.e == true and v.f == false)
    eq("parse integer type", fromj("12"), 12)
    eq("parse float type", fromj("12.0"), 12.0)
    eq("parse negative exp", fromj("5e-1"), 0.5)
    eq("parse string escapes", fromj('"\\"\\\\\\/\\b\\f\\n\\r\\t"'), '"\\/\b\f\n\r\t')
    eq("parse surrogate pair", fromj('"\\ud83d\\ude00"'), "\xF0\x9F\x98\x80")
    eq("parse surrogate pair upper", fromj('"x\\uD83D\\uDE00y"'), "x\xF0\x9F\x98\x80y")
    eq("parse BMP escape", fromj('"\\u20AC"'), "\xE2\x82\xAC")
    eq("parse raw utf8", fromj('"\xE2\x82\xAC"'), "\xE2\x82\xAC")
    eq("parse whitespace", fromj(" \n\t[ 1 , 2 ]\r\n ")[2], 2)
    eq("parse empty array", fromj("[]"), textutils.empty_json_array)
    local nested_empty = fromj('{"x":[]}')
    eq("parse nested empty array", nested_empty.x, textutils.empty_json_array)
    local fresh = fromj("[]", { parse_empty_array = false })
    check("parse_empty_array=false", type(fresh) == "table" and fresh ~= textutils.empty_json_array and next(fresh) == nil)
    eq("parse empty object", next(fromj("{}")), nil)
    eq("parse null default", fromj("null"), nil)
    eq("parse null option", fromj("null", { parse_null = true }), textutils.json_null)
    local arr = fromj("[1,null,3]")
    check("parse null in array", arr[1] == 1 and arr[2] == nil and arr[3] == 3)
    local obj = fromj('{"a":null}', { parse_null = true })
    eq("parse null in object (parse_null)", obj.a, textutils.json_null)
    eq("parse null in object dropped", next(fromj('{"a":null}')), nil)

    -- Round trips
    local canon = {
        '{"a":[1,2,3]}',
        '[[],[1,[2,[3]]],{"k":"v"},"s",true,false,1.5]',
        '{"outer":{"inner":[{"x":[]}]}}',
        '"tab\\there"',
    }
    for i, s in ipairs(canon) do eq("json round trip #" .. i, toj(fromj(s)), s) end
    eq("json unicode round trip", toj(fromj('"\\ud83d\\ude00 \\u00e9"'), { unicode_strings = true }),
        '"\\uD83D\\uDE00 \\u00E9"')
    local value = { name = "Steve", tags = { "a", "b" }, pos = { x = 1, y = -2.5 } }
    check("json value round trip", deep_eq(fromj(toj(value)), value))
    eq("json null round trip", toj(fromj("[null,1]", { parse_null = true })), "[null,1]")

    -- Malformed input: nil plus CraftOS-style message, never an error.
    local bad = {
        { '{"a":}', 'Malformed JSON at position 6: Unexpected character "}".' },
        { "[1,2", "Malformed JSON at position 5: Unexpected end of input, expected ',' or ']'." },
        { "tru", 'Malformed JSON at position 1: Unexpected character "t".' },
        { "[1] x", 'Malformed JSON at position 5: Unexpected trailing character "x".' },
        { '{"a":1}}', 'Malformed JSON at position 8: Unexpected trailing character "}".' },
        { "", "Malformed JSON at position 1: Unexpected end of input." },
        { "   ", "Malformed JSON at position 4: Unexpected end of input." },
        { "{", "Malformed JSON at position 2: Unexpected end of input, expected '}'." },
        { "[", "Malformed JSON at position 2: Unexpected end of input, expected ']'." },
        { '{"a" 1}', "Malformed JSON at position 6: Unexpected \"1\", expected ':'." },
        { '{"a":1,}', 'Malformed JSON at position 8: Unexpected "}", expected object key.' },
        { "{a:1}", 'Malformed JSON at position 2: Unexpected "a", expected object key.' },
        { '{"a":1 "b":2}', "Malformed JSON at position 8: Unexpected \"\\\"\", expected ',' or '}'." },
        { "[1,]", 'Malformed JSON at position 4: Unexpected character "]".' },
        { '"abc', "Malformed JSON at position 5: Unexpected end of input, expected '\"'." },
        { '"\\x"', 'Malformed JSON at position 3: Unknown escape character "x".' },
        { '"\\u12"', 'Malformed JSON at position 2: Malformed unicode escape "12\\"".' },
        { '"a\tb"', 'Malformed JSON at position 4: Unescaped whitespace "\t".' },
        { '"\\', "Malformed JSON at position 2: Unexpected end of input, expected escape sequence." },
        { "1e", 'Malformed JSON at position 1: Malformed number "1e".' },
        { "-", 'Malformed JSON at position 1: Malformed number "-".' },
        { "nul", 'Malformed JSON at position 1: Unexpected character "n".' },
        { "@", 'Malformed JSON at position 1: Unexpected character "@".' },
    }
    for _, case in ipairs(bad) do
        local ok, res, msg = pcall(fromj, case[1])
        check("bad json does not raise: " .. case[1], ok, tostring(res))
        if ok then
            eq("bad json value: " .. case[1], res, nil)
            eq("bad json message: " .. case[1], msg, case[2])
        end
    end
    raises("json parse non-string", function() fromj(nil) end,
        "bad argument #1 to 'unserializeJSON' (string expected, got nil)")

    -- The writer remembers short strings and keys, and reuses its output
    -- buffer; none of that may change a result.
    local many = {}
    for i = 1, 3000 do many[i] = "s" .. i end
    local want = '["' .. table.concat(many, '","') .. '"]'
    eq("json cache overflow (array)", toj(many), want)
    eq("json cache overflow (again)", toj(many), want)
    local ok_keys = true
    for i = 1, 3000 do
        if toj({ ["k" .. i] = "v" .. i }) ~= '{"k' .. i .. '":"v' .. i .. '"}' then ok_keys = false end
    end
    check("json cache overflow (keys)", ok_keys)
    eq("json cached key, nbt style", toj({ k1 = 1 }, true), "{k1:1}")
    eq("json cached key, plain style", toj({ k1 = 1 }), '{"k1":1}')
    eq("json big then small result", toj({ 1 }), "[1]")
    raises("json error midway", function() toj({ 1, 2, print }) end, "Cannot serialize type function")
    eq("json after error", toj({ "x" }), '["x"]')
    local nested_text
    local inner = setmetatable({ x = 1 }, { __pairs = function(t)
        nested_text = toj({ "nested", { deep = true } })
        return next, t, nil
    end })
    eq("json re-entered from __pairs", toj({ inner, "after" }), '[{"x":1},"after"]')
    eq("json re-entered: inner result", nested_text, '["nested",{"deep":true}]')
    local floats_ok, first_bad = true, nil
    for i = -20000, 20000, 7 do
        for _, scale in ipairs({ 10, 100, 1000, 3 }) do
            local x = i / scale
            local expected = x == math.floor(x) and string.format("%d", x) or string.format("%.14g", x)
            if toj(x) ~= expected then floats_ok, first_bad = false, x end
        end
    end
    check("json float text matches %.14g", floats_ok, tostring(first_bad))
    eq("json float large", toj(123456789.25), "123456789.25")
    eq("json float tiny", toj(1e-7), "1e-07")
    -- Compact and spaced documents one after another: the parser's choice of
    -- patterns must not leak from one call to the next.
    eq("parse spaced then compact", toj(fromj('{ "a" : [ 1 , "x" ] }')) .. toj(fromj('{"a":[1,"x"]}')),
        '{"a":[1,"x"]}{"a":[1,"x"]}')
    eq("parse compact then spaced", toj(fromj('[1,2]')) .. toj(fromj('[ 1 ,\n2 ]')), "[1,2][1,2]")

    -- NBT-style parsing
    local nbt = fromj("{id:'minecraft:stone',Count:3b,list:[I;1,2]}", { nbt_style = true })
    check("nbt parse", nbt and nbt.id == "minecraft:stone" and nbt.Count == 3 and nbt.list[2] == 2)

    -- Sentinels
    eq("empty_json_array tostring", tostring(textutils.empty_json_array), "[]")
    eq("json_null tostring", tostring(textutils.json_null), "null")
    raises("empty_json_array immutable", function() textutils.empty_json_array[1] = 1 end)
    local ok, err = pcall(function() textutils.json_null.x = 1 end)
    check("json_null immutable", not ok and tostring(err):find("attempt to mutate textutils.json_null", 1, true) ~= nil,
        tostring(err))
end

---------------------------------------------------------------------------
-- textutils.urlEncode / formatTime
---------------------------------------------------------------------------
do
    local enc = textutils.urlEncode
    eq("url space", enc("hello world"), "hello+world")
    eq("url reserved", enc("a&b=c?d/e"), "a%26b%3Dc%3Fd%2Fe")
    eq("url unreserved", enc("AZaz09-_."), "AZaz09-_.")
    eq("url tilde", enc("~"), "%7E")
    eq("url newline", enc("l1\nl2"), "l1%0D%0Al2")
    eq("url percent", enc("100%"), "100%25")
    eq("url latin1 byte", enc("\xE9"), "%C3%A9")
    eq("url utf8 bytes", enc("\xC3\xA9"), "%C3%83%C2%A9")
    eq("url empty", enc(""), "")

    local ft = textutils.formatTime
    eq("time am", ft(6.5), "6:30 AM")
    eq("time pm", ft(18.75), "6:45 PM")
    eq("time midnight", ft(0), "12:00 AM")
    eq("time noon", ft(12), "12:00 PM")
    eq("time 12:30", ft(12.5), "12:30 PM")
    eq("time 24h", ft(18.5, true), "18:30")
    eq("time 24h early", ft(0.25, true), "0:15")
end

---------------------------------------------------------------------------
-- parallel
---------------------------------------------------------------------------

-- Fake event loop: runs `body` in a coroutine, feeding it the events in order.
-- Records what the coroutine yields to the loop each time.
local function run_loop(body, events)
    local co = coroutine.create(body)
    local yields = {}
    local result = table.pack(coroutine.resume(co))
    local i = 1
    while coroutine.status(co) == "suspended" do
        yields[#yields + 1] = table.pack(table.unpack(result, 2, result.n))
        local ev = events[i]
        if not ev then return nil, "ran out of events", yields end
        i = i + 1
        result = table.pack(coroutine.resume(co, table.unpack(ev)))
    end
    return result, i - 1, yields
end

do
    -- Start order, resume order and event delivery.
    local log = {}
    local function worker(name, rounds)
        return function(...)
            log[#log + 1] = name .. ":start:" .. select("#", ...)
            for _ = 1, rounds do
                local ev, p = coroutine.yield()
                log[#log + 1] = name .. ":" .. tostring(ev) .. ":" .. tostring(p)
            end
            log[#log + 1] = name .. ":done"
        end
    end
    local res, used, yields = run_loop(function()
        return parallel.waitForAll(worker("a", 1), worker("b", 2))
    end, { { "e1", 1 }, { "e2", 2 } })
    eq("waitForAll ok", res[1], true)
    eq("waitForAll returns last finisher", res[2], 2)
    eq("waitForAll events used", used, 2)
    eq("waitForAll order", table.concat(log, " "),
        "a:start:0 b:start:0 a:e1:1 a:done b:e1:1 b:e2:2 b:done")
    check("runner yields exactly one nil", #yields == 2 and yields[1].n == 1 and yields[1][1] == nil)

    -- waitForAny returns the first to finish; the rest are abandoned.
    log = {}
    res = run_loop(function()
        return parallel.waitForAny(worker("a", 3), worker("b", 1), worker("c", 1))
    end, { { "x" }, { "y" } })
    eq("waitForAny index", res[2], 2)
    eq("waitForAny stops immediately", table.concat(log, " "),
        "a:start:0 b:start:0 c:start:0 a:x:nil b:x:nil b:done")

    -- Immediate completion without any yield.
    res = run_loop(function()
        return parallel.waitForAny(function() coroutine.yield() end, function() end)
    end, {})
    eq("waitForAny immediate", res[2], 2)
    eq("waitForAny no functions", parallel.waitForAny(), 0)
    eq("waitForAll no functions", parallel.waitForAll(), 0)

    -- Filters: each child only sees events it asked for (plus terminate).
    local seen = {}
    local function filtered(name, filter, count)
        return function()
            for _ = 1, count do
                local ev = coroutine.yield(filter)
                seen[#seen + 1] = name .. "=" .. ev
            end
        end
    end
    res = run_loop(function()
        return parallel.waitForAll(filtered("T", "timer", 2), filtered("K", "key", 2), filtered("A", nil, 4))
    end, { { "key", 1 }, { "mouse" }, { "timer", 5 }, { "terminate" } })
    eq("filters ok", res[1], true)
    eq("filters delivery", table.concat(seen, " "),
        "K=key A=key A=mouse T=timer A=timer T=terminate K=terminate A=terminate")

    -- Dead children are never resumed again.
    local resumes = 0
    res = run_loop(function()
        return parallel.waitForAll(function() resumes = resumes + 1 end, function()
            coroutine.yield()
            coroutine.yield()
        end)
    end, { { "a" }, { "b" } })
    eq("dead skipped", resumes, 1)
    eq("dead skipped result", res[2], 2)

    -- Error propagation: message passed through unchanged (level 0).
    res = run_loop(function()
        return parallel.waitForAny(function()
            coroutine.yield()
            error("boom", 0)
        end, function() coroutine.yield() end)
    end, { { "tick" } })
    eq("error propagated", res[1], false)
    eq("error message unchanged", res[2], "boom")

    local ok, err = pcall(parallel.waitForAll, function() error("with position") end)
    check("error keeps child position", not ok and err:match("run%.lua:%d+: with position$") ~= nil, tostring(err))
    local marker = {}
    ok, err = pcall(parallel.waitForAll, function() error(marker) end)
    check("error value preserved", not ok and err == marker)

    ok, err = pcall(parallel.waitForAny, print, 5)
    check("bad argument", not ok and err == "bad argument #2 (function expected, got number)", tostring(err))
    local function caller() parallel.waitForAll(nil) end
    ok, err = pcall(caller)
    check("bad argument blames caller", not ok and err:match("run%.lua:%d+: bad argument #1 %(function expected, got nil%)$") ~= nil,
        tostring(err))

    -- Extra event parameters are passed through intact, including nils.
    local got
    run_loop(function()
        parallel.waitForAll(function() got = table.pack(coroutine.yield()) end)
    end, { { "ev", nil, 3, n = 3 } })
    check("event params intact", got and got.n == 3 and got[1] == "ev" and got[2] == nil and got[3] == 3,
        got and ("n=" .. got.n) or "nil")
end

---------------------------------------------------------------------------
-- bit32
---------------------------------------------------------------------------
do
    local b = bit32
    eq("band", b.band(0xFF, 0x0F), 0x0F)
    eq("band none", b.band(), 0xFFFFFFFF)
    eq("band three", b.band(0xF0F0, 0xFF00, 0x3000), 0x3000)
    eq("bor", b.bor(1, 2, 4), 7)
    eq("bor none", b.bor(), 0)
    eq("bxor", b.bxor(5, 3), 6)
    eq("bxor three", b.bxor(1, 1, 1), 1)
    eq("bnot 0", b.bnot(0), 0xFFFFFFFF)
    eq("bnot -1", b.bnot(-1), 0)
    eq("bnot value", b.bnot(0x0F0F0F0F), 0xF0F0F0F0)
    eq("btest false", b.btest(1, 2), false)
    eq("btest true", b.btest(3, 2), true)
    eq("btest none", b.btest(), true)
    eq("negative wraps", b.band(-1), 0xFFFFFFFF)
    eq("wide value wraps", b.band(0x100000005), 5)
    eq("float wraps", b.band(2.0 ^ 32 + 5, 0xFF), 5)
    eq("float truncates", b.band(1.9), 1)
    eq("negative float truncates", b.band(-1.5), 0xFFFFFFFF)
    eq("numeric string", b.bor("12"), 12)
    eq("lshift", b.lshift(1, 31), 0x80000000)
    eq("lshift overflow", b.lshift(0xFFFFFFFF, 4), 0xFFFFFFF0)
    eq("lshift 32", b.lshift(1, 32), 0)
    eq("lshift negative", b.lshift(0x80, -4), 0x8)
    eq("rshift", b.rshift(0x80000000, 31), 1)
    eq("rshift -1", b.rshift(-1, 0), 0xFFFFFFFF)
    eq("rshift logical", b.rshift(0xF0000000, 4), 0x0F000000)
    eq("rshift 32", b.rshift(0xFFFFFFFF, 32), 0)
    eq("rshift negative", b.rshift(1, -3), 8)
    eq("arshift negative value", b.arshift(0x80000000, 1), 0xC0000000)
    eq("arshift positive value", b.arshift(0x40000000, 1), 0x20000000)
    eq("arshift 31", b.arshift(-8, 31), 0xFFFFFFFF)
    eq("arshift 32 neg", b.arshift(0x80000000, 32), 0xFFFFFFFF)
    eq("arshift 32 pos", b.arshift(0x7FFFFFFF, 32), 0)
    eq("arshift left", b.arshift(1, -1), 2)
    eq("arshift -8>>1", b.arshift(-8, 1), 0xFFFFFFFC)
    eq("lrotate", b.lrotate(0x80000001, 1), 3)
    eq("lrotate 0", b.lrotate(0x12345678, 0), 0x12345678)
    eq("lrotate 32", b.lrotate(0x12345678, 32), 0x12345678)
    eq("lrotate 4", b.lrotate(0x12345678, 4), 0x23456781)
    eq("lrotate negative", b.lrotate(3, -1), 0x80000001)
    eq("rrotate", b.rrotate(3, 1), 0x80000001)
    eq("rrotate 8", b.rrotate(0x12345678, 8), 0x78123456)
    eq("extract", b.extract(0xF0, 4, 4), 0xF)
    eq("extract default width", b.extract(0x80000000, 31), 1)
    eq("extract full", b.extract(-1, 0, 32), 0xFFFFFFFF)
    eq("replace", b.replace(0, 0xF, 4, 4), 0xF0)
    eq("replace clears", b.replace(0xFFFFFFFF, 0, 0, 8), 0xFFFFFF00)
    eq("replace default width", b.replace(0, 1, 31), 0x80000000)
    eq("replace masks v", b.replace(0, 0xFF, 0, 4), 0xF)
    raises("extract negative field", function() b.extract(1, -1) end,
        "bad argument #2 to 'extract' (field cannot be negative)")
    raises("extract zero width", function() b.extract(1, 0, 0) end,
        "bad argument #3 to 'extract' (width must be positive)")
    local ok, err = pcall(b.extract, 1, 30, 3)
    check("extract out of range", not ok and tostring(err):find("trying to access non-existent bits", 1, true) ~= nil,
        tostring(err))
    ok, err = pcall(b.replace, 1, 1, 31, 2)
    check("replace out of range", not ok and tostring(err):find("trying to access non-existent bits", 1, true) ~= nil)
    ok, err = pcall(function() local r = b.band(1, nil) return r end)
    check("band nil arg", not ok and err:match("run%.lua:%d+: bad argument #2 to 'band' %(number expected, got nil%)$") ~= nil,
        tostring(err))
    ok, err = pcall(function() local r = b.lshift(1, "x") return r end)
    check("lshift bad disp", not ok and err:match("run%.lua:%d+: bad argument #2 to 'lshift' %(number expected, got string%)$") ~= nil,
        tostring(err))
    for name, fn in pairs(b) do
        if name ~= "btest" then
            local r = fn(0x12345678, 3, 4)
            check("result integer in range: " .. name, math.type(r) == "integer" and r >= 0 and r <= 0xFFFFFFFF, show(r))
        end
    end
end

print(string.format("%d passed, %d failed", passed, failures))
os.exit(failures == 0)
