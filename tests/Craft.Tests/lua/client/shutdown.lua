-- Ends with a request running and a client WebSocket open: the computer cancels the one and
-- closes the other (1001) as it shuts down. Args: the http peer's port, the WebSocket peer's.
local httpPort, wsPort = ...
local ws = assert(http.websocket("ws://127.0.0.1:" .. wsPort .. "/echo"))
assert(http.request("http://127.0.0.1:" .. httpPort .. "/slow?ms=20000"))
ws.send("still here")
assert(ws.receive() == "still here")
