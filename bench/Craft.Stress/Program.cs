// Craft's stress suite: an attack campaign against a real `craft run` process (the built CLI),
// measured from outside (alive or not, resident memory from /proc/PID/status, CPU from
// /proc/PID/stat). Prints a table of what held and rewrites the marked section of a Markdown file.
//
//   dotnet run -c Release --project bench/Craft.Stress -- [--case NAME[,NAME...]] [--out FILE]
//                                                          [--craft PATH/craft.dll]
//   (or STRESS_CASE=NAME[,NAME...] in the environment)
//
// Cases: slowloris, slow-body, fd-flood, big-response, big-body, ws-no-read, ws-flood,
// ws-huge-frame, script-end, overload. Linux only (/proc, prlimit, slowhttptest).
// Every connection goes to 127.0.0.1; every wait is bounded; every server started is stopped.

using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;

var allCases = new[]
{
    "slowloris", "slow-body", "fd-flood", "big-response", "big-body",
    "ws-no-read", "ws-flood", "ws-huge-frame", "script-end", "overload",
};
string? outFile = null;
string? craftDll = null;
var selected = (Environment.GetEnvironmentVariable("STRESS_CASE") ?? "")
    .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--case": selected = args[++i].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList(); break;
        case "--out": outFile = args[++i]; break;
        case "--craft": craftDll = args[++i]; break;
        default: Console.Error.WriteLine($"unknown argument {args[i]}"); return 2;
    }
}
if (selected.Count == 0) selected = allCases.ToList();
var unknown = selected.Except(allCases).ToList();
if (unknown.Count > 0)
{
    Console.Error.WriteLine($"unknown case(s): {string.Join(", ", unknown)}; known: {string.Join(", ", allCases)}");
    return 2;
}

craftDll ??= FindCraft();
if (craftDll is null || !File.Exists(craftDll))
{
    Console.Error.WriteLine("craft.dll not found: build first (dotnet fsi build.fsx) or pass --craft PATH");
    return 2;
}
CraftProcess.Dll = Path.GetFullPath(craftDll);
var work = Directory.CreateTempSubdirectory("craft-stress-");
CraftProcess.WorkDir = work.FullName;

var rows = new List<Row>();
var total = Stopwatch.StartNew();
try
{
    foreach (var name in allCases.Where(selected.Contains))
    {
        Console.WriteLine($"\n=== {name} ===");
        var sw = Stopwatch.StartNew();
        try
        {
            var result = name switch
            {
                "slowloris" => await Cases.Slow(slowBody: false),
                "slow-body" => await Cases.Slow(slowBody: true),
                "fd-flood" => await Cases.FdFlood(),
                "big-response" => await Cases.BigResponse(),
                "big-body" => await Cases.BigBody(),
                "ws-no-read" => await Cases.WsNoRead(),
                "ws-flood" => await Cases.WsFlood(),
                "ws-huge-frame" => await Cases.WsHugeFrame(),
                "script-end" => await Cases.ScriptEnd(),
                "overload" => await Cases.Overload(),
                _ => throw new InvalidOperationException(name),
            };
            rows.AddRange(result);
        }
        catch (Exception e)
        {
            rows.Add(new Row(name, "the suite itself failed", $"{e.GetType().Name}: {e.Message}".Replace('|', '/'), "error"));
        }
        Console.WriteLine($"--- {name}: {sw.Elapsed.TotalSeconds:F0} s");
    }
}
finally
{
    CraftProcess.StopAll();
    try { work.Delete(true); } catch { }
}

var report = new StringBuilder();
var partial = selected.Count < allCases.Length;
report.AppendLine($"Measured {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC on {Machine()}, commit {Git("rev-parse --short HEAD")}" +
                  (partial ? $" (this run: {string.Join(", ", selected)}; other rows are from earlier runs)." : $"; whole suite in {total.Elapsed.TotalSeconds:F0} s."));
report.AppendLine();
report.AppendLine("| Case | Attack | What happened | Held |");
report.AppendLine("| --- | --- | --- | --- |");
var tableRows = rows.Select(r => r.Markdown).ToList();
if (partial && outFile is not null && File.Exists(outFile))
    tableRows = MergeRows(File.ReadAllText(outFile), rows, allCases);
foreach (var line in tableRows) report.AppendLine(line);
Console.WriteLine();
Console.Write(report);
if (outFile is not null)
{
    const string start = "<!-- stress:begin -->", end = "<!-- stress:end -->";
    var existing = File.Exists(outFile) ? await File.ReadAllTextAsync(outFile) : "";
    int a = existing.IndexOf(start, StringComparison.Ordinal), b = existing.IndexOf(end, StringComparison.Ordinal);
    var text = a >= 0 && b > a
        ? existing[..(a + start.Length)] + "\n" + report + existing[b..]
        : existing + "\n" + start + "\n" + report + end + "\n";
    await File.WriteAllTextAsync(outFile, text);
    Console.WriteLine($"wrote {outFile}");
}
return 0;

// ---------------------------------------------------------------------------------------------

static string? FindCraft()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        if (File.Exists(Path.Combine(dir.FullName, "Craft.sln")))
            return Path.Combine(dir.FullName, "src", "Craft.Cli", "bin", "Release", "net10.0", "craft.dll");
    return null;
}

