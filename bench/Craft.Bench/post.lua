-- wrk script: POST the same 1 KiB JSON document on every request.
local items = {}
for i = 1, 15 do
    items[#items + 1] = string.format('{"id":%d,"name":"item number %d","tags":["a","b","c"],"price":%d.5}', i, i, i)
end
wrk.method = "POST"
wrk.body = '{"items":[' .. table.concat(items, ",") .. '],"ok":true}'
wrk.headers["Content-Type"] = "application/json"
