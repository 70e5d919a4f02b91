//! AuthnRequest encoding (HTTP-Redirect) and metadata, read and written.

mod common;

use std::io::Read as _;

use base64::Engine as _;
use common::*;
use tenantgate_saml::{
    authn_request, parse_idp_metadata, pem_or_der_certificates, sp_metadata, SamlError,
};

/// The query parameter `name` of `url`, percent-decoded.
fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    let value = query
        .split('&')
        .find_map(|pair| pair.strip_prefix(&format!("{name}=")))?;
    let bytes = value.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn inflate(saml_request: &str) -> String {
    let deflated = base64::engine::general_purpose::STANDARD
        .decode(saml_request)
        .unwrap();
    let mut xml = String::new();
    flate2::read::DeflateDecoder::new(deflated.as_slice())
        .read_to_string(&mut xml)
        .unwrap();
    xml
}

#[test]
fn authn_request_is_deflated_base64_on_the_sso_url() {
    let request = authn_request(
        &sp(),
        &idp(),
        REQUEST_ID,
        NOW_MS + 999,
        Some("/app?x=1&y=2 z"),
    );
    assert_eq!(request.id, REQUEST_ID);
    assert!(
        request
            .redirect_url
            .starts_with("https://idp.tenantgate.test/sso?SAMLRequest="),
        "{}",
        request.redirect_url
    );
    assert_eq!(
        query_param(&request.redirect_url, "RelayState").as_deref(),
        Some("/app?x=1&y=2 z")
    );
    let xml = inflate(&query_param(&request.redirect_url, "SAMLRequest").unwrap());
    let document = roxmltree::Document::parse(&xml).unwrap();
    let root = document.root_element();
    assert_eq!(
        root.tag_name().namespace(),
        Some("urn:oasis:names:tc:SAML:2.0:protocol")
    );
    assert_eq!(root.tag_name().name(), "AuthnRequest");
    assert_eq!(root.attribute("ID"), Some(REQUEST_ID));
    assert_eq!(root.attribute("Version"), Some("2.0"));
    assert_eq!(root.attribute("IssueInstant"), Some("2026-12-01T05:00:00Z"));
    assert_eq!(
        root.attribute("Destination"),
        Some("https://idp.tenantgate.test/sso")
    );
    assert_eq!(root.attribute("AssertionConsumerServiceURL"), Some(ACS));
    assert_eq!(
        root.attribute("ProtocolBinding"),
        Some("urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST")
    );
    let issuer = root
        .children()
        .find(|n| n.tag_name().name() == "Issuer")
        .unwrap();
    assert_eq!(issuer.text(), Some(SP_ENTITY));
}

#[test]
fn authn_request_keeps_an_existing_query_and_escapes_values() {
    let mut custom = idp();
    custom.sso_url = "https://idp.tenantgate.test/sso?tenant=acme".into();
    let mut odd_sp = sp();
    odd_sp.entity_id = "urn:acme:<&\">".into();
    let request = authn_request(&odd_sp, &custom, REQUEST_ID, NOW_MS, None);
    assert!(request
        .redirect_url
        .starts_with("https://idp.tenantgate.test/sso?tenant=acme&SAMLRequest="));
    assert_eq!(query_param(&request.redirect_url, "RelayState"), None);
    let xml = inflate(&query_param(&request.redirect_url, "SAMLRequest").unwrap());
    let document =
        roxmltree::Document::parse(&xml).expect("escaped values keep the XML well-formed");
    let issuer = document
        .descendants()
        .find(|n| n.tag_name().name() == "Issuer")
        .unwrap();
    assert_eq!(issuer.text(), Some("urn:acme:<&\">"));
}

#[test]
fn reads_the_pysaml2_idp_metadata() {
    let metadata = parse_idp_metadata(&fixture("idp-metadata.xml")).unwrap();
    assert_eq!(metadata.entity_id, IDP_ENTITY);
    assert!(
        metadata.sso_redirect_url.starts_with("http://127.0.0.1:"),
        "{}",
        metadata.sso_redirect_url
    );
    assert!(metadata.sso_redirect_url.ends_with("/sso/redirect"));
    assert_eq!(metadata.certificates_der, vec![cert("idp.crt")]);
}

#[test]
fn refuses_unusable_metadata() {
    let good = fixture("idp-metadata.xml");
    let cases = [
        ("sp metadata", fixture("sp-metadata.xml"), SamlError::Config),
        (
            "no redirect binding",
            good.replace("bindings:HTTP-Redirect", "bindings:SOAP"),
            SamlError::Config,
        ),
        (
            "broken certificate",
            good.replace("<ns2:X509Certificate>MII", "<ns2:X509Certificate>AAA"),
            SamlError::Config,
        ),
        ("not metadata", "<x/>".to_owned(), SamlError::Config),
        (
            "dtd",
            format!("<!DOCTYPE x [<!ENTITY a \"b\">]>{good}"),
            SamlError::Malformed,
        ),
    ];
    for (what, xml, error) in cases {
        assert_ne!(xml, good, "{what}: the edit must change something");
        assert_eq!(parse_idp_metadata(&xml), Err(error), "{what}");
    }
}

#[test]
fn sp_metadata_is_what_pysaml2_was_given() {
    // make_fixtures.py fed this exact document to the pysaml2 IdP, which answered to its ACS.
    assert_eq!(sp_metadata(&sp()).trim(), fixture("sp-metadata.xml"));
    let xml = sp_metadata(&sp());
    let document = roxmltree::Document::parse(&xml).unwrap();
    let descriptor = document
        .descendants()
        .find(|n| n.tag_name().name() == "SPSSODescriptor")
        .unwrap();
    assert_eq!(descriptor.attribute("WantAssertionsSigned"), Some("true"));
    assert_eq!(descriptor.attribute("AuthnRequestsSigned"), Some("false"));
}

#[test]
fn certificates_from_pem_der_and_bare_base64() {
    let pem = fixture("idp.crt");
    let der = cert("idp.crt");
    assert_eq!(pem_or_der_certificates(&der).unwrap(), vec![der.clone()]);
    let two = format!("{pem}\n{}\n", fixture("attacker.crt"));
    assert_eq!(
        pem_or_der_certificates(two.as_bytes()).unwrap(),
        vec![der.clone(), cert("attacker.crt")]
    );
    let bare: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    assert_eq!(
        pem_or_der_certificates(bare.as_bytes()).unwrap(),
        vec![der.clone()]
    );
    for bad in [
        &b""[..],
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
        b"\x30\x03\x01\x01\xff",
        b"hello",
    ] {
        assert_eq!(pem_or_der_certificates(bad), Err(SamlError::Config));
    }
}