static string Git(string args)
{
    try
    {
        using var p = Process.Start(new ProcessStartInfo("git", args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var text = p.StandardOutput.ReadToEnd().Trim();
        p.WaitForExit(5000);
        return text.Length > 0 ? text : "unknown";
    }
    catch { return "unknown"; }
}

static string Machine()
{
    var mem = File.Exists("/proc/meminfo") ? Regex.Match(File.ReadAllText("/proc/meminfo"), @"MemTotal:\s+(\d+)").Groups[1].Value : "";
    var gib = long.TryParse(mem, out var kb) ? $"{kb / 1024.0 / 1024.0:F0} GiB" : "? GiB";
    var cpu = File.Exists("/proc/cpuinfo") ? Regex.Match(File.ReadAllText("/proc/cpuinfo"), @"model name\s*:\s*(.+)").Groups[1].Value.Trim() : "unknown CPU";
    return $"{Environment.ProcessorCount} cores (nproc; {cpu}), {gib} memory, {RuntimeInformation.OSDescription}, .NET {Environment.Version}";
}

/// Rows of this run replace the rows of the same case in the existing section; the others stay.
static List<string> MergeRows(string existing, List<Row> fresh, string[] order)
{
    var old = new Dictionary<string, List<string>>();
    // Only the measured section: the prose around it may have tables of its own.
    int a = existing.IndexOf("<!-- stress:begin -->", StringComparison.Ordinal), b = existing.IndexOf("<!-- stress:end -->", StringComparison.Ordinal);
    var section = a >= 0 && b > a ? existing[a..b] : "";
    foreach (var line in section.Split('\n'))
    {
        var m = Regex.Match(line, @"^\| `([a-z-]+)`");
        if (!m.Success) continue;
        var id = m.Groups[1].Value;
        // Sub-rows such as `script-end` (error) belong to their case.
        var key = order.FirstOrDefault(c => id == c) ?? id;
        if (!old.TryGetValue(key, out var list)) old[key] = list = new List<string>();
        list.Add(line.TrimEnd('\r'));
    }
    var freshIds = fresh.Select(r => r.Case).ToHashSet();
    var result = new List<string>();
    foreach (var c in order)
    {
        if (freshIds.Contains(c)) result.AddRange(fresh.Where(r => r.Case == c).Select(r => r.Markdown));
        else if (old.TryGetValue(c, out var lines)) result.AddRange(lines);
    }
    return result;
}

record Row(string Case, string Attack, string Result, string Held)
{
    public string Markdown => $"| `{Case}` | {Attack} | {Result} | {Held} |";
}

static class Native
{
    [DllImport("libc", SetLastError = true)]
    public static extern int kill(int pid, int sig);
    public const int SIGTERM = 15;
}

/// <summary>A `dotnet craft.dll run SCRIPT` child process and what /proc says about it.</summary>
sealed class CraftProcess : IAsyncDisposable
{
    public static string Dll = "";
    public static string WorkDir = "";
    private static readonly List<CraftProcess> Started = new();

    private readonly Process _p;
    private readonly List<string> _out = new();
    private readonly List<string> _err = new();
    private readonly TaskCompletionSource<int> _port = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _peakSampledKb;
    private readonly CancellationTokenSource _stopSampling = new();
    public int Port { get; private set; }
    public int Pid => _p.Id;
    public long BaselineRssKb { get; private set; }

    private CraftProcess(Process p) { _p = p; }

    /// <summary>Writes the script, starts the server (under `prlimit` when nofile is given) and
    /// waits for the line "port N" the script prints.</summary>
    public static async Task<CraftProcess> StartAsync(string name, string lua, string[]? options = null, string[]? scriptArgs = null, int? nofile = null)
    {
        var script = Path.Combine(WorkDir, name + ".lua");
        await File.WriteAllTextAsync(script, lua);
        var psi = new ProcessStartInfo(nofile is null ? "dotnet" : "prlimit")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            WorkingDirectory = WorkDir,
        };
        if (nofile is int n)
        {
            psi.ArgumentList.Add($"--nofile={n}:{n}");
            psi.ArgumentList.Add("dotnet"); // prlimit execs the command: same process id
        }
        psi.ArgumentList.Add(Dll);
        psi.ArgumentList.Add("run");
        foreach (var o in options ?? []) psi.ArgumentList.Add(o);
        psi.ArgumentList.Add(script);
        foreach (var a in scriptArgs ?? []) psi.ArgumentList.Add(a);
        var p = Process.Start(psi)!;
        var server = new CraftProcess(p);
        lock (Started) Started.Add(server);
        p.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (server._out) if (server._out.Count < 5000) server._out.Add(e.Data);
            if (e.Data.StartsWith("port ", StringComparison.Ordinal) && int.TryParse(e.Data[5..], out var port))
                server._port.TrySetResult(port);
        };
        p.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (server._err) if (server._err.Count < 5000) server._err.Add(e.Data);
        };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        var done = await Task.WhenAny(server._port.Task, p.WaitForExitAsync(), Task.Delay(30_000));
        if (done != server._port.Task)
        {
            await server.DisposeAsync();
            throw new InvalidOperationException($"server did not start: {string.Join(" / ", server.Err.TakeLast(5))}");
        }
        server.Port = server._port.Task.Result;
        await Task.Delay(300);
        server.BaselineRssKb = server.RssKb();
        _ = server.SampleAsync();
        return server;
    }

    private async Task SampleAsync()
    {
        // The peak is also in VmHWM; sampling keeps a figure when the process dies.
        while (!_stopSampling.IsCancellationRequested && Alive)
        {
            var rss = RssKb();
            if (rss > _peakSampledKb) _peakSampledKb = rss;
            try { await Task.Delay(100, _stopSampling.Token); } catch { }
        }
    }

    public bool Alive { get { try { return !_p.HasExited; } catch { return false; } } }
    public int? ExitCode => Alive ? null : _p.ExitCode;
    public List<string> Out { get { lock (_out) return _out.ToList(); } }
    public List<string> Err { get { lock (_err) return _err.ToList(); } }

    private string Status() { try { return File.ReadAllText($"/proc/{Pid}/status"); } catch { return ""; } }
    private long StatusKb(string field)
    {
        var m = Regex.Match(Status(), field + @":\s+(\d+)");
        return m.Success ? long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
    }
    public long RssKb() => StatusKb("VmRSS");
    /// <summary>The resident peak since the process started (VmHWM), or the sampled one.</summary>
    public long PeakKb() => Math.Max(StatusKb("VmHWM"), _peakSampledKb);
    public int Threads() => (int)StatusKb("Threads");
    public int OpenFds() { try { return Directory.GetFiles($"/proc/{Pid}/fd").Length; } catch { return -1; } }

    /// <summary>User + system CPU seconds of the process so far.</summary>
    public double CpuSeconds()
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{Pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            // fields[0] is field 3 (state); utime and stime are fields 14 and 15, in clock ticks (100/s).
            return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
        }
        catch { return double.NaN; }
    }

    public async Task<bool> WaitForOutputAsync(string prefix, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < timeout)
        {
            if (Out.Any(l => l.StartsWith(prefix, StringComparison.Ordinal))) return true;
            if (!Alive) return false;
            await Task.Delay(100);
        }
        return false;
    }

    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        try { await _p.WaitForExitAsync().WaitAsync(timeout); return true; }
        catch (TimeoutException) { return false; }
    }

    /// <summary>SIGTERM (the script gets `terminate`), a second one, then SIGKILL.</summary>
    public async Task<int?> StopAsync()
    {
        _stopSampling.Cancel();
        if (!Alive) return ExitCode;
        Native.kill(Pid, Native.SIGTERM);
        if (!await WaitForExitAsync(TimeSpan.FromSeconds(5)))
        {
            Native.kill(Pid, Native.SIGTERM);
            if (!await WaitForExitAsync(TimeSpan.FromSeconds(3)))
            {
                try { _p.Kill(true); } catch { }
                await WaitForExitAsync(TimeSpan.FromSeconds(5));
            }
        }
        return Alive ? null : _p.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _p.Dispose();
        lock (Started) Started.Remove(this);
    }

    public static void StopAll()
    {
        List<CraftProcess> left;
        lock (Started) left = Started.ToList();
        foreach (var s in left) { try { s._p.Kill(true); } catch { } }
    }

    /// <summary>"alive" or "crashed (exit N): last stderr line".</summary>
    public string State()
    {
        if (Alive) return "alive";
        var last = Err.LastOrDefault(l => l.Trim().Length > 0) ?? "";
        return $"DIED (exit {_p.ExitCode}{(last.Length > 0 ? ": " + Trim(last, 120) : "")})";
    }

    public static string Trim(string s, int n) => (s.Length > n ? s[..n] + "..." : s).Replace('|', '/');
}

