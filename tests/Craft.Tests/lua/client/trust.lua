-- A computer serving HTTPS and WSS with a self-signed certificate calls itself: it prints what
-- its https:// request and its wss:// socket got (the body and first message, or why not).
local port = http.addListener(0)
local server = http.websocketServer(0)
parallel.waitForAny(
    function()
        while true do
            local _, _, _, res = os.pullEvent("http_request")
            res.write("secure")
            res.close()
        end
    end,
    function()
        local client = server.listen()
        client.send("wss ok")
        os.pullEvent("never")
    end,
    function()
        local h, err = http.get("https://127.0.0.1:" .. port .. "/")
        print(h and h.readAll() or err)
        local ws, werr = http.websocket("wss://127.0.0.1:" .. server.getPort() .. "/")
        print(ws and ws.receive() or werr)
        local name, nerr = http.get("https://localhost:" .. port .. "/")
        print(name and name.readAll() or nerr)
    end)
