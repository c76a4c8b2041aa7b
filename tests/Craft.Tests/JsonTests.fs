/// textutils' native JSON writer and reader (src/Craft.Interop/Apis/Json.cs) against the Lua ones
/// (textutils.lua, kept as the reference): a differential fuzzer over generated Lua values,
/// options, valid JSON documents and broken ones. Both run in one Lua state, on the same values:
/// the same text or the same error, the same parsed values (types, integer or float, every key
/// and value; not the order `pairs` walks a parsed table, which Lua leaves unspecified: the native
/// reader makes each table at its final size) or the same message.
module Craft.Tests.JsonTests

open System
open System.Text
open Expecto
open FsCheck
open FsCheck.FSharp
open KeraLua

// ---- The Lua state: textutils with the natives, the reference, and the comparing helpers ----

let private helpers =
    """
    T, R, N = ...
    local EA, NULL = T.empty_json_array, T.json_null

    -- A value's full shape: types, integer or float (and the float's bits), string bytes, every
    -- key and value of each table (sorted: the order pairs walks is not part of the value).
    local function dump(v)
        local t = type(v)
        if t == "table" then
            if v == EA then return "<[]>" end
            if v == NULL then return "<null>" end
            local parts = {}
            for k, x in pairs(v) do parts[#parts + 1] = dump(k) .. "=" .. dump(x) end
            table.sort(parts)
            return "{" .. table.concat(parts, ",") .. "}"
        elseif t == "number" then
            if math.type(v) == "integer" then return "i" .. v end
            return "f" .. string.format("%a", v)
        elseif t == "string" then
            return string.format("%q", v)
        end
        return tostring(v)
    end

    local function shown(ok, a, b)
        if not ok then return "error: " .. tostring(a) end
        return dump(a) .. " | " .. tostring(b)
    end

    local function write_options(o)
        if type(o) == "boolean" then return o, nil, nil end
        if type(o) == "table" then return o.nbt_style, o.unicode_strings, o.allow_repetitions end
        return nil, nil, nil
    end

    -- same?, decided by the native?, native's answer, reference's answer
    function check_write(v, o)
        local a = table.pack(pcall(T.serializeJSON, v, o))
        local b = table.pack(pcall(R.serializeJSON, v, o))
        local nbt, unicode, reps = write_options(o)
        local decided = N.serialize(v, nbt, unicode, reps, EA, NULL) ~= nil
        local sa, sb = shown(a[1], a[2]), shown(b[1], b[2])
        return sa == sb and a.n == b.n, decided, sa, sb
    end

    function check_read(s, o)
        local a = table.pack(pcall(T.unserializeJSON, s, o))
        local b = table.pack(pcall(R.unserializeJSON, s, o))
        local nbt, pnull, pempty
        if type(o) == "table" then nbt, pnull, pempty = o.nbt_style, o.parse_null, o.parse_empty_array end
        local decided = N.parse(s, nbt, pnull, pempty ~= false, EA, NULL) ~= nil
        local sa, sb = shown(a[1], a[2], a[3]), shown(b[1], b[2], b[3])
        return sa == sb and a.n == b.n, decided, sa, sb
    end

    -- The reference's JSON text of a value (a valid document), or nil.
    function reference_text(v, o)
        local ok, text = pcall(R.serializeJSON, v, o)
        if ok then return text end
        return nil
    end
    """

/// A Lua state with textutils loaded as the BIOS loads it (the embedded file, the natives).
type private Host() =
    let lua = new Lua(true)
    let json = Craft.Interop.Apis.Json()

    do
        use stream =
            typeof<Craft.Interop.Apis.Json>.Assembly.GetManifestResourceStream("Craft.Lua.textutils.lua")

        use copy = new IO.MemoryStream()
        stream.CopyTo copy

        if lua.LoadBuffer(copy.ToArray(), "@textutils") <> LuaStatus.OK then
            failwithf "textutils.lua: %s" (lua.ToString -1)

        json.Push lua
        lua.PushCopy -1
        lua.SetGlobal "__natives"

        if lua.PCall(1, 2, 0) <> LuaStatus.OK then
            failwithf "textutils.lua: %s" (lua.ToString -1)

        // Stack: textutils, reference.
        if lua.LoadString(helpers, "=helpers") <> LuaStatus.OK then
            failwithf "helpers: %s" (lua.ToString -1)

        lua.Insert 1
        lua.GetGlobal "__natives" |> ignore

        if lua.PCall(3, 0, 0) <> LuaStatus.OK then
            failwithf "helpers: %s" (lua.ToString -1)

        lua.NewTable()
        lua.SetGlobal "__pool"

    member _.Lua = lua
    member _.Json = json

    interface IDisposable with
        member _.Dispose() = lua.Dispose()

