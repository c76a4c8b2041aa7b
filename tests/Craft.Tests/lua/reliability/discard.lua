-- "/slow" sleeps 2 s in its handler, so a request that arrives meanwhile has its event discarded
-- by sleep(); the script never touches that one's response. Prints "port N", "sleeping".
local port = http.addListener(0)
print("port " .. port)
while true do
    local e = table.pack(os.pullEvent())
    if e[1] == "server_stop" then break end
    if e[1] == "http_request" then
        local url = e[3].getURL()
        print("got " .. url)
        if url == "/slow" then
            print("sleeping")
            sleep(2)
            e[4].write("slept")
            e[4].close()
        end
    end
end
