-- The default rules: loopback, private ranges and names that resolve to them are refused before
-- any connection. Args: a port a server listens on at 127.0.0.1.
local port = ...
local function eq(got, want, what)
    if got ~= want then error(("%s: got %s, want %s"):format(what, tostring(got), tostring(want)), 2) end
end
for _, host in ipairs({ "127.0.0.1", "localhost", "[::1]", "10.0.0.1", "192.168.1.1", "169.254.169.254", "0.0.0.0" }) do
    local h, message = http.get("http://" .. host .. ":" .. port .. "/echo")
    eq(h, nil, host .. " handle"); eq(message, "Domain not permitted", host)
end
eq(select(2, http.websocket("ws://localhost:" .. port .. "/")), "Domain not permitted", "websocket to localhost")
print("ok")
