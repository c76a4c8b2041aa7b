-- Content types by file extension.
local types = {
    html = "text/html; charset=utf-8",
    css = "text/css; charset=utf-8",
    js = "text/javascript; charset=utf-8",
    json = "application/json",
    png = "image/png",
    svg = "image/svg+xml",
    txt = "text/plain; charset=utf-8",
}

local mime = {}

function mime.of(path)
    local ext = path:match("%.([%w]+)$")
    return types[ext and ext:lower()] or "application/octet-stream"
end

return mime
