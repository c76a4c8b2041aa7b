// The options of the http client (SPEC §6): address rules and CC:Tweaked's limits.

using Craft.Server;

namespace Craft.Interop;

/// <summary>
/// One address rule for the script's outbound requests and WebSockets. The pattern is a host name
/// with <c>*</c> wildcards (<c>*.example.com</c>), an address (<c>127.0.0.1</c>), a range
/// (<c>10.0.0.0/8</c>, <c>fd00::/8</c>), <c>$private</c> or <c>*</c>.
/// </summary>
public sealed record HttpRule(bool Allow, string Pattern)
{
    /// <summary>A rule that lets the script reach what matches.</summary>
    public static HttpRule AllowAddress(string pattern) => new(true, pattern);

    /// <summary>A rule that refuses what matches (<c>Domain not permitted</c>).</summary>
    public static HttpRule DenyAddress(string pattern) => new(false, pattern);

    /// <summary>Throws <see cref="ArgumentException"/> when the pattern cannot be read.</summary>
    public void Validate() => Parse();

    internal AddressRule Parse()
    {
        var parsed = AddressRules.parse(Allow ? RuleAction.Allow : RuleAction.Deny, Pattern);
        if (parsed.IsError) throw new ArgumentException(parsed.ErrorValue, nameof(Pattern));
        return parsed.ResultValue;
    }
}

public sealed partial record ComputerOptions
{
    /// <summary>
    /// Address rules for <c>http.request</c>, <c>http.websocket</c> and <c>http.checkURL</c>, tried
    /// in order before the defaults (deny <c>$private</c>, allow everything else); the first that
    /// matches the host name or a resolved address decides.
    /// </summary>
    public IReadOnlyList<HttpRule> HttpRules { get; init; } = [];

    /// <summary>Outbound HTTP requests running at once (CC:Tweaked: 16); more wait their turn.</summary>
    public int MaxHttpRequests { get; init; } = 16;

    /// <summary>Client WebSockets open or connecting at once (CC:Tweaked: 4).</summary>
    public int MaxClientWebSockets { get; init; } = 4;

    /// <summary>Largest response body an outbound request accepts (CC:Tweaked: 16 MiB).</summary>
    public long MaxHttpDownloadBytes { get; init; } = 16L * 1024 * 1024;

    /// <summary>Largest request body a script may send (CC:Tweaked: 4 MiB).</summary>
    public long MaxHttpUploadBytes { get; init; } = 4L * 1024 * 1024;

    /// <summary>
    /// Certificates the http client trusts as roots besides the system's: a private CA, or a
    /// test's self-signed certificate. A server whose name does not match its certificate is
    /// still refused.
    /// </summary>
    public IReadOnlyList<System.Security.Cryptography.X509Certificates.X509Certificate2> HttpTrustedCertificates { get; init; } = [];

    /// <summary>An outbound request's or WebSocket handshake's timeout when the script gives none.</summary>
    public TimeSpan HttpTimeout { get; init; } = TimeSpan.FromSeconds(30);

    internal void ValidateHttp()
    {
        if (MaxHttpRequests <= 0) throw new ArgumentOutOfRangeException(nameof(MaxHttpRequests), MaxHttpRequests, "must be positive");
        if (MaxClientWebSockets < 0) throw new ArgumentOutOfRangeException(nameof(MaxClientWebSockets), MaxClientWebSockets, "must not be negative");
        if (MaxHttpDownloadBytes <= 0) throw new ArgumentOutOfRangeException(nameof(MaxHttpDownloadBytes), MaxHttpDownloadBytes, "must be positive");
        if (MaxHttpUploadBytes < 0) throw new ArgumentOutOfRangeException(nameof(MaxHttpUploadBytes), MaxHttpUploadBytes, "must not be negative");
        if (HttpTimeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(HttpTimeout), HttpTimeout, "must be positive");
        foreach (var rule in HttpRules) rule.Parse();
    }

    internal Microsoft.FSharp.Collections.FSharpList<AddressRule> ParsedHttpRules() =>
        Microsoft.FSharp.Collections.ListModule.OfSeq(HttpRules.Select(r => r.Parse()));
}
