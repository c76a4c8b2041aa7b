-- Blocks the computer's thread in read() (as a long native call would: nothing runs on it) until
-- the test feeds a line; then answers every request "served". Prints "port N", then "blocked".
local port = http.addListener(0)
print("port " .. port)
print("blocked")
read()
print("unblocked")
while true do
    local e = table.pack(os.pullEvent())
    if e[1] == "server_stop" then break end
    if e[1] == "http_request" then
        e[4].write("served")
        e[4].close()
    end
end
