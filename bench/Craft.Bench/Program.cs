// Craft's benchmark: each case on Craft and on plain Kestrel (no Lua) in one run, the two sides
// alternating, each figure the median of several runs. Writes a Markdown report.
//
//   dotnet run -c Release --project bench/Craft.Bench -- [--runs 3] [--seconds 5] [--out FILE]
//                                 [--only events,http,json,static,proxy,ws,idle,soak,gc]
//
// (`hello` is another name for `http`.) From the build script, every case, rewriting the table
// in docs/benchmarks.md: dotnet fsi build.fsx -t Bench [-- --only hello,json --runs 3]
//
// Every server runs in a child process of its own (this program with --serve), so that the
// CPU time it spends (/proc/<pid>/stat) and its resident memory are its own: the headline
// figure is the server's CPU time per request. HTTP load comes from wrk (Debian package `wrk`);
// WebSocket load from ClientWebSocket here. With nginx and its Lua module installed (Debian:
// nginx-light, libnginx-mod-http-lua), nginx serving hello from `content_by_lua_block` is an
// anchor beside the hello rows.

using System.Diagnostics;
using System.Globalization;
using System.Net.WebSockets;
using System.Runtime;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using Craft.Interop;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

if (args.Length >= 2 && args[0] == "--serve")
    return await Serve(args[1], args[2..]);

var runs = 3;
var seconds = 5;
string? outFile = null;
string[] cases = ["events", "http", "json", "static", "proxy", "ws", "idle", "soak", "gc"];
var only = cases.ToHashSet();
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--runs": runs = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
        case "--seconds": seconds = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
        case "--out": outFile = args[++i]; break;
        case "--only":
            only = args[++i].Split(',').Select(c => c == "hello" ? "http" : c).ToHashSet();
            if (only.Except(cases).FirstOrDefault() is { } unknown)
            {
                Console.Error.WriteLine($"unknown case {unknown}; the cases: {string.Join(",", cases)} (hello = http)");
                return 2;
            }
            break;
        default: Console.Error.WriteLine($"unknown argument {args[i]}"); return 2;
    }
}

// The headline: CPU per request and requests/s per case; then the other figures; then the
// garbage collectors compared.
var headline = new List<string>();
var rows = new List<string>();
var gcRows = new List<string>();
var notes = new List<string>();
var wrk = HasWrk();
if (!wrk) notes.Add("HTTP cases skipped: `wrk` is not installed (`apt-get install wrk`).");
string Lua(string name) => Path.Combine(AppContext.BaseDirectory, "lua", name);
static double Median(IEnumerable<double> xs)
{
    var a = xs.Where(x => !double.IsNaN(x)).OrderBy(x => x).ToArray();
    return a.Length == 0 ? double.NaN : a.Length % 2 == 1 ? a[a.Length / 2] : (a[a.Length / 2 - 1] + a[a.Length / 2]) / 2;
}
static string Conn(int n) => n == 1 ? "1 connection" : $"{n} connections";
static string F(double x, int digits = 0) => double.IsNaN(x) || double.IsInfinity(x) ? "n/a" : x.ToString("N" + digits, CultureInfo.InvariantCulture);

void Headline(string label, Sample craft, Sample? kestrel, string anchor = "")
{
    double cc = Median(craft.Cpu), cr = Median(craft.Rate);
    if (kestrel is null)
    {
        headline.Add($"| {label} | {F(cc, 1)} | | | {F(cr)} | | | {anchor} |");
        return;
    }
    double kc = Median(kestrel.Cpu), kr = Median(kestrel.Rate);
    headline.Add($"| {label} | {F(cc, 1)} | {F(kc, 1)} | {F(cc / kc, 2)} | {F(cr)} | {F(kr)} | {F(cr / kr, 2)} | {anchor} |");
}

// ---- The event path (in process: no server, one thread's loop) ----
if (only.Contains("events"))
{
    var script = new Sample();
    var host = new List<double>();
    var bytes = new List<double>();
    // One uncounted run first: the first one in a fresh process also measures the JIT's tiering.
    // At least 5 counted runs: a run takes a second, and on a shared machine the rate of a
    // one-thread loop swings by a third between quiet and busy moments.
    await EventPath(Lua("events.lua"), 200_000, 20_000);
    for (int r = 0; r < Math.Max(runs, 5); r++)
    {
        var (s, cpu, h, b) = await EventPath(Lua("events.lua"), 1_000_000, 200_000);
        script.Add(s, cpu);
        host.Add(h);
        bytes.Add(b);
        Console.WriteLine($"events run {r + 1}: script {s:N0}/s ({cpu:F2} µs CPU each), host {h:N0}/s, {b:N0} bytes per round trip");
    }
    Headline("Event path: `os.queueEvent` → `os.pullEvent` round trip (in the bench process)", script, null);
    rows.Add($"| Event path: managed bytes allocated per round trip | {F(Median(bytes))} | n/a | |");
    rows.Add($"| Event path: host `QueueEvent` → script, events/s | {F(Median(host))} | n/a | |");
}

