-- Loops on os.pullEvent until the host cancels: terminate raises "Terminated".
print("waiting")
while true do
    os.pullEvent()
end
