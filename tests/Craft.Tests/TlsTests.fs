/// HTTPS and WSS: a computer given a certificate serves TLS on every port, HTTP listeners and
/// WebSocket servers alike. The certificate is made here, self-signed, at run time; the clients
/// are curl, Python's ssl with python3-websockets, and .NET's HttpClient and ClientWebSocket, each
/// trusting exactly that certificate.
module Craft.Tests.TlsTests

open System
open System.Diagnostics
open System.IO
open System.Net
open System.Net.Http
open System.Net.Security
open System.Net.WebSockets
open System.Security.Cryptography
open System.Security.Cryptography.X509Certificates
open System.Text
open System.Threading
open Craft.Interop
open Craft.Tests.ScriptHost
open Expecto

/// A self-signed server certificate for localhost and 127.0.0.1, valid from yesterday to tomorrow.
let selfSigned () =
    use key = RSA.Create 2048

    let request =
        CertificateRequest("CN=craft-test", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)

    let names = SubjectAlternativeNameBuilder()
    names.AddDnsName "localhost"
    names.AddIpAddress IPAddress.Loopback
    request.CertificateExtensions.Add(names.Build())
    request.CertificateExtensions.Add(X509BasicConstraintsExtension(false, false, 0, false))

    let serverAuth = OidCollection()
    serverAuth.Add(Oid "1.3.6.1.5.5.7.3.1") |> ignore
    request.CertificateExtensions.Add(X509EnhancedKeyUsageExtension(serverAuth, false))

    use made =
        request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays -1.0, DateTimeOffset.UtcNow.AddDays 1.0)
    // Through PKCS#12, so that the key is usable by TLS on every platform.
    X509CertificateLoader.LoadPkcs12(made.Export X509ContentType.Pkcs12, null)

/// The certificate and its key as PEM files in a new temporary folder: (folder, cert.pem, key.pem).
let pemFiles (certificate: X509Certificate2) =
    let dir = Directory.CreateTempSubdirectory("craft-tls-").FullName
    let certPath = Path.Combine(dir, "cert.pem")
    let keyPath = Path.Combine(dir, "key.pem")
    File.WriteAllText(certPath, certificate.ExportCertificatePem())
    File.WriteAllText(keyPath, certificate.GetRSAPrivateKey().ExportPkcs8PrivateKeyPem())
    dir, certPath, keyPath

/// Accepts exactly this certificate (by its thumbprint), whatever chain the system would build.
let trustOnly (certificate: X509Certificate2) =
    RemoteCertificateValidationCallback(fun _ presented _ _ ->
        not (isNull presented)
        && presented.GetCertHashString() = certificate.GetCertHashString())

let private script =
    Path.Combine(AppContext.BaseDirectory, "lua", "ship", "both.lua")

let private wsPort (r: Running) =
    task {
        let! line = r.WaitPrefix "ws "
        return int (line.Substring 3)
    }

let private withTls (certificate: X509Certificate2) body =
    withRunning
        (launchWith
            "stop"
            (fun out err input ->
                ComputerOptions(
                    Output = out,
                    Error = err,
                    Input = input,
                    Certificate = certificate,
                    MaxWebSocketMessageBytes = 128 * 1024
                ))
            portLine
            script
            [])
        body

/// Runs lua/client/trust.lua on a computer serving TLS with `certificate`, whose client trusts
/// `trusted`; its output.
let private callsItself (certificate: X509Certificate2) (trusted: X509Certificate2 list) =
    task {
        let output = new StringWriter()
        let error = new StringWriter()

        let options =
            ComputerOptions(
                Output = output,
                Error = error,
                Certificate = certificate,
                HttpRules = [ HttpRule.AllowAddress "127.0.0.1" ],
                HttpTrustedCertificates = trusted
            )

        use computer = new Computer(options)
        let script = Path.Combine(AppContext.BaseDirectory, "lua", "client", "trust.lua")
        let! code = within "lua/client/trust.lua" (computer.RunFileAsync script)
        Expect.equal code 0 $"exit code: {error}"
        return output.ToString()
    }

