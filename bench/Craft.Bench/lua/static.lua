-- A static-file server as CraftOS programs write one: each request opens the file under the
-- computer's root, reads it whole and writes it.
local port = http.addListener(tonumber((...)) or 0)
print("port " .. port)
http.listen(port, function(req, res)
    local path = req.getURL():gsub("%?.*$", "")
    local file = fs.open(path, "rb")
    if file then
        local data = file.readAll()
        file.close()
        res.setResponseHeader("Content-Type", "application/octet-stream")
        res.write(data)
    else
        res.setStatusCode(404)
    end
    res.close()
end)
