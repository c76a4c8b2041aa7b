-- Answers every request after sleeping 0.2 s. Prints "port N".
local port = http.addListener(0)
print("port " .. port)
http.listen(port, function(req, res)
    sleep(0.2)
    res.write("slow " .. req.getURL())
    res.close()
end)
