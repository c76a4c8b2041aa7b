// The natives behind textutils.serializeJSON / unserializeJSON (Lua/textutils.lua): the same JSON
// writer and reader as the Lua ones, byte for byte and error for error, reading and building Lua
// values directly.
//
// The Lua versions stay the reference (tests/Craft.Tests/JsonTests.fs compares the two over
// generated values, options and documents). A native answers only what it can decide exactly:
//   serialize(value, nbt, unicode, reps, empty_json_array, json_null)
//       -> true, text | false, message (the error the Lua writer raises, at level 0) | nil
//   parse(text, nbt, parse_null, parse_empty, empty_json_array, json_null)
//       -> true, value | false, message (the Lua reader's "Malformed JSON ..." result) | nil
// nil means "undecided": textutils.lua then runs the Lua version, which gives the answer. That is
// the case for tables with a metatable (other than the two sentinels: __pairs/__index change
// what the Lua writer sees), nesting deeper than MaxDepth, array parts longer than MaxArray,
// strings that are not UTF-8 in unicode_strings mode (the Lua writer raises utf8.codes' error),
// floats whose 14-digit rounding is an exact tie or that are subnormal, a Lua stack that cannot
// grow, and any .NET exception. Natives never raise a Lua error and never yield (DESIGN.md); no script code runs.
//
// Strings are bytes: they are read in place (lua_tolstring) and pushed with lua_pushlstring.
// Tables are filled in the order the Lua reader fills them (and nil stores too), so the same
// document gives tables that iterate in the same order.

using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Runtime.InteropServices;
using KeraLua;

namespace Craft.Interop.Apis;

internal sealed unsafe class Json
{
    /// <summary>Deeper nesting is left to the Lua versions (the C# recursion stays small).</summary>
    public const int MaxDepth = 200;

    /// <summary>Array parts (highest numeric key) above this are left to the Lua writer.</summary>
    public const int MaxArray = 1 << 20;

    // Output buffers above this size are not kept between calls.
    private const int KeepBuffer = 1 << 20;

    // Keeps the native delegates alive as long as the Lua state can call them.
    private readonly List<LuaFunction> _natives = new();

    private byte[] _out = new byte[4096];
    private int _len;
    private readonly Dictionary<IntPtr, bool> _marks = new();

    // Per call: the sentinels and options.
    private IntPtr _emptyArray, _null;
    private bool _nbt, _unicode, _reps;
    private string? _error;

    // ---- Registration ----

    /// <summary>Pushes the table of JSON natives onto <paramref name="l"/>'s stack.</summary>
    public void Push(Lua l)
    {
        var table = NativeTable.Push(l, _natives);
        void Add(string name, LuaFunction f) => table.Add(name, f);

        Add("serialize", Serialize);
        Add("parse", Parse);
    }

    // ---- Lua C API (blittable, no marshalling) ----
    // SuppressGCTransition only on calls that neither allocate through Lua's collector (so run no
    // __gc finalizer, which could call back into .NET) nor run for long: reads, stack moves and
    // pushes of non-collectable values. lua_tolstring is only called on strings (no conversion).
    // Table creation, string pushes, rawset and checkstack keep the normal transition.

