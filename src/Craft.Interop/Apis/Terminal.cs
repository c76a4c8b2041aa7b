// The natives behind Lua/term.lua: the computer's one terminal, as a model (cursor, colours,
// size, palette, blink) and a renderer that turns each change into bytes for standard output.
//
//   TerminalModel   the state CraftOS's term API reads and changes; it tells its renderer what
//                   changed and never writes bytes itself.
//   PlainRenderer   standard output is not a terminal (a log, a pipe, a test): text in order,
//                   forward moves pad, other moves end the line (SPEC §7), nothing else written.
//   AnsiRenderer    a terminal: cursor moves, 16 colours and clearing as ANSI escape sequences.
//
// Renderers write into a byte buffer; Terminal (the natives) hands the bytes to the computer's
// output writer after each call. Natives never raise: term.lua checks arguments and raises.

using System.Buffers;
using System.Text;
using KeraLua;

namespace Craft.Interop.Apis;

/// <summary>What a renderer is told about the model's changes. Positions are 1-based, as in
/// CraftOS; colours are palette indices 0 (white) to 15 (black).</summary>
internal abstract class TerminalRenderer
{
    /// <summary>The bytes rendered since the last <see cref="Take"/>.</summary>
    public ArrayBufferWriter<byte> Output { get; } = new();

    /// <summary>Text placed at (x, y), one colour pair per byte. <paramref name="blit"/> when it
    /// came from <c>blit</c> (which windows and paintutils use to draw), not <c>write</c>.</summary>
    public abstract void Write(int x, int y, ReadOnlySpan<byte> text, ReadOnlySpan<byte> fg, ReadOnlySpan<byte> bg, bool blit);

    /// <summary>The cursor moved (setCursorPos).</summary>
    public abstract void Move(int x, int y);

    /// <summary>The print/write newline: the cursor goes to the start of the next row, the screen
    /// scrolling by one when it was on the last (<paramref name="scrolled"/>).</summary>
    public abstract void NewLine(int y, bool scrolled, int bg);

    public abstract void Clear(int bg);
    public abstract void ClearLine(int y, int bg);
    public abstract void Scroll(int n, int bg);
    public abstract void Blink(bool on, int x, int y);

    /// <summary>The computer shuts down: leave the output tidy.</summary>
    public abstract void Finish(int x, int y);

    protected void Emit(ReadOnlySpan<byte> bytes) => Output.Write(bytes);

    protected void Emit(byte b)
    {
        Output.GetSpan(1)[0] = b;
        Output.Advance(1);
    }

    protected void EmitAscii(string text)
    {
        var span = Output.GetSpan(text.Length);
        for (int i = 0; i < text.Length; i++) span[i] = (byte)text[i];
        Output.Advance(text.Length);
    }

    /// <summary>The rendered bytes, and the buffer emptied.</summary>
    public byte[] Take()
    {
        var bytes = Output.WrittenSpan.ToArray();
        Output.ResetWrittenCount();
        return bytes;
    }
}

/// <summary>
/// The rendering for logs (SPEC §7): the text written appears in order. Moving forward on the row
/// being written pads with spaces (lazily, at the next text, so lines never end in padding); a
/// move to another row ends the line with one newline if something was written on it; a move
/// back on the same row ends it too, unless the text then written there is what the line already
/// shows (text drawn over itself, as windows redraw, is not repeated). A line rewritten in place
/// shows again as it now reads, on a line of its own. Clearing, scrolling, colours and blink
/// write nothing; so do the blanks of a blit (how windows and paintutils clear).
/// </summary>
internal sealed class PlainRenderer : TerminalRenderer
{
    private const byte Space = (byte)' ';

    // The output line being written: its bytes (column 1 first) and the model's row it shows.
    private readonly List<byte> _line = new();
    private int _row;
    private bool Dirty => _line.Count > 0;

    private void EndLine()
    {
        if (!Dirty) return;
        Emit((byte)'\n');
        _line.Clear();
    }

