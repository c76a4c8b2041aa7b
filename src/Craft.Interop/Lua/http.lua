-- Craft's `http` server API: CraftOS-PC's http.listen, addListener, removeListener and
-- websocketServer, with the request, response and WebSocket handles.
--
-- Loaded by the BIOS with (native, project, expect, expectOpt). The natives return status values
-- (true / false, message); errors are raised here, never in C#.

local native, project, expect, expectOpt = ...

local type, tostring, error, pcall, rawequal, rawget, rawset, setmetatable, next, pairs =
    type, tostring, error, pcall, rawequal, rawget, rawset, setmetatable, next, pairs
local pack = table.pack
local find, sub, lower = string.find, string.sub, string.lower
local floor = math.floor
local co_yield = coroutine.yield

local n = native
local CLOSED = "attempt to use a closed file"

local http = {}

-- Handles are tables of functions, as in CraftOS-PC: `pairs` lists them, and a copy made with
-- `for k, v in pairs(h) do copy[k] = v end` works like the handle. Every function works both as
-- h.f(...) and h:f(...). Requests and responses are the hot path of a server, and most handlers
-- call two or three of their functions: each function's closure is made on first use (through
-- __index) and kept in the handle, and `pairs` (through __pairs) makes the rest first, so what a
-- program sees is the same as with every closure made up front. The state lives in `states`.

-- Handle -> its state; weak, so a handle nobody holds is collected with its state.
local states = setmetatable({}, { __mode = "k" })

-- Requests whose responses are still open: id -> request state, so that the host can close the
-- request handle at the deadline.
local live = {}

