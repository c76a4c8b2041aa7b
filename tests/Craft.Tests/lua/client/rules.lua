-- Run by the CLI tests with --http-deny 127.0.0.3 --http-allow 127.0.0.0/8: prints what each
-- address may do (first match wins; the defaults deny the rest of $private).
for _, host in ipairs({ "127.0.0.1", "127.0.0.3", "10.0.0.1" }) do
    local ok, why = http.checkURL("http://" .. host .. "/")
    if ok then print(host, ok) else print(host, ok, why) end
end