    public override void Write(int x, int y, ReadOnlySpan<byte> text, ReadOnlySpan<byte> fg, ReadOnlySpan<byte> bg, bool blit)
    {
        if (blit)
        {
            // Blanks around a blit's text are not text: leave them out.
            int start = 0, end = text.Length;
            while (start < end && text[start] == Space) start++;
            while (end > start && text[end - 1] == Space) end--;
            if (start == end) return;
            text = text[start..end];
            x += start;
        }
        if (text.IsEmpty) return;
        int col = Math.Max(x, 1) - 1; // 0-based column in the line
        if (Dirty && y == _row && col < _line.Count)
        {
            // Back on this row: the part that is already there is not written again.
            int overlap = Math.Min(text.Length, _line.Count - col);
            if (text[..overlap].SequenceEqual(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_line).Slice(col, overlap)))
            {
                Append(text[overlap..]);
                return;
            }
            // Rewritten in place: the row again, as it now reads, on a line of its own.
            var before = _line.GetRange(0, col).ToArray();
            EndLine();
            Append(before);
            Append(text);
            _row = y;
            return;
        }
        if (Dirty && y != _row) EndLine();
        if (!Dirty) _row = y;
        while (_line.Count < col) Append([Space]);
        Append(text);
    }

    private void Append(ReadOnlySpan<byte> text)
    {
        Emit(text);
        foreach (var b in text) _line.Add(b);
    }

    public override void Move(int x, int y)
    {
        if (Dirty && y != _row) EndLine();
    }

    public override void NewLine(int y, bool scrolled, int bg)
    {
        // print's newline is text: it is written even when the line is empty.
        Emit((byte)'\n');
        _line.Clear();
    }

    public override void Clear(int bg) { }
    public override void ClearLine(int y, int bg) { }

    public override void Scroll(int n, int bg)
    {
        // The row being written moved with the screen.
        if (Dirty) _row -= n;
    }

    public override void Blink(bool on, int x, int y) { }

    public override void Finish(int x, int y)
    {
        // The cursor left the line for good: end it, as the next text would have.
        if (Dirty && (y != _row || x - 1 < _line.Count)) EndLine();
    }
}

/// <summary>
/// The rendering for a terminal: the screen is cleared on the first output, then every change
/// is drawn where it happens with ANSI escape sequences (CUP moves, SGR colours, ED/EL clears,
/// SU/SD scrolls). CraftOS's 16 colours map onto the terminal's 16.
/// </summary>
internal sealed class AnsiRenderer : TerminalRenderer
{
    /// <summary>The SGR foreground code for each CraftOS colour (background: +10).</summary>
    internal static readonly int[] Sgr =
    [
        97, // white
        33, // orange
        95, // magenta
        94, // lightBlue
        93, // yellow
        92, // lime
        95, // pink
        90, // gray
        37, // lightGray
        36, // cyan
        35, // purple
        34, // blue
        33, // brown
        32, // green
        31, // red
        30, // black
    ];

    private readonly int _width, _height;
    private bool _started;
    // Where the terminal's own cursor is (0: unknown) and its current colours (-1: unknown).
    private int _cx, _cy;
    private int _fg = -1, _bg = -1;
    private bool _blink;
    private int _lowest;

    public AnsiRenderer(int width, int height)
    {
        _width = width;
        _height = height;
    }

    private void Start()
    {
        if (_started) return;
        _started = true;
        EmitAscii("\x1b[0m\x1b[2J\x1b[H\x1b[?25l");
        _cx = _cy = 1;
        _fg = _bg = -1;
    }

    private void GoTo(int x, int y)
    {
        if (x == _cx && y == _cy) return;
        EmitAscii($"\x1b[{y};{x}H");
        _cx = x;
        _cy = y;
    }

    private void Colours(int fg, int bg)
    {
        if (fg == _fg && bg == _bg) return;
        EmitAscii($"\x1b[{Sgr[fg & 15]};{Sgr[bg & 15] + 10}m");
        _fg = fg;
        _bg = bg;
    }

    public override void Write(int x, int y, ReadOnlySpan<byte> text, ReadOnlySpan<byte> fg, ReadOnlySpan<byte> bg, bool blit)
    {
        if (y < 1 || y > _height) return;
        // Only what falls on the screen; the terminal must never wrap or scroll by itself.
        int from = Math.Max(0, 1 - x), to = Math.Min(text.Length, _width - x + 1);
        if (from >= to) return;
        Start();
        GoTo(x + from, y);
        for (int i = from; i < to; i++)
        {
            Colours(fg[i], bg[i]);
            var b = text[i];
            Emit(b == (byte)'\t' ? (byte)' ' : b < 32 || b == 127 ? (byte)'?' : b);
        }
        _cx = x + to;
        _lowest = Math.Max(_lowest, y);
        CursorAfter();
    }

