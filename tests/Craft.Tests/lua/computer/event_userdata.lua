-- Userdata parameters pass through unchanged (io is exposed by the host for this test).
local ud = io.stdout
print("type", type(ud))
os.queueEvent("ud", ud)
local _, got = os.pullEvent("ud")
print("same", rawequal(got, ud))
