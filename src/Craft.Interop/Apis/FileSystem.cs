// The natives behind Lua/fs.lua: CC:Tweaked's fs API over the computer's sandboxed root (see
// Sandbox.cs for what may be touched) and /rom, with open-file handles and the space quota.
//
// Protocol: every native returns `true, values...` or `false, message` and never raises; fs.lua
// raises CC:Tweaked's errors. Paths arrive as Lua bytes and are read as UTF-8 for the host.

using System.Text;
using KeraLua;

namespace Craft.Interop.Apis;

internal sealed class FileSystem : IDisposable
{
    /// <summary>CC:Tweaked's default maximum of open files.</summary>
    public const int MaxOpenFiles = 128;

    public const string Closed = "attempt to use a closed file";

    private readonly Sandbox _sandbox;
    private readonly long? _capacity;
    private long? _used;
    private readonly Dictionary<long, Handle> _handles = new();
    private long _nextHandle;

    // Keeps the native delegates alive as long as the Lua state can call them.
    private readonly List<LuaFunction> _natives = new();

    private sealed class Handle(Stream stream, string? host)
    {
        public Stream Stream { get; } = stream;
        public string? Host { get; } = host;
    }

    public FileSystem(string? root, long? capacity)
    {
        _sandbox = new Sandbox(root);
        _capacity = capacity;
    }

    public Sandbox Sandbox => _sandbox;

    /// <summary>Files open now.</summary>
    public int OpenFiles => _handles.Count;

    /// <summary>Closes every open file (the computer shuts down).</summary>
    public void Dispose()
    {
        foreach (var handle in _handles.Values)
        {
            try { handle.Stream.Dispose(); } catch { }
        }
        _handles.Clear();
    }

    // ---- Registration ----

    /// <summary>Pushes the table of fs natives onto <paramref name="l"/>'s stack.</summary>
    public void Push(Lua l)
    {
        var table = NativeTable.Push(l, _natives);
        void Add(string name, Func<Lua, int> body) => table.Add(name, p => Call(p, body));

        Add("sanitize", s =>
        {
            PushPath(s, Sandbox.Sanitize(Arg(s, 1), s.ToBoolean(2)));
            return 1;
        });
        Add("list", List);
        Add("exists", s => Bool(s, Exists(Arg(s, 1))));
        Add("isDir", s => Bool(s, IsDir(Arg(s, 1))));
        Add("isReadOnly", s => Bool(s, IsReadOnly(Arg(s, 1))));
        Add("getSize", GetSize);
        Add("getFreeSpace", GetFreeSpace);
        Add("getCapacity", GetCapacity);
        Add("getDrive", GetDrive);
        Add("makeDir", MakeDir);
        Add("delete", Delete);
        Add("move", Move);
        Add("copy", Copy);
        Add("attributes", Attributes);
        Add("open", Open);
        Add("read", Read);
        Add("readLine", ReadLine);
        Add("readAll", ReadAll);
        Add("write", Write);
        Add("seek", Seek);
        Add("flush", Flush);
        Add("close", Close);
    }

    private static int Call(IntPtr p, Func<Lua, int> body)
    {
        var s = Lua.FromIntPtr(p);
        try
        {
            return body(s);
        }
        catch (Exception e)
        {
            s.SetTop(0);
            return Fail(s, e is UnauthorizedAccessException ? "Access denied" : e.Message);
        }
    }

    // ---- Values ----

    private static string Arg(Lua s, int index)
    {
        var bytes = s.Type(index) == LuaType.String ? s.ToBuffer(index, false) : null;
        return bytes is null ? "" : Encoding.UTF8.GetString(bytes);
    }

    private static void PushPath(Lua s, string path) => s.PushBuffer(Encoding.UTF8.GetBytes(path));

    private static int Fail(Lua s, string message)
    {
        s.PushBoolean(false);
        PushPath(s, message);
        return 2;
    }

    private static int Ok(Lua s)
    {
        s.PushBoolean(true);
        return 1;
    }

