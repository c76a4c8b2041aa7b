-- Parsing JSON runs with the watchdog's hook off (it runs no script code). The hook must be back
-- on afterwards, and argument errors must still name the caller's line.
local doc = "[" .. string.rep('"item",', 100) .. '"last"]'
print(#textutils.unserializeJSON(doc))
print(pcall(function() textutils.unserializeJSON(nil) end))
print("spinning")
local started = os.clock()
while os.clock() - started < 5 do end
print("the watchdog did not stop the loop")
