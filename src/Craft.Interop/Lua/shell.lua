-- The shell API and running programs, as CraftOS's shell program does it. Craft has no shell
-- prompt: the computer's one shell is made here, and the script runs as its first program.
-- Every program (the script, and those started with shell.run/shell.execute) gets its own
-- environment over _G holding `shell`, `arg`, and its own `require` and `package`.
-- fs, load, settings and printError are looked up when used, never captured.
--
-- Called with: the table from expect.lua, make_package (require.lua), and debug.getinfo,
-- debug.getupvalue, debug.setupvalue (captured by the BIOS before it hides debug).
-- Returns { new = new shell, runProgram = ..., runMain = ... }.

local checks, make_package, getinfo, getupvalue, setupvalue = ...
local expect = checks.expect
local type, select, pcall, error, setmetatable = type, select, pcall, error, setmetatable
local pack, unpack, sort, concat = table.pack, table.unpack, table.sort, table.concat

-- fs.combine when there is an fs; otherwise the same rules over the text alone (so that
-- shell.resolve works on a computer without files).
local function combine(a, b)
    if fs then return fs.combine(a, b) end
    local parts = {}
    for part in (a .. "/" .. b):gmatch("[^/\\]+") do
        if part == ".." then
            if #parts == 0 or parts[#parts] == ".." then parts[#parts + 1] = ".." else parts[#parts] = nil end
        elseif part ~= "." then
            parts[#parts + 1] = part
        end
    end
    return concat(parts, "/")
end

local function dirOf(path)
    if fs then return fs.getDir(path) end
    local dir = combine(path, ""):match("^(.*)/[^/]*$")
    return dir or ""
end

local function isFile(path)
    return fs ~= nil and fs.exists(path) and not fs.isDir(path)
end

-- Splits a command line into words; text between double quotes is one word.
local function tokenise(...)
    local line = concat({ ... }, " ")
    local words, quoted = {}, false
    for piece in (line .. "\""):gmatch("(.-)\"") do
        if quoted then
            words[#words + 1] = piece
        else
            for word in piece:gmatch("[^ \t]+") do words[#words + 1] = word end
        end
        quoted = not quoted
    end
    return words
end

local M = {}

-- A new shell; a child shell starts with its parent's directory, path and aliases.
function M.new(parent)
    local shell = {}
    local dir = parent and parent.dir() or ""
    local path = parent and parent.path() or ".:/rom/programs"
    local aliases = parent and parent.aliases() or {}
    local completion = parent and parent.getCompletionInfo() or {}
    local stack = {}
    local exiting = false

    -- The environment a program at `programPath` runs in.
    local function environment(programPath, args)
        local env = setmetatable({ shell = shell }, { __index = _G })
        env.require, env.package = make_package(env, dirOf(programPath))
        env.arg = args
        return env
    end

    -- Runs `chunk` as the program `programPath` (no leading slash) with `env` as its
    -- environment: sets arg, shell, require and package there. Errors are not caught. A tail
    -- call, so that error levels in the chunk see the same callers as before (the host's pcall):
    -- the program stays the running one after it ends (meant for the computer's first program).
    function shell.runProgramChunk(programPath, env, chunk, ...)
        env.shell = shell
        env.require, env.package = make_package(env, dirOf(programPath))
        env.arg = { [0] = programPath, ... }
        stack[#stack + 1] = programPath
        return chunk(...)
    end

    local function executeFile(programPath, args)
        local file, err = fs.open(programPath, "rb")
        if not file then
            printError(err)
            return false
        end
        local text = file.readAll() or ""
        file.close()

        local env = environment(programPath, args)
        local chunk, problem = load(text, "@/" .. programPath, nil, env)
        if not chunk then
            printError(problem)
            return false
        end
        local ok, failure = pcall(chunk, unpack(args, 1, args.n))
        if ok then return true end
        if failure ~= nil and failure ~= "" then printError(failure) end
        return false
    end

    function shell.execute(command, ...)
        expect(1, command, "string")
        for i = 1, select("#", ...) do expect(i + 1, (select(i, ...)), "string") end

        local programPath = shell.resolveProgram(command)
        if not programPath then
            printError("No such program")
            return false
        end
        stack[#stack + 1] = programPath
        local args = pack(...)
        args[0] = command
        local result = executeFile(programPath, args)
        stack[#stack] = nil
        return result
    end

    function shell.run(...)
        local words = tokenise(...)
        if not words[1] then return false end
        return shell.execute(words[1], unpack(words, 2))
    end

    function shell.exit() exiting = true end

    function shell.dir() return dir end

    function shell.setDir(new)
        expect(1, new, "string")
        if not (fs and fs.isDir(new)) then error("Not a directory", 2) end
        dir = combine(new, "")
    end

    function shell.path() return path end

    function shell.setPath(new)
        expect(1, new, "string")
        path = new
    end

    function shell.resolve(p)
        expect(1, p, "string")
        local first = p:sub(1, 1)
        if first == "/" or first == "\\" then return combine("", p) end
        return combine(dir, p)
    end

    local function withLua(p)
        local last = p:sub(-1)
        if last == "/" or last == "\\" then p = p:sub(1, -2) end
        return p .. ".lua"
    end

    local function fileOrLua(p)
        if isFile(p) then return p end
        local lua = withLua(p)
        if isFile(lua) then return lua end
        return nil
    end

    function shell.resolveProgram(command)
        expect(1, command, "string")
        if aliases[command] ~= nil then command = aliases[command] end
        if command:find("[/\\]") then return fileOrLua(shell.resolve(command)) end
        for entry in path:gmatch("[^:]+") do
            local found = fileOrLua(combine(shell.resolve(entry), command))
            if found then return found end
        end
        return nil
    end

    function shell.programs(includeHidden)
        expect(1, includeHidden, "boolean", "nil")
        local seen = {}
        if fs then
            for entry in path:gmatch("[^:]+") do
                local where = shell.resolve(entry)
                if fs.isDir(where) then
                    for _, name in ipairs(fs.list(where)) do
                        if not fs.isDir(combine(where, name)) and (includeHidden or name:sub(1, 1) ~= ".") then
                            if #name > 4 and name:sub(-4) == ".lua" then name = name:sub(1, -5) end
                            seen[name] = true
                        end
                    end
                end
            end
        end
        local list = {}
        for name in pairs(seen) do list[#list + 1] = name end
        sort(list)
        return list
    end

    function shell.getRunningProgram()
        return stack[#stack]
    end

    function shell.setAlias(command, program)
        expect(1, command, "string")
        expect(2, program, "string")
        aliases[command] = program
    end

    function shell.clearAlias(command)
        expect(1, command, "string")
        aliases[command] = nil
    end

    function shell.aliases()
        local copy = {}
        for k, v in pairs(aliases) do copy[k] = v end
        return copy
    end

    function shell.setCompletionFunction(program, complete)
        expect(1, program, "string")
        expect(2, complete, "function")
        completion[program] = { fnComplete = complete }
    end

    function shell.getCompletionInfo() return completion end

    return shell
end

M.tokenise = tokenise

local computerShell
local function theShell()
    computerShell = computerShell or M.new()
    return computerShell
end

-- Runs `chunk` as the program at `path` (inside the computer's root, no leading slash) with
-- `env` as its environment, on the computer's shell. Errors are not caught.
function M.runProgram(path, env, chunk, ...)
    return theShell().runProgramChunk(path, env, chunk, ...)
end

-- Runs the main script's chunk (loaded by the host with _G as its _ENV) as the computer's first
-- program: gives it its own environment over _G, then runs it with `...` as its arguments.
-- `program` is its path inside the root; without one (no root directory), the chunk's name.
function M.runMain(main, program, ...)
    if program == nil then
        local source = getinfo and getinfo(main, "S").source or "=script"
        program = source:gsub("^[@=]", "")
    end
    program = program:gsub("^[/\\]+", "")
    local env = setmetatable({}, { __index = _G })
    if getupvalue and getupvalue(main, 1) == "_ENV" then setupvalue(main, 1, env) end
    return M.runProgram(program, env, main, ...)
end

return M
