//! The SSRF guard: which addresses a fetch may connect to.
//!
//! Feeds come from strangers, and so do their redirects: without a guard, a feed URL (or a
//! redirect, or a DNS answer that changes between checks) can make the daemon request cloud
//! metadata endpoints, admin panels on loopback, or hosts on the operator's private network. By
//! default every address that is not globally routable is refused; the check runs on the address
//! actually connected to, on every hop.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address may not be fetched from, or `None` when it is a public address.
pub fn forbidden(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    match (a, b, c) {
        (0, _, _) => Some("an unspecified address"), // RFC 791 "this network"
        (10, _, _) => Some("a private address"),     // RFC 1918
        (100, 64..=127, _) => Some("a shared (CGNAT) address"), // RFC 6598
        (127, _, _) => Some("a loopback address"),
        (169, 254, _) => Some("a link-local address"), // incl. 169.254.169.254 metadata
        (172, 16..=31, _) => Some("a private address"),
        (192, 0, 0) => Some("a reserved address"), // RFC 6890 IETF protocol assignments
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => Some("a documentation address"), // RFC 5737
        (192, 88, 99) => Some("a reserved address"), // RFC 7526 deprecated 6to4 relay anycast
        (192, 168, _) => Some("a private address"),
        (198, 18..=19, _) => Some("a benchmarking address"), // RFC 2544
        (224..=239, _, _) => Some("a multicast address"),
        (255, 255, 255) if ip == Ipv4Addr::BROADCAST => Some("a broadcast address"),
        (240..=255, _, _) => Some("a reserved address"), // RFC 1112 class E
        _ => None,
    }
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let segments = ip.segments();
    if ip.is_unspecified() {
        return Some("an unspecified address");
    }
    if ip.is_loopback() {
        return Some("a loopback address");
    }
    // Forms that carry an IPv4 address: judge them by that address.
    if let Some(v4) = embedded_v4(ip) {
        return forbidden_v4(v4).or(if segments[0] == 0x2001 && segments[1] == 0 {
            // Teredo (RFC 4380) is a tunnel through a relay: never a feed server.
            Some("a Teredo tunnel address")
        } else {
            None
        });
    }
    if segments[0] == 0x64 && segments[1] == 0xff9b && segments[2] == 1 {
        // RFC 8215 local-use NAT64: the prefix length, and so where the IPv4 address sits, is the
        // local network's choice; the range only ever leads into a private network.
        return Some("a local-use NAT64 address");
    }
    match segments[0] {
        0xfc00..=0xfdff => Some("a private (unique local) address"), // RFC 4193
        0xfe80..=0xfebf => Some("a link-local address"),
        0xfec0..=0xfeff => Some("a site-local address"), // RFC 3879, deprecated
        0xff00..=0xffff => Some("a multicast address"),
        0x2001 if segments[1] == 0x0db8 => Some("a documentation address"), // RFC 3849
        0x0100 if segments[1..4] == [0, 0, 0] => Some("a discard-only address"), // RFC 6666
        0x2001 if segments[1] == 0x0002 && segments[2] == 0 => Some("a benchmarking address"), // RFC 5180
        _ => None,
    }
}

/// The IPv4 address inside IPv4-mapped (`::ffff:a.b.c.d`), IPv4-translated (`::ffff:0:a.b.c.d`,
/// SIIT, RFC 2765), IPv4-compatible (`::a.b.c.d`), NAT64 (`64:ff9b::a.b.c.d`, RFC 6052), 6to4
/// (`2002:AABB:CCDD::`, RFC 3056) and Teredo (`2001:0:…`, RFC 4380: the client address is the
/// last 32 bits, inverted) addresses.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let from =
        |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, hi, lo] => Some(from(hi, lo)),
        [0, 0, 0, 0, 0xffff, 0, hi, lo] => Some(from(hi, lo)),
        [0, 0, 0, 0, 0, 0, hi, lo] => Some(from(hi, lo)),
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => Some(from(hi, lo)),
        [0x2002, hi, lo, ..] => Some(from(hi, lo)),
        [0x2001, 0, ..] => Some(from(!s[6], !s[7])),
        _ => None,
    }
}

