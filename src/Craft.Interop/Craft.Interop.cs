// Craft's C# face: a Computer runs one CraftOS Lua script with the http server API.
//
//   await using var computer = new Computer(new ComputerOptions { Output = myWriter });
//   int exitCode = await computer.RunFileAsync("server.lua", args, cancellationToken);
//
// Everything the script sees happens on the computer's own thread; the public methods here are
// safe to call from any thread.

using System.Net;

namespace Craft.Interop;

/// <summary>How a computer's terminal is rendered on its <see cref="ComputerOptions.Output"/>.</summary>
public enum TerminalKind
{
    /// <summary>ANSI when the output is the process's console and that is a terminal; plain otherwise.</summary>
    Auto,
    /// <summary>For logs and pipes: the text in order, cursor moves as spaces and line ends, no escapes.</summary>
    Plain,
    /// <summary>For a terminal: cursor, 16 colours and clearing as ANSI escape sequences.</summary>
    Ansi,
}

/// <summary>How a <see cref="Computer"/> is set up. Every limit has SPEC's default.</summary>
public sealed partial record ComputerOptions
{
    /// <summary>The address listeners bind to. Loopback unless widened (e.g. <see cref="IPAddress.Any"/>).</summary>
    public IPAddress HostAddress { get; init; } = IPAddress.Loopback;

    /// <summary>Events the queue holds (CraftOS: 256). Events a script queues beyond it are dropped.</summary>
    public int EventQueueCapacity { get; init; } = 256;

    /// <summary>Requests and connections that may wait for room in the event queue before 503.</summary>
    public int InboundBacklog { get; init; } = 4096;