    private int _wantX = 1, _wantY = 1;

    // With the cursor shown, the terminal's cursor sits where CraftOS's is.
    private void CursorAfter()
    {
        if (_blink && _wantX >= 1 && _wantX <= _width && _wantY >= 1 && _wantY <= _height) GoTo(_wantX, _wantY);
    }

    public override void Move(int x, int y)
    {
        _wantX = x;
        _wantY = y;
        if (_started) CursorAfter();
    }

    public override void NewLine(int y, bool scrolled, int bg)
    {
        if (scrolled) Scroll(1, bg);
        Move(1, y);
    }

    public override void Clear(int bg)
    {
        Start();
        Colours(_fg < 0 ? 0 : _fg, bg);
        EmitAscii("\x1b[2J");
        CursorAfter();
    }

    public override void ClearLine(int y, int bg)
    {
        if (y < 1 || y > _height) return;
        Start();
        Colours(_fg < 0 ? 0 : _fg, bg);
        GoTo(1, y);
        EmitAscii("\x1b[2K");
        CursorAfter();
    }

    public override void Scroll(int n, int bg)
    {
        if (n == 0) return;
        Start();
        Colours(_fg < 0 ? 0 : _fg, bg);
        EmitAscii(n > 0 ? $"\x1b[{Math.Min(n, _height)}S" : $"\x1b[{Math.Min(-n, _height)}T");
        CursorAfter();
    }

    public override void Blink(bool on, int x, int y)
    {
        if (on == _blink) return;
        _blink = on;
        _wantX = x;
        _wantY = y;
        Start();
        EmitAscii(on ? "\x1b[?25h" : "\x1b[?25l");
        CursorAfter();
    }

    public override void Finish(int x, int y)
    {
        if (!_started) return;
        // Leave the terminal as it was found: default colours, cursor shown, below what was drawn.
        EmitAscii("\x1b[0m\x1b[?25h");
        _fg = _bg = -1;
        int row = Math.Max(_lowest, 1);
        _cx = _cy = 0;
        GoTo(1, row);
        EmitAscii("\r\n");
    }
}

/// <summary>The terminal's state: what CraftOS's term functions read and change.</summary>
internal sealed class TerminalModel
{
    /// <summary>CraftOS's default palette, as 0xRRGGBB, white (0) to black (15).</summary>
    internal static readonly int[] DefaultPalette =
    [
        0xF0F0F0, 0xF2B233, 0xE57FD8, 0x99B2F2, 0xDEDE6C, 0x7FCC19, 0xF2B2CC, 0x4C4C4C,
        0x999999, 0x4C99B2, 0xB266E5, 0x3366CC, 0x7F664C, 0x57A64E, 0xCC4C4C, 0x111111,
    ];

    private readonly TerminalRenderer _renderer;
    private byte[] _fgRun = new byte[64], _bgRun = new byte[64];

    public TerminalModel(TerminalRenderer renderer, int width, int height)
    {
        _renderer = renderer;
        Width = width;
        Height = height;
        for (int i = 0; i < 16; i++)
        {
            var rgb = DefaultPalette[i];
            Palette[i * 3] = ((rgb >> 16) & 0xFF) / 255.0;
            Palette[i * 3 + 1] = ((rgb >> 8) & 0xFF) / 255.0;
            Palette[i * 3 + 2] = (rgb & 0xFF) / 255.0;
        }
    }

    public TerminalRenderer Renderer => _renderer;
    public int Width { get; }
    public int Height { get; }
    public int X { get; private set; } = 1;
    public int Y { get; private set; } = 1;
    public int TextColour { get; set; }
    public int BackgroundColour { get; set; } = 15;
    public bool CursorBlink { get; private set; }
    public double[] Palette { get; } = new double[48];

