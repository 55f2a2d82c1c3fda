//! Where a webhook may go: the rule that keeps a subscription from turning the server into a way
//! into its own network.
//!
//! A target is refused when any address its host resolves to is loopback, private, link-local,
//! shared (CGNAT), unspecified, multicast, broadcast, reserved or a unique local IPv6 address,
//! IPv4 written inside IPv6 included, unless the server allows private targets
//! (`TIDINGS_WEBHOOK_ALLOW_PRIVATE`). It is checked when a subscription is saved and again at
//! every send, where [`Guard`] is the HTTP client's resolver: the connection goes to an address
//! it has just checked, so a name that changes its answer in between gains nothing.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// How long a name may take to resolve.
const LOOKUP: Duration = Duration::from_secs(5);

/// Whether an address is on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4_public(v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => v4_public(v4),
            None => v6_public(v6),
        },
    }
}

fn v4_public(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let special = a == 0 // "this network", 0.0.0.0 included
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || (a == 100 && (b & 0xc0) == 64) // shared address space (CGNAT), 100.64.0.0/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments, 192.0.0.0/24
        || (a == 198 && (b & 0xfe) == 18) // benchmarking, 198.18.0.0/15
        || ip.is_multicast()
        || a >= 240; // reserved, the broadcast address included
    !special
}

fn v6_public(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let special = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local, fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link-local, fe80::/10
        || (s[0] & 0xffc0) == 0xfec0; // site-local (deprecated), fec0::/10
    !special
}