    private static int Bool(Lua s, bool value)
    {
        s.PushBoolean(true);
        s.PushBoolean(value);
        return 2;
    }

    private static int Number(Lua s, long value)
    {
        s.PushBoolean(true);
        s.PushInteger(value);
        return 2;
    }

    // ---- Queries ----

    private bool Exists(string path)
    {
        if (!_sandbox.TryMap(path, out var m, out _)) return false;
        if (m.IsRom) return Rom.Exists(m.Path);
        if (m.Real is null) return m.Path.Length == 0;
        return File.Exists(m.Real) || Directory.Exists(m.Real);
    }

    private bool IsDir(string path)
    {
        if (!_sandbox.TryMap(path, out var m, out _)) return false;
        if (m.IsRom) return Rom.IsDirectory(m.Path);
        if (m.Real is null) return m.Path.Length == 0;
        return Directory.Exists(m.Real);
    }

    private bool IsReadOnly(string path)
    {
        if (!_sandbox.TryMap(path, out var m, out var error)) return !error.EndsWith("Invalid Path", StringComparison.Ordinal);
        if (m.IsRom || m.Real is null) return true;
        return File.Exists(m.Real) && new FileInfo(m.Real).IsReadOnly;
    }

    /// <summary>Maps a path that must exist; on failure pushes the message and returns false.</summary>
    private bool Existing(string path, out Mapped m, out string error)
    {
        if (!_sandbox.TryMap(path, out m, out error)) return false;
        bool exists = m.IsRom ? Rom.Exists(m.Path)
            : m.Real is null ? m.Path.Length == 0
            : File.Exists(m.Real) || Directory.Exists(m.Real);
        if (!exists) error = m.Shown + ": No such file";
        return exists;
    }

    /// <summary>Maps a path to be written: not in /rom, not in an unwritable root.</summary>
    private bool Writable(string path, out Mapped m, out string error)
    {
        if (!_sandbox.TryMap(path, out m, out error)) return false;
        if (m.IsRom || m.Real is null)
        {
            error = m.Shown + ": Access denied";
            return false;
        }
        return true;
    }

    private int List(Lua s)
    {
        if (!_sandbox.TryMap(Arg(s, 1), out var m, out var error)) return Fail(s, error);
        List<string> names;
        if (m.IsRom)
        {
            if (!Rom.IsDirectory(m.Path)) return Fail(s, m.Shown + ": Not a directory");
            names = Rom.List(m.Path);
        }
        else if (m.Real is null)
        {
            if (m.Path.Length != 0) return Fail(s, m.Shown + ": Not a directory");
            names = new List<string>();
        }
        else
        {
            if (!Directory.Exists(m.Real)) return Fail(s, m.Shown + ": Not a directory");
            names = new DirectoryInfo(m.Real).EnumerateFileSystemInfos().Select(i => i.Name).ToList();
        }
        // /rom is always there, and shadows a host folder of that name.
        if (m.Path.Length == 0)
        {
            names.RemoveAll(n => n.Equals("rom", StringComparison.OrdinalIgnoreCase));
            names.Add("rom");
        }
        names.Sort(StringComparer.Ordinal);
        s.PushBoolean(true);
        s.CreateTable(names.Count, 0);
        for (int i = 0; i < names.Count; i++)
        {
            PushPath(s, names[i]);
            s.RawSetInteger(-2, i + 1);
        }
        return 2;
    }

    private int GetSize(Lua s)
    {
        if (!Existing(Arg(s, 1), out var m, out var error)) return Fail(s, error);
        if (m.IsRom) return Number(s, Rom.Files.TryGetValue(m.Path, out var bytes) ? bytes.Length : 0);
        if (m.Real is null || Directory.Exists(m.Real)) return Number(s, 0);
        return Number(s, new FileInfo(m.Real).Length);
    }

    private int GetFreeSpace(Lua s)
    {
        if (!_sandbox.TryMap(Arg(s, 1), out var m, out var error)) return Fail(s, error);
        if (m.IsRom || _sandbox.Root is null) return Number(s, 0);
        return Number(s, FreeSpace());
    }

