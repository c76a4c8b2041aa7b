-- require and package, made per program as CC:Tweaked's cc.require makes them: modules are
-- looked up along package.path, whose relative entries resolve against the program's directory
-- (never a working directory), and loaded with loadfile into the program's environment. Never
-- the host's Lua paths or C modules. fs, loadfile and settings are looked up when used.
--
-- Called with: the table from expect.lua. Returns { make = make_package }.

local checks = ...
local expect = checks.expect
local type, ipairs, error, tostring = type, ipairs, error, tostring
local pack, unpack = table.pack, table.unpack

local DEFAULT_PATH = "?;?.lua;?/init.lua;/rom/modules/main/?;/rom/modules/main/?.lua;/rom/modules/main/?/init.lua"

local function combine(dir, path)
    if fs then return fs.combine(dir, path) end
    return (dir == "" and path) or (dir .. "/" .. path)
end

local function isFile(path)
    return fs ~= nil and fs.exists(path) and not fs.isDir(path)
end

-- package.searchpath for a program in `dir`: the first file along `path` for `name`, or nil and
-- one "no file '...'" line per candidate.
local function searchpathIn(dir)
    return function(name, path, sep, rep)
        expect(1, name, "string")
        expect(2, path, "string")
        sep = expect(3, sep, "string", "nil") or "."
        rep = expect(4, rep, "string", "nil") or "/"
        local file = name:gsub(sep:gsub("%p", "%%%0"), (rep:gsub("%%", "%%%%")))
        local tried = {}
        for template in path:gmatch("[^;]+") do
            local candidate = template:gsub("%?", (file:gsub("%%", "%%%%")))
            if candidate:sub(1, 1) ~= "/" then candidate = combine(dir, candidate) end
            if isFile(candidate) then return candidate end
            tried[#tried + 1] = "no file '" .. candidate .. "'"
        end
        return nil, table.concat(tried, "\n\t")
    end
end

local function make_package(env, dir)
    expect(1, env, "table")
    expect(2, dir, "string")

    local package = {}
    package.loaded = {
        _G = _G, bit32 = bit32, coroutine = coroutine, math = math, package = package,
        string = string, table = table, utf8 = utf8,
    }
    local custom = settings and settings.get("shell.package_path")
    package.path = type(custom) == "string" and custom or DEFAULT_PATH
    package.config = "/\n;\n?\n!\n-"
    package.preload = {}
    package.searchpath = searchpathIn(dir)

    local function fromPreload(name)
        local loader = package.preload[name]
        if loader then return loader, ":preload:" end
        return nil, "no field package.preload['" .. name .. "']"
    end

    local function fromFile(name)
        local path, why = package.searchpath(name, package.path)
        if not path then return nil, why end
        local chunk, err = loadfile(path, nil, env)
        if not chunk then
            error("error loading module '" .. name .. "' from file '" .. path .. "':\n\t" .. tostring(err), 0)
        end
        return chunk, path
    end

    package.searchers = { fromPreload, fromFile }
    package.loaders = package.searchers -- the Lua 5.1 name CraftOS programs use

    local loading = {}
    local function require(name)
        expect(1, name, "string")
        if package.loaded[name] == loading then
            error("loop or previous error loading module '" .. name .. "'", 2)
        end
        local found = package.loaded[name]
        if found ~= nil then return found end

        local why = "module '" .. name .. "' not found:"
        for _, searcher in ipairs(package.searchers) do
            local r = pack(searcher(name))
            if type(r[1]) == "function" then
                package.loaded[name] = loading
                local ok, result = pcall(r[1], name, unpack(r, 2, r.n))
                if not ok then
                    package.loaded[name] = nil
                    error(result, 0)
                end
                if result == nil then
                    result = package.loaded[name]
                    if result == loading or result == nil then result = true end
                end
                package.loaded[name] = result
                return result -- one value, as cc.require returns (not Lua 5.4's loader data)
            elseif r[2] then
                why = why .. "\n\t" .. tostring(r[2])
            end
        end
        error(why, 2)
    end

    return require, package
end

return { make = make_package }
