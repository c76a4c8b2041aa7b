// Craft's benchmark: each case on Craft and on plain Kestrel (no Lua) in one run, the two sides
// alternating, each figure the median of several runs. Writes a Markdown report.
//
//   dotnet run -c Release --project bench/Craft.Bench -- [--runs 3] [--seconds 5] [--out FILE]
//                                                          [--only events,http,json,static,ws,idle,soak]
//
// HTTP load comes from wrk (Debian package `wrk`); WebSocket load from ClientWebSocket here.

using System.Diagnostics;
using System.Globalization;
using System.Net.WebSockets;
using System.Text;
using System.Text.RegularExpressions;
using Craft.Interop;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

if (args.Length == 2 && args[0] == "--serve")
    return await Serve(args[1]);

var runs = 3;
var seconds = 5;
string? outFile = null;
var only = new HashSet<string> { "events", "http", "json", "static", "proxy", "ws", "idle", "soak" };
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--runs": runs = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
        case "--seconds": seconds = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
        case "--out": outFile = args[++i]; break;
        case "--only": only = args[++i].Split(',').ToHashSet(); break;
        default: Console.Error.WriteLine($"unknown argument {args[i]}"); return 2;
    }
}

var rows = new List<string>();
var notes = new List<string>();
string Lua(string name) => Path.Combine(AppContext.BaseDirectory, "lua", name);
static double Median(IEnumerable<double> xs)
{
    var a = xs.OrderBy(x => x).ToArray();
    return a.Length == 0 ? double.NaN : a.Length % 2 == 1 ? a[a.Length / 2] : (a[a.Length / 2 - 1] + a[a.Length / 2]) / 2;
}
static string F(double x, int digits = 0) => double.IsNaN(x) ? "n/a" : x.ToString("N" + digits, CultureInfo.InvariantCulture);

// ---- The event path (in process) ----
if (only.Contains("events"))
{
    var script = new List<double>();
    var host = new List<double>();
    var bytes = new List<double>();
    // One uncounted run first: the first one in a fresh process also measures the JIT's tiering.
    // At least 5 counted runs: a run takes a second, and on a shared machine the rate of a
    // one-thread loop swings by a third between quiet and busy moments.
    await EventPath(Lua("events.lua"), 200_000, 20_000);
    for (int r = 0; r < Math.Max(runs, 5); r++)
    {
        var (s, h, b) = await EventPath(Lua("events.lua"), 1_000_000, 200_000);
        script.Add(s);
        host.Add(h);
        bytes.Add(b);
        Console.WriteLine($"events run {r + 1}: script {s:N0}/s, host {h:N0}/s, {b:N0} bytes per round trip");
    }
    rows.Add($"| Event path: `os.queueEvent` → `os.pullEvent` round trips/s | {F(Median(script))} | n/a | |");
    rows.Add($"| Event path: managed bytes allocated per round trip | {F(Median(bytes))} | n/a | |");
    rows.Add($"| Event path: host `QueueEvent` → script, events/s | {F(Median(host))} | n/a | |");
}

