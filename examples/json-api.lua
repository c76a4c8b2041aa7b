-- A small JSON API: a to-do list kept in memory.
--
--   GET    /todos              every item; ?done=true or ?done=false filters, ?q=text searches titles
--   POST   /todos              {"title": "..."} adds an item: 201, Location: /todos/<id>
--   GET    /todos/<id>         one item
--   PATCH  /todos/<id>         {"title": "...", "done": true} changes an item
--   DELETE /todos/<id>         removes it: 204
--
-- Run it with:  dotnet run --project src/Craft.Cli -- run examples/json-api.lua [port]
-- then, e.g.:   curl -d '{"title":"try Craft"}' http://localhost:8080/todos
--               curl http://localhost:8080/todos?done=false
-- Ctrl-C stops it.

local port = http.addListener(tonumber((...)) or 8080) -- addListener returns the bound port (0: any)
print(("Serving http://localhost:%d/todos (Ctrl-C to stop)"):format(port))

local todos, nextId = {}, 1

-------------------------------------------------------------------------------------------------
-- Helpers

-- "a%20b+c" -> "a b c"
local function urlDecode(s)
    s = s:gsub("+", " ")
    return (s:gsub("%%(%x%x)", function(hex) return string.char(tonumber(hex, 16)) end))
end

-- "/todos?done=true&q=milk" -> "/todos", { done = "true", q = "milk" }
local function parseTarget(target)
    local path, query = target:match("^([^?]*)%??(.*)$")
    local params = {}
    for pair in query:gmatch("[^&]+") do
        local key, value = pair:match("^([^=]*)=?(.*)$")
        params[urlDecode(key)] = urlDecode(value)
    end
    return path, params
end

local function send(res, status, value, headers)
    res.setStatusCode(status)
    for name, v in pairs(headers or {}) do res.setResponseHeader(name, v) end
    if value ~= nil then
        res.setResponseHeader("Content-Type", "application/json")
        res.write(textutils.serializeJSON(value))
    end
    res.close()
end

local function fail(res, status, message)
    send(res, status, { error = message })
end

-- The request body as a JSON object, or nil and why not.
local function readObject(req)
    local body = req.readAll()
    local value, err = textutils.unserializeJSON(body)
    if type(value) ~= "table" then return nil, err or "a JSON object is expected" end
    return value
end

local function find(id)
    for i, todo in ipairs(todos) do
        if todo.id == id then return todo, i end
    end
end

-- A list as JSON: an empty table would be serialised as {}, so say [] explicitly.
local function list(items)
    if #items == 0 then return textutils.empty_json_array end
    return items
end

-------------------------------------------------------------------------------------------------
-- Handlers: (req, res, params, captures...)

local function listTodos(req, res, params)
    local wanted = params.done
    local items = {}
    for _, todo in ipairs(todos) do
        local matchesDone = wanted == nil or tostring(todo.done) == wanted
        local matchesText = params.q == nil or todo.title:lower():find(params.q:lower(), 1, true)
        if matchesDone and matchesText then items[#items + 1] = todo end
    end
    send(res, 200, list(items))
end

local function createTodo(req, res)
    local body, err = readObject(req)
    if not body then return fail(res, 400, "bad JSON: " .. tostring(err)) end
    if type(body.title) ~= "string" or body.title == "" then
        return fail(res, 422, "title must be a non-empty string")
    end
    local todo = { id = nextId, title = body.title, done = false }
    nextId = nextId + 1
    todos[#todos + 1] = todo
    send(res, 201, todo, { Location = "/todos/" .. todo.id })
end

local function showTodo(req, res, params, id)
    local todo = find(tonumber(id))
    if not todo then return fail(res, 404, "no todo " .. id) end
    send(res, 200, todo)
end

local function updateTodo(req, res, params, id)
    local todo = find(tonumber(id))
    if not todo then return fail(res, 404, "no todo " .. id) end
    local body, err = readObject(req)
    if not body then return fail(res, 400, "bad JSON: " .. tostring(err)) end
    if body.title ~= nil and (type(body.title) ~= "string" or body.title == "") then
        return fail(res, 422, "title must be a non-empty string")
    end
    if body.done ~= nil and type(body.done) ~= "boolean" then
        return fail(res, 422, "done must be true or false")
    end
    if body.title ~= nil then todo.title = body.title end
    if body.done ~= nil then todo.done = body.done end
    send(res, 200, todo)
end

local function deleteTodo(req, res, params, id)
    local _, index = find(tonumber(id))
    if not index then return fail(res, 404, "no todo " .. id) end
    table.remove(todos, index)
    send(res, 204)
end

-- { method, Lua pattern for the path, handler }; captures are passed to the handler.
local routes = {
    { "GET", "^/todos$", listTodos },
    { "POST", "^/todos$", createTodo },
    { "GET", "^/todos/(%d+)$", showTodo },
    { "PATCH", "^/todos/(%d+)$", updateTodo },
    { "DELETE", "^/todos/(%d+)$", deleteTodo },
}

local function route(req, res)
    local method = req.getMethod()
    local path, params = parseTarget(req.getURL())
    local allowed = {}
    for _, r in ipairs(routes) do
        local captures = { path:match(r[2]) }
        if captures[1] ~= nil then
            if r[1] == method then return r[3](req, res, params, table.unpack(captures)) end
            allowed[#allowed + 1] = r[1]
        end
    end
    if #allowed > 0 then
        return send(res, 405, { error = method .. " is not allowed here" }, { Allow = table.concat(allowed, ", ") })
    end
    fail(res, 404, "nothing at " .. path)
end

-------------------------------------------------------------------------------------------------
-- Serve until Ctrl-C (terminate) or a server_stop event. A handler's error becomes a 500 instead
-- of ending the server.

local ok, err = pcall(http.listen, port, function(req, res)
    local handled, problem = pcall(route, req, res)
    if not handled then
        printError(problem)
        pcall(fail, res, 500, "internal error")
    end
end)
if not ok and err ~= "Terminated" then error(err, 0) end
print("Stopped")
