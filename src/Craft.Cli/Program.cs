// craft: run a CraftOS Lua server script from the command line.
//
//   craft run [OPTIONS] SCRIPT [ARGS...]
//   craft --help | --version

using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using Craft.Interop;

namespace Craft.Cli;

public static class Program
{
    private const string Usage = """
        Usage: craft run [OPTIONS] SCRIPT [ARGS...]
               craft --help | --version

        Runs a CraftOS Lua script (with CraftOS-PC's http server API) until it ends.
        ARGS are passed to the script as `...`. Ctrl-C or SIGTERM queues a `terminate`
        event; a second one ends the process.

        Options (before SCRIPT):
          --host ADDRESS              address listeners bind to (default 127.0.0.1; 0.0.0.0 for all)
          --queue N                   event queue capacity (default 256)
          --backlog N                 requests that may wait for room in the queue (default 4096)
          --deadline SECONDS          time a script has to close a response (default 15)
          --max-body BYTES            largest request body; larger gets 413 (default 16777216)
          --max-request-line BYTES    longest request line; longer gets 414 (default 8192)
          --max-headers BYTES         largest header block; larger gets 431 (default 32768)
          --max-header-count N        most header lines in a request; more gets 431 (default 100)
          --header-timeout SECONDS    time a client has to send its headers; then 408 (default 30)
          --keep-alive SECONDS        how long a connection may stay open without a request (default 30)
          --max-connections N         connections open at once, every port together; more are closed
                                      (default: the file-descriptor limit less an eighth of it)
          --max-buffered BYTES        request-body bytes held at once; a request past it gets 503
                                      (default 268435456)
          --shutdown-timeout SECONDS  how long an ending computer waits for answers to reach clients (default 5)
          --max-message BYTES         largest WebSocket message, both ways (default 131072)
          --max-send-queue BYTES      bytes waiting for one WebSocket client; past it the client is
                                      closed with 1008 (default 16777216)
          --ping SECONDS              WebSocket keep-alive ping interval (default 30)
          --runaway SECONDS           time without yielding before an error (default 7)
          --id N                      os.getComputerID() (default 0)
          --label TEXT                os.getComputerLabel() (default none)
          --root DIR                  the computer's root directory / (default: the script's directory;
                                      the script must lie inside it)
          --fs-capacity BYTES         bytes the computer's files may hold (default: the disk's free space)
          --allow NAME                expose a sandboxed name (io, debug, require, os.getenv, ...); repeatable
          --request-log               print one line per HTTP request on standard error
          --term plain|ansi|auto      how term, print and write render: plain for logs (text in order,
                                      no escape sequences), ansi for a terminal (default: ansi when
                                      standard output is a terminal, else plain)
          --tls-cert FILE             serve HTTPS and WSS on every port with this certificate: PKCS#12
                                      (.pfx; password from CRAFT_TLS_PASSWORD) or PEM
          --tls-key FILE              the PEM certificate's private key (when not in the --tls-cert file)
          --log-level LEVEL           log binds, requests, refusals and errors to standard error:
                                      trace, debug, information, warning, error, critical, none (default none)
          --watch                     restart when a Lua file under the root (or the script) changes;
                                      wait for a change when the script ends
          --watch-include GLOB        more files whose changes restart (relative to the root, e.g.
                                      **/*.json, or **/* for every file); repeatable
          --watch-ignore GLOB         files whose changes never restart (e.g. data/**); repeatable

        The http client (http.request, http.websocket, http.checkURL):
          --http-allow PATTERN        let scripts reach hosts or addresses matching PATTERN; repeatable
          --http-deny PATTERN         refuse them (Domain not permitted); repeatable. Rules are tried in
                                      order, first match wins, before the defaults: deny $private
                                      (loopback, private, link-local), allow the rest. PATTERN: a host
                                      with * wildcards, an address, a range (10.0.0.0/8), $private, *
          --http-max-requests N       requests running at once; more wait their turn (default 16)
          --http-max-websockets N     client WebSockets open at once (default 4)
          --http-max-download BYTES   largest response body (default 16777216)
          --http-max-upload BYTES     largest request body (default 4194304)
          --http-timeout SECONDS      timeout of a request or handshake (default 30)
          --http-trust FILE           trust this certificate (PEM or DER) as a root for https:// and
                                      wss://, besides the system's; repeatable

        Exit codes: 0 the script ended, 1 it raised an error, 2 bad usage; os.shutdown(N) ends with N.
        """;