// ---- HTTP hello, with nginx + Lua as an anchor ----
if (only.Contains("http") && wrk)
{
    await using var kestrel = await ServerProcess.StartAsync("kestrel-hello");
    await using var craft = await ServerProcess.StartAsync("craft-hello");
    await using var nginx = await NginxLua.TryStartAsync();
    if (nginx.Server is null) notes.Add($"nginx + Lua anchor: {nginx.Reason}.");
    await Warm(kestrel, craft, nginx.Server);
    foreach (var connections in new[] { 1, 16, 64, 256 })
    {
        var c = new Sample();
        var k = new Sample();
        var n = new Sample();
        var ca = new List<double>();
        var ka = new List<double>();
        for (int r = 0; r < runs; r++)
        {
            long before = await kestrel.AllocatedAsync();
            var kr = await k.Wrk(kestrel, connections, seconds);
            ka.Add((await kestrel.AllocatedAsync() - before) / (double)kr.Requests);
            before = await craft.AllocatedAsync();
            var cr = await c.Wrk(craft, connections, seconds);
            ca.Add((await craft.AllocatedAsync() - before) / (double)cr.Requests);
            var line = $"http c={connections} run {r + 1}: craft {cr} ({c.Cpu[^1]:F1} µs CPU/req), kestrel {kr} ({k.Cpu[^1]:F1} µs CPU/req)";
            if (nginx.Server is not null)
            {
                var nr = await n.Wrk(nginx.Server, connections, seconds);
                line += $", nginx {nr} ({n.Cpu[^1]:F1} µs CPU/req)";
            }
            Console.WriteLine(line);
        }
        var anchor = nginx.Server is null ? "not installed" : $"{F(Median(n.Cpu), 1)} µs, {F(Median(n.Rate))}/s, p99 {F(Median(n.P99), 2)} ms";
        Headline($"HTTP hello, {Conn(connections)}", c, k, anchor);
        if (connections == 64)
            rows.Add($"| HTTP hello, 64 connections: managed bytes allocated per request (server process) | {F(Median(ca))} | {F(Median(ka))} | {F(Median(ca) / Median(ka), 2)} |");
        rows.Add($"| HTTP hello, {Conn(connections)}: p50 / p99 latency (ms) | {F(Median(c.P50), 2)} / {F(Median(c.P99), 2)} | {F(Median(k.P50), 2)} / {F(Median(k.P99), 2)} | {F(Median(c.P99) / Median(k.P99), 2)} (p99) |");
        var errors = c.Errors + k.Errors + n.Errors;
        if (errors > 0) notes.Add($"HTTP c={connections}: {errors} errors or non-2xx answers in total.");
    }
}

// ---- WebSocket echo, 16 B and 64 KiB (the clients run here, the servers in their processes) ----
if (only.Contains("ws"))
{
    await using var kestrel = await ServerProcess.StartAsync("kestrel-echo");
    await using var craft = await ServerProcess.StartAsync("craft-echo");
    // Uncounted warm-ups, as long as the HTTP cases' (see Warm).
    await WsLoad(kestrel, 16, 16, 8);
    await WsLoad(craft, 16, 16, 8);
    foreach (var (size, label) in new[] { (16, "16 B"), (64 * 1024, "64 KiB") })
    {
        foreach (var connections in new[] { 1, 16, 64 })
        {
            var c = new Sample();
            var k = new Sample();
            for (int r = 0; r < runs; r++)
            {
                k.Add(await WsLoad(kestrel, connections, size, seconds));
                c.Add(await WsLoad(craft, connections, size, seconds));
                Console.WriteLine($"ws {label} c={connections} run {r + 1}: craft {c.Rate[^1]:N0}/s ({c.Cpu[^1]:F1} µs CPU/msg), kestrel {k.Rate[^1]:N0}/s ({k.Cpu[^1]:F1} µs CPU/msg)");
            }
            Headline($"WebSocket echo {label}, {Conn(connections)} (per message)", c, k);
            rows.Add($"| WebSocket echo {label}, {Conn(connections)}: p99 (ms) | {F(Median(c.P99), 2)} | {F(Median(k.P99), 2)} | |");
        }
    }
}