    /// <summary>How long a script has to close a response after its event was queued.</summary>
    public TimeSpan ResponseDeadline { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Largest request body accepted; larger ones get 413 and never reach the script.</summary>
    public long MaxRequestBodyBytes { get; init; } = 16 * 1024 * 1024;

    /// <summary>Longest HTTP request line (method, target and version); longer ones get 414.</summary>
    public int MaxRequestLineBytes { get; init; } = 8 * 1024;

    /// <summary>Largest HTTP header block (every header line together); larger ones get 431.</summary>
    public int MaxRequestHeaderBytes { get; init; } = 32 * 1024;

    /// <summary>Most header lines in one HTTP request; more get 431.</summary>
    public int MaxRequestHeaderCount { get; init; } = 100;

    /// <summary>How long a client may take to send a request line and its headers; then 408.</summary>
    public TimeSpan RequestHeadersTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long a connection may stay open without sending a request: a new one before its first
    /// byte, a keep-alive one between requests (Kestrel's own default is 130 s).
    /// </summary>
    public TimeSpan KeepAliveTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Connections open at once, every port of the computer together; more are closed as soon as
    /// they are accepted. The default leaves an eighth of the process's file-descriptor limit
    /// (at least 64) for everything else, so that peers can never make the process run out.
    /// </summary>
    public int MaxConnections { get; init; } = HostLimits.DefaultMaxConnections();

    /// <summary>
    /// Request-body bytes held in memory at once, every request together, from the first byte
    /// read until the script has the body. A request whose body would pass it gets 503.
    /// </summary>
    public long MaxBufferedRequestBytes { get; init; } = 256L * 1024 * 1024;

    /// <summary>
    /// Bytes waiting to be sent to one WebSocket client. A client that stops reading while the
    /// script keeps sending is closed once its queue passes this (the script sees
    /// <c>websocket_server_closed</c> with 1008; its <c>send</c> does not fail).
    /// </summary>
    public long MaxWebSocketSendQueueBytes { get; init; } = 16L * 1024 * 1024;

    /// <summary>
    /// How long a computer that ends waits for every answer to reach its client before it lets
    /// the servers go.
    /// </summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Largest WebSocket message, both ways (CraftOS's http_max_websocket_message).</summary>
    public int MaxWebSocketMessageBytes { get; init; } = 128 * 1024;

    /// <summary>How often idle WebSocket clients are pinged.</summary>
    public TimeSpan WebSocketPingInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>A script that runs this long without yielding gets "Too long without yielding".</summary>
    public TimeSpan RunawayTimeout { get; init; } = TimeSpan.FromSeconds(7);

    /// <summary>Where <c>print</c> and <c>write</c> go.</summary>
    public TextWriter Output { get; init; } = Console.Out;

    /// <summary>How <c>term</c> (and print, write) render on <see cref="Output"/>; see <see cref="TerminalKind"/>.</summary>
    public TerminalKind Terminal { get; init; } = TerminalKind.Auto;

    /// <summary>Where <c>printError</c> and uncaught errors go.</summary>
    public TextWriter Error { get; init; } = Console.Error;

    /// <summary>Where <c>read()</c> reads lines from.</summary>
    public TextReader Input { get; init; } = Console.In;

    /// <summary>What <c>os.getComputerID()</c> returns.</summary>
    public int ComputerId { get; init; }

    /// <summary>The initial <c>os.getComputerLabel()</c>.</summary>
    public string? Label { get; init; }

    /// <summary>
    /// Names the sandbox normally hides that this computer exposes, e.g. <c>"io"</c>, <c>"debug"</c>,
    /// <c>"require"</c>, <c>"package"</c>, <c>"dofile"</c>, <c>"loadfile"</c>, <c>"collectgarbage"</c>,
    /// <c>"os.getenv"</c>, <c>"os.execute"</c>, <c>"os.exit"</c>, <c>"os.remove"</c>, <c>"os.rename"</c>,
    /// <c>"os.tmpname"</c>, <c>"os.setlocale"</c>, <c>"string.dump"</c>.
    /// </summary>
    public IReadOnlySet<string> Unsandboxed { get; init; } = new HashSet<string>();

    /// <summary>
    /// The host directory that is the computer's root <c>/</c> for <c>fs</c> and <c>io</c>. When
    /// null, <see cref="Computer.RunFileAsync"/> uses the script's directory, and
    /// <see cref="Computer.RunAsync"/> an empty root that cannot be written.
    /// </summary>
    public string? RootDirectory { get; init; }

    /// <summary>
    /// Bytes the computer's files may hold together (CraftOS's computer space limit); writes past
    /// it fail with <c>Out of space</c>. Null: the host disk's free space.
    /// </summary>
    public long? FileSystemCapacity { get; init; }

    /// <summary>Write one line per HTTP request to <see cref="Error"/> (method, target, status).</summary>
    public bool RequestLog { get; init; }

    /// <summary>
    /// When set, every port of the computer serves TLS with this certificate (it must have its
    /// private key): <c>http.listen</c> serves HTTPS and <c>http.websocketServer</c> WSS.
    /// </summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? Certificate { get; init; }

    /// <summary>
    /// Where the computer logs (categories <c>Craft.Computer</c> and <c>Craft.Server</c>, and
    /// Kestrel's own): binds, requests, script errors, refusals by a limit. Null: nowhere.
    /// </summary>
    public Microsoft.Extensions.Logging.ILoggerFactory? LoggerFactory { get; init; }

    internal Craft.Limits ToLimits() =>
        new(EventQueueCapacity, InboundBacklog, (long)ResponseDeadline.TotalMilliseconds, MaxWebSocketMessageBytes,
            MaxHttpRequests, MaxClientWebSockets);

    internal void Validate()
    {
        static void Positive(string name, double value)
        {
            if (value <= 0) throw new ArgumentOutOfRangeException(name, value, $"{name} must be positive");
        }

        Positive(nameof(EventQueueCapacity), EventQueueCapacity);
        if (InboundBacklog < 0) throw new ArgumentOutOfRangeException(nameof(InboundBacklog), InboundBacklog, "must not be negative");
        Positive(nameof(ResponseDeadline), ResponseDeadline.TotalMilliseconds);
        Positive(nameof(MaxRequestBodyBytes), MaxRequestBodyBytes);
        Positive(nameof(MaxWebSocketMessageBytes), MaxWebSocketMessageBytes);
        Positive(nameof(WebSocketPingInterval), WebSocketPingInterval.TotalMilliseconds);
        Positive(nameof(RunawayTimeout), RunawayTimeout.TotalMilliseconds);
        Positive(nameof(MaxRequestLineBytes), MaxRequestLineBytes);
        Positive(nameof(MaxRequestHeaderBytes), MaxRequestHeaderBytes);
        Positive(nameof(MaxRequestHeaderCount), MaxRequestHeaderCount);
        Positive(nameof(RequestHeadersTimeout), RequestHeadersTimeout.TotalMilliseconds);
        Positive(nameof(KeepAliveTimeout), KeepAliveTimeout.TotalMilliseconds);
        Positive(nameof(MaxConnections), MaxConnections);
        Positive(nameof(MaxBufferedRequestBytes), MaxBufferedRequestBytes);
        Positive(nameof(MaxWebSocketSendQueueBytes), MaxWebSocketSendQueueBytes);
        ValidateHttp();
        if (ShutdownTimeout < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(ShutdownTimeout), ShutdownTimeout, "must not be negative");
        if (FileSystemCapacity is < 0) throw new ArgumentOutOfRangeException(nameof(FileSystemCapacity), FileSystemCapacity, "must not be negative");
        ArgumentNullException.ThrowIfNull(HostAddress);
        ArgumentNullException.ThrowIfNull(Output);
        ArgumentNullException.ThrowIfNull(Error);
        ArgumentNullException.ThrowIfNull(Input);
        if (Certificate is { HasPrivateKey: false })
            throw new ArgumentException("the certificate has no private key: a server needs it for TLS", nameof(Certificate));
    }
}

/// <summary>
/// One CraftOS computer: a Lua 5.4 state running one script, its event queue, its listeners and
/// WebSocket servers. Run it once with <see cref="RunFileAsync"/> or <see cref="RunAsync"/>; dispose
/// it to release every port.
/// </summary>
public sealed partial class Computer : IAsyncDisposable
{
    /// <summary>Craft's version, as in <c>_HOST</c> and <c>craft --version</c>.</summary>
    public static string Version { get; } =
        typeof(Computer).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    private readonly ComputerOptions _options;
    private int _started;

