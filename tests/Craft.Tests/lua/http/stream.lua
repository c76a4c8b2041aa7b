-- Streaming responses with res.flush(). Each stream writes its first part at once and the rest
-- when the host queues "next" (one "next" per waiting stream, oldest first).
-- Prints "port N"; ends on server_stop.

local port = http.addListener(0)
print("port " .. port)

local waiting = {}
local ticking = {}

local routes = {}

-- Chunked: the first line now, the rest on "next".
routes["/stream"] = function(req, res)
    res.setResponseHeader("Content-Type", "text/plain")
    res.write("first\n")
    res.flush()
    print("flushed /stream")
    -- The head is sent: it cannot change any more.
    local _, statusErr = pcall(res.setStatusCode, 500)
    local _, headerErr = pcall(res.setResponseHeader, "X-Late", "x")
    print("after flush: " .. tostring(statusErr) .. ", " .. tostring(headerErr))
    waiting[#waiting + 1] = function()
        res.write("second\n")
        res.flush()
        res.write("third\n")
        res.close()
        print("closed /stream")
    end
end

-- With the script's own Content-Length: not chunked.
routes["/length"] = function(req, res)
    res.setResponseHeader("Content-Length", "13")
    res.write("first\n")
    res.flush()
    print("flushed /length")
    waiting[#waiting + 1] = function()
        res.write("second\n")
        res.close()
        print("closed /length")
    end
end

-- The client goes away after the first part; writing on must not fail the script.
routes["/gone"] = function(req, res)
    res.write("first\n")
    res.flush()
    print("flushed /gone")
    waiting[#waiting + 1] = function()
        local results = {}
        for i = 1, 20 do
            results[#results + 1] = pcall(res.write, ("x"):rep(65536))
            results[#results + 1] = pcall(res.flush)
        end
        results[#results + 1] = pcall(res.close)
        local all = true
        for _, ok in ipairs(results) do all = all and ok end
        print("gone writes ok: " .. tostring(all))
    end
end

-- The client goes away before anything is sent.
routes["/hold"] = function(req, res)
    print("holding /hold")
    waiting[#waiting + 1] = function()
        local ok1 = pcall(res.write, "late")
        local ok2 = pcall(res.close)
        print("hold writes ok: " .. tostring(ok1 and ok2))
    end
end

-- Server-sent ticks, one every 0.2 s, ?n= of them: a stream longer than the deadline, each
-- flush well inside it.
routes["/ticks"] = function(req, res)
    local n = tonumber(req.getURL():match("n=(%d+)")) or 5
    res.setResponseHeader("Content-Type", "text/event-stream")
    res.flush()
    ticking[os.startTimer(0.2)] = { res = res, left = n, count = 0 }
end

routes["/plain"] = function(req, res)
    res.write("plain")
    res.close()
end

while true do
    local e = table.pack(os.pullEvent())
    if e[1] == "server_stop" then
        break
    elseif e[1] == "http_request" then
        local req, res = e[3], e[4]
        routes[req.getURL():match("^[^?]*")](req, res)
    elseif e[1] == "next" then
        local f = table.remove(waiting, 1)
        if f then f() end
    elseif e[1] == "timer" and ticking[e[2]] then
        local t = ticking[e[2]]
        ticking[e[2]] = nil
        t.count = t.count + 1
        t.res.write("data: tick " .. t.count .. "\n\n")
        t.res.flush()
        if t.count < t.left then
            ticking[os.startTimer(0.2)] = t
        else
            t.res.close()
            print("ticks done")
        end
    end
end
