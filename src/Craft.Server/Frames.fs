/// Following the frames of a WebSocket connection (RFC 6455 5.2) as their bytes go by.
namespace Craft.Server

open System

/// Where a `FrameFollower` is in the frame it follows.
type private FrameStage =
    /// The first header byte (FIN, opcode).
    | Opcode
    /// The second header byte (MASK, 7-bit length).
    | ShortLength
    /// The 16-bit or 64-bit extended length.
    | ExtendedLength
    /// The 4-byte masking key.
    | MaskKey
    /// The payload.
    | Payload
    /// After a protocol violation: everything is ignored.
    | Failed

/// Follows the frames going one way on a WebSocket connection and remembers the last close
/// frame's code. .NET's WebSocket does not say what the frames did: it reports a close without a
/// code as 1000, and it throws the same exception whether it failed the connection with 1002 or
/// with 1007.
///
/// It is total: it takes any bytes, cut into chunks anywhere, and consumes them in one pass (a
/// bounded amount of work per byte); it never throws and never waits. What it concludes does not
/// depend on how the bytes were cut. A 64-bit payload length with its top bit set (RFC 6455 5.2:
/// "the most significant bit MUST be 0") is a protocol violation: the follower records it in
/// `Violation` and ignores everything after it. Not thread-safe: one writer (or reader) feeds it.
[<Sealed>]
type FrameFollower() =
    let mutable stage = Opcode
    let mutable opcode = 0uy
    let mutable masked = false
    /// Bytes still to come of the extended length or of the masking key.
    let mutable need = 0
    /// Payload bytes still to come; never negative.
    let mutable remaining = 0L
    /// Payload bytes seen of the current frame.
    let mutable position = 0L
    /// The close code being read from the first two payload bytes of a close frame.
    let mutable code = 0
    let mutable lastClose = -1
    let mutable violation = 0
    let key = Array.zeroCreate<byte> 4

    let payloadStarts () =
        position <- 0L
        code <- 0

        if opcode = 8uy then
            lastClose <- 0

        stage <- if remaining = 0L then Opcode else Payload

    let lengthKnown () =
        if masked then
            need <- 4
            stage <- MaskKey
        else
            payloadStarts ()

    /// The code of the last close frame: -1 before any, 0 when it had none (or only one payload
    /// byte). Read from the first two payload bytes of an opcode-8 frame, unmasked.
    member _.LastClose = lastClose

    /// 0 while the frames are well formed; 1002 (protocol error) once a frame had a 64-bit length
    /// with its top bit set, after which nothing else is followed.
    member _.Violation = violation

    /// Follows `data`, the next bytes of the connection in this direction.
    member _.Feed(data: ReadOnlySpan<byte>) =
        let mutable i = 0

        while i < data.Length do
            match stage with
            | Opcode ->
                opcode <- data[i] &&& 0x0Fuy
                stage <- ShortLength
                i <- i + 1
            | ShortLength ->
                let b = data[i]
                masked <- b &&& 0x80uy <> 0uy
                let short = int64 (b &&& 0x7Fuy)
                remaining <- 0L
                i <- i + 1

                if short = 126L then
                    need <- 2
                    stage <- ExtendedLength
                elif short = 127L then
                    need <- 8
                    stage <- ExtendedLength
                else
                    remaining <- short
                    lengthKnown ()
            | ExtendedLength ->
                remaining <- (remaining <<< 8) ||| int64 data[i]
                need <- need - 1
                i <- i + 1

                if need = 0 then
                    // Only a 64-bit length can have the top bit set; as an int64 it is negative.
                    if remaining < 0L then
                        violation <- 1002
                        stage <- Failed
                    else
                        lengthKnown ()
            | MaskKey ->
                key[4 - need] <- data[i]
                need <- need - 1
                i <- i + 1

                if need = 0 then
                    payloadStarts ()
            | Payload ->
                // remaining > 0 here, so at least one byte is taken.
                let take = int (min remaining (int64 (data.Length - i)))

                if opcode = 8uy && position < 2L then
                    let codeBytes = min take (int (2L - position))

                    for j in 0 .. codeBytes - 1 do
                        let at = int position + j

                        let unmasked = if masked then data[i + j] ^^^ key[at] else data[i + j]

                        code <- (code <<< 8) ||| int unmasked

                        if at = 1 then
                            lastClose <- code

                position <- position + int64 take
                remaining <- remaining - int64 take
                i <- i + take

                if remaining = 0L then
                    stage <- Opcode
            | Failed -> i <- data.Length
