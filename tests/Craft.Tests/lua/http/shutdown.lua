-- Holds every request without answering; on "/shutdown" it calls os.shutdown(), on "/error" it
-- raises. What is still held must be answered by Craft. Prints "port N".

local port = http.addListener(0)
print("port " .. port)

local held = {}
while true do
    local e = table.pack(os.pullEvent())
    if e[1] == "http_request" then
        local url = e[3].getURL()
        held[#held + 1] = e
        print("holding " .. url)
        if url == "/shutdown" then
            os.shutdown()
        elseif url == "/error" then
            error("failed on purpose")
        end
    end
end