    private int GetCapacity(Lua s)
    {
        if (!_sandbox.TryMap(Arg(s, 1), out var m, out var error)) return Fail(s, error);
        if (m.IsRom) { s.PushBoolean(true); s.PushNil(); return 2; }
        if (_sandbox.Root is null) return Number(s, 0);
        return Number(s, _capacity ?? new DriveInfo(_sandbox.Root).TotalSize);
    }

    private int GetDrive(Lua s)
    {
        if (!Existing(Arg(s, 1), out var m, out _)) { s.PushBoolean(true); s.PushNil(); return 2; }
        s.PushBoolean(true);
        s.PushString(m.IsRom ? "rom" : "hdd");
        return 2;
    }

    private int Attributes(Lua s)
    {
        if (!Existing(Arg(s, 1), out var m, out var error)) return Fail(s, error);
        long size = 0, created = 0, modified = 0;
        bool dir, readOnly;
        if (m.IsRom)
        {
            dir = Rom.IsDirectory(m.Path);
            size = Rom.Files.TryGetValue(m.Path, out var bytes) ? bytes.Length : 0;
            readOnly = true;
        }
        else if (m.Real is null)
        {
            dir = true;
            readOnly = true;
        }
        else
        {
            FileSystemInfo info = Directory.Exists(m.Real) ? new DirectoryInfo(m.Real) : new FileInfo(m.Real);
            dir = info is DirectoryInfo;
            if (info is FileInfo file)
            {
                size = file.Length;
                readOnly = file.IsReadOnly;
            }
            else readOnly = false;
            created = new DateTimeOffset(info.CreationTimeUtc).ToUnixTimeMilliseconds();
            modified = new DateTimeOffset(info.LastWriteTimeUtc).ToUnixTimeMilliseconds();
        }
        s.PushBoolean(true);
        s.CreateTable(0, 6);
        s.PushInteger(size); s.SetField(-2, "size");
        s.PushBoolean(dir); s.SetField(-2, "isDir");
        s.PushBoolean(readOnly); s.SetField(-2, "isReadOnly");
        s.PushInteger(created); s.SetField(-2, "created");
        s.PushInteger(modified); s.SetField(-2, "modified");
        s.PushInteger(modified); s.SetField(-2, "modification");
        return 2;
    }

    // ---- Space ----

    private static long SizeOf(string real)
    {
        if (File.Exists(real)) return new FileInfo(real).Length;
        if (!Directory.Exists(real)) return 0;
        var options = new EnumerationOptions
        {
            RecurseSubdirectories = true,
            IgnoreInaccessible = true,
            AttributesToSkip = FileAttributes.ReparsePoint,
        };
        long total = 0;
        foreach (var file in new DirectoryInfo(real).EnumerateFiles("*", options)) total += file.Length;
        return total;
    }

    /// <summary>Bytes used under the root, counted once when a capacity is set, then kept up to date.</summary>
    private long Used => _used ??= _sandbox.Root is null ? 0 : SizeOf(_sandbox.Root);

    private long FreeSpace()
    {
        if (_capacity is { } capacity) return Math.Max(0, capacity - Used);
        try { return new DriveInfo(_sandbox.Root!).AvailableFreeSpace; } catch { return 0; }
    }

    /// <summary>Whether <paramref name="grow"/> more bytes fit; when they do, they are counted.</summary>
    private bool Take(long grow)
    {
        if (grow <= 0 || _capacity is not { } capacity) return true;
        if (Used + grow > capacity) return false;
        _used = Used + grow;
        return true;
    }

    private void Release(long bytes)
    {
        if (_capacity is null || bytes <= 0) return;
        _used = Math.Max(0, Used - bytes);
    }

    private static bool IsOutOfSpace(IOException e) =>
        e.HResult is 28 or 0x70 or unchecked((int)0x80070070) || e.Message.Contains("space", StringComparison.OrdinalIgnoreCase);

    // ---- Changes ----