/// <summary>Lua scripts the cases run; each prints "port N" once it listens.</summary>
static class Scripts
{
    public const string Hello = """
        -- hello, and 16 MiB at /big; bodies are read and counted. The big body is made once:
        -- string.rep of one byte costs Lua itself about 135 ms per 16 MiB (a copy per byte),
        -- which would measure the script, not the server.
        local port = http.addListener(0)
        print("port " .. port)
        local big = string.rep("x", 16 * 1024 * 1024)
        http.listen(port, function(req, res)
            if req.getURL() == "/big" then
                res.write(big)
            else
                res.write("hello " .. #req.readAll())
            end
            res.close()
        end)
        """;

    public const string WsSend = """
        -- sends 3,000 x 100 KiB to the first client, which never reads
        local server = assert(http.websocketServer(0))
        print("port " .. server.getPort())
        local client = server.listen()
        print("connected")
        local message = string.rep("y", 100 * 1024)
        local sent, err = 0, nil
        for i = 1, 3000 do
            local ok, e = pcall(client.send, message, true)
            if not ok then err = e break end
            sent = i
        end
        print("sent " .. sent .. " " .. tostring(err))
        while true do
            local event, id, reason, code = os.pullEvent()
            if event == "websocket_server_closed" then print("closed " .. tostring(code) .. " " .. tostring(reason)) end
        end
        """;

    public const string WsEcho = """
        -- every message goes back to its sender
        local server = assert(http.websocketServer(0))
        print("port " .. server.getPort())
        local clients = {}
        while true do
            local event, a, b, c = os.pullEvent()
            if event == "websocket_server_connect" then
                clients[b.clientID] = b
            elseif event == "websocket_server_message" then
                local client = clients[a]
                if client then client.send(b, c) end
            elseif event == "websocket_server_closed" then
                clients[a] = nil
            end
        end
        """;

    public const string SlowThenEnd = """
        -- keeps every request it is given and answers one every 0.2 s (a timer, so no event is
        -- dropped); after 5 answers it ends as its argument says, holding the others
        local mode = ...
        local port = http.addListener(0)
        print("port " .. port)
        local pending, answered = {}, 0
        local timer = os.startTimer(0.2)
        while answered < 5 do
            local event, a, b, c = os.pullEvent()
            if event == "http_request" then
                pending[#pending + 1] = c
            elseif event == "timer" and a == timer then
                local res = table.remove(pending, 1)
                if res then
                    res.write("ok")
                    res.close()
                    answered = answered + 1
                end
                timer = os.startTimer(0.2)
            end
        end
        print("ending with " .. #pending .. " requests held")
        if mode == "error" then error("boom") elseif mode == "shutdown" then os.shutdown() end
        """;

    public const string Busy200 = """
        -- a handler that takes 200 ms of the computer's time (busy: sleep would drop queued events)
        local port = http.addListener(0)
        print("port " .. port)
        http.listen(port, function(req, res)
            local t = os.clock()
            while os.clock() - t < 0.2 do end
            res.write("ok")
            res.close()
        end)
        """;
}

record RawResult(int Status, long Bytes, double Ms, string Outcome);

static class Net
{
    public static readonly IPAddress Loopback = IPAddress.Loopback;

