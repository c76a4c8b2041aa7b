-- Waits for one event from the host and describes each parameter.
local function hex(s)
    return (s:gsub(".", function(c) return ("%02X"):format(c:byte()) end))
end

local function describe(v)
    local t = type(v)
    if t == "number" then return math.type(v) .. " " .. tostring(v) end
    if t == "string" then return "string " .. #v .. " " .. hex(v) end
    if t ~= "table" then return t .. " " .. tostring(v) end
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    local parts = {}
    for _, k in ipairs(keys) do parts[#parts + 1] = tostring(k) .. "=" .. describe(v[k]) end
    return "{" .. table.concat(parts, ", ") .. "}"
end

print("ready")
local e = table.pack(os.pullEvent("host"))
print("count", e.n)
for i = 2, e.n do print(i - 1, describe(e[i])) end