    private int MakeDir(Lua s)
    {
        if (!Writable(Arg(s, 1), out var m, out var error)) return Fail(s, error);
        if (File.Exists(m.Real)) return Fail(s, m.Shown + ": File exists");
        Directory.CreateDirectory(m.Real!);
        return Ok(s);
    }

    private int Delete(Lua s)
    {
        if (!_sandbox.TryMap(Arg(s, 1), out var m, out var error)) return Fail(s, error);
        if (m.IsRom || m.Real is null || m.Path.Length == 0) return Fail(s, m.Shown + ": Access denied");
        var target = m.Lexical!;
        var link = new FileInfo(target).LinkTarget is not null;
        if (link)
        {
            File.Delete(target);
        }
        else if (Directory.Exists(target))
        {
            var size = _capacity is null ? 0 : SizeOf(target);
            Directory.Delete(target, true);
            Release(size);
        }
        else if (File.Exists(target))
        {
            var size = new FileInfo(target).Length;
            File.Delete(target);
            Release(size);
        }
        return Ok(s);
    }

    /// <summary>CC:Tweaked's FileSystem.contains: whether clean path b is a or lies under a.</summary>
    private static bool Contains(string a, string b)
    {
        a = a.ToLowerInvariant();
        b = b.ToLowerInvariant();
        if (b == ".." || b.StartsWith("../", StringComparison.Ordinal)) return false;
        return b == a || a.Length == 0 || b.StartsWith(a + "/", StringComparison.Ordinal);
    }

    private int Move(Lua s)
    {
        if (!_sandbox.TryMap(Arg(s, 1), out var from, out var error)) return Fail(s, error);
        if (!_sandbox.TryMap(Arg(s, 2), out var to, out error)) return Fail(s, error);
        if (from.IsRom || to.IsRom || from.Real is null || to.Real is null || from.Path.Length == 0)
            return Fail(s, "Access denied");
        if (!File.Exists(from.Real) && !Directory.Exists(from.Real)) return Fail(s, "No such file");
        if (File.Exists(to.Real) || Directory.Exists(to.Real)) return Fail(s, "File exists");
        if (Contains(from.Path, to.Path)) return Fail(s, "Can't move a directory inside itself");
        Directory.CreateDirectory(Path.GetDirectoryName(to.Lexical!)!);
        if (Directory.Exists(from.Lexical) && new FileInfo(from.Lexical!).LinkTarget is null)
            Directory.Move(from.Lexical!, to.Lexical!);
        else
            File.Move(from.Lexical!, to.Lexical!);
        return Ok(s);
    }

    private int Copy(Lua s)
    {
        if (!_sandbox.TryMap(Arg(s, 1), out var from, out var error)) return Fail(s, error);
        if (!Writable(Arg(s, 2), out var to, out error)) return Fail(s, error);
        if (!Exists(from.Path)) return Fail(s, from.Shown + ": No such file");
        if (File.Exists(to.Real) || Directory.Exists(to.Real)) return Fail(s, to.Shown + ": File exists");
        if (Contains(from.Path, to.Path)) return Fail(s, from.Shown + ": Can't copy a directory inside itself");
        return CopyTree(from.Path, to.Path, 0) is { } problem ? Fail(s, problem) : Ok(s);
    }

    // Copies clean path `from` to clean path `to`, mapping every entry again (a link inside the
    // tree that leads outside is refused like any other path). Null, or the failure message.
    private string? CopyTree(string from, string to, int depth)
    {
        if (depth >= 128) return "Too many directories to copy";
        if (!_sandbox.TryMap(from, out var source, out var error)) return error;
        if (!Writable(to, out var target, out error)) return error;
        if (IsDir(from))
        {
            Directory.CreateDirectory(target.Real!);
            var children = source.IsRom ? Rom.List(source.Path)
                : source.Real is null ? new List<string>()
                : new DirectoryInfo(source.Real).EnumerateFileSystemInfos().Select(i => i.Name).ToList();
            foreach (var child in children)
            {
                if (CopyTree(from + "/" + child, to + "/" + child, depth + 1) is { } problem) return problem;
            }
            return null;
        }

        byte[] bytes = source.IsRom ? Rom.Files[source.Path] : File.ReadAllBytes(source.Real!);
        if (!Take(bytes.Length)) return "Out of space";
        Directory.CreateDirectory(Path.GetDirectoryName(target.Real!)!);
        File.WriteAllBytes(target.Real!, bytes);
        return null;
    }

