-- A chat room in one script: the page over HTTP and the chat socket over WebSocket, both on one
-- port (http.addListener(port) + http.websocketServer(port)).
-- Run it with:  dotnet run --project src/Craft.Cli -- run examples/chat/server.lua [PORT]
-- then open http://localhost:8080/ in two browser windows. Ctrl-C stops it.
--
-- What the socket says, one text message per line of the room:
--   "* NAME joined", "* NAME left", "* OLD is now NEW", "NAME: TEXT"
-- A newcomer first gets the last lines of the room. "/nick NAME" renames the sender.

local port = http.addListener(tonumber((...)) or 8080)
local server = assert(http.websocketServer(port))
print(("Chat on http://localhost:%d/ (Ctrl-C to stop)"):format(port))

local PAGE = [==[<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Craft chat</title>
<link rel="icon" href="data:,"> <!-- no icon: the browser asks for none (no 404 for /favicon.ico) -->
<style>
  body { font: 16px system-ui, sans-serif; margin: 0; display: flex; flex-direction: column; height: 100vh; }
  header { background: #2d6a4f; color: white; padding: .6em 1em; font-weight: bold; }
  #status { font-weight: normal; opacity: .8; margin-left: 1em; }
  #log { flex: 1; overflow-y: auto; list-style: none; margin: 0; padding: .5em 1em; }
  #log li { padding: .15em 0; }
  #log li.info { color: #666; font-style: italic; }
  form { display: flex; gap: .5em; padding: .6em 1em; border-top: 1px solid #ccc; }
  input { flex: 1; font: inherit; padding: .3em; }
</style>
</head>
<body>
<header>Craft chat <span id="status">connecting…</span></header>
<ul id="log"></ul>
<form id="form">
  <input id="text" autocomplete="off" placeholder="Say something, or /nick NAME" autofocus>
  <button>Send</button>
</form>
<script>
  const log = document.getElementById("log");
  const status = document.getElementById("status");
  const text = document.getElementById("text");
  const show = (line, info) => {
    const item = document.createElement("li");
    item.textContent = line;
    if (info) item.className = "info";
    log.appendChild(item);
    log.scrollTop = log.scrollHeight;
  };
  // The socket is on the same host and port as this page.
  const socket = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/");
  socket.onopen = () => { status.textContent = "connected"; };
  socket.onmessage = event => show(event.data, event.data.startsWith("* "));
  socket.onclose = event => { status.textContent = "disconnected (" + event.code + ")"; };
  document.getElementById("form").onsubmit = event => {
    event.preventDefault();
    if (text.value !== "" && socket.readyState === WebSocket.OPEN) socket.send(text.value);
    text.value = "";
  };
</script>
</body>
</html>
]==]

local members = {} -- clientID -> { handle = client handle, name = string }
local history = {} -- the last lines of the room
local HISTORY, guests = 50, 0

-- Sends a line to everyone and keeps it for newcomers. A member who has just gone away is
-- skipped: its send raises, and its closed event comes next.
-- The first `count` characters of UTF-8 text (cutting bytes could leave invalid UTF-8, which
-- browsers answer by closing the socket).
local function clip(text, count)
    local cut = utf8.offset(text, count + 1)
    return cut and text:sub(1, cut - 1) or text
end

local function say(line)
    history[#history + 1] = line
    if #history > HISTORY then table.remove(history, 1) end
    for _, member in pairs(members) do pcall(member.handle.send, line) end
end

while true do
    local event, a, b, c = os.pullEventRaw()
    if event == "http_request" then
        local request, response = b, c
        local path = request.getURL():match("^[^?]*")
        if path == "/" or path == "/index.html" then
            response.setResponseHeader("Content-Type", "text/html; charset=utf-8")
            response.write(PAGE)
        else
            response.setStatusCode(404)
            response.setResponseHeader("Content-Type", "text/plain")
            response.write("Not found")
        end
        response.close()
    elseif event == "websocket_server_connect" then
        local client = b
        guests = guests + 1
        for _, line in ipairs(history) do pcall(client.send, line) end
        members[client.clientID] = { handle = client, name = "guest" .. guests }
        say("* guest" .. guests .. " joined")
    elseif event == "websocket_server_message" then
        local member, message, binary = members[a], b, c
        if member and not binary then
            message = clip(message:gsub("%c", " "), 500)
            local nick = message:match("^/nick%s+(%S.*)$")
            if nick then
                nick = clip(nick, 30)
                say(("* %s is now %s"):format(member.name, nick))
                member.name = nick
            elseif message:find("%S") then
                say(member.name .. ": " .. message)
            end
        end
    elseif event == "websocket_server_closed" then
        local member = members[a]
        members[a] = nil
        if member then say("* " .. member.name .. " left") end
    elseif event == "terminate" then
        break
    end
end
server.close()
http.removeListener(port)
