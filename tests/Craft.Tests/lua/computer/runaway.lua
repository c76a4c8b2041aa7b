-- Never yields: the watchdog ends it with "Too long without yielding".
print("spinning")
while true do end
