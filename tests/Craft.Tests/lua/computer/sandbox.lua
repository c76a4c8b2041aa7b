-- The names a CraftOS script cannot reach, unless the host widens the sandbox.
-- io is CraftOS's, over fs: the host's io (with popen) is never reachable.
local names = {
    "io.popen", "debug", "dofile", "loadfile", "require", "package", "collectgarbage",
    "os.execute", "os.exit", "os.remove", "os.rename", "os.getenv", "os.tmpname", "os.setlocale",
    "string.dump",
}
for _, name in ipairs(names) do
    local value = _G
    for part in name:gmatch("[^.]+") do value = value and value[part] end
    print(name, type(value))
end
print("string methods", ("x").dump == nil)

-- load only takes text, whatever mode is asked for.
print("load text", load("return 1 + 1")())
print("load mode b", load("return 'text'", "chunk", "b")())
print("load env", load("return x", "chunk", "t", { x = "env" })())
print("load fn", load(coroutine.wrap(function() coroutine.yield("return ") coroutine.yield("7") end))())
print("load error", load("return +", "=chunk"))
