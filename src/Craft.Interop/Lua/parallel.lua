-- Craft: CraftOS-compatible `parallel` library.
--
-- Pure Lua 5.4; the chunk returns { waitForAny = ..., waitForAll = ... }.
--
-- Each function runs in its own coroutine. All are first resumed, in argument
-- order, with no event. After every sweep the runner yields a single nil to its
-- own resumer (what CraftOS's os.pullEventRaw() does), and the event it gets
-- back is offered to each live coroutine in order. A coroutine only receives
-- the event if the value it last yielded (its filter) is nil, equals the event
-- name, or the event is "terminate". An error in any coroutine is re-raised
-- unchanged (level 0).

local type, error, select = type, error, select
local co_create, co_resume, co_status, co_yield = coroutine.create, coroutine.resume, coroutine.status, coroutine.yield
local t_pack, t_unpack = table.pack, table.unpack

local function spawn_all(...)
    local count = select("#", ...)
    local tasks = {}
    for i = 1, count do
        local fn = select(i, ...)
        if type(fn) ~= "function" then
            -- Level 3: blame the caller of waitForAny / waitForAll.
            error("bad argument #" .. i .. " (function expected, got " .. type(fn) .. ")", 3)
        end
        tasks[i] = { co = co_create(fn), filter = nil }
    end
    return tasks, count
end

-- Runs until at most `stop_at` tasks are still alive; returns the index of the
-- task whose completion reached that point (0 if there were no tasks).
local function drive(tasks, count, stop_at)
    if count < 1 then return 0 end
    local alive = count
    local event = { n = 0 }

    while true do
        local name = event[1]
        for i = 1, count do
            local task = tasks[i]
            if task and (task.filter == nil or task.filter == name or name == "terminate") then
                local ok, result = co_resume(task.co, t_unpack(event, 1, event.n))
                if not ok then
                    error(result, 0)
                end
                task.filter = result

                if co_status(task.co) == "dead" then
                    tasks[i] = false
                    alive = alive - 1
                    if alive <= stop_at then
                        return i
                    end
                end
            end
        end

        event = t_pack(co_yield(nil))
    end
end

local parallel = {}

function parallel.waitForAny(...)
    local tasks, count = spawn_all(...)
    return drive(tasks, count, count - 1)
end

function parallel.waitForAll(...)
    local tasks, count = spawn_all(...)
    return drive(tasks, count, 0)
end

return parallel
