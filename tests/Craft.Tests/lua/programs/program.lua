-- The script is the computer's first program: arg, shell, its own globals, require and package.
print(arg[0], #arg, arg[1], arg[2], ...)
print(shell.getRunningProgram(), "[" .. shell.dir() .. "]", shell.path())
print(shell.resolve("a/./b/../c"), shell.resolve("/x/y"), shell.resolve("../up"))
shell.setAlias("ls", "list")
print(shell.aliases().ls, shell.resolveProgram("ls"))
shell.setPath("/bin")
print(shell.path())
mine = 1
print(rawget(_G, "mine"), mine, _ENV ~= _G)
print(type(require), type(package.loaded), package.loaded.string == string, package.preload ~= nil)
package.preload.greeting = function(name) return "hello from " .. name end
print(require("greeting"), require("greeting") == package.loaded.greeting)
local ok, err = pcall(require, "absent")
print(err)
