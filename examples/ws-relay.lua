-- A WebSocket relay: clients of this server share one upstream socket. Whatever a client sends
-- goes upstream; whatever comes from upstream goes to every client.
--
--   craft run --http-allow 127.0.0.1 examples/ws-relay.lua [PORT] [UPSTREAM]
--
-- PORT defaults to 8080 (0: any free port), UPSTREAM to ws://127.0.0.1:8081/. The relay ends
-- when the upstream closes.

local port = tonumber((...)) or 8080
local upstreamUrl = select(2, ...) or "ws://127.0.0.1:8081/"

local upstream, err = http.websocket(upstreamUrl)
if not upstream then error("upstream: " .. err, 0) end
local server = assert(http.websocketServer(port))
print(("Relay on ws://localhost:%d/ -> %s"):format(server.getPort(), upstreamUrl))

local clients = {} -- clientID -> client handle

while true do
    local event, a, b, c = os.pullEvent()
    if event == "websocket_server_connect" then
        clients[b.clientID] = b
    elseif event == "websocket_server_message" then
        upstream.send(b, c)
    elseif event == "websocket_server_closed" then
        clients[a] = nil
    elseif event == "websocket_message" and a == upstreamUrl then
        for _, client in pairs(clients) do pcall(client.send, b, c) end
    elseif event == "websocket_closed" and a == upstreamUrl then
        print(("Upstream closed (%s %s)"):format(tostring(c), tostring(b)))
        break
    end
end
server.close()
for _, client in pairs(clients) do client.close(1001, "upstream closed") end
