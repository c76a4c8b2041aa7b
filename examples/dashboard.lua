-- A status screen drawn with term, colors and window while the computer serves HTTP: requests
-- served, clients connected (open WebSockets) and uptime. In a terminal it is a live screen; in a
-- log (craft run examples/dashboard.lua > log.txt) each change reads as a new line.
-- Run it with:  dotnet run --project src/Craft.Cli -- run examples/dashboard.lua [port]
local port = http.addListener(tonumber((...)) or 8080) -- the bound port (port 0: any free one)
local sockets = assert(http.websocketServer(port)) -- WebSocket clients share the port
local started = os.clock()
local served, clients = 0, 0

term.setBackgroundColour(colors.black)
term.clear()
term.setCursorPos(1, 1)
term.setTextColour(colors.yellow)
term.write(("Craft dashboard on http://localhost:%d/"):format(port))
term.setTextColour(colors.white)

local width = math.min(30, (term.getSize()))
local panel = window.create(term.current(), 1, 3, width, 3)
local shown = {}

-- One row of the panel; drawn only when its text changed, so a log gets one line per change.
local function row(y, label, value, colour)
    local text = ("%-9s %s"):format(label, value)
    if shown[y] == text then return end
    shown[y] = text
    panel.setCursorPos(1, y)
    panel.clearLine()
    panel.setTextColour(colors.lightGray)
    panel.write(("%-9s "):format(label))
    panel.setTextColour(colour)
    panel.write(tostring(value))
end

local function draw()
    row(1, "Requests", served, colors.lime)
    row(2, "Clients", clients, colors.cyan)
    row(3, "Uptime", ("%ds"):format(math.floor(os.clock() - started)), colors.white)
    term.setCursorPos(1, 7)
end

draw()
local tick = os.startTimer(1)
while true do
    local event, a, b, c = os.pullEvent()
    if event == "http_request" then
        -- CraftOS-PC's server event: (port, request, response).
        served = served + 1
        c.setResponseHeader("Content-Type", "text/plain")
        c.write(("served %d, clients %d\n"):format(served, clients))
        c.close()
    elseif event == "websocket_server_connect" then
        clients = clients + 1
    elseif event == "websocket_server_closed" then
        clients = math.max(0, clients - 1)
    elseif event == "timer" and a == tick then
        tick = os.startTimer(1)
    end
    draw()
end
