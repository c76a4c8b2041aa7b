// craft run --watch: run the script, and when a file under the computer's root changes (Lua files
// and the script by default: a server's own logs and data under its root must not restart it, or
// it would restart itself forever; --watch-include and --watch-ignore change that), end the
// computer (as disposal does: what waits is answered 503, WebSocket clients get 1001, every port is
// released) and start a new one. A script that ends, with an error or not, waits for the next
// change instead of ending the process; Ctrl-C or SIGTERM ends it.

using System.Threading.Channels;
using Craft.Interop;
using Microsoft.Extensions.FileSystemGlobbing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Craft.Cli;

internal static partial class Watch
{
    /// <summary>Changes closer together than this are one change (an editor's save is several events).</summary>
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(300);

    /// <summary>Editors' temporary files: never a reason to restart.</summary>
    private static readonly string[] DefaultIgnore = ["**/*.swp", "**/*.swx", "**/*~", "**/.#*", "**/4913"];

    [LoggerMessage(EventId = 201, EventName = "Restarting", Level = LogLevel.Information,
        Message = "Restarting: {Path} changed")]
    private static partial void Restarting(ILogger logger, string path);

    [LoggerMessage(EventId = 202, EventName = "WaitingForChange", Level = LogLevel.Information,
        Message = "The script ended with exit code {ExitCode}; waiting for a change under {Root}")]
    private static partial void Waiting(ILogger logger, int exitCode, string root);

    /// <summary>What restarts when nothing else is said: Lua files (and the script, whatever its name).</summary>
    private static readonly string[] DefaultInclude = ["**/*.lua"];

    public static async Task<int> RunAsync(
        ComputerOptions options, string script, string[] args,
        IReadOnlyList<string> include, IReadOnlyList<string> ignore, CancellationToken cancel)
    {
        var root = Path.GetFullPath(options.RootDirectory ?? Path.GetDirectoryName(Path.GetFullPath(script))!);
        var logger = options.LoggerFactory?.CreateLogger("Craft.Cli.Watch") ?? NullLogger.Instance;

        var watched = new Matcher(StringComparison.Ordinal);
        watched.AddInclude(Path.GetRelativePath(root, Path.GetFullPath(script)).Replace('\\', '/'));
        foreach (var pattern in DefaultInclude.Concat(include)) watched.AddInclude(pattern);
        foreach (var pattern in DefaultIgnore.Concat(ignore)) watched.AddExclude(pattern);

        var changes = Channel.CreateUnbounded<string>();
        void Changed(string path)
        {
            var inside = Path.GetRelativePath(root, path);
            if (watched.Match(root, inside).HasMatches) changes.Writer.TryWrite(inside);
        }

        using var watcher = new FileSystemWatcher(root)
        {
            IncludeSubdirectories = true,
            NotifyFilter = NotifyFilters.FileName | NotifyFilters.DirectoryName | NotifyFilters.LastWrite | NotifyFilters.Size,
        };
        watcher.Changed += (_, e) => Changed(e.FullPath);
        watcher.Created += (_, e) => Changed(e.FullPath);
        watcher.Deleted += (_, e) => Changed(e.FullPath);
        watcher.Renamed += (_, e) => { Changed(e.OldFullPath); Changed(e.FullPath); };
        // Too many changes at once (the watcher's buffer overflowed): certainly a change.
        watcher.Error += (_, _) => changes.Writer.TryWrite(".");
        watcher.EnableRaisingEvents = true;

        while (true)
        {
            int? ended = null;
            string? changed;
            await using (var computer = new Computer(options))
            {
                Task<int> run;
                try
                {
                    run = computer.RunFileAsync(script, args, cancel);
                }
                catch (FileNotFoundException e)
                {
                    // Deleted or being replaced: the next change brings it back.
                    Console.Error.WriteLine($"craft: {e.Message}");
                    run = Task.FromResult(1);
                }

                using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
                var change = NextChange(changes.Reader, stop.Token);
                if (await Task.WhenAny(run, change) == run)
                {
                    stop.Cancel();
                    ended = await run;
                    changed = null;
                }
                else
                {
                    changed = await change;
                    // Ctrl-C: the run ends on its own (terminate); its exit code is the process's.
                    if (changed is null) return await run;
                }
            } // disposal ends the computer: what waits is answered, clients are closed, ports released

            if (ended is { } exitCode)
            {
                if (cancel.IsCancellationRequested) return exitCode;
                Console.Error.WriteLine($"craft: the script ended (exit code {exitCode}); waiting for a change to restart");
                Waiting(logger, exitCode, root);
                changed = await NextChange(changes.Reader, cancel);
                if (changed is null) return exitCode;
            }

            Console.Error.WriteLine($"craft: {changed} changed, restarting");
            Restarting(logger, changed!);
        }
    }

    /// <summary>The first path of the next change, once no more changes came for <see cref="Quiet"/>
    /// (the rest are part of it); null when cancelled.</summary>
    private static async Task<string?> NextChange(ChannelReader<string> changes, CancellationToken cancel)
    {
        try
        {
            var first = await changes.ReadAsync(cancel);
            while (true)
            {
                using var quiet = CancellationTokenSource.CreateLinkedTokenSource(cancel);
                quiet.CancelAfter(Quiet);
                try
                {
                    await changes.ReadAsync(quiet.Token);
                }
                catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
                {
                    return first;
                }
            }
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }
}
