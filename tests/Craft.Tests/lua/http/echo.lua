-- The general HTTP test server: one path per feature of the request and response handles.
-- Prints "port N" once listening; ends on server_stop and then prints "seen N" (requests seen).

local port = http.addListener(0)
print("port " .. port)

-- A value as text the test can compare: strings quoted with \r, \n and other controls escaped.
local function show(v)
    if v == nil then return "nil" end
    if type(v) ~= "string" then return tostring(v) end
    local escaped = v:gsub("[%c\\\"]", function(c)
        if c == "\n" then return "\\n" end
        if c == "\r" then return "\\r" end
        if c == "\\" or c == "\"" then return "\\" .. c end
        return ("\\%d"):format(c:byte())
    end)
    return '"' .. escaped .. '"'
end

-- The error a call raises, or "ok".
local function try(f, ...)
    local ok, err = pcall(f, ...)
    return ok and "ok" or tostring(err)
end

local function query(url)
    local q = {}
    for k, v in (url:match("%?(.*)$") or ""):gmatch("([^&=]+)=([^&]*)") do q[k] = v end
    return q
end

local routes = {}

-- The body back, with what the request looked like in headers.
routes["/echo"] = function(req, res)
    local address, remotePort = req.getRemoteAddress()
    res.setResponseHeader("X-Method", req.getMethod())
    res.setResponseHeader("X-URL", req.getURL())
    res.setResponseHeader("X-Remote", address .. " " .. remotePort)
    res.write(req.readAll())
    res.close()
end

-- read(n) through the body, then the end.
routes["/read"] = function(req, res)
    local out = {
        show(req.read(3)), show(req.read()), show(req.read(10)), show(req.read()), show(req.read(5)),
        show(req.readAll()),
    }
    res.write(table.concat(out, " "))
    res.close()
end

