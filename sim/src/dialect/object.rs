//! The RDAP objects the dialects fill in (RFC 9083 members plus the registries' extensions),
//! as borrowed serde structs: serialized per request straight to bytes, with few allocations.
//! Members left `None`/empty are omitted, so each dialect shows only the members its registry
//! sends.

use std::borrow::Cow;
use std::net::Ipv4Addr;

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

/// Text that is either borrowed or built for this answer.
pub type Text<'a> = Cow<'a, str>;

/// `objectClassName: "ip network"`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IpNetwork<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lang: Option<&'a str>,
    pub rdap_conformance: &'a [&'a str],
    pub notices: Vec<Notice<'a>>,
    pub handle: String,
    pub start_address: Ipv4Addr,
    pub end_address: Ipv4Addr,
    pub ip_version: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_handle: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<&'a [&'a str]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remarks: Option<Vec<Notice<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<&'a [Event]>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link<'a>>,
    pub entities: Vec<Entity<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port43: Option<&'a str>,
    pub object_class_name: &'a str,
    #[serde(rename = "cidr0_cidrs", skip_serializing_if = "Option::is_none")]
    pub cidr0_cidrs: Option<Vec<Cidr0>>,
    #[serde(
        rename = "arin_originas0_originautnums",
        skip_serializing_if = "Option::is_none"
    )]
    pub arin_originautnums: Option<Vec<u32>>,
    #[serde(
        rename = "lacnic_originAutnum",
        skip_serializing_if = "Option::is_none"
    )]
    pub lacnic_origin_autnum: Option<Autnum>,
}

/// LACNIC's `lacnic_originAutnum`: an AS number, or `"N/A"`.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Autnum {
    /// An AS number.
    Number(u32),
    /// None known.
    Text(&'static str),
}

/// `objectClassName: "entity"`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entity<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lang: Option<&'a str>,
    pub handle: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vcard_array: Option<VCard<'a>>,
    pub roles: &'a [&'a str],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub remarks: Vec<Notice<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<&'a [Event]>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub entities: Vec<Entity<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<&'a [&'a str]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port43: Option<&'a str>,
    pub object_class_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rdap_conformance: Option<&'a [&'a str]>,
}

impl<'a> Entity<'a> {
    /// An entity with only a handle and roles.
    pub fn new(handle: String, roles: &'a [&'a str]) -> Self {
        Entity {
            lang: None,
            handle,
            vcard_array: None,
            roles,
            remarks: Vec::new(),
            links: Vec::new(),
            events: None,
            entities: Vec::new(),
            status: None,
            port43: None,
            object_class_name: "entity",
            rdap_conformance: None,
        }
    }
}

/// A notice or remark.
#[derive(Debug, Serialize)]
pub struct Notice<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<&'a str>,
    pub description: Vec<Text<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link<'a>>,
}

impl<'a> Notice<'a> {
    /// A notice with a title and description lines.
    pub fn new(title: Option<&'a str>, description: Vec<Text<'a>>) -> Self {
        Notice {
            title,
            description,
            links: Vec::new(),
        }
    }

    /// With links.
    pub fn with_links(mut self, links: Vec<Link<'a>>) -> Self {
        self.links = links;
        self
    }
}

/// A link.
#[derive(Debug, Serialize)]
pub struct Link<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Text<'a>>,
    pub rel: &'a str,
    pub href: Text<'a>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub media_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hreflang: Option<&'a [&'a str]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media: Option<&'a str>,
}

impl<'a> Link<'a> {
    /// `{value, rel, href, type}`.
    pub fn new(
        value: Option<Text<'a>>,
        rel: &'a str,
        href: impl Into<Text<'a>>,
        media_type: Option<&'a str>,
    ) -> Self {
        Link {
            value,
            rel,
            href: href.into(),
            media_type,
            hreflang: None,
            title: None,
            media: None,
        }
    }
}

/// An event.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub event_action: &'static str,
    pub event_date: String,
}

/// A `cidr0_cidrs` entry.
#[derive(Debug, Serialize)]
pub struct Cidr0 {
    pub v4prefix: Ipv4Addr,
    pub length: u8,
}

