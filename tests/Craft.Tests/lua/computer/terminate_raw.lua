-- os.pullEventRaw sees the terminate event itself and may carry on.
print("waiting")
local name = os.pullEventRaw("never")
print("got", name)
print("cleaned up")
