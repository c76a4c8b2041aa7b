-- The event path: os.queueEvent -> os.pullEvent round trips, then host events received.
local n = tonumber((...)) or 1000000
local t0 = os.clock()
for i = 1, n do
    os.queueEvent("bench")
    os.pullEvent("bench")
end
print(("script %d %.6f"):format(n, os.clock() - t0))
os.queueEvent("ready")
local hostCount = 0
while true do
    local e = os.pullEvent()
    if e == "host" then
        hostCount = hostCount + 1
    elseif e == "done" then
        break
    end
end
print("host " .. hostCount)
