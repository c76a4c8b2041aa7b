-- CraftOS's settings API: named values with optional definitions (description, default, type),
-- saved to and loaded from a file (by default /.settings) as textutils.serialize of a table.
-- fs, textutils and os.queueEvent are looked up when used, never captured.
--
-- Called with: the table from expect.lua. Returns the settings table.

local checks = ...
local expect, field = checks.expect, checks.field
local type, pairs, ipairs, pcall, error = type, pairs, ipairs, pcall, error
local sort, concat = table.sort, table.concat

local settings = {}
local definitions, values = {}, {}

local TYPES = { "number", "string", "boolean", "table" }
local isType = {}
for _, t in ipairs(TYPES) do isType[t] = true end

local DEFAULT_PATH = "/.settings"

-- Tables are stored as their serialised round trip: no shared references, no functions, and an
-- error for what cannot be serialised (recursive tables).
local function detached(value)
    if type(value) ~= "table" then return value end
    return textutils.unserialize(textutils.serialize(value))
end

local function copy(value)
    if type(value) ~= "table" then return value end
    local out = {}
    for k, v in pairs(value) do out[k] = copy(v) end
    return out
end

local function store(name, new)
    local old = values[name]
    if old == nil then
        local d = definitions[name]
        old = d and d.default
    end
    values[name] = new
    if old ~= new then os.queueEvent("setting_changed", name, new, old) end
end

function settings.define(name, options)
    expect(1, name, "string")
    expect(2, options, "table", "nil")
    local d = {}
    if options then
        d.description = field(options, "description", "string", "nil")
        d.default = detached(field(options, "default", "number", "string", "boolean", "table", "nil"))
        d.type = field(options, "type", "string", "nil")
        if d.type and not isType[d.type] then
            error(("Unknown type %q. Expected one of %s."):format(d.type, concat(TYPES, ", ")), 2)
        end
    end
    definitions[name] = d
end

function settings.undefine(name)
    expect(1, name, "string")
    definitions[name] = nil
end

function settings.set(name, value)
    expect(1, name, "string")
    expect(2, value, "number", "string", "boolean", "table")
    local d = definitions[name]
    if d and d.type then expect(2, value, d.type) end
    store(name, detached(value))
end

function settings.get(name, default)
    expect(1, name, "string")
    local value = values[name]
    if value ~= nil then return copy(value) end
    if default ~= nil then return default end
    local d = definitions[name]
    return d and copy(d.default)
end

function settings.getDetails(name)
    expect(1, name, "string")
    local details = copy(definitions[name]) or {}
    details.value = values[name]
    details.changed = details.value ~= nil
    if details.value == nil then details.value = details.default end
    return details
end

function settings.unset(name)
    expect(1, name, "string")
    store(name, nil)
end

function settings.clear()
    for name in pairs(values) do store(name, nil) end
end

function settings.getNames()
    local names = {}
    for name in pairs(definitions) do names[#names + 1] = name end
    for name in pairs(values) do
        if not definitions[name] then names[#names + 1] = name end
    end
    sort(names)
    return names
end

-- Merges the file's settings into the current ones; values of the wrong type for their
-- definition, and entries that are not settings, are skipped. False if the file cannot be read
-- or does not hold a table.
function settings.load(path)
    expect(1, path, "string", "nil")
    local file = fs.open(path or DEFAULT_PATH, "r")
    if not file then return false end
    local text = file.readAll()
    file.close()
    local loaded = textutils.unserialize(text or "")
    if type(loaded) ~= "table" then return false end
    for name, value in pairs(loaded) do
        local t = type(value)
        if type(name) == "string" and isType[t] then
            local d = definitions[name]
            if not d or not d.type or d.type == t then
                local ok, clean = pcall(detached, value)
                if ok then store(name, clean) end
            end
        end
    end
    return true
end

-- Overwrites the file with every value that is set (defaults are not saved).
function settings.save(path)
    expect(1, path, "string", "nil")
    local file = fs.open(path or DEFAULT_PATH, "w")
    if not file then return false end
    file.write(textutils.serialize(values))
    file.close()
    return true
end

return settings
