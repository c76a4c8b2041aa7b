/// Which addresses a script's outbound requests and client WebSockets may reach (SPEC §6). Rules
/// are tried in order and the first that matches decides; the host's rules come before the
/// defaults, which deny `$private` and allow everything else, as CC:Tweaked's do. A rule is checked
/// against the host name as written and against every address it resolves to, so a name that
/// resolves to a denied address is denied too.
namespace Craft.Server

open System
open System.Net
open System.Net.Sockets
open System.Text.RegularExpressions

/// What a matching rule decides.
[<RequireQualifiedAccess>]
type RuleAction =
    | Allow
    | Deny

/// What a rule matches.
[<RequireQualifiedAccess>]
type AddressPattern =
    /// A host name or address as text, `*` matching any run of characters; case-insensitive,
    /// whole string. Matched against the URL's host and the resolved address's text.
    | Host of Regex
    /// An address range (a single address is a range of its full length).
    | Range of network: byte array * prefix: int
    /// Loopback, private, link-local, unique-local, shared (carrier-grade NAT), multicast and
    /// unspecified addresses, and a cloud metadata address: CC:Tweaked's `$private`.
    | Private

type AddressRule =
    {
        Action: RuleAction
        Pattern: AddressPattern
        /// The rule as it was written, for messages and docs.
        Text: string
    }

[<RequireQualifiedAccess>]
module AddressRules =
    /// IPv4-mapped IPv6 addresses are their IPv4 address.
    let private canonical (address: IPAddress) =
        if address.IsIPv4MappedToIPv6 then
            address.MapToIPv4()
        else
            address

    let private inRange (network: byte array) (prefix: int) (address: IPAddress) =
        let bytes = (canonical address).GetAddressBytes()

        if bytes.Length <> network.Length then
            false
        else
            let whole = prefix / 8
            let rest = prefix % 8
            let mutable same = true

            for i in 0 .. whole - 1 do
                if bytes[i] <> network[i] then
                    same <- false

            if same && rest > 0 then
                let mask = byte (0xFF <<< (8 - rest))
                same <- (bytes[whole] &&& mask) = (network[whole] &&& mask)

            same

    let private range (text: string) =
        match text.Split('/') with
        | [| address; prefix |] ->
            match IPAddress.TryParse address, Int32.TryParse prefix with
            | (true, ip), (true, n) when n >= 0 && n <= ip.GetAddressBytes().Length * 8 ->
                let ip = canonical ip

                let n =
                    if ip.AddressFamily = AddressFamily.InterNetwork && n > 32 then
                        n - 96
                    else
                        n

                Some(ip.GetAddressBytes(), n)
            | _ -> None
        | _ -> None

    let private privateRanges =
        [
            "0.0.0.0/32" // unspecified
            "127.0.0.0/8" // loopback
            "10.0.0.0/8"
            "172.16.0.0/12"
            "192.168.0.0/16" // private
            "169.254.0.0/16" // link-local
            "100.64.0.0/10" // shared address space (carrier-grade NAT)
            "224.0.0.0/4" // multicast
            "192.0.0.192/32" // a cloud provider's metadata service
            "::/128" // unspecified
            "::1/128" // loopback
            "fe80::/10" // link-local
            "fec0::/10" // site-local
            "fc00::/7" // unique-local
            "ff00::/8" // multicast
        ]
        |> List.map (fun r -> (range r).Value)

    /// Whether an address is one of `$private`'s. A 6to4 address (2002::/16) is judged by the
    /// IPv4 address it carries.
    let isPrivate (address: IPAddress) =
        let address = canonical address
        let bytes = address.GetAddressBytes()

        let address =
            if bytes.Length = 16 && bytes[0] = 0x20uy && bytes[1] = 0x02uy then
                IPAddress(bytes[2..5])
            else
                address

        privateRanges
        |> List.exists (fun (network, prefix) -> inRange network prefix address)

    /// Reads a rule's pattern: `$private`, an address range (`10.0.0.0/8`, `fd00::/8`), or a host
    /// name or address with `*` wildcards (`*.example.com`, `127.0.0.1`, `*`).
    let parse (action: RuleAction) (text: string) : Result<AddressRule, string> =
        let text = if isNull text then "" else text.Trim()

        let pattern =
            if text = "" then
                Error "an address rule cannot be empty"
            elif String.Equals(text, "$private", StringComparison.OrdinalIgnoreCase) then
                Ok AddressPattern.Private
            elif text.Contains '/' then
                match range text with
                | Some(network, prefix) -> Ok(AddressPattern.Range(network, prefix))
                | None -> Error $"invalid address range '{text}'"
            else
                let expression =
                    "^" + (text.Split('*') |> Array.map Regex.Escape |> String.concat ".*") + "$"

                Ok(AddressPattern.Host(Regex(expression, RegexOptions.IgnoreCase ||| RegexOptions.CultureInvariant)))

        pattern
        |> Result.map (fun p ->
            {
                Action = action
                Pattern = p
                Text = text
            })

    /// CC:Tweaked's defaults: deny `$private`, then allow everything.
    let defaults =
        [
            {
                Action = RuleAction.Deny
                Pattern = AddressPattern.Private
                Text = "$private"
            }
            (parse RuleAction.Allow "*" |> Result.toOption).Value
        ]

    let private matches (rule: AddressRule) (host: string) (address: IPAddress) =
        match rule.Pattern with
        | AddressPattern.Host regex -> regex.IsMatch host || regex.IsMatch((canonical address).ToString())
        | AddressPattern.Range(network, prefix) -> inRange network prefix address
        | AddressPattern.Private -> isPrivate address

    /// What the first matching rule says about reaching `address` for `host`; deny when none
    /// matches. `rules` are the host's, tried before the defaults.
    let decide (rules: AddressRule list) (host: string) (address: IPAddress) =
        let host = host.TrimStart('[').TrimEnd(']')

        match List.tryFind (fun r -> matches r host address) (rules @ defaults) with
        | Some rule -> rule.Action
        | None -> RuleAction.Deny
