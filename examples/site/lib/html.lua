-- Small HTML helpers shared by the pages.
local html = {}

function html.escape(text)
    return (tostring(text):gsub("[&<>\"']", {
        ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&#39;",
    }))
end

function html.page(title, body)
    return ([[<!doctype html>
<html><head><meta charset="utf-8"><title>%s</title><link rel="stylesheet" href="/style.css"><link rel="icon" href="/logo.svg"></head>
<body>%s</body></html>
]]):format(html.escape(title), body)
end

return html