let tests =
    testList
        "tls"
        [
            testTask "the http client: https:// and wss:// to a self-signed server only with --http-trust" {
                let certificate = selfSigned ()
                // Only the public part is trusted, as a file given to --http-trust would be.
                let publicPart =
                    X509CertificateLoader.LoadCertificate(certificate.Export X509ContentType.Cert)

                let! trusted = callsItself certificate [ publicPart ]
                Expect.equal trusted "secure\nwss ok\nsecure\n" "trusted: the request and the socket succeed"
                let! untrusted = callsItself certificate []
                let refused = "Could not create a secure connection"
                Expect.equal untrusted $"{refused}\n{refused}\n{refused}\n" "not trusted: refused"
            }

            test "a certificate without its private key is refused when the computer is made" {
                use certificate = selfSigned ()
                use publicOnly = X509CertificateLoader.LoadCertificate(certificate.RawData)

                Expect.throwsT<ArgumentException>
                    (fun () -> new Computer(ComputerOptions(Certificate = publicOnly)) |> ignore)
                    "no key, no TLS"
            }

            testCaseTask
                "curl gets HTTPS from a listener, trusting only the certificate; plain HTTP is not served"
                (fun () ->
                    task {
                        use certificate = selfSigned ()
                        let dir, certPath, _ = pemFiles certificate

                        try
                            do!
                                withTls certificate (fun r ->
                                    task {
                                        let url = $"https://127.0.0.1:{r.Port}/a/b?c=d"

                                        let! code, out, err =
                                            HttpHelpers.curl
                                                [ "-sS"; "--cacert"; certPath; "--data-binary"; "12345"; url ]

                                        Expect.equal code 0 $"curl verified the certificate and got an answer: {err}"

                                        Expect.equal
                                            (Encoding.UTF8.GetString out)
                                            "POST /a/b?c=d 5"
                                            "the script's answer"

                                        // Without the certificate, curl refuses the server (a self-signed one).
                                        let! untrusted, _, _ = HttpHelpers.curl [ "-sS"; url ]
                                        Expect.equal untrusted 60 "curl: the peer's certificate is not trusted (60)"

                                        // A plain HTTP request to the port is no request at all.
                                        let! plain, _, _ =
                                            HttpHelpers.curl
                                                [ "-sS"; "--max-time"; "10"; $"http://127.0.0.1:{r.Port}/" ]

                                        Expect.notEqual plain 0 "plain HTTP is not served"

                                        let! code, out, _ =
                                            HttpHelpers.curl [ "-sS"; "-k"; "--http2"; "-w"; " %{http_version}"; url ]

                                        Expect.equal code 0 "curl -k"

                                        Expect.equal
                                            (Encoding.UTF8.GetString out)
                                            "GET /a/b?c=d 0 1.1"
                                            "HTTP/1.1 even when curl offers h2"
                                    })
                        finally
                            Directory.Delete(dir, true)
                    })

            testCaseTask
                "HttpClient and ClientWebSocket over TLS (HTTPS and WSS on two ports of one computer)"
                (fun () ->
                    task {
                        use certificate = selfSigned ()

                        do!
                            withTls certificate (fun r ->
                                task {
                                    use handler = new SocketsHttpHandler(UseProxy = false)
                                    handler.SslOptions.RemoteCertificateValidationCallback <- trustOnly certificate
                                    use client = new HttpClient(handler, Timeout = patience)
                                    let! answer = client.GetStringAsync($"https://localhost:{r.Port}/x")
                                    Expect.equal answer "GET /x 0" "HTTPS from HttpClient"

                                    let! port = wsPort r
                                    use ws = new ClientWebSocket()
                                    ws.Options.RemoteCertificateValidationCallback <- trustOnly certificate
                                    use cts = new CancellationTokenSource(patience)
                                    do! ws.ConnectAsync(Uri $"wss://localhost:{port}/", cts.Token)
                                    let payload = Array.init 66000 byte

                                    do!
                                        ws.SendAsync(
                                            ArraySegment payload,
                                            WebSocketMessageType.Binary,
                                            true,
                                            cts.Token
                                        )

                                    let buffer = Array.zeroCreate<byte> 70000
                                    let mutable read = 0
                                    let mutable finished = false

                                    while not finished do
                                        let! result =
                                            ws.ReceiveAsync(
                                                ArraySegment(buffer, read, buffer.Length - read),
                                                cts.Token
                                            )

                                        read <- read + result.Count
                                        finished <- result.EndOfMessage

                                    Expect.equal (buffer[.. read - 1]) payload "the 66000-byte echo over WSS"
                                    do! ws.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", cts.Token)
                                })
                    })

            testCaseTask
                "an independent WSS client (python3-websockets with Python's ssl) trusting only the certificate"
                (fun () ->
                    task {
                        use certificate = selfSigned ()
                        let dir, certPath, _ = pemFiles certificate

                        try
                            do!
                                withTls certificate (fun r ->
                                    task {
                                        let! port = wsPort r
                                        let peer = Path.Combine(AppContext.BaseDirectory, "peers", "wss_peer.py")

                                        let info =
                                            ProcessStartInfo(
                                                "/usr/bin/python3",
                                                RedirectStandardOutput = true,
                                                RedirectStandardError = true
                                            )

                                        for arg in [ peer; string port; certPath ] do
                                            info.ArgumentList.Add arg

                                        use p = Process.Start info
                                        let output = p.StandardOutput.ReadToEndAsync()
                                        let errors = p.StandardError.ReadToEndAsync()
                                        do! withinUnit "the python WSS peer" (p.WaitForExitAsync())
                                        let! output = output
                                        let! errors = errors
                                        Expect.equal p.ExitCode 0 $"the python peer succeeds:\n{output}\n{errors}"
                                        Expect.stringStarts output "ok TLSv1." "echoes held, over TLS"
                                    })
                        finally
                            Directory.Delete(dir, true)
                    })

            testCaseTask "craft run --tls-cert/--tls-key (PEM) and --tls-cert (PFX) serve HTTPS" (fun () ->
                task {
                    use certificate = selfSigned ()
                    let dir, certPath, keyPath = pemFiles certificate
                    let pfx = Path.Combine(dir, "cert.pfx")
                    File.WriteAllBytes(pfx, certificate.Export X509ContentType.Pkcs12)

                    try
                        for tlsArgs in [ [ "--tls-cert"; certPath; "--tls-key"; keyPath ]; [ "--tls-cert"; pfx ] ] do
                            use proc = CliTests.startCraft ([ "run" ] @ tlsArgs @ [ script ])
                            let out = new LineWriter()

                            proc.OutputDataReceived.Add(fun e ->
                                if not (isNull e.Data) then
                                    out.Write(e.Data + "\n"))

                            proc.BeginOutputReadLine()

                            try
                                let! line =
                                    within
                                        $"craft prints its port ({tlsArgs})"
                                        (out.WaitFor(fun l -> l.StartsWith "port "))

                                let url = $"https://127.0.0.1:{line.Substring 5}/cli"
                                let! code, body, err = HttpHelpers.curl [ "-sS"; "--cacert"; certPath; url ]
                                Expect.equal code 0 $"curl over TLS ({tlsArgs}): {err}"
                                Expect.equal (Encoding.UTF8.GetString body) "GET /cli 0" "the script's answer"
                            finally
                                proc.Kill true
                    finally
                        Directory.Delete(dir, true)
                })

            testCaseTask "craft run --tls-cert with a file that is not a certificate: usage error" (fun () ->
                task {
                    let file = Path.GetTempFileName()

                    try
                        File.WriteAllText(file, "not a certificate")
                        let! r = CliTests.craftIn None [ "run"; "--tls-cert"; file; script ]
                        CliTests.usageError r
                        Expect.stringContains r.Err "certificate" "says what is wrong"
                    finally
                        File.Delete file
                })
        ]
