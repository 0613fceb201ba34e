//! Lenient parsing of the addresses registries really send in `startAddress`/`endAddress` and
//! `cidr0_cidrs`, into canonical `IpAddr` values.
//!
//! Accepted beyond plain text: zero-padded IPv4 octets read as decimal (ARIN 2015-2017,
//! `074.125.000.000`), a full-length prefix suffix (RIPE 2015-2018, `194.85.61.0/32`,
//! `2a00:2381:ffff::/128`), uncompressed or upper-case IPv6 (LACNIC/ARIN 2015). Everything else
//! is refused with a reason: a shorter suffix such as `/24` is ambiguous for a range bound.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Parse one range bound. The error is a human-readable reason.
pub(crate) fn parse_bound(text: &str) -> Result<IpAddr, String> {
    let t = text.trim();
    let (addr, suffix) = match t.split_once('/') {
        Some((a, s)) => (a.trim(), Some(s.trim())),
        None => (t, None),
    };
    let ip = parse_addr(addr).ok_or_else(|| format!("{text:?} is not an IP address"))?;
    if let Some(s) = suffix {
        let full = match ip {
            IpAddr::V4(_) => "32",
            IpAddr::V6(_) => "128",
        };
        if s != full {
            return Err(format!(
                "{text:?} carries a /{s} suffix (only /{full} is accepted on a range bound)"
            ));
        }
    }
    Ok(ip)
}

/// Parse an address without suffix, IPv4 with optional zero padding (decimal, never octal).
pub(crate) fn parse_addr(text: &str) -> Option<IpAddr> {
    if text.contains(':') {
        return text.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    parse_padded_v4(text).map(IpAddr::V4)
}

fn parse_padded_v4(text: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = text.split('.');
    for o in &mut octets {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *o = p.parse::<u8>().ok()?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(Ipv4Addr::from(octets))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_registries_send() {
        let v4 = |s: &str| parse_bound(s).map(|ip| ip.to_string());
        assert_eq!(v4("074.125.000.000").unwrap(), "74.125.0.0");
        assert_eq!(v4("074.125.255.255").unwrap(), "74.125.255.255");
        assert_eq!(v4("194.85.61.0/32").unwrap(), "194.85.61.0");
        assert_eq!(v4(" 1.2.3.4 ").unwrap(), "1.2.3.4");
        assert_eq!(v4("2a00:2381:ffff::/128").unwrap(), "2a00:2381:ffff::");
        assert_eq!(v4("2801:10:c000:0:0:0:0:0").unwrap(), "2801:10:c000::");
        assert_eq!(
            v4("2001:4860:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF").unwrap(),
            "2001:4860:ffff:ffff:ffff:ffff:ffff:ffff"
        );
        for bad in [
            "",
            "1.2.3",
            "1.2.3.4.5",
            "256.0.0.0",
            "1.2.3.0/24",
            "1.2.3.4/",
            "0001.2.3.4",
            "1.2.3.-4",
            "1.2.3.+4",
            "::/64",
            "abc",
            "1..2.3",
        ] {
            assert!(parse_bound(bad).is_err(), "{bad:?}");
        }
    }
}
