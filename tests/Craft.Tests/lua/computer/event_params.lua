-- Every kind of parameter survives os.queueEvent -> os.pullEvent, nils and count included.
local t = {}
local f = function() end
local co = coroutine.create(f)
os.queueEvent("kinds", nil, true, false, 42, 2.5, "bytes\0\255", t, f, co, nil)
local e = table.pack(os.pullEvent("kinds"))
print("n", e.n)
print("name", e[1])
print("nil", e[2] == nil)
print("true", e[3] == true)
print("false", e[4] == false)
print("integer", e[5], math.type(e[5]))
print("float", e[6], math.type(e[6]))
print("bytes", #e[7], e[7] == "bytes\0\255")
print("table", rawequal(e[8], t))
print("function", rawequal(e[9], f))
print("thread", rawequal(e[10], co))
print("trailing nil", e[11] == nil)

-- An event with no parameters, and a name with any byte in it.
os.queueEvent("bare")
local bare = table.pack(os.pullEvent())
print("bare", bare.n, bare[1])
os.queueEvent("n\0\255")
local odd = os.pullEvent()
print("odd name", odd == "n\0\255", #odd)