// ---- Lua values ----

type Key =
    | KStr of byte array
    | KInt of int64
    | KFloat of float
    | KBool of bool
    | KTable

type Value =
    | VStr of byte array
    | VInt of int64
    | VFloat of float
    | VBool of bool
    | VEmptyArray
    | VNull
    | VFunc
    | VArr of Value option list
    | VObj of (Key * Value) list
    /// One of the tables made so far (repeated entries, or cycles when it is an ancestor).
    | VRef of int

/// serializeJSON's options: nil, a boolean (nbt_style) or a table (nbt_style, unicode_strings,
/// allow_repetitions), each field nil or a boolean.
type WriteOptions =
    | WNone
    | WBool of bool
    | WTable of bool option * bool option * bool option
    | WBad

/// unserializeJSON's options: nil or a table (nbt_style, parse_null, parse_empty_array).
type ReadOptions =
    | RNone
    | RTable of bool option * bool option * bool option

let private pushValue (lua: Lua) (value: Value) =
    let mutable pool = 0

    let rec push v =
        lua.CheckStack 8 |> ignore

        match v with
        | VStr b -> lua.PushBuffer b
        | VInt i -> lua.PushInteger i
        | VFloat f -> lua.PushNumber f
        | VBool b -> lua.PushBoolean b
        | VEmptyArray -> lua.DoString "return T.empty_json_array" |> ignore
        | VNull -> lua.DoString "return T.json_null" |> ignore
        | VFunc -> lua.GetGlobal "tostring" |> ignore
        | VRef i when pool = 0 -> lua.PushInteger(int64 i)
        | VRef i ->
            lua.GetGlobal "__pool" |> ignore
            lua.RawGetInteger(-1, int64 (i % pool + 1)) |> ignore
            lua.Remove -2
        | VArr items ->
            newTable ()

            items
            |> List.iteri (fun i item ->
                match item with
                | Some x ->
                    push x
                    lua.RawSetInteger(-2, int64 (i + 1))
                | None -> ())
        | VObj members ->
            newTable ()

            for k, x in members do
                match k with
                | KStr b -> lua.PushBuffer b
                | KInt i -> lua.PushInteger i
                | KFloat f -> lua.PushNumber f
                | KBool b -> lua.PushBoolean b
                | KTable -> lua.NewTable()

                push x
                lua.RawSet -3

    and newTable () =
        lua.NewTable()
        lua.GetGlobal "__pool" |> ignore
        lua.PushCopy -2
        pool <- pool + 1
        lua.RawSetInteger(-2, int64 pool)
        lua.Pop 1

    lua.NewTable()
    lua.SetGlobal "__pool"
    push value

let private pushOption (lua: Lua) (o: bool option) =
    match o with
    | Some b -> lua.PushBoolean b
    | None -> lua.PushNil()

let private pushWriteOptions (lua: Lua) options =
    match options with
    | WNone -> lua.PushNil()
    | WBool b -> lua.PushBoolean b
    | WBad -> lua.PushInteger 3L
    | WTable(nbt, unicode, reps) ->
        lua.NewTable()

        for name, o in [ "nbt_style", nbt; "unicode_strings", unicode; "allow_repetitions", reps ] do
            pushOption lua o
            lua.SetField(-2, name)

let private pushReadOptions (lua: Lua) options =
    match options with
    | RNone -> lua.PushNil()
    | RTable(nbt, pnull, pempty) ->
        lua.NewTable()

        for name, o in [ "nbt_style", nbt; "parse_null", pnull; "parse_empty_array", pempty ] do
            pushOption lua o
            lua.SetField(-2, name)

