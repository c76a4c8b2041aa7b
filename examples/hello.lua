-- The smallest Craft server: answers every request on port 8080 with "hello".
-- Run it with:  dotnet run --project src/Craft.Cli -- run examples/hello.lua [port]
-- then open http://localhost:8080/ . Ctrl-C stops it.
local port = http.addListener(tonumber((...)) or 8080) -- the bound port (port 0: any free one)
print(("Serving http://localhost:%d/ (Ctrl-C to stop)"):format(port))
http.listen(port, function(req, res)
    res.write("hello")
    res.close()
end)