// ---- HTTP hello ----
if (only.Contains("http"))
{
    if (!HasWrk())
    {
        notes.Add("HTTP cases skipped: `wrk` is not installed (`apt-get install wrk`).");
    }
    else
    {
        await using var kestrel = await PlainKestrel.HelloAsync();
        await using var craft = await CraftServer.StartAsync(Lua("hello.lua"));
        foreach (var connections in new[] { 1, 16, 64, 256 })
        {
            var c = new List<WrkResult>();
            var k = new List<WrkResult>();
            var ca = new List<double>();
            var ka = new List<double>();
            for (int r = 0; r < runs; r++)
            {
                // wrk is another process, so what this process allocates during a run is the
                // server's cost (the other side sits idle meanwhile).
                long before = GC.GetTotalAllocatedBytes(true);
                k.Add(await Wrk(kestrel.Port, connections, seconds));
                ka.Add((GC.GetTotalAllocatedBytes(true) - before) / (k[^1].Rps * seconds));
                before = GC.GetTotalAllocatedBytes(true);
                c.Add(await Wrk(craft.Port, connections, seconds));
                ca.Add((GC.GetTotalAllocatedBytes(true) - before) / (c[^1].Rps * seconds));
                Console.WriteLine($"http c={connections} run {r + 1}: craft {c[^1]}, kestrel {k[^1]}");
            }
            if (connections == 64)
                rows.Add($"| HTTP hello, 64 connections: managed bytes allocated per request | {F(Median(ca))} | {F(Median(ka))} | {F(Median(ca) / Median(ka), 2)} |");
            double cr = Median(c.Select(x => x.Rps)), kr = Median(k.Select(x => x.Rps));
            rows.Add($"| HTTP hello, {connections} connections: requests/s | {F(cr)} | {F(kr)} | {F(cr / kr, 2)} |");
            rows.Add($"| HTTP hello, {connections} connections: p50 / p99 latency (ms) | {F(Median(c.Select(x => x.P50)), 2)} / {F(Median(c.Select(x => x.P99)), 2)} | {F(Median(k.Select(x => x.P50)), 2)} / {F(Median(k.Select(x => x.P99)), 2)} | {F(Median(c.Select(x => x.P99)) / Median(k.Select(x => x.P99)), 2)} (p99) |");
            var errors = c.Concat(k).Sum(x => x.Errors);
            if (errors > 0) notes.Add($"HTTP c={connections}: {errors} errors or non-2xx answers in total.");
        }
    }
}

// ---- WebSocket echo, 16 B and 64 KiB ----
if (only.Contains("ws"))
{
    await using var kestrel = await PlainKestrel.EchoAsync();
    await using var craft = await CraftServer.StartAsync(Lua("ws-echo.lua"));
    foreach (var (size, label) in new[] { (16, "16 B"), (64 * 1024, "64 KiB") })
    {
        foreach (var connections in new[] { 1, 16, 64 })
        {
            var c = new List<(double Rate, double P99)>();
            var k = new List<(double Rate, double P99)>();
            for (int r = 0; r < runs; r++)
            {
                k.Add(await WsLoad(kestrel.Port, connections, size, seconds));
                c.Add(await WsLoad(craft.Port, connections, size, seconds));
                Console.WriteLine($"ws {label} c={connections} run {r + 1}: craft {c[^1].Rate:N0}/s, kestrel {k[^1].Rate:N0}/s");
            }
            double cr = Median(c.Select(x => x.Rate)), kr = Median(k.Select(x => x.Rate));
            rows.Add($"| WebSocket echo {label}, {connections} connections: messages/s | {F(cr)} | {F(kr)} | {F(cr / kr, 2)} |");
            rows.Add($"| WebSocket echo {label}, {connections} connections: p99 (ms) | {F(Median(c.Select(x => x.P99)), 2)} | {F(Median(k.Select(x => x.P99)), 2)} | |");
        }
    }
}

