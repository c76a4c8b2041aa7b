// The command line's options that are not a ComputerOptions field as they stand: a certificate
// to load (--tls-cert, --tls-key), the console logger (--log-level), and watch mode (--watch,
// --watch-ignore). Program.Parse fills one of these; Apply turns it into options.

using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Craft.Interop;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace Craft.Cli;

internal sealed class Extras
{
    public string? TlsCert;
    public string? TlsKey;
    public LogLevel? LogLevel;
    public bool Watch;
    public readonly List<string> WatchIgnore = [];
    public readonly List<string> WatchInclude = [];
    public readonly List<string> HttpTrust = [];

    /// <summary>The console logger, when --log-level asked for one; disposed at exit (it flushes).</summary>
    public ILoggerFactory? LoggerFactory { get; private set; }

    /// <summary>Handles the option <paramref name="arg"/> (<paramref name="next"/>: the argument
    /// after it, if any): how many arguments after it it used, or -1 when it is not one of these.</summary>
    public int TryParse(string arg, string? next)
    {
        string Value() => next ?? throw new ArgumentException($"option {arg} needs a value");
        switch (arg)
        {
            case "--tls-cert": TlsCert = Value(); return 1;
            case "--tls-key": TlsKey = Value(); return 1;
            case "--log-level": LogLevel = Level(Value()); return 1;
            case "--http-trust": HttpTrust.Add(Value()); return 1;
            case "--watch": Watch = true; return 0;
            case "--watch-ignore": WatchIgnore.Add(Value()); return 1;
            case "--watch-include": WatchInclude.Add(Value()); return 1;
            default: return -1;
        }
    }

    private static LogLevel Level(string text) => text.ToLowerInvariant() switch
    {
        "trace" => Microsoft.Extensions.Logging.LogLevel.Trace,
        "debug" => Microsoft.Extensions.Logging.LogLevel.Debug,
        "information" or "info" => Microsoft.Extensions.Logging.LogLevel.Information,
        "warning" or "warn" => Microsoft.Extensions.Logging.LogLevel.Warning,
        "error" => Microsoft.Extensions.Logging.LogLevel.Error,
        "critical" => Microsoft.Extensions.Logging.LogLevel.Critical,
        "none" => Microsoft.Extensions.Logging.LogLevel.None,
        _ => throw new ArgumentException(
            $"option --log-level needs one of trace, debug, information, warning, error, critical, none, not '{text}'"),
    };

    /// <summary>The options with the certificate and the logger; throws ArgumentException with a
    /// message for the user when the certificate cannot be loaded.</summary>
    public ComputerOptions Apply(ComputerOptions options)
    {
        if (TlsKey is not null && TlsCert is null)
            throw new ArgumentException("option --tls-key needs --tls-cert");
        if (TlsCert is not null)
            options = options with { Certificate = LoadCertificate(TlsCert, TlsKey) };
        if (HttpTrust.Count > 0)
            options = options with { HttpTrustedCertificates = HttpTrust.Select(LoadTrusted).ToArray() };
        if (LogLevel is { } level && level != Microsoft.Extensions.Logging.LogLevel.None)
        {
            LoggerFactory = Microsoft.Extensions.Logging.LoggerFactory.Create(builder =>
            {
                builder.SetMinimumLevel(level);
                builder.AddSimpleConsole(o =>
                {
                    o.SingleLine = true;
                    o.TimestampFormat = "HH:mm:ss.fff ";
                });
                // Standard output is the script's (print); the log goes where errors go.
                builder.Services.Configure<ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = Microsoft.Extensions.Logging.LogLevel.Trace);
            });
            options = options with { LoggerFactory = LoggerFactory };
        }
        return options;
    }

    /// <summary>
    /// A PFX/PKCS#12 file (its password, if any, from CRAFT_TLS_PASSWORD), or PEM: a certificate
    /// file and its key (--tls-key), or one PEM file holding both.
    /// </summary>
    internal static X509Certificate2 LoadTrusted(string path)
    {
        if (!File.Exists(path)) throw new ArgumentException($"no such certificate file: {path}");
        try
        {
            return X509CertificateLoader.LoadCertificateFromFile(path);
        }
        catch (CryptographicException e)
        {
            throw new ArgumentException($"cannot load the certificate {path}: {e.Message}");
        }
    }

    internal static X509Certificate2 LoadCertificate(string certPath, string? keyPath)
    {
        if (!File.Exists(certPath)) throw new ArgumentException($"no such certificate file: {certPath}");
        if (keyPath is not null && !File.Exists(keyPath)) throw new ArgumentException($"no such key file: {keyPath}");
        try
        {
            X509Certificate2 certificate;
            bool pem = keyPath is not null || File.ReadAllText(certPath).Contains("-----BEGIN", StringComparison.Ordinal);
            if (pem)
            {
                using var fromPem = X509Certificate2.CreateFromPemFile(certPath, keyPath);
                // A PEM key is ephemeral; TLS on some platforms wants a persisted one: round-trip it.
                certificate = X509CertificateLoader.LoadPkcs12(fromPem.Export(X509ContentType.Pkcs12), null);
            }
            else
            {
                certificate = X509CertificateLoader.LoadPkcs12FromFile(certPath, Environment.GetEnvironmentVariable("CRAFT_TLS_PASSWORD"));
            }
            if (!certificate.HasPrivateKey)
                throw new ArgumentException($"the certificate {certPath} has no private key (give it with --tls-key)");
            return certificate;
        }
        catch (CryptographicException e)
        {
            throw new ArgumentException($"cannot load the certificate {certPath}: {e.Message}");
        }
    }
}
