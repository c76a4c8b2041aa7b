-- Run with a 2 s ResponseDeadline. Each request: write and flush, compute for 1.2 s without
-- yielding, write and flush again (a fresh 2 s from that moment), sleep 1.2 s, finish: 2.4 s
-- after the first flush, 1.2 s after the second. Prints "port N".
local port = http.addListener(0)
print("port " .. port)
http.listen(port, function(req, res)
    res.write("a")
    res.flush()
    local started = os.clock()
    while os.clock() - started < 1.2 do end
    res.write("b")
    res.flush()
    sleep(1.2)
    res.write("c")
    res.close()
end)
