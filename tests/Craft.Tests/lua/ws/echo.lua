-- An echo server that checks the event contract as it goes, for the WebSocket tests.
--
-- Arguments (all optional): "protocols=a,b" (offered as Sec-WebSocket-Protocol), "header=Name:Value"
-- (an extra handshake header), "limit=N" (the message limit the computer was given).
-- Prints "port N" once it listens. Every message is echoed with its type, except commands (text
-- starting with "!"):
--   !name X             names the client in what this script prints (default "#n")
--   !close [code [reason]]   closes the client from this side, then checks the closed handle
--   !too-large          tries to send one byte over the limit; replies with the error
--   !bad-close          tries close codes and a reason a close frame cannot carry; replies with the errors
--   !close-server       closes the server (twice); replies with what listen then raises
--   !count              replies with the number of messages this client sent before
--   !copy               replies, through a copy of the handle made with pairs, with the handles' keys
-- Prints "closed NAME REASON CODE" for each websocket_server_closed, "error: ..." whenever the
-- contract is broken (connect first, messages in between, closed once and last), and
-- "summary ..." when the host queues "stop", then ends.

local CLOSED = "attempt to use a closed file"
local headers, limit = {}, 128 * 1024
for _, arg in ipairs({ ... }) do
    local protocols = arg:match("^protocols=(.*)$")
    local name, value = arg:match("^header=([^:]+):(.*)$")
    local n = arg:match("^limit=(%d+)$")
    if protocols then headers["Sec-WebSocket-Protocol"] = protocols end
    if name then headers[name] = value end
    if n then limit = tonumber(n) end
end

local srv = assert(http.websocketServer(0, headers))
print("port " .. srv.getPort())

local handles = {}   -- clientID -> handle
local names = {}     -- clientID -> name
local stage = {}     -- clientID -> "open" | "closed"
local counts = {}    -- clientID -> messages received
local connects, closes, messages, errors = 0, 0, 0, 0

local function fail(message)
    errors = errors + 1
    print("error: " .. message)
end

-- What every closed handle must do: raise on send and receive, close quietly.
local function checkClosed(h, name)
    local ok, err = pcall(h.send, "late")
    if ok or not tostring(err):find(CLOSED, 1, true) then
        fail(name .. ": send on a closed handle gave " .. tostring(ok) .. " " .. tostring(err))
    end
    ok, err = pcall(h.receive, 1)
    if ok or not tostring(err):find(CLOSED, 1, true) then
        fail(name .. ": receive on a closed handle gave " .. tostring(ok) .. " " .. tostring(err))
    end
    ok, err = pcall(h.close)
    if not ok then fail(name .. ": close on a closed handle raised " .. tostring(err)) end
end

local function command(id, h, text)
    local verb, rest = text:match("^!(%S+)%s*(.*)$")
    if verb == "name" then
        names[id] = rest
    elseif verb == "close" then
        local code, reason = rest:match("^(%d+)%s*(.*)$")
        if code and reason ~= "" then
            h.close(tonumber(code), reason)
        elseif code then
            h:close(tonumber(code))
        else
            h.close()
        end
        checkClosed(h, names[id])
        print("closed locally " .. names[id])
    elseif verb == "too-large" then
        local ok, err = pcall(h.send, string.rep("x", limit + 1))
        h.send(ok and "sent" or err)
    elseif verb == "bad-close" then
        -- Close codes and reasons a close frame cannot carry: each raises, the client stays open.
        local errors = {}
        for _, args in ipairs({ { 999 }, { 1005 }, { 1006 }, { 1015 }, { 5000 }, { 4000, string.rep("r", 124) } }) do
            local ok, err = pcall(h.close, args[1], args[2])
            errors[#errors + 1] = ok and "closed" or tostring(err):gsub("^[^:]*:%d+: ", "")
        end
        h.send(table.concat(errors, "|"))
    elseif verb == "close-server" then
        srv.close()
        srv.close()
        local ok, err = pcall(srv.listen, 1)
        h.send("server closed; listen: " .. tostring(err):gsub("^[^:]*:%d+: ", ""))
    elseif verb == "copy" then
        -- Handles are plain tables (as in CraftOS-PC): a copy made with pairs answers like the handle.
        local copy, keys, serverKeys = {}, {}, {}
        for k, v in pairs(h) do
            copy[k] = v
            keys[#keys + 1] = k
        end
        for k in pairs(srv) do serverKeys[#serverKeys + 1] = k end
        table.sort(keys)
        table.sort(serverKeys)
        copy.send(("client: %s; server: %s; same id: %s"):format(table.concat(keys, ","),
            table.concat(serverKeys, ","), tostring(rawequal(copy.clientID, id))))
    elseif verb == "count" then
        h.send(tostring(counts[id]))
    else
        fail("unknown command " .. text)
    end
end

while true do
    local event, a, b, c = os.pullEvent()
    if event == "websocket_server_connect" then
        local h = b
        connects = connects + 1
        if a ~= srv.getPort() then fail("connect on port " .. tostring(a)) end
        if type(h.clientID) ~= "userdata" then fail("clientID is a " .. type(h.clientID)) end
        if stage[h.clientID] then fail("a clientID was used twice") end
        handles[h.clientID], stage[h.clientID] = h, "open"
        names[h.clientID], counts[h.clientID] = "#" .. connects, 0
    elseif event == "websocket_server_message" then
        local id, data, binary = a, b, c
        messages = messages + 1
        local h = handles[id]
        if stage[id] ~= "open" then
            fail("message for a client that is " .. tostring(stage[id]))
        elseif not binary and data:sub(1, 1) == "!" then
            command(id, h, data)
        else
            counts[id] = counts[id] + 1
            local ok, err = pcall(h.send, data, binary)
            if not ok and not tostring(err):find(CLOSED, 1, true) then fail("echo: " .. tostring(err)) end
        end
    elseif event == "websocket_server_closed" then
        local id, reason, code = a, b, c
        closes = closes + 1
        if stage[id] ~= "open" then fail("closed for a client that is " .. tostring(stage[id])) end
        stage[id] = "closed"
        print(("closed %s %s %s"):format(names[id], tostring(reason), tostring(code)))
        if handles[id] then checkClosed(handles[id], names[id]) end
    elseif event == "stop" then
        break
    end
end

srv.close()
print(("summary connects=%d closes=%d messages=%d errors=%d"):format(connects, closes, messages, errors))