/// Calls a helper with the arguments pushed by `args`: same?, decided?, native's, reference's.
let private check (lua: Lua) (name: string) (args: unit -> unit) =
    lua.SetTop 0
    lua.GetGlobal name |> ignore
    args ()

    if lua.PCall(2, 4, 0) <> LuaStatus.OK then
        failwithf "%s: %s" name (lua.ToString -1)

    let same, decided = lua.ToBoolean 1, lua.ToBoolean 2

    let a, b =
        Encoding.Latin1.GetString(lua.ToBuffer 3), Encoding.Latin1.GetString(lua.ToBuffer 4)

    lua.SetTop 0
    same, decided, a, b

// ---- Generators ----

let private specialBytes =
    [
        0uy
        1uy
        8uy
        9uy
        10uy
        12uy
        13uy
        31uy
        32uy
        34uy
        39uy
        47uy
        92uy
        127uy
        128uy
        0xC3uy
        0xA9uy
        0xE2uy
        0x82uy
        0xACuy
        0xEDuy
        0xA0uy
        0xF0uy
        0x9Fuy
        0x98uy
        0xC0uy
        0xF4uy
        0xF5uy
        0xFFuy
    ]

let private utf8Of (cp: int) =
    if cp < 0x80 then
        [| byte cp |]
    elif cp < 0x800 then
        [| byte (0xC0 ||| (cp >>> 6)); byte (0x80 ||| (cp &&& 0x3F)) |]
    elif cp < 0x10000 then
        [|
            byte (0xE0 ||| (cp >>> 12))
            byte (0x80 ||| ((cp >>> 6) &&& 0x3F))
            byte (0x80 ||| (cp &&& 0x3F))
        |]
    else
        [|
            byte (0xF0 ||| (cp >>> 18))
            byte (0x80 ||| ((cp >>> 12) &&& 0x3F))
            byte (0x80 ||| ((cp >>> 6) &&& 0x3F))
            byte (0x80 ||| (cp &&& 0x3F))
        |]

let private stringBytes =
    let piece =
        Gen.frequency
            [
                6, Gen.choose (0x20, 0x7E) |> Gen.map (fun b -> [| byte b |])
                3, Gen.elements specialBytes |> Gen.map Array.singleton
                2, Gen.choose (0, 255) |> Gen.map (fun b -> [| byte b |])
                2,
                Gen.oneof
                    [
                        Gen.choose (0x80, 0x7FF)
                        Gen.choose (0x800, 0xFFFF)
                        Gen.choose (0x10000, 0x10FFFF)
                        Gen.elements [ 0x7F; 0xE9; 0x20AC; 0xD7FF; 0xE000; 0xFFFF; 0x10000; 0x1F600; 0x10FFFF ]
                    ]
                |> Gen.map utf8Of
            ]

    gen {
        let! n =
            Gen.frequency [ 4, Gen.choose (0, 6); 2, Gen.choose (0, 30); 1, Gen.choose (0, 200) ]

        let! pieces = Gen.listOfLength n piece
        return Array.concat pieces
    }

/// Keys: short and plain mostly, so that objects have repeats and NBT-style names.
let private keyBytes =
    Gen.frequency
        [
            4,
            Gen.elements [ "a"; "b"; "id"; "name"; "x_1"; "A"; "1"; ""; "key with space"; "é" ]
            |> Gen.map Encoding.UTF8.GetBytes
            1, stringBytes
        ]

let private interestingFloats =
    [
        0.0
        -0.0
        0.5
        -0.5
        1.5
        0.1
        0.2
        0.3
        1.0 / 3.0
        2.0 / 3.0
        1e-5
        0.99999
        1e-4
        1.00001
        123.456
        1e9
        1e9 + 0.5
        99999999999999.0
        1e14
        1e14 + 1.0
        1e13 + 0.5
        1e15
        1e16
        1e17
        1e21
        1e22
        1e300
        1e308
        5e-324
        2.2250738585072014e-308
        1.7976931348623157e308
        9007199254740992.0
        9007199254740993.0
        9.2233720368547758e18
        -9.2233720368547758e18
        1.2345678901234567
        0.30000000000000004
        100.0
        1e-7
        Double.NaN
        Double.PositiveInfinity
        Double.NegativeInfinity
        2.5
        0.125
        1234567.891
        0.000123
    ]