// ---- HTTP JSON echo ----
if (only.Contains("json") && wrk)
{
    await using var kestrel = await ServerProcess.StartAsync("kestrel-json");
    await using var craft = await ServerProcess.StartAsync("craft-json");
    var script = Path.Combine(AppContext.BaseDirectory, "post.lua");
    await Warm(kestrel, craft, null, script);
    var c = new Sample();
    var k = new Sample();
    for (int r = 0; r < runs; r++)
    {
        var kr = await k.Wrk(kestrel, 64, seconds, script);
        var cr = await c.Wrk(craft, 64, seconds, script);
        Console.WriteLine($"json run {r + 1}: craft {cr} ({c.Cpu[^1]:F1} µs CPU/req), kestrel {kr} ({k.Cpu[^1]:F1} µs CPU/req)");
    }
    Headline("HTTP JSON echo (POST 1 KiB), 64 connections", c, k);
    rows.Add($"| HTTP JSON echo, 64 connections: p99 (ms) | {F(Median(c.P99), 2)} | {F(Median(k.P99), 2)} | {F(Median(c.P99) / Median(k.P99), 2)} |");
    if (c.Errors + k.Errors > 0) notes.Add($"HTTP JSON echo: {c.Errors + k.Errors} errors or non-2xx answers in total.");
}

// ---- Static files: a 64 KiB file, read with fs.open + readAll per request, beside Kestrel's
// static-file middleware on the same file ----
if (only.Contains("static") && wrk)
{
    var dir = Directory.CreateTempSubdirectory("craft-static-").FullName;
    var bytes = new byte[64 * 1024];
    new Random(42).NextBytes(bytes);
    File.WriteAllBytes(Path.Combine(dir, "file.bin"), bytes);
    File.Copy(Lua("static.lua"), Path.Combine(dir, "static.lua"));
    try
    {
        await using var kestrel = await ServerProcess.StartAsync("kestrel-static", [dir]);
        await using var craft = await ServerProcess.StartAsync("craft-static", [dir]);
        await Warm(kestrel, craft, null, path: "/file.bin");
        var c = new Sample();
        var k = new Sample();
        for (int r = 0; r < runs; r++)
        {
            var kr = await k.Wrk(kestrel, 64, seconds, path: "/file.bin");
            var cr = await c.Wrk(craft, 64, seconds, path: "/file.bin");
            Console.WriteLine($"static run {r + 1}: craft {cr} ({c.Cpu[^1]:F1} µs CPU/req), kestrel {kr} ({k.Cpu[^1]:F1} µs CPU/req)");
        }
        Headline("Static file 64 KiB (`fs.open` + `readAll` + `res.write` / static-file middleware), 64 connections", c, k);
        if (c.Errors + k.Errors > 0) notes.Add($"Static file: {c.Errors + k.Errors} errors or non-2xx answers in total.");
    }
    finally
    {
        Directory.Delete(dir, true);
    }
}

// ---- Reverse proxy: wrk -> proxy -> a plain Kestrel hello upstream (a process of its own, the
// same for both). Craft runs examples/proxy.lua; the plain proxy is Kestrel + HttpClient. CPU
// per request is the proxy process's alone. ----
if (only.Contains("proxy") && wrk)
{
    await using var upstream = await ServerProcess.StartAsync("kestrel-hello");
    var target = $"http://127.0.0.1:{upstream.Port}";
    await using var plain = await ServerProcess.StartAsync("kestrel-proxy", [target]);
    await using var craft = await ServerProcess.StartAsync("craft-proxy", [target]);
    await Warm(plain, craft, null);
    var c = new Sample();
    var k = new Sample();
    var uc = new List<double>();
    var uk = new List<double>();
    for (int r = 0; r < runs; r++)
    {
        var u0 = upstream.CpuSeconds();
        var kr = await k.Wrk(plain, 64, seconds);
        var u1 = upstream.CpuSeconds();
        var cr = await c.Wrk(craft, 64, seconds);
        var u2 = upstream.CpuSeconds();
        uk.Add((u1 - u0) / kr.Requests * 1e6);
        uc.Add((u2 - u1) / cr.Requests * 1e6);
        Console.WriteLine($"proxy run {r + 1}: craft {cr} ({c.Cpu[^1]:F1} µs CPU/req), kestrel {kr} ({k.Cpu[^1]:F1} µs CPU/req)");
    }
    Headline("Reverse proxy to a hello upstream (`examples/proxy.lua` / Kestrel + `HttpClient`), 64 connections (the proxy process)", c, k);
    rows.Add($"| Reverse proxy, 64 connections: the upstream's CPU per request (µs) | {F(Median(uc), 1)} | {F(Median(uk), 1)} | |");
    if (c.Errors + k.Errors > 0) notes.Add($"Proxy: {c.Errors + k.Errors} errors or non-2xx answers in total.");
}

