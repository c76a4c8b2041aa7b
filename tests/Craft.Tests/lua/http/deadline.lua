-- Run with a short ResponseDeadline. Each request gets a partial response that the script never
-- closes; once the host queues "after" (the client got what the deadline sent), the script
-- reports what its handles do now. Prints "port N"; ends on server_stop.

local port = http.addListener(0)
print("port " .. port)

local function try(f, ...)
    local ok, err = pcall(f, ...)
    return ok and "ok" or tostring(err)
end

while true do
    local e = table.pack(os.pullEvent())
    if e[1] == "server_stop" then break end
    if e[1] == "http_request" then
        local req, res = e[3], e[4]
        local url = req.getURL()
        res.setStatusCode(202)
        res.setResponseHeader("X-Partial", "yes")
        res.write("partial")
        if url == "/streamed" then
            res.flush()
            res.write(" and more")
        end
        print("holding " .. url)
        os.pullEvent("after")
        local out = {
            "write " .. try(res.write, "x"),
            "writeLine " .. try(res.writeLine, "x"),
            "flush " .. try(res.flush),
            "setStatusCode " .. try(res.setStatusCode, 200),
            "setResponseHeader " .. try(res.setResponseHeader, "X-Late", "x"),
            "close " .. try(res.close),
            "url " .. req.getURL(),
            "read " .. try(req.read),
            "readLine " .. try(req.readLine),
            "readAll " .. try(req.readAll),
            "req.close " .. try(req.close),
        }
        for _, line in ipairs(out) do print("after " .. url .. ": " .. line) end
        print("reported " .. url)
    end
end
