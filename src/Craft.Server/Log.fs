/// What the shell logs, one cached delegate per event (`LoggerMessage.Define`): a disabled level
/// costs one `IsEnabled` check, and nothing is formatted or boxed. Message templates name their
/// fields, so structured loggers get them as properties. Category: `Craft.Server`.
module internal Craft.Server.Log

open System
open Microsoft.AspNetCore.Http
open Microsoft.Extensions.Logging

let private requestEvent =
    LoggerMessage.Define<string, string, int, int>(
        LogLevel.Information,
        EventId(1, "Request"),
        "{Method} {Target} {Status} (port {Port})"
    )

let private refusedEvent =
    LoggerMessage.Define<string, string, int, string, int>(
        LogLevel.Warning,
        EventId(2, "Refused"),
        "Refused {Method} {Target} with {Status}: {Reason} (port {Port})"
    )

let private connectionRefusedEvent =
    LoggerMessage.Define<string, int>(
        LogLevel.Warning,
        EventId(3, "ConnectionRefused"),
        "Closed a connection from {Remote}: {MaxConnections} connections are open, the limit"
    )

let private clientClosedEvent =
    LoggerMessage.Define<int64, int, string>(
        LogLevel.Warning,
        EventId(4, "WebSocketClosedByLimit"),
        "Closed WebSocket client {Client} with {Code}: {Reason}"
    )

let private target (context: HttpContext) =
    context.Request.Path.Value + context.Request.QueryString.Value

/// One line per answered request: what `--request-log` prints.
let request (logger: ILogger) (context: HttpContext) (status: int) =
    if logger.IsEnabled LogLevel.Information then
        try
            requestEvent.Invoke(
                logger,
                context.Request.Method,
                target context,
                status,
                context.Connection.LocalPort,
                null
            )
        with _ ->
            () // a failing logger must not fail the request

/// A request the shell answered itself because a limit or a rule refused it.
let refused (logger: ILogger) (context: HttpContext) (status: int) (reason: string) =
    if logger.IsEnabled LogLevel.Warning then
        try
            refusedEvent.Invoke(
                logger,
                context.Request.Method,
                target context,
                status,
                reason,
                context.Connection.LocalPort,
                null
            )
        with _ ->
            ()

/// A connection closed at once because the computer has its most connections open.
let connectionRefused (logger: ILogger) (remote: Net.EndPoint) (limit: int) =
    if logger.IsEnabled LogLevel.Warning then
        try
            connectionRefusedEvent.Invoke(logger, (if isNull remote then "" else string remote), limit, null)
        with _ ->
            ()

/// A WebSocket client closed by a limit (1009 message too large, 1008 send queue full).
let clientClosed (logger: ILogger) (client: int64) (code: int) (reason: string) =
    try
        clientClosedEvent.Invoke(logger, client, code, reason, null)
    with _ ->
        ()
