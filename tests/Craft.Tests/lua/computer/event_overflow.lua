-- The queue holds 256 events; what a script queues beyond that is dropped, as in CraftOS.
for i = 1, 300 do os.queueEvent("e", i) end
local count, last = 0, nil
os.startTimer(0) -- marks the end: it can only enter the queue after the 256 events
while true do
    local name, v = os.pullEvent()
    if name == "timer" then break end
    count, last = count + 1, v
end
print("received", count, "last", last)
-- Room again once the queue has drained.
os.queueEvent("after", "ok")
print(os.pullEvent("after"))