// ---- HTTP JSON echo ----
if (only.Contains("json") && HasWrk())
{
    await using var kestrel = await PlainKestrel.JsonEchoAsync();
    await using var craft = await CraftServer.StartAsync(Lua("json-echo.lua"));
    var script = Path.Combine(AppContext.BaseDirectory, "post.lua");
    var c = new List<WrkResult>();
    var k = new List<WrkResult>();
    var cc = new List<double>();
    var kc = new List<double>();
    for (int r = 0; r < runs; r++)
    {
        var (kres, kcpu) = await WithCpu(() => Wrk(kestrel.Port, 64, seconds, script));
        k.Add(kres);
        kc.Add(kcpu / (kres.Rps * seconds) * 1e6);
        var (cres, ccpu) = await WithCpu(() => Wrk(craft.Port, 64, seconds, script));
        c.Add(cres);
        cc.Add(ccpu / (cres.Rps * seconds) * 1e6);
        Console.WriteLine($"json run {r + 1}: craft {c[^1]} ({cc[^1]:F1} µs CPU/req), kestrel {k[^1]} ({kc[^1]:F1} µs CPU/req)");
    }
    double cr = Median(c.Select(x => x.Rps)), kr = Median(k.Select(x => x.Rps));
    rows.Add($"| HTTP JSON echo (POST 1 KiB), 64 connections: requests/s | {F(cr)} | {F(kr)} | {F(cr / kr, 2)} |");
    rows.Add($"| HTTP JSON echo, 64 connections: server CPU per request (µs) | {F(Median(cc), 1)} | {F(Median(kc), 1)} | {F(Median(cc) / Median(kc), 2)} |");
    rows.Add($"| HTTP JSON echo, 64 connections: p99 (ms) | {F(Median(c.Select(x => x.P99)), 2)} | {F(Median(k.Select(x => x.P99)), 2)} | {F(Median(c.Select(x => x.P99)) / Median(k.Select(x => x.P99)), 2)} |");
    var errors = c.Concat(k).Sum(x => x.Errors);
    if (errors > 0) notes.Add($"HTTP JSON echo: {errors} errors or non-2xx answers in total.");
}

// ---- Static files: a 64 KiB file, read with fs.open + readAll per request, beside Kestrel's
// static-file middleware on the same file ----
if (only.Contains("static") && HasWrk())
{
    var dir = Directory.CreateTempSubdirectory("craft-static-").FullName;
    var bytes = new byte[64 * 1024];
    new Random(42).NextBytes(bytes);
    File.WriteAllBytes(Path.Combine(dir, "file.bin"), bytes);
    File.Copy(Lua("static.lua"), Path.Combine(dir, "static.lua"));
    try
    {
        await using var kestrel = await PlainKestrel.StaticFilesAsync(dir);
        await using var craft = await CraftServer.StartAsync(Path.Combine(dir, "static.lua"));
        var c = new List<WrkResult>();
        var k = new List<WrkResult>();
        var cc = new List<double>();
        var kc = new List<double>();
        for (int r = 0; r < runs; r++)
        {
            var (kr, kcpu) = await WithCpu(() => Wrk(kestrel.Port, 64, seconds, path: "/file.bin"));
            k.Add(kr);
            kc.Add(kcpu / (kr.Rps * seconds) * 1e6);
            var (cr, ccpu) = await WithCpu(() => Wrk(craft.Port, 64, seconds, path: "/file.bin"));
            c.Add(cr);
            cc.Add(ccpu / (cr.Rps * seconds) * 1e6);
            Console.WriteLine($"static run {r + 1}: craft {c[^1]} ({cc[^1]:F1} µs CPU/req), kestrel {k[^1]} ({kc[^1]:F1} µs CPU/req)");
        }
        double crps = Median(c.Select(x => x.Rps)), krps = Median(k.Select(x => x.Rps));
        rows.Add($"| Static file 64 KiB (`fs.open` + `readAll` + `res.write`), 64 connections: requests/s | {F(crps)} | {F(krps)} | {F(crps / krps, 2)} |");
        rows.Add($"| Static file 64 KiB, 64 connections: server CPU per request (µs) | {F(Median(cc), 1)} | {F(Median(kc), 1)} | {F(Median(cc) / Median(kc), 2)} |");
        var errors = c.Concat(k).Sum(x => x.Errors);
        if (errors > 0) notes.Add($"Static file: {errors} errors or non-2xx answers in total.");
    }
    finally
    {
        Directory.Delete(dir, true);
    }
}