let private floatGen =
    Gen.frequency
        [
            3, Gen.elements interestingFloats
            2, Gen.choose (-100000, 100000) |> Gen.map (fun i -> float i / 10.0)
            2, Gen.choose (-100000, 100000) |> Gen.map (fun i -> float i / 100.0)
            2, Gen.choose (-100000, 100000) |> Gen.map (fun i -> float i / 1000.0)
            2,
            Gen.map2
                (fun (hi: int) (lo: int) ->
                    BitConverter.Int64BitsToDouble((int64 hi <<< 32) ||| (int64 lo &&& 0xFFFFFFFFL)))
                (Gen.choose (Int32.MinValue, Int32.MaxValue))
                (Gen.choose (Int32.MinValue, Int32.MaxValue))
            2,
            Gen.map2
                (fun (m: int) (e: int) -> float m * Math.Pow(10.0, float e))
                (Gen.choose (-999999, 999999))
                (Gen.choose (-30, 30))
            1, Gen.choose (0, 100000) |> Gen.map (fun i -> 1e13 + float i + 0.5)
        ]

let private intGen =
    Gen.frequency
        [
            4, Gen.choose (-1000, 1000) |> Gen.map int64
            1,
            Gen.elements
                [
                    0L
                    Int64.MaxValue
                    Int64.MinValue
                    1L <<< 53
                    (1L <<< 53) + 1L
                    99999999999999L
                    100000000000000L
                ]
            1,
            Gen.map2
                (fun (a: int) (b: int) -> (int64 a <<< 32) ^^^ int64 b)
                (Gen.choose (Int32.MinValue, Int32.MaxValue))
                (Gen.choose (Int32.MinValue, Int32.MaxValue))
        ]

let private keyGen =
    Gen.frequency
        [
            10, keyBytes |> Gen.map KStr
            3, Gen.choose (-2, 12) |> Gen.map (int64 >> KInt)
            1,
            Gen.elements [ 0.5; 1.5; 2.5; -1.5; 3.25; Double.PositiveInfinity; Double.NegativeInfinity ]
            |> Gen.map KFloat
            1, Gen.elements [ true; false ] |> Gen.map KBool
            1, Gen.constant KTable
        ]

let rec private valueGen depth : Gen<Value> =
    let scalar =
        Gen.frequency
            [
                4, stringBytes |> Gen.map VStr
                3, intGen |> Gen.map VInt
                3, floatGen |> Gen.map VFloat
                1, Gen.elements [ true; false ] |> Gen.map VBool
                1, Gen.elements [ VEmptyArray; VNull ]
            ]

    if depth <= 0 then
        Gen.frequency [ 30, scalar; 1, Gen.constant VFunc ]
    else
        let inner = valueGen (depth - 1)

        Gen.frequency
            [
                6, scalar
                4,
                gen {
                    let! n = Gen.choose (0, 6)

                    let! items =
                        Gen.listOfLength n (Gen.frequency [ 8, Gen.map Some inner; 1, Gen.constant None ])

                    return VArr items
                }
                4,
                gen {
                    let! n = Gen.choose (0, 6)
                    let! members = Gen.listOfLength n (Gen.zip keyGen inner)
                    return VObj members
                }
                1, Gen.choose (0, 20) |> Gen.map VRef
                1, Gen.constant VFunc
            ]

let private optionGen = Gen.elements [ None; Some true; Some false ]

let private writeOptionsGen =
    Gen.frequency
        [
            4, Gen.constant WNone
            2, Gen.elements [ true; false ] |> Gen.map WBool
            5, Gen.map3 (fun a b c -> WTable(a, b, c)) optionGen optionGen optionGen
            1, Gen.constant WBad
        ]

let private readOptionsGen =
    Gen.frequency
        [
            4, Gen.constant RNone
            6, Gen.map3 (fun a b c -> RTable(a, b, c)) optionGen optionGen optionGen
        ]

