-- A script that calls its own server through parallel: an HTTP listener and a WebSocket server
-- on free ports, and the client in another coroutine.
local function eq(got, want, what)
    if got ~= want then error(("%s: got %s, want %s"):format(what, tostring(got), tostring(want)), 2) end
end
local port = http.addListener(0)
local server = http.websocketServer(0)
local wsPort = server.getPort()

local function serveHttp()
    while true do
        local _, _, req, res = os.pullEvent("http_request")
        res.setResponseHeader("X-Seen-Method", req.getMethod())
        res.setResponseHeader("X-Seen-Header", req.getRequestHeaders()["X-Mine"] or "")
        if req.getURL() == "/missing" then res.setStatusCode(404) end
        res.write(req.readAll())
        res.close()
    end
end

local function serveWs()
    local client = server.listen()
    while true do
        local message, binary = client.receive()
        if message == nil then return end
        client.send(message .. "!", binary)
    end
end

local function use()
    local base = "http://127.0.0.1:" .. port
    local h = assert(http.post(base .. "/", "to myself", { ["X-Mine"] = "yes" }))
    eq(h.readAll(), "to myself", "body"); eq(h.getResponseHeaders()["X-Seen-Method"], "POST", "method")
    eq(h.getResponseHeaders()["X-Seen-Header"], "yes", "header")
    local put = assert(http.post { url = base .. "/", method = "PUT", body = "\0\255" })
    eq(put.readAll(), "\0\255", "binary body")
    local none, message, failed = http.get(base .. "/missing")
    eq(message, "Not Found", "404 reason"); eq(failed.getResponseCode(), 404, "404 handle")
    local ws = assert(http.websocket("ws://127.0.0.1:" .. wsPort .. "/"))
    ws.send("ping")
    eq(ws.receive(), "ping!", "echo through the own server")
    ws.send("\1\2", true)
    local m, b = ws.receive()
    eq(m, "\1\2!", "binary echo"); eq(b, true, "binary flag")
    ws.close()
end

parallel.waitForAny(serveHttp, serveWs, use)
print("ok")