// ---- Reverse proxy: wrk -> proxy -> a plain Kestrel hello upstream (in this process, for both).
// Craft runs examples/proxy.lua; the plain proxy is Kestrel + HttpClient. CPU per request counts
// this process: the proxy and the upstream both. ----
if (only.Contains("proxy") && HasWrk())
{
    await using var upstream = await PlainKestrel.HelloAsync();
    var target = $"http://127.0.0.1:{upstream.Port}";
    await using var plain = await PlainKestrel.ProxyAsync(target);
    await using var craft = await CraftServer.StartAsync(
        Path.Combine(AppContext.BaseDirectory, "examples", "proxy.lua"), ["0", target],
        "Proxy on http://localhost:", [HttpRule.AllowAddress("127.0.0.1")]);
    var c = new List<WrkResult>();
    var k = new List<WrkResult>();
    var cc = new List<double>();
    var kc = new List<double>();
    for (int r = 0; r < runs; r++)
    {
        var (kr, kcpu) = await WithCpu(() => Wrk(plain.Port, 64, seconds));
        k.Add(kr);
        kc.Add(kcpu / (kr.Rps * seconds) * 1e6);
        var (cr, ccpu) = await WithCpu(() => Wrk(craft.Port, 64, seconds));
        c.Add(cr);
        cc.Add(ccpu / (cr.Rps * seconds) * 1e6);
        Console.WriteLine($"proxy run {r + 1}: craft {c[^1]} ({cc[^1]:F1} µs CPU/req), kestrel {k[^1]} ({kc[^1]:F1} µs CPU/req)");
    }
    double crps = Median(c.Select(x => x.Rps)), krps = Median(k.Select(x => x.Rps));
    rows.Add($"| Reverse proxy to a hello upstream (`examples/proxy.lua` / Kestrel + `HttpClient`), 64 connections: requests/s | {F(crps)} | {F(krps)} | {F(crps / krps, 2)} |");
    rows.Add($"| Reverse proxy, 64 connections: CPU per request, proxy and upstream (µs) | {F(Median(cc), 1)} | {F(Median(kc), 1)} | {F(Median(cc) / Median(kc), 2)} |");
    var errors = c.Concat(k).Sum(x => x.Errors);
    if (errors > 0) notes.Add($"Proxy: {errors} errors or non-2xx answers in total.");
}

// ---- 10,000 idle WebSocket clients (each server in its own process, for its memory) ----
if (only.Contains("idle"))
{
    const int clients = 10_000;
    var c = await IdleClients("craft-echo", clients);
    var k = await IdleClients("kestrel-echo", clients);
    rows.Add($"| {clients:N0} idle WebSocket clients: connected / refused | {c.Connected:N0} / {c.Refused:N0} | {k.Connected:N0} / {k.Refused:N0} | |");
    rows.Add($"| {clients:N0} idle WebSocket clients: server resident memory (MB) | {F(c.RssMb)} | {F(k.RssMb)} | {F(c.RssMb / k.RssMb, 2)} |");
    rows.Add($"| {clients:N0} idle WebSocket clients: time to connect them all (s) | {F(c.Seconds, 2)} | {F(k.Seconds, 2)} | |");
}

// ---- Memory over a long run ----
if (only.Contains("soak") && HasWrk())
{
    await using var craft = await CraftServer.StartAsync(Lua("hello.lua"));
    await Wrk(craft.Port, 64, 2); // warm up
    long Heap() { GC.Collect(); GC.WaitForPendingFinalizers(); GC.Collect(); return GC.GetTotalMemory(true); }
    var heapBefore = Heap();
    var rssBefore = Environment.WorkingSet;
    long total = 0;
    var sw = Stopwatch.StartNew();
    while (total < 1_000_000 && sw.Elapsed.TotalMinutes < 3)
    {
        var run = await Wrk(craft.Port, 64, 10);
        total += (long)(run.Rps * 10);
        if (run.Errors > 0) notes.Add($"Soak: {run.Errors} errors or non-2xx answers.");
    }
    var heapAfter = Heap();
    var rssAfter = Environment.WorkingSet;
    rows.Add($"| Soak: about {total:N0} hello requests, managed heap before → after (MB) | {F(heapBefore / 1048576.0, 1)} → {F(heapAfter / 1048576.0, 1)} | | |");
    rows.Add($"| Soak: resident memory of the bench process before → after (MB) | {F(rssBefore / 1048576.0)} → {F(rssAfter / 1048576.0)} | | |");
}

