-- The http client against an independent server (tests/Craft.Tests/peers/http_peer.py), run with
-- --http-allow 127.0.0.1, a 1000-byte download limit and a 1000-byte upload limit.
-- Args: the peer's port, a port nobody listens on. Prints "ok" when every check held.
local port, closedPort = ...
local base = "http://127.0.0.1:" .. port

local function eq(got, want, what)
    if got ~= want then error(("%s: got %s, want %s"):format(what, tostring(got), tostring(want)), 2) end
end

-- GET, and what the handle gives.
local h = assert(http.get(base .. "/echo", { ["X-Test"] = "sent" }))
local code, reason = h.getResponseCode()
eq(code, 200, "code"); eq(reason, "OK", "reason")
local headers = h.getResponseHeaders()
eq(headers["X-Echo-Method"], "GET", "method")
eq(headers["X-Echo-Test"], "sent", "request header")
eq(headers["X-Echo-Agent"]:match("^computercraft/") ~= nil, true, "default user agent")
eq(h.readAll(), "", "empty body")
h.close()
eq(select(2, pcall(h.readAll)):find("attempt to use a closed file", 1, true) ~= nil, true, "closed handle")
eq(h.getResponseCode(), 200, "code after close")

-- Every method, with a body where it takes one.
for _, method in ipairs({ "POST", "PUT", "DELETE", "PATCH" }) do
    local r = assert(http.post { url = base .. "/echo", method = method, body = "body of " .. method })
    eq(r.getResponseHeaders()["X-Echo-Method"], method, method)
    eq(r.readAll(), "body of " .. method, method .. " body")
end
local head = assert(http.get { url = base .. "/echo", method = "HEAD" })
eq(head.getResponseHeaders()["X-Echo-Method"], "HEAD", "HEAD")

-- http.post: the default content type; a script's own wins.
local p = assert(http.post(base .. "/echo", "a=1&b=2"))
eq(p.getResponseHeaders()["X-Echo-Type"], "application/x-www-form-urlencoded; charset=utf-8", "form type")
eq(p.readAll(), "a=1&b=2", "post body")
p = assert(http.post(base .. "/echo", "{}", { ["Content-Type"] = "application/json" }))
eq(p.getResponseHeaders()["X-Echo-Type"], "application/json", "own content type")

