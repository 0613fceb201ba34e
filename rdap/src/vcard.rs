//! Entities and their jCard (`vcardArray`, RFC 7095) contents: the registrant's name and the
//! abuse contacts' e-mail addresses, found at any depth of `entities` inside `entities`.
//!
//! A jCard is `["vcard", [[name, params, type, value], ...]]`. Malformed properties are skipped,
//! never fatal: a registry that sends an odd contact card still yields its network.
//!
//! Two readers feed one selection ([`select`]): a fast typed reader that borrows strings from the
//! body and skips every member it does not need, and, when an odd shape makes the typed reader
//! give up (a role that is a string, a property with extra values, ...), a lenient reader over
//! `serde_json::Value`. Both give the same answer on well-formed input (tested on every fixture).

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

/// Nesting deeper than this is ignored (registries nest two levels; this bounds hostile input).
const MAX_DEPTH: usize = 8;

/// What one entity's card says that we use.
#[derive(Debug, Default)]
struct Card<'a> {
    kind: Option<&'a str>,
    fn_: Option<&'a str>,
    org: Option<&'a str>,
    emails: Vec<&'a str>,
}

impl<'a> Card<'a> {
    /// Record one property (`name`, its text value already trimmed and non-empty).
    fn add(&mut self, name: &str, text: &'a str) {
        if name.eq_ignore_ascii_case("fn") {
            self.fn_.get_or_insert(text);
        } else if name.eq_ignore_ascii_case("org") {
            self.org.get_or_insert(text);
        } else if name.eq_ignore_ascii_case("kind") {
            self.kind.get_or_insert(text);
        } else if name.eq_ignore_ascii_case("email") {
            let e = text.strip_prefix("mailto:").unwrap_or(text);
            if e.contains('@') {
                self.emails.push(e);
            }
        }
    }
}

/// The roles of an entity that matter here.
#[derive(Debug, Default, Clone, Copy)]
struct Roles {
    registrant: bool,
    abuse: bool,
    /// No roles at all (AFRINIC 2015).
    none: bool,
}

impl Roles {
    fn from_names<'s>(names: impl Iterator<Item = &'s str>) -> Roles {
        let mut r = Roles {
            none: true,
            ..Roles::default()
        };
        for n in names {
            r.none = false;
            let n = n.trim();
            r.registrant |= n.eq_ignore_ascii_case("registrant");
            r.abuse |= n.eq_ignore_ascii_case("abuse");
        }
        r
    }
}

/// One entity, flattened: depth (0 = top level), roles, card.
#[derive(Debug)]
struct Flat<'a> {
    depth: usize,
    roles: Roles,
    card: Card<'a>,
}

// ---- lenient reader over serde_json::Value ----

fn card_of_value(entity: &Value) -> Card<'_> {
    let mut c = Card::default();
    let Some(props) = entity
        .get("vcardArray")
        .and_then(Value::as_array)
        .and_then(|a| a.get(1))
        .and_then(Value::as_array)
    else {
        return c;
    };
    for p in props {
        let Some(p) = p.as_array() else { continue };
        let (Some(name), Some(value)) = (p.first().and_then(Value::as_str), p.get(3)) else {
            continue;
        };
        let text = match value {
            Value::String(s) => Some(s.trim()),
            // Structured values (org units, ...): the first non-empty text component.
            Value::Array(parts) => parts
                .iter()
                .filter_map(Value::as_str)
                .map(str::trim)
                .find(|s| !s.is_empty()),
            _ => None,
        }
        .filter(|s| !s.is_empty());
        if let Some(text) = text {
            c.add(name, text);
        }
    }
    c
}

fn roles_of_value(entity: &Value) -> Roles {
    match entity.get("roles") {
        Some(Value::Array(roles)) => Roles::from_names(roles.iter().filter_map(Value::as_str)),
        Some(Value::String(r)) => Roles::from_names(std::iter::once(r.as_str())),
        None | Some(Value::Null) => Roles::from_names(std::iter::empty()),
        Some(_) => Roles::default(),
    }
}