/// Pieces that JSON readers trip over, inserted into documents.
let private fragments =
    [
        "\\u"
        "\\uD83D"
        "\\uDE00"
        "\\uD83D\\uDE00"
        "\\uD83Dx"
        "\\uZZZZ"
        "\\u00e9"
        "\\u0000"
        "\\x"
        "\\"
        "\""
        "'"
        "1e"
        "1e+"
        "1E-07"
        "-"
        "-a"
        "1.5e3"
        "01"
        "1."
        "1.e5"
        "-0"
        "-0.0"
        "0.1.2"
        "1-2"
        "1+"
        "9223372036854775807"
        "9223372036854775808"
        "-9223372036854775808"
        "-9223372036854775809"
        "1e400"
        "-1e400"
        "1e-400"
        "123456789012345678901234567890"
        "0.30000000000000004"
        "true"
        "tru"
        "false"
        "fals"
        "null"
        "nul"
        "[]"
        "{}"
        "[ ]"
        "{ }"
        ","
        ":"
        "'a'"
        "'a\"b'"
        "I;"
        "[I;1,2]"
        "[B; 1b, 2b]"
        "[L;]"
        "abc:"
        "{a:1}"
        "{a_b2:'x'}"
        "1b"
        "2.5f"
        "3L"
        "4d"
        "5S"
        " "
        "\t"
        "\r\n"
        "\000"
        "\127"
        "\255"
        "\192\128"
        "é"
        "]"
        "}"
        "[["
        "{\""
    ]
    |> List.map Encoding.Latin1.GetBytes

type private Mutation =
    | Truncate of int
    | Delete of int
    | Replace of int * byte
    | Insert of int * byte array

let private mutationGen =
    let pos = Gen.choose (0, 100000)

    let byteGen =
        Gen.frequency
            [
                3, Gen.elements ("{}[],:\"\\'-+.eE0123456789tfnulIBL; \t\n\r" |> Seq.map byte |> List.ofSeq)
                1, Gen.choose (0, 255) |> Gen.map byte
            ]

    Gen.frequency
        [
            2, pos |> Gen.map Truncate
            2, pos |> Gen.map Delete
            2, Gen.map2 (fun p b -> Replace(p, b)) pos byteGen
            3, Gen.map2 (fun p f -> Insert(p, f)) pos (Gen.elements fragments)
        ]

let private mutate (doc: byte array) m =
    let at p =
        if doc.Length = 0 then 0 else p % (doc.Length + 1)

    match m with
    | Truncate p -> doc[.. at p - 1]
    | Delete p when doc.Length > 0 ->
        let p = p % doc.Length
        Array.append doc[.. p - 1] doc[p + 1 ..]
    | Delete _ -> doc
    | Replace(p, b) when doc.Length > 0 ->
        let copy = Array.copy doc
        copy[p % doc.Length] <- b
        copy
    | Replace(_, b) -> [| b |]
    | Insert(p, f) ->
        let p = at p
        Array.concat [ doc[.. p - 1]; f; doc[p..] ]

/// JSON-ish text straight from a grammar (whitespace, NBT forms, odd numbers and strings).
let rec private docGen depth : Gen<byte array> =
    let ws =
        Gen.elements [ ""; ""; ""; " "; "\n  "; "\t"; " \r\n " ]
        |> Gen.map Encoding.Latin1.GetBytes

    let quoted =
        gen {
            let! body = stringBytes
            let! q = Gen.elements [ "\""; "\""; "'" ]

            let escaped =
                body
                |> Array.collect (fun b ->
                    if b = byte q[0] || b = 92uy then
                        [| 92uy; b |]
                    elif b < 32uy && b <> 9uy then
                        Encoding.Latin1.GetBytes(sprintf "\\u%04x" b)
                    else
                        [| b |])

            return Array.concat [ Encoding.Latin1.GetBytes q; escaped; Encoding.Latin1.GetBytes q ]
        }

    let number =
        gen {
            let! sign = Gen.elements [ ""; ""; "-" ]

            let! i =
                Gen.elements [ "0"; "1"; "12"; "007"; "9007199254740993"; "18446744073709551616"; "5" ]

            let! frac =
                Gen.elements [ ""; ""; ".5"; ".25"; "."; ".000001"; ".1234567890123456789" ]

            let! exp = Gen.elements [ ""; ""; "e5"; "E-3"; "e+300"; "e-320"; "e999"; "e" ]
            let! suffix = Gen.elements [ ""; ""; ""; "b"; "L"; "f"; "d" ]
            return Encoding.Latin1.GetBytes(sign + i + frac + exp + suffix)
        }

    let scalar =
        Gen.frequency
            [
                3, quoted
                3, number
                1, Gen.elements [ "true"; "false"; "null" ] |> Gen.map Encoding.Latin1.GetBytes
            ]

    if depth <= 0 then
        scalar
    else
        let inner = docGen (depth - 1)

        let joined (parts: byte array list) =
            gen {
                let! spaced0 =
                    parts
                    |> List.map (fun p -> Gen.map3 (fun a b c -> Array.concat [ a; p; b; c ]) ws ws ws)
                    |> Gen.sequenceToList

                return
                    match spaced0 with
                    | [] -> [||]
                    | _ -> spaced0 |> List.reduce (fun a b -> Array.concat [ a; ","B; b ])
            }

        // Mostly a few members; now and then more than the native reader's batch of 32.
        let members = Gen.frequency [ 12, Gen.choose (0, 5); 1, Gen.choose (30, 70) ]

        Gen.frequency
            [
                3, scalar
                2,
                gen {
                    let! n = members
                    let! items = Gen.listOfLength n inner
                    let! prefix = Gen.elements [ ""; ""; ""; "I;"; "B;"; "L; " ]
                    let! body = joined items
                    return Array.concat [ "["B; Encoding.Latin1.GetBytes prefix; body; "]"B ]
                }
                2,
                gen {
                    let! n = members

                    let! members =
                        Gen.listOfLength
                            n
                            (gen {
                                let! key =
                                    Gen.frequency
                                        [
                                            3, quoted
                                            1,
                                            Gen.elements [ "a"; "b_2"; "Z"; "x1" ] |> Gen.map Encoding.Latin1.GetBytes
                                        ]

                                let! value = inner
                                let! w = ws
                                return Array.concat [ key; w; ":"B; w; value ]
                            })

                    let! body = joined members
                    return Array.concat [ "{"B; body; "}"B ]
                }
            ]

