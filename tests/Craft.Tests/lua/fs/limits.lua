-- 128 open files exactly, then "Too many files already open"; the capacity the test set leaves
-- exactly 100 bytes free: 100 bytes fit, one more is "Out of space", what was written stays.
local function eq(a, b, what)
    if a ~= b then error(("%s: expected %q, got %q"):format(what, tostring(b), tostring(a)), 2) end
end
local open = {}
for i = 1, 128 do open[i] = assert(fs.open("f" .. (i % 3), "w"), "file " .. i) end
local h, m = fs.open("more", "w") eq(h, nil, "129th") eq(m, "Too many files already open", "limit msg")
open[1].close()
local again = assert(fs.open("more", "r+") == nil and fs.open("more", "w"), "room again")
again.close()
for i = 2, 128 do open[i].close() end
fs.delete("f0") fs.delete("f1") fs.delete("f2") fs.delete("more")

eq(fs.getFreeSpace("/"), 100, "free space")
local w = fs.open("big", "wb")
w.write(string.rep("x", 60)) w.write(string.rep("y", 40))
eq(fs.getFreeSpace("/"), 0, "full")
local ok, err = pcall(w.write, "z") eq(ok, false, "past capacity") eq(err, "Out of space", "msg")
w.close()
eq(fs.getSize("big"), 100, "kept what was written")
eq(select(2, pcall(fs.copy, "big", "big2")), "Out of space", "copy past capacity")
fs.delete("big") eq(fs.getFreeSpace("/"), 100, "space back")
print("ok")
