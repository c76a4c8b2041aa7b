-- Client WebSockets against an independent server (tests/Craft.Tests/peers/ws_server_peer.py),
-- run with --http-allow 127.0.0.1 and a 1000-byte message limit. Args: the peer's port, a port
-- nobody listens on. Prints "ok" when every check held.
local port, closedPort = ...
local base = "ws://127.0.0.1:" .. port
local function eq(got, want, what)
    if got ~= want then error(("%s: got %s, want %s"):format(what, tostring(got), tostring(want)), 2) end
end

-- Text and binary, whole and in order.
local ws = assert(http.websocket(base .. "/echo"))
for i = 1, 20 do ws.send("message " .. i) end
for i = 1, 20 do eq(ws.receive(), "message " .. i, "in order") end
local all = {}
for i = 0, 255 do all[#all + 1] = string.char(i) end
all = table.concat(all)
ws.send(all, true)
local got, binary = ws.receive()
eq(got, all, "binary bytes 0-255"); eq(binary, true, "binary flag")
ws.send("text")
eq(select(2, ws.receive()), false, "text flag")
ws.send(("z"):rep(1000))
eq(#ws.receive(), 1000, "at the message limit")
eq(select(2, pcall(ws.send, ("z"):rep(1001))), "Message is too large", "send over the limit")
eq(ws.receive(0.2), nil, "receive timeout")
ws.close()
eq(select(2, pcall(ws.receive)), "attempt to use a closed file", "receive after close")
eq(select(2, pcall(ws.send, "x")), "attempt to use a closed file", "send after close")
ws.close()

-- Headers reach the server; messages arrive as events too.
ws = assert(http.websocket(base .. "/headers", { ["X-Test"] = "hello header" }))
local event, url, message, isBinary = os.pullEvent("websocket_message")
eq(url, base .. "/headers", "event url"); eq(message, "hello header", "header sent"); eq(isBinary, false, "text")
ws.close()

-- A fragmented message arrives whole.
ws = assert(http.websocket(base .. "/fragments"))
eq(ws.receive(), "fragmented", "fragments joined")
ws.close()

-- The peer closes: its code and reason, once.
ws = assert(http.websocket { url = base .. "/bye" })
eq(ws.receive(), "bye", "last message")
local _, curl, reason, code = os.pullEvent("websocket_closed")
eq(curl, base .. "/bye", "closed url"); eq(code, 4001, "peer's code"); eq(reason, "peer bye", "peer's reason")
eq(select(2, pcall(ws.receive)), "attempt to use a closed file", "receive after the peer closed")

-- A message over the limit closes the socket with 1009.
ws = assert(http.websocket(base .. "/big"))
local bigEvent, _, bigReason, bigCode = os.pullEvent()
eq(bigEvent, "websocket_closed", "no message over the limit, closed")
eq(bigCode, 1009, "1009 over the limit"); eq(bigReason, "Message too large", "its reason")

-- Failures.
eq(select(2, http.websocket("ws://127.0.0.1:" .. closedPort .. "/")), "Could not connect", "refused")
eq(select(2, http.websocket("http://127.0.0.1/")), "Invalid scheme 'http'", "scheme")
eq(http.websocketAsync("ws://127.0.0.1:" .. closedPort .. "/"), true, "async starts")
local _, furl, fwhy = os.pullEvent("websocket_failure")
eq(furl, "ws://127.0.0.1:" .. closedPort .. "/", "failure url"); eq(fwhy, "Could not connect", "failure message")

-- At most two open in this run.
local a = assert(http.websocket(base .. "/echo"))
local b = assert(http.websocket(base .. "/echo"))
eq(select(2, pcall(http.websocket, base .. "/echo")), "Too many websockets already open", "limit")
a.close()
local c = assert(http.websocket(base .. "/echo"))
b.close(); c.close()
print("ok")
