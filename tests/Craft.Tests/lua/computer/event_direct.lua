-- Filters as the host applies them to events it passes straight to the script.
-- A raw yield of a value that is not a string waits for terminate only.
os.queueEvent("skipped", 1)
os.queueEvent("terminate")
print("raw", coroutine.yield({}))
-- A queued terminate passes any filter; os.pullEvent turns it into an error.
os.queueEvent("other", "x")
os.queueEvent("terminate")
print("pull", pcall(os.pullEvent, "wanted"))
-- Parameters of events a filter turned away do not reach later events.
os.queueEvent("a", "a1", "a2")
os.queueEvent("b")
print("b", select("#", os.pullEvent("b")))
-- A timer passes a "timer" filter; events before it are dropped.
local id = os.startTimer(0)
os.queueEvent("noise", 1, 2, 3)
local name, got = os.pullEvent("timer")
print(name, got == id)
-- The filter changes from one pull to the next.
os.queueEvent("x", 1)
os.queueEvent("y", 2)
print(os.pullEvent("y"))
os.queueEvent("x", 3)
print(os.pullEvent("x"))
