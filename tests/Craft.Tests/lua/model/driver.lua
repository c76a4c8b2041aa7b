-- The model test's driver (ModelTests.fs): performs the commands the host sends and prints one
-- line per event it sees and per command it did, so that the test can follow it step by step.
--
-- Commands arrive as the event cmd(seq, verb, a, b, c), or, while the script is blocked in
-- read(), as the line "seq verb a b c". Verbs:
--   listen P          http.addListener(P)               -> "done seq listening PORT" | "done seq error MSG"
--   unlisten P        http.removeListener(P)            -> "done seq removed"
--   wsopen P          http.websocketServer(P)           -> "done seq server PORT" | "done seq error MSG"
--   wsclose P         server.close()                    -> "done seq wsclosed"
--   answer URL S N    answers a held request: status S, N bytes of body -> "done seq answered"
--   fail URL          a handler run by pcall raises     -> "done seq failed MSG"
--   send N TAG LEN    client N sends "TAG:" and LEN bytes -> "done seq sent" | "done seq error MSG"
--   close N CODE      client N closes with CODE         -> "done seq closing"
--   block             blocks in read() (the computer takes no events), taking commands as lines
--   resume            (a line) ends the block           -> "done seq resume"
--   shutdown          os.shutdown()                     -> "done seq shutdown"
-- Events: "req PORT URL METHOD BODYLEN", "connect PORT N", "msg N TAG LEN",
-- "closed N CODE REASON", "event NAME" for any other. Prints "ready" first.

local held = {}     -- url -> { req, res }
local servers = {}  -- port -> server handle
local clients = {}  -- N -> client handle
local names = {}    -- clientID -> N
local connected = 0

local function strip(message)
    return (tostring(message):gsub("^[^:]*:%d+: ", ""))
end

local function perform(verb, a, b, c)
    if verb == "listen" then
        local ok, port = pcall(http.addListener, a)
        return ok and ("listening " .. port) or ("error " .. strip(port))
    elseif verb == "unlisten" then
        http.removeListener(a)
        return "removed"
    elseif verb == "wsopen" then
        local server, err = http.websocketServer(a)
        if not server then return "error " .. strip(err) end
        servers[server.getPort()] = server
        return "server " .. server.getPort()
    elseif verb == "wsclose" then
        local server = servers[a]
        servers[a] = nil
        if server then server.close() end
        return "wsclosed"
    elseif verb == "answer" then
        local h = held[a]
        held[a] = nil
        h.res.setStatusCode(b)
        h.res.write(string.rep("a", c))
        h.res.close()
        return "answered"
    elseif verb == "fail" then
        local h = held[a]
        local _, err = pcall(function()
            h.res.setResponseHeader("X-Handler", "failing")
            error("handler failed")
        end)
        return "failed " .. strip(err)
    elseif verb == "send" then
        local ok, err = pcall(clients[a].send, b .. ":" .. string.rep("s", c))
        return ok and "sent" or ("error " .. strip(err))
    elseif verb == "close" then
        clients[a].close(b, "srv")
        return "closing"
    end
    return "unknown " .. tostring(verb)
end

local function command(seq, verb, a, b, c)
    if verb == "shutdown" then
        print("done " .. seq .. " shutdown")
        os.shutdown()
    elseif verb == "block" then
        print("done " .. seq .. " block")
        while true do
            local line = read()
            if line == nil then error("the host closed the input") end
            local words = {}
            for w in line:gmatch("%S+") do words[#words + 1] = tonumber(w) or w end
            local s, v = words[1], words[2]
            if v == "resume" then
                print("done " .. s .. " resume")
                return
            end
            command(s, v, words[3], words[4], words[5])
        end
    else
        print("done " .. seq .. " " .. perform(verb, a, b, c))
    end
end

print("ready")
while true do
    local e = table.pack(os.pullEventRaw())
    local name = e[1]
    if name == "cmd" then
        command(e[2], e[3], e[4], e[5], e[6])
    elseif name == "http_request" then
        local req, res = e[3], e[4]
        local url = req.getURL()
        held[url] = { req = req, res = res }
        print(("req %d %s %s %d"):format(e[2], url, req.getMethod(), #req.readAll()))
    elseif name == "websocket_server_connect" then
        connected = connected + 1
        clients[connected] = e[3]
        names[e[3].clientID] = connected
        print(("connect %d %d"):format(e[2], connected))
    elseif name == "websocket_server_message" then
        local tag = e[3]:match("^(%d+):") or "?"
        print(("msg %s %s %d"):format(tostring(names[e[2]]), tag, #e[3]))
    elseif name == "websocket_server_closed" then
        print(("closed %s %s %s"):format(tostring(names[e[2]]), tostring(e[4]), tostring(e[3])))
    else
        print("event " .. tostring(name))
    end
end
