-- CraftOS compatibility of the language (SPEC 5.5): each line prints exact results.

-- getfenv / setfenv. The program runs in its own environment over _G (as CraftOS's shell runs
-- programs): level 1 is that environment, level 0 the globals.
local function readsGlobal() return marker end
print("getfenv()", getfenv() == _ENV, getfenv(1) == _ENV, getfenv(0) == _G)
print("getfenv(f)", getfenv(readsGlobal) == _ENV, getfenv(print) == _G, getfenv(function() end) == _G)
local env = { marker = "from env" }
print("setfenv", setfenv(readsGlobal, env) == readsGlobal, getfenv(readsGlobal) == env, readsGlobal())
marker = "global"
print("others keep _G", (function() return marker end)())
local function level2()
    local e = getfenv(2)
    return e
end
local function caller()
    local e = level2() -- not a tail call: a tail call leaves no level behind
    return e, marker -- reads a global, so it has an environment (an _ENV upvalue) to set
end
setfenv(caller, env)
print("getfenv(2)", level2() == _ENV, caller() == env, select(2, caller()))
local chunk = load("x = 1; local e = getfenv(1); return e")
local sandbox = {}
setfenv(chunk, sandbox)
sandbox.getfenv = getfenv
print("setfenv chunk", chunk() == sandbox, sandbox.x, x)
print("setfenv(1)", (function()
    setfenv(1, { tostring = tostring, answer = 42 })
    return tostring(answer)
end)())
print("bad level", pcall(getfenv, -1))
print("invalid level", pcall(getfenv, 100))
print("bad env", pcall(setfenv, readsGlobal, 1))
print("C function", pcall(setfenv, string.rep, {}))
print("C function env", getfenv(string.rep) == _G)

-- table.maxn, math.log10, os.sleep
print("maxn", table.maxn({ 1, 2, nil, 4, [10] = 1, [2.5] = 1, x = 1 }), table.maxn({}), table.maxn({ [-3] = 1 }))
print("log10", math.log10(1000), math.log10(0.01), math.log10(1))
print("os.sleep", os.sleep == sleep)

-- bit: CraftOS's old names for bit32, unsigned 32-bit results
print("bnot", bit.bnot(0), bit.bnot(-1), bit.bnot(0xF0F0F0F0))
print("band bor bxor", bit.band(0xFF, 0x0F), bit.bor(1, 2), bit.bxor(5, 3), bit.band(-1, -1))
print("brshift", bit.brshift(-8, 1), bit.brshift(8, 1), bit.brshift(0x80000000, 31))
print("blogic_rshift", bit.blogic_rshift(-1, 28), bit.blogic_rshift(0x80000000, 31))
print("blshift", bit.blshift(1, 31), bit.blshift(1, 32), bit.blshift(0xFFFFFFFF, 4))

-- Numbers print as CraftOS prints them
print("tostring", tostring(10 / 2), tostring(5), tostring(1.5), tostring(-0.25), tostring(3.0 * 2))
print("big", tostring(2 ^ 63), tostring(1e15), tostring(2 ^ 53), tostring(1e100), tostring(123456789012))
print("special", tostring(1 / 0), tostring(-1 / 0), tostring(0 / 0) == tostring(0 / 0), tostring(1e-5))
print("integers", tostring(math.maxinteger), tostring(math.mininteger), tostring(-7))
print(1.5, 2.0, 10 / 2)
write(4.0)
write(" ")
write(0.1)
print()
print("format", string.format("%s %d", 5.0, 5), ("%s|%5s|%-4s|"):format(2.0, 3.0, 1.5))
print("format others", string.format("%.1f %g %q", 2.0, 3.0, "s"), string.format("%%s %s", 7.0))
print("serialize", textutils.serialize(5.0), textutils.serialize({ 2.0, 2.5 }, { compact = true }))
print("json", textutils.serializeJSON(5.0), textutils.serializeJSON({ 1.0, 0.5, 3 }))
print("metatable", getmetatable(1), getmetatable(1.5))
print("error value", select(2, pcall(error, 2.0)))
-- Lua 5.4 converts inside the VM, without asking: ".." and table.concat keep ".0".
print("concat", 5.0 .. "", table.concat({ 1.0, 2 }, ","))

-- _HOST and _HEADLESS
print("_HOST", _HOST:match("^ComputerCraft %d+%.%d+%.%d+ %(Craft %d+%.%d+%.%d+%)$") ~= nil)
print("_HEADLESS", _HEADLESS)
