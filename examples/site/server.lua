-- A small web site, as a CraftOS-PC program would write it: static files from public/ with
-- their content types, Lua pages from pages/ run through loadfile(path, env), helpers from
-- lib/ loaded with require, settings kept in /.settings, and a request log appended on disk.
--
--   craft run examples/site/server.lua          (the root is examples/site)
--
-- Then open http://localhost:8080/ (the port comes from the settings: site.port).

local mime = require("lib.mime")
local html = require("lib.html")

settings.define("site.port", { description = "Port to serve on", default = 8080, type = "number" })
settings.define("site.title", { description = "The site's name", default = "Craft site", type = "string" })
settings.load("/site.settings")

local port = tonumber((...)) or settings.get("site.port")
local title = settings.get("site.title")

local function log(line)
    local file = fs.open("/logs/access.log", "a")
    if file then
        file.writeLine(line)
        file.close()
    end
end

local function serveFile(path, res)
    local file = fs.open(path, "rb")
    if not file then return false end
    local data = file.readAll()
    file.close()
    res.setResponseHeader("Content-Type", mime.of(path))
    res.write(data)
    return true
end

-- A page is a Lua file that returns a function(request, title) -> html, run in its own env.
local function servePage(path, req, res)
    local env = setmetatable({ html = html }, { __index = _G })
    local chunk, err = loadfile(path, env)
    if not chunk then error(err, 0) end
    local render = chunk()
    res.setResponseHeader("Content-Type", "text/html; charset=utf-8")
    res.write(render(req, title))
end

local bound = http.addListener(port)
print("port " .. bound)

http.listen(bound, function(req, res)
    local url = req.getURL()
    local path = url:gsub("%?.*$", "")
    if path == "/" then path = "/index.html" end
    local status = 200
    if path:match("^/[%w_%-]+$") and fs.exists("/pages" .. path .. ".lua") then
        servePage("/pages" .. path .. ".lua", req, res)
    elseif not path:find("..", 1, true) and not fs.isDir("/public" .. path) and serveFile("/public" .. path, res) then
        -- served
    else
        status = 404
        res.setStatusCode(404)
        res.setResponseHeader("Content-Type", "text/html; charset=utf-8")
        res.write(html.page(title, "<h1>Not found</h1><p>" .. html.escape(path) .. "</p>"))
    end
    res.close()
    log(("%s %s %d"):format(req.getMethod(), url, status))
end)
