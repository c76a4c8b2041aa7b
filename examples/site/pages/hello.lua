-- A Lua page: greets whoever ?name= names, and counts the visits in a file.
return function(req, title)
    local name = req.getURL():match("[?&]name=([^&]*)") or "stranger"
    local count = 0
    local file = fs.open("/data/visits.txt", "r")
    if file then
        count = tonumber(file.readAll()) or 0
        file.close()
    end
    count = count + 1
    file = fs.open("/data/visits.txt", "w")
    file.write(tostring(count))
    file.close()
    return html.page(title, ("<h1>Hello, %s</h1><p>Visit number %d.</p>"):format(html.escape(name), count))
end
