-- Sends 300 messages of 100 KiB to its first client, which never reads. Every send succeeds; the
-- client is given up once its send queue passes the cap, and the script hears of it as a close.
-- Prints "port N", "connected", "sent all", then "closed CODE REASON". Floods once the host
-- queues "go".
local server = http.websocketServer(0)
print("port " .. server.getPort())
local client = server.listen()
print("connected")
os.pullEvent("go") -- the test has read the handshake's answer
local chunk = string.rep("x", 100 * 1024)
for _ = 1, 300 do client.send(chunk, true) end
print("sent all")
while true do
    local e = table.pack(os.pullEvent())
    if e[1] == "websocket_server_closed" then
        print("closed " .. tostring(e[4]) .. " " .. tostring(e[3]))
    elseif e[1] == "server_stop" then
        break
    end
end
