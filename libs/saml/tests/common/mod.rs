//! Shared setup for the SAML tests: the constants make_fixtures.py minted with, fixture loading, and helpers
//! to open a response, edit its XML and close it again (for the attacks the real IdP will not produce).
#![allow(dead_code)]

use base64::Engine as _;
use tenantgate_saml::{pem_or_der_certificates, Expectation, IdentityProvider, ServiceProvider};

// Keep in step with tests/idp/saml/make_fixtures.py.
pub const NOW_MS: u64 = 1_796_101_200_000; // 2026-12-01T05:00:00Z, the IdP's clock when minting
pub const SP_ENTITY: &str = "https://acme.tenantgate.test/saml/metadata";
pub const ACS: &str = "https://acme.tenantgate.test/saml/acs";
pub const IDP_ENTITY: &str = "https://idp.tenantgate.test/saml";
pub const REQUEST_ID: &str = "_0123456789abcdef0123456789abcdef";
pub const SKEW_MS: u64 = 60_000;

pub fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .trim()
        .to_owned()
}

pub fn sp() -> ServiceProvider {
    ServiceProvider {
        entity_id: SP_ENTITY.into(),
        acs_url: ACS.into(),
    }
}

pub fn cert(name: &str) -> Vec<u8> {
    pem_or_der_certificates(fixture(name).as_bytes())
        .expect("fixture certificate")
        .remove(0)
}

pub fn idp() -> IdentityProvider {
    IdentityProvider {
        entity_id: IDP_ENTITY.into(),
        sso_url: "https://idp.tenantgate.test/sso".into(),
        certificates_der: vec![cert("idp.crt")],
        allow_idp_initiated: false,
    }
}

/// A solicited login checked one second after the IdP minted the response.
pub fn expect() -> Expectation<'static> {
    Expectation {
        in_response_to: Some(REQUEST_ID),
        now_unix_ms: NOW_MS + 1_000,
        skew_ms: SKEW_MS,
    }
}

/// The XML of a fixture response.
pub fn xml(name: &str) -> String {
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(fixture(name))
            .unwrap(),
    )
    .unwrap()
}

/// Back to a `SAMLResponse` form value.
pub fn encode(xml: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(xml)
}

/// `xml` with exactly one occurrence of `from` replaced (panics otherwise, so an edit cannot silently miss).
pub fn replace_once(xml: &str, from: &str, to: &str) -> String {
    assert_eq!(
        xml.matches(from).count(),
        1,
        "expected exactly one {from:?}"
    );
    xml.replacen(from, to, 1)
}

/// The text between the first `start` and the following `end` (inclusive of both).
pub fn slice<'a>(xml: &'a str, start: &str, end: &str) -> &'a str {
    let from = xml.find(start).unwrap_or_else(|| panic!("no {start:?}"));
    let to = xml[from..]
        .find(end)
        .unwrap_or_else(|| panic!("no {end:?}"))
        + from
        + end.len();
    &xml[from..to]
}

/// The signed assertion element of a response, as text.
pub fn assertion(xml: &str) -> &str {
    slice(xml, "<ns1:Assertion ", "</ns1:Assertion>")
}

/// The value of the first `name="…"` attribute after `after`.
pub fn attribute<'a>(xml: &'a str, after: &str, name: &str) -> &'a str {
    let from = xml.find(after).unwrap();
    let needle = format!(" {name}=\"");
    let start = xml[from..].find(&needle).unwrap() + from + needle.len();
    let end = xml[start..].find('"').unwrap() + start;
    &xml[start..end]
}
