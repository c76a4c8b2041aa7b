-- os.shutdown() ends the script even from inside pcall and a coroutine run by parallel.
parallel.waitForAny(function()
    pcall(os.shutdown)
    print("after pcall")
end, function()
    os.pullEvent("never")
end)
print("after parallel")
