// /rom: Craft's read-only directory, served from the Lua files embedded under Lua/rom/ (resource
// names "Craft.Rom/<relative path>"). It is built once per process.

namespace Craft.Interop.Apis;

internal static class Rom
{
    private const string Prefix = "Craft.Rom/";

    /// <summary>Files by clean path ("rom/modules/main/cc/expect.lua").</summary>
    public static readonly IReadOnlyDictionary<string, byte[]> Files = Load();

    /// <summary>Directories by clean path ("rom", "rom/modules", ...).</summary>
    public static readonly IReadOnlySet<string> Directories = DirectoriesOf(Files.Keys);

    private static Dictionary<string, byte[]> Load()
    {
        var files = new Dictionary<string, byte[]>(StringComparer.OrdinalIgnoreCase);
        var assembly = typeof(Rom).Assembly;
        foreach (var name in assembly.GetManifestResourceNames())
        {
            if (!name.StartsWith(Prefix, StringComparison.Ordinal)) continue;
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            files["rom/" + name[Prefix.Length..].Replace('\\', '/')] = copy.ToArray();
        }
        return files;
    }

    private static HashSet<string> DirectoriesOf(IEnumerable<string> files)
    {
        var dirs = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { "rom" };
        foreach (var file in files)
        {
            var dir = file;
            while (dir.LastIndexOf('/') is var slash and > 0)
            {
                dir = dir[..slash];
                dirs.Add(dir);
            }
        }
        return dirs;
    }

    public static bool IsDirectory(string clean) => Directories.Contains(clean);

    public static bool Exists(string clean) => Directories.Contains(clean) || Files.ContainsKey(clean);

    /// <summary>The names directly inside a ROM directory.</summary>
    public static List<string> List(string clean)
    {
        var prefix = clean + "/";
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var path in Files.Keys.Concat(Directories))
        {
            if (!path.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)) continue;
            var rest = path[prefix.Length..];
            if (rest.Length > 0 && !rest.Contains('/')) names.Add(rest);
        }
        return names.ToList();
    }
}
