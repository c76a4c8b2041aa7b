-- read() waits for the host's input without yielding; that wait is not "running".
print("read", read())
local n = 0
for i = 1, 1000000 do n = n + i end
print("done", n)
