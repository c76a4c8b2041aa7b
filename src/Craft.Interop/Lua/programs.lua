-- Loading code from the computer's files, as CraftOS's BIOS does: loadfile, dofile, os.run,
-- os.loadAPI and os.unloadAPI. Files are read through the global fs (looked up when used); chunks
-- are text only (through the BIOS's load) and named "@/path".
--
-- Called with: the table from expect.lua, the BIOS's load. Returns the functions; the BIOS
-- installs them.

local checks, load = ...
local expect = checks.expect
local type, pairs, pcall, error, tostring, setmetatable = type, pairs, pcall, error, tostring, setmetatable

local M = {}

-- loadfile(path[, mode][, env]), and the older loadfile(path, env).
function M.loadfile(path, mode, env)
    if type(mode) == "table" and env == nil then mode, env = nil, mode end
    expect(1, path, "string")
    expect(2, mode, "string", "nil")
    expect(3, env, "table", "nil")

    local file = fs and fs.open(path, "rb")
    if not file then return nil, "File not found" end
    local text = file.readAll()
    file.close()
    local name = "@/" .. fs.combine(path)
    if env ~= nil then return load(text or "", name, mode, env) end
    return load(text or "", name, mode)
end

function M.dofile(path)
    expect(1, path, "string")
    local chunk, err = M.loadfile(path, nil, _G)
    if not chunk then error(err, 2) end
    return chunk()
end

-- Runs the file with `env` (given _G as its base) as its globals. False, and the error printed,
-- if it does not load or raises.
function M.run(env, path, ...)
    expect(1, env, "table")
    expect(2, path, "string")
    setmetatable(env, { __index = _G })
    local chunk, err = M.loadfile(path, nil, env)
    local ok = false
    if chunk then ok, err = pcall(chunk, ...) end
    if ok then return true end
    if err ~= nil and err ~= "" then printError(err) end
    return false
end

local function baseName(path)
    if fs then return fs.getName(path) end
    return path:match("([^/\\]*)[/\\]*$")
end

local loadingApis = {}

-- Runs the file in a fresh environment and publishes its globals as _G[name], name being the
-- file's name without ".lua". Raises if the file does not load or fails, as CC:Tweaked does
-- (at the caller's position rather than the BIOS's).
function M.loadAPI(path)
    expect(1, path, "string")
    local name = baseName(path)
    if name:sub(-4) == ".lua" then name = name:sub(1, -5) end
    if loadingApis[name] then
        printError("API " .. name .. " is already being loaded")
        return false
    end
    loadingApis[name] = true

    local env = setmetatable({}, { __index = _G })
    local chunk, err = M.loadfile(path, nil, env)
    local ok = chunk ~= nil
    if chunk then ok, err = pcall(chunk) end
    if not ok then
        loadingApis[name] = nil
        error("Failed to load API " .. name .. " due to " .. tostring(err), 2)
    end

    local api = {}
    for k, v in pairs(env) do
        if k ~= "_ENV" then api[k] = v end
    end
    _G[name] = api
    loadingApis[name] = nil
    return true
end

function M.unloadAPI(name)
    expect(1, name, "string")
    if name ~= "_G" and type(_G[name]) == "table" then _G[name] = nil end
end

return M
