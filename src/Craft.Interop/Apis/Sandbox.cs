// The computer's file-system sandbox: turns a CraftOS path into a host path under the computer's
// root, or refuses. Every rule about what a script may touch lives here (DESIGN.md: "the sandbox
// rules in one small type that tests can hit directly"):
//
//   - paths are cleaned as CC:Tweaked cleans them (FileSystem.sanitizePath): '\' is '/', the
//     characters " : < > ? | and control characters are dropped, '*' too unless wildcards are
//     allowed, '.' and runs of three or more dots are ignored, '..' removes a segment, segments
//     are trimmed and cut to 255 characters. A path that climbs above the root keeps its leading
//     '..' and is refused ("Invalid Path").
//   - nothing is ever percent-decoded: "%2e%2e" is a name like any other.
//   - after mapping, every symbolic link (and junction) along the path is followed, as realpath
//     does, and the result must lie under the real root; otherwise "Access denied". Links that
//     stay inside are fine. (A link swapped between this check and the use of its result is not
//     caught: the host's own users are trusted not to race the computer.)
//   - /rom is Craft's, read-only, served from embedded resources; it shadows a host folder "rom".

using System.Text;

namespace Craft.Interop.Apis;

/// <summary>Where a CraftOS path leads: the ROM, or a host path under the root.</summary>
internal readonly record struct Mapped(string Path, bool IsRom, string? Real, string? Lexical)
{
    /// <summary>The clean path with a leading slash, as CC:Tweaked's messages show it.</summary>
    public string Shown => "/" + Path;
}

internal sealed class Sandbox
{
    private const int MaxLinkHops = 40;

    /// <summary>The real (links resolved) root directory, or null for an empty root that cannot be written.</summary>
    public string? Root { get; }

    public Sandbox(string? rootDirectory)
    {
        if (rootDirectory is null) return;
        var full = System.IO.Path.GetFullPath(rootDirectory);
        Root = RealPath(full, out var real) ? Trim(real) : Trim(full);
    }

    private static string Trim(string path)
    {
        var root = System.IO.Path.GetPathRoot(path) ?? "";
        return path.Length > root.Length ? path.TrimEnd('/', '\\') : path;
    }

    private static bool IsDotsOnly(string part)
    {
        if (part.Length < 3) return false;
        foreach (var c in part) if (c != '.') return false;
        return true;
    }

    /// <summary>CC:Tweaked's path cleaning. The result has no leading slash; it starts with ".."
    /// when the path climbs above the root.</summary>
    public static string Sanitize(string path, bool wildcards = false)
    {
        var clean = new StringBuilder(path.Length);
        foreach (var raw in path)
        {
            var c = raw == '\\' ? '/' : raw;
            if (c < ' ' || c is '"' or ':' or '<' or '>' or '?' or '|' || (!wildcards && c == '*')) continue;
            clean.Append(c);
        }

        var parts = new List<string>();
        foreach (var full in clean.ToString().Split('/'))
        {
            var part = full.Trim();
            if (part.Length == 0 || part == "." || IsDotsOnly(part)) continue;
            if (part == "..")
            {
                if (parts.Count > 0 && parts[^1] != "..") parts.RemoveAt(parts.Count - 1);
                else parts.Add("..");
            }
            else if (part.Length >= 255)
            {
                parts.Add(part[..255].Trim());
            }
            else
            {
                parts.Add(part);
            }
        }
        return string.Join('/', parts);
    }