// ---- 10,000 idle WebSocket clients ----
if (only.Contains("idle"))
{
    const int clients = 10_000;
    var c = await IdleClients("craft-echo", clients);
    var k = await IdleClients("kestrel-echo", clients);
    rows.Add($"| {clients:N0} idle WebSocket clients: connected / refused | {c.Connected:N0} / {c.Refused:N0} | {k.Connected:N0} / {k.Refused:N0} | |");
    rows.Add($"| {clients:N0} idle WebSocket clients: server resident memory (MB) | {F(c.RssMb)} | {F(k.RssMb)} | {F(c.RssMb / k.RssMb, 2)} |");
    rows.Add($"| {clients:N0} idle WebSocket clients: time to connect them all (s) | {F(c.Seconds, 2)} | {F(k.Seconds, 2)} | |");
    rows.Add($"| {clients:N0} idle WebSocket clients: managed heap (MB); a full blocking collection of it (ms) | {F(c.HeapMb)}; {F(c.FullGcMs, 1)} | {F(k.HeapMb)}; {F(k.FullGcMs, 1)} | |");
}

// ---- Memory over a long run ----
if (only.Contains("soak") && wrk)
{
    await using var craft = await ServerProcess.StartAsync("craft-hello");
    await Wrk(craft.Port, 64, 2); // warm up
    var heapBefore = await craft.HeapAsync();
    var rssBefore = craft.RssMb();
    long total = 0;
    var sw = Stopwatch.StartNew();
    while (total < 1_000_000 && sw.Elapsed.TotalMinutes < 3)
    {
        var run = await Wrk(craft.Port, 64, 10);
        total += run.Requests;
        if (run.Errors > 0) notes.Add($"Soak: {run.Errors} errors or non-2xx answers.");
    }
    var rssAfter = craft.RssMb();
    var heapAfter = await craft.HeapAsync();
    rows.Add($"| Soak: {total:N0} hello requests, managed heap after full collections, before → after (MB) | {F(heapBefore / 1048576.0, 1)} → {F(heapAfter / 1048576.0, 1)} | | |");
    rows.Add($"| Soak: resident memory of the server process before → after (MB) | {F(rssBefore)} → {F(rssAfter)} | | |");
}

// ---- The garbage collectors and the JIT's settings, on hello and on 10,000 idle clients ----
if (only.Contains("gc") && wrk)
{
    var variants = new (string Label, string Side, Dictionary<string, string> Env)[]
    {
        ("workstation, concurrent (Craft's default)", "craft", new() { ["DOTNET_gcServer"] = "0" }),
        ("workstation, not concurrent", "craft", new() { ["DOTNET_gcServer"] = "0", ["DOTNET_gcConcurrent"] = "0" }),
        ("server (DATAS, .NET's default for server GC)", "craft", new() { ["DOTNET_gcServer"] = "1" }),
        ("workstation, `TieredPGO=0`", "craft", new() { ["DOTNET_gcServer"] = "0", ["DOTNET_TieredPGO"] = "0" }),
        ("workstation, `TieredCompilation=0`", "craft", new() { ["DOTNET_gcServer"] = "0", ["DOTNET_TieredCompilation"] = "0" }),
        ("workstation, concurrent", "kestrel", new() { ["DOTNET_gcServer"] = "0" }),
        ("server (DATAS; ASP.NET Core's default)", "kestrel", new() { ["DOTNET_gcServer"] = "1" }),
    };
    var servers = new List<ServerProcess>();
    try
    {
        foreach (var v in variants) servers.Add(await ServerProcess.StartAsync($"{v.Side}-hello", [], v.Env));
        foreach (var s in servers) await Wrk(s.Port, 64, 2);
        var samples = variants.Select(_ => new Sample()).ToArray();
        var alloc = variants.Select(_ => new List<double>()).ToArray();
        for (int r = 0; r < runs; r++)
        {
            for (int i = 0; i < variants.Length; i++)
            {
                var a0 = await servers[i].AllocatedAsync();
                var w = await samples[i].Wrk(servers[i], 64, seconds);
                alloc[i].Add((await servers[i].AllocatedAsync() - a0) / (double)w.Requests);
                Console.WriteLine($"gc run {r + 1}: {variants[i].Side}, {variants[i].Label} ({servers[i].Gc}): {w} ({samples[i].Cpu[^1]:F1} µs CPU/req)");
            }
        }
        for (int i = 0; i < variants.Length; i++)
        {
            var rss = servers[i].RssMb();
            var heap = await servers[i].HeapAsync();
            await servers[i].DisposeAsync();
            var idle = await IdleClients($"{variants[i].Side}-echo", 10_000, variants[i].Env);
            Console.WriteLine($"gc idle: {variants[i].Side}, {variants[i].Label}: {idle}");
            gcRows.Add($"| {(variants[i].Side == "craft" ? "Craft" : "Kestrel")}, {variants[i].Label} | {F(Median(samples[i].Cpu), 1)} | {F(Median(samples[i].Rate))} | {F(Median(alloc[i]))} | {F(rss)} | {F(heap / 1048576.0, 1)} | {F(idle.RssMb)} ({idle.Refused} refused); heap {F(idle.HeapMb)} MB, a full collection {F(idle.FullGcMs, 1)} ms |");
        }
    }
    finally
    {
        foreach (var s in servers) await s.DisposeAsync();
    }
}

