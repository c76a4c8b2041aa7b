-- The HTTP hello case: the same handler as examples/hello.lua, on the port the bench gives.
local port = http.addListener(tonumber((...)) or 0)
print("port " .. port)
http.listen(port, function(req, res)
    res.write("hello")
    res.close()
end)
