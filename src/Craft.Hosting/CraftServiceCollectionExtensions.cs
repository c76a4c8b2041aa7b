using Craft.Interop;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Craft.Hosting;

/// <summary>Registers Craft computers with a host's services.</summary>
public static class CraftServiceCollectionExtensions
{
    /// <summary>
    /// Runs the script at <paramref name="scriptPath"/> as a hosted service: it starts with the
    /// host and ends gracefully when the host stops. The computer logs to the host's
    /// <see cref="ILoggerFactory"/> unless <paramref name="options"/> names another. Call it once per
    /// script; each gets its own computer. The service can be found among the
    /// <see cref="IHostedService"/>s as a <see cref="CraftComputerService"/>.
    /// </summary>
    public static IServiceCollection AddCraftComputer(
        this IServiceCollection services,
        ComputerOptions options,
        string scriptPath,
        IReadOnlyList<string>? args = null,
        bool stopApplicationWhenScriptEnds = true)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(scriptPath);
        // Not AddHostedService: it registers one service per implementation type, and a host may
        // run several scripts.
        services.AddSingleton<IHostedService>(provider => new CraftComputerService(
            options.LoggerFactory is null
                ? options with { LoggerFactory = provider.GetService<ILoggerFactory>() }
                : options,
            scriptPath,
            args,
            provider.GetService<IHostApplicationLifetime>(),
            stopApplicationWhenScriptEnds));
        return services;
    }
}