    /// <summary>Whether a clean path lies in /rom.</summary>
    public static bool InRom(string clean) =>
        clean.Equals("rom", StringComparison.OrdinalIgnoreCase) || clean.StartsWith("rom/", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Maps a CraftOS path. On success <paramref name="mapped"/> says where it leads: for host
    /// paths, <c>Real</c> is the path with every link followed (what reads, writes and stats use)
    /// and <c>Lexical</c> the real parent directory plus the last name unfollowed (what delete and
    /// move use, so that they act on a link rather than its target). On failure, the message
    /// (CC:Tweaked's: "/../a: Invalid Path", "/a: Access denied").
    /// </summary>
    public bool TryMap(string path, out Mapped mapped, out string error)
    {
        var clean = Sanitize(path);
        mapped = new Mapped(clean, false, null, null);
        error = "";
        if (clean == ".." || clean.StartsWith("../", StringComparison.Ordinal))
        {
            error = "/" + clean + ": Invalid Path";
            return false;
        }
        if (InRom(clean))
        {
            mapped = mapped with { IsRom = true };
            return true;
        }
        if (Root is null)
        {
            // No host directory: only the (empty) root itself exists.
            return true;
        }
        if (clean.Length == 0)
        {
            mapped = mapped with { Real = Root, Lexical = Root };
            return true;
        }

        // The root is a real path already: only what lies below it is walked, the parent first,
        // then the last name from the parent's real path (one readlink per name in all).
        int slash = clean.LastIndexOf('/');
        var name = slash < 0 ? clean : clean[(slash + 1)..];
        var realParent = Root;
        if (slash > 0 && (!Walk(Root, clean[..slash], out realParent) || !Inside(realParent)))
        {
            error = "/" + clean + ": Access denied";
            return false;
        }
        if (!Walk(realParent, name, out var real) || !Inside(real))
        {
            error = "/" + clean + ": Access denied";
            return false;
        }
        mapped = mapped with { Real = real, Lexical = System.IO.Path.Combine(realParent, name) };
        return true;
    }

    /// <summary>Whether a real host path is the root or lies under it.</summary>
    public bool Inside(string real)
    {
        if (Root is null) return false;
        var comparison = OperatingSystem.IsWindows() || OperatingSystem.IsMacOS()
            ? StringComparison.OrdinalIgnoreCase
            : StringComparison.Ordinal;
        if (string.Equals(real, Root, comparison)) return true;
        var prefix = Root.EndsWith(System.IO.Path.DirectorySeparatorChar) ? Root : Root + System.IO.Path.DirectorySeparatorChar;
        return real.StartsWith(prefix, comparison);
    }

    /// <summary>
    /// realpath for paths that may not exist yet: follows every link along an absolute path
    /// (existing components only; the missing tail is kept as written). False on a link loop or
    /// a link that cannot be read.
    /// </summary>
    public static bool RealPath(string absolute, out string real)
    {
        var start = System.IO.Path.GetPathRoot(absolute) ?? "/";
        return Walk(start, absolute[start.Length..], out real);
    }

    /// <summary>
    /// The real path of <paramref name="relative"/> under <paramref name="start"/>, a real path:
    /// every link along it followed (a link's target may lead anywhere: the caller checks where it
    /// ends). False on a link loop or a link that cannot be read.
    /// </summary>
    public static bool Walk(string start, string relative, out string real)
    {
        real = start;
        var pending = new Stack<string>();
        foreach (var part in Reverse(relative)) pending.Push(part);
        var current = start;
        int hops = 0;
        while (pending.Count > 0)
        {
            var part = pending.Pop();
            if (part.Length == 0 || part == ".") continue;
            if (part == "..")
            {
                current = System.IO.Path.GetDirectoryName(current) ?? current;
                continue;
            }
            var next = System.IO.Path.Combine(current, part);
            string? target;
            try
            {
                // One readlink: null when the name is not a link (or does not exist yet).
                target = new FileInfo(next).LinkTarget;
            }
            catch (Exception)
            {
                return false;
            }
            if (target is null)
            {
                current = next;
                continue;
            }
            if (++hops > MaxLinkHops) return false;
            // Follow the link: its target (relative to the link's folder) and then what remained.
            var absoluteTarget = System.IO.Path.IsPathRooted(target) ? target : System.IO.Path.Combine(current, target);
            var targetRoot = System.IO.Path.GetPathRoot(absoluteTarget) ?? "/";
            foreach (var p in Reverse(absoluteTarget[targetRoot.Length..])) pending.Push(p);
            current = targetRoot;
        }
        real = current;
        return true;
    }

    private static IEnumerable<string> Reverse(string relative)
    {
        var parts = relative.Split(System.IO.Path.DirectorySeparatorChar, System.IO.Path.AltDirectorySeparatorChar);
        for (int i = parts.Length - 1; i >= 0; i--) yield return parts[i];
    }
}
