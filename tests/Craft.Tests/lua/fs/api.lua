-- Every fs function, in a fresh empty root that holds only this script.
local function eq(a, b, what)
    if a ~= b then error(("%s: expected %q, got %q"):format(what, tostring(b), tostring(a)), 2) end
end
local function raises(msg, f, ...)
    local ok, err = pcall(f, ...)
    if ok then error("expected an error: " .. msg, 2) end
    eq(err, msg, "error")
end

eq(table.concat(fs.list("/"), ","), "api.lua,rom", "list root")
eq(fs.exists("api.lua"), true, "exists")
eq(fs.exists("nope"), false, "exists missing")
eq(fs.exists(".."), false, "exists above root")
eq(fs.isDir("/"), true, "isDir root")
eq(fs.isDir("rom"), true, "isDir rom")
eq(fs.isDir("api.lua"), false, "isDir file")
eq(fs.isReadOnly("/"), false, "isReadOnly root")
eq(fs.isReadOnly("rom/modules"), true, "isReadOnly rom")
eq(fs.getName(""), "root", "getName root")
eq(fs.getName("a/b/c.lua"), "c.lua", "getName")
eq(fs.getDir(""), "..", "getDir root")
eq(fs.getDir("a/b/c"), "a/b", "getDir")
eq(fs.getDir("a"), "", "getDir top")
eq(fs.combine("/a/", "b", "../c", "\\d", "./e"), "a/c/d/e", "combine")
eq(fs.combine("", "x"), "x", "combine empty")
eq(fs.combine("a", "..", ".."), "..", "combine above")
eq(fs.getDrive("/"), "hdd", "getDrive hdd")
eq(fs.getDrive("rom/modules/main/cc/expect.lua"), "rom", "getDrive rom")
eq(fs.getDrive("nope"), nil, "getDrive missing")
eq(fs.isDriveRoot("/"), true, "isDriveRoot /")
eq(fs.isDriveRoot("rom"), true, "isDriveRoot rom")
eq(fs.isDriveRoot("api.lua"), false, "isDriveRoot file")
assert(fs.getFreeSpace("/") > 0, "free space")
assert(fs.getCapacity("/") > 0, "capacity")
eq(fs.getFreeSpace("rom"), 0, "rom free")

fs.makeDir("a/b/c")
eq(fs.isDir("a/b/c"), true, "makeDir parents")
fs.makeDir("a/b/c") -- again: fine
local h = fs.open("a/f.txt", "w") h.write("hello") h.close()
eq(fs.getSize("a/f.txt"), 5, "getSize")
eq(fs.getSize("a"), 0, "getSize dir")
raises("/nope: No such file", fs.getSize, "nope")
raises("/a/f.txt: File exists", fs.makeDir, "a/f.txt")
raises("/nope: Not a directory", fs.list, "nope")
raises("/..: Invalid Path", fs.list, "..")
raises("/../x: Invalid Path", fs.list, "a/../../x")
raises("/rom/x: Access denied", fs.makeDir, "rom/x")
raises("/rom: Access denied", fs.delete, "rom")
raises("/rom/y: Access denied", fs.copy, "a/f.txt", "rom/y")
raises("Access denied", fs.move, "a/f.txt", "rom/y")
raises("Access denied", fs.move, "rom/modules", "z")
raises("bad argument #1 (string expected, got nil)", fs.list)

local attrs = fs.attributes("a/f.txt")
eq(attrs.size, 5, "attributes size") eq(attrs.isDir, false, "attributes isDir")
eq(attrs.isReadOnly, false, "attributes ro")
assert(attrs.modified > 1e12 and attrs.modification == attrs.modified and attrs.created > 0, "times in ms")
eq(fs.attributes("a").isDir, true, "attributes dir")
raises("/nope: No such file", fs.attributes, "nope")

fs.copy("a", "copy")
eq(fs.getSize("copy/f.txt"), 5, "copy tree") eq(fs.isDir("copy/b/c"), true, "copy dirs")
raises("/copy: File exists", fs.copy, "a", "copy")
raises("/nope: No such file", fs.copy, "nope", "x")
raises("/a: Can't copy a directory inside itself", fs.copy, "a", "a/in")
fs.copy("rom/modules/main/cc/expect.lua", "expect.lua")
eq(fs.getSize("expect.lua"), fs.getSize("rom/modules/main/cc/expect.lua"), "copy from rom")

fs.move("copy", "moved/deeper")
eq(fs.exists("copy"), false, "moved away") eq(fs.getSize("moved/deeper/f.txt"), 5, "moved")
raises("No such file", fs.move, "copy", "x")
raises("File exists", fs.move, "a", "moved")
raises("Can't move a directory inside itself", fs.move, "a", "a/b/x")

eq(table.concat(fs.find("a/*"), ","), "a/b,a/f.txt", "find *")
eq(table.concat(fs.find("*/f.tx?"), ","), "a/f.txt", "find ?")
eq(table.concat(fs.find("a/f.txt"), ","), "a/f.txt", "find plain")
eq(#fs.find("zz*"), 0, "find none")

local c = fs.complete("a/f", "")
eq(c[1], ".txt", "complete file")
local found = false
for _, v in ipairs(fs.complete("mo", "")) do if v == "ved/" then found = true end end
eq(found, true, "complete dir")

fs.delete("moved") eq(fs.exists("moved"), false, "delete tree")
fs.delete("nope") -- missing: fine
raises("/: Access denied", fs.delete, "")
raises("/rom/modules: Access denied", fs.delete, "rom/modules")

-- odd names stay literal: no percent-decoding, stripped characters as CC:Tweaked strips them
local h2 = fs.open("%2e%2e", "w") h2.close()
eq(fs.exists("%2e%2e"), true, "percent literal")
eq(fs.combine("a:b<c>d?e|f\"g"), "abcdefg", "stripped characters")
eq(fs.combine("....", "x"), "x", "dots")
print("ok")
