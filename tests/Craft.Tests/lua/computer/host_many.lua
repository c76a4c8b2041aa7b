-- Counts host events until it has the number it was given, checking each sender's order.
local expected = tonumber((...))
local last, count = {}, 0
while count < expected do
    local _, sender, seq = os.pullEvent("n")
    if seq ~= (last[sender] or 0) + 1 then
        print("out of order", sender, seq, last[sender])
    end
    last[sender] = seq
    count = count + 1
end
local senders = {}
for sender, seq in pairs(last) do senders[#senders + 1] = sender .. ":" .. seq end
table.sort(senders)
print("received", count, table.concat(senders, " "))
