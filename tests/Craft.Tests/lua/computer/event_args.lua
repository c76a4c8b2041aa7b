-- Bad names and filters are refused with CraftOS's message, also right after good ones (the event
-- functions skip the type check for the name or filter they last saw to be a string).
local function try(f) print(pcall(f)) end
os.queueEvent("good")
try(function() os.queueEvent(nil) end)
try(function() os.queueEvent(42) end)
os.queueEvent("good")
try(function() os.queueEvent({}) end)
print(os.pullEvent("good"))
try(function() os.pullEvent(5) end)
try(function() os.pullEventRaw(true) end)
os.queueEvent("good")
print(os.pullEventRaw("good"))
try(function() os.pullEventRaw({}) end)
-- A level-2 error at the top level names no position: the caller is not Lua code.
error("top level", 2)