/// The IPv4 address an IPv6 address carries, when it carries one a router would reach: mapped
/// (`::ffff:a.b.c.d`), compatible (`::a.b.c.d`, which makes `::` and `::1` read as `0.0.0.0` and
/// `0.0.0.1`, both refused), NAT64 (`64:ff9b::a.b.c.d`) and 6to4 (`2002:aabb:ccdd::`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = ip.segments();
    let from = |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    if s[..6] == [0; 6] {
        return Some(from(s[6], s[7]));
    }
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0; 4] {
        return Some(from(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        return Some(from(s[1], s[2]));
    }
    None
}

/// Why a target is refused, in words for the person who gave it.
fn refusal(host: &str, ip: IpAddr) -> String {
    format!(
        "{host} resolves to {ip}, which is not a public internet address (loopback, private, link-local and the \
         like are refused unless the server sets TIDINGS_WEBHOOK_ALLOW_PRIVATE=true)"
    )
}

/// Checks every address in `addrs` for `host`.
///
/// # Errors
/// The refusal, naming the first address that is not public.
pub fn check_addresses(host: &str, addrs: &[SocketAddr], allow_private: bool) -> Result<(), String> {
    if allow_private {
        return Ok(());
    }
    match addrs.iter().find(|a| !is_public(a.ip())) {
        Some(bad) => Err(refusal(host, bad.ip())),
        None => Ok(()),
    }
}

/// The addresses a name resolves to.
///
/// # Errors
/// A name that does not resolve (or not in time), in words.
pub async fn lookup(host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
    let found = tokio::time::timeout(LOOKUP, tokio::net::lookup_host((host, port)))
        .await
        .map_err(|_| format!("{host} did not resolve within {} seconds", LOOKUP.as_secs()))?
        .map_err(|e| format!("{host} does not resolve: {e}"))?;
    let addrs: Vec<SocketAddr> = found.collect();
    if addrs.is_empty() {
        return Err(format!("{host} resolves to no address"));
    }
    Ok(addrs)
}

/// A target's address, read: `http` or `https`, with a host.
///
/// # Errors
/// What is wrong with it, in words.
pub fn parse_target(url: &str) -> Result<Url, String> {
    if url.trim() != url {
        return Err("The URL must not begin or end with white space".into());
    }
    let parsed = Url::parse(url).map_err(|e| format!("The URL is not valid: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("The URL must start with https:// (or http://)".into());
    }
    if parsed.host().is_none() {
        return Err("The URL must name a host".into());
    }
    Ok(parsed)
}

/// Checks a target as it is saved: every address of its host (or the address it names).
///
/// # Errors
/// The refusal or the lookup's failure, in words.
pub async fn check_target(url: &Url, allow_private: bool) -> Result<(), String> {
    let port = url.port_or_known_default().unwrap_or(443);
    match url.host() {
        Some(Host::Ipv4(ip)) => check_addresses(&ip.to_string(), &[SocketAddr::new(ip.into(), port)], allow_private),
        Some(Host::Ipv6(ip)) => check_addresses(&ip.to_string(), &[SocketAddr::new(ip.into(), port)], allow_private),
        Some(Host::Domain(name)) => {
            let addrs = lookup(name, port).await?;
            check_addresses(name, &addrs, allow_private)
        }
        None => Err("The URL must name a host".into()),
    }
}

/// Checks an address written in the URL itself, which the client connects to without asking
/// [`Guard`].
///
/// # Errors
/// The refusal, in words.
pub fn check_literal(url: &Url, allow_private: bool) -> Result<(), String> {
    let ip: IpAddr = match url.host() {
        Some(Host::Ipv4(ip)) => ip.into(),
        Some(Host::Ipv6(ip)) => ip.into(),
        _ => return Ok(()),
    };
    check_addresses(&ip.to_string(), &[SocketAddr::new(ip, 0)], allow_private)
}

/// The HTTP client's resolver: resolves a name, and refuses it when any address is not public
/// (unless allowed), so the client connects only to addresses checked for this very request.
pub struct Guard {
    pub allow_private: bool,
}

impl Resolve for Guard {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs = lookup(&host, 0).await?;
            check_addresses(&host, &addrs, allow_private)?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(s: &str) -> bool {
        is_public(s.parse().unwrap())
    }

    #[test]
    fn only_public_addresses_pass() {
        for ok in ["93.184.215.14", "8.8.8.8", "100.63.255.255", "100.128.0.1", "172.32.0.1", "2606:2800:21f:cb07::1"] {
            assert!(public(ok), "{ok}");
        }
        let refused = [
            "127.0.0.1",
            "127.255.0.9",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.254",
            "0.0.0.0",
            "0.1.2.3",
            "224.0.0.1",
            "239.255.255.250",
            "255.255.255.255",
            "240.0.0.1",
            "192.0.0.8",
            "198.18.0.1",
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::a00:1",
            "2002:c0a8:101::1",
        ];
        for bad in refused {
            assert!(!public(bad), "{bad}");
        }
        assert!(public("::ffff:8.8.8.8") && public("64:ff9b::808:808"), "public IPv4 inside IPv6 passes");
    }

    #[test]
    fn targets_are_http_or_https_with_a_host() {
        assert!(parse_target("https://hooks.example.com/in?x=1").is_ok());
        for bad in [
            " http://example.com",
            "ftp://example.com/",
            "example.com/in",
            "https://",
            "file:///etc/passwd",
            "javascript:alert(1)",
            "",
        ] {
            assert!(parse_target(bad).is_err(), "{bad}");
        }
        // Every way of writing 127.0.0.1 is read as the address it is.
        for sneaky in ["http://2130706433/", "http://0x7f.1/", "http://127.1/", "http://[::ffff:7f00:1]/"] {
            let url = parse_target(sneaky).unwrap();
            assert!(check_literal(&url, false).is_err(), "{sneaky}");
            assert!(check_literal(&url, true).is_ok(), "{sneaky}: allowed when private targets are");
        }
    }

    #[tokio::test]
    async fn names_are_checked_on_every_address_they_resolve_to() {
        let url = parse_target("http://localhost:9/").unwrap();
        let refused = check_target(&url, false).await.unwrap_err();
        assert!(
            refused.contains("localhost resolves to") && refused.contains("TIDINGS_WEBHOOK_ALLOW_PRIVATE"),
            "{refused}"
        );
        assert!(check_target(&url, true).await.is_ok());
        let addrs: Vec<SocketAddr> = vec!["8.8.8.8:443".parse().unwrap(), "10.0.0.1:443".parse().unwrap()];
        assert!(check_addresses("mixed.example", &addrs, false).is_err(), "one private address is enough");
    }
}
