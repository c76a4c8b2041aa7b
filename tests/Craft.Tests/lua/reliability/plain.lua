-- Answers every request with its URL as getURL() gives it; counts WebSocket connects on the same
-- port. Prints "port N", "url U" per request, "connect" per WebSocket client.
local port = http.addListener(0)
http.websocketServer(port)
print("port " .. port)
while true do
    local e = table.pack(os.pullEvent())
    if e[1] == "server_stop" then break end
    if e[1] == "http_request" then
        local url = e[3].getURL()
        print("url " .. url)
        e[4].write(url)
        e[4].close()
    elseif e[1] == "websocket_server_connect" then
        print("connect")
    elseif e[1] == "websocket_server_closed" then
        print("closed " .. tostring(e[4]))
    end
end
