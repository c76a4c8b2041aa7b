-- textutils JSON: round trips, unicode escapes, nesting, empty arrays, null, bad input.
local toJSON, fromJSON = textutils.serializeJSON, textutils.unserializeJSON

local function hex(s)
    return (s:gsub(".", function(c) return ("%02X"):format(c:byte()) end))
end

-- Unicode escapes decode to UTF-8, surrogate pairs to one code point.
local s = fromJSON('"caf\\u00e9 \\u20AC \\ud83d\\ude00"')
print("unicode", hex(s))
print("escapes", fromJSON('"a\\"b\\\\c\\/d\\n\\t"') == "a\"b\\c/d\n\t")
-- Non-ASCII bytes are written as \u00XX (CraftOS treats strings as bytes) ...
print("bytes out", toJSON("é"))
-- ... or as code points with unicode_strings.
print("unicode out", toJSON("é😀", { unicode_strings = true }))
print("control out", toJSON("\0\1\n\127"))

-- Nested arrays and objects.
local v = fromJSON('{"list": [1, 2.5, [true, false], {"k": "v"}], "obj": {"inner": {"deep": [[]]}}}')
print("list", #v.list, v.list[1], math.type(v.list[1]), v.list[2], v.list[3][1], v.list[3][2], v.list[4].k)
print("deep", v.obj.inner.deep[1] == textutils.empty_json_array)
print("nested out", toJSON({ { 1, { 2, { 3 } } }, { a = { b = { c = "d" } } } }))

-- Empty arrays: a sentinel that serializes back as [], and a plain table as {}.
local empty = fromJSON("[]")
print("empty", empty == textutils.empty_json_array, toJSON(empty), toJSON({}))
print("empty plain", type(fromJSON("[]", { parse_empty_array = false })), toJSON(fromJSON("[]", { parse_empty_array = false })))
print("sentinel mutate", pcall(function() textutils.empty_json_array[1] = 1 end))

-- null: nil by default (a hole in arrays), or the json_null sentinel.
local arr = fromJSON("[1, null, 3]")
print("null hole", arr[1], arr[2], arr[3])
print("null top", fromJSON("null"))
print("null object", next(fromJSON('{"a": null}')))
local kept = fromJSON('{"a": null}', { parse_null = true })
print("parse_null", kept.a == textutils.json_null, toJSON(kept))
print("null out", toJSON({ 1, textutils.json_null, 3 }), toJSON({ [1] = 1, [3] = 3 }))

-- Round trip of a structure.
local original = { name = "craft", tags = { "a", "b" }, n = -12.75, ok = true }
local back = fromJSON(toJSON(original))
print("round trip", back.name, back.tags[1], back.tags[2], back.n, back.ok)
print("numbers", toJSON(1), toJSON(-0.5), toJSON(1e100), toJSON(3.0))

-- Bad JSON: nil and a message, never an error.
for _, bad in ipairs({ "{bad", "[1, 2", '"open', "tru", "[1] x", "", "{\"a\" 1}" }) do
    print("bad", ("%q"):format(bad), fromJSON(bad))
end
print("not a string", pcall(fromJSON, 5))
print("function", pcall(toJSON, { print }))
local loop = {}
loop.self = loop
print("recursive", pcall(toJSON, loop))