let private nested (depth: int) (objects: bool) =
    let opening, closing = if objects then "{\"a\":", "}" else "[", "]"
    Encoding.Latin1.GetBytes(String.replicate depth opening + "1" + String.replicate depth closing)

let private config =
    { FsCheckConfig.defaultConfig with
        maxTest = 1500
    }

let private describe (b: byte array) =
    let text = Encoding.Latin1.GetString b

    if text.Length > 400 then
        text.Substring(0, 400) + "..."
    else
        text

// One Lua state per property (properties may run in parallel; their cases run one by one).
let private writeHost = lazy (new Host())
let private readHost = lazy (new Host())

let private checkWrite (host: Host) value options =
    let lua = host.Lua

    check lua "check_write" (fun () ->
        pushValue lua value
        pushWriteOptions lua options)

let private checkRead (host: Host) (doc: byte array) options =
    let lua = host.Lua

    check lua "check_read" (fun () ->
        lua.PushBuffer doc
        pushReadOptions lua options)

/// The reference's JSON text of a value (None when it raises).
let private referenceText (host: Host) value options =
    let lua = host.Lua
    lua.SetTop 0
    lua.GetGlobal "reference_text" |> ignore
    pushValue lua value
    pushWriteOptions lua options
    lua.Call(2, 1)
    let text = if lua.IsString 1 then Some(lua.ToBuffer 1) else None
    lua.SetTop 0
    text

let private sizedValue = Gen.sized (fun n -> valueGen (min 5 (n / 10 + 1)))

/// A document to read: the reference's text of a value, or grammar-made text, or deep nesting;
/// then a few mutations.
type private DocSource =
    | FromValue of Value * WriteOptions
    | FromGrammar of byte array
    | Nested of int * bool

let private docSourceGen =
    Gen.frequency
        [
            5, Gen.map2 (fun v o -> FromValue(v, o)) sizedValue writeOptionsGen
            5, Gen.sized (fun n -> docGen (min 4 (n / 10 + 1))) |> Gen.map FromGrammar
            1, Gen.map2 (fun d o -> Nested(d, o)) (Gen.choose (190, 215)) (Gen.elements [ true; false ])
        ]

let private readCaseGen =
    Gen.zip3
        docSourceGen
        (Gen.frequency [ 3, Gen.constant []; 4, Gen.listOf mutationGen |> Gen.map (List.truncate 3) ])
        readOptionsGen