/// The operator-facing refusal.
pub fn refusal(ip: IpAddr, why: &str) -> String {
    format!("refused: {ip} is {why}; set allow_private_networks to fetch it")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> Option<&'static str> {
        forbidden(s.parse().expect("address"))
    }

    #[test]
    fn public_addresses_pass() {
        for ip in [
            "93.184.216.34",
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.1",
            "172.32.0.1",
            "2606:4700::1111",
            "2a00:1450:4001::200e",
        ] {
            assert_eq!(v4(ip), None, "{ip}");
        }
    }

    #[test]
    fn non_public_ipv4_is_refused() {
        let cases = [
            ("0.0.0.0", "an unspecified address"),
            ("10.0.0.5", "a private address"),
            ("172.16.0.1", "a private address"),
            ("172.31.255.255", "a private address"),
            ("192.168.1.1", "a private address"),
            ("127.0.0.1", "a loopback address"),
            ("127.255.0.9", "a loopback address"),
            ("169.254.169.254", "a link-local address"),
            ("100.64.0.1", "a shared (CGNAT) address"),
            ("100.127.255.254", "a shared (CGNAT) address"),
            ("192.0.2.10", "a documentation address"),
            ("198.51.100.7", "a documentation address"),
            ("203.0.113.99", "a documentation address"),
            ("198.18.0.1", "a benchmarking address"),
            ("224.0.0.1", "a multicast address"),
            ("239.255.255.250", "a multicast address"),
            ("240.0.0.1", "a reserved address"),
            ("255.255.255.255", "a broadcast address"),
        ];
        for (ip, why) in cases {
            assert_eq!(v4(ip), Some(why), "{ip}");
        }
    }

    #[test]
    fn non_public_ipv6_is_refused() {
        let cases = [
            ("::", "an unspecified address"),
            ("::1", "a loopback address"),
            ("fc00::1", "a private (unique local) address"),
            ("fd12:3456::1", "a private (unique local) address"),
            ("fe80::1", "a link-local address"),
            ("ff02::1", "a multicast address"),
            ("2001:db8::1", "a documentation address"),
        ];
        for (ip, why) in cases {
            assert_eq!(v4(ip), Some(why), "{ip}");
        }
    }

    #[test]
    fn ipv4_hidden_in_ipv6_is_judged_by_the_ipv4() {
        let cases = [
            ("::ffff:127.0.0.1", Some("a loopback address")),
            ("::ffff:10.0.0.5", Some("a private address")),
            ("::ffff:169.254.169.254", Some("a link-local address")),
            ("::ffff:8.8.8.8", None),
            ("::10.0.0.5", Some("a private address")),
            ("64:ff9b::10.0.0.5", Some("a private address")),
            ("64:ff9b::7f00:1", Some("a loopback address")),
            ("64:ff9b::808:808", None),
            ("2002:c0a8:0101::1", Some("a private address")), // 6to4 of 192.168.1.1
            ("2002:7f00:0001::", Some("a loopback address")),
            ("::ffff:0:127.0.0.1", Some("a loopback address")),
            ("::ffff:0:10.0.0.5", Some("a private address")),
            ("::ffff:0:8.8.8.8", None),
            // Teredo: client 10.0.0.5 obfuscated as its complement f5ff:fffa.
            (
                "2001:0:4136:e378:8000:63bf:f5ff:fffa",
                Some("a private address"),
            ),
            (
                "2001:0:4136:e378:8000:63bf:f7f7:f7f7",
                Some("a Teredo tunnel address"),
            ),
        ];
        for (ip, why) in cases {
            assert_eq!(v4(ip), why, "{ip}");
        }
    }

    /// Two forms a hostile pass found passing the guard: SIIT (`::ffff:0:0:0/96`) and RFC 8215
    /// local-use NAT64 (`64:ff9b:1::/48`), whose IPv4 part may sit at any RFC 6052 position.
    #[test]
    fn siit_and_local_use_nat64_forms_of_loopback_are_refused() {
        assert_eq!(v4("::ffff:0:127.0.0.1"), Some("a loopback address"));
        assert_eq!(v4("::ffff:0:7f00:1"), Some("a loopback address"));
        for ip in [
            "64:ff9b:1::7f00:1",
            "64:ff9b:1::a00:5",
            "64:ff9b:1:7f00:1::",
            "64:ff9b:1:ffff:ffff:ffff:ffff:ffff",
        ] {
            assert_eq!(v4(ip), Some("a local-use NAT64 address"), "{ip}");
        }
        // The neighbours stay public.
        assert_eq!(v4("64:ff9b::808:808"), None);
        assert_eq!(v4("64:ff9b:2::1"), None);
        assert_eq!(v4("2001:2::1"), Some("a benchmarking address"));
    }

    #[test]
    fn refusal_names_the_address_and_the_setting() {
        let ip: IpAddr = "10.0.0.5".parse().expect("ip");
        assert_eq!(
            refusal(ip, "a private address"),
            "refused: 10.0.0.5 is a private address; set allow_private_networks to fetch it"
        );
    }
}
