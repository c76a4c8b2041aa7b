-- Craft's `keys`: CC:Tweaked's key codes (GLFW's numbering, which CC:Tweaked and CraftOS-PC use
-- since Minecraft 1.16) by name, and keys.getName. A headless computer queues no key events
-- itself; a host may (Computer.QueueEvent("key", keys.enter, false)).
--
-- Loaded by the BIOS with (expect); returns the `keys` table.

local expect = ...

local keys = {}
local names = {}

local function add(code, ...)
    for i = 1, select("#", ...) do
        local name = select(i, ...)
        names[code + i - 1] = name
        keys[name] = code + i - 1
    end
end

add(32, "space")
add(39, "apostrophe")
add(44, "comma", "minus", "period", "slash",
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
add(59, "semicolon")
add(61, "equals")
add(65, "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m",
    "n", "o", "p", "q", "r", "s", "t", "u", "v", "w", "x", "y", "z",
    "leftBracket", "backslash", "rightBracket")
add(96, "grave")
add(257, "enter", "tab", "backspace", "insert", "delete", "right", "left", "down", "up",
    "pageUp", "pageDown", "home", "end")
add(280, "capsLock", "scrollLock", "numLock", "printScreen", "pause")
for i = 1, 25 do add(289 + i, "f" .. i) end
for i = 0, 9 do add(320 + i, "numPad" .. i) end
add(330, "numPadDecimal", "numPadDivide", "numPadMultiply", "numPadSubtract", "numPadAdd",
    "numPadEnter", "numPadEqual")
add(340, "leftShift", "leftCtrl", "leftAlt", "leftSuper", "rightShift", "rightCtrl", "rightAlt")
add(348, "menu")

-- Older names CraftOS keeps.
keys["return"] = keys.enter
keys.scollLock = keys.scrollLock

--- The name of a key code, or nil.
function keys.getName(code)
    expect(1, code, "number")
    return names[code]
end

return keys
