-- A small reverse proxy: every request to this server goes on to UPSTREAM with its method, path,
-- headers and body, and the upstream's answer comes back: status, headers and body.
--
--   craft run --http-allow 127.0.0.1 examples/proxy.lua [PORT] [UPSTREAM]
--
-- PORT defaults to 8080 (0: any free port), UPSTREAM to http://127.0.0.1:8081. Scripts may not
-- reach private addresses unless the host allows them, hence --http-allow.
--
-- Requests are proxied concurrently: each is started with http.request and answered when its
-- http_success or http_failure event arrives. Those events name a request by its URL only, so
-- each request's URL gets a fragment of its own ("#17"): fragments are never sent to a server.

local port = tonumber((...)) or 8080
local upstream = (select(2, ...) or "http://127.0.0.1:8081"):gsub("/$", "")

-- Headers that belong to one connection, not to the message (RFC 9110 7.6.1), and those the
-- client library sets itself.
local hopByHop = {
    ["connection"] = true, ["keep-alive"] = true, ["transfer-encoding"] = true, ["te"] = true,
    ["upgrade"] = true, ["proxy-connection"] = true, ["trailer"] = true, ["host"] = true,
    ["content-length"] = true,
}

local function endToEnd(headers)
    local kept = {}
    for name, value in pairs(headers) do
        if not hopByHop[name:lower()] then kept[name] = value end
    end
    return kept
end

local waiting = {} -- request URL (with its fragment) -> the response to answer
local count = 0

local function forward(req, res)
    count = count + 1
    local url = upstream .. req.getURL() .. "#" .. count
    local body = req.readAll()
    local method = req.getMethod()
    if body == "" and (method == "GET" or method == "HEAD") then body = nil end
    local ok, err = http.request {
        url = url, method = method, body = body, headers = endToEnd(req.getRequestHeaders()),
        binary = true, redirect = false, timeout = 10,
    }
    if ok then
        waiting[url] = res
    else
        res.setStatusCode(502)
        res.write(err)
        res.close()
    end
end

local function answer(url, handle, message)
    local res = waiting[url]
    if not res then return end
    waiting[url] = nil
    if handle then
        res.setStatusCode(handle.getResponseCode())
        for name, value in pairs(endToEnd(handle.getResponseHeaders())) do
            res.setResponseHeader(name, value)
        end
        res.write(handle.readAll())
        handle.close()
    else
        res.setStatusCode(502)
        res.write("upstream: " .. tostring(message))
    end
    res.close()
end

port = http.addListener(port)
print(("Proxy on http://localhost:%d/ -> %s"):format(port, upstream))

while true do
    local event, a, b, c = os.pullEvent()
    if event == "http_request" and a == port then
        forward(b, c)
    elseif event == "http_success" then
        answer(a, b)
    elseif event == "http_failure" then
        answer(a, c, b)
    end
end