var report = new StringBuilder();
report.AppendLine($"Measured {DateTime.UtcNow:yyyy-MM-dd} on {Machine()}; median of {runs} runs of {seconds} s (the event path: of {Math.Max(runs, 5)} runs), the two sides alternating.");
report.AppendLine();
report.AppendLine("| Case | Craft | Plain Kestrel | Craft / Kestrel |");
report.AppendLine("| --- | ---: | ---: | ---: |");
foreach (var row in rows) report.AppendLine(row);
foreach (var note in notes) report.AppendLine().AppendLine(note);
Console.WriteLine();
Console.Write(report);
if (outFile is not null)
{
    // Replace the measured section of an existing document, keeping its prose around it.
    const string start = "<!-- bench:start -->", end = "<!-- bench:end -->";
    var existing = File.Exists(outFile) ? await File.ReadAllTextAsync(outFile) : "";
    int a = existing.IndexOf(start, StringComparison.Ordinal), b = existing.IndexOf(end, StringComparison.Ordinal);
    var text = a >= 0 && b > a
        ? existing[..(a + start.Length)] + "\n" + report + existing[b..]
        : start + "\n" + report + end + "\n";
    await File.WriteAllTextAsync(outFile, text);
}
return 0;

// ---------------------------------------------------------------------------------------------

static string Machine()
{
    var mem = File.Exists("/proc/meminfo")
        ? Regex.Match(File.ReadAllText("/proc/meminfo"), @"MemTotal:\s+(\d+)").Groups[1].Value
        : "";
    var gib = long.TryParse(mem, out var kb) ? $"{kb / 1024.0 / 1024.0:F0} GiB" : "? GiB";
    var cpu = File.Exists("/proc/cpuinfo")
        ? Regex.Match(File.ReadAllText("/proc/cpuinfo"), @"model name\s*:\s*(.+)").Groups[1].Value.Trim()
        : "unknown CPU";
    return $"{Environment.ProcessorCount} cores ({cpu}), {gib}, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, .NET {Environment.Version}";
}

static bool HasWrk()
{
    try
    {
        using var p = Process.Start(new ProcessStartInfo("wrk", "--version") { RedirectStandardOutput = true, RedirectStandardError = true })!;
        p.WaitForExit();
        return true;
    }
    catch { return false; }
}

// This process's CPU time while `run` runs (wrk is another process; the server not under load
// sits idle, so this is the loaded server's cost).
static async Task<(T Result, double CpuSeconds)> WithCpu<T>(Func<Task<T>> run)
{
    var self = Process.GetCurrentProcess();
    var before = self.TotalProcessorTime;
    var result = await run();
    self.Refresh();
    return (result, (self.TotalProcessorTime - before).TotalSeconds);
}

static async Task<WrkResult> Wrk(int port, int connections, int seconds, string? script = null, string path = "/")
{
    var threads = Math.Min(2, connections);
    var extra = script is null ? "" : $"-s {script} ";
    var psi = new ProcessStartInfo("wrk", $"-t{threads} -c{connections} -d{seconds}s --latency {extra}http://127.0.0.1:{port}{path}")
    {
        RedirectStandardOutput = true,
        RedirectStandardError = true,
    };
    using var p = Process.Start(psi)!;
    var output = await p.StandardOutput.ReadToEndAsync();
    await p.WaitForExitAsync();
    double Latency(string pct)
    {
        var m = Regex.Match(output, $@"\s{pct}%\s+([\d.]+)(us|ms|s)");
        if (!m.Success) return double.NaN;
        var v = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        return m.Groups[2].Value switch { "us" => v / 1000, "s" => v * 1000, _ => v };
    }
    var rps = Regex.Match(output, @"Requests/sec:\s+([\d.]+)");
    var non2xx = Regex.Match(output, @"Non-2xx or 3xx responses:\s+(\d+)");
    var socket = Regex.Match(output, @"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)");
    long errors = non2xx.Success ? long.Parse(non2xx.Groups[1].Value) : 0;
    if (socket.Success) errors += Enumerable.Range(1, 4).Sum(i => long.Parse(socket.Groups[i].Value));
    return new WrkResult(
        rps.Success ? double.Parse(rps.Groups[1].Value, CultureInfo.InvariantCulture) : double.NaN,
        Latency("50"), Latency("99"), errors);
}

