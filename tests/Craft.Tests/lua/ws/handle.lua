-- The server and client handles used one call at a time, as a script without an event loop would.
-- The test drives the other side; each step prints a line the test waits for.

local CLOSED = "attempt to use a closed file"

local function show(label, ok, err)
    -- The error text without its position, so that the test can compare it.
    print(label .. ": " .. tostring(ok) .. " " .. tostring(err):gsub("^[^:]*:%d+: ", ""))
end

local srv = assert(http.websocketServer(0))
local port = srv.getPort()

-- Arguments and a second server on the same port.
show("out of range", pcall(http.websocketServer, 65536))
local again, why = http.websocketServer(port)
print("same port: " .. tostring(again) .. " " .. tostring(why))

print("listen timeout: " .. tostring(srv.listen(0.05)))
print("port " .. port)

local h = srv:listen(30)
print("listened: " .. type(h.clientID))
print("receive timeout: " .. tostring(h.receive(0.05)))
print("waiting")
local m, binary = h:receive(30)
print("received: " .. m .. " " .. tostring(binary))
m, binary = h.receive(30)
print(("received binary: %d %s %d,%d"):format(#m, tostring(binary), m:byte(1), m:byte(2)))

show("send over the limit", pcall(h.send, string.rep("x", 128 * 1024 + 1)))
show("send at the limit", pcall(h.send, string.rep("y", 128 * 1024)))
h.send("binary\0\255", true)
print("receive until the peer closes")
print("receive when the peer closed: " .. tostring(h.receive(30)))
show("receive after close", pcall(h.receive))
show("send after close", pcall(h.send, "x"))
show("close after close", pcall(h.close))
show("close again", pcall(h.close, 1000, "again"))

-- A second client, closed from this side.
local h2 = srv.listen(30)
print("second")
h2.close(4003, "server done")
show("send after local close", pcall(h2.send, "x"))
show("receive after local close", pcall(h2.receive, 1))
show("close after local close", pcall(h2.close))
local _, id, reason, code = os.pullEvent("websocket_server_closed")
print(("local closed: %s %s %s"):format(tostring(rawequal(id, h2.clientID)), tostring(reason), tostring(code)))

-- A third client closes while nobody receives; its closed event is seen by pullEvent.
local h3 = srv.listen(30)
print("third")
local _, id3, reason3, code3 = os.pullEvent("websocket_server_closed")
print(("third closed: %s %s %s"):format(tostring(rawequal(id3, h3.clientID)), tostring(reason3), tostring(code3)))

srv.close()
srv.close()
show("listen after close", pcall(srv.listen, 1))
print("done")
