-- Eight requests at once with at most two running (MaxHttpRequests = 2): every one completes,
-- and the peer never sees more than two at a time. Args: the http peer's port.
local port = ...
for i = 1, 8 do assert(http.request("http://127.0.0.1:" .. port .. "/slow?ms=100&i=" .. i)) end
local done = 0
while done < 8 do
    local event, url, handle = os.pullEvent()
    if event == "http_failure" then error("request failed: " .. url .. ": " .. tostring(handle)) end
    if event == "http_success" then
        done = done + 1
        local seen = tonumber(handle.readAll())
        if seen > 2 then error(("the peer saw %d requests at once"):format(seen)) end
    end
end
print("ok")
