-- Keeps its event queue busy: waits in read() until the test's requests are on their way, then
-- queues WORK "work" events (arguments: WORK, and the milliseconds each takes) and works through
-- them without yielding in between, so requests that arrive meanwhile wait in the queue behind
-- them. Answers the requests it gets; prints "work done", and "seen N" when it stops.
local port = http.addListener(0)
print("port " .. port)
local work, ms = tonumber((...)) or 30, tonumber((select(2, ...))) or 40

read()
for _ = 1, work do os.queueEvent("work") end

local left, seen = work, 0
while true do
    local e = table.pack(os.pullEvent())
    if e[1] == "work" then
        local stop = os.clock() + ms / 1000
        while os.clock() < stop do end
        left = left - 1
        if left == 0 then print("work done") end
    elseif e[1] == "http_request" then
        seen = seen + 1
        e[4].write("served")
        e[4].close()
    elseif e[1] == "server_stop" then
        break
    end
end
print("seen " .. seen)
