//! RFC 9224 bootstrap: which RDAP service answers for an address.
//!
//! IANA's `ipv4.json` is shipped in `rdap/data/` (see its PROVENANCE.md) and used unless another
//! file or URL is given (`http://` URLs are allowed, for loopback test worlds). Lookups pick the
//! longest matching prefix and, among a service's URLs, prefer https. IANA's IPv4 entries are
//! /8s: space transferred inside a /8 is reached through the registries' redirects.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::LazyLock;
use std::time::Duration;

use ipnet::{IpNet, Ipv6Net};
use reqwest::Url;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::registry::Registry;

/// IANA's `ipv4.json` as shipped in the repository.
pub const SHIPPED_IPV4_JSON: &str = include_str!("../data/ipv4.json");

/// Bootstrap files larger than this are refused (IANA's are a few KiB).
const MAX_BOOTSTRAP_BYTES: usize = 4 << 20;

/// One service: its base URLs as listed, the preferred one, and the registry it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// The base URLs as listed (each ending in `/`).
    pub urls: Vec<Url>,
    /// The one used: the first https URL, else the first one.
    pub base: Url,
    /// The registry named by the base URL ([`Registry::from_url`]).
    pub registry: Option<Registry>,
}

/// A parsed bootstrap file.
#[derive(Debug, Clone)]
pub struct Bootstrap {
    /// `publication` member, when present.
    pub publication: Option<String>,
    /// `description` member, when present.
    pub description: Option<String>,
    services: Vec<Service>,
    /// IPv4 prefixes by length, longest first: (length, network address -> service index).
    v4: Vec<(u8, HashMap<u32, usize>)>,
    /// IPv6 prefixes, longest first.
    v6: Vec<(Ipv6Net, usize)>,
}

#[derive(Deserialize)]
struct RawFile {
    publication: Option<String>,
    description: Option<String>,
    services: Vec<(Vec<String>, Vec<String>)>,
}

static SHIPPED: LazyLock<Bootstrap> = LazyLock::new(|| {
    Bootstrap::from_json("shipped ipv4.json", SHIPPED_IPV4_JSON.as_bytes())
        .expect("the shipped ipv4.json is valid (checked by a unit test)")
});

impl Bootstrap {
    /// IANA's `ipv4.json` shipped with this crate.
    pub fn shipped() -> Bootstrap {
        SHIPPED.clone()
    }