    public void Write(ReadOnlySpan<byte> text)
    {
        if (_fgRun.Length < text.Length)
        {
            _fgRun = new byte[text.Length];
            _bgRun = new byte[text.Length];
        }
        var fg = _fgRun.AsSpan(0, text.Length);
        var bg = _bgRun.AsSpan(0, text.Length);
        fg.Fill((byte)TextColour);
        bg.Fill((byte)BackgroundColour);
        _renderer.Write(X, Y, text, fg, bg, blit: false);
        X += text.Length;
    }

    /// <summary>blit: fg and bg hold palette indices, one per byte of text.</summary>
    public void Blit(ReadOnlySpan<byte> text, ReadOnlySpan<byte> fg, ReadOnlySpan<byte> bg)
    {
        _renderer.Write(X, Y, text, fg, bg, blit: true);
        X += text.Length;
    }

    public void SetCursorPos(int x, int y)
    {
        if (x == X && y == Y) return;
        X = x;
        Y = y;
        _renderer.Move(x, y);
    }

    /// <summary>The newline of print and write: the next row, scrolling at the bottom.</summary>
    public void NewLine()
    {
        bool scrolled = Y >= Height;
        if (!scrolled) Y++;
        else Y = Height;
        X = 1;
        _renderer.NewLine(Y, scrolled, BackgroundColour);
    }

    public void Clear() => _renderer.Clear(BackgroundColour);

    public void ClearLine() => _renderer.ClearLine(Y, BackgroundColour);

    public void Scroll(int n)
    {
        if (n != 0) _renderer.Scroll(n, BackgroundColour);
    }

    public void SetCursorBlink(bool on)
    {
        CursorBlink = on;
        _renderer.Blink(on, X, Y);
    }

    public void Finish() => _renderer.Finish(X, Y);
}

/// <summary>The term natives for one computer: a model, its renderer, and the writer the
/// rendered bytes go to.</summary>
internal sealed class Terminal
{
    /// <summary>The plain rendering's size, CraftOS's computer screen (SPEC §7).</summary>
    public const int PlainWidth = 51, PlainHeight = 19;

    private readonly TerminalModel _model;
    private readonly TextWriter _output;
    private readonly List<LuaFunction> _natives = new();

    public Terminal(TerminalKind kind, TextWriter output)
    {
        _output = output;
        IsAnsi = kind == TerminalKind.Ansi || (kind == TerminalKind.Auto && Detect(output));
        if (IsAnsi)
        {
            var (w, h) = RealSize();
            _model = new TerminalModel(new AnsiRenderer(w, h), w, h);
        }
        else
        {
            _model = new TerminalModel(new PlainRenderer(), PlainWidth, PlainHeight);
        }
    }

    public bool IsAnsi { get; }

    public TerminalModel Model => _model;

    /// <summary>Auto: ANSI when the output is the process's console and that is a terminal.</summary>
    private static bool Detect(TextWriter output)
    {
        try
        {
            return ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected
                && Environment.GetEnvironmentVariable("TERM") is not ("dumb" or "");
        }
        catch
        {
            return false;
        }
    }

    private static (int, int) RealSize()
    {
        try
        {
            if (!Console.IsOutputRedirected && Console.WindowWidth > 0 && Console.WindowHeight > 0)
                return (Console.WindowWidth, Console.WindowHeight);
        }
        catch
        {
            // No console: CraftOS's size.
        }
        return (PlainWidth, PlainHeight);
    }

    /// <summary>Hands what was rendered to the output writer.</summary>
    public void Flush()
    {
        var output = _model.Renderer.Output;
        if (output.WrittenCount == 0) return;
        _output.Write(Encoding.UTF8.GetString(output.WrittenSpan));
        output.ResetWrittenCount();
    }

    private bool _finished;

    /// <summary>The computer shuts down (once).</summary>
    public void Finish()
    {
        if (_finished) return;
        _finished = true;
        try
        {
            _model.Finish();
            Flush();
        }
        catch
        {
            // A closed output must not take the shutdown down.
        }
    }

    // ---- Natives ----

