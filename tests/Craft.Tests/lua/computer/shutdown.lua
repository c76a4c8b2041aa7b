-- os.shutdown() ends the script at once, with exit code 0.
print("before")
os.shutdown()
print("after")
