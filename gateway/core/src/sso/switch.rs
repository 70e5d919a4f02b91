//! Switching organisations without a new login.
//!
//! A signed-in user on `acme.<apex>` posts `to=globex` to `/auth/switch`. The component
//! asks the directory for a single-use ticket (the directory derives the user from the
//! live session, checks the membership in the target and the target's SSO policy) and
//! sends the browser to `globex.<apex>/auth/switch/complete?ticket=…`, whose gateway trades
//! the ticket for a session of its own. A target that enforces SSO gets its login page
//! instead. The ticket is like an authorisation code: random, stored as a keyed hash,
//! valid once, for one tenant, for a minute.
//!
//! This module holds the pure steps: parsing the form and the ticket, and building the
//! target's URLs.

use crate::ids::TenantSlug;

use super::SsoError;

/// How long a switch ticket lives, seconds.
pub const TICKET_TTL_SECS: u64 = 60;

/// The largest switch form accepted (a slug and a return path).
pub const MAX_FORM_BODY: usize = 4096;

/// Where the user lands on the target organisation unless the form names a path.
pub const DEFAULT_LANDING: &str = "/admin";

/// What a switch form asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwitchForm {
    /// The organisation to move to.
    pub to: TenantSlug,
    /// The path to land on there (relative; [`DEFAULT_LANDING`] when absent).
    pub return_to: String,
}

/// Parses the body of `POST /auth/switch`: `application/x-www-form-urlencoded` with `to`
/// and optionally `return_to`, or the same as a JSON object. Anything else, a repeated
/// field, a slug that is not a DNS label or a `return_to` that is not a local path is
/// refused.
pub fn parse_form(body: &[u8]) -> Result<SwitchForm, SsoError> {
    if body.len() > MAX_FORM_BODY {
        return Err(SsoError::Malformed);
    }
    let fields: Vec<(String, String)> = if body.first() == Some(&b'{') {
        let map: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(body).map_err(|_| SsoError::Malformed)?;
        map.into_iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => Ok((k, s)),
                _ => Err(SsoError::Malformed),
            })
            .collect::<Result<_, _>>()?
    } else {
        form_urlencoded::parse(body).into_owned().collect()
    };
    let mut to = None;
    let mut return_to = None;
    for (k, v) in fields {
        let (slot, name) = match k.as_str() {
            "to" => (&mut to, "to"),
            "return_to" => (&mut return_to, "return_to"),
            // A form may carry a CSRF field the gateway does not need (it checks Origin).
            "csrf_token" => continue,
            _ => return Err(SsoError::Malformed),
        };
        if v.contains('\0') {
            return Err(SsoError::NulInText(name));
        }
        if slot.replace(v).is_some() {
            return Err(SsoError::Malformed);
        }
    }
    let to = to
        .and_then(|s| s.parse::<TenantSlug>().ok())
        .ok_or(SsoError::Malformed)?;
    let return_to = match return_to {
        None => DEFAULT_LANDING.to_owned(),
        Some(p) => super::local_path(p)?,
    };
    Ok(SwitchForm { to, return_to })
}

/// The `ticket` parameter of `/auth/switch/complete`; exactly one, token-shaped.
pub fn ticket(query: &str) -> Result<String, SsoError> {
    super::query_param(query, "ticket")
        .ok()
        .flatten()
        .filter(|t| token_shaped(t))
        .ok_or(SsoError::SwitchInvalid)
}

/// Whether `t` looks like a token we issue: 16 to 200 characters of the URL-safe set
/// (base64url, hex, uuids). Shape only; the directory decides validity.
pub fn token_shaped(t: &str) -> bool {
    (16..=200).contains(&t.len())
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The origin of organisation `slug`: this request's scheme and port with the host
/// `{slug}.{apex}`. `origin` is this request's (`scheme://host[:port]`).
pub fn tenant_origin(origin: &str, apex: &str, slug: &TenantSlug) -> String {
    let (scheme, authority) = origin.split_once("://").unwrap_or(("http", origin));
    let port = authority
        .rsplit_once(':')
        .filter(|(h, _)| !h.ends_with(']'))
        .map(|(_, p)| p)
        .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    match port {
        Some(p) => format!("{scheme}://{}.{apex}:{p}", slug.as_str()),
        None => format!("{scheme}://{}.{apex}", slug.as_str()),
    }
}

/// Where the browser goes to complete a switch on the target.
pub fn complete_url(target_origin: &str, ticket: &str) -> String {
    format!("{target_origin}/auth/switch/complete?ticket={ticket}")
}

/// The target's login page, for a target that enforces SSO.
pub fn login_url(target_origin: &str, return_to: &str) -> String {
    format!("{target_origin}{}", super::login_location(return_to))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slug(s: &str) -> TenantSlug {
        s.parse().unwrap()
    }

    #[test]
    fn a_nul_in_a_switch_field_is_refused_by_name() {
        assert_eq!(
            parse_form(b"to=globex%00").map(|f| f.to),
            Err(SsoError::NulInText("to"))
        );
        assert_eq!(
            parse_form(br#"{"to":"globex","return_to":"/a\u0000"}"#).map(|f| f.to),
            Err(SsoError::NulInText("return_to"))
        );
        assert!(parse_form(b"to=globex&return_to=%2Fa").is_ok());
    }

    #[test]
    fn forms_parse_in_both_encodings_and_refuse_the_rest() {
        let f = parse_form(b"to=globex").unwrap();
        assert_eq!((f.to.as_str(), f.return_to.as_str()), ("globex", "/admin"));
        let f = parse_form(br#"{"to":"globex","return_to":"/api/tasks?x=1"}"#).unwrap();
        assert_eq!(f.return_to, "/api/tasks?x=1");
        let f = parse_form(b"to=globex&csrf_token=abc&return_to=%2Fadmin%2Fmembers").unwrap();
        assert_eq!(f.return_to, "/admin/members");
        for bad in [
            &b""[..],
            b"to=",
            b"to=Globex.Example",
            b"to=globex&to=acme",
            b"to=globex&extra=1",
            b"to=globex&return_to=https%3A%2F%2Fevil.example%2F",
            b"to=globex&return_to=%2F%2Fevil.example",
            br#"{"to":1}"#,
            br#"{"to":"globex""#,
        ] {
            assert!(
                parse_form(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(
            parse_form(&[b'a'; MAX_FORM_BODY + 1]),
            Err(SsoError::Malformed)
        );
    }

    #[test]
    fn tickets_are_token_shaped_and_single() {
        let t = "A".repeat(43);
        assert_eq!(ticket(&format!("ticket={t}")).unwrap(), t);
        for bad in [
            String::new(),
            "ticket=short".into(),
            format!("ticket={t}&ticket={t}"),
            format!("ticket={t}%20"),
            format!("ticket={}", "a".repeat(201)),
        ] {
            assert_eq!(ticket(&bad), Err(SsoError::SwitchInvalid), "{bad}");
        }
    }

    #[test]
    fn the_target_keeps_scheme_and_port() {
        let g = slug("globex");
        assert_eq!(
            tenant_origin("http://acme.localhost:3000", "localhost", &g),
            "http://globex.localhost:3000"
        );
        assert_eq!(
            tenant_origin("https://portal.acme.com", "app.example", &g),
            "https://globex.app.example"
        );
        assert_eq!(
            complete_url("http://globex.localhost:3000", "abc"),
            "http://globex.localhost:3000/auth/switch/complete?ticket=abc"
        );
        assert_eq!(
            login_url("http://globex.localhost:3000", "/admin"),
            "http://globex.localhost:3000/auth/login?return_to=%2Fadmin"
        );
    }
}
