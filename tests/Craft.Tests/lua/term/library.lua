-- The CraftOS libraries around the terminal, against CC:Tweaked's documented results.
-- Prints one line per failure (on standard error) and, at the end, "N passed, M failed".
local passed, failed = 0, 0
local function eq(name, got, want)
    if got == want then passed = passed + 1 else
        failed = failed + 1
        printError("FAIL " .. name .. ": got " .. tostring(got) .. ", want " .. tostring(want))
    end
end
local function raises(name, f, want)
    local ok, err = pcall(f)
    local bare = type(err) == "string" and (err:match("^[^:]*:%d+: (.*)$") or err) or err
    eq(name, ok and "no error" or bare, want)
end
local ser = function(v) return textutils.serialize(v, { compact = true }) end

-- colors / colours
eq("colors.white", colors.white, 1)
eq("colors.black", colors.black, 32768)
eq("colours.grey", colours.grey, 128)
eq("colours has no gray", colours.gray, nil)
eq("combine", colors.combine(colors.red, colors.blue, colors.red), 16384 + 2048)
eq("subtract", colors.subtract(colors.combine(colors.red, colors.blue), colors.red), colors.blue)
eq("test yes", colors.test(colors.combine(colors.red, colors.blue), colors.blue), true)
eq("test no", colors.test(colors.red, colors.blue), false)
eq("packRGB", colors.packRGB(0.7, 0.2, 0.6), 0xb23399)
eq("unpackRGB", ser({ colors.unpackRGB(0xff8000) }), ser({ 1, 128 / 255, 0 }))
eq("toBlit", colors.toBlit(colors.red), "e")
eq("toBlit white", colors.toBlit(colors.white), "0")
eq("fromBlit", colors.fromBlit("e"), colors.red)
eq("fromBlit bad", colors.fromBlit("z"), nil)
raises("toBlit range", function() colors.toBlit(0x10000) end, "Colour out of range")
raises("combine type", function() colors.combine("x") end, "bad argument #1 to 'combine' (number expected, got string)")

-- keys
eq("keys.a", keys.a, 65)
eq("keys.enter", keys.enter, 257)
eq("keys.f1", keys.f1, 290)
eq("keys.numPad0", keys.numPad0, 320)
eq("keys.leftCtrl", keys.leftCtrl, 341)
eq("getName", keys.getName(keys.space), "space")
eq("getName none", keys.getName(1), nil)

-- vector
local a, b = vector.new(1, 2, 3), vector.new(4, 5, 6)
eq("add", tostring(a + b), "5,7,9")
eq("sub", tostring(b - a), "3,3,3")
eq("mul", tostring(a * 2), "2,4,6")
eq("dot", a:dot(b), 32)
eq("cross", tostring(a:cross(b)), "-3,6,-3")
eq("length", vector.new(3, 4, 0):length(), 5)
eq("normalize", tostring(vector.new(0, 3, 0):normalize()), "0,1,0")
eq("round", tostring(vector.new(1.4, 1.6, -0.4):round()), "1,2,0")
eq("equals", a == vector.new(1, 2, 3), true)
eq("unm", tostring(-a), "-1,-2,-3")