static async Task<(double Rate, double P99)> WsLoad(int port, int connections, int size, int seconds)
{
    var payload = new byte[size];
    Random.Shared.NextBytes(payload);
    var sockets = new List<ClientWebSocket>();
    for (int i = 0; i < connections; i++)
    {
        var ws = new ClientWebSocket();
        await ws.ConnectAsync(new Uri($"ws://127.0.0.1:{port}/"), CancellationToken.None);
        sockets.Add(ws);
    }
    var stop = Stopwatch.StartNew();
    var latencies = new List<double>[connections];
    long count = 0;
    var tasks = sockets.Select(async (ws, i) =>
    {
        var list = latencies[i] = new List<double>();
        var buffer = new byte[Math.Max(size, 1024)];
        while (stop.Elapsed.TotalSeconds < seconds)
        {
            var t0 = Stopwatch.GetTimestamp();
            await ws.SendAsync(payload, WebSocketMessageType.Binary, true, CancellationToken.None);
            WebSocketReceiveResult r;
            do r = await ws.ReceiveAsync(buffer, CancellationToken.None); while (!r.EndOfMessage);
            list.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
            Interlocked.Increment(ref count);
        }
    }).ToArray();
    await Task.WhenAll(tasks);
    var elapsed = stop.Elapsed.TotalSeconds;
    foreach (var ws in sockets)
    {
        try { await ws.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None); } catch { }
        ws.Dispose();
    }
    var all = latencies.SelectMany(l => l).OrderBy(x => x).ToArray();
    var p99 = all.Length == 0 ? double.NaN : all[Math.Min(all.Length - 1, (int)(all.Length * 0.99))];
    return (count / elapsed, p99);
}

static async Task<(double Script, double Host, double Bytes)> EventPath(string script, int n, int hostEvents)
{
    var output = new SignalWriter();
    // Everything this process allocates until the script's loop ends, the computer's start
    // included (a few hundred KB: under a byte per round trip).
    long before = GC.GetTotalAllocatedBytes(true);
    await using var computer = new Computer(new ComputerOptions { Output = output, EventQueueCapacity = 256 });
    var run = computer.RunFileAsync(script, [n.ToString(CultureInfo.InvariantCulture)]);
    var line = await output.WaitForAsync("script ");
    var bytes = (GC.GetTotalAllocatedBytes(true) - before) / (double)n;
    var parts = line.Split(' ');
    var scriptRate = double.Parse(parts[1], CultureInfo.InvariantCulture) / double.Parse(parts[2], CultureInfo.InvariantCulture);
    var sw = Stopwatch.StartNew();
    for (int i = 0; i < hostEvents; i++) computer.QueueEvent("host");
    computer.QueueEvent("done");
    await run;
    var hostRate = hostEvents / sw.Elapsed.TotalSeconds;
    return (scriptRate, hostRate, bytes);
}

// Child-process mode: serve one case until standard input closes.
static async Task<int> Serve(string what)
{
    IAsyncDisposable server;
    int port;
    if (what == "craft-echo")
    {
        var craft = await CraftServer.StartAsync(Path.Combine(AppContext.BaseDirectory, "lua", "ws-echo.lua"));
        (server, port) = (craft, craft.Port);
    }
    else
    {
        var kestrel = await PlainKestrel.EchoAsync();
        (server, port) = (kestrel, kestrel.Port);
    }
    Console.WriteLine($"port {port}");
    await Console.In.ReadToEndAsync();
    await server.DisposeAsync();
    return 0;
}

