-- With string.dump exposed (Unsandboxed), a binary chunk can be made: load still refuses it.
local binary = string.dump(function() return "ran" end)
print("binary", binary:sub(1, 4) == "\27Lua")
print("load", load(binary))
print("load b", load(binary, "bin", "b"))
print("load bt", load(binary, "bin", "bt"))
print("loadstring", loadstring(binary))
print("unserialize", textutils.unserialize(binary))
