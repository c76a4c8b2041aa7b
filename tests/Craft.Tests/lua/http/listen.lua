-- http.listen's ways out, one after the other on the same port. After each the script waits in
-- read() while the test checks that the port is free (it binds the port itself), then listens
-- on the same port again. The test drives each phase. Prints "port N".

local port = http.addListener(0)
print("port " .. port)

local function serve(req, res)
    res.write(req.getURL())
    res.close()
end

local phase = 1
local function again()
    read()
    phase = phase + 1
    return phase .. " " .. tostring(http.addListener(port) == port)
end

-- 1. A truthy return from the callback ends it.
http.listen(port, function(req, res)
    serve(req, res)
    return req.getURL() == "/end"
end)
print("phase return ended")

-- 2. server_stop ends it; other events are discarded meanwhile.
print("again " .. again())
http.listen(port, function(req, res) serve(req, res) end)
os.queueEvent("marker")
local name = os.pullEvent()
print("phase stop ended, next event " .. name)

-- 3. An error in the callback goes on to the caller; the listener is removed first.
print("again " .. again())
local ok, err = pcall(http.listen, port, function(req, res)
    serve(req, res)
    if req.getURL() == "/boom" then error("boom", 0) end
end)
print("phase error ended: " .. tostring(ok) .. " " .. tostring(err))

-- 4. terminate ends it with "Terminated".
print("again " .. again())
ok, err = pcall(http.listen, port, serve)
print("phase terminate ended: " .. tostring(ok) .. " " .. tostring(err))

-- Once more, until server_stop.
print("again " .. again())
http.listen(port, serve)
print("phase last ended")