-- Binary bodies both ways, every byte.
local all = {}
for i = 0, 255 do all[#all + 1] = string.char(i) end
all = table.concat(all)
p = assert(http.post(base .. "/echo", all, nil, true))
eq(p.readAll(), all, "bytes 0-255 round trip")
local b = assert(http.get(base .. "/bytes", nil, true))
eq(b.read(), 0, "binary read() is a number")
eq(b.read(), 1, "second byte")
eq(b.read(3), "\2\3\4", "read(n)")
eq(b.seek("set", 255), 255, "seek")
eq(b.read(), 255, "last byte")
eq(b.read(), nil, "end of body")
local t = assert(http.get(base .. "/bytes"))
eq(t.read(), "\0", "text read() is a string")
eq(#t.readAll(), 255, "readAll after one byte")

-- Lines.
local l = assert(http.get(base .. "/lines"))
eq(l.readLine(), "one", "CRLF line"); eq(l.readLine(true), "two\n", "line with its end")
eq(l.readLine(), "three", "last line"); eq(l.readLine(), nil, "no more lines")

-- Repeated headers are joined.
eq(assert(http.get(base .. "/multi")).getResponseHeaders()["X-Multi"], "a,b", "repeated header")

-- Non-2xx: nil, the reason phrase, and the handle.
local none, message, failed = http.get(base .. "/status/404")
eq(none, nil, "404 handle"); eq(message, "Reason 404", "404 message")
eq(failed.getResponseCode(), 404, "failure handle code"); eq(failed.readAll(), "status 404", "failure body")
none, message, failed = http.get(base .. "/status/500")
eq(message, "Reason 500", "500 message"); eq(failed.readAll(), "status 500", "500 body")

-- Redirects: followed (and 303 turns into GET), or not.
eq(assert(http.get(base .. "/redirect/3")).readAll(), "done", "redirects followed")
eq(assert(http.get(base .. "/redirect/16")).readAll(), "done", "16 redirects followed")
none, message, failed = http.get(base .. "/redirect/17")
eq(failed and failed.getResponseCode(), 302, "the 17th redirect is not followed")
local so = assert(http.post(base .. "/see-other", "x"))
eq(so.getResponseHeaders()["X-Echo-Method"], "GET", "303 becomes GET")
none, message, failed = http.get { url = base .. "/redirect/1", redirect = false }
eq(failed.getResponseCode(), 302, "redirect = false")
eq(failed.getResponseHeaders()["Location"], "/redirect/0", "its location")
none, message = http.get(base .. "/to?url=" .. textutils.urlEncode("ftp://127.0.0.1/"))
eq(message, "Invalid protocol 'ftp'", "redirect to another scheme")
none, message = http.get(base .. "/to?url=" .. textutils.urlEncode("http://127.0.0.2:" .. port .. "/echo"))
eq(message, "Domain not permitted", "redirect to a denied address")

-- Failures without an answer.
none, message = http.get("http://127.0.0.1:" .. closedPort .. "/")
eq(message, "Could not connect", "connection refused")
none, message = http.get { url = base .. "/slow?ms=3000", timeout = 0.5 }
eq(message, "Timed out", "timeout")
none, message = http.get("http://no-such-host.invalid/")
eq(message, "Unknown host", "unknown host")

-- Limits (1000 bytes each way in this run), at the edge.
eq(#assert(http.get(base .. "/big?n=1000")).readAll(), 1000, "download at the limit")
none, message, failed = http.get(base .. "/big?n=1001")
eq(message, "Response is too large", "download over the limit"); eq(failed, nil, "no handle")
eq(#assert(http.post(base .. "/echo", ("y"):rep(1000))).readAll(), 1000, "upload at the limit")
none, message = http.post(base .. "/echo", ("y"):rep(1001))
eq(message, "Request body is too large", "upload over the limit")

-- Invalid URLs and arguments.
local ok, err = http.request("ftp://example.com/")
eq(ok, false, "ftp refused"); eq(err, "Invalid protocol 'ftp'", "ftp message")
local _, url, why = os.pullEvent("http_failure")
eq(url, "ftp://example.com/", "http_failure queued for a refused URL"); eq(why, "Invalid protocol 'ftp'", "its message")
eq(select(2, http.request("example.com")), "Must specify http or https", "no scheme")
eq(select(3, os.pullEvent("http_failure")), "Must specify http or https", "its event")
eq(select(2, http.get("http://")), "URL malformed", "no host")
eq(select(2, pcall(http.request, { url = base, method = "BREW" })), "Unsupported HTTP method", "method")
eq(select(2, pcall(http.request, { url = base, timeout = 61 })), "timeout out of range (between 0.0 and 60.0)", "timeout range")
eq(select(2, pcall(http.request, { })), "bad field 'url' (string expected, got nil)", "url field")
eq(select(2, pcall(http.get, { url = base, body = "x" })), "bad field 'body' (nil expected, got string)", "get body")
eq(select(2, pcall(http.request, 1)):find("bad argument #1", 1, true) ~= nil, true, "url argument")

-- The async form and its events.
eq(http.request(base .. "/echo"), true, "request returns true")
local event, u, handle = os.pullEvent()
eq(event, "http_success", "http_success"); eq(u, base .. "/echo", "event url")
eq(handle.getResponseCode(), 200, "event handle")
eq(http.checkURL(base), true, "checkURL allowed")
eq(select(2, http.checkURL("http://127.0.0.2/")), "Domain not permitted", "checkURL denied")
eq(select(2, http.checkURL("nope")), "Must specify http or https", "checkURL invalid")
eq(http.checkURLAsync("http://10.1.2.3/"), true, "checkURLAsync")
local e, cu, allowed, cwhy = os.pullEvent("http_check")
eq(cu, "http://10.1.2.3/", "http_check url"); eq(allowed, false, "http_check denied"); eq(cwhy, "Domain not permitted", "http_check message")

print("ok")