-- readLine (with or without the line endings) until nil.
routes["/lines"] = function(req, res)
    local trailing = query(req.getURL()).trailing == "1"
    local out = {}
    for _ = 1, 10 do
        local line = req.readLine(trailing)
        out[#out + 1] = show(line)
        if line == nil then break end
    end
    out[#out + 1] = show(req.readLine())
    out[#out + 1] = show(req.readAll())
    res.write(table.concat(out, " "))
    res.close()
end

-- Header lookups.
routes["/headers"] = function(req, res)
    local h = req.getRequestHeaders()
    local out = {
        "content-type=" .. show(h["content-type"]),
        "CONTENT-TYPE=" .. show(h["CONTENT-TYPE"]),
        "Content-Type=" .. show(h["Content-Type"]),
        "x-custom=" .. show(h["x-custom"]),
        "x-multi=" .. show(h["X-Multi"]),
        "missing=" .. show(h["x-missing"]),
    }
    h["x-custom"] = "changed"
    out[#out + 1] = "fresh=" .. show(req.getRequestHeaders()["x-custom"])
    res.write(table.concat(out, "\n"))
    res.close()
end

-- setStatusCode(code[, reason]) from the query.
routes["/status"] = function(req, res)
    local q = query(req.getURL())
    res.setStatusCode(tonumber(q.code), q.reason)
    res.write("status " .. q.code)
    res.close()
end

-- Headers out: lists, numbers, replacing.
routes["/headers-out"] = function(req, res)
    res.setResponseHeader("Set-Cookie", { "a=1", "b=2; Path=/" })
    res.setResponseHeader("X-Number", 42)
    res.setResponseHeader("X-Replaced", "one")
    res.setResponseHeader("x-replaced", "two")
    res.setResponseHeader("Content-Type", "text/plain; charset=utf-8")
    res.write("headers")
    res.close()
end

-- What HTTP forbids in a head is refused with "bad argument"; the body lists the errors.
routes["/inject"] = function(req, res)
    local out = {
        try(res.setResponseHeader, "X-Bad", "a\r\nInjected: yes"),
        try(res.setResponseHeader, "X-Bad", "a\nInjected: yes"),
        try(res.setResponseHeader, "X-Bad", "nul\0byte"),
        try(res.setResponseHeader, "X-Bad\r\nInjected", "yes"),
        try(res.setResponseHeader, "Bad Name", "v"),
        try(res.setResponseHeader, "Bad:Name", "v"),
        try(res.setResponseHeader, "", "v"),
        try(res.setResponseHeader, "X-List", { "fine", "b\r\nInjected: yes" }),
        try(res.setResponseHeader, "X-Bad", true),
        try(res.setResponseHeader, "X-Bad", { "fine", 3 }),
        try(res.setStatusCode, 200, "OK\r\nInjected: yes"),
        try(res.setStatusCode, 99),
        try(res.setStatusCode, 1000),
        try(res.setStatusCode, 200.5),
        try(res.setStatusCode, "200"),
        try(res.write, true),
        try(res.write),
    }
    res.write(table.concat(out, "\n"))
    res.close()
end

-- write(number), writeLine.
routes["/write"] = function(req, res)
    res.write(42)
    res.writeLine("line")
    res.write("")
    res.writeLine(7)
    res.write("end")
    res.close()
end

-- The CraftOS style (req.f()) above; the method style here.
routes["/colon"] = function(req, res)
    res:setStatusCode(201)
    res:setResponseHeader("X-Colon", req:getMethod() .. " " .. req:getURL())
    res:write(req:readAll())
    res:close()
end

-- Handles are plain tables, as in CraftOS-PC: copies made with pairs answer like the handles.
-- The body lists the keys of both; the method style works on the handles themselves.
routes["/copy"] = function(req, res)
    local function copyOf(h)
        local copy, keys = {}, {}
        for k, v in pairs(h) do
            copy[k] = v
            keys[#keys + 1] = k
        end
        table.sort(keys)
        return copy, table.concat(keys, ",")
    end
    local q, qKeys = copyOf(req)
    local r, rKeys = copyOf(res)
    r.setStatusCode(202)
    r.setResponseHeader("X-Copy", q.getMethod() .. " " .. q.getURL())
    r.writeLine("req: " .. qKeys)
    r.writeLine("res: " .. rKeys)
    r.write(q.read(2))
    res:write(req:readAll())
    r.close()
end

-- A status that has no body (?code=204 or 304), or a HEAD request: the body written is not sent.
routes["/nobody"] = function(req, res)
    local code = tonumber(query(req.getURL()).code)
    if code then res.setStatusCode(code) end
    res.write("never sent")
    res.close()
end

routes["/hello"] = function(req, res)
    res.write("hello")
    res.close()
end

-- The handles after close: every write-side call raises, close stays harmless, and the request
-- stays readable until it is closed itself. Printed as "closed: ..." lines.
routes["/closed"] = function(req, res)
    res.write("done")
    res.close()
    local out = {
        "write " .. try(res.write, "x"),
        "writeLine " .. try(res.writeLine, "x"),
        "flush " .. try(res.flush),
        "setStatusCode " .. try(res.setStatusCode, 500),
        "setResponseHeader " .. try(res.setResponseHeader, "X-Late", "x"),
        "close again " .. try(res.close),
        "url " .. req.getURL(),
        "read after res.close " .. show(req.read(2)),
    }
    req.close()
    out[#out + 1] = "req.close again " .. try(req.close)
    out[#out + 1] = "read " .. try(req.read)
    out[#out + 1] = "readLine " .. try(req.readLine)
    out[#out + 1] = "readAll " .. try(req.readAll)
    for _, line in ipairs(out) do print("closed: " .. line) end
end

local seen = 0
http.listen(port, function(req, res)
    seen = seen + 1
    local route = routes[req.getURL():match("^[^?]*")]
    if route then
        route(req, res)
    else
        res.setStatusCode(404)
        res.write("no route " .. req.getURL())
        res.close()
    end
end)
print("seen " .. seen)
