-- Tables travel by reference: the receiver gets the same table, changes included.
local t = { n = 1 }
os.queueEvent("t", t)
t.n = 2 -- changed after queueing, before delivery
local _, got = os.pullEvent("t")
print("same table", rawequal(got, t))
print("sees change", got.n)
got.m = "back"
print("change visible to sender", t.m)
