//! Entities and their jCard (`vcardArray`, RFC 7095) contents: the registrant's name and the
//! abuse contacts' e-mail addresses, found at any depth of `entities` inside `entities`.
//!
//! A jCard is `["vcard", [[name, params, type, value], ...]]`. Malformed properties are skipped,
//! never fatal: a registry that sends an odd contact card still yields its network.

use serde_json::Value;

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

fn card(entity: &Value) -> Card<'_> {
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
        let Some(text) = text else { continue };
        if name.eq_ignore_ascii_case("fn") {
            c.fn_.get_or_insert(text);
        } else if name.eq_ignore_ascii_case("org") {
            c.org.get_or_insert(text);
        } else if name.eq_ignore_ascii_case("kind") {
            c.kind.get_or_insert(text);
        } else if name.eq_ignore_ascii_case("email") {
            let e = text.strip_prefix("mailto:").unwrap_or(text);
            if e.contains('@') {
                c.emails.push(e);
            }
        }
    }
    c
}

fn has_role(entity: &Value, role: &str) -> bool {
    match entity.get("roles") {
        Some(Value::Array(roles)) => roles
            .iter()
            .filter_map(Value::as_str)
            .any(|r| r.trim().eq_ignore_ascii_case(role)),
        Some(Value::String(r)) => r.trim().eq_ignore_ascii_case(role),
        _ => false,
    }
}

fn has_no_roles(entity: &Value) -> bool {
    match entity.get("roles") {
        None | Some(Value::Null) => true,
        Some(Value::Array(a)) => a.is_empty(),
        _ => false,
    }
}

/// Every entity in breadth-first order (top level first), with its depth.
fn walk(entities: Option<&Value>) -> Vec<(usize, &Value)> {
    let mut out = Vec::new();
    let mut level: Vec<&Value> = match entities {
        Some(Value::Array(a)) => a.iter().filter(|e| e.is_object()).collect(),
        _ => return out,
    };
    let mut depth = 0;
    while !level.is_empty() && depth < MAX_DEPTH {
        let mut next = Vec::new();
        for e in level {
            out.push((depth, e));
            if let Some(Value::Array(children)) = e.get("entities") {
                next.extend(children.iter().filter(|c| c.is_object()));
            }
        }
        level = next;
        depth += 1;
    }
    out
}

/// The contact facts of a network's `entities` tree.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Contacts {
    /// Registrant organisation name.
    pub registrant: Option<String>,
    /// Abuse e-mail addresses (domain lower-cased), de-duplicated ignoring case, breadth-first.
    pub abuse_emails: Vec<String>,
}

/// Extract the registrant and abuse e-mails from a network's `entities` member.
///
/// Registrant: the first entity (breadth-first) with role `registrant` whose card names it; the
/// name is the card's `fn` for an organisation (`kind` org or absent), else its `org` property
/// when present, else `fn`. AFRINIC's 2015 answers carry no roles at all: there the top-level
/// entity whose card has `kind` org is the registrant.
pub(crate) fn contacts(entities: Option<&Value>) -> Contacts {
    let all = walk(entities);
    let mut out = Contacts::default();
    let name_of = |c: &Card<'_>| -> Option<String> {
        let is_org = c.kind.is_none_or(|k| k.eq_ignore_ascii_case("org"));
        let pick = if is_org {
            c.fn_.or(c.org)
        } else {
            c.org.or(c.fn_)
        };
        pick.map(str::to_string)
    };
    out.registrant = all
        .iter()
        .filter(|(_, e)| has_role(e, "registrant"))
        .find_map(|(_, e)| name_of(&card(e)))
        .or_else(|| {
            all.iter()
                .filter(|(d, e)| *d == 0 && has_no_roles(e))
                .map(|(_, e)| card(e))
                .find(|c| c.kind.is_some_and(|k| k.eq_ignore_ascii_case("org")))
                .and_then(|c| name_of(&c))
        });
    for (_, e) in all.iter().filter(|(_, e)| has_role(e, "abuse")) {
        for mail in card(e).emails {
            // Domains are case-insensitive: lower-case them; keep the local part as given.
            let mail = match mail.rsplit_once('@') {
                Some((local, domain)) => format!("{local}@{}", domain.to_ascii_lowercase()),
                None => mail.to_string(),
            };
            if !out
                .abuse_emails
                .iter()
                .any(|m| m.eq_ignore_ascii_case(&mail))
            {
                out.abuse_emails.push(mail);
            }
        }
    }
    out
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
        let c = contacts(Some(&entities));
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
        let c = contacts(Some(&entities));
        assert_eq!(c.registrant.as_deref(), Some("Example Org"));
        assert!(c.abuse_emails.is_empty());
        assert_eq!(contacts(None), Contacts::default());
        assert_eq!(contacts(Some(&json!({"x": 1}))), Contacts::default());
    }

    #[test]
    fn roleless_org_card_is_the_registrant() {
        let entities = json!([
            {"vcardArray": vcard(json!([["kind", {}, "text", "group"], ["fn", {}, "text", "Maintainer"]]))},
            {"vcardArray": vcard(json!([["kind", {}, "text", "org"], ["fn", {}, "text", "ORG-VSA1-AFRINIC"]]))},
        ]);
        assert_eq!(
            contacts(Some(&entities)).registrant.as_deref(),
            Some("ORG-VSA1-AFRINIC")
        );
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let mut e = json!({"roles": ["abuse"], "vcardArray": vcard(json!([["email", {}, "text", "deep@x.example"]]))});
        for _ in 0..20 {
            e = json!({"roles": ["technical"], "entities": [e]});
        }
        let c = contacts(Some(&json!([e])));
        assert!(c.abuse_emails.is_empty());
    }
}
