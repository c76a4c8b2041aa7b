-- Keeps queueing its own events and pulling them (CraftOS's "yield" idiom) while it serves:
-- requests and timers must still come through. Prints "port N"; ends on server_stop.
local port = http.addListener(0)
print("port " .. port)
local timer = os.startTimer(0.05)
while true do
    os.queueEvent("spin")
    local e = table.pack(os.pullEvent())
    if e[1] == "http_request" then
        e[4].write("served while spinning")
        e[4].close()
    elseif e[1] == "timer" and e[2] == timer then
        print("timer fired")
    elseif e[1] == "server_stop" then
        break
    end
end
