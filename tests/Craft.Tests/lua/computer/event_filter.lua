-- A filtered pull discards the events before the one it wants.
os.queueEvent("a", 1)
os.queueEvent("b", 2)
os.queueEvent("c", 3)
os.queueEvent("d", 4)
print(os.pullEvent("c"))
-- "a" and "b" are gone; "d" is next.
print(os.pullEvent())
os.queueEvent("e", 5)
print(os.pullEventRaw("e"))
