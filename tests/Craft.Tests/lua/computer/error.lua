-- An uncaught error ends the script with exit code 1; the message goes to the error writer.
print("before")

error("boom")
