-- HTTP and WebSocket on one port: plain requests get a page, upgrades become echo clients.
local port = http.addListener(0)
local srv = assert(http.websocketServer(port))
print("port " .. port)

local handles = {}
while true do
    local event, a, b, c = os.pullEvent()
    if event == "http_request" then
        local req, res = b, c
        res.setResponseHeader("Content-Type", "text/plain")
        res.write("page " .. req.getURL())
        res.close()
    elseif event == "websocket_server_connect" then
        handles[b.clientID] = b
    elseif event == "websocket_server_message" then
        handles[a].send("echo " .. b)
    elseif event == "stop" then
        break
    end
end
