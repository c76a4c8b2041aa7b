-- sleep waits for its own timer and discards every other event it sees.
os.queueEvent("before")
local other = os.startTimer(0.01)
local t0 = os.clock()
sleep(0.2)
print("waited", os.clock() - t0 >= 0.15)
os.queueEvent("after")
-- "before" and the other timer were consumed by sleep: the next event is "after".
print((os.pullEvent()))
sleep(0)
sleep()
print("sleep(0) and sleep() return")