    /// Parse an RFC 9224 file; `origin` names it in errors.
    pub fn from_json(origin: &str, bytes: &[u8]) -> Result<Bootstrap> {
        let err = |reason: String| Error::Bootstrap {
            origin: origin.to_string(),
            reason,
        };
        let raw: RawFile = serde_json::from_slice(bytes)
            .map_err(|e| err(format!("not an RFC 9224 bootstrap file: {e}")))?;
        let mut services = Vec::new();
        let mut v4: HashMap<u8, HashMap<u32, usize>> = HashMap::new();
        let mut v6 = Vec::new();
        for (prefixes, urls) in raw.services {
            let urls = urls
                .iter()
                .map(|u| {
                    let with_slash = if u.ends_with('/') {
                        u.clone()
                    } else {
                        format!("{u}/")
                    };
                    let url = Url::parse(&with_slash)
                        .map_err(|e| err(format!("invalid service URL {u:?}: {e}")))?;
                    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
                        return Err(err(format!("service URL {u:?} is not http(s)")));
                    }
                    Ok(url)
                })
                .collect::<Result<Vec<Url>>>()?;
            let Some(base) = urls
                .iter()
                .find(|u| u.scheme() == "https")
                .or(urls.first())
                .cloned()
            else {
                return Err(err(format!("service for {prefixes:?} lists no URL")));
            };
            let index = services.len();
            for p in &prefixes {
                let net: IpNet = p
                    .trim()
                    .parse()
                    .map_err(|_| err(format!("invalid prefix {p:?}")))?;
                match net.trunc() {
                    IpNet::V4(n) => {
                        v4.entry(n.prefix_len())
                            .or_default()
                            .insert(u32::from(n.network()), index);
                    }
                    IpNet::V6(n) => v6.push((n, index)),
                }
            }
            services.push(Service {
                registry: Registry::from_url(base.as_str()),
                urls,
                base,
            });
        }
        if services.is_empty() {
            return Err(err("lists no services".into()));
        }
        let mut v4: Vec<(u8, HashMap<u32, usize>)> = v4.into_iter().collect();
        v4.sort_by_key(|e| std::cmp::Reverse(e.0));
        v6.sort_by_key(|e| std::cmp::Reverse(e.0.prefix_len()));
        Ok(Bootstrap {
            publication: raw.publication,
            description: raw.description,
            services,
            v4,
            v6,
        })
    }

    /// Read a bootstrap file from disk.
    pub fn from_file(path: &Path) -> Result<Bootstrap> {
        let origin = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| Error::Bootstrap {
            origin: origin.clone(),
            reason: format!("cannot read: {e}"),
        })?;
        Bootstrap::from_json(&origin, &bytes)
    }

    /// Load from a file path or an `http://` / `https://` URL.
    pub async fn load(source: &str) -> Result<Bootstrap> {
        if source.starts_with("http://") || source.starts_with("https://") {
            let bytes = fetch_bootstrap(source, Duration::from_secs(30)).await?;
            Bootstrap::from_json(source, &bytes)
        } else {
            Bootstrap::from_file(Path::new(source))
        }
    }

    /// The registry (when recognisable) and base URL serving `ip`, by longest prefix.
    pub fn base_url_for(&self, ip: IpAddr) -> Option<(Option<Registry>, &Url)> {
        let index = match ip {
            IpAddr::V4(a) => {
                let a = u32::from(a);
                self.v4.iter().find_map(|(len, map)| {
                    let mask = if *len == 0 {
                        0
                    } else {
                        u32::MAX << (32 - u32::from(*len))
                    };
                    map.get(&(a & mask)).copied()
                })
            }
            IpAddr::V6(a) => self
                .v6
                .iter()
                .find(|(net, _)| net.contains(&a))
                .map(|(_, i)| *i),
        }?;
        let s = self.services.get(index)?;
        Some((s.registry, &s.base))
    }

    /// The RFC 9082 query URL for `ip` (`<base>ip/<address>`).
    pub fn query_url(&self, ip: IpAddr) -> Option<(Option<Registry>, Url)> {
        let (registry, base) = self.base_url_for(ip)?;
        base.join(&format!("ip/{ip}")).ok().map(|u| (registry, u))
    }

    /// The services, in file order.
    pub fn services(&self) -> &[Service] {
        &self.services
    }

    /// Number of IPv4 prefixes listed.
    pub fn ipv4_prefix_count(&self) -> usize {
        self.v4.iter().map(|(_, m)| m.len()).sum()
    }

    /// Number of IPv6 prefixes listed.
    pub fn ipv6_prefix_count(&self) -> usize {
        self.v6.len()
    }
}

