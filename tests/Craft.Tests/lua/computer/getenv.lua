-- os.getenv, exposed by the host's Unsandboxed set; everything else stays hidden.
print("getenv", type(os.getenv))
print("PATH set", type(os.getenv("PATH")))
print("io.popen", type(io.popen), "os.exit", type(os.exit))
