-- removeListener while requests wait: holds the first request, then blocks in read() (the
-- computer takes no events meanwhile) while the test sends more; then removes the listener,
-- answers the held request, listens on the same port again and serves until server_stop.
-- Prints "port N".

local port = http.addListener(0)
print("port " .. port)

local held
repeat
    local e = table.pack(os.pullEvent())
    if e[1] == "http_request" then held = e end
until held
print("holding " .. held[3].getURL())

read()
http.removeListener(port)
print("removed")

held[4].write("held and answered")
held[4].close()

print("listening again: " .. tostring(http.addListener(port) == port))

local urls = {}
http.listen(port, function(req, res)
    urls[#urls + 1] = req.getURL()
    res.write("again " .. req.getURL())
    res.close()
end)
print("served " .. table.concat(urls, " "))