/// A jCard: `["vcard", [["version", {}, "text", "4.0"], rows...]]`.
#[derive(Debug)]
pub struct VCard<'a>(pub Vec<VRow<'a>>);

/// One jCard property: name, parameters, value type, value.
#[derive(Debug)]
pub struct VRow<'a> {
    pub name: &'static str,
    pub params: Params<'a>,
    pub kind: &'static str,
    pub value: VValue<'a>,
}

/// jCard parameters (at most one here).
#[derive(Debug)]
pub enum Params<'a> {
    /// `{}`.
    None,
    /// `{"label": ...}`.
    Label(Text<'a>),
    /// `{"type": "..."}`.
    Type(&'a str),
    /// `{"type": [...]}`.
    Types(&'a [&'a str]),
    /// `{"pref": "..."}`.
    Pref(&'a str),
}

/// A jCard value.
#[derive(Debug)]
pub enum VValue<'a> {
    /// Text.
    Text(Text<'a>),
    /// A structured address (seven components).
    Adr([&'a str; 7]),
}

impl<'a> VRow<'a> {
    /// A text property without parameters.
    pub fn text(name: &'static str, value: impl Into<Text<'a>>) -> Self {
        VRow {
            name,
            params: Params::None,
            kind: "text",
            value: VValue::Text(value.into()),
        }
    }

    /// A text property with parameters.
    pub fn with(name: &'static str, params: Params<'a>, value: impl Into<Text<'a>>) -> Self {
        VRow {
            name,
            params,
            kind: "text",
            value: VValue::Text(value.into()),
        }
    }

    /// An address given by a label, with empty components (ARIN, APNIC, RIPE style).
    pub fn adr_label(label: impl Into<Text<'a>>) -> Self {
        VRow {
            name: "adr",
            params: Params::Label(label.into()),
            kind: "text",
            value: VValue::Adr([""; 7]),
        }
    }
}

impl Serialize for VCard<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Rows<'b, 'a>(&'b [VRow<'a>]);
        impl Serialize for Rows<'_, '_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut seq = s.serialize_seq(Some(self.0.len() + 1))?;
                seq.serialize_element(&VRow::text("version", "4.0"))?;
                for r in self.0 {
                    seq.serialize_element(r)?;
                }
                seq.end()
            }
        }
        let mut seq = s.serialize_seq(Some(2))?;
        seq.serialize_element("vcard")?;
        seq.serialize_element(&Rows(&self.0))?;
        seq.end()
    }
}

impl Serialize for VRow<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(4))?;
        seq.serialize_element(self.name)?;
        seq.serialize_element(&self.params)?;
        seq.serialize_element(self.kind)?;
        match &self.value {
            VValue::Text(t) => seq.serialize_element(t.as_ref())?,
            VValue::Adr(parts) => seq.serialize_element(parts)?,
        }
        seq.end()
    }
}

impl Serialize for Params<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let n = usize::from(!matches!(self, Params::None));
        let mut map = s.serialize_map(Some(n))?;
        match self {
            Params::None => {}
            Params::Label(l) => map.serialize_entry("label", l.as_ref())?,
            Params::Type(t) => map.serialize_entry("type", t)?,
            Params::Types(t) => map.serialize_entry("type", t)?,
            Params::Pref(p) => map.serialize_entry("pref", p)?,
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jcard_shape() {
        let v = VCard(vec![
            VRow::text("fn", "Example"),
            VRow::adr_label("Street\nTown"),
            VRow::with("tel", Params::Types(&["work", "voice"]), "+1"),
        ]);
        assert_eq!(
            serde_json::to_value(&v).unwrap(),
            serde_json::json!(["vcard", [
                ["version", {}, "text", "4.0"],
                ["fn", {}, "text", "Example"],
                ["adr", {"label": "Street\nTown"}, "text", ["", "", "", "", "", "", ""]],
                ["tel", {"type": ["work", "voice"]}, "text", "+1"]
            ]])
        );
    }
}