static async Task<(int Connected, int Refused, double RssMb, double Seconds)> IdleClients(string server, int count)
{
    var psi = new ProcessStartInfo("dotnet", $"\"{typeof(WrkResult).Assembly.Location}\" --serve {server}")
    {
        RedirectStandardInput = true,
        RedirectStandardOutput = true,
    };
    using var child = Process.Start(psi)!;
    var line = await child.StandardOutput.ReadLineAsync() ?? "";
    int port = int.Parse(line.Split(' ')[1], CultureInfo.InvariantCulture);
    var sockets = new ClientWebSocket[count];
    int connected = 0, refused = 0;
    var sw = Stopwatch.StartNew();
    using var gate = new SemaphoreSlim(200);
    await Task.WhenAll(Enumerable.Range(0, count).Select(async i =>
    {
        await gate.WaitAsync();
        try
        {
            var ws = new ClientWebSocket();
            ws.Options.KeepAliveInterval = TimeSpan.Zero;
            await ws.ConnectAsync(new Uri($"ws://127.0.0.1:{port}/"), CancellationToken.None);
            sockets[i] = ws;
            Interlocked.Increment(ref connected);
        }
        catch { Interlocked.Increment(ref refused); }
        finally { gate.Release(); }
    }));
    var seconds = sw.Elapsed.TotalSeconds;
    await Task.Delay(2000); // let the server settle
    child.Refresh();
    var status = File.ReadAllText($"/proc/{child.Id}/status");
    var rssKb = double.Parse(Regex.Match(status, @"VmRSS:\s+(\d+)").Groups[1].Value, CultureInfo.InvariantCulture);
    foreach (var ws in sockets) ws?.Abort();
    foreach (var ws in sockets) ws?.Dispose();
    child.StandardInput.Close();
    if (!child.WaitForExit(30_000)) child.Kill(true);
    return (connected, refused, rssKb / 1024, seconds);
}

record WrkResult(double Rps, double P50, double P99, long Errors)
{
    public override string ToString() => $"{Rps:N0} req/s p50 {P50:F2} ms p99 {P99:F2} ms errors {Errors}";
}

/// <summary>A writer that lets the bench wait for a line the script prints.</summary>
sealed class SignalWriter : TextWriter
{
    private readonly StringBuilder _line = new();
    private readonly List<(string Prefix, TaskCompletionSource<string> Done)> _waits = new();
    private readonly List<string> _lines = new();
    public override Encoding Encoding => Encoding.UTF8;

    public override void Write(char value)
    {
        lock (_waits)
        {
            if (value != '\n') { _line.Append(value); return; }
            var line = _line.ToString();
            _line.Clear();
            _lines.Add(line);
            foreach (var (prefix, done) in _waits.ToArray())
                if (line.StartsWith(prefix, StringComparison.Ordinal)) done.TrySetResult(line);
        }
    }

    public override void Write(string? value)
    {
        foreach (var c in value ?? "") Write(c);
    }

    public Task<string> WaitForAsync(string prefix)
    {
        lock (_waits)
        {
            foreach (var line in _lines)
                if (line.StartsWith(prefix, StringComparison.Ordinal)) return Task.FromResult(line);
            var done = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            _waits.Add((prefix, done));
            return done.Task.WaitAsync(TimeSpan.FromSeconds(60));
        }
    }
}

/// <summary>A Craft computer running a bench script that prints "port N".</summary>
sealed class CraftServer : IAsyncDisposable
{
    private readonly Computer _computer;
    private readonly Task<int> _run;
    public int Port { get; }

    private CraftServer(Computer computer, Task<int> run, int port) { _computer = computer; _run = run; Port = port; }

    public static Task<CraftServer> StartAsync(string script) => StartAsync(script, ["0"], "port ", []);

