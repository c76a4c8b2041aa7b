-- The listener functions' arguments and ports, without a client. Prints one line per check and
-- ends by itself. Argument: a port that another program holds.

local held = tonumber((...))

local function try(f, ...)
    local ok, err = pcall(f, ...)
    return ok and "ok" or tostring(err)
end

print("addListener string: " .. try(http.addListener, "80"))
print("addListener nil: " .. try(http.addListener))
print("addListener -1: " .. try(http.addListener, -1))
print("addListener 65536: " .. try(http.addListener, 65536))
print("addListener 1.5: " .. try(http.addListener, 1.5))
print("removeListener string: " .. try(http.removeListener, "80"))
print("removeListener 70000: " .. try(http.removeListener, 70000))
print("listen string: " .. try(http.listen, "80", function() end))
print("listen no callback: " .. try(http.listen, 80))
print("listen table callback: " .. try(http.listen, 80, {}))

local port = http.addListener(0)
print("addListener 0 gives a port: " .. tostring(math.type(port) == "integer" and port > 0))
print("addListener again: " .. tostring(http.addListener(port) == port))
http.removeListener(port)
print("removeListener: ok")
print("removeListener again: " .. try(http.removeListener, port))
print("removeListener never listened: " .. try(http.removeListener, 1))
print("listening again at once: " .. tostring(http.addListener(port) == port))
http.removeListener(port)

local ok, err = pcall(http.addListener, held)
print("held port: " .. tostring(ok) .. " " .. tostring(err))
