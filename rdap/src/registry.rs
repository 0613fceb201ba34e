//! The five Regional Internet Registries and how a URL names the one that serves it.
//!
//! Real services are recognised by host (`rdap.arin.net`, `rdap.db.ripe.net`, ...). Local test
//! worlds (rdapfleet-sim) serve all five from one loopback listener and name each registry by the
//! first path segment of its base URL: `http://127.0.0.1:PORT/arin/registry/`,
//! `.../ripencc/`, `.../apnic/`, `.../lacnic/rdap/`, `.../afrinic/rdap/`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One of the five RIRs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Registry {
    /// ARIN (North America).
    Arin,
    /// RIPE NCC (Europe, Middle East, Central Asia).
    #[serde(rename = "ripencc")]
    RipeNcc,
    /// APNIC (Asia-Pacific).
    Apnic,
    /// LACNIC (Latin America and the Caribbean).
    Lacnic,
    /// AFRINIC (Africa).
    Afrinic,
}

impl Registry {
    /// All five, in a fixed order.
    pub const ALL: [Registry; 5] = [
        Registry::Arin,
        Registry::RipeNcc,
        Registry::Apnic,
        Registry::Lacnic,
        Registry::Afrinic,
    ];

    /// The lowercase name used everywhere (flags, JSON, metrics): arin, ripencc, apnic, lacnic, afrinic.
    pub fn as_str(self) -> &'static str {
        match self {
            Registry::Arin => "arin",
            Registry::RipeNcc => "ripencc",
            Registry::Apnic => "apnic",
            Registry::Lacnic => "lacnic",
            Registry::Afrinic => "afrinic",
        }
    }

    /// The host of the registry's real RDAP service.
    pub fn rdap_host(self) -> &'static str {
        match self {
            Registry::Arin => "rdap.arin.net",
            Registry::RipeNcc => "rdap.db.ripe.net",
            Registry::Apnic => "rdap.apnic.net",
            Registry::Lacnic => "rdap.lacnic.net",
            Registry::Afrinic => "rdap.afrinic.net",
        }
    }

    /// The path, below the base URL's origin, of IP queries on the real service
    /// (`/registry/ip/`, `/ip/`, `/ip/`, `/rdap/ip/`, `/rdap/ip/`).
    pub fn ip_path(self) -> &'static str {
        match self {
            Registry::Arin => "/registry/ip/",
            Registry::RipeNcc | Registry::Apnic => "/ip/",
            Registry::Lacnic | Registry::Afrinic => "/rdap/ip/",
        }
    }

    /// Which registry a URL belongs to: by real host name, or for local worlds by the first
    /// path segment (see the module documentation). `None` for anything else.
    pub fn from_url(url: &str) -> Option<Registry> {
        let rest = url.split_once("://").map_or(url, |(_, r)| r);
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let host = authority.rsplit('@').next().unwrap_or(authority);
        let host = host.split(':').next().unwrap_or(host).to_ascii_lowercase();
        if let Some(r) = Registry::ALL
            .into_iter()
            .find(|r| host == r.rdap_host() || host.ends_with(&format!(".{}", r.rdap_host())))
        {
            return Some(r);
        }
        // registro.br answers for LACNIC space delegated to NIC.br.
        if host == "rdap.registro.br" {
            return Some(Registry::Lacnic);
        }
        let first = path.split('/').next().unwrap_or("");
        first.parse().ok()
    }
}

impl fmt::Display for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Registry {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "arin" => Ok(Registry::Arin),
            "ripencc" | "ripe" | "ripe-ncc" | "ripe ncc" => Ok(Registry::RipeNcc),
            "apnic" => Ok(Registry::Apnic),
            "lacnic" => Ok(Registry::Lacnic),
            "afrinic" => Ok(Registry::Afrinic),
            other => Err(format!(
                "unknown registry {other:?} (expected arin, ripencc, apnic, lacnic or afrinic)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_registries_by_host_and_by_local_path() {
        assert_eq!(
            Registry::from_url("https://rdap.arin.net/registry/ip/1.2.3.4"),
            Some(Registry::Arin)
        );
        assert_eq!(
            Registry::from_url("https://rdap.db.ripe.net/ip/2.2.2.2"),
            Some(Registry::RipeNcc)
        );
        assert_eq!(
            Registry::from_url("http://rdap.lacnic.net/rdap/"),
            Some(Registry::Lacnic)
        );
        assert_eq!(
            Registry::from_url("https://rdap.registro.br/ip/177.0.0.1"),
            Some(Registry::Lacnic)
        );
        assert_eq!(
            Registry::from_url("http://127.0.0.1:8080/afrinic/rdap/ip/41.0.0.1"),
            Some(Registry::Afrinic)
        );
        assert_eq!(
            Registry::from_url("http://127.0.0.1:8080/ripencc/"),
            Some(Registry::RipeNcc)
        );
        assert_eq!(
            Registry::from_url("http://127.0.0.1:8080/other/ip/1.1.1.1"),
            None
        );
        assert_eq!(Registry::from_url("https://evil.example/ip/"), None);
        for r in Registry::ALL {
            assert_eq!(r.as_str().parse::<Registry>(), Ok(r));
            assert_eq!(serde_json::to_string(&r).unwrap(), format!("\"{r}\""));
        }
    }
}
