-- Takes the first request and waits in read() (the computer's thread is held; the test sends
-- more requests meanwhile), then ends the way its argument says: "return", "error", "shutdown"
-- or "runaway" (spins until the watchdog stops it). Craft must answer every request that waits.
-- Prints "port N", then "first".
local how = ...
local port = http.addListener(0)
print("port " .. port)
os.pullEvent("http_request")
print("first")
read()
if how == "error" then
    error("ending with an error")
elseif how == "shutdown" then
    os.shutdown()
elseif how == "runaway" then
    while true do end
end
