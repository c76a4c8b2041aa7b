-- A host event whose name is not ASCII: it arrives as UTF-8, like the host's string parameters.
local name, param = os.pullEvent()
print(name == "héllo", #name, param == "héllo")
