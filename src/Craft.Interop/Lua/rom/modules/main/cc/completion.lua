--- Completion helpers for `read`'s completion function, as CC:Tweaked's cc.completion module
-- has them. Each returns the endings of the candidates that start with `text`.

local expect = require("cc.expect").expect

--- The endings of the `choices` that start with (and are longer than) `text`, with a space after
-- each when `add_space`.
local function choice(text, choices, add_space)
    expect(1, text, "string")
    expect(2, choices, "table")
    expect(3, add_space, "boolean", "nil")
    local results = {}
    for _, option in ipairs(choices) do
        if #option + (add_space and 1 or 0) > #text and option:sub(1, #text) == text then
            results[#results + 1] = option:sub(#text + 1) .. (add_space and " " or "")
        end
    end
    return results
end

--- The names of attached peripherals.
local function peripheral_(text, add_space)
    expect(1, text, "string")
    expect(2, add_space, "boolean", "nil")
    return choice(text, peripheral.getNames(), add_space)
end

local sides = { "front", "back", "top", "bottom", "left", "right" }

--- The sides of the computer.
local function side(text, add_space)
    expect(1, text, "string")
    expect(2, add_space, "boolean", "nil")
    return choice(text, sides, add_space)
end

--- The names of defined or set settings.
local function setting(text, add_space)
    expect(1, text, "string")
    expect(2, add_space, "boolean", "nil")
    return choice(text, settings.getNames(), add_space)
end

--- Command-computer commands: none on Craft.
local function command(text, add_space)
    expect(1, text, "string")
    expect(2, add_space, "boolean", "nil")
    if commands then return choice(text, commands.list(), add_space) end
    return {}
end

return { choice = choice, peripheral = peripheral_, side = side, setting = setting, command = command }