var report = new StringBuilder();
report.AppendLine($"Measured {DateTime.UtcNow:yyyy-MM-dd} on {Machine()}, load average {LoadAverage()} at the start; median of {runs} runs of {seconds} s{(only.Contains("events") ? $" (the event path: of {Math.Max(runs, 5)} runs)" : "")}, the sides alternating. Every server runs in a process of its own; CPU is that process's user + system time over the requests it served (wrk's own CPU, on the same two cores, is not counted).");
if (headline.Count > 0)
{
    report.AppendLine();
    report.AppendLine("| Case | Craft CPU µs / request | Kestrel CPU µs / request | CPU Craft / Kestrel | Craft requests/s | Kestrel requests/s | requests/s Craft / Kestrel | nginx + Lua, 1 worker: CPU µs / request, requests/s |");
    report.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    foreach (var row in headline) report.AppendLine(row);
}
if (rows.Count > 0)
{
    report.AppendLine();
    report.AppendLine("| Case | Craft | Plain Kestrel | Craft / Kestrel |");
    report.AppendLine("| --- | ---: | ---: | ---: |");
    foreach (var row in rows) report.AppendLine(row);
}
if (gcRows.Count > 0)
{
    report.AppendLine();
    report.AppendLine("| Server, GC and JIT settings | hello, 64 connections: CPU µs / request | requests/s | managed bytes allocated / request | resident MB after the runs | managed heap after full collections (MB) | 10,000 idle WebSocket clients: resident MB |");
    report.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    foreach (var row in gcRows) report.AppendLine(row);
}
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

// One short uncounted run on each server first: the first seconds of a fresh process also
// measure the JIT's tiering.
// Eight seconds each: tiered compilation with PGO takes seconds to settle, and after two the
// JIT's background thread still spent several µs per request of Craft's (more code: Lua interop,
// the core) inside the measured runs.
static async Task Warm(IServer a, IServer b, IServer? c, string? script = null, string path = "/")
{
    foreach (var s in new[] { a, b, c })
        if (s is not null) await Wrk(s.Port, 64, 8, script, path);
}

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

static string LoadAverage() =>
    File.Exists("/proc/loadavg") ? string.Join(", ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";

static Task<WrkResult> Wrk(int port, int connections, int seconds, string? script = null, string path = "/") =>
    WrkTool.RunAsync(port, connections, seconds, script, path);

// Messages/s, p99 and the server process's CPU per message; the clients run in this process.
static async Task<(double Rate, double P99, double CpuUs)> WsLoad(IServer server, int connections, int size, int seconds)
{
    int port = server.Port;
    var payload = new byte[size];
    Random.Shared.NextBytes(payload);
    var sockets = new List<ClientWebSocket>();
    for (int i = 0; i < connections; i++)
    {
        var ws = new ClientWebSocket();
        await ws.ConnectAsync(new Uri($"ws://127.0.0.1:{port}/"), CancellationToken.None);
        sockets.Add(ws);
    }
    var cpu0 = ProcStat.CpuSeconds(server.Pid);
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
    var cpu = ProcStat.CpuSeconds(server.Pid) - cpu0;
    foreach (var ws in sockets)
    {
        try { await ws.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None); } catch { }
        ws.Dispose();
    }
    var all = latencies.SelectMany(l => l).OrderBy(x => x).ToArray();
    var p99 = all.Length == 0 ? double.NaN : all[Math.Min(all.Length - 1, (int)(all.Length * 0.99))];
    return (count / elapsed, p99, count == 0 ? double.NaN : cpu / count * 1e6);
}

// Round trips/s, this process's CPU per round trip (the computer's start included), host
// events/s and managed bytes per round trip.
static async Task<(double Script, double CpuUs, double Host, double Bytes)> EventPath(string script, int n, int hostEvents)
{
    var output = new SignalWriter();
    var self = Process.GetCurrentProcess();
    var cpu0 = self.TotalProcessorTime;
    // Everything this process allocates until the script's loop ends, the computer's start
    // included (a few hundred KB: under a byte per round trip).
    long before = GC.GetTotalAllocatedBytes(true);
    await using var computer = new Computer(new ComputerOptions { Output = output, EventQueueCapacity = 256 });
    var run = computer.RunFileAsync(script, [n.ToString(CultureInfo.InvariantCulture)]);
    var line = await output.WaitForAsync("script ");
    var bytes = (GC.GetTotalAllocatedBytes(true) - before) / (double)n;
    self.Refresh();
    var cpuUs = (self.TotalProcessorTime - cpu0).TotalMicroseconds / n;
    var parts = line.Split(' ');
    var scriptRate = double.Parse(parts[1], CultureInfo.InvariantCulture) / double.Parse(parts[2], CultureInfo.InvariantCulture);
    var sw = Stopwatch.StartNew();
    for (int i = 0; i < hostEvents; i++) computer.QueueEvent("host");
    computer.QueueEvent("done");
    await run;
    var hostRate = hostEvents / sw.Elapsed.TotalSeconds;
    return (scriptRate, cpuUs, hostRate, bytes);
}

