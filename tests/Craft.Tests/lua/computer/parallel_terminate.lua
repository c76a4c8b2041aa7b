-- terminate reaches every coroutine whatever its filter: pullEventRaw sees it, pullEvent raises.
local log = {}
local function say(s) log[#log + 1] = s end
local ok, err = pcall(parallel.waitForAll,
    function()
        local name = os.pullEventRaw("never")
        say("raw got " .. name)
    end,
    function()
        os.queueEvent("terminate")
        os.pullEvent("never")
        say("not reached")
    end)
print(ok, err)
print(table.concat(log, " "))
