-- Server-sent events: a page whose clock the server pushes, one event a second.
--
--   GET /          a page that shows the events (EventSource)
--   GET /events    the stream (text/event-stream); ?count=N ends it after N events
--
-- Run it with:  dotnet run --project src/Craft.Cli -- run examples/sse.lua [port] [seconds]
-- then open http://localhost:8080/ , or:  curl -N http://localhost:8080/events
-- Ctrl-C stops it.
--
-- How it works: res.flush() sends the status line, the headers and what was written so far,
-- and from then on every write is sent as it is flushed (chunked). Each flush also restarts the
-- response deadline (15 s by default), so a stream lives as long as it keeps sending. A client
-- that goes away is not reported (writes to it just succeed), so every stream here ends after a
-- number of events; browsers reconnect by themselves (after the "retry" time).

local port = http.addListener(tonumber((...)) or 8080)
local interval = tonumber((select(2, ...))) or 1
local defaultCount = 300 -- events per stream before it ends and the browser reconnects

print(("Serving http://localhost:%d/ (Ctrl-C to stop)"):format(port))

local page = [[
<!doctype html>
<meta charset="utf-8">
<title>Craft: server-sent events</title>
<link rel="icon" href="data:,"> <!-- no icon: the browser asks for none -->
<h1>Server time: <span id="time">waiting...</span></h1>
<p>Events received: <span id="count">0</span></p>
<script>
  const source = new EventSource("/events");
  let count = 0;
  source.addEventListener("tick", (e) => {
    const data = JSON.parse(e.data);
    document.getElementById("time").textContent = data.time;
    document.getElementById("count").textContent = ++count;
  });
</script>
]]

local streams = {} -- open streams: { res = ..., left = events still to send }
local sequence = 0

local function openStream(req, res)
    local left = tonumber(req.getURL():match("[?&]count=(%d+)")) or defaultCount
    res.setResponseHeader("Content-Type", "text/event-stream")
    res.setResponseHeader("Cache-Control", "no-cache")
    res.write("retry: 1000\n\n") -- how long a browser waits before it reconnects
    res.flush()
    streams[#streams + 1] = { res = res, left = left }
end

local function broadcast()
    sequence = sequence + 1
    local data = textutils.serializeJSON({ sequence = sequence, time = os.date("!%Y-%m-%dT%H:%M:%SZ") })
    local event = ("id: %d\nevent: tick\ndata: %s\n\n"):format(sequence, data)
    for i = #streams, 1, -1 do
        local s = streams[i]
        s.res.write(event)
        s.left = s.left - 1
        if s.left > 0 then
            s.res.flush()
        else
            s.res.close()
            table.remove(streams, i)
        end
    end
end

local timer = os.startTimer(interval)
while true do
    local event, p1, req, res = os.pullEventRaw()
    if event == "http_request" and p1 == port then
        local path = req.getURL():match("^[^?]*")
        if path == "/events" then
            openStream(req, res)
        elseif path == "/" then
            res.setResponseHeader("Content-Type", "text/html; charset=utf-8")
            res.write(page)
            res.close()
        else
            res.setStatusCode(404)
            res.write("not found\n")
            res.close()
        end
    elseif event == "timer" and p1 == timer then
        broadcast()
        timer = os.startTimer(interval)
    elseif event == "terminate" or event == "server_stop" then
        break
    end
end

for _, s in ipairs(streams) do s.res.close() end
http.removeListener(port)
print("Stopped")
