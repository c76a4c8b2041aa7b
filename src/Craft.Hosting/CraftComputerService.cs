// A Craft computer as an IHostedService: the host starts the script with the application and
// ends it, gracefully, when the application stops.

using Craft.Interop;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Craft.Hosting;

/// <summary>
/// Runs one script file on its own <see cref="Computer"/> for the lifetime of a host. Registered by
/// <see cref="CraftServiceCollectionExtensions.AddCraftComputer"/>.
/// </summary>
/// <remarks>
/// <para>Starting runs the script (it starts on the computer's own thread; <c>StartAsync</c> does
/// not wait for its ports). Stopping ends the computer as disposal does: what waits is answered
/// 503, WebSocket clients are closed with 1001, every port is released; a script waiting for an
/// event ends with exit code 0.</para>
/// <para>A script that ends by itself (it returned, failed, or called <c>os.shutdown()</c>) stops
/// the application, unless <c>stopApplicationWhenScriptEnds</c> was false.</para>
/// </remarks>
public sealed class CraftComputerService : IHostedService, IAsyncDisposable
{
    private readonly ComputerOptions _options;
    private readonly string _scriptPath;
    private readonly IReadOnlyList<string> _args;
    private readonly IHostApplicationLifetime? _lifetime;
    private readonly bool _stopApplicationWhenScriptEnds;
    private readonly ILogger _logger;
    private readonly TaskCompletionSource<int> _exit = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Computer? _computer;
    private Task<int>? _run;
    private volatile bool _stopping;

    /// <summary>A service for the script at <paramref name="scriptPath"/>.</summary>
    /// <param name="options">The computer's options; its <see cref="ComputerOptions.LoggerFactory"/> is used as it is.</param>
    /// <param name="scriptPath">The script file (relative paths: from the process's working directory).</param>
    /// <param name="args">The script's arguments (<c>...</c>).</param>
    /// <param name="lifetime">The host's lifetime, stopped when the script ends by itself; may be null.</param>
    /// <param name="stopApplicationWhenScriptEnds">Whether a script that ends by itself stops the application.</param>
    public CraftComputerService(
        ComputerOptions options,
        string scriptPath,
        IReadOnlyList<string>? args = null,
        IHostApplicationLifetime? lifetime = null,
        bool stopApplicationWhenScriptEnds = true)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(scriptPath);
        _options = options;
        _scriptPath = scriptPath;
        _args = args ?? [];
        _lifetime = lifetime;
        _stopApplicationWhenScriptEnds = stopApplicationWhenScriptEnds;
        _logger = options.LoggerFactory?.CreateLogger("Craft.Hosting") ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
    }

    /// <summary>The script being run; null before <see cref="StartAsync"/>.</summary>
    public Computer? Computer => _computer;

    /// <summary>The script's path, as given.</summary>
    public string ScriptPath => _scriptPath;

    /// <summary>Completes with the script's exit code once it has ended and everything is released.</summary>
    public Task<int> Completion => _exit.Task;

    /// <summary>Starts the script. Throws when the file cannot be read or lies outside the root.</summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (_computer is not null) throw new InvalidOperationException("The service has already started.");
        var computer = new Computer(_options);
        _computer = computer;
        Task<int> run = computer.RunFileAsync(_scriptPath, _args, CancellationToken.None);
        _run = run;
        _ = run.ContinueWith(t => Ended(t.Result), CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return Task.CompletedTask;
    }

    private void Ended(int exitCode)
    {
        _exit.TrySetResult(exitCode);
        if (_stopping) return;
        HostingLog.ScriptEnded(_logger, _scriptPath, exitCode);
        if (_stopApplicationWhenScriptEnds) _lifetime?.StopApplication();
    }

    /// <summary>
    /// Ends the script gracefully (as <see cref="Computer.DisposeAsync"/> does) and waits for it,
    /// or until <paramref name="cancellationToken"/> says the host will wait no longer.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _stopping = true;
        if (_computer is not { } computer) return;
        try
        {
            await computer.DisposeAsync().AsTask().WaitAsync(cancellationToken).ConfigureAwait(false);
            // Completion is done when StopAsync returns (the continuation may not have run yet).
            if (_run is { } run) _exit.TrySetResult(await run.ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The host waits no longer; the computer goes on ending on its own.
        }
    }

    /// <summary>Ends the script if it still runs.</summary>
    public async ValueTask DisposeAsync()
    {
        _stopping = true;
        if (_computer is { } computer) await computer.DisposeAsync().ConfigureAwait(false);
    }
}

internal static partial class HostingLog
{
    [LoggerMessage(EventId = 301, EventName = "ScriptEnded", Level = LogLevel.Warning,
        Message = "The hosted script {ScriptPath} ended by itself with exit code {ExitCode}")]
    public static partial void ScriptEnded(ILogger logger, string scriptPath, int exitCode);
}
