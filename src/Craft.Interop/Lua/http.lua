-- Craft's `http` server API: CraftOS-PC's http.listen, addListener, removeListener and
-- websocketServer, with the request, response and WebSocket handles.
--
-- Loaded by the BIOS with (native, project, expect, expectOpt). The natives return status values
-- (true / false, message); errors are raised here, never in C#.

local native, project, expect, expectOpt = ...

local type, select, tostring, error, pcall, rawequal, rawset, setmetatable, next, pairs, ipairs =
    type, select, tostring, error, pcall, rawequal, rawset, setmetatable, next, pairs, ipairs
local pack, unpack, concat = table.pack, table.unpack, table.concat
local find, sub, lower = string.find, string.sub, string.lower
local floor, mtype = math.floor, math.type
local co_yield = coroutine.yield

local n = native
local CLOSED = "attempt to use a closed file"

local http = {}

-- Methods work both as h.f(...) and h:f(...): each handle gets closures made on first use.
local function methodsFor(methods)
    return {
        __index = function(handle, key)
            local m = methods[key]
            if m == nil then return nil end
            local f = function(first, ...)
                if rawequal(first, handle) then return m(handle, ...) end
                return m(handle, first, ...)
            end
            rawset(handle, key, f)
            return f
        end,
    }
end

-- Handle state, kept out of the handle tables themselves.
local states = setmetatable({}, { __mode = "k" })

-- Requests whose responses are still open, by id, so that the host can close them at the deadline.
local live = {}

-------------------------------------------------------------------------------------------------
-- Headers: a plain table whose lookups ignore case.

local headerMeta = {
    __index = function(t, key)
        if type(key) ~= "string" then return nil end
        local wanted = lower(key)
        for name, value in next, t do
            if type(name) == "string" and lower(name) == wanted then return value end
        end
        return nil
    end,
}

-------------------------------------------------------------------------------------------------
-- The request handle: a read handle over the body.

local request = {}

local function readable(st)
    if st.closed then error(CLOSED, 3) end
    return st
end

function request.getURL(h) return states[h].url end
function request.getMethod(h) return states[h].method end
function request.getRemoteAddress(h)
    local st = states[h]
    return st.address, st.remotePort
end

function request.getRequestHeaders(h)
    local copy = {}
    for k, v in pairs(states[h].headers) do copy[k] = v end
    return setmetatable(copy, headerMeta)
end

function request.read(h, count)
    local st = readable(states[h])
    expectOpt(1, count, "number")
    local body, pos = st.body, st.pos
    if pos > #body then return nil end
    count = count and floor(count) or 1
    if count < 0 then count = 0 end
    local chunk = sub(body, pos, pos + count - 1)
    st.pos = pos + #chunk
    return chunk
end

function request.readLine(h, withTrailing)
    local st = readable(states[h])
    local body, pos = st.body, st.pos
    if pos > #body then return nil end
    local nl = find(body, "\n", pos, true)
    local line
    if nl then
        st.pos = nl + 1
        if withTrailing then
            line = sub(body, pos, nl)
        elseif nl > pos and sub(body, nl - 1, nl - 1) == "\r" then
            line = sub(body, pos, nl - 2)
        else
            line = sub(body, pos, nl - 1)
        end
    else
        st.pos = #body + 1
        line = sub(body, pos)
    end
    return line
end

function request.readAll(h)
    local st = readable(states[h])
    local body, pos = st.body, st.pos
    st.pos = #body + 1
    if pos == 1 then return body end
    return sub(body, pos)
end

function request.close(h)
    states[h].closed = true
end

local requestMeta = methodsFor(request)

-------------------------------------------------------------------------------------------------
-- The response handle: a write handle; the host keeps what is written.

local response = {}

local function check(ok, message)
    if not ok then error(message, 3) end
end

function response.setStatusCode(h, code, reason)
    expect(1, code, "number", 2)
    expectOpt(2, reason, "string", 2)
    check(n.resStatus(states[h].id, code, reason))
end

function response.setResponseHeader(h, name, value)
    expect(1, name, "string", 2)
    local t = type(value)
    if t == "number" then
        value = tostring(value)
    elseif t == "table" then
        for i = 1, #value do
            if type(value[i]) ~= "string" then
                error(("bad argument #2 (list of strings expected, got %s at %d)"):format(type(value[i]), i), 2)
            end
        end
    elseif t ~= "string" then
        error(("bad argument #2 (string expected, got %s)"):format(t), 2)
    end
    check(n.resHeader(states[h].id, name, value))
end

-- Bytes to send: a string, or a number in its string form; anything else is the caller's error.
local function bytesOf(data)
    local t = type(data)
    if t == "string" then return data end
    if t == "number" then return tostring(data) end
    error(("bad argument #1 (string expected, got %s)"):format(t), 3)
end

function response.write(h, data)
    check(n.resWrite(states[h].id, bytesOf(data)))
end

function response.writeLine(h, data)
    check(n.resWrite(states[h].id, bytesOf(data) .. "\n"))
end

function response.flush(h)
    check(n.resFlush(states[h].id))
end

function response.close(h)
    local st = states[h]
    live[st.id] = nil
    n.resClose(st.id)
end

local responseMeta = methodsFor(response)