-- textutils
eq("formatTime", textutils.formatTime(13.5), "1:30 PM")
eq("formatTime 24", textutils.formatTime(13.5, true), "13:30")
eq("formatTime midnight", textutils.formatTime(0.25), "12:15 AM")
eq("serialize compact", textutils.serialize({ 1, a = 2 }, { compact = true }), "{1,a=2,}")
eq("complete", ser(textutils.complete("pri", _ENV)), ser({ "nt(", "ntError(" }))
eq("complete table", ser(textutils.complete("colo", { colors = { red = 1 }, colour = 3 })), ser({ "rs.", "ur" }))
eq("complete method", ser(textutils.complete("s:su", { s = string })), ser({ "b(" }))
eq("complete keyword", #textutils.complete("and"), 0)

-- cc.strings, cc.completion, cc.pretty, cc.expect
local strings = require "cc.strings"
eq("wrap", ser(strings.wrap("the quick brown fox", 10)), ser({ "the quick ", "brown fox" }))
eq("wrap long word", ser(strings.wrap("abcdefghij", 4)), ser({ "abc", "defg", "hij" }))
eq("ensure_width pad", strings.ensure_width("ab", 4), "ab  ")
eq("ensure_width cut", strings.ensure_width("abcdef", 4), "abcd")
eq("split", ser(strings.split("a,b,,c", ",")), ser({ "a", "b", "", "c" }))
eq("split limit", ser(strings.split("a-b-c", "-", true, 2)), ser({ "a", "b-c" }))
local completion = require "cc.completion"
eq("choice", ser(completion.choice("he", { "hello", "help", "he", "x" })), ser({ "llo", "lp" }))
eq("choice space", ser(completion.choice("he", { "hello", "he" }, true)), ser({ "llo ", " " }))
eq("side", ser(completion.side("b")), ser({ "ack", "ottom" }))
local pretty = require "cc.pretty"
eq("pretty flat", pretty.render(pretty.pretty({ 1, 2, 3 })), "{ 1, 2, 3 }")
eq("pretty keys", pretty.render(pretty.pretty({ b = 1, a = "x", [5] = true })), '{ a = "x", b = 1, [5] = true }')
eq("pretty broken", pretty.render(pretty.pretty({ "aaaa", "bbbb", "cccc" }), 10), '{\n  "aaaa",\n  "bbbb",\n  "cccc"\n}')
eq("pretty group", pretty.render(pretty.group(pretty.text("a") .. pretty.space_line .. pretty.text("b")), 10), "a b")
eq("pretty line", pretty.render(pretty.text("a") .. pretty.line .. pretty.text("b")), "a\nb")
eq("pretty nest", pretty.render(pretty.nest(2, pretty.text("a") .. pretty.line .. pretty.text("b"))), "a\n  b")
local expect = require "cc.expect"
raises("cc.expect", function() local function f(x) expect.expect(1, x, "string") end f(1) end,
    "bad argument #1 (string expected, got number)")

-- term
eq("getSize", ser({ term.getSize() }), ser({ 51, 19 }))
eq("isColour", term.isColour(), true)
term.setTextColour(colors.red)
eq("getTextColour", term.getTextColour(), colors.red)
term.setTextColour(colors.white)
eq("getBackgroundColour", term.getBackgroundColour(), colors.black)
eq("nativePaletteColour", ser({ term.nativePaletteColour(colors.red) }), ser({ 0xcc / 255, 0x4c / 255, 0x4c / 255 }))
term.setPaletteColour(colors.red, 0x102030)
eq("palette", ser({ term.getPaletteColour(colors.red) }), ser({ 0x10 / 255, 0x20 / 255, 0x30 / 255 }))
raises("colour range", function() term.setTextColour(0) end, "Colour out of range")
raises("blit lengths", function() term.blit("ab", "0", "ff") end, "Arguments must be the same length")
raises("redirect term", function() term.redirect(term) end, "term is not a recommended redirect target, try term.current() instead")
eq("native", term.current(), term.native())
local w = window.create(term.current(), 1, 1, 10, 3, false)
eq("redirect returns previous", term.redirect(w), term.native())
print("in window")
eq("window getLine", (w.getLine(1)), "in window ")
eq("window cursor", ser({ w.getCursorPos() }), ser({ 1, 2 }))
write("a long line that wraps")
-- Wrapped at the window's width, and scrolled once at its bottom.
eq("window wrapped", (w.getLine(1)), "a long    ")
eq("window wrapped 2", (w.getLine(2)), "line that ")
eq("window wrapped 3", (w.getLine(3)), "wraps     ")
term.redirect(term.native())
w.setBackgroundColour(colors.blue)
w.clear()
eq("window clear colours", select(3, w.getLine(1)), ("b"):rep(10))
w.setCursorPos(3, 1)
w.blit("XY", "01", "23")
eq("window blit", ser({ w.getLine(1) }), ser({ "  XY      ", "0001000000", "bb23bbbbbb" }))
w.scroll(1)
eq("window scroll", (w.getLine(3)), ("      "):rep(1) .. "    ")
raises("window getLine range", function() w.getLine(4) end, "Line is out of range.")
w.reposition(2, 2, 4, 2)
eq("window reposition", ser({ w.getPosition() }), ser({ 2, 2 }))
eq("window size", ser({ w.getSize() }), ser({ 4, 2 }))
eq("window visible", w.isVisible(), false)

-- peripheral (none attached)
eq("getNames", #peripheral.getNames(), 0)
eq("isPresent", peripheral.isPresent("top"), false)
eq("wrap none", peripheral.wrap("top"), nil)
eq("call none", peripheral.call("top", "x"), nil)
eq("find none", peripheral.find("monitor"), nil)
eq("_HEADLESS", _HEADLESS, true)

print(passed .. " passed, " .. failed .. " failed")
