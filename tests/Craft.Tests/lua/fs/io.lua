-- CraftOS's io over fs.
local function eq(a, b, what)
    if a ~= b then error(("%s: expected %q, got %q"):format(what, tostring(b), tostring(a)), 2) end
end
local f = assert(io.open("data", "w"))
eq(io.type(f), "file", "io.type")
eq(f:write("12 -3.5e1 0x10\n", 7, "\nlast\n", "\0\255"), f, "write returns the file")
f:setvbuf("no") f:flush() f:close()
eq(io.type(f), "closed file", "closed")
eq(io.type(42), nil, "not a file")
eq(pcall(f.read, f), false, "read after close")

local r = io.open("data")
local a, b, c = r:read("n", "*n", "n")
eq(a, 12, "n") eq(b, -35.0, "n float") eq(c, 16, "n hex")
eq(r:read("L"), "\n", "L") eq(r:read("*l"), "7", "*l") eq(r:read("l"), "last", "l")
eq(r:read(2), "\0\255", "count") eq(r:read("a"), "", "a at end") eq(r:read("l"), nil, "l at end")
eq(r:seek("set", 3), 3, "seek") eq(r:read(4), "-3.5", "after seek")
r:close()

local lines = {}
for l in io.lines("data") do lines[#lines + 1] = l end
eq(#lines, 4, "io.lines count") eq(lines[3], "last", "io.lines")
local n = 0
for a2, b2 in io.lines("data", 1, 2) do n = n + 1 if n == 1 then eq(a2 .. b2, "12 ", "lines formats") end end

local r2 = io.open("data", "rb") eq(r2:read("a"):sub(-2), "\0\255", "binary io") r2:close()
io.output("out") io.write("x", 1) io.close() io.output(io.stdout)
eq(fs.open("out", "r").readAll(), "x1", "io.output")
io.input("data") eq(io.read("n"), 12, "io.input") io.input(io.stdin)
local none, err = io.open("nope") eq(none, nil, "missing") eq(err, "/nope: No such file", "missing msg")
eq(select(2, io.open("rom/x", "w")), "/rom/x: Access denied", "rom")
io.stdout:write("to stdout\n")
io.stderr:write("to stderr\n")
eq(io.read(), "typed line", "stdin")
eq(io.stdin:read("l"), nil, "stdin end")
print("ok")
