// What a C# host does with a Computer, written the way a C# host writes it. Each scenario returns
// what it observed; the F# tests (tests/Craft.Tests/CSharpApiTests.fs) assert on it.

using Craft.Interop;

namespace Craft.Tests.CSharp;

/// <summary>The exit code and everything the script wrote.</summary>
public sealed record Observed(int ExitCode, string Output, string Error);

public static class HostScenarios
{
    /// <summary>
    /// A peripheral given to a script from C#: attached before the run, called with every value
    /// kind, raising, found, wrapped, and detached from another thread while one of its methods
    /// runs. The test asserts on what the script printed.
    /// </summary>
    public static async Task<Observed> PeripheralAsync()
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var methods = new Dictionary<string, Func<object?[], object?[]?>>
        {
            ["echo"] = args => args,
            ["describe"] = args => [string.Join(",", args.Select(a => a?.GetType().Name ?? "null"))],
            ["fail"] = _ => throw new InvalidOperationException("the host says no"),
            ["slow"] = _ =>
            {
                entered.SetResult();
                release.Task.Wait(Patience);
                return ["finished"];
            },
        };
        await using var computer = new Computer(new ComputerOptions
        {
            Output = output, Error = error, Input = TextReader.Null, Terminal = TerminalKind.Plain,
        });
        computer.AttachPeripheral("left", "test_device", methods);
        var run = computer.RunAsync(
            """
            local e, side = os.pullEvent("peripheral")
            print(e, side, peripheral.isPresent("left"), peripheral.getType("left"), peripheral.isPresent("right"))
            print(table.concat(peripheral.getNames(), ","), table.concat(peripheral.getMethods("left"), ","))
            local p = peripheral.wrap("left")
            print(peripheral.getName(p), peripheral.getType(p), peripheral.hasType(p, "test_device"))
            print(p.describe(nil, true, 7, 2.5, "text", { 1, 2 }, { a = 1 }, "\255"))
            local n, b, i, f, s, list, map = p.echo(nil, true, 7, 2.5, "tëxt", { 1, "two" }, { a = 1 })
            print(n, b, i, math.type(i), f, s, list[1], list[2], map.a)
            print(pcall(p.fail))
            print(pcall(peripheral.call, "left", "nope"))
            print(peripheral.find("test_device") ~= nil, peripheral.find("other"))
            print(p.slow())
            print(peripheral.isPresent("left"))
            print(os.pullEvent("peripheral_detach"))
            print(pcall(p.echo, 1))
            """,
            "peripherals.lua");
        await entered.Task.WaitAsync(Patience);
        // From this thread, while the script's call is running on the computer's thread.
        computer.DetachPeripheral("left");
        release.SetResult();
        int exitCode = await run.WaitAsync(Patience);
        return new Observed(exitCode, output.ToString(), error.ToString());
    }

    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Options built with an initializer and then <c>with</c>; RunAsync with arguments and a token
    /// that is never cancelled; <c>await using</c>.
    /// </summary>
    public static async Task<Observed> RunWithArgumentsAsync()
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var baseline = new ComputerOptions { Output = output, Error = error, Input = TextReader.Null };
        var options = baseline with { ComputerId = 42, Label = "from C#" };

        using var cancel = new CancellationTokenSource();
        await using var computer = new Computer(options);
        int exitCode = await computer.RunAsync(
            """
            local n = select("#", ...)
            print("args", n, ...)
            print("id", os.getComputerID(), os.getComputerLabel())
            printError("to error")
            """,
            "csharp.lua",
            ["one", "two words", "ünï"],
            cancel.Token).WaitAsync(Patience);

        return new Observed(exitCode, output.ToString(), error.ToString());
    }

    /// <summary>
    /// HttpRules from C#: an allow-list (one address, then deny everything) lets the script call
    /// its own server on loopback and nothing else.
    /// </summary>
    public static async Task<Observed> HttpRulesAsync()
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var options = new ComputerOptions
        {
            Output = output,
            Error = error,
            Input = TextReader.Null,
            HttpRules = [HttpRule.AllowAddress("127.0.0.1"), HttpRule.DenyAddress("*")],
        };
        await using var computer = new Computer(options);
        int exitCode = await computer.RunAsync(
            """
            local port = http.addListener(0)
            parallel.waitForAny(
                function()
                    local _, _, req, res = os.pullEvent("http_request")
                    res.write("hi " .. req.getMethod())
                    res.close()
                    os.pullEvent("never")
                end,
                function()
                    local h = assert(http.get("http://127.0.0.1:" .. port .. "/"))
                    print(h.readAll())
                    print(http.checkURL("http://93.184.216.34/"))
                end)
            """,
            "rules.lua").WaitAsync(Patience);
        return new Observed(exitCode, output.ToString(), error.ToString());
    }

    /// <summary>RunFileAsync, positional arguments only, an uncaught error.</summary>
    public static async Task<Observed> RunFileAsync(string path, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        await using var computer = new Computer(new ComputerOptions { Output = output, Error = error, Input = TextReader.Null });
        int exitCode = await computer.RunFileAsync(path, args).WaitAsync(Patience);
        return new Observed(exitCode, output.ToString(), error.ToString());
    }

    /// <summary>
    /// The script waits for host events; another thread queues them with parameters of the kinds
    /// a host passes (string, int, long, double, bool, byte[], a list, a dictionary, null).
    /// </summary>
    public static async Task<Observed> QueueEventFromAnotherThreadAsync()
    {
        var output = new StringWriter();
        var error = new StringWriter();
        await using var computer = new Computer(new ComputerOptions { Output = output, Error = error, Input = TextReader.Null });
        var run = computer.RunAsync(
            """
            for round = 1, 2 do
                local e = table.pack(os.pullEvent("from_host"))
                local parts = { "n=" .. e.n }
                for i = 2, e.n do
                    local v = e[i]
                    if type(v) == "table" then
                        local keys = {}
                        for k, x in pairs(v) do keys[#keys + 1] = tostring(k) .. ":" .. tostring(x) end
                        table.sort(keys)
                        v = "{" .. table.concat(keys, ",") .. "}"
                    elseif type(v) == "string" then
                        v = v:gsub("[^%w ]", function(c) return ("<%02X>"):format(c:byte()) end)
                    elseif type(v) == "number" then
                        v = math.type(v) .. ":" .. tostring(v)
                    end
                    parts[#parts + 1] = tostring(v)
                end
                print(table.concat(parts, " | "))
            end
            """,
            "events.lua");

        var sender = new Thread(() =>
        {
            computer.QueueEvent("from_host",
                "text é", 7, 9_000_000_000L, 0.25, true,
                new byte[] { 0, 255, 10 },
                new List<object?> { "a", 2 },
                new Dictionary<string, object?> { ["key"] = "value" },
                null);
            computer.QueueEvent("from_host");
        });
        sender.Start();
        int exitCode = await run.WaitAsync(Patience);
        sender.Join();
        return new Observed(exitCode, output.ToString(), error.ToString());
    }

    /// <summary>Cancelling the token once the script waits: the script is terminated.</summary>
    public static async Task<Observed> CancelAsync(bool raw)
    {
        var output = new SignallingWriter("waiting\n");
        var error = new StringWriter();
        using var cancel = new CancellationTokenSource();
        await using var computer = new Computer(new ComputerOptions { Output = output, Error = error, Input = TextReader.Null });
        var source = raw
            ? "print('waiting') print('saw', os.pullEventRaw()) print('after')"
            : "print('waiting') while true do os.pullEvent() end";
        var run = computer.RunAsync(source, "cancel.lua", [], cancel.Token);
        await output.Seen.WaitAsync(Patience);
        await cancel.CancelAsync();
        int exitCode = await run.WaitAsync(Patience);
        return new Observed(exitCode, output.ToString(), error.ToString());
    }

    /// <summary>Leaving an <c>await using</c> block while the script still runs ends the script.</summary>
    public static async Task<bool> DisposeEndsTheRunAsync()
    {
        var output = new SignallingWriter("waiting\n");
        Task<int> run;
        await using (var computer = new Computer(new ComputerOptions { Output = output, Error = TextWriter.Null, Input = TextReader.Null }))
        {
            run = computer.RunAsync("print('waiting') while true do os.pullEventRaw() end");
            await output.Seen.WaitAsync(Patience);
        }

        await run.WaitAsync(Patience);
        return run.IsCompletedSuccessfully;
    }

    /// <summary>A writer that is safe to share with the computer's thread and says when a text appeared.</summary>
    private sealed class SignallingWriter(string marker) : StringWriter
    {
        private readonly TaskCompletionSource _seen = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Seen => _seen.Task;

        public override void Write(char value)
        {
            lock (this)
            {
                base.Write(value);
                Check();
            }
        }

        public override void Write(string? value)
        {
            lock (this)
            {
                base.Write(value);
                Check();
            }
        }

        public override string ToString()
        {
            lock (this) return base.ToString();
        }

        private void Check()
        {
            if (GetStringBuilder().ToString().Contains(marker, StringComparison.Ordinal)) _seen.TrySetResult();
        }
    }
}