let tests =
    testList
        "native JSON"
        [
            test "the natives decide the common cases, and leave deep nesting, metatables and ties to Lua" {
                use host = new Host()
                let lua = host.Lua

                let decided (code: string) =
                    lua.SetTop 0

                    if lua.DoString code then
                        failwithf "%s: %s" code (lua.ToString -1)

                    lua.ToBoolean 1

                Expect.isTrue (decided "return N.serialize({a = {1, 2.5, 'x'}}) ~= nil") "a plain table"
                Expect.isTrue (decided "return N.parse('{\"a\":[1,2.5,\"x\"]}') ~= nil") "a plain document"
                Expect.isFalse (decided "return N.serialize(setmetatable({}, {})) ~= nil") "a metatable"
                Expect.isFalse (decided "return N.serialize(1e13 + 0.5) ~= nil") "a 14-digit tie"
                Expect.isFalse (decided "return N.serialize('\\255', nil, true) ~= nil") "not UTF-8, unicode_strings"

                Expect.isFalse
                    (decided "local t = {} for i = 1, 300 do t = {t} end return N.serialize(t) ~= nil")
                    "300 levels"

                Expect.isFalse (decided "return N.parse(string.rep('[', 300)) ~= nil") "300 levels"
                Expect.isTrue (decided "return N.parse(string.rep('[', 150)) ~= nil") "150 levels"

                Expect.isTrue
                    (decided "return T.serializeJSON(1e13 + 0.5) == R.serializeJSON(1e13 + 0.5)")
                    "the tie, through Lua"

                // Tables made at their size in batches of 32: a key repeated across batches keeps
                // its last value, nulls keep their places, and 100 entries all arrive.
                let keys m =
                    [ for i in 1..100 -> $"\"k{i % m}\":{i}" ]

                let items = [ for i in 1..100 -> if i % 7 = 0 then "null" else string i ]

                for doc in
                    [
                        "{" + String.Join(",", keys 40) + "}"
                        "{" + String.Join(",", keys 10) + "}"
                        "[" + String.Join(",", items) + "]"
                        "[" + String.Join(",", items @ items) + "]"
                    ] do
                    for options in [ RNone; RTable(None, Some true, None) ] do
                        let same, decided, a, b = checkRead host (Encoding.UTF8.GetBytes doc) options
                        Expect.isTrue decided $"decided natively: {doc}"
                        Expect.isTrue same $"native:\n{a}\nLua:\n{b}"

                // The fuzzers below exercise the native code, not mostly the fallback.
                let values = Gen.sampleWithSize 30 400 (Gen.zip sizedValue writeOptionsGen)

                let decidedValues =
                    values
                    |> Array.filter (fun (v, o) -> let _, d, _, _ = checkWrite host v o in d)
                    |> Array.length

                Expect.isGreaterThan decidedValues 300 "most generated values are decided natively"

                let docs = Gen.sampleWithSize 30 400 readCaseGen

                let decidedDocs =
                    docs
                    |> Array.filter (fun (source, mutations, options) ->
                        match source with
                        | FromGrammar d ->
                            let doc = List.fold mutate d mutations
                            let _, decided, _, _ = checkRead host doc options
                            decided
                        | _ -> true)
                    |> Array.length

                Expect.isGreaterThan decidedDocs 350 "most generated documents are decided natively"
            }

            testPropertyWithConfig
                config
                "serializeJSON: the native writer gives the Lua writer's text or error, for any value and options"
            <| Prop.forAll (Arb.fromGen (Gen.zip sizedValue writeOptionsGen)) (fun (value, options) ->
                let same, _, a, b = checkWrite writeHost.Value value options
                Expect.isTrue same $"native:\n{a}\nLua:\n{b}\nvalue: %A{value}\noptions: %A{options}")

            testPropertyWithConfig
                config
                "unserializeJSON: the native reader gives the Lua reader's values or message, for any document and options"
            <| Prop.forAll (Arb.fromGen readCaseGen) (fun (source, mutations, options) ->
                let host = readHost.Value

                let original =
                    match source with
                    | FromValue(value, writeOptions) ->
                        referenceText host value writeOptions |> Option.defaultValue "[1,"B
                    | FromGrammar doc -> doc
                    | Nested(depth, objects) -> nested depth objects

                // The document itself, then after each mutation in turn.
                let docs = List.scan mutate original mutations

                for doc in docs do
                    let same, _, a, b = checkRead host doc options
                    Expect.isTrue same $"native:\n{a}\nLua:\n{b}\ndocument: {describe doc}\noptions: %A{options}")
        ]
