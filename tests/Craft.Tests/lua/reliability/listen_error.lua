-- An http.listen callback that writes a little and raises: the client gets 500 at once (not an
-- empty 200 at the deadline) and the error goes on to the caller. Prints "port N".
local port = http.addListener(0)
print("port " .. port)
local ok, err = pcall(http.listen, port, function(req, res)
    res.setResponseHeader("X-Partial", "yes")
    res.write("partial")
    error("boom")
end)
print("listen ended: " .. tostring(err))
os.pullEvent("server_stop")
