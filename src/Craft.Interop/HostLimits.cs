// Defaults that depend on the machine the computer runs on.

namespace Craft.Interop;

internal static class HostLimits
{
    /// <summary>
    /// The connection limit's default: the process's file-descriptor limit (the soft one, read
    /// from /proc/self/limits) less an eighth of it, and at least 64, kept for everything else
    /// the process opens (its own files, the runtime, outbound sockets). Without a limit to read
    /// (another system), 10,000.
    /// </summary>
    public static int DefaultMaxConnections()
    {
        long? descriptors = null;
        try
        {
            foreach (var line in File.ReadLines("/proc/self/limits"))
            {
                if (!line.StartsWith("Max open files", StringComparison.Ordinal)) continue;
                var fields = line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length > 0 && long.TryParse(fields[0], out var soft)) descriptors = soft;
                break;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }

        if (descriptors is not { } n) return 10_000;
        long reserve = Math.Max(64, n / 8);
        return (int)Math.Clamp(n - reserve, 16, int.MaxValue);
    }
}
