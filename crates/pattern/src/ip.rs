//! IP addresses and CIDR blocks the way event-ruler's `CIDR` class reads them (through Java's
//! `InetAddress`), including its error messages.

use std::net::Ipv6Addr;

/// A parsed address: 4 bytes (IPv4, including IPv4-mapped IPv6) or 16 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IpBytes {
    V4(u32),
    V6(u128),
}

/// An inclusive range of addresses of one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IpRange {
    V4(u32, u32),
    V6(u128, u128),
}

impl IpRange {
    pub(crate) fn single(ip: IpBytes) -> Self {
        match ip {
            IpBytes::V4(a) => IpRange::V4(a, a),
            IpBytes::V6(a) => IpRange::V6(a, a),
        }
    }

    pub(crate) fn contains(&self, ip: IpBytes) -> bool {
        match (self, ip) {
            (IpRange::V4(lo, hi), IpBytes::V4(a)) => *lo <= a && a <= *hi,
            (IpRange::V6(lo, hi), IpBytes::V6(a)) => *lo <= a && a <= *hi,
            _ => false,
        }
    }
}

/// Why a string is not an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IpError {
    /// Does not look like an address at all ("Nonstandard IP address").
    Nonstandard,
    /// Looks like one but `InetAddress` rejects it ("Invalid IP address").
    Invalid,
}

/// `[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+`
fn looks_v4(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()))
}

/// `[0-9a-fA-F:]*:[0-9a-fA-F:]*`
fn looks_v6(s: &str) -> bool {
    s.contains(':') && s.bytes().all(|c| c.is_ascii_hexdigit() || c == b':')
}

/// Parse an address as event-ruler's `CIDR.ipToBytes` does.
pub(crate) fn parse_ip(s: &str) -> Result<IpBytes, IpError> {
    if looks_v4(s) {
        let mut v: u32 = 0;
        for p in s.split('.') {
            // Modern JDKs reject ambiguous literals with leading zeros.
            if p.len() > 1 && p.starts_with('0') {
                return Err(IpError::Invalid);
            }
            if p.len() > 3 {
                return Err(IpError::Invalid);
            }
            let n: u32 = p.parse().map_err(|_| IpError::Invalid)?;
            if n > 255 {
                return Err(IpError::Invalid);
            }
            v = (v << 8) | n;
        }
        return Ok(IpBytes::V4(v));
    }
    if looks_v6(s) {
        let a: Ipv6Addr = s.parse().map_err(|_| IpError::Invalid)?;
        let n = u128::from(a);
        // Java turns IPv4-mapped addresses (::ffff:a.b.c.d) into IPv4 addresses.
        if n >> 32 == 0xffff {
            return Ok(IpBytes::V4(n as u32));
        }
        return Ok(IpBytes::V6(n));
    }
    Err(IpError::Nonstandard)
}

/// An address if the whole string is one (used for event values and exact-match pattern strings).
pub(crate) fn ip_if_possible(s: &str) -> Option<IpBytes> {
    parse_ip(s).ok()
}

/// Java's `String.split("/")`: trailing empty strings removed.
fn java_split_slash(s: &str) -> Vec<&str> {
    let mut parts: Vec<&str> = s.split('/').collect();
    while parts.last() == Some(&"") {
        parts.pop();
    }
    parts
}

/// Java's `Integer.parseInt` for ASCII input.
fn java_parse_int(s: &str) -> Option<i32> {
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut v: i64 = 0;
    for c in digits.bytes() {
        v = v * 10 + i64::from(c - b'0');
        if v > i64::from(i32::MAX) + 1 {
            return None;
        }
    }
    let v = if neg { -v } else { v };
    i32::try_from(v).ok()
}