-- A metatable that makes `methods` (name -> function(handle, ...)) the handle's functions.
local function handleMeta(methods)
    -- One maker per method, made once: a handle's function then holds its handle as its only
    -- fresh upvalue (the method is the maker's, shared).
    local makers = {}
    for key, m in next, methods do
        makers[key] = function(h)
            -- Tail calls: an error raised at level 2 in `m` points at the handle's caller.
            return function(first, ...)
                if rawequal(first, h) then return m(h, ...) end
                return m(h, first, ...)
            end
        end
    end
    local function bind(h, key)
        local make = makers[key]
        if make == nil then return nil end
        local f = make(h)
        rawset(h, key, f)
        return f
    end
    return {
        __index = bind,
        __pairs = function(h)
            for key in next, methods do
                if rawget(h, key) == nil then bind(h, key) end
            end
            return next, h, nil
        end,
    }
end

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
-- The request handle: a read handle over the body. Its state: { id, method, url, headers, body,
-- pos, closed, address, remotePort }.

local request = {}

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

local function readable(h)
    local st = states[h]
    if st.closed then error(CLOSED, 3) end
    return st
end

function request.read(h, count)
    local st = readable(h)
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
    local st = readable(h)
    local body, pos = st.body, st.pos
    if pos > #body then return nil end
    local nl = find(body, "\n", pos, true)
    if not nl then
        st.pos = #body + 1
        return sub(body, pos)
    end
    st.pos = nl + 1
    if withTrailing then return sub(body, pos, nl) end
    if nl > pos and sub(body, nl - 1, nl - 1) == "\r" then return sub(body, pos, nl - 2) end
    return sub(body, pos, nl - 1)
end

function request.readAll(h)
    local st = readable(h)
    local body, pos = st.body, st.pos
    st.pos = #body + 1
    if pos == 1 then return body end
    return sub(body, pos)
end

function request.close(h)
    states[h].closed = true
end

local requestMeta = handleMeta(request)

-------------------------------------------------------------------------------------------------
-- The response handle: a write handle; the host keeps what is written and knows when it closed.
-- Its state: { id }.

local function check(ok, message)
    if not ok then error(message, 3) end
end

-- Bytes to send: a string, or a number in its string form; anything else is the caller's error.
local function bytesOf(data)
    local t = type(data)
    if t == "string" then return data end
    if t == "number" then return tostring(data) end
    error(("bad argument #1 (string expected, got %s)"):format(t), 3)
end

local response = {}

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
    local id = states[h].id
    live[id] = nil
    n.resClose(id)
end

local responseMeta = handleMeta(response)

-- kind 2: http_request(port, req, res)
project[2] = function(port, id, method, url, headers, body, address, remotePort)
    local req = setmetatable({}, requestMeta)
    local res = setmetatable({}, responseMeta)
    local rs = {
        id = id, method = method, url = url, headers = headers, body = body, pos = 1,
        address = address, remotePort = remotePort, closed = false,
    }
    -- The response's functions read only `id`: both handles share the one state.
    states[req] = rs
    states[res] = rs
    live[id] = rs
    return "http_request", port, req, res
end

-- The host calls this when it answered a request without the script (the deadline, shutdown):
-- the request handle closes too.
project.expire = function(id)
    local st = live[id]
    if st then
        st.closed = true
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

    -- The request whose callback runs now: if the callback raises, the client learns at once
    -- that its request failed (500), and the error goes on. One pcall for the whole loop.
    local current
    -- One event: true when the loop ends. (Its parameters as arguments: no table per event.)
    local function serve(name, p, req, res)
        if name == "terminate" then error("Terminated", 0) end
        if name == "server_stop" then return true end
        if name == "http_request" and p == port then
            current = res
            local stop = callback(req, res)
            current = nil
            if stop then return true end
        end
        return false
    end
    local done, err = pcall(function()
        repeat until serve(co_yield())
    end)
    if not done and current ~= nil then
        -- The response's id, if Craft made this handle (a script may queue a look-alike).
        local st = states[current]
        local id = st and st.id
        if id and live[id] then
            live[id] = nil
            n.resFail(id)
        end
    end
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

-- A WebSocket handle: send, receive, close. `key` is what the socket's events carry to name it
-- (a server client's clientID, or a client socket's URL); `messageEvent` and `closedEvent` are
-- their names. Server clients and the script's own client sockets share it.
local function newSocketHandle(id, key, messageEvent, closedEvent)
    local h
    h = {
        send = function(a, b, c)
            if a == h and rawequal(a, h) then a, b = b, c end
            check(n.send(id, bytesOf(a), b and true or false))
        end,

        receive = function(a, b)
            if a == h and rawequal(a, h) then a = b end
            expectOpt(1, a, "number", 2)
            if not n.isOpen(id) then error(CLOSED, 2) end
            local timer = a and os.startTimer(a)
            while true do
                local name, from, message, binary = os.pullEvent()
                if name == messageEvent and from == key then
                    cancel(timer)
                    return message, binary
                elseif name == closedEvent and from == key then
                    cancel(timer)
                    return nil
                elseif name == "timer" and from == timer then
                    return nil
                end
            end
        end,

        close = function(a, b, c)
            if a == h and rawequal(a, h) then a, b = b, c end
            expectOpt(1, a, "number", 2)
            expectOpt(2, b, "string", 2)
            local code = a and floor(a) or 1000
            -- What a close frame may carry (RFC 6455 5.5.1, 7.4): anything else could not be
            -- sent, and the peer would never hear of the close.
            if code < 1000 or code > 4999 or (code >= 1004 and code <= 1006) or code == 1015 then
                error("bad argument #1 (invalid close code)", 2)
            end
            if b and #b > 123 then error("bad argument #2 (reason longer than 123 bytes)", 2) end
            n.closeClient(id, code, b or "")
        end,
    }
    return h
end

-- The server's client handle: clientID, send, receive, close.
local function newClient(id, cid)
    local h = newSocketHandle(id, cid, "websocket_server_message", "websocket_server_closed")
    h.clientID = cid
    return h
end

project[3] = function(port, id)
    return "websocket_server_connect", port, newClient(id, clientID(id))
end

project[4] = function(id, data, binary)
    return "websocket_server_message", clientID(id), data, binary
end

project[5] = function(id, reason, code)
    local ud = clientID(id)
    clientIDs[id] = nil
    return "websocket_server_closed", ud, reason, code
end

-- The server handle: listen, close, and Craft's getPort (the port, useful after asking for 0).
local function newServer(port)
    local closed = false
    local h
    h = {
        listen = function(a, b)
            if a == h and rawequal(a, h) then a = b end
            if closed then error(CLOSED, 2) end
            expectOpt(1, a, "number", 2)
            local timer = a and os.startTimer(a)
            while true do
                local e = pack(os.pullEvent())
                if e[1] == "websocket_server_connect" and e[2] == port then
                    cancel(timer)
                    return e[3]
                elseif e[1] == "timer" and e[2] == timer then
                    return nil
                end
            end
        end,

        close = function()
            if not closed then
                closed = true
                n.closeServer(port)
            end
        end,

        getPort = function() return port end,
    }
    return h
end

function http.websocketServer(port, headers)
    port = checkPort(port)
    expectOpt(2, headers, "table")
    local ok, result = n.openServer(port, headers)
    if not ok then return nil, result end
    return newServer(result)
end

-------------------------------------------------------------------------------------------------
-- The client (SPEC §6): http.request, get, post, checkURL, websocket, with CC:Tweaked's
-- arguments, events and messages. The host starts what the core lets start; the events arrive
-- as raw kinds 6 to 11.

local METHODS = {
    GET = true, POST = true, HEAD = true, OPTIONS = true, PUT = true, DELETE = true, PATCH = true,
    TRACE = true,
}

local function field(t, key, wanted, optional)
    local value = t[key]
    local got = type(value)
    if got == wanted or (optional and value == nil) then return value end
    error(("bad field '%s' (%s expected, got %s)"):format(key, wanted, got), 4)
end

-- The response handle: a read handle over the whole body, with its status and headers.
-- Its state: { body, pos, closed, binary, status, reason, headers }.
local answer = {}

function answer.read(h, count)
    local st = readable(h)
    expectOpt(1, count, "number")
    if count == nil and st.binary then
        local body, pos = st.body, st.pos
        if pos > #body then return nil end
        st.pos = pos + 1
        return string.byte(body, pos)
    end
    if count and count < 0 then error("Cannot read a negative number of bytes", 2) end
    return request.read(h, count)
end

answer.readLine = request.readLine
answer.readAll = request.readAll

function answer.seek(h, whence, offset)
    local st = readable(h)
    expectOpt(1, whence, "string")
    expectOpt(2, offset, "number")
    whence, offset = whence or "cur", offset or 0
    local base
    if whence == "set" then base = 0
    elseif whence == "cur" then base = st.pos - 1
    elseif whence == "end" then base = #st.body
    else error(("bad argument #1 (invalid option '%s')"):format(whence), 2) end
    local pos = base + floor(offset)
    if pos < 0 then return nil, "Position is negative" end
    st.pos = pos + 1
    return pos
end

function answer.close(h)
    readable(h).closed = true
end

function answer.getResponseCode(h)
    local st = states[h]
    return st.status, st.reason
end

function answer.getResponseHeaders(h)
    local copy = {}
    for k, v in pairs(states[h].headers) do copy[k] = v end
    return copy
end

local answerMeta = handleMeta(answer)

-- kind 6: http_success(url, handle) or http_failure(url, message[, handle])
project[6] = function(url, binary, message, status, reason, headers, body)
    if status == nil then return "http_failure", url, message end
    local h = setmetatable({}, answerMeta)
    states[h] = {
        body = body, pos = 1, closed = false, binary = binary, status = status, reason = reason,
        headers = headers,
    }
    if message == nil then return "http_success", url, h end
    return "http_failure", url, message, h
end

-- kind 7: http_check(url, ok[, message])
project[7] = function(url, ok, message)
    if ok then return "http_check", url, true end
    return "http_check", url, false, message
end

-- Starts a request from http.request's, get's or post's arguments: ok, message, raise.
local function start(level, url, body, headers, binary, defaultMethod)
    local method, redirect, timeout
    if type(url) == "table" then
        local t = url
        url = field(t, "url", "string")
        if body == false then
            -- http.get's table form takes no body.
            if t.body ~= nil then error(("bad field 'body' (nil expected, got %s)"):format(type(t.body)), level) end
        else
            body = field(t, "body", "string", body ~= true)
        end
        headers = field(t, "headers", "table", true)
        binary = field(t, "binary", "boolean", true)
        method = field(t, "method", "string", true)
        redirect = field(t, "redirect", "boolean", true)
        timeout = field(t, "timeout", "number", true)
        if method ~= nil and not METHODS[method] then error("Unsupported HTTP method", level) end
    else
        expect(1, url, "string", level)
        if body == false or body == true then body = nil end
        expectOpt(2, body, "string", level)
        expectOpt(3, headers, "table", level)
        expectOpt(4, binary, "boolean", level)
    end
    if timeout ~= nil and not (timeout >= 0 and timeout <= 60) then
        error("timeout out of range (between 0.0 and 60.0)", level)
    end
    local ok, message, raise = n.fetch(url, method or defaultMethod, headers, body, binary and true or false,
        redirect ~= false, timeout)
    if raise then error(message, level) end
    return ok, message, url
end

function http.request(url, body, headers, binary)
    local ok, message, u = start(3, url, body, headers, binary)
    if ok then return true end
    os.queueEvent("http_failure", u, message)
    return false, message
end

-- Waits for the request's own event; other events stay with whoever else pulls them.
local function await(ok, message, url)
    if not ok then return nil, message end
    while true do
        local name, u, a, b = os.pullEvent()
        if u == url then
            if name == "http_success" then return a end
            if name == "http_failure" then return nil, a, b end
        end
    end
end

function http.get(url, headers, binary)
    if type(url) == "table" then return await(start(3, url, false, nil, nil, "GET")) end
    return await(start(3, url, nil, headers, binary, "GET"))
end

function http.post(url, body, headers, binary)
    if type(url) == "table" then return await(start(3, url, true, nil, nil, "POST")) end
    expect(2, body, "string")
    return await(start(3, url, body, headers, binary, "POST"))
end

function http.checkURLAsync(url)
    expect(1, url, "string")
    local ok, message = n.checkURL(url)
    if ok then return true end
    return false, message
end

function http.checkURL(url)
    expect(1, url, "string")
    local ok, message = n.checkURL(url)
    if not ok then return false, message end
    while true do
        local _, u, allowed, why = os.pullEvent("http_check")
        if u == url then return allowed, why end
    end
end

-- Client WebSockets: the handle, made when the socket connects. Events name the socket by its
-- URL, as in CC:Tweaked.
local socketIds = setmetatable({}, { __mode = "k" })

local function newSocket(url, id)
    local h = newSocketHandle(id, url, "websocket_message", "websocket_closed")
    socketIds[h] = id
    return h
end

project[8] = function(url, id) return "websocket_success", url, newSocket(url, id) end
project[9] = function(url, reason) return "websocket_failure", url, reason end
project[10] = function(url, _, data, binary) return "websocket_message", url, data, binary end
project[11] = function(url, _, reason, code) return "websocket_closed", url, reason, code end

local function connect(url, headers)
    local timeout
    if type(url) == "table" then
        local t = url
        url = field(t, "url", "string")
        headers = field(t, "headers", "table", true)
        timeout = field(t, "timeout", "number", true)
    else
        expect(1, url, "string", 3)
        expectOpt(2, headers, "table", 3)
    end
    local ok, result, raise = n.websocket(url, headers, timeout)
    if raise then error(result, 3) end
    return ok, result, url
end

function http.websocketAsync(url, headers)
    local ok, result, u = connect(url, headers)
    if ok then return true end
    os.queueEvent("websocket_failure", u, result)
    return false, result
end

function http.websocket(url, headers)
    local ok, id, u = connect(url, headers)
    if not ok then return false, id end
    while true do
        local name, eu, a = os.pullEvent()
        if name == "websocket_success" and socketIds[a] == id then return a end
        if name == "websocket_failure" and eu == u then return false, a end
    end
end

return http