    /// <summary>Runs `script` with `args`; its port is the number after `announce` in a line it prints.</summary>
    public static async Task<CraftServer> StartAsync(string script, string[] args, string announce, HttpRule[] rules)
    {
        var output = new SignalWriter();
        var computer = new Computer(new ComputerOptions { Output = output, HttpRules = rules });
        var run = computer.RunFileAsync(script, args);
        var line = await output.WaitForAsync(announce);
        var digits = new string(line[announce.Length..].TakeWhile(char.IsAsciiDigit).ToArray());
        return new CraftServer(computer, run, int.Parse(digits, CultureInfo.InvariantCulture));
    }

    public async ValueTask DisposeAsync()
    {
        await _computer.DisposeAsync();
        await _run;
    }
}

/// <summary>The same cases on plain Kestrel: no Lua, no core, the handler answers directly.</summary>
sealed class PlainKestrel : IAsyncDisposable
{
    private readonly WebApplication _app;
    public int Port { get; }

    private PlainKestrel(WebApplication app, int port) { _app = app; Port = port; }

    private static async Task<PlainKestrel> StartAsync(Action<WebApplication> configure)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => { k.AddServerHeader = false; k.Listen(System.Net.IPAddress.Loopback, 0); });
        var app = builder.Build();
        configure(app);
        await app.StartAsync();
        var address = app.Urls.First();
        return new PlainKestrel(app, new Uri(address).Port);
    }

    public static Task<PlainKestrel> StaticFilesAsync(string dir) =>
        StartAsync(app => app.UseStaticFiles(new StaticFileOptions
        {
            FileProvider = new Microsoft.Extensions.FileProviders.PhysicalFileProvider(dir),
            ServeUnknownFileTypes = true,
        }));

    /// <summary>A reverse proxy as one would write it on Kestrel: one shared HttpClient.</summary>
    public static Task<PlainKestrel> ProxyAsync(string upstream)
    {
        var client = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false });
        return StartAsync(app => app.Run(async context =>
        {
            using var request = new HttpRequestMessage(new HttpMethod(context.Request.Method), upstream + context.Request.Path + context.Request.QueryString);
            if (context.Request.ContentLength > 0 || context.Request.Headers.TransferEncoding.Count > 0)
                request.Content = new StreamContent(context.Request.Body);
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            context.Response.StatusCode = (int)response.StatusCode;
            foreach (var (name, values) in response.Headers.Concat(response.Content.Headers))
                if (name is not ("Transfer-Encoding" or "Connection" or "Keep-Alive"))
                    context.Response.Headers[name] = values.ToArray();
            await response.Content.CopyToAsync(context.Response.Body);
        }));
    }

    public static Task<PlainKestrel> HelloAsync() =>
        StartAsync(app => app.Run(context => context.Response.WriteAsync("hello")));

    public static Task<PlainKestrel> JsonEchoAsync() =>
        StartAsync(app => app.Run(async context =>
        {
            var node = await System.Text.Json.Nodes.JsonNode.ParseAsync(context.Request.Body);
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(node?.ToJsonString() ?? "null");
        }));

    public static Task<PlainKestrel> EchoAsync() =>
        StartAsync(app =>
        {
            app.UseWebSockets();
            app.Run(async context =>
            {
                if (!context.WebSockets.IsWebSocketRequest) { context.Response.StatusCode = 426; return; }
                using var ws = await context.WebSockets.AcceptWebSocketAsync();
                var buffer = new byte[128 * 1024];
                while (true)
                {
                    int length = 0;
                    WebSocketReceiveResult r;
                    do
                    {
                        r = await ws.ReceiveAsync(new ArraySegment<byte>(buffer, length, buffer.Length - length), CancellationToken.None);
                        length += r.Count;
                    } while (!r.EndOfMessage && r.MessageType != WebSocketMessageType.Close);
                    if (r.MessageType == WebSocketMessageType.Close)
                    {
                        await ws.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
                        return;
                    }
                    await ws.SendAsync(new ArraySegment<byte>(buffer, 0, length), r.MessageType, true, CancellationToken.None);
                }
            });
        });

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
