-- An HTTP listener and a WebSocket echo server, each on a free port, for the TLS, logging and
-- hosting tests. Prints "port N" (HTTP) and "ws N" (WebSocket). HTTP answers
-- "<method> <url> <body length>"; every WebSocket message is echoed. Ends on the event "stop".
local port = http.addListener(0)
local server = assert(http.websocketServer(0))
print("ws " .. server.getPort())
print("port " .. port)

local clients = {}
while true do
    local event, a, b, c = os.pullEvent()
    if event == "http_request" then
        local body = b.readAll() or ""
        c.write(("%s %s %d"):format(b.getMethod(), b.getURL(), #body))
        c.close()
    elseif event == "websocket_server_connect" then
        clients[b.clientID] = b
    elseif event == "websocket_server_message" then
        local client = clients[a]
        if client then pcall(client.send, b, c) end
    elseif event == "websocket_server_closed" then
        clients[a] = nil
    elseif event == "stop" then
        break
    end
end