/// Every entity in breadth-first order (top level first).
fn flatten_value(entities: Option<&Value>) -> Vec<Flat<'_>> {
    let mut out = Vec::new();
    let mut level: Vec<&Value> = match entities {
        Some(Value::Array(a)) => a.iter().filter(|e| e.is_object()).collect(),
        _ => return out,
    };
    let mut depth = 0;
    while !level.is_empty() && depth < MAX_DEPTH {
        let mut next = Vec::new();
        for e in level {
            out.push(Flat {
                depth,
                roles: roles_of_value(e),
                card: card_of_value(e),
            });
            if let Some(Value::Array(children)) = e.get("entities") {
                next.extend(children.iter().filter(|c| c.is_object()));
            }
        }
        level = next;
        depth += 1;
    }
    out
}

// ---- fast typed reader (borrowed strings, unneeded members skipped) ----

#[derive(Deserialize)]
struct EntityT<'a> {
    #[serde(default, borrow)]
    roles: Option<Vec<Cow<'a, str>>>,
    #[serde(rename = "vcardArray", default, borrow)]
    vcard: Option<(IgnoredAny, Vec<PropT<'a>>)>,
    #[serde(default, borrow)]
    entities: Option<Vec<EntityT<'a>>>,
}

#[derive(Deserialize)]
struct PropT<'a>(
    #[serde(borrow)] Cow<'a, str>,
    IgnoredAny,
    IgnoredAny,
    #[serde(borrow)] PropValue<'a>,
);

/// A property value as text: a string, or the first non-empty string of an array.
struct PropValue<'a>(Option<Cow<'a, str>>);

/// A string, or nothing for any other JSON value (skipped).
struct Scalar<'a>(Option<Cow<'a, str>>);

struct ValueVisitor {
    /// Whether arrays are searched for their first non-empty string (top level) or skipped.
    search_arrays: bool,
}

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Option<Cow<'de, str>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v.to_string())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        if self.search_arrays {
            while let Some(Scalar(s)) = seq.next_element::<Scalar<'de>>()? {
                if found.is_none() && s.as_deref().is_some_and(|t| !t.trim().is_empty()) {
                    found = s;
                }
            }
        } else {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
        }
        Ok(found)
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for PropValue<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor {
            search_arrays: true,
        })
        .map(PropValue)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor {
            search_arrays: false,
        })
        .map(Scalar)
    }
}

fn card_of_typed<'b>(e: &'b EntityT<'_>) -> Card<'b> {
    let mut c = Card::default();
    for PropT(name, _, _, PropValue(value)) in e.vcard.iter().flat_map(|(_, props)| props) {
        if let Some(text) = value.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            c.add(name, text);
        }
    }
    c
}

fn flatten_typed<'b>(entities: &'b [EntityT<'_>]) -> Vec<Flat<'b>> {
    let mut out = Vec::new();
    let mut level: Vec<&EntityT<'_>> = entities.iter().collect();
    let mut depth = 0;
    while !level.is_empty() && depth < MAX_DEPTH {
        let mut next = Vec::new();
        for e in level {
            let roles = match &e.roles {
                Some(r) => Roles::from_names(r.iter().map(|c| c.as_ref())),
                None => Roles::from_names(std::iter::empty()),
            };
            out.push(Flat {
                depth,
                roles,
                card: card_of_typed(e),
            });
            next.extend(e.entities.iter().flatten());
        }
        level = next;
        depth += 1;
    }
    out
}

// ---- selection ----

/// The contact facts of a network's `entities` tree.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Contacts {
    /// Registrant organisation name.
    pub registrant: Option<String>,
    /// Abuse e-mail addresses (domain lower-cased), de-duplicated ignoring case, breadth-first.
    pub abuse_emails: Vec<String>,
}