    /// <summary>A fresh connection and a GET; (ok, status or error, ms).</summary>
    public static async Task<(bool Ok, string What, double Ms)> Probe(int port, TimeSpan? timeout = null)
    {
        var sw = Stopwatch.StartNew();
        using var handler = new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.Zero, UseProxy = false };
        using var client = new HttpClient(handler) { Timeout = timeout ?? TimeSpan.FromSeconds(5) };
        try
        {
            using var r = await client.GetAsync($"http://127.0.0.1:{port}/");
            var body = await r.Content.ReadAsStringAsync();
            return ((int)r.StatusCode == 200, ((int)r.StatusCode).ToString(CultureInfo.InvariantCulture), sw.Elapsed.TotalMilliseconds);
        }
        catch (TaskCanceledException) { return (false, "timeout", sw.Elapsed.TotalMilliseconds); }
        catch (Exception e) { return (false, e.GetBaseException().GetType().Name, sw.Elapsed.TotalMilliseconds); }
    }

    public static string ProbeText((bool Ok, string What, double Ms) p) => p.Ok ? $"served ({p.Ms:F0} ms)" : $"NOT served ({p.What})";

    /// <summary>Sends a raw request with `Connection: close` and reads to the end of the
    /// response. Outcome: complete, partial, closed-empty, timeout, refused, reset.</summary>
    public static async Task<RawResult> Raw(int port, string request, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        using var cts = new CancellationTokenSource(timeout);
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var received = new MemoryStream();
        try
        {
            await s.ConnectAsync(new IPEndPoint(Loopback, port), cts.Token);
            await s.SendAsync(Encoding.ASCII.GetBytes(request), SocketFlags.None, cts.Token);
            var buffer = new byte[16 * 1024];
            while (true)
            {
                int n = await s.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
                if (n == 0) break;
                received.Write(buffer, 0, n);
                if (IsComplete(received.ToArray())) break;
            }
        }
        catch (OperationCanceledException) { return new RawResult(StatusOf(received), received.Length, sw.Elapsed.TotalMilliseconds, received.Length == 0 ? "timeout" : "timeout-partial"); }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused) { return new RawResult(-1, 0, sw.Elapsed.TotalMilliseconds, "refused"); }
        catch (SocketException) { return new RawResult(StatusOf(received), received.Length, sw.Elapsed.TotalMilliseconds, received.Length == 0 ? "reset-empty" : IsComplete(received.ToArray()) ? "complete" : "reset-partial"); }
        var bytes = received.ToArray();
        return new RawResult(StatusOf(received), bytes.Length, sw.Elapsed.TotalMilliseconds,
            bytes.Length == 0 ? "closed-empty" : IsComplete(bytes) ? "complete" : "partial");
    }

    static int StatusOf(MemoryStream ms)
    {
        var head = Encoding.ASCII.GetString(ms.GetBuffer(), 0, (int)Math.Min(ms.Length, 32));
        var m = Regex.Match(head, @"^HTTP/1\.[01] (\d{3})");
        return m.Success ? int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : -1;
    }

    static bool IsComplete(byte[] bytes)
    {
        var text = Encoding.Latin1.GetString(bytes);
        int end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        if (end < 0) return false;
        var head = text[..end];
        var body = bytes.Length - end - 4;
        var cl = Regex.Match(head, @"(?im)^content-length:\s*(\d+)");
        if (cl.Success) return body >= long.Parse(cl.Groups[1].Value, CultureInfo.InvariantCulture);
        if (Regex.IsMatch(head, @"(?im)^transfer-encoding:\s*chunked")) return text.EndsWith("0\r\n\r\n", StringComparison.Ordinal);
        return false; // read to the end of the connection
    }

    /// <summary>A WebSocket handshake on a raw socket; true on 101.</summary>
    public static async Task<Socket?> RawWebSocket(int port, CancellationToken ct)
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await s.ConnectAsync(new IPEndPoint(Loopback, port), ct);
            var req = $"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
            await s.SendAsync(Encoding.ASCII.GetBytes(req), SocketFlags.None, ct);
            var got = new StringBuilder();
            var one = new byte[1];
            while (!got.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal) && got.Length < 4096)
            {
                if (await s.ReceiveAsync(one, SocketFlags.None, ct) == 0) break;
                got.Append((char)one[0]);
            }
            if (got.ToString().StartsWith("HTTP/1.1 101", StringComparison.Ordinal)) return s;
        }
        catch { }
        s.Dispose();
        return null;
    }

    /// <summary>What a raw socket sees within the timeout: "open", "closed (FIN)", "reset",
    /// or "close frame CODE".</summary>
    public static async Task<string> ReadEnd(Socket s, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var buffer = new byte[4096];
        var got = new List<byte>();
        try
        {
            while (true)
            {
                int n = await s.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
                if (n == 0) break;
                got.AddRange(buffer.Take(n));
            }
        }
        catch (OperationCanceledException) { return got.Count == 0 ? "open" : Frame(got) + ", still open"; }
        catch (SocketException) { return got.Count == 0 ? "reset" : Frame(got) + ", then reset"; }
        return got.Count == 0 ? "closed (FIN)" : Frame(got) + ", closed";
    }

    static string Frame(List<byte> b)
    {
        if (b.Count >= 4 && (b[0] & 0x0F) == 0x8 && (b[1] & 0x7F) >= 2) return $"close frame {b[2] << 8 | b[3]}";
        if (b.Count >= 2 && (b[0] & 0x0F) == 0x8) return "close frame (no code)";
        return $"{b.Count} bytes";
    }
}

static class Cases
{
    static string Mb(long kb) => (kb / 1024.0).ToString("F0", CultureInfo.InvariantCulture);
    static string Yes(bool b) => b ? "yes" : "**no**";