    private const string Lib = "lua54";
    private const int TNil = 0, TBoolean = 1, TLightUserdata = 2, TNumber = 3, TString = 4, TTable = 5, TFunction = 6, TUserdata = 7, TThread = 8;

    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl), SuppressGCTransition] private static extern int lua_gettop(IntPtr l);
    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl), SuppressGCTransition] private static extern void lua_settop(IntPtr l, int idx);
    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] private static extern int lua_checkstack(IntPtr l, int n);
    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl), SuppressGCTransition] private static extern int lua_type(IntPtr l, int idx);
    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl), SuppressGCTransition] private static extern int lua_isinteger(IntPtr l, int idx);
    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl), SuppressGCTransition] private static extern long lua_tointegerx(IntPtr l, int idx, IntPtr isnum);
    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl), SuppressGCTransition] private static extern double lua_tonumberx(IntPtr l, int idx, IntPtr isnum);
    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl), SuppressGCTransition] private static extern int lua_toboolean(IntPtr l, int idx);
    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl), SuppressGCTransition] private static extern byte* lua_tolstring(IntPtr l, int idx, UIntPtr* len);
    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl), SuppressGCTransition] private static extern IntPtr lua_topointer(IntPtr l, int idx);
    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl), SuppressGCTransition] private static extern int lua_getmetatable(IntPtr l, int idx);
    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl), SuppressGCTransition] private static extern int lua_next(IntPtr l, int idx);
    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl), SuppressGCTransition] private static extern int lua_rawgeti(IntPtr l, int idx, long n);
    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] private static extern void lua_rawseti(IntPtr l, int idx, long n);
    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] private static extern void lua_rawset(IntPtr l, int idx);
    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] private static extern void lua_createtable(IntPtr l, int narr, int nrec);
    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl), SuppressGCTransition] private static extern void lua_pushnil(IntPtr l);
    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl), SuppressGCTransition] private static extern void lua_pushboolean(IntPtr l, int b);
    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl), SuppressGCTransition] private static extern void lua_pushinteger(IntPtr l, long n);
    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl), SuppressGCTransition] private static extern void lua_pushnumber(IntPtr l, double n);
    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] private static extern IntPtr lua_pushlstring(IntPtr l, byte* s, UIntPtr len);
    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl), SuppressGCTransition] private static extern void lua_pushvalue(IntPtr l, int idx);
    [DllImport(Lib, CallingConvention = CallingConvention.Cdecl), SuppressGCTransition] private static extern void lua_copy(IntPtr l, int from, int to);

    private static void PushBytes(IntPtr l, ReadOnlySpan<byte> bytes)
    {
        fixed (byte* p = bytes) lua_pushlstring(l, p, (UIntPtr)bytes.Length);
    }

    private static void PushAscii(IntPtr l, string text)
    {
        Span<byte> bytes = text.Length <= 256 ? stackalloc byte[text.Length] : new byte[text.Length];
        for (int i = 0; i < text.Length; i++) bytes[i] = (byte)text[i];
        PushBytes(l, bytes);
    }

    /// <summary>The message as bytes (messages carry document bytes one char per byte).</summary>
    private static void PushMessage(IntPtr l, string message) => PushAscii(l, message);

    /// <summary>Not decided here: textutils.lua runs the Lua version.</summary>
    private static int Undecided(IntPtr l, int top)
    {
        lua_settop(l, top);
        lua_pushnil(l);
        return 1;
    }

    private sealed class UndecidedException : Exception;

    private static readonly UndecidedException Undecide = new();

    // ================================================================================= writer ==

    private int Serialize(IntPtr l)
    {
        const int top = 6;
        try
        {
            lua_settop(l, top);
            _nbt = lua_toboolean(l, 2) != 0;
            _unicode = lua_toboolean(l, 3) != 0;
            _reps = lua_toboolean(l, 4) != 0;
            _emptyArray = lua_type(l, 5) == TTable ? lua_topointer(l, 5) : IntPtr.Zero;
            _null = lua_type(l, 6) == TTable ? lua_topointer(l, 6) : IntPtr.Zero;
            _len = 0;
            _error = null;
            _marks.Clear();
            lua_pushvalue(l, 1);
            bool ok = WriteValue(l, 0);
            lua_settop(l, top);
            if (ok)
            {
                lua_pushboolean(l, 1);
                PushBytes(l, _out.AsSpan(0, _len));
            }
            else
            {
                lua_pushboolean(l, 0);
                PushMessage(l, _error!);
            }
            return 2;
        }
        catch (Exception)
        {
            return Undecided(l, top);
        }
        finally
        {
            _marks.Clear();
            if (_out.Length > KeepBuffer) _out = new byte[4096];
        }
    }

    private void Grow(int extra)
    {
        int want = Math.Max(_out.Length * 2, _len + extra);
        Array.Resize(ref _out, want);
    }

    private void Put(byte b)
    {
        if (_len == _out.Length) Grow(1);
        _out[_len++] = b;
    }

    private void Put(ReadOnlySpan<byte> bytes)
    {
        if (_len + bytes.Length > _out.Length) Grow(bytes.Length);
        bytes.CopyTo(_out.AsSpan(_len));
        _len += bytes.Length;
    }

    private static string TypeName(int t) => t switch
    {
        TNil => "nil",
        TBoolean => "boolean",
        TLightUserdata or TUserdata => "userdata",
        TNumber => "number",
        TString => "string",
        TTable => "table",
        TFunction => "function",
        TThread => "thread",
        _ => "no value",
    };

    /// <summary>Writes the value on top of the stack (and leaves it there). False with
    /// <see cref="_error"/> set: the error the Lua writer raises.</summary>
    private bool WriteValue(IntPtr l, int depth)
    {
        int t = lua_type(l, -1);
        switch (t)
        {
            case TString:
                WriteString(l, -1);
                return true;
            case TNumber:
                WriteNumber(l, -1);
                return true;
            case TBoolean:
                Put(lua_toboolean(l, -1) != 0 ? "true"u8 : "false"u8);
                return true;
            case TTable:
            {
                var p = lua_topointer(l, -1);
                if (p == _emptyArray) { Put("[]"u8); return true; }
                if (p == _null) { Put("null"u8); return true; }
                return WriteTable(l, p, depth + 1);
            }
            default:
                _error = "Cannot serialize type " + TypeName(t);
                return false;
        }
    }

    private bool WriteTable(IntPtr l, IntPtr self, int depth)
    {
        if (depth > MaxDepth) throw Undecide;
        if (lua_getmetatable(l, -1) != 0) throw Undecide; // __pairs / __index: the Lua writer
        if (lua_checkstack(l, 6) == 0) throw Undecide;
        if (_marks.TryGetValue(self, out var visiting))
        {
            _error = visiting
                ? "Cannot serialize table with recursive entries"
                : "Cannot serialize table with repeated entries";
            return false;
        }
        _marks[self] = true;

        int fields = 0;
        double highest = 0; // the highest numeric key below infinity (all kept are <= MaxArray)
        int table = lua_gettop(l);
        lua_pushnil(l);
        while (lua_next(l, table) != 0)
        {
            // key at -2, value at -1
            int kt = lua_type(l, -2);
            if (kt == TString)
            {
                Put(fields == 0 ? (byte)'{' : (byte)',');
                fields++;
                if (_nbt) Put(Span(l, -2)); else WriteString(l, -2);
                Put((byte)':');
                if (!WriteValue(l, depth)) return false;
            }
            else if (kt == TNumber)
            {
                if (lua_isinteger(l, -2) != 0)
                {
                    long k = lua_tointegerx(l, -2, IntPtr.Zero);
                    if (k > MaxArray) throw Undecide;
                    if (k > highest) highest = k;
                }
                else
                {
                    double k = lua_tonumberx(l, -2, IntPtr.Zero);
                    if (k > highest && k < double.PositiveInfinity)
                    {
                        if (k > MaxArray) throw Undecide;
                        highest = k;
                    }
                }
            }
            // Keys of any other type are dropped, as in CraftOS.
            lua_settop(l, -2); // pop the value, keep the key
        }

        long last = (long)Math.Floor(highest);
        if (fields > 0)
        {
            // An object. The array part is still written (and thrown away): its type and
            // repetition errors are the Lua writer's.
            if (last >= 1)
            {
                int keep = _len;
                for (long i = 1; i <= last; i++)
                {
                    if (lua_rawgeti(l, table, i) != TNil && !WriteValue(l, depth)) return false;
                    lua_settop(l, -2);
                }
                _len = keep;
            }
            Put((byte)'}');
        }
        else if (last >= 1)
        {
            Put((byte)'[');
            for (long i = 1; i <= last; i++)
            {
                if (i > 1) Put((byte)',');
                if (lua_rawgeti(l, table, i) == TNil) Put("null"u8);
                else if (!WriteValue(l, depth)) return false;
                lua_settop(l, -2);
            }
            Put((byte)']');
        }
        else
        {
            Put("{}"u8);
        }

        if (_reps) _marks.Remove(self); else _marks[self] = false;
        return true;
    }

    private static ReadOnlySpan<byte> Span(IntPtr l, int idx)
    {
        UIntPtr len;
        var p = lua_tolstring(l, idx, &len);
        return new ReadOnlySpan<byte>(p, (int)len);
    }

    private static ReadOnlySpan<byte> Hex => "0123456789ABCDEF"u8;

    private void PutU(int unit)
    {
        if (_len + 6 > _out.Length) Grow(6);
        var o = _out;
        o[_len] = (byte)'\\';
        o[_len + 1] = (byte)'u';
        o[_len + 2] = Hex[(unit >> 12) & 15];
        o[_len + 3] = Hex[(unit >> 8) & 15];
        o[_len + 4] = Hex[(unit >> 4) & 15];
        o[_len + 5] = Hex[unit & 15];
        _len += 6;
    }

    // Bytes written as they are: printable ASCII except '"' and '\'.
    private static bool Plain(byte b) => b >= 0x20 && b < 0x7F && b != '"' && b != '\\';

    private void PutEscapedAscii(byte b)
    {
        switch (b)
        {
            case (byte)'"': Put("\\\""u8); break;
            case (byte)'\\': Put("\\\\"u8); break;
            case (byte)'\b': Put("\\b"u8); break;
            case (byte)'\f': Put("\\f"u8); break;
            case (byte)'\n': Put("\\n"u8); break;
            case (byte)'\r': Put("\\r"u8); break;
            case (byte)'\t': Put("\\t"u8); break;
            default: PutU(b); break;
        }
    }

    private void WriteString(IntPtr l, int idx)
    {
        var s = Span(l, idx);
        if (_unicode && s.IndexOfAnyInRange((byte)0x80, (byte)0xFF) >= 0)
        {
            WriteUnicodeString(s);
            return;
        }
        if (_len + s.Length + 2 > _out.Length) Grow(s.Length + 2);
        _out[_len++] = (byte)'"';
        int i = 0;
        while (i < s.Length)
        {
            int start = i;
            while (i < s.Length && Plain(s[i])) i++;
            if (i > start) Put(s[start..i]);
            if (i < s.Length) PutEscapedAscii(s[i++]);
        }
        Put((byte)'"');
    }

    // unicode_strings: code points from strict UTF-8 (utf8.codes), anything else is undecided.
    private void WriteUnicodeString(ReadOnlySpan<byte> s)
    {
        Put((byte)'"');
        int i = 0;
        while (i < s.Length)
        {
            int b = s[i];
            int cp, n;
            if (b < 0x80) { cp = b; n = 1; }
            else if (b >= 0xC2 && b <= 0xDF) { cp = b & 0x1F; n = 2; }
            else if (b >= 0xE0 && b <= 0xEF) { cp = b & 0x0F; n = 3; }
            else if (b >= 0xF0 && b <= 0xF4) { cp = b & 0x07; n = 4; }
            else throw Undecide;
            if (i + n > s.Length) throw Undecide;
            for (int j = 1; j < n; j++)
            {
                int c = s[i + j];
                if ((c & 0xC0) != 0x80) throw Undecide;
                cp = (cp << 6) | (c & 0x3F);
            }
            if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))
                throw Undecide;
            i += n;
            if (cp >= 0x10000)
            {
                int v = cp - 0x10000;
                PutU(0xD800 + (v >> 10));
                PutU(0xDC00 + (v & 0x3FF));
            }
            else if (cp < 0x80)
            {
                if (Plain((byte)cp)) Put((byte)cp); else PutEscapedAscii((byte)cp);
            }
            else
            {
                PutU(cp);
            }
        }
        Put((byte)'"');
    }

    private void WriteNumber(IntPtr l, int idx)
    {
        if (_len + 32 > _out.Length) Grow(32);
        if (lua_isinteger(l, idx) != 0)
        {
            Utf8Formatter.TryFormat(lua_tointegerx(l, idx, IntPtr.Zero), _out.AsSpan(_len), out int written);
            _len += written;
            return;
        }
        _len += FormatFloat(lua_tonumberx(l, idx, IntPtr.Zero), _out.AsSpan(_len));
    }

    /// <summary>CraftOS's number text of a float, as textutils.lua's number_text: "nan", "inf",
    /// "-inf", "0" for both zeros, otherwise C's "%.14g". Throws <see cref="Undecide"/> when the
    /// 14-digit rounding is a tie that needs the exact binary value, and for subnormal numbers.</summary>
    internal static int FormatFloat(double v, Span<byte> dest)
    {
        if (double.IsNaN(v)) return Copy("nan"u8, dest);
        if (double.IsPositiveInfinity(v)) return Copy("inf"u8, dest);
        if (double.IsNegativeInfinity(v)) return Copy("-inf"u8, dest);
        if (v == 0) return Copy("0"u8, dest);

        // Subnormal numbers carry fewer than 53 bits: their shortest digits may be fewer than
        // what rounding them to 14 digits shows (5e-324 is "4.9406564584125e-324").
        if (Math.Abs(v) < 2.2250738585072014E-308) throw Undecide;
        // The shortest digits that read back as v (normal numbers: 53 bits). If they are 14 or fewer, they are what "%.14g"
        // rounds v to (v is within half an ulp of them, far less than half a step of 14
        // digits); with 16 or 17, rounding them gives the same as rounding v; with exactly 15
        // ending in 5, v may sit on either side of the tie (or on it): undecided.
        Span<char> text = stackalloc char[40];
        if (!v.TryFormat(text, out int n, "R", CultureInfo.InvariantCulture)) throw Undecide;
        var r = text[..n];

        bool negative = r[0] == '-';
        if (negative) r = r[1..];
        int exp = 0;
        int e = r.IndexOfAny('E', 'e');
        if (e >= 0)
        {
            exp = int.Parse(r[(e + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            r = r[..e];
        }
        Span<byte> digits = stackalloc byte[40];
        int count = 0, point = 0;
        bool seenPoint = false;
        foreach (var ch in r)
        {
            if (ch == '.') { seenPoint = true; continue; }
            if (count == 0 && ch == '0')
            {
                if (seenPoint) point--;
                continue;
            }
            digits[count++] = (byte)ch;
            if (!seenPoint) point++;
        }
        point += exp; // value = 0.digits * 10^point
        while (count > 0 && digits[count - 1] == '0') count--;

        if (count > 14)
        {
            if (count == 15 && digits[14] == '5') throw Undecide;
            bool up = digits[14] >= '5';
            count = 14;
            if (up)
            {
                int i = 13;
                while (i >= 0 && digits[i] == '9') { digits[i] = (byte)'0'; i--; }
                if (i < 0)
                {
                    digits[0] = (byte)'1';
                    count = 1;
                    point++;
                }
                else
                {
                    digits[i]++;
                }
            }
            while (count > 0 && digits[count - 1] == '0') count--;
        }

        int x = point - 1; // the decimal exponent of the first digit
        int o = 0;
        if (negative) dest[o++] = (byte)'-';
        if (x < -4 || x >= 14)
        {
            dest[o++] = digits[0];
            if (count > 1)
            {
                dest[o++] = (byte)'.';
                for (int i = 1; i < count; i++) dest[o++] = digits[i];
            }
            dest[o++] = (byte)'e';
            dest[o++] = x < 0 ? (byte)'-' : (byte)'+';
            int ax = Math.Abs(x);
            if (ax >= 100) dest[o++] = (byte)('0' + ax / 100);
            dest[o++] = (byte)('0' + ax / 10 % 10);
            dest[o++] = (byte)('0' + ax % 10);
        }
        else if (point <= 0)
        {
            dest[o++] = (byte)'0';
            dest[o++] = (byte)'.';
            for (int i = 0; i < -point; i++) dest[o++] = (byte)'0';
            for (int i = 0; i < count; i++) dest[o++] = digits[i];
        }
        else
        {
            for (int i = 0; i < Math.Max(count, point); i++)
            {
                if (i == point) dest[o++] = (byte)'.';
                dest[o++] = i < count ? digits[i] : (byte)'0';
            }
        }
        return o;
    }

    private static int Copy(ReadOnlySpan<byte> text, Span<byte> dest)
    {
        text.CopyTo(dest);
        return text.Length;
    }

    // ================================================================================= reader ==

    private int Parse(IntPtr l)
    {
        const int top = 6;
        try
        {
            lua_settop(l, top);
            if (lua_type(l, 1) != TString) return Undecided(l, top);
            var reader = new Reader(l, Span(l, 1))
            {
                Nbt = lua_toboolean(l, 2) != 0,
                ParseNull = lua_toboolean(l, 3) != 0,
                ParseEmpty = lua_toboolean(l, 4) != 0,
            };
            if (reader.Run(out var message))
            {
                // Stack: args, value.
                lua_pushboolean(l, 1);
                lua_pushvalue(l, top + 1);
                return 2;
            }
            lua_settop(l, top);
            lua_pushboolean(l, 0);
            PushMessage(l, message!);
            return 2;
        }
        catch (Exception)
        {
            return Undecided(l, top);
        }
    }

    /// <summary>The Lua reader's failure: a position (0-based here) and a message.</summary>
    private sealed class Failure(int pos, string message) : Exception
    {
        public int Pos { get; } = pos;
        public string Text { get; } = message;
    }

    /// <summary>textutils.lua's quote: CraftOS's %q of a piece of the document.</summary>
    private static string Quote(ReadOnlySpan<byte> s)
    {
        var sb = new System.Text.StringBuilder(s.Length + 2);
        sb.Append('"');
        foreach (var b in s)
        {
            switch (b)
            {
                case (byte)'"': sb.Append("\\\""); break;
                case (byte)'\\': sb.Append("\\\\"); break;
                case (byte)'\n': sb.Append("\\\n"); break;
                case (byte)'\r': sb.Append("\\r"); break;
                case 0: sb.Append("\\000"); break;
                default: sb.Append((char)b); break;
            }
        }
        sb.Append('"');
        return sb.ToString();
    }

    private ref struct Reader
    {
        private readonly IntPtr _l;
        private readonly ReadOnlySpan<byte> _s;
        public bool Nbt, ParseNull, ParseEmpty;
        private byte[]? _scratch;

        public Reader(IntPtr l, ReadOnlySpan<byte> s)
        {
            _l = l;
            _s = s;
        }

        private readonly int At(int pos) => pos < _s.Length ? _s[pos] : -1;

        private static Failure Fail(int pos, string message) => new(pos, message);

        private readonly Failure FailExpected(int pos, string wanted)
        {
            var shown = pos >= _s.Length ? "end of input" : Quote(_s.Slice(pos, 1));
            return Fail(pos, "Unexpected " + shown + ", expected " + wanted + ".");
        }

        private readonly int Skip(int pos)
        {
            while (pos < _s.Length)
            {
                byte c = _s[pos];
                if (c != ' ' && c != '\n' && c != '\r' && c != '\t') break;
                pos++;
            }
            return pos;
        }

        /// <summary>Pushes the document's value; false and the message when it is malformed.</summary>
        public bool Run(out string? message)
        {
            try
            {
                int pos = Value(Skip(0), 0);
                pos = Skip(pos);
                if (pos < _s.Length)
                {
                    message = $"Malformed JSON at position {pos + 1}: Unexpected trailing character {Quote(_s.Slice(pos, 1))}.";
                    return false;
                }
                message = null;
                return true;
            }
            catch (Failure f)
            {
                message = $"Malformed JSON at position {f.Pos + 1}: {f.Text}";
                return false;
            }
        }

        /// <summary>Pushes the value at <paramref name="pos"/> (not whitespace); returns the
        /// position after it.</summary>
        private int Value(int pos, int depth)
        {
            int c = At(pos);
            switch (c)
            {
                case '"':
                    return String(pos + 1, (byte)'"');
                case '{':
                    return Object(pos, depth + 1);
                case '[':
                    return Array(pos, depth + 1);
                case '-' or (>= '0' and <= '9'):
                    return Number(pos);
                case 't':
                    if (pos + 4 <= _s.Length && _s.Slice(pos + 1, 3).SequenceEqual("rue"u8))
                    {
                        lua_pushboolean(_l, 1);
                        return pos + 4;
                    }
                    break;
                case 'f':
                    if (pos + 5 <= _s.Length && _s.Slice(pos + 1, 4).SequenceEqual("alse"u8))
                    {
                        lua_pushboolean(_l, 0);
                        return pos + 5;
                    }
                    break;
                case 'n':
                    if (pos + 4 <= _s.Length && _s.Slice(pos + 1, 3).SequenceEqual("ull"u8))
                    {
                        if (ParseNull) lua_pushvalue(_l, 6); else lua_pushnil(_l);
                        return pos + 4;
                    }
                    break;
                case '\'':
                    if (Nbt) return String(pos + 1, (byte)'\'');
                    break;
                case -1:
                    throw Fail(pos, "Unexpected end of input.");
            }
            throw Fail(pos, "Unexpected character " + Quote(_s.Slice(pos, 1)) + ".");
        }

        private static bool IsHex(int c) => c is >= '0' and <= '9' or >= 'a' and <= 'f' or >= 'A' and <= 'F';

        private static int HexValue(int c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;

        private readonly int Hex4(int pos)
        {
            if (pos + 4 > _s.Length) return -1;
            int v = 0;
            for (int i = 0; i < 4; i++)
            {
                int c = _s[pos + i];
                if (!IsHex(c)) return -1;
                v = (v << 4) | HexValue(c);
            }
            return v;
        }

        /// <summary>Reads a string body (<paramref name="pos"/> just after the opening quote) and
        /// pushes it; returns the position after the closing quote.</summary>
        private int String(int pos, byte closer)
        {
            // The common case: no escapes.
            int start = pos;
            int i = pos;
            while (i < _s.Length)
            {
                byte b = _s[i];
                if (b == closer || b == '\\' || b < 0x20) break;
                i++;
            }
            if (i < _s.Length && _s[i] == closer)
            {
                PushBytes(_l, _s[start..i]);
                return i + 1;
            }

            var buf = _scratch ??= new byte[Math.Max(64, _s.Length - start)];
            int n = 0;
            static void Add(ref byte[] b, ref int len, ReadOnlySpan<byte> piece)
            {
                if (len + piece.Length > b.Length) System.Array.Resize(ref b, Math.Max(b.Length * 2, len + piece.Length));
                piece.CopyTo(b.AsSpan(len));
                len += piece.Length;
            }

            pos = start;
            Span<byte> one = stackalloc byte[4];
            while (true)
            {
                int at = pos;
                while (at < _s.Length)
                {
                    byte b = _s[at];
                    if (b == closer || b == '\\' || b < 0x20) break;
                    at++;
                }
                if (at >= _s.Length) throw Fail(_s.Length, "Unexpected end of input, expected '\"'.");
                if (at > pos)
                {
                    Add(ref buf, ref n, _s[pos..at]);
                    pos = at;
                }
                byte c = _s[pos];
                if (c == closer) break;
                if (c == '\\')
                {
                    int esc = At(pos + 1);
                    if (esc < 0) throw Fail(pos, "Unexpected end of input, expected escape sequence.");
                    if (esc == 'u')
                    {
                        int cp = Hex4(pos + 2);
                        if (cp < 0)
                        {
                            int from = Math.Min(pos + 2, _s.Length), to = Math.Min(pos + 6, _s.Length);
                            throw Fail(pos, "Malformed unicode escape " + Quote(_s[from..to]) + ".");
                        }
                        pos += 6;
                        if (cp >= 0xD800 && cp <= 0xDBFF && At(pos) == '\\' && At(pos + 1) == 'u')
                        {
                            int low = Hex4(pos + 2);
                            if (low >= 0xDC00 && low <= 0xDFFF)
                            {
                                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                                pos += 6;
                            }
                        }
                        Add(ref buf, ref n, one[..Utf8(cp, one)]);
                    }
                    else
                    {
                        byte o = esc switch
                        {
                            'b' => (byte)'\b',
                            'f' => (byte)'\f',
                            'n' => (byte)'\n',
                            'r' => (byte)'\r',
                            't' => (byte)'\t',
                            '"' => (byte)'"',
                            '/' => (byte)'/',
                            '\\' => (byte)'\\',
                            _ => throw Fail(pos + 1, "Unknown escape character " + Quote(_s.Slice(pos + 1, 1)) + "."),
                        };
                        one[0] = o;
                        Add(ref buf, ref n, one[..1]);
                        pos += 2;
                    }
                }
                else
                {
                    throw Fail(pos + 1, "Unescaped whitespace " + Quote(_s.Slice(pos, 1)) + ".");
                }
            }
            _scratch = buf;
            PushBytes(_l, buf.AsSpan(0, n));
            return pos + 1;
        }

        // utf8.char: code points up to 0x10FFFF (surrogates included) in UTF-8's shape.
        private static int Utf8(int cp, Span<byte> o)
        {
            if (cp < 0x80) { o[0] = (byte)cp; return 1; }
            if (cp < 0x800)
            {
                o[0] = (byte)(0xC0 | (cp >> 6));
                o[1] = (byte)(0x80 | (cp & 0x3F));
                return 2;
            }
            if (cp < 0x10000)
            {
                o[0] = (byte)(0xE0 | (cp >> 12));
                o[1] = (byte)(0x80 | ((cp >> 6) & 0x3F));
                o[2] = (byte)(0x80 | (cp & 0x3F));
                return 3;
            }
            o[0] = (byte)(0xF0 | (cp >> 18));
            o[1] = (byte)(0x80 | ((cp >> 12) & 0x3F));
            o[2] = (byte)(0x80 | ((cp >> 6) & 0x3F));
            o[3] = (byte)(0x80 | (cp & 0x3F));
            return 4;
        }

        private static bool IsDigit(int c) => c >= '0' && c <= '9';

        private static bool IsAlpha(int c) => (c | 0x20) >= 'a' && (c | 0x20) <= 'z';

        /// <summary>The number at <paramref name="pos"/>, read as the pattern
        /// "-?%d+%.?%d*[eE]?[+-]?%d*" and tonumber read it.</summary>
        private int Number(int pos)
        {
            int i = pos;
            bool negative = At(i) == '-';
            if (negative) i++;
            int intStart = i;
            while (IsDigit(At(i))) i++;
            int intEnd = i;
            bool matched = intEnd > intStart;
            bool dot = false, exp = false, sign = false;
            int expDigits = 0;
            if (matched)
            {
                if (At(i) == '.') { dot = true; i++; }
                while (IsDigit(At(i))) i++;
                if (At(i) is 'e' or 'E') { exp = true; i++; }
                if (At(i) is '+' or '-') { sign = true; i++; }
                while (IsDigit(At(i))) { i++; expDigits++; }
            }
            bool valid = matched && (exp ? expDigits > 0 : !sign);
            if (!valid)
            {
                int end = pos;
                if (matched) end = i;
                else
                {
                    while (end < _s.Length && (IsDigit(_s[end]) || IsAlpha(_s[end]) || _s[end] is (byte)'.' or (byte)'+' or (byte)'-')) end++;
                }
                throw Fail(pos, "Malformed number " + Quote(_s[pos..end]) + ".");
            }
            var text = _s[pos..i];
            if (!dot && !exp && TryInteger(_s[intStart..intEnd], negative, out long integer))
            {
                lua_pushinteger(_l, integer);
            }
            else if (TryExactFloat(text, out double exact))
            {
                lua_pushnumber(_l, exact);
            }
            else
            {
                if (!Utf8Parser.TryParse(text, out double d, out int used, 'E') || used != text.Length)
                    d = double.Parse(System.Text.Encoding.Latin1.GetString(text), NumberStyles.Float, CultureInfo.InvariantCulture);
                lua_pushnumber(_l, d);
            }
            if (Nbt && At(i) is 'b' or 'B' or 's' or 'S' or 'l' or 'L' or 'f' or 'F' or 'd' or 'D') i++;
            return i;
        }

        // Short decimals ("123.5", "-0.25", "1.5e3"): at most 15 significant digits are an exact
        // double m, and 10^k for k <= 22 is exact too, so one IEEE multiplication or division
        // gives the correctly rounded value, as strtod does. Anything else: the general parser.
        private static readonly double[] Powers10 =
        [
            1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
            1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
        ];

        private static bool TryExactFloat(ReadOnlySpan<byte> text, out double value)
        {
            value = 0;
            int i = 0;
            bool negative = text[0] == '-';
            if (negative) i++;
            long m = 0;
            int digits = 0, scale = 0;
            bool point = false;
            for (; i < text.Length; i++)
            {
                byte b = text[i];
                if (b == '.') { point = true; continue; }
                if (b == 'e' || b == 'E') break;
                if (m != 0 || b != '0') digits++;
                if (digits > 15) return false;
                m = m * 10 + (b - '0');
                if (point) scale--;
            }
            if (i < text.Length)
            {
                i++;
                bool expNegative = false;
                if (text[i] == '+' || text[i] == '-') { expNegative = text[i] == '-'; i++; }
                int e = 0;
                for (; i < text.Length; i++)
                {
                    e = e * 10 + (text[i] - '0');
                    if (e > 400) return false;
                }
                scale += expNegative ? -e : e;
            }
            if (scale < -22 || scale > 22) return false;
            double d = m;
            d = scale < 0 ? d / Powers10[-scale] : d * Powers10[scale];
            value = negative ? -d : d;
            return true;
        }

        // Lua's l_str2int: decimal digits that fit in an integer (the minimum included).
        private static bool TryInteger(ReadOnlySpan<byte> digits, bool negative, out long value)
        {
            const ulong maxBy10 = (ulong)long.MaxValue / 10;
            const int maxLastD = (int)((ulong)long.MaxValue % 10);
            ulong a = 0;
            int neg = negative ? 1 : 0;
            foreach (var b in digits)
            {
                int d = b - '0';
                if (a >= maxBy10 && (a > maxBy10 || d > maxLastD + neg))
                {
                    value = 0;
                    return false;
                }
                a = a * 10 + (ulong)d;
            }
            value = negative ? (long)(0 - a) : (long)a;
            return true;
        }

        /// <summary>Reads an object key at <paramref name="pos"/> (not whitespace) and pushes it;
        /// returns the position of the value after the ':'.</summary>
        private int Key(int pos)
        {
            int c = At(pos);
            if (c == '"')
            {
                pos = String(pos + 1, (byte)'"');
            }
            else if (Nbt && IsAlpha(c))
            {
                int end = pos + 1;
                while (end < _s.Length && (IsAlpha(_s[end]) || IsDigit(_s[end]) || _s[end] == '_')) end++;
                PushBytes(_l, _s[pos..end]);
                pos = end;
            }
            else
            {
                throw FailExpected(pos, "object key");
            }
            pos = Skip(pos);
            if (At(pos) != ':') throw FailExpected(pos, "':'");
            return Skip(pos + 1);
        }

        // Members wait on the stack, up to Batch of them, so that a table is made at its final
        // size instead of growing (a rehash at every power of two); larger ones grow by batches.
        // The table is set in document order, so a repeated key keeps its last value.
        private const int Batch = 32;

        /// <summary>Moves the <paramref name="pending"/> entries above <paramref name="slot"/>
        /// (key and value pairs for an object, values for an array) into the table at
        /// <paramref name="slot"/>, making it on first use with room for them.</summary>
        private readonly void Flush(int slot, bool isObject, int pending, ref long n, ref bool made)
        {
            if (!made)
            {
                lua_createtable(_l, isObject ? 0 : pending, isObject ? pending : 0);
                lua_copy(_l, -1, slot);
                lua_settop(_l, -2);
                made = true;
            }
            int first = slot + 1;
            if (isObject)
            {
                for (int i = 0; i < pending; i++)
                {
                    lua_pushvalue(_l, first + 2 * i);
                    lua_pushvalue(_l, first + 2 * i + 1);
                    lua_rawset(_l, slot);
                }
            }
            else
            {
                for (int i = 0; i < pending; i++)
                {
                    lua_pushvalue(_l, first + i);
                    lua_rawseti(_l, slot, n + i + 1);
                }
                n += pending;
            }
            lua_settop(_l, slot);
        }

        private int Object(int pos, int depth)
        {
            if (depth > MaxDepth) throw Undecide;
            if (lua_checkstack(_l, 2 * Batch + 4) == 0) throw Undecide;
            pos = Skip(pos + 1);
            int c = At(pos);
            if (c == '}')
            {
                lua_createtable(_l, 0, 0);
                return pos + 1;
            }
            if (c < 0) throw Fail(pos, "Unexpected end of input, expected '}'.");
            lua_pushnil(_l);
            int slot = lua_gettop(_l);
            bool made = false;
            long unused = 0;
            int pending = 0;
            pos = Key(pos);
            while (true)
            {
                pos = Value(pos, depth);
                if (++pending == Batch)
                {
                    Flush(slot, true, pending, ref unused, ref made);
                    pending = 0;
                }
                int after = Skip(pos);
                int sep = At(after);
                if (sep == '}')
                {
                    Flush(slot, true, pending, ref unused, ref made);
                    return after + 1;
                }
                if (sep != ',') throw FailExpected(after, "',' or '}'");
                pos = Key(Skip(after + 1));
            }
        }

        private int Array(int pos, int depth)
        {
            if (depth > MaxDepth) throw Undecide;
            if (lua_checkstack(_l, Batch + 4) == 0) throw Undecide;
            pos = Skip(pos + 1);
            int c = At(pos);
            if (Nbt && c is 'I' or 'L' or 'B' && At(pos + 1) == ';')
            {
                pos = Skip(pos + 2);
                c = At(pos);
            }
            if (c < 0) throw FailExpected(pos, "']'");
            if (c == ']')
            {
                if (ParseEmpty) lua_pushvalue(_l, 5); else lua_createtable(_l, 0, 0);
                return pos + 1;
            }
            lua_pushnil(_l);
            int slot = lua_gettop(_l);
            bool made = false;
            long n = 0;
            int pending = 0;
            while (true)
            {
                pos = Value(pos, depth);
                if (++pending == Batch)
                {
                    Flush(slot, false, pending, ref n, ref made);
                    pending = 0;
                }
                int after = Skip(pos);
                int sep = At(after);
                if (sep != ',' && sep != ']') throw FailExpected(after, "',' or ']'");
                pos = Skip(after + 1);
                if (sep == ']')
                {
                    Flush(slot, false, pending, ref n, ref made);
                    return pos;
                }
            }
        }
    }
}