/// Registrant: the first entity (breadth-first) with role `registrant` whose card names it; the
/// name is the card's `fn` for an organisation (`kind` org or absent), else its `org` property
/// when present, else `fn`. AFRINIC's 2015 answers carry no roles at all: there the top-level
/// entity whose card has `kind` org is the registrant. Abuse e-mails: every entity with role
/// `abuse`, at any depth.
fn select(all: &[Flat<'_>]) -> Contacts {
    let name_of = |c: &Card<'_>| -> Option<String> {
        let is_org = c.kind.is_none_or(|k| k.eq_ignore_ascii_case("org"));
        let pick = if is_org {
            c.fn_.or(c.org)
        } else {
            c.org.or(c.fn_)
        };
        pick.map(str::to_string)
    };
    let registrant = all
        .iter()
        .filter(|f| f.roles.registrant)
        .find_map(|f| name_of(&f.card))
        .or_else(|| {
            all.iter()
                .filter(|f| f.depth == 0 && f.roles.none)
                .find(|f| f.card.kind.is_some_and(|k| k.eq_ignore_ascii_case("org")))
                .and_then(|f| name_of(&f.card))
        });
    let mut abuse_emails: Vec<String> = Vec::new();
    for f in all.iter().filter(|f| f.roles.abuse) {
        for mail in &f.card.emails {
            // Domains are case-insensitive: lower-case them; keep the local part as given.
            let mail = match mail.rsplit_once('@') {
                Some((local, domain)) => format!("{local}@{}", domain.to_ascii_lowercase()),
                None => mail.to_string(),
            };
            if !abuse_emails.iter().any(|m| m.eq_ignore_ascii_case(&mail)) {
                abuse_emails.push(mail);
            }
        }
    }
    Contacts {
        registrant,
        abuse_emails,
    }
}

/// Contacts from a parsed `entities` value (the lenient reader).
pub(crate) fn contacts(entities: Option<&Value>) -> Contacts {
    select(&flatten_value(entities))
}

