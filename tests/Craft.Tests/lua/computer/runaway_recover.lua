-- The watchdog's error can be caught; yielding afterwards resets it.
local ok, err = pcall(function() while true do end end)
print(ok, err)
os.queueEvent("breath")
os.pullEvent("breath")
print("recovered")
-- Coroutines the script creates are watched too.
local co = coroutine.create(function() while true do end end)
print(coroutine.resume(co))
sleep(0)
local wrapped = coroutine.wrap(function() while true do end end)
print(pcall(wrapped))
