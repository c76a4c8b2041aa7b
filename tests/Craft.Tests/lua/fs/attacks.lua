-- The test made: outfile -> a file outside the root, outdir -> a folder outside, inlink -> real/
-- (inside). Nothing outside may be read, written, listed, stat'ed, deleted, moved or copied.
local function eq(a, b, what)
    if a ~= b then error(("%s: expected %q, got %q"):format(what, tostring(b), tostring(a)), 2) end
end
local function denied(f, ...)
    local ok, err = pcall(f, ...)
    eq(ok, false, "refused") assert(tostring(err):find("Access denied", 1, true), "denied: " .. tostring(err))
end
for _, p in ipairs({ "outfile", "outdir", "outdir/secret.txt", "/outdir/../outfile" }) do
    local h, m = fs.open(p, "r") eq(h, nil, "read " .. p) assert(m:find("Access denied", 1, true), m)
    h, m = fs.open(p, "w") eq(h, nil, "write " .. p)
    h, m = fs.open(p, "a") eq(h, nil, "append " .. p)
    eq(fs.exists(p), false, "exists " .. p)
    eq(fs.isDir(p), false, "isDir " .. p)
    denied(fs.getSize, p) denied(fs.attributes, p) denied(fs.list, p)
    denied(fs.delete, p) denied(fs.move, p, "stolen") denied(fs.copy, p, "stolen") denied(fs.makeDir, p .. "/x")
    denied(fs.move, "real/inside.txt", p .. "/x")
end
denied(fs.copy, "real/inside.txt", "outdir/new.txt")
eq(fs.exists("stolen"), false, "nothing stolen")
-- climbing and host paths stay inside
eq(select(2, fs.open("../../../../etc/passwd", "r")), "/../../../../etc/passwd: Invalid Path", "climb")
eq(select(2, fs.open("/etc/passwd", "r")), "/etc/passwd: No such file", "absolute host path")
eq(select(2, fs.open("\\..\\x", "r")), "/../x: Invalid Path", "backslashes")
-- links that stay inside work
eq(fs.open("inlink/inside.txt", "r").readAll(), "inside", "inside link read")
local w = fs.open("inlink/new.txt", "w") w.write("n") w.close()
eq(fs.getSize("real/new.txt"), 1, "inside link write")
eq(#fs.list("inlink"), 2, "inside link list")
fs.delete("inlink") eq(fs.exists("real/inside.txt"), true, "deleting a link keeps its target")
print("ok")