-- kind 2: http_request(port, req, res)
project[2] = function(port, id, method, url, headers, body, address, remotePort)
    local req = setmetatable({}, requestMeta)
    local res = setmetatable({}, responseMeta)
    local rs = {
        id = id, method = method, url = url, headers = headers, body = body, pos = 1,
        address = address, remotePort = remotePort,
    }
    states[req] = rs
    states[res] = { id = id }
    live[id] = rs
    return pack("http_request", port, req, res)
end

-- The host calls this when it answered a request without the script (the deadline, shutdown):
-- the request handle closes too.
project.expire = function(id)
    local rs = live[id]
    if rs then
        rs.closed = true
        live[id] = nil
    end
end

-------------------------------------------------------------------------------------------------
-- Listeners

local function checkPort(port, level)
    level = (level or 2) + 1
    expect(1, port, "number", level)
    if port ~= port or port < 0 or port > 65535 or floor(port) ~= port then
        error("bad argument #1 (port out of range)", level)
    end
    return floor(port)
end

function http.addListener(port)
    port = checkPort(port)
    local ok, result = n.addListener(port)
    if not ok then error("Could not open server: " .. tostring(result), 2) end
    return result
end

function http.removeListener(port)
    port = checkPort(port)
    n.removeListener(port)
end

function http.listen(port, callback)
    expect(1, port, "number")
    expect(2, callback, "function")
    port = checkPort(port)
    local ok, result = n.addListener(port)
    if not ok then error("Could not open server: " .. tostring(result), 2) end
    port = result

    local done, err = pcall(function()
        while true do
            local e = pack(co_yield())
            local name = e[1]
            if name == "terminate" then error("Terminated", 0) end
            if name == "server_stop" then return end
            if name == "http_request" and e[2] == port then
                local res = e[4]
                local handled, stop = pcall(callback, e[3], res)
                if not handled then
                    -- The client learns at once that its request failed; the error goes on.
                    local st = states[res]
                    if st and live[st.id] then
                        live[st.id] = nil
                        n.resFail(st.id)
                    end
                    error(stop, 0)
                end
                if stop then return end
            end
        end
    end)
    n.removeListener(port)
    if not done then error(err, 0) end
end

-------------------------------------------------------------------------------------------------
-- WebSocket servers

-- One userdata per client, made when it connects and shared by all its events.
local clientIDs = {}

local function clientID(id)
    local ud = clientIDs[id]
    if ud == nil then
        ud = n.newClientID(id)
        clientIDs[id] = ud
    end
    return ud
end

local function cancel(timer)
    if timer then os.cancelTimer(timer) end
end

local client = {}

function client.send(h, message, binary)
    check(n.send(states[h].id, bytesOf(message), binary and true or false))
end

function client.receive(h, timeout)
    expectOpt(1, timeout, "number", 2)
    local st = states[h]
    if not n.isOpen(st.id) then error(CLOSED, 2) end
    local me = h.clientID
    local timer = timeout and os.startTimer(timeout)
    while true do
        local e = pack(os.pullEvent())
        local name = e[1]
        if name == "websocket_server_message" and e[2] == me then
            cancel(timer)
            return e[3], e[4]
        elseif name == "websocket_server_closed" and e[2] == me then
            cancel(timer)
            return nil
        elseif name == "timer" and e[2] == timer then
            return nil
        end
    end
end

function client.close(h, code, reason)
    expectOpt(1, code, "number", 2)
    expectOpt(2, reason, "string", 2)
    code = code and floor(code) or 1000
    -- What a close frame may carry (RFC 6455 5.5.1, 7.4): anything else could not be sent, and
    -- the peer would never hear of the close.
    if code < 1000 or code > 4999 or (code >= 1004 and code <= 1006) or code == 1015 then
        error("bad argument #1 (invalid close code)", 2)
    end
    if reason and #reason > 123 then error("bad argument #2 (reason longer than 123 bytes)", 2) end
    n.closeClient(states[h].id, code, reason or "")
end

local clientMeta = methodsFor(client)

project[3] = function(port, id)
    local h = setmetatable({ clientID = clientID(id) }, clientMeta)
    states[h] = { id = id, port = port }
    return pack("websocket_server_connect", port, h)
end

project[4] = function(id, data, binary)
    return pack("websocket_server_message", clientID(id), data, binary)
end

project[5] = function(id, reason, code)
    local ud = clientID(id)
    clientIDs[id] = nil
    return pack("websocket_server_closed", ud, reason, code)
end

local server = {}

function server.listen(h, timeout)
    local st = states[h]
    if st.closed then error(CLOSED, 2) end
    expectOpt(1, timeout, "number", 2)
    local timer = timeout and os.startTimer(timeout)
    while true do
        local e = pack(os.pullEvent())
        if e[1] == "websocket_server_connect" and e[2] == st.port then
            cancel(timer)
            return e[3]
        elseif e[1] == "timer" and e[2] == timer then
            return nil
        end
    end
end

function server.close(h)
    local st = states[h]
    if not st.closed then
        st.closed = true
        n.closeServer(st.port)
    end
end

-- Craft's addition: the port the server is on (useful after asking for port 0).
function server.getPort(h)
    return states[h].port
end

local serverMeta = methodsFor(server)

function http.websocketServer(port, headers)
    port = checkPort(port)
    expectOpt(2, headers, "table")
    local ok, result = n.openServer(port, headers)
    if not ok then return nil, result end
    local h = setmetatable({}, serverMeta)
    states[h] = { port = result, closed = false }
    return h
end

return http
