-- textutils.serialize / unserialize, as CraftOS formats them.
local ser, unser = textutils.serialize, textutils.unserialize
print(ser({ 1, "two", { three = 3 } }))
print(ser({ 1, 2, x = true }, { compact = true }))
print(ser("line\nbreak\0\"q\""))
print(ser(1 / 0), ser(-1 / 0), ser(0.5), ser(7), ser(nil), ser(false))
print(ser({}), ser({ [10] = "ten" }, { compact = true }), ser({ ["key with space"] = 1 }, { compact = true }))
print(ser({ ["end"] = 1 }, { compact = true }))

local original = { 1, 2.5, "three", nested = { deep = { "x", true } }, ["odd key"] = "\0\255" }
local back = unser(ser(original))
print("round trip", back[1], back[2], back[3], back.nested.deep[1], back.nested.deep[2], back["odd key"] == "\0\255")
print("unserialize number", unser("42"), math.type(unser("42")))
print("unserialize bad", unser("{"), unser("}}"))
print("no globals", unser("print"), unser("os.clock()"))
print("same name", textutils.serialise == ser, textutils.unserialise == unser)

local shared = {}
print("repeated", pcall(ser, { shared, shared }))
print("repeated allowed", ser({ shared, shared }, { compact = true, allow_repetitions = true }))
local loop = {}
loop[1] = loop
print("recursive", pcall(ser, loop))
print("function", pcall(ser, { print }))