// Child-process mode: serve one case and answer the parent's questions on standard input
// ("alloc": managed bytes allocated so far; "heap": the managed heap after full collections)
// until it closes.
static async Task<int> Serve(string what, string[] args)
{
    string Lua(string name) => Path.Combine(AppContext.BaseDirectory, "lua", name);
    IAsyncDisposable server;
    int port;
    if (what.StartsWith("craft-", StringComparison.Ordinal))
    {
        var craft = what switch
        {
            "craft-hello" => await CraftServer.StartAsync(Lua("hello.lua")),
            "craft-json" => await CraftServer.StartAsync(Lua("json-echo.lua")),
            "craft-echo" => await CraftServer.StartAsync(Lua("ws-echo.lua")),
            "craft-static" => await CraftServer.StartAsync(Path.Combine(args[0], "static.lua")),
            "craft-proxy" => await CraftServer.StartAsync(
                Path.Combine(AppContext.BaseDirectory, "examples", "proxy.lua"), ["0", args[0]],
                "Proxy on http://localhost:", [HttpRule.AllowAddress("127.0.0.1")]),
            _ => throw new ArgumentException($"unknown server {what}"),
        };
        (server, port) = (craft, craft.Port);
    }
    else
    {
        var kestrel = what switch
        {
            "kestrel-hello" => await PlainKestrel.HelloAsync(),
            "kestrel-json" => await PlainKestrel.JsonEchoAsync(),
            "kestrel-echo" => await PlainKestrel.EchoAsync(),
            "kestrel-static" => await PlainKestrel.StaticFilesAsync(args[0]),
            "kestrel-proxy" => await PlainKestrel.ProxyAsync(args[0]),
            _ => throw new ArgumentException($"unknown server {what}"),
        };
        (server, port) = (kestrel, kestrel.Port);
    }
    Console.WriteLine($"port {port} {(GCSettings.IsServerGC ? "server" : "workstation")} GC");
    while (await Console.In.ReadLineAsync() is { } command)
    {
        if (command == "alloc") Console.WriteLine($"alloc {GC.GetTotalAllocatedBytes(true)}");
        else if (command == "heap")
        {
            // The first collection's time: what a full blocking collection of this heap costs.
            var sw = Stopwatch.StartNew();
            GC.Collect();
            var ms = sw.Elapsed.TotalMilliseconds;
            GC.WaitForPendingFinalizers();
            GC.Collect();
            Console.WriteLine($"heap {GC.GetTotalMemory(true)} {ms.ToString("F1", CultureInfo.InvariantCulture)}");
        }
    }
    await server.DisposeAsync();
    return 0;
}

static async Task<IdleResult> IdleClients(string server, int count, Dictionary<string, string>? env = null)
{
    await using var child = await ServerProcess.StartAsync(server, [], env);
    int port = child.Port;
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
    var rss = child.RssMb();
    var (heap, pause) = await child.FullCollectionAsync();
    foreach (var ws in sockets) ws?.Abort();
    foreach (var ws in sockets) ws?.Dispose();
    return new IdleResult(connected, refused, rss, seconds, heap / 1048576.0, pause);
}

record IdleResult(int Connected, int Refused, double RssMb, double Seconds, double HeapMb, double FullGcMs)
{
    public override string ToString() => $"{Connected:N0} connected, {Refused:N0} refused, {RssMb:N0} MB resident, {Seconds:F2} s, heap {HeapMb:N0} MB, a full collection {FullGcMs:F1} ms";
}

record WrkResult(double Rps, double P50, double P99, long Errors, long Requests)
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

static class WrkTool
{
    public static async Task<WrkResult> RunAsync(int port, int connections, int seconds, string? script = null, string path = "/")
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
        var total = Regex.Match(output, @"(\d+) requests in");
        var non2xx = Regex.Match(output, @"Non-2xx or 3xx responses:\s+(\d+)");
        var socket = Regex.Match(output, @"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)");
        long errors = non2xx.Success ? long.Parse(non2xx.Groups[1].Value) : 0;
        if (socket.Success) errors += Enumerable.Range(1, 4).Sum(i => long.Parse(socket.Groups[i].Value));
        return new WrkResult(
            rps.Success ? double.Parse(rps.Groups[1].Value, CultureInfo.InvariantCulture) : double.NaN,
            Latency("50"), Latency("99"), errors, total.Success ? long.Parse(total.Groups[1].Value, CultureInfo.InvariantCulture) : 0);
    }
}

