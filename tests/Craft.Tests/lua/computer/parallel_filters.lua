-- Each coroutine's own filter is honoured: it only sees the events it asked for.
local log = {}
local function say(s) log[#log + 1] = s end
parallel.waitForAll(
    function()
        local _, v = os.pullEvent("x")
        say("A got x" .. v)
    end,
    function()
        local _, v = os.pullEvent("y")
        say("B got y" .. v)
        _, v = os.pullEvent("x")
        say("B got x" .. v)
    end,
    function()
        for i = 1, 3 do
            local name, v = os.pullEvent()
            say("C got " .. name .. v)
        end
    end,
    function()
        os.queueEvent("y", 1)
        os.queueEvent("x", 2)
        os.queueEvent("x", 3)
    end)
print(table.concat(log, "\n"))
