-- Every open mode and handle function; every byte intact.
local function eq(a, b, what)
    if a ~= b then error(("%s: expected %q, got %q"):format(what, tostring(b), tostring(a)), 2) end
end
local all = {}
for i = 0, 255 do all[#all + 1] = string.char(i) end
all = table.concat(all)

for _, mode in ipairs({ "w", "wb" }) do
    local h = assert(fs.open("bytes", mode))
    h.write(all) h:write(12) h.close()
    local r = assert(fs.open("bytes", mode == "w" and "r" or "rb"))
    eq(r.readAll(), all .. (mode == "w" and "12" or "\12"), "bytes via " .. mode)
    eq(r.readAll(), "", "readAll at the end")
    eq(r.read(), nil, "read at the end")
    eq(r.readLine(), nil, "readLine at the end")
    r.close()
end

local h = fs.open("b", "wb")
for i = 0, 255 do h.write(i) end
h.write(-1) h.write(256 + 65)
h.close()
local r = fs.open("b", "rb")
for i = 0, 255 do eq(r.read(), i, "byte " .. i) end
eq(r.read(), 255, "-1 as a byte") eq(r.read(), 65, "wraps")
eq(r.read(), nil, "binary end")
eq(r.seek("set", 1), 1, "seek set")
eq(r.read(2), "\1\2", "read count")
eq(r:seek(), 3, "seek cur")
eq(r.seek("end"), 258, "seek end")
eq(r.read(0), nil, "read 0 at end")
eq(r.seek("set", 0), 0, "rewind")
eq(r.read(0), "", "read 0")
local pos, err = r.seek("set", -1)
eq(pos, nil, "negative seek") eq(err, "Position is negative", "negative seek msg")
r.close()
for _, f in ipairs({ "read", "readLine", "readAll", "seek", "close" }) do
    local ok, e = pcall(r[f])
    eq(ok, false, f .. " after close") eq(e, "attempt to use a closed file", f .. " after close msg")
end

-- text read of one char, lines with \r\n and trailing
local w = fs.open("t", "w") w.writeLine("one") w.write("two\r\nthree") w.close()
local t = fs.open("t", "r")
eq(t.read(), "o", "text read") eq(t.readLine(), "ne", "rest of line")
eq(t.readLine(true), "two\r\n", "withTrailing") eq(t.readLine(), "three", "last") eq(t.readLine(), nil, "eol")
t.close()

-- append
local a = fs.open("t", "a") a.write("!") a.close()
eq(fs.getSize("t"), 15, "append")
local ab = fs.open("t", "ab") ab.write(10) ab.close()
local t2 = fs.open("t", "r") t2.readLine() t2.readLine() eq(t2.readLine(), "three!", "appended") t2.close()

-- r+ keeps, w+ erases
local rp = fs.open("t", "r+")
rp.write("ONE") rp.seek("set", 0) eq(rp.readLine(), "ONE", "r+ write then read") rp.close()
eq(fs.getSize("t"), 16, "r+ keeps")
local wp = fs.open("t", "w+") eq(wp.readAll(), "", "w+ erased") wp.write("xy") wp.seek("set", 0) eq(wp.read(5), "xy", "w+ read") wp.close()
local rpb = fs.open("t", "r+b") eq(rpb.read(), 120, "r+b byte") rpb.close()
local wpb = fs.open("t", "w+b") wpb.write(0) wpb.seek("set") eq(wpb.read(), 0, "w+b") wpb.close()

-- failures
local n, m = fs.open("missing", "r") eq(n, nil, "missing") eq(m, "/missing: No such file", "missing msg")
n, m = fs.open("missing", "r+") eq(m, "/missing: No such file", "r+ missing")
fs.makeDir("dir")
n, m = fs.open("dir", "w") eq(m, "/dir: Cannot write to directory", "dir write")
n, m = fs.open("rom/x", "w") eq(m, "/rom/x: Access denied", "rom write")
n, m = fs.open("../x", "w") eq(m, "/../x: Invalid Path", "above root")
local ok, e = pcall(fs.open, "t", "x") eq(e, "Unsupported mode", "bad mode")
n, m = fs.open("new/deep/file", "w") eq(type(n), "table", "parents made") n.close()

-- handles are plain tables
local p = fs.open("t", "r")
local names = {}
for k, v in pairs(p) do assert(type(v) == "function") names[#names + 1] = k end
table.sort(names)
eq(table.concat(names, ","), "close,read,readAll,readLine,seek", "read handle functions")
p.close()
local q = fs.open("t", "w") names = {}
for k in pairs(q) do names[#names + 1] = k end
table.sort(names) q.close()
eq(table.concat(names, ","), "close,flush,seek,write,writeLine", "write handle functions")
print("ok")
