-- Answers every request 200 with a short body, for the fuzz tests.
-- Prints "port N" once listening; ends on server_stop and then prints "seen N" (requests seen).
local port = http.addListener(0)
print("port " .. port)

local seen = 0
while true do
    local event, _, _, res = os.pullEvent()
    if event == "http_request" then
        seen = seen + 1
        res.write("ok")
        res.close()
    elseif event == "server_stop" then
        break
    end
end
print("seen " .. seen)