    // ---- Open files ----

    private int Open(Lua s)
    {
        var path = Arg(s, 1);
        var mode = Arg(s, 2).Replace("b", "");
        if (_handles.Count >= MaxOpenFiles) return Fail(s, "Too many files already open");
        if (!_sandbox.TryMap(path, out var m, out var error)) return Fail(s, error);

        Stream stream;
        if (mode == "r")
        {
            if (m.IsRom)
            {
                if (!Rom.Files.TryGetValue(m.Path, out var bytes)) return Fail(s, m.Shown + ": No such file");
                stream = new MemoryStream(bytes, writable: false);
            }
            else
            {
                if (m.Real is null || !File.Exists(m.Real)) return Fail(s, m.Shown + ": No such file");
                stream = new FileStream(m.Real, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            }
        }
        else
        {
            if (m.IsRom || m.Real is null) return Fail(s, m.Shown + ": Access denied");
            if (Directory.Exists(m.Real)) return Fail(s, m.Shown + ": Cannot write to directory");
            bool exists = File.Exists(m.Real);
            if (mode == "r+" && !exists) return Fail(s, m.Shown + ": No such file");
            Directory.CreateDirectory(Path.GetDirectoryName(m.Real)!);
            if ((mode is "w" or "w+") && exists) Release(new FileInfo(m.Real).Length);
            const FileShare share = FileShare.ReadWrite | FileShare.Delete;
            stream = mode switch
            {
                "w" => new FileStream(m.Real, FileMode.Create, FileAccess.Write, share),
                "a" => new FileStream(m.Real, FileMode.Append, FileAccess.Write, share),
                "w+" => new FileStream(m.Real, FileMode.Create, FileAccess.ReadWrite, share),
                _ => new FileStream(m.Real, FileMode.Open, FileAccess.ReadWrite, share),
            };
        }

        var id = ++_nextHandle;
        _handles[id] = new Handle(stream, m.Real);
        return Number(s, id);
    }

    private Handle? Find(Lua s) => s.IsInteger(1) && _handles.TryGetValue(s.ToInteger(1), out var h) ? h : null;

    // read(id, count, asByte): one byte as a number, or up to count bytes; true, nil at the end.
    private int Read(Lua s)
    {
        if (Find(s) is not { } h) return Fail(s, Closed);
        var stream = h.Stream;
        if (s.ToBoolean(3))
        {
            int b = stream.ReadByte();
            s.PushBoolean(true);
            if (b < 0) s.PushNil(); else s.PushInteger(b);
            return 2;
        }
        long count = s.IsInteger(2) ? s.ToInteger(2) : 1;
        if (count < 0) return Fail(s, "Cannot read a negative number of bytes");
        s.PushBoolean(true);
        if (count == 0)
        {
            if (stream.Position >= stream.Length) s.PushNil(); else s.PushString("");
            return 2;
        }
        var buffer = new byte[(int)Math.Min(count, Math.Max(0, Math.Min(stream.Length - stream.Position, int.MaxValue - 64)))];
        int total = 0;
        while (total < buffer.Length)
        {
            int n = stream.Read(buffer, total, buffer.Length - total);
            if (n <= 0) break;
            total += n;
        }
        if (total == 0) s.PushNil(); else LuaRuntime.PushSpan(s, buffer.AsSpan(0, total));
        return 2;
    }

    // readLine(id, withTrailing): a line without its "\n" (and a "\r" before it), as CC:Tweaked.
    private int ReadLine(Lua s)
    {
        if (Find(s) is not { } h) return Fail(s, Closed);
        bool trailing = s.ToBoolean(2);
        var line = new MemoryStream();
        bool any = false, cr = false;
        while (true)
        {
            int b = h.Stream.ReadByte();
            if (b < 0)
            {
                if (cr) line.WriteByte((byte)'\r');
                break;
            }
            any = true;
            if (b == '\n')
            {
                if (trailing)
                {
                    if (cr) line.WriteByte((byte)'\r');
                    line.WriteByte((byte)'\n');
                }
                break;
            }
            if (cr) line.WriteByte((byte)'\r');
            cr = b == '\r';
            if (!cr) line.WriteByte((byte)b);
        }
        s.PushBoolean(true);
        if (!any) s.PushNil(); else LuaRuntime.PushSpan(s, line.GetBuffer().AsSpan(0, (int)line.Length));
        return 2;
    }

    private int ReadAll(Lua s)
    {
        if (Find(s) is not { } h) return Fail(s, Closed);
        var stream = h.Stream;
        if (stream.CanSeek)
        {
            // A file: read what remains straight into one pooled buffer of its size.
            long left = Math.Max(0, stream.Length - stream.Position);
            var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent((int)Math.Min(left, int.MaxValue - 64) + 1);
            try
            {
                int read = 0, n;
                while ((n = stream.Read(buffer, read, buffer.Length - read)) > 0)
                {
                    read += n;
                    if (read == buffer.Length) break; // grew meanwhile: the rest below
                }
                if (read == buffer.Length)
                {
                    var more = new MemoryStream();
                    more.Write(buffer, 0, read);
                    stream.CopyTo(more);
                    s.PushBoolean(true);
                    LuaRuntime.PushSpan(s, more.GetBuffer().AsSpan(0, (int)more.Length));
                    return 2;
                }
                s.PushBoolean(true);
                LuaRuntime.PushSpan(s, buffer.AsSpan(0, read));
                return 2;
            }
            finally
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
            }
        }
        var rest = new MemoryStream();
        stream.CopyTo(rest);
        s.PushBoolean(true);
        LuaRuntime.PushSpan(s, rest.GetBuffer().AsSpan(0, (int)rest.Length));
        return 2;
    }

