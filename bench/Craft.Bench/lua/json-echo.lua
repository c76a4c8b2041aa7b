-- The JSON echo case: parse the posted JSON and send it back serialized.
local port = http.addListener(tonumber((...)) or 0)
print("port " .. port)
http.listen(port, function(req, res)
    local value = textutils.unserializeJSON(req.readAll())
    res.setResponseHeader("Content-Type", "application/json")
    res.write(textutils.serializeJSON(value))
    res.close()
end)