    public static async Task<int> Main(string[] args)
    {
        if (args.Length == 0)
            return Fail("missing command (try 'craft --help')");

        if (args[0] is "--help" or "-h" or "help")
        {
            Console.Out.Write(Usage);
            return 0;
        }

        if (args[0] is "--version" or "-v")
        {
            Console.Out.WriteLine($"craft {Computer.Version}");
            return 0;
        }

        if (args[0] != "run")
            return Fail($"unknown command '{args[0]}' (try 'craft --help')");

        ComputerOptions options;
        string script;
        string[] scriptArgs;
        var extras = new Extras();
        try
        {
            (options, script, scriptArgs) = Parse(args.AsSpan(1), extras);
            options = extras.Apply(options);
        }
        catch (Exception e) when (e is UsageException or ArgumentException)
        {
            return Fail(e.Message);
        }
        using var logging = extras.LoggerFactory;

        if (!File.Exists(script))
            return Fail($"no such script: {script}");
        if (options.RootDirectory is { } root && !Directory.Exists(root))
            return Fail($"no such root directory: {root}");
        if (options.RootDirectory is { } rootDir && !Inside(rootDir, script))
            return Fail($"the script {script} does not lie inside the root directory {rootDir}");

        using var cancel = new CancellationTokenSource();
        int signals = 0;
        void OnSignal()
        {
            if (Interlocked.Increment(ref signals) > 1)
            {
                Console.Error.WriteLine("craft: stopped");
                Environment.Exit(130);
            }
            cancel.Cancel();
        }

        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            OnSignal();
        };
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            OnSignal();
        });

        if (extras.Watch)
            return await Watch.RunAsync(options, script, scriptArgs, extras.WatchInclude, extras.WatchIgnore, cancel.Token);

        await using var computer = new Computer(options);
        try
        {
            return await computer.RunFileAsync(script, scriptArgs, cancel.Token);
        }
        catch (FileNotFoundException e)
        {
            return Fail(e.Message);
        }
    }

    private static bool Inside(string root, string script)
    {
        var inside = Path.GetRelativePath(Path.GetFullPath(root), Path.GetFullPath(script));
        return inside != "." && inside != ".." && !Path.IsPathRooted(inside)
            && !inside.StartsWith(".." + Path.DirectorySeparatorChar, StringComparison.Ordinal);
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine($"craft: {message}");
        return 2;
    }

    private sealed class UsageException(string message) : Exception(message);

    private static (ComputerOptions, string, string[]) Parse(ReadOnlySpan<string> args, Extras extras)
    {
        var options = new ComputerOptions();
        var allowed = new HashSet<string>();
        var rules = new List<HttpRule>();
        int i = 0;

        string Value(ReadOnlySpan<string> a, string name)
        {
            if (i + 1 >= a.Length) throw new UsageException($"option {name} needs a value");
            return a[++i];
        }

        static int Int(string name, string text, int min)
        {
            if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) || n < min)
                throw new UsageException($"option {name} needs a whole number of at least {min}, not '{text}'");
            return n;
        }

        static long Long(string name, string text, long min)
        {
            if (!long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) || n < min)
                throw new UsageException($"option {name} needs a whole number of at least {min}, not '{text}'");
            return n;
        }

        static TimeSpan Seconds(string name, string text)
        {
            if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var s) || !(s > 0) || s > 1e6)
                throw new UsageException($"option {name} needs a positive number of seconds, not '{text}'");
            return TimeSpan.FromSeconds(s);
        }

        for (; i < args.Length; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal)) break;
            switch (arg)
            {
                case "--host":
                    var host = Value(args, arg);
                    if (host == "localhost") options = options with { HostAddress = IPAddress.Loopback };
                    else if (IPAddress.TryParse(host, out var address)) options = options with { HostAddress = address };
                    else throw new UsageException($"option --host needs an IP address, not '{host}'");
                    break;
                case "--queue": options = options with { EventQueueCapacity = Int(arg, Value(args, arg), 1) }; break;
                case "--backlog": options = options with { InboundBacklog = Int(arg, Value(args, arg), 0) }; break;
                case "--deadline": options = options with { ResponseDeadline = Seconds(arg, Value(args, arg)) }; break;
                case "--max-body": options = options with { MaxRequestBodyBytes = Int(arg, Value(args, arg), 1) }; break;
                case "--max-request-line": options = options with { MaxRequestLineBytes = Int(arg, Value(args, arg), 1) }; break;
                case "--max-headers": options = options with { MaxRequestHeaderBytes = Int(arg, Value(args, arg), 1) }; break;
                case "--max-header-count": options = options with { MaxRequestHeaderCount = Int(arg, Value(args, arg), 1) }; break;
                case "--header-timeout": options = options with { RequestHeadersTimeout = Seconds(arg, Value(args, arg)) }; break;
                case "--keep-alive": options = options with { KeepAliveTimeout = Seconds(arg, Value(args, arg)) }; break;
                case "--max-connections": options = options with { MaxConnections = Int(arg, Value(args, arg), 1) }; break;
                case "--max-buffered": options = options with { MaxBufferedRequestBytes = Long(arg, Value(args, arg), 1) }; break;
                case "--shutdown-timeout": options = options with { ShutdownTimeout = Seconds(arg, Value(args, arg)) }; break;
                case "--max-send-queue": options = options with { MaxWebSocketSendQueueBytes = Long(arg, Value(args, arg), 1) }; break;
                case "--max-message": options = options with { MaxWebSocketMessageBytes = Int(arg, Value(args, arg), 1) }; break;
                case "--ping": options = options with { WebSocketPingInterval = Seconds(arg, Value(args, arg)) }; break;
                case "--runaway": options = options with { RunawayTimeout = Seconds(arg, Value(args, arg)) }; break;
                case "--id": options = options with { ComputerId = Int(arg, Value(args, arg), 0) }; break;
                case "--label": options = options with { Label = Value(args, arg) }; break;
                case "--root": options = options with { RootDirectory = Value(args, arg) }; break;
                case "--fs-capacity": options = options with { FileSystemCapacity = Long(arg, Value(args, arg), 0) }; break;
                case "--allow": allowed.Add(Value(args, arg)); break;
                case "--request-log": options = options with { RequestLog = true }; break;
                case "--http-allow": rules.Add(HttpRule.AllowAddress(Value(args, arg))); break;
                case "--http-deny": rules.Add(HttpRule.DenyAddress(Value(args, arg))); break;
                case "--http-max-requests": options = options with { MaxHttpRequests = Int(arg, Value(args, arg), 1) }; break;
                case "--http-max-websockets": options = options with { MaxClientWebSockets = Int(arg, Value(args, arg), 0) }; break;
                case "--http-max-download": options = options with { MaxHttpDownloadBytes = Long(arg, Value(args, arg), 1) }; break;
                case "--http-max-upload": options = options with { MaxHttpUploadBytes = Long(arg, Value(args, arg), 0) }; break;
                case "--http-timeout": options = options with { HttpTimeout = Seconds(arg, Value(args, arg)) }; break;
                case "--term":
                    options = options with
                    {
                        Terminal = Value(args, arg) switch
                        {
                            "plain" => TerminalKind.Plain,
                            "ansi" => TerminalKind.Ansi,
                            "auto" => TerminalKind.Auto,
                            var other => throw new UsageException($"option --term needs plain, ansi or auto, not '{other}'"),
                        },
                    };
                    break;
                case "--": i++; goto done;
                default:
                    var used = extras.TryParse(arg, i + 1 < args.Length ? args[i + 1] : null);
                    if (used < 0) throw new UsageException($"unknown option '{arg}' (try 'craft --help')");
                    i += used;
                    break;
            }
        }

    done:
        if (i >= args.Length) throw new UsageException("missing SCRIPT (try 'craft --help')");
        foreach (var rule in rules)
        {
            try { rule.Validate(); }
            catch (ArgumentException e) { throw new UsageException($"option --http-{(rule.Allow ? "allow" : "deny")}: {e.Message.Split(" (Parameter")[0]}"); }
        }
        options = options with { Unsandboxed = allowed, HttpRules = rules };
        return (options, args[i], args[(i + 1)..].ToArray());
    }
}
