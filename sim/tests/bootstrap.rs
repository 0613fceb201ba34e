//! The bootstrap file of a local world maps every /8 exactly as IANA's `ipv4.json` does (the
//! copy shipped in rdapfleet-rdap), and parses with the project's bootstrap reader, pointing at
//! the local registries.

use std::net::{IpAddr, Ipv4Addr};

use rdapfleet_ranges::parse_cidr;
use rdapfleet_rdap::Bootstrap;
use rdapfleet_sim::bootstrap::bootstrap;
use rdapfleet_sim::dialect::base_url;
use rdapfleet_sim::{DataSource, World};

#[test]
fn local_bootstrap_maps_every_slash8_like_iana() {
    // The /8 table is loaded whatever the slice.
    let world = World::load(&DataSource::Shipped, &[parse_cidr("41.0.0.0/24").unwrap()]).unwrap();
    let origin = "http://127.0.0.1:4321";
    let ours = serde_json::to_vec(&bootstrap(&world, origin)).unwrap();
    let ours = Bootstrap::from_json("local", &ours).unwrap();
    let iana = Bootstrap::shipped();
    let mut mapped = 0;
    for octet in 0..=255u32 {
        let ip = IpAddr::V4(Ipv4Addr::from(octet << 24 | 0x0001_0203));
        let want = iana.base_url_for(ip).map(|(r, _)| r);
        let got = ours.base_url_for(ip);
        assert_eq!(got.map(|(r, _)| r), want, "{octet}/8");
        if let Some((Some(r), url)) = got {
            assert_eq!(
                url.as_str(),
                format!("{}/", base_url(origin, r)),
                "{octet}/8"
            );
            let (_, q) = ours.query_url(ip).unwrap();
            assert_eq!(q.as_str(), format!("{}/ip/{ip}", base_url(origin, r)));
            mapped += 1;
        }
    }
    assert!(mapped > 200, "{mapped} /8s mapped");
}