/// <summary>The figures of one case on one server, one entry per run.</summary>
sealed class Sample
{
    public List<double> Rate { get; } = new();
    public List<double> Cpu { get; } = new();
    public List<double> P50 { get; } = new();
    public List<double> P99 { get; } = new();
    public long Errors { get; private set; }

    public void Add(double rate, double cpuUs) { Rate.Add(rate); Cpu.Add(cpuUs); }

    public void Add((double Rate, double P99, double CpuUs) ws) { Rate.Add(ws.Rate); P99.Add(ws.P99); Cpu.Add(ws.CpuUs); }

    /// <summary>One wrk run against `server`, with the server process's CPU time per request.</summary>
    public async Task<WrkResult> Wrk(IServer server, int connections, int seconds, string? script = null, string path = "/")
    {
        var cpu0 = ProcStat.CpuSeconds(server.Pid);
        var result = await WrkTool.RunAsync(server.Port, connections, seconds, script, path);
        var cpu = ProcStat.CpuSeconds(server.Pid) - cpu0;
        Rate.Add(result.Rps);
        Cpu.Add(result.Requests > 0 ? cpu / result.Requests * 1e6 : double.NaN);
        P50.Add(result.P50);
        P99.Add(result.P99);
        Errors += result.Errors;
        return result;
    }
}

/// <summary>Per-process figures from /proc.</summary>
static class ProcStat
{
    [DllImport("libc", EntryPoint = "sysconf")]
    private static extern long SysConf(int name);

    private static readonly double TicksPerSecond = ReadTicks();

    private static double ReadTicks()
    {
        try { var t = SysConf(2); return t > 0 ? t : 100; } // _SC_CLK_TCK
        catch { return 100; }
    }

    /// <summary>User + system CPU time of every thread of the process (utime + stime / clock ticks).</summary>
    public static double CpuSeconds(int pid)
    {
        var text = File.ReadAllText($"/proc/{pid}/stat");
        var fields = text[(text.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / TicksPerSecond;
    }

    public static double RssMb(int pid)
    {
        var status = File.ReadAllText($"/proc/{pid}/status");
        return double.Parse(Regex.Match(status, @"VmRSS:\s+(\d+)").Groups[1].Value, CultureInfo.InvariantCulture) / 1024;
    }
}

interface IServer
{
    int Port { get; }
    int Pid { get; }
}

/// <summary>A server in a child process: this program with `--serve KIND`, optionally with
/// environment variables (the GC and JIT settings) of its own.</summary>
sealed class ServerProcess : IServer, IAsyncDisposable
{
    private readonly Process _process;
    private bool _disposed;
    public int Port { get; }
    public int Pid => _process.Id;
    /// <summary>The collector the child reports running.</summary>
    public string Gc { get; }

    private ServerProcess(Process process, int port, string gc) { _process = process; Port = port; Gc = gc; }

    public static async Task<ServerProcess> StartAsync(string kind, string[]? args = null, Dictionary<string, string>? env = null)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true };
        psi.ArgumentList.Add(typeof(ServerProcess).Assembly.Location);
        psi.ArgumentList.Add("--serve");
        psi.ArgumentList.Add(kind);
        foreach (var a in args ?? []) psi.ArgumentList.Add(a);
        foreach (var (name, value) in env ?? new()) psi.Environment[name] = value;
        var process = Process.Start(psi)!;
        var line = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60))
            ?? throw new InvalidOperationException($"server {kind} exited before it listened");
        var parts = line.Split(' ', 3);
        return new ServerProcess(process, int.Parse(parts[1], CultureInfo.InvariantCulture), parts.Length > 2 ? parts[2] : "");
    }

    public double CpuSeconds() => ProcStat.CpuSeconds(Pid);

    public double RssMb() => ProcStat.RssMb(Pid);

    /// <summary>Managed bytes the server process has allocated so far.</summary>
    public Task<long> AllocatedAsync() => AskAsync("alloc");

    /// <summary>The server's managed heap after full collections.</summary>
    public Task<long> HeapAsync() => AskAsync("heap");

    /// <summary>The managed heap after full collections, and how long the first one took.</summary>
    public async Task<(long Bytes, double Ms)> FullCollectionAsync()
    {
        var parts = await AskLineAsync("heap");
        return (long.Parse(parts[1], CultureInfo.InvariantCulture), double.Parse(parts[2], CultureInfo.InvariantCulture));
    }

    private async Task<long> AskAsync(string command) =>
        long.Parse((await AskLineAsync(command))[1], CultureInfo.InvariantCulture);

    private async Task<string[]> AskLineAsync(string command)
    {
        await _process.StandardInput.WriteLineAsync(command);
        await _process.StandardInput.FlushAsync();
        var line = await _process.StandardOutput.ReadLineAsync() ?? throw new InvalidOperationException("server exited");
        return line.Split(' ');
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        try { _process.StandardInput.Close(); } catch { }
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try { await _process.WaitForExitAsync(timeout.Token); }
        catch (OperationCanceledException) { _process.Kill(true); }
        _process.Dispose();
    }
}

