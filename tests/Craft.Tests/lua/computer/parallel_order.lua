-- parallel runs its functions in argument order; every coroutine sees every event.
local log = {}
local function say(s) log[#log + 1] = s end
parallel.waitForAll(
    function()
        say("a1")
        local _, v = os.pullEvent("go")
        say("a2:" .. v)
    end,
    function()
        say("b1")
        os.queueEvent("go", "x")
        local _, v = os.pullEvent("go")
        say("b2:" .. v)
    end,
    function()
        say("c1")
    end)
print(table.concat(log, " "))

-- waitForAny returns the index of the first function to finish and stops the others.
log = {}
local which = parallel.waitForAny(
    function()
        os.pullEvent("never")
        say("never")
    end,
    function()
        os.queueEvent("tick")
        os.pullEvent("tick")
        say("second done")
    end)
print(which, table.concat(log, " "))
print("waitForAny()", parallel.waitForAny())
print("waitForAll()", parallel.waitForAll())
print(pcall(parallel.waitForAll, print, 5))
-- An error in one function ends parallel with that error.
print(pcall(parallel.waitForAll, function() error("inner", 0) end, function() os.pullEvent() end))