    /// <summary>Pushes the table of term natives onto <paramref name="l"/>'s stack.</summary>
    public void Push(Lua l)
    {
        var table = NativeTable.Push(l, _natives);
        void Add(string name, Func<Lua, int> body) => table.Add(name, p => Call(p, body));

        Add("write", s =>
        {
            _model.Write(LuaRuntime.StringSpan(s, 1));
            Flush();
            return 0;
        });
        // blit(text, fg, bg): fg and bg already checked (same length, hex digits).
        Add("blit", s =>
        {
            var text = LuaRuntime.StringSpan(s, 1);
            var fgText = LuaRuntime.StringSpan(s, 2);
            var bgText = LuaRuntime.StringSpan(s, 3);
            var fg = new byte[text.Length];
            var bg = new byte[text.Length];
            for (int i = 0; i < text.Length; i++)
            {
                fg[i] = Hex(i < fgText.Length ? fgText[i] : (byte)'0', _model.TextColour);
                bg[i] = Hex(i < bgText.Length ? bgText[i] : (byte)'f', _model.BackgroundColour);
            }
            _model.Blit(text, fg, bg);
            Flush();
            return 0;
        });
        // The newline of print and write (bios.lua), on the native terminal.
        Add("newLine", s =>
        {
            _model.NewLine();
            Flush();
            return 0;
        });
        Add("clear", s =>
        {
            _model.Clear();
            Flush();
            return 0;
        });
        Add("clearLine", s =>
        {
            _model.ClearLine();
            Flush();
            return 0;
        });
        Add("getCursorPos", s =>
        {
            s.PushInteger(_model.X);
            s.PushInteger(_model.Y);
            return 2;
        });
        Add("setCursorPos", s =>
        {
            _model.SetCursorPos(Int(s, 1), Int(s, 2));
            Flush();
            return 0;
        });
        Add("setCursorBlink", s =>
        {
            _model.SetCursorBlink(s.ToBoolean(1));
            Flush();
            return 0;
        });
        Add("getCursorBlink", s =>
        {
            s.PushBoolean(_model.CursorBlink);
            return 1;
        });
        Add("getSize", s =>
        {
            s.PushInteger(_model.Width);
            s.PushInteger(_model.Height);
            return 2;
        });
        Add("scroll", s =>
        {
            _model.Scroll(Int(s, 1));
            Flush();
            return 0;
        });
        // Colours cross as palette indices 0..15 (term.lua converts CraftOS's bit values).
        Add("setTextColour", s =>
        {
            _model.TextColour = Int(s, 1) & 15;
            return 0;
        });
        Add("getTextColour", s =>
        {
            s.PushInteger(_model.TextColour);
            return 1;
        });
        Add("setBackgroundColour", s =>
        {
            _model.BackgroundColour = Int(s, 1) & 15;
            return 0;
        });
        Add("getBackgroundColour", s =>
        {
            s.PushInteger(_model.BackgroundColour);
            return 1;
        });
        Add("setPaletteColour", s =>
        {
            int i = Int(s, 1) & 15;
            for (int c = 0; c < 3; c++) _model.Palette[i * 3 + c] = Math.Clamp(s.ToNumber(2 + c), 0, 1);
            return 0;
        });
        Add("getPaletteColour", s =>
        {
            int i = Int(s, 1) & 15;
            for (int c = 0; c < 3; c++) s.PushNumber(_model.Palette[i * 3 + c]);
            return 3;
        });
        Add("nativePaletteColour", s =>
        {
            var rgb = TerminalModel.DefaultPalette[Int(s, 1) & 15];
            s.PushNumber(((rgb >> 16) & 0xFF) / 255.0);
            s.PushNumber(((rgb >> 8) & 0xFF) / 255.0);
            s.PushNumber((rgb & 0xFF) / 255.0);
            return 3;
        });
        Add("rendering", s =>
        {
            s.PushString(IsAnsi ? "ansi" : "plain");
            return 1;
        });
    }

    private static int Int(Lua s, int index)
    {
        var n = s.ToNumber(index);
        if (double.IsNaN(n)) return 0;
        return (int)Math.Clamp(Math.Floor(n), int.MinValue / 2, int.MaxValue / 2);
    }

    private static byte Hex(byte c, int fallback) => c switch
    {
        >= (byte)'0' and <= (byte)'9' => (byte)(c - '0'),
        >= (byte)'a' and <= (byte)'f' => (byte)(c - 'a' + 10),
        >= (byte)'A' and <= (byte)'F' => (byte)(c - 'A' + 10),
        _ => (byte)fallback,
    };

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
            s.PushNil();
            s.PushString("internal error: " + e.Message);
            return 2;
        }
    }
}
