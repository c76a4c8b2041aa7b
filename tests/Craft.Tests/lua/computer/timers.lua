-- Timers fire in the order they fall due; a cancelled timer never fires.
local late = os.startTimer(0.3)
local early = os.startTimer(0.05)
local cancelled = os.startTimer(0.1)
local names = { [late] = "late", [early] = "early", [cancelled] = "cancelled" }
print("distinct ids", late ~= early and early ~= cancelled and late ~= cancelled)
print("integer ids", math.type(late), math.type(early))
os.cancelTimer(cancelled)
os.cancelTimer(12345) -- an unknown id: nothing happens
local seen = {}
while #seen < 2 do
    local _, id = os.pullEvent("timer")
    seen[#seen + 1] = names[id] or ("unknown " .. tostring(id))
end
print(table.concat(seen, " "))
-- A zero timer fires too, after the events already queued.
os.queueEvent("first")
local zero = os.startTimer(0)
print((os.pullEvent()))
local name, id = os.pullEvent()
print(name, id == zero)
print(pcall(os.startTimer, "x"))
print(pcall(os.cancelTimer))