/// Download a bootstrap file (size-capped), returning its bytes. Used by `load` and by
/// `rdapfleet-worker refresh-bootstrap`.
pub async fn fetch_bootstrap(url: &str, timeout: Duration) -> Result<Vec<u8>> {
    let err = |reason: String| Error::Bootstrap {
        origin: url.to_string(),
        reason,
    };
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .user_agent(crate::client::USER_AGENT)
        .build()
        .map_err(Error::Client)?;
    let mut resp = client
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| {
            err(format!(
                "download failed: {}",
                crate::client::error_chain(&e)
            ))
        })?;
    if !resp.status().is_success() {
        return Err(err(format!("download failed: HTTP {}", resp.status())));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| {
        err(format!(
            "download failed: {}",
            crate::client::error_chain(&e)
        ))
    })? {
        if body.len() + chunk.len() > MAX_BOOTSTRAP_BYTES {
            return Err(err(format!(
                "larger than {MAX_BOOTSTRAP_BYTES} bytes: not a bootstrap file"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn shipped_file_maps_every_registry() {
        let b = Bootstrap::shipped();
        assert_eq!(b.publication.as_deref(), Some("2019-06-07T19:00:02Z"));
        assert!(b.ipv4_prefix_count() > 200, "{}", b.ipv4_prefix_count());
        let cases = [
            ("1.1.1.1", Registry::Apnic, "https://rdap.apnic.net/"),
            ("3.3.3.3", Registry::Arin, "https://rdap.arin.net/registry/"),
            (
                "193.0.6.139",
                Registry::RipeNcc,
                "https://rdap.db.ripe.net/",
            ),
            (
                "200.57.141.161",
                Registry::Lacnic,
                "https://rdap.lacnic.net/rdap/",
            ),
            (
                "41.0.0.1",
                Registry::Afrinic,
                "https://rdap.afrinic.net/rdap/",
            ),
        ];
        for (addr, reg, base) in cases {
            let (r, u) = b.base_url_for(ip(addr)).unwrap();
            assert_eq!((r, u.as_str()), (Some(reg), base), "{addr}");
        }
        assert_eq!(
            b.query_url(ip("3.3.3.3")).unwrap().1.as_str(),
            "https://rdap.arin.net/registry/ip/3.3.3.3"
        );
        // Private space and IPv6 are not in ipv4.json.
        assert!(b.base_url_for(ip("10.1.2.3")).is_none());
        assert!(b.base_url_for(ip("2001:db8::1")).is_none());
    }

    #[test]
    fn longest_prefix_and_https_preference() {
        let json = br#"{"version":"1.0","services":[
            [["10.0.0.0/8"], ["http://a.example/rdap/", "https://a.example/rdap/"]],
            [["10.1.0.0/16", "2001:db8::/32"], ["http://127.0.0.1:9/arin/registry"]],
            [["10.1.2.0/24"], ["http://127.0.0.1:9/lacnic/rdap/"]],
            [["0.0.0.0/0"], ["http://127.0.0.1:9/ripencc/"]]
        ]}"#;
        let b = Bootstrap::from_json("test", json).unwrap();
        let base = |s: &str| b.base_url_for(ip(s)).map(|(r, u)| (r, u.to_string()));
        assert_eq!(
            base("10.9.9.9"),
            Some((None, "https://a.example/rdap/".into()))
        );
        assert_eq!(
            base("10.1.9.9"),
            Some((
                Some(Registry::Arin),
                "http://127.0.0.1:9/arin/registry/".into()
            ))
        );
        assert_eq!(
            base("10.1.2.3"),
            Some((
                Some(Registry::Lacnic),
                "http://127.0.0.1:9/lacnic/rdap/".into()
            ))
        );
        assert_eq!(base("99.0.0.1").unwrap().0, Some(Registry::RipeNcc));
        assert_eq!(base("2001:db8::5").unwrap().0, Some(Registry::Arin));
        assert_eq!(
            b.query_url(ip("10.1.2.3")).unwrap().1.as_str(),
            "http://127.0.0.1:9/lacnic/rdap/ip/10.1.2.3"
        );
    }

    #[test]
    fn bad_files_say_why() {
        for (json, says) in [
            (&b"<html>"[..], "not an RFC 9224 bootstrap file"),
            (br#"{"services":[]}"#, "lists no services"),
            (br#"{"services":[[["1.0.0.0/8"],[]]]}"#, "lists no URL"),
            (
                br#"{"services":[[["1.0.0.0/33"],["https://x/"]]]}"#,
                "invalid prefix",
            ),
            (
                br#"{"services":[[["1.0.0.0/8"],["ftp://x/"]]]}"#,
                "not http(s)",
            ),
            (
                br#"{"services":[[["1.0.0.0/8"],["::"]]]}"#,
                "invalid service URL",
            ),
        ] {
            let e = Bootstrap::from_json("f.json", json)
                .unwrap_err()
                .to_string();
            assert!(
                e.contains(says) && e.starts_with("bootstrap f.json: "),
                "{e}"
            );
        }
    }
}
