//! Properties of the parsed model over arbitrary ranges and arbitrary bytes.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use proptest::prelude::*;
use rdapfleet_rdap::{ParseError, parse};

/// Dotted quad, optionally zero-padded to three digits per octet (as ARIN sent in 2015-2017),
/// optionally with RIPE's `/32` suffix.
fn spell(ip: u32, padded: bool, suffix: bool) -> String {
    let o = Ipv4Addr::from(ip).octets();
    let mut s = if padded {
        format!("{:03}.{:03}.{:03}.{:03}", o[0], o[1], o[2], o[3])
    } else {
        Ipv4Addr::from(ip).to_string()
    };
    if suffix {
        s.push_str("/32");
    }
    s
}

fn body(start: &str, end: &str, cidr0: Option<&[(String, u8)]>) -> String {
    let mut b = format!(
        r#"{{"objectClassName":"ip network","ipVersion":"v4","startAddress":"{start}","endAddress":"{end}""#
    );
    if let Some(c) = cidr0 {
        let items: Vec<String> = c
            .iter()
            .map(|(p, l)| format!(r#"{{"v4prefix":"{p}","length":{l}}}"#))
            .collect();
        b.push_str(&format!(r#","cidr0_cidrs":[{}]"#, items.join(",")));
    }
    b.push('}');
    b
}

/// The CIDR strings must cover exactly start..=end, in order, without gaps or overlaps.
fn assert_exact(cidrs: &[String], start: u32, end: u32) -> Result<(), TestCaseError> {
    prop_assert!(!cidrs.is_empty());
    let mut next = u64::from(start);
    for c in cidrs {
        let net: Ipv4Net = c
            .parse()
            .map_err(|e| TestCaseError::fail(format!("{c}: {e}")))?;
        prop_assert_eq!(net.addr(), net.network(), "{} has host bits", c);
        prop_assert_eq!(u64::from(u32::from(net.network())), next);
        next = u64::from(u32::from(net.broadcast())) + 1;
    }
    prop_assert_eq!(next, u64::from(end) + 1);
    Ok(())
}

proptest! {
    #[test]
    fn cidrs_are_exactly_the_range(a in any::<u32>(), b in any::<u32>(), padded in any::<bool>(), suffix in any::<bool>()) {
        let (start, end) = (a.min(b), a.max(b));
        let n = parse(body(&spell(start, padded, suffix), &spell(end, padded, suffix), None).as_bytes()).unwrap();
        prop_assert_eq!(&n.start_address, &Ipv4Addr::from(start).to_string());
        prop_assert_eq!(&n.end_address, &Ipv4Addr::from(end).to_string());
        assert_exact(&n.cidrs, start, end)?;
        let r = n.v4_range().unwrap();
        prop_assert_eq!((r.start, r.end), (start, end));
    }

    #[test]
    fn cidr0_is_used_when_right_and_ignored_when_wrong(a in any::<u32>(), b in any::<u32>(), shift in 1u32..4096) {
        let (start, end) = (a.min(b), a.max(b));
        let right: Vec<(String, u8)> = rdapfleet_ranges::to_cidrs(start, end)
            .iter()
            .map(|n| (n.network().to_string(), n.prefix_len()))
            .collect();
        let n = parse(body(&spell(start, false, false), &spell(end, false, false), Some(&right)).as_bytes()).unwrap();
        assert_exact(&n.cidrs, start, end)?;
        // A cidr0 list describing another range never wins over the range.
        let (ws, we) = (start.wrapping_add(shift), end.wrapping_add(shift));
        if ws <= we {
            let wrong: Vec<(String, u8)> = rdapfleet_ranges::to_cidrs(ws, we)
                .iter()
                .map(|n| (n.network().to_string(), n.prefix_len()))
                .collect();
            let n = parse(body(&spell(start, false, false), &spell(end, false, false), Some(&wrong)).as_bytes()).unwrap();
            assert_exact(&n.cidrs, start, end)?;
        }
    }

    #[test]
    fn inverted_ranges_are_refused(a in any::<u32>(), b in any::<u32>()) {
        prop_assume!(a != b);
        let (start, end) = (a.max(b), a.min(b));
        let r = parse(body(&spell(start, false, false), &spell(end, false, false), None).as_bytes());
        prop_assert!(matches!(r, Err(ParseError::Malformed(_))), "{:?}", r);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse(&bytes);
    }

    #[test]
    fn arbitrary_member_values_never_panic(
        start in "[0-9a-fA-F:./ ]{0,24}",
        end in "[0-9a-fA-F:./ ]{0,24}",
        extra in prop::sample::select(vec![
            r#""cidr0_cidrs":[{"v4prefix":"1.2.3.0","length":99}]"#,
            r#""cidr0_cidrs":"x""#,
            r#""entities":[{"roles":["abuse"],"vcardArray":["vcard",[["email",{},"text",["a@b"]]]]}]"#,
            r#""events":[{"eventAction":"registration","eventDate":7}]"#,
            r#""errorCode":-1"#,
            r#""ipVersion":4"#,
            r#""arin_originas0_originautnums":[1e99]"#,
        ]),
    ) {
        let b = format!(r#"{{"objectClassName":"ip network","startAddress":"{start}","endAddress":"{end}",{extra}}}"#);
        if let Ok(n) = parse(b.as_bytes()) {
            // Whatever is accepted is a coherent network.
            let s: std::net::IpAddr = n.start_address.parse().unwrap();
            let e: std::net::IpAddr = n.end_address.parse().unwrap();
            prop_assert!(s <= e);
            prop_assert!(!n.cidrs.is_empty());
        }
    }
}