    // 1. slowloris (-H) and slow body (-B) with slowhttptest.
    public static async Task<List<Row>> Slow(bool slowBody)
    {
        var id = slowBody ? "slow-body" : "slowloris";
        var attack = slowBody
            ? "slowhttptest -B: 1,000 POSTs sending their 4 KiB body 1-68 B every 10 s, 30 s"
            : "slowhttptest -H: 1,000 connections sending a header line every 10 s, 40 s (the header timeout is 30 s)";
        if (!HasProgram("slowhttptest"))
        {
            Console.WriteLine("SKIPPED: slowhttptest is not installed (Debian: apt-get install slowhttptest)");
            return [new Row(id, attack, "skipped: `slowhttptest` is not installed", "n/a")];
        }
        await using var server = await CraftProcess.StartAsync("hello", Scripts.Hello);
        var outPrefix = Path.Combine(CraftProcess.WorkDir, id);
        var psi = new ProcessStartInfo("slowhttptest") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "-c", "1000", slowBody ? "-B" : "-H", "-i", "10", "-r", "200", "-t", slowBody ? "POST" : "GET",
                     "-u", $"http://127.0.0.1:{server.Port}/", "-l", slowBody ? "30" : "40", "-x", "24", "-p", "3", "-g", "-o", outPrefix })
            psi.ArgumentList.Add(a);
        var cpu0 = server.CpuSeconds();
        using var attacker = Process.Start(psi)!;
        var stdout = attacker.StandardOutput.ReadToEndAsync();
        var stderr = attacker.StandardError.ReadToEndAsync();
        int ok = 0, probes = 0;
        double worst = 0;
        var sw = Stopwatch.StartNew();
        while (!attacker.HasExited && sw.Elapsed.TotalSeconds < 60)
        {
            await Task.Delay(2000);
            if (attacker.HasExited) break;
            var p = await Net.Probe(server.Port, TimeSpan.FromSeconds(5));
            probes++;
            if (p.Ok) ok++;
            worst = Math.Max(worst, p.Ms);
        }
        if (!attacker.HasExited) { try { attacker.Kill(true); } catch { } }
        await attacker.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        var text = Regex.Replace(await stdout + await stderr, @"\x1b\[[0-9;]*m", "");
        int Last(string label)
        {
            var ms = Regex.Matches(text, label + @":\s+(\d+)");
            return ms.Count == 0 ? -1 : int.Parse(ms[^1].Groups[1].Value, CultureInfo.InvariantCulture);
        }
        var exit = Regex.Match(text, @"Exit status:\s*(.+)").Groups[1].Value.Trim();
        // The CSV has a line per second: when did the server start closing connections?
        var firstClose = "never";
        var csv = outPrefix + ".csv";
        if (File.Exists(csv))
        {
            foreach (var line in File.ReadLines(csv).Skip(1))
            {
                var f = line.Split(',');
                if (f.Length >= 2 && int.TryParse(f[1], out var closed) && closed > 0) { firstClose = $"at {f[0]} s"; break; }
            }
        }
        var cpu = server.CpuSeconds() - cpu0;
        await Task.Delay(500);
        var after = await Net.Probe(server.Port);
        var state = server.State();
        Console.WriteLine($"slowhttptest: connected {Last("connected")}, closed {Last("closed")}, error {Last("error")}, pending {Last("pending")}; exit: {exit}; first closes {firstClose}");
        Console.WriteLine($"probes served during the attack: {ok}/{probes}, slowest {worst:F0} ms; after: {Net.ProbeText(after)}; server {state}, CPU {cpu:F1} s, RSS peak {Mb(server.PeakKb())} MB");
        var held = server.Alive && probes > 0 && ok == probes && after.Ok;
        return [new Row(id, attack,
            $"probes served during the attack: {ok}/{probes} (slowest {worst:F0} ms); attack connections at the end: {Last("connected")} open, {Last("closed")} closed by the server (first {firstClose}), {Last("error")} errors; slowhttptest: \"{exit}\"; server {state}, CPU {cpu:F1} s, RSS peak {Mb(server.PeakKb())} MB",
            Yes(held))];
    }

    static bool HasProgram(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => File.Exists(Path.Combine(d, name)));

    // 2. 2,000 idle connections against a server limited to 1,024 descriptors.
    public static async Task<List<Row>> FdFlood()
    {
        const int count = 2000;
        await using var server = await CraftProcess.StartAsync("hello", Scripts.Hello, nofile: 1024);
        var fds0 = server.OpenFds();
        var sockets = new List<Socket>();
        int connected = 0, failed = 0;
        using (var gate = new SemaphoreSlim(200))
        {
            await Task.WhenAll(Enumerable.Range(0, count).Select(async _ =>
            {
                await gate.WaitAsync();
                var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    using var cts = new CancellationTokenSource(3000);
                    await s.ConnectAsync(new IPEndPoint(Net.Loopback, server.Port), cts.Token);
                    lock (sockets) sockets.Add(s);
                    Interlocked.Increment(ref connected);
                }
                catch { s.Dispose(); Interlocked.Increment(ref failed); }
                finally { gate.Release(); }
            }));
        }
        await Task.Delay(2000);
        var cpu0 = server.CpuSeconds();
        var during = await Net.Probe(server.Port, TimeSpan.FromSeconds(3));
        await Task.Delay(3000);
        var cpuRate = (server.CpuSeconds() - cpu0) / 5.0;
        var fds = server.OpenFds();
        var aliveDuring = server.Alive;
        // How many of the flood's connections has the server closed meanwhile?
        int closedByServer = 0;
        foreach (var s in sockets)
            if (s.Poll(0, SelectMode.SelectRead) && s.Available == 0) closedByServer++;
        foreach (var s in sockets) { s.Close(0); s.Dispose(); }
        await Task.Delay(3000);
        var after = await Net.Probe(server.Port);
        var after2 = after.Ok ? after : await Net.Probe(server.Port);
        var cpuAfter0 = server.CpuSeconds();
        await Task.Delay(2000);
        var cpuIdle = (server.CpuSeconds() - cpuAfter0) / 2.0;
        var state = server.State();
        var errLines = server.Err.Count;
        Console.WriteLine($"server wrote {errLines} lines on stderr; first: {server.Err.FirstOrDefault()}");
        Console.WriteLine($"{connected} connected, {failed} failed to connect (3 s), {closedByServer} closed by the server; server fds {fds0} -> {fds}; CPU {cpuRate:F2} s/s during, {cpuIdle:F2} s/s after; probe during: {Net.ProbeText(during)}; after: {Net.ProbeText(after2)}; server {state}");
        return [new Row("fd-flood",
            "2,000 idle TCP connections to a server started under `prlimit --nofile=1024:1024`, held 5 s, then released",
            $"{connected:N0} connected, {failed:N0} not within 3 s, {closedByServer:N0} closed by the server; server descriptors {fds0} → {(fds < 0 ? "n/a" : fds)}; CPU {(double.IsNaN(cpuRate) ? "n/a" : cpuRate.ToString("F2", CultureInfo.InvariantCulture))} s/s during the flood, {(double.IsNaN(cpuIdle) ? "n/a" : cpuIdle.ToString("F2", CultureInfo.InvariantCulture))} s/s after; {errLines} lines on stderr; a new request during the flood: {Net.ProbeText(during)}; after release: {Net.ProbeText(after2)}; server {state}",
            Yes(aliveDuring && server.Alive && after2.Ok && cpuIdle < 0.5))];
    }

    // 3a. 60 clients ask for 16 MiB each and never read.
    public static async Task<List<Row>> BigResponse()
    {
        const int count = 60;
        await using var server = await CraftProcess.StartAsync("hello", Scripts.Hello);
        var baseline = server.RssKb();
        var sockets = new List<Socket>();
        for (int i = 0; i < count; i++)
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
            using var cts = new CancellationTokenSource(3000);
            try
            {
                await s.ConnectAsync(new IPEndPoint(Net.Loopback, server.Port), cts.Token);
                await s.SendAsync(Encoding.ASCII.GetBytes("GET /big HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"), SocketFlags.None, cts.Token);
                sockets.Add(s);
            }
            catch { s.Dispose(); }
        }
        await Task.Delay(4000);
        var during = await Net.Probe(server.Port);
        await Task.Delay(6000);
        var peak = server.PeakKb();
        var held = server.RssKb();
        var cpuHeld = server.CpuSeconds();
        foreach (var s in sockets) { s.Close(0); s.Dispose(); }
        var released = Stopwatch.StartNew();
        await Task.Delay(1000);
        var after = await Net.Probe(server.Port);
        while (!after.Ok && released.Elapsed.TotalSeconds < 25 && server.Alive)
            after = await Net.Probe(server.Port);
        var recovered = released.Elapsed.TotalSeconds;
        await Task.Delay(Math.Max(0, 6000 - (int)released.ElapsedMilliseconds));
        var rssAfter = server.RssKb();
        var state = server.State();
        Console.WriteLine($"CPU {cpuHeld:F1} s by the end of the hold; served again {recovered:F0} s after release: {after.Ok}");
        Console.WriteLine($"{sockets.Count} clients; RSS baseline {Mb(baseline)} MB, peak {Mb(peak)} MB, after 10 s {Mb(held)} MB, 6 s after release {Mb(rssAfter)} MB; probe during {Net.ProbeText(during)}, after {Net.ProbeText(after)}; server {state}");
        // Held: alive, still serving, and memory back near where it started (within 256 MB).
        return [new Row("big-response",
            $"{count} clients each GET a 16 MiB response (`string.rep`) and never read (4 KiB receive buffer), held 10 s, then reset",
            $"RSS {Mb(baseline)} MB at rest, peak {Mb(peak)} MB, {Mb(held)} MB after 10 s, {Mb(rssAfter)} MB {Math.Max(6, recovered):F0} s after the clients left; a new request during: {Net.ProbeText(during)}; after release: {(after.Ok ? $"served within {recovered:F0} s" : $"NOT served for {recovered:F0} s ({after.What})")}; server CPU {cpuHeld:F1} s by the end of the hold; server {state}",
            Yes(server.Alive && during.Ok && after.Ok && rssAfter - baseline < 256 * 1024))];
    }

    // 3b. 100 connections each send 16 MiB - 1 of body (all but its last byte) and go silent.
    public static async Task<List<Row>> BigBody()
    {
        const int count = 100;
        const int length = 16 * 1024 * 1024 - 1;
        await using var server = await CraftProcess.StartAsync("hello", Scripts.Hello);
        var baseline = server.RssKb();
        var body = new byte[length - 1];
        Array.Fill(body, (byte)'z');
        var sockets = new List<Socket>();
        int sent = 0, cut = 0;
        var sw = Stopwatch.StartNew();
        using (var gate = new SemaphoreSlim(10))
        {
            await Task.WhenAll(Enumerable.Range(0, count).Select(async _ =>
            {
                await gate.WaitAsync();
                var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    using var cts = new CancellationTokenSource(15_000);
                    await s.ConnectAsync(new IPEndPoint(Net.Loopback, server.Port), cts.Token);
                    await s.SendAsync(Encoding.ASCII.GetBytes($"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {length}\r\n\r\n"), SocketFlags.None, cts.Token);
                    await s.SendAsync(body, SocketFlags.None, cts.Token);
                    Interlocked.Increment(ref sent);
                }
                catch { Interlocked.Increment(ref cut); }
                finally { lock (sockets) sockets.Add(s); gate.Release(); }
            }));
        }
        var sendSeconds = sw.Elapsed.TotalSeconds;
        await Task.Delay(3000);
        var during = await Net.Probe(server.Port);
        await Task.Delay(2000);
        var peak = server.PeakKb();
        int closedByServer = 0;
        foreach (var s in sockets)
            if (s.Connected && s.Poll(0, SelectMode.SelectRead) && s.Available == 0) closedByServer++;
        foreach (var s in sockets) { s.Close(0); s.Dispose(); }
        await Task.Delay(5000);
        var after = await Net.Probe(server.Port);
        var rssAfter = server.RssKb();
        var state = server.State();
        Console.WriteLine($"{sent} bodies sent ({sendSeconds:F1} s), {cut} cut short, {closedByServer} closed by the server; RSS baseline {Mb(baseline)} MB, peak {Mb(peak)} MB, 5 s after release {Mb(rssAfter)} MB; probe during {Net.ProbeText(during)}, after {Net.ProbeText(after)}; server {state}");
        return [new Row("big-body",
            $"{count} connections each send `Content-Length: {length}` and all of the body but its last byte, then go silent 5 s",
            $"{sent} bodies sent in {sendSeconds:F1} s, {cut} cut short by the server; RSS {Mb(baseline)} MB at rest, peak {Mb(peak)} MB, {Mb(rssAfter)} MB 5 s after release{(rssAfter > peak / 2 ? " (not given back)" : "")}; a new request during: {Net.ProbeText(during)}, after: {Net.ProbeText(after)}; server {state}",
            Yes(server.Alive && during.Ok && after.Ok))];
    }

    // 4. The script sends 3,000 x 100 KiB to a client that never reads.
    public static async Task<List<Row>> WsNoRead()
    {
        await using var server = await CraftProcess.StartAsync("ws-send", Scripts.WsSend);
        var baseline = server.RssKb();
        using var ws = new ClientWebSocket();
        ws.Options.KeepAliveInterval = TimeSpan.Zero;
        using (var cts = new CancellationTokenSource(5000))
            await ws.ConnectAsync(new Uri($"ws://127.0.0.1:{server.Port}/"), cts.Token);
        var sw = Stopwatch.StartNew();
        var finished = await server.WaitForOutputAsync("sent ", TimeSpan.FromSeconds(20));
        var sendSeconds = sw.Elapsed.TotalSeconds;
        await Task.Delay(3000);
        var peak = server.PeakKb();
        var rssHeld = server.RssKb();
        var sentLine = server.Out.FirstOrDefault(l => l.StartsWith("sent ", StringComparison.Ordinal)) ?? "sent ? (still sending after 20 s)";
        // Now read: how much arrives, and how does it end?
        long messages = 0;
        string end;
        var buffer = new byte[256 * 1024];
        using (var cts = new CancellationTokenSource(20_000))
        {
            try
            {
                while (true)
                {
                    var r = await ws.ReceiveAsync(buffer, cts.Token);
                    if (r.MessageType == WebSocketMessageType.Close) { end = $"close frame {(int?)r.CloseStatus} \"{r.CloseStatusDescription}\""; break; }
                    if (r.EndOfMessage) messages++;
                    if (messages == 3000) { end = "all 3,000 messages arrived, connection open"; break; }
                }
            }
            catch (OperationCanceledException) { end = "nothing more within 20 s, connection open"; }
            catch (WebSocketException e) { end = $"connection dropped without a close frame ({e.WebSocketErrorCode})"; }
        }
        var state = server.State();
        var closedLine = server.Out.FirstOrDefault(l => l.StartsWith("closed ", StringComparison.Ordinal));
        Console.WriteLine($"script: {sentLine} after {sendSeconds:F1} s; RSS baseline {Mb(baseline)} MB, peak {Mb(peak)} MB, held {Mb(rssHeld)} MB; client read {messages} messages, then: {end}; script saw: {closedLine ?? "no closed event"}; server {state}");
        // Held: memory stays bounded (under 256 MB above rest) and the server lives.
        return [new Row("ws-no-read",
            "a script sends 3,000 × 100 KiB (293 MiB) to a connected client that does not read until the script is done (at most 20 s) and 3 s more",
            $"script: `{CraftProcess.Trim(sentLine, 100)}` after {sendSeconds:F1} s; RSS {Mb(baseline)} MB at rest, peak {Mb(peak)} MB; the client then read {messages:N0} messages and saw: {end}; script's event: `{closedLine ?? "none"}`; server {state}",
            Yes(server.Alive && peak - baseline < 256 * 1024))];
    }

    // 5. 1,000 WebSocket clients x 100 messages to an echo script.
    public static async Task<List<Row>> WsFlood()
    {
        const int clients = 1000, messages = 100;
        await using var server = await CraftProcess.StartAsync("ws-echo", Scripts.WsEcho);
        var sockets = new ClientWebSocket?[clients];
        int connectFailed = 0;
        var connectTime = Stopwatch.StartNew();
        using (var gate = new SemaphoreSlim(100))
        {
            await Task.WhenAll(Enumerable.Range(0, clients).Select(async i =>
            {
                await gate.WaitAsync();
                var ws = new ClientWebSocket();
                ws.Options.KeepAliveInterval = TimeSpan.Zero;
                try
                {
                    using var cts = new CancellationTokenSource(10_000);
                    await ws.ConnectAsync(new Uri($"ws://127.0.0.1:{server.Port}/"), cts.Token);
                    sockets[i] = ws;
                }
                catch { ws.Dispose(); Interlocked.Increment(ref connectFailed); }
                finally { gate.Release(); }
            }));
        }
        var connectSeconds = connectTime.Elapsed.TotalSeconds;
        long delivered = 0, outOfOrder = 0, errors = 0;
        var sw = Stopwatch.StartNew();
        using var all = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await Task.WhenAll(sockets.Select(async (ws, i) =>
        {
            if (ws is null) return;
            var send = Task.Run(async () =>
            {
                for (int j = 0; j < messages; j++)
                    await ws.SendAsync(Encoding.UTF8.GetBytes($"{i}:{j}"), WebSocketMessageType.Text, true, all.Token);
            });
            var buffer = new byte[256];
            try
            {
                for (int j = 0; j < messages; j++)
                {
                    int length = 0;
                    WebSocketReceiveResult r;
                    do
                    {
                        r = await ws.ReceiveAsync(new ArraySegment<byte>(buffer, length, buffer.Length - length), all.Token);
                        length += r.Count;
                    } while (!r.EndOfMessage && r.MessageType != WebSocketMessageType.Close);
                    if (r.MessageType == WebSocketMessageType.Close) { Interlocked.Increment(ref errors); break; }
                    if (Encoding.UTF8.GetString(buffer, 0, length) != $"{i}:{j}") Interlocked.Increment(ref outOfOrder);
                    Interlocked.Increment(ref delivered);
                }
                await send;
            }
            catch { Interlocked.Increment(ref errors); }
        }));
        var seconds = sw.Elapsed.TotalSeconds;
        var peak = server.PeakKb();
        using (var closing = new CancellationTokenSource(5000))
            await Task.WhenAll(sockets.Where(s => s is not null).Select(async s =>
            {
                try { await s!.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", closing.Token); } catch { }
            }));
        foreach (var s in sockets) s?.Dispose();
        var state = server.State();
        var expected = (long)(clients - connectFailed) * messages;
        Console.WriteLine($"{clients - connectFailed} connected in {connectSeconds:F1} s ({connectFailed} failed); {delivered}/{expected} echoed in {seconds:F1} s ({delivered / seconds:N0}/s), {outOfOrder} out of order or wrong, {errors} client errors; RSS peak {Mb(peak)} MB; server {state}");
        return [new Row("ws-flood",
            $"{clients:N0} WebSocket clients × {messages} messages each (sent without waiting) to an echo script",
            $"{clients - connectFailed:N0} connected in {connectSeconds:F1} s ({connectFailed} failed); {delivered:N0} of {clients * messages:N0} echoed in {seconds:F1} s ({delivered / seconds:N0}/s); {outOfOrder} out of order or wrong; {errors} client errors; RSS peak {Mb(peak)} MB; server {state}",
            Yes(server.Alive && connectFailed == 0 && delivered == (long)clients * messages && outOfOrder == 0 && errors == 0))];
    }

    // 6. A frame header claiming a 64-bit length >= 2^63, from 16 clients.
    public static async Task<List<Row>> WsHugeFrame()
    {
        const int count = 16;
        await using var server = await CraftProcess.StartAsync("ws-echo", Scripts.WsEcho);
        var sockets = new List<Socket>();
        using (var cts = new CancellationTokenSource(10_000))
            for (int i = 0; i < count; i++)
                if (await Net.RawWebSocket(server.Port, cts.Token) is { } s) sockets.Add(s);
        byte[] frame = [0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x11, 0x22, 0x33, 0x44];
        var cpu0 = server.CpuSeconds();
        foreach (var s in sockets) await s.SendAsync(frame, SocketFlags.None);
        var ends = await Task.WhenAll(sockets.Select(s => Net.ReadEnd(s, TimeSpan.FromSeconds(5))));
        var cpu = (server.CpuSeconds() - cpu0) / 5.0;
        string fresh;
        using (var ws = new ClientWebSocket())
        using (var cts = new CancellationTokenSource(5000))
        {
            try
            {
                await ws.ConnectAsync(new Uri($"ws://127.0.0.1:{server.Port}/"), cts.Token);
                await ws.SendAsync("ping?"u8.ToArray(), WebSocketMessageType.Text, true, cts.Token);
                var buffer = new byte[64];
                var r = await ws.ReceiveAsync(buffer, cts.Token);
                fresh = Encoding.UTF8.GetString(buffer, 0, r.Count) == "ping?" ? "connects and is echoed" : "connects, wrong echo";
            }
            catch (Exception e) { fresh = $"fails ({e.GetBaseException().GetType().Name})"; }
        }
        foreach (var s in sockets) s.Dispose();
        var state = server.State();
        var endSummary = string.Join(", ", ends.GroupBy(e => e).Select(g => $"{g.Count()} {g.Key}"));
        Console.WriteLine($"{sockets.Count} upgraded; their ends within 5 s: {endSummary}; server CPU {cpu:F2} s per s; a new client {fresh}; server {state}");
        return [new Row("ws-huge-frame",
            $"{count} clients send one frame header with a 64-bit length of 2^63 (`82 FF 80 00 00 00 00 00 00 00` + mask)",
            $"server CPU over the next 5 s: {cpu:F2} s per s; the {sockets.Count} attackers saw: {endSummary}; a new client {fresh}; server {state}",
            Yes(server.Alive && cpu < 0.2 && fresh == "connects and is echoed" && ends.All(e => e != "open")))];
    }

    // 7. 200 concurrent requests while the script ends (return, error, os.shutdown()).
    public static async Task<List<Row>> ScriptEnd()
    {
        var rows = new List<Row>();
        foreach (var mode in new[] { "return", "error", "shutdown" })
        {
            await using var server = await CraftProcess.StartAsync("slow-end", Scripts.SlowThenEnd, scriptArgs: [mode]);
            // 100 at once, then 100 more one every 12 ms, so that some arrive as the script ends.
            var tasks = new List<Task<RawResult>>();
            for (int i = 0; i < 200; i++)
            {
                if (i >= 100) await Task.Delay(12);
                tasks.Add(Net.Raw(server.Port, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", TimeSpan.FromSeconds(20)));
            }
            var results = await Task.WhenAll(tasks);
            var exited = await server.WaitForExitAsync(TimeSpan.FromSeconds(10));
            var complete = results.Where(r => r.Outcome == "complete").GroupBy(r => r.Status).OrderBy(g => g.Key).Select(g => $"{g.Count()} × {g.Key}");
            var other = results.Where(r => r.Outcome != "complete").GroupBy(r => r.Outcome).Select(g => $"{g.Count()} {g.Key}");
            var ok = results.Count(r => r.Outcome == "complete");
            var refused = results.Count(r => r.Outcome == "refused"); // after the process ended: fine
            var held = server.Out.FirstOrDefault(l => l.StartsWith("ending", StringComparison.Ordinal)) ?? "never ended";
            var text = $"script: {held}; {ok}/200 complete responses ({string.Join(", ", complete)}){(other.Any() ? "; " + string.Join(", ", other) : "")}; slowest {results.Max(r => r.Ms):F0} ms; the process {(exited ? $"exited with {server.ExitCode}" : "had not exited 10 s later")}";
            Console.WriteLine($"{mode}: {text}");
            rows.Add(new Row("script-end", $"200 requests (100 at once, 100 over the next 1.2 s); the script holds them, answers 5 (one per 0.2 s), then {(mode == "return" ? "returns" : mode == "error" ? "raises an error" : "calls `os.shutdown()`")}",
                text, Yes(ok + refused == 200 && exited && server.ExitCode == (mode == "error" ? 1 : 0))));
        }
        return rows;
    }

    // 8. Overload: queue 1, backlog 0, deadline 1 s; 31 concurrent requests to a 200 ms handler.
    public static async Task<List<Row>> Overload()
    {
        await using var server = await CraftProcess.StartAsync("busy", Scripts.Busy200, options: ["--queue", "1", "--backlog", "0", "--deadline", "1"]);
        await Net.Probe(server.Port); // warm up
        var results = await Task.WhenAll(Enumerable.Range(0, 31).Select(_ =>
            Net.Raw(server.Port, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", TimeSpan.FromSeconds(20))));
        var byStatus = results.Where(r => r.Outcome == "complete").GroupBy(r => r.Status).OrderBy(g => g.Key)
            .Select(g => $"{g.Count()} × {g.Key} (slowest {g.Max(r => r.Ms):F0} ms)");
        var other = results.Where(r => r.Outcome != "complete").GroupBy(r => r.Outcome).Select(g => $"{g.Count()} {g.Key}");
        var slowest = results.Max(r => r.Ms);
        var state = server.State();
        var text = $"{string.Join(", ", byStatus)}{(other.Any() ? "; " + string.Join(", ", other) : "")}; slowest {slowest:F0} ms; server {state}";
        Console.WriteLine(text);
        // Held: every request answered (200 or 503), none later than the deadline plus one handler.
        return [new Row("overload", "`--queue 1 --backlog 0 --deadline 1`: 31 concurrent requests to a handler that takes 200 ms",
            text, Yes(server.Alive && results.All(r => r.Outcome == "complete" && (r.Status is 200 or 503)) && slowest < 1500))];
    }
}
