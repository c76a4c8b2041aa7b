/// TLS for every port of a computer (HTTPS and WSS): a connection middleware that puts an
/// `SslStream` between the socket and Kestrel's HTTP/1.1 parser. Kestrel's own `UseHttps` needs
/// services of a full web host (its HTTPS configuration service); the shell runs a bare
/// `KestrelServer`, so it does the handshake itself. Only HTTP/1.1 is offered (ALPN): the shell
/// serves HTTP/1.1 and its WebSocket upgrades.
module internal Craft.Server.Tls

open System
open System.IO
open System.IO.Pipelines
open System.Net.Security
open System.Security.Cryptography.X509Certificates
open System.Threading
open System.Threading.Tasks
open Microsoft.AspNetCore.Connections

/// A client gets this long to finish its TLS handshake (Kestrel's default).
let private handshakeTimeout = TimeSpan.FromSeconds 10.0

/// The two halves of a connection's transport as one stream, for `SslStream` to wrap.
type private DuplexStream(input: Stream, output: Stream) =
    inherit Stream()
    override _.CanRead = true
    override _.CanWrite = true
    override _.CanSeek = false
    override _.Length = raise (NotSupportedException())

    override _.Position
        with get () = raise (NotSupportedException())
        and set _ = raise (NotSupportedException())

    override _.Flush() = output.Flush()
    override _.FlushAsync(cancellationToken) = output.FlushAsync cancellationToken
    override _.Read(buffer: byte array, offset, count) = input.Read(buffer, offset, count)

    override _.ReadAsync(buffer: byte array, offset, count, cancellationToken) =
        input.ReadAsync(buffer, offset, count, cancellationToken)

    override _.ReadAsync(buffer: Memory<byte>, cancellationToken) =
        input.ReadAsync(buffer, cancellationToken)

    override _.Write(buffer: byte array, offset, count) = output.Write(buffer, offset, count)

    override _.WriteAsync(buffer: byte array, offset, count, cancellationToken) =
        output.WriteAsync(buffer, offset, count, cancellationToken)

    override _.WriteAsync(buffer: ReadOnlyMemory<byte>, cancellationToken) =
        output.WriteAsync(buffer, cancellationToken)

    override _.Seek(_, _) = raise (NotSupportedException())
    override _.SetLength _ = raise (NotSupportedException())

type private DuplexPipe(input: PipeReader, output: PipeWriter) =
    interface IDuplexPipe with
        member _.Input = input
        member _.Output = output

/// The middleware: a connection whose handshake fails or times out is closed; the others reach
/// `next` decrypted.
let middleware (certificate: X509Certificate2) (next: ConnectionDelegate) =
    // Built once: the chain and the key, ready for every handshake.
    let context = SslStreamCertificateContext.Create(certificate, null)

    let options () =
        SslServerAuthenticationOptions(
            ServerCertificateContext = context,
            ApplicationProtocols = Collections.Generic.List [ SslApplicationProtocol.Http11 ],
            ClientCertificateRequired = false
        )

    ConnectionDelegate(fun connection ->
        task {
            let transport = connection.Transport

            use ssl =
                new SslStream(new DuplexStream(transport.Input.AsStream(), transport.Output.AsStream()), false)

            let! secured =
                task {
                    use timeout = new CancellationTokenSource(handshakeTimeout)

                    try
                        do! ssl.AuthenticateAsServerAsync(options (), timeout.Token)
                        return true
                    with _ ->
                        return false
                }

            if secured then
                let input = PipeReader.Create(ssl, StreamPipeReaderOptions(leaveOpen = true))
                let output = PipeWriter.Create(ssl, StreamPipeWriterOptions(leaveOpen = true))
                connection.Transport <- DuplexPipe(input, output)

                try
                    do! next.Invoke connection
                finally
                    connection.Transport <- transport
                    input.Complete()
                    output.Complete()
        }
        :> Task)