/// event-ruler's `CIDR.cidr` (src/main/software/amazon/event/ruler/CIDR.java): split on `/`
/// (Java's `split`), mask bits by `Integer.parseInt`, address by `ipToBytes`, then the checks in
/// that order with their messages. IPv4 takes /0 to /31 and IPv6 /0 to /127 (a /32 or /128, a
/// single address, is rejected). An address that Java reads as IPv4 (including IPv4-mapped IPv6,
/// `::ffff:a.b.c.d`) is IPv4 here too, so it takes at most /31.
///
/// Host bits: event-ruler's current `CIDR` computes the bottom of the range with
/// `computeBottomBytes` (the address ANDed with the network mask) and the top with
/// `computeTopBytes` (ORed with the host mask). So host bits set in the pattern are ignored:
/// `10.0.0.1/31` covers `10.0.0.0`..`10.0.0.1` and `192.168.1.77/24` covers
/// `192.168.1.0`..`192.168.1.255`. (Releases before that fix used the unmasked address as the
/// bottom, which matched only the upper part of the block; AWS matches the whole block.)
pub(crate) fn parse_cidr(text: &str) -> Result<IpRange, String> {
    let parts = java_split_slash(text);
    if parts.len() != 2 {
        return Err("Malformed CIDR, one '/' required".into());
    }
    let Some(bits) = java_parse_int(parts[1]) else {
        return Err("Malformed CIDR, mask bits must be an integer".into());
    };
    if bits < 0 {
        return Err("Malformed CIDR, mask bits must not be negative".into());
    }
    let ip = match parse_ip(parts[0]) {
        Ok(ip) => ip,
        Err(IpError::Nonstandard) => return Err(format!("Nonstandard IP address: {}", parts[0])),
        Err(IpError::Invalid) => return Err(format!("Invalid IP address: {}", parts[0])),
    };
    let bits = bits as u32;
    match ip {
        IpBytes::V4(a) => {
            if bits > 31 {
                return Err("IPv4 mask bits must be < 32".into());
            }
            // bits < 32, so the shift is defined; /0 gives an all-ones host mask.
            let host = u32::MAX >> bits;
            Ok(IpRange::V4(a & !host, a | host))
        }
        IpBytes::V6(a) => {
            if bits > 127 {
                return Err("IPv6 mask bits must be < 128".into());
            }
            let host = u128::MAX >> bits;
            Ok(IpRange::V6(a & !host, a | host))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_messages() {
        assert_eq!(
            parse_cidr("bad-filter").unwrap_err(),
            "Malformed CIDR, one '/' required"
        );
        assert_eq!(
            parse_cidr("10.0.0.0/").unwrap_err(),
            "Malformed CIDR, one '/' required"
        );
        assert_eq!(
            parse_cidr("10.0.0.0/x").unwrap_err(),
            "Malformed CIDR, mask bits must be an integer"
        );
        assert_eq!(
            parse_cidr("10.0.0.0/-1").unwrap_err(),
            "Malformed CIDR, mask bits must not be negative"
        );
        assert_eq!(
            parse_cidr("xx.11.xx/8").unwrap_err(),
            "Nonstandard IP address: xx.11.xx"
        );
        assert_eq!(
            parse_cidr("10.0.0.256/8").unwrap_err(),
            "Invalid IP address: 10.0.0.256"
        );
        assert_eq!(
            parse_cidr("10.0.0.0/32").unwrap_err(),
            "IPv4 mask bits must be < 32"
        );
        assert_eq!(
            parse_cidr("::/128").unwrap_err(),
            "IPv6 mask bits must be < 128"
        );
        assert_eq!(parse_cidr("/24").unwrap_err(), "Nonstandard IP address: ");
    }

    #[test]
    fn ranges() {
        let r = parse_cidr("10.0.0.0/24").unwrap();
        assert!(r.contains(parse_ip("10.0.0.255").unwrap()));
        assert!(!r.contains(parse_ip("10.0.1.0").unwrap()));
        let r6 = parse_cidr("2001:db8:1234:1a00::/64").unwrap();
        assert!(r6.contains(parse_ip("2001:0db8:1234:1a00:0000:0000:0000:0000").unwrap()));
        assert!(!r6.contains(parse_ip("2001:0db8:123f:1a01::").unwrap()));
        assert_eq!(
            parse_ip("::ffff:a00:1").unwrap(),
            parse_ip("10.0.0.1").unwrap()
        );
        assert!(parse_ip("010.0.0.1").is_err());
    }

    fn v4(s: &str) -> u32 {
        match parse_ip(s).unwrap() {
            IpBytes::V4(a) => a,
            other => panic!("{s} is {other:?}"),
        }
    }

    fn v6(s: &str) -> u128 {
        match parse_ip(s).unwrap() {
            IpBytes::V6(a) => a,
            other => panic!("{s} is {other:?}"),
        }
    }

    #[test]
    fn host_bits_are_masked_v4() {
        let cases = [
            ("10.0.0.1/31", "10.0.0.0", "10.0.0.1"),
            ("10.0.0.0/31", "10.0.0.0", "10.0.0.1"),
            ("10.0.0.3/31", "10.0.0.2", "10.0.0.3"),
            ("192.168.1.77/24", "192.168.1.0", "192.168.1.255"),
            ("192.168.1.77/30", "192.168.1.76", "192.168.1.79"),
            ("172.31.255.255/12", "172.16.0.0", "172.31.255.255"),
            ("10.200.3.4/8", "10.0.0.0", "10.255.255.255"),
            ("10.0.0.129/25", "10.0.0.128", "10.0.0.255"),
            ("10.0.0.127/25", "10.0.0.0", "10.0.0.127"),
            ("255.255.255.255/0", "0.0.0.0", "255.255.255.255"),
            ("1.2.3.4/0", "0.0.0.0", "255.255.255.255"),
            ("128.0.0.1/1", "128.0.0.0", "255.255.255.255"),
            ("127.255.0.1/1", "0.0.0.0", "127.255.255.255"),
            // An IPv4-mapped IPv6 address is an IPv4 address (Java's InetAddress); the dotted
            // form does not pass event-ruler's IPv6 regex (hex digits and colons only).
            ("::ffff:a01:203/16", "10.1.0.0", "10.1.255.255"),
        ];
        for (cidr, lo, hi) in cases {
            assert_eq!(
                parse_cidr(cidr).unwrap(),
                IpRange::V4(v4(lo), v4(hi)),
                "{cidr}"
            );
        }
        let r = parse_cidr("192.168.1.77/24").unwrap();
        for inside in [
            "192.168.1.0",
            "192.168.1.1",
            "192.168.1.76",
            "192.168.1.255",
        ] {
            assert!(r.contains(parse_ip(inside).unwrap()), "{inside}");
        }
        for outside in ["192.168.0.255", "192.168.2.0"] {
            assert!(!r.contains(parse_ip(outside).unwrap()), "{outside}");
        }
        assert_eq!(
            parse_cidr("::ffff:a01:203/32").unwrap_err(),
            "IPv4 mask bits must be < 32"
        );
        assert_eq!(
            parse_cidr("::ffff:10.1.2.3/16").unwrap_err(),
            "Nonstandard IP address: ::ffff:10.1.2.3"
        );
    }

    #[test]
    fn host_bits_are_masked_v6() {
        let cases = [
            ("2001:db8::1/127", "2001:db8::", "2001:db8::1"),
            ("2001:db8::3/127", "2001:db8::2", "2001:db8::3"),
            ("2001:db8::ff/120", "2001:db8::", "2001:db8::ff"),
            (
                "2001:db8:1234:1a00:dead:beef::1/64",
                "2001:db8:1234:1a00::",
                "2001:db8:1234:1a00:ffff:ffff:ffff:ffff",
            ),
            (
                "2001:db8:abcd:12::/44",
                "2001:db8:abc0::",
                "2001:db8:abcf:ffff:ffff:ffff:ffff:ffff",
            ),
            ("ffff::1/0", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
            ("::1/0", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
            (
                "8000::1/1",
                "8000::",
                "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            ),
            (
                "FE80::1:2/10",
                "fe80::",
                "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            ),
        ];
        for (cidr, lo, hi) in cases {
            assert_eq!(
                parse_cidr(cidr).unwrap(),
                IpRange::V6(v6(lo), v6(hi)),
                "{cidr}"
            );
        }
        let r = parse_cidr("2001:db8::1/127").unwrap();
        assert!(r.contains(parse_ip("2001:db8::").unwrap()));
        assert!(r.contains(parse_ip("2001:0db8:0:0:0:0:0:1").unwrap()));
        assert!(!r.contains(parse_ip("2001:db8::2").unwrap()));
        // IPv4 and IPv6 ranges never contain each other's addresses.
        assert!(!parse_cidr("::/0")
            .unwrap()
            .contains(parse_ip("10.0.0.1").unwrap()));
        assert!(!parse_cidr("0.0.0.0/0")
            .unwrap()
            .contains(parse_ip("::1").unwrap()));
    }

    #[test]
    fn edge_prefixes() {
        assert_eq!(
            parse_cidr("10.0.0.1/32").unwrap_err(),
            "IPv4 mask bits must be < 32"
        );
        assert_eq!(
            parse_cidr("2001:db8::1/128").unwrap_err(),
            "IPv6 mask bits must be < 128"
        );
        // /128 is fine for the mask check of IPv6 only; an IPv4 /33 fails the IPv4 check.
        assert_eq!(
            parse_cidr("10.0.0.1/33").unwrap_err(),
            "IPv4 mask bits must be < 32"
        );
        assert!(parse_cidr("10.0.0.1/+31").is_ok());
        assert_eq!(
            parse_cidr("10.0.0.1/2147483648").unwrap_err(),
            "Malformed CIDR, mask bits must be an integer"
        );
        // Mask bits are checked before the address: a bad address with bad bits reports the bits.
        assert_eq!(
            parse_cidr("nope/x").unwrap_err(),
            "Malformed CIDR, mask bits must be an integer"
        );
        for bits in 0..32u32 {
            let r = parse_cidr(&format!("255.255.255.255/{bits}")).unwrap();
            let host = u32::MAX >> bits;
            assert_eq!(r, IpRange::V4(!host, u32::MAX), "/{bits}");
        }
        for bits in 0..128u32 {
            let r = parse_cidr(&format!("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/{bits}")).unwrap();
            let host = u128::MAX >> bits;
            assert_eq!(r, IpRange::V6(!host, u128::MAX), "/{bits}");
        }
    }
}
