//! AuthnRequest for the HTTP-Redirect binding (SAML Bindings §3.4): raw DEFLATE, base64, URL-encoded.

use std::io::Write as _;

use base64::Engine as _;
use flate2::{write::DeflateEncoder, Compression};

use crate::response::{ASSERTION_NS, PROTOCOL_NS};
use crate::time::format_instant;
use crate::{AuthnRequest, IdentityProvider, ServiceProvider};

/// Escapes text for an XML attribute value or element content.
pub(crate) fn xml_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub(crate) fn url_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The AuthnRequest XML (unsigned; the SP metadata says `AuthnRequestsSigned="false"`).
pub(crate) fn request_xml(
    sp: &ServiceProvider,
    idp: &IdentityProvider,
    id: &str,
    now_unix_ms: u64,
) -> String {
    format!(
        concat!(
            r#"<samlp:AuthnRequest xmlns:samlp="{protocol}" xmlns:saml="{assertion}" ID="{id}" Version="2.0" "#,
            r#"IssueInstant="{instant}" Destination="{destination}" AssertionConsumerServiceURL="{acs}" "#,
            r#"ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST">"#,
            r#"<saml:Issuer>{issuer}</saml:Issuer><samlp:NameIDPolicy AllowCreate="true"/></samlp:AuthnRequest>"#
        ),
        protocol = PROTOCOL_NS,
        assertion = ASSERTION_NS,
        id = xml_escape(id),
        instant = format_instant(now_unix_ms),
        destination = xml_escape(&idp.sso_url),
        acs = xml_escape(&sp.acs_url),
        issuer = xml_escape(&sp.entity_id),
    )
}

pub(crate) fn build(
    sp: &ServiceProvider,
    idp: &IdentityProvider,
    id: &str,
    now_unix_ms: u64,
    relay_state: Option<&str>,
) -> AuthnRequest {
    let xml = request_xml(sp, idp, id, now_unix_ms);
    let mut encoder = DeflateEncoder::new(Vec::new(), Compression::default());
    // Writing to a Vec cannot fail; the fallback keeps this function total.
    let deflated = encoder
        .write_all(xml.as_bytes())
        .and_then(|()| encoder.finish())
        .unwrap_or_default();
    let encoded = base64::engine::general_purpose::STANDARD.encode(deflated);
    let separator = if idp.sso_url.contains('?') { '&' } else { '?' };
    let mut redirect_url = format!(
        "{}{separator}SAMLRequest={}",
        idp.sso_url,
        url_encode(&encoded)
    );
    if let Some(relay_state) = relay_state {
        redirect_url.push_str("&RelayState=");
        redirect_url.push_str(&url_encode(relay_state));
    }
    AuthnRequest {
        id: id.to_owned(),
        redirect_url,
    }
}
