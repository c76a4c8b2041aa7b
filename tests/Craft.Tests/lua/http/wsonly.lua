-- Only a WebSocket server on the port. Prints "port N"; ends on server_stop.
local server = assert(http.websocketServer(0))
print("port " .. server.getPort())
os.pullEvent("server_stop")
server.close()