/// <summary>The anchor: nginx with its Lua module answering hello from `content_by_lua_block`,
/// one process (no master, one worker's work), set up in a temporary folder on loopback.</summary>
sealed class NginxLua : IServer, IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _dir;
    public int Port { get; }
    public int Pid => _process.Id;

    private NginxLua(Process process, string dir, int port) { _process = process; _dir = dir; Port = port; }

    public sealed record Start(NginxLua? Server, string Reason) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => Server?.DisposeAsync() ?? ValueTask.CompletedTask;
    }

    private static string? Which(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Append("/usr/sbin").Append("/usr/local/sbin")
            .Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);

    /// <summary>A module's .so from its Debian package's file list, else from the usual folders.</summary>
    private static string? Module(string package, string file)
    {
        try
        {
            var psi = new ProcessStartInfo("dpkg", ["-L", package]) { RedirectStandardOutput = true, RedirectStandardError = true };
            using var p = Process.Start(psi)!;
            var list = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            var hit = list.Split('\n').FirstOrDefault(l => l.EndsWith("/" + file, StringComparison.Ordinal));
            if (hit is not null && File.Exists(hit)) return hit;
        }
        catch { }
        return new[] { "/usr/lib/nginx/modules", "/usr/share/nginx/modules", "/usr/local/nginx/modules" }
            .Select(d => Path.Combine(d, file)).FirstOrDefault(File.Exists);
    }

    public static async Task<Start> TryStartAsync()
    {
        var nginx = Which("nginx");
        if (nginx is null) return new Start(null, "not installed (no `nginx`; Debian: `apt-get install nginx-light libnginx-mod-http-lua`)");
        var lua = Module("libnginx-mod-http-lua", "ngx_http_lua_module.so");
        if (lua is null) return new Start(null, "not installed (nginx has no Lua module; Debian: `apt-get install libnginx-mod-http-lua`)");
        var ndk = Module("libnginx-mod-http-ndk", "ndk_http_module.so");
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        int port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var dir = Directory.CreateTempSubdirectory("craft-nginx-").FullName;
        var conf = new StringBuilder();
        if (ndk is not null) conf.AppendLine($"load_module {ndk};");
        conf.AppendLine($"load_module {lua};");
        conf.AppendLine($$"""
            worker_processes 1;
            daemon off;
            master_process off;
            pid {{dir}}/nginx.pid;
            error_log {{dir}}/error.log warn;
            events { worker_connections 4096; }
            http {
                access_log off;
                client_body_temp_path {{dir}}/body;
                proxy_temp_path {{dir}}/proxy;
                fastcgi_temp_path {{dir}}/fastcgi;
                uwsgi_temp_path {{dir}}/uwsgi;
                scgi_temp_path {{dir}}/scgi;
                server {
                    listen 127.0.0.1:{{port}};
                    location / { content_by_lua_block { ngx.print("hello") } }
                }
            }
            """);
        File.WriteAllText(Path.Combine(dir, "nginx.conf"), conf.ToString());
        var psi = new ProcessStartInfo(nginx, ["-p", dir, "-c", Path.Combine(dir, "nginx.conf"), "-e", Path.Combine(dir, "error.log")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        var process = Process.Start(psi)!;
        var stderr = new StringBuilder();
        process.ErrorDataReceived += (_, e) => { lock (stderr) stderr.AppendLine(e.Data); };
        process.OutputDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        var server = new NginxLua(process, dir, port);
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed.TotalSeconds < 10)
        {
            if (process.HasExited) break;
            try
            {
                using var client = new System.Net.Sockets.TcpClient();
                await client.ConnectAsync(System.Net.IPAddress.Loopback, port);
                return new Start(server, "");
            }
            catch { await Task.Delay(100); }
        }
        string log = File.Exists(Path.Combine(dir, "error.log")) ? File.ReadAllText(Path.Combine(dir, "error.log")) : "";
        string why;
        lock (stderr) why = (stderr + " " + log).Trim().ReplaceLineEndings(" ");
        await server.DisposeAsync();
        return new Start(null, $"nginx did not start ({why})");
    }

    public async ValueTask DisposeAsync()
    {
        try { if (!_process.HasExited) _process.Kill(); } catch { }
        await _process.WaitForExitAsync();
        _process.Dispose();
        try { Directory.Delete(_dir, true); } catch { }
    }
}
