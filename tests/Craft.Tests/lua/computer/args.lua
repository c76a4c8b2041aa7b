-- The script's command-line arguments arrive as `...`.
local n = select("#", ...)
print("count", n)
for i = 1, n do
    local a = select(i, ...)
    print(i, "[" .. a .. "]", #a)
end