/// Contacts from the raw `entities` member: the typed reader, or the lenient one when the typed
/// reader refuses the shape.
pub(crate) fn contacts_from_raw(entities: Option<&RawValue>) -> Contacts {
    let Some(raw) = entities else {
        return Contacts::default();
    };
    match serde_json::from_str::<Vec<EntityT<'_>>>(raw.get()) {
        Ok(typed) => select(&flatten_typed(&typed)),
        Err(_) => {
            let value: Value = serde_json::from_str(raw.get()).unwrap_or(Value::Null);
            contacts(Some(&value))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vcard(props: Value) -> Value {
        json!(["vcard", props])
    }

    #[test]
    fn nested_registrant_and_abuse() {
        let entities = json!([
            {"handle": "GOGL", "roles": ["registrant"],
             "vcardArray": vcard(json!([["version", {}, "text", "4.0"], ["fn", {}, "text", "Google LLC"], ["kind", {}, "text", "org"]])),
             "entities": [
                {"handle": "ABUSE5250-ARIN", "roles": ["abuse"],
                 "vcardArray": vcard(json!([["fn", {}, "text", "Abuse"], ["email", {}, "text", "network-abuse@google.com"]]))},
             ]},
            {"handle": "ZG39-ARIN", "roles": ["noc", "abuse"],
             "vcardArray": vcard(json!([["email", {}, "text", "NETWORK-ABUSE@GOOGLE.com"], ["email", {}, "text", "mailto:arin-contact@google.com"]]))},
        ]);
        let c = both(&entities);
        assert_eq!(c.registrant.as_deref(), Some("Google LLC"));
        assert_eq!(
            c.abuse_emails,
            ["NETWORK-ABUSE@google.com", "arin-contact@google.com"]
        );
    }

    #[test]
    fn individual_registrant_uses_org_and_odd_cards_are_skipped() {
        let entities = json!([
            {"roles": ["registrant"], "vcardArray": "not a card"},
            {"roles": "registrant", "vcardArray": vcard(json!([
                7, ["fn"], ["fn", {}, "text", null],
                ["kind", {}, "text", "individual"], ["fn", {}, "text", "Jane Doe"],
                ["org", {}, "text", ["", "Example Org", "Unit"]]]))},
            "garbage",
        ]);
        let c = both(&entities);
        assert_eq!(c.registrant.as_deref(), Some("Example Org"));
        assert!(c.abuse_emails.is_empty());
        assert_eq!(contacts(None), Contacts::default());
        assert_eq!(both(&json!({"x": 1})), Contacts::default());
    }

    #[test]
    fn roleless_org_card_is_the_registrant() {
        let entities = json!([
            {"vcardArray": vcard(json!([["kind", {}, "text", "group"], ["fn", {}, "text", "Maintainer"]]))},
            {"vcardArray": vcard(json!([["kind", {}, "text", "org"], ["fn", {}, "text", "ORG-VSA1-AFRINIC"]]))},
        ]);
        assert_eq!(
            both(&entities).registrant.as_deref(),
            Some("ORG-VSA1-AFRINIC")
        );
    }

    /// Both readers agree (the typed one accepts these shapes; the odd ones fall back).
    fn both(entities: &Value) -> Contacts {
        let raw = RawValue::from_string(entities.to_string()).unwrap();
        let fast = contacts_from_raw(Some(&raw));
        assert_eq!(fast, contacts(Some(entities)), "{entities}");
        fast
    }

    #[test]
    fn typed_and_lenient_readers_agree() {
        let entities = json!([
            {"handle": "A", "roles": ["registrant"], "remarks": [{"x": 1}],
             "vcardArray": vcard(json!([["fn", {"a": [1]}, "text", " Org \"A\" "], ["kind", {}, "text", "org"],
                                        ["adr", {}, "text", ["", {"x": 1}, [2], "street"]]])),
             "entities": [{"roles": ["abuse"], "vcardArray": vcard(json!([["email", {}, "text", "Abuse@EXAMPLE.net"]]))}]},
            {"roles": [], "vcardArray": vcard(json!([["org", {}, "text", ["", "Unit"]], ["email", {}, "text", null]]))},
            {"roles": ["abuse", "technical"], "vcardArray": vcard(json!([["email", {}, "text", "mailto:abuse@example.net"], ["email", {}, "text", 5]]))},
        ]);
        let c = both(&entities);
        assert_eq!(c.registrant.as_deref(), Some("Org \"A\""));
        // Breadth-first: the top-level abuse contact comes first; the nested one is the same address.
        assert_eq!(c.abuse_emails, ["abuse@example.net"]);
        // Shapes only the lenient reader takes.
        both(
            &json!([{"roles": "registrant", "vcardArray": vcard(json!([["fn", {}, "text", "X"]]))}]),
        );
        both(
            &json!([{"roles": ["abuse"], "vcardArray": vcard(json!([["email", {}, "text", "a@b.c", "d@e.f"]]))}]),
        );
        both(
            &json!([{"roles": ["abuse"], "vcardArray": ["vcard", [["email", {}, "text", "a@b.c"]], "extra"]}]),
        );
        both(
            &json!(["garbage", {"roles": ["registrant"], "vcardArray": vcard(json!([["fn", {}, "text", "Y"]]))}]),
        );
        both(&json!({"not": "a list"}));
    }

    #[test]
    fn typed_reader_takes_every_fixture_and_agrees() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let mut checked = 0;
        for rir in ["afrinic", "apnic", "arin", "lacnic", "ripe"] {
            for f in std::fs::read_dir(root.join(rir)).unwrap() {
                let path = f.unwrap().path();
                if path.extension().is_none_or(|x| x != "json") {
                    continue;
                }
                let v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
                let Some(entities) = v.get("entities") else {
                    continue;
                };
                let raw = entities.to_string();
                let typed = serde_json::from_str::<Vec<EntityT<'_>>>(&raw)
                    .unwrap_or_else(|e| panic!("{}: typed reader refused: {e}", path.display()));
                assert_eq!(
                    select(&flatten_typed(&typed)),
                    contacts(Some(entities)),
                    "{}",
                    path.display()
                );
                checked += 1;
            }
        }
        assert_eq!(checked, 24);
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let mut e = json!({"roles": ["abuse"], "vcardArray": vcard(json!([["email", {}, "text", "deep@x.example"]]))});
        for _ in 0..20 {
            e = json!({"roles": ["technical"], "entities": [e]});
        }
        let c = both(&json!([e]));
        assert!(c.abuse_emails.is_empty());
    }
}