    // write(id, bytes): all of them, or none with "Out of space".
    private int Write(Lua s)
    {
        if (Find(s) is not { } h) return Fail(s, Closed);
        var bytes = s.ToBuffer(2, false) ?? [];
        var stream = h.Stream;
        if (!stream.CanWrite) return Fail(s, "file is not writable");
        long position = stream is FileStream { CanSeek: true } ? stream.Position : stream.Length;
        long grow = position + bytes.Length - stream.Length;
        if (!Take(grow)) return Fail(s, "Out of space");
        try
        {
            stream.Write(bytes);
        }
        catch (IOException e) when (IsOutOfSpace(e))
        {
            return Fail(s, "Out of space");
        }
        return Ok(s);
    }

    private int Seek(Lua s)
    {
        if (Find(s) is not { } h) return Fail(s, Closed);
        var whence = s.Type(2) == LuaType.String ? s.ToString(2) : "cur";
        long offset = s.IsInteger(3) ? s.ToInteger(3) : s.IsNumber(3) ? (long)s.ToNumber(3) : 0;
        var stream = h.Stream;
        if (!stream.CanSeek) return Fail(s, "file is not seekable");
        long target = whence switch
        {
            "set" => offset,
            "end" => stream.Length + offset,
            _ => stream.Position + offset,
        };
        if (target < 0) return Fail(s, "Position is negative");
        stream.Position = target;
        return Number(s, target);
    }

    private int Flush(Lua s)
    {
        if (Find(s) is not { } h) return Fail(s, Closed);
        h.Stream.Flush();
        return Ok(s);
    }

    private int Close(Lua s)
    {
        if (Find(s) is not { } h) return Fail(s, Closed);
        _handles.Remove(s.ToInteger(1));
        h.Stream.Dispose();
        return Ok(s);
    }
}
