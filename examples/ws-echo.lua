-- A WebSocket echo server: every message goes back to the client that sent it, text as text and
-- binary as binary.
-- Run it with:  dotnet run --project src/Craft.Cli -- run examples/ws-echo.lua [PORT]
-- then connect to ws://localhost:8081/ , e.g. from a browser's console:
--   const ws = new WebSocket("ws://localhost:8081/"); ws.onmessage = e => console.log(e.data); ws.send("hi")
-- Ctrl-C stops it (its clients get a close frame, 1001).
local server = assert(http.websocketServer(tonumber((...)) or 8081))
print(("Echoing on ws://localhost:%d/ (Ctrl-C to stop)"):format(server.getPort()))

local clients = {} -- clientID -> client handle
while true do
    local event, a, b, c = os.pullEventRaw()
    if event == "websocket_server_connect" then
        clients[b.clientID] = b
    elseif event == "websocket_server_message" then
        -- pcall: the client may have gone away since it sent this (send then raises).
        local client = clients[a]
        if client then pcall(client.send, b, c) end
    elseif event == "websocket_server_closed" then
        clients[a] = nil
    elseif event == "terminate" then
        break
    end
end
server.close()
