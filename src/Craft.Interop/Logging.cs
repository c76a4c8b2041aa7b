// What a computer logs (category Craft.Computer): binds, script errors, how the run ended. The
// shell (Craft.Server) logs requests and refusals itself, and Kestrel its own connection-level
// events, to the same ILoggerFactory (ComputerOptions.LoggerFactory).
//
// Each event is a [LoggerMessage] method: the source generator checks the level first and formats
// nothing when it is disabled, so a computer without a logger pays one IsEnabled call per event.

using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Craft.Interop;

internal static partial class ComputerLog
{
    [LoggerMessage(EventId = 101, EventName = "Listening", Level = LogLevel.Information,
        Message = "Listening on {Scheme}://{Address}:{Port}")]
    public static partial void Listening(ILogger logger, string scheme, string address, int port);

    [LoggerMessage(EventId = 102, EventName = "BindFailed", Level = LogLevel.Warning,
        Message = "Could not listen on port {Port}: {Reason}")]
    public static partial void BindFailed(ILogger logger, int port, string reason);

    [LoggerMessage(EventId = 103, EventName = "ScriptError", Level = LogLevel.Error,
        Message = "The script {Program} failed: {Error}")]
    public static partial void ScriptError(ILogger logger, string program, string error);

    [LoggerMessage(EventId = 104, EventName = "Ended", Level = LogLevel.Information,
        Message = "The script {Program} ended with exit code {ExitCode}")]
    public static partial void Ended(ILogger logger, string program, int exitCode);
}

public sealed partial class Computer
{
    private ILogger? _logger;

    /// <summary>The computer's logger (category <c>Craft.Computer</c>); a null logger without a factory.</summary>
    internal ILogger Logger =>
        _logger ??= (_options.LoggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Craft.Computer");

    /// <summary>The script failed: its message on <see cref="ComputerOptions.Error"/>, as
    /// before, and as an error event.</summary>
    private void ScriptFailed(string chunkName, string message)
    {
        SafeWriteError(message + "\n");
        try { ComputerLog.ScriptError(Logger, chunkName, message); }
        catch { /* a failing logger must not take the computer down */ }
    }

    private void LogBind(int requested, bool ok, int port, string? reason)
    {
        try
        {
            if (ok)
                ComputerLog.Listening(Logger, _options.Certificate is null ? "http" : "https", _options.HostAddress.ToString(), port);
            else
                ComputerLog.BindFailed(Logger, requested, reason ?? "");
        }
        catch { /* a failing logger must not take the computer down */ }
    }

    private void LogEnded(string chunkName, int exitCode)
    {
        try { ComputerLog.Ended(Logger, chunkName, exitCode); }
        catch { /* a failing logger must not take the computer down */ }
    }
}
