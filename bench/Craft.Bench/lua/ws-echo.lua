-- The WebSocket echo case: every message goes back to its sender.
local server = assert(http.websocketServer(tonumber((...)) or 0))
print("port " .. server.getPort())
local clients = {}
while true do
    local event, a, b, c = os.pullEvent()
    if event == "websocket_server_connect" then
        clients[b.clientID] = b
    elseif event == "websocket_server_message" then
        local client = clients[a]
        if client then client.send(b, c) end
    elseif event == "websocket_server_closed" then
        clients[a] = nil
    end
end
