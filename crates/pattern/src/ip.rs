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

/// event-ruler's `CIDR.cidr`: note the base address is not masked, so `10.0.0.5/24` covers
/// `10.0.0.5`..`10.0.0.255`.
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
            let host = if bits == 0 {
                u32::MAX
            } else {
                u32::MAX >> bits
            };
            Ok(IpRange::V4(a, a | host))
        }
        IpBytes::V6(a) => {
            if bits > 127 {
                return Err("IPv6 mask bits must be < 128".into());
            }
            let host = if bits == 0 {
                u128::MAX
            } else {
                u128::MAX >> bits
            };
            Ok(IpRange::V6(a, a | host))
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
}