    /// <summary>A computer with the given options (defaults when null).</summary>
    public Computer(ComputerOptions? options = null)
    {
        _options = options ?? new ComputerOptions();
        _options.Validate();
    }

    /// <summary>The options this computer was built from.</summary>
    public ComputerOptions Options => _options;

    /// <summary>
    /// Runs the script file until it ends. The task's result is the exit code: 0 when the script
    /// returned or called <c>os.shutdown()</c>, 1 after an uncaught error (printed as
    /// <c>/path/inside/root.lua:line: message</c> on <see cref="ComputerOptions.Error"/>, the
    /// chunk named as CraftOS names a program).
    /// Cancelling <paramref name="cancellationToken"/> queues a <c>terminate</c> event.
    /// </summary>
    public Task<int> RunFileAsync(string path, IReadOnlyList<string>? args = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        byte[] source;
        try
        {
            source = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new FileNotFoundException($"cannot read script {path}: {e.Message}", path, e);
        }

        var full = Path.GetFullPath(path);
        var root = Path.GetFullPath(_options.RootDirectory ?? Path.GetDirectoryName(full)!);
        var inside = Path.GetRelativePath(root, full);
        if (inside == "." || inside == ".." || inside.StartsWith(".." + Path.DirectorySeparatorChar, StringComparison.Ordinal) || Path.IsPathRooted(inside))
            throw new ArgumentException($"the script {path} does not lie inside the root directory {root}", nameof(path));
        RootDirectory = root;
        ProgramPath = inside.Replace(Path.DirectorySeparatorChar, '/');
        // Named as CraftOS names a program's chunk ("@/site/server.lua"): errors read
        // "/site/server.lua:3: ...", never the host's path.
        return Start(source, "/" + ProgramPath, args ?? [], cancellationToken);
    }

    /// <summary>The host directory that is the computer's root (null: an empty root that cannot be written).</summary>
    internal string? RootDirectory { get; private set; }

    /// <summary>The running program's path inside the root, without a leading slash
    /// (<c>site/server.lua</c>); null when the computer runs source text.</summary>
    internal string? ProgramPath { get; private set; }

    /// <summary>Runs Lua source text; <paramref name="chunkName"/> names it in error messages.</summary>
    public Task<int> RunAsync(string source, string chunkName = "script", IReadOnlyList<string>? args = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        RootDirectory = _options.RootDirectory is { } root ? Path.GetFullPath(root) : null;
        return Start(System.Text.Encoding.UTF8.GetBytes(source), chunkName, args ?? [], cancellationToken);
    }

    /// <summary>
    /// Queues an event for the script, from any thread. Parameters may be null, booleans, numbers,
    /// strings, byte arrays (Lua strings), and lists or dictionaries of those (Lua tables).
    /// Host events are never dropped: when the queue is full they wait for room.
    /// </summary>
    public void QueueEvent(string name, params object?[] args)
    {
        ArgumentNullException.ThrowIfNull(name);
        PostHostEvent(name, args ?? [null]);
    }

    /// <summary>Ends the script if it still runs, answers what waits, and releases every port.</summary>
    public async ValueTask DisposeAsync()
    {
        Abort();
        if (_completion is { } done)
        {
            try { await done.Task.ConfigureAwait(false); }
            catch { /* the run's own task reports its failure */ }
        }
    }

    private Task<int> Start(byte[] source, string chunkName, IReadOnlyList<string> args, CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
            throw new InvalidOperationException("A Computer runs one script; create a new Computer for another.");
        return Launch(source, chunkName, args, cancellationToken);
    }
}
