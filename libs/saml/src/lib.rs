//! The service-provider side of SAML 2.0 for per-tenant SSO, in pure Rust (builds for wasm32-wasip2).
//!
//! - [`authn_request`] starts a login: an AuthnRequest on the HTTP-Redirect binding.
//! - [`verify_response`] checks the IdP's answer (HTTP-POST binding) and returns the signed [`Assertion`].
//! - [`parse_idp_metadata`], [`sp_metadata`] and [`pem_or_der_certificates`] configure the two sides.
//!
//! Verification is deliberately narrow: the Assertion itself must be signed (exclusive c14n, RSA with SHA-256
//! or SHA-512) by a configured certificate, and every value returned is read from that signed element. Time is
//! passed in, never read, so the caller owns the clock and the replay cache (keyed by [`Assertion::id`] until
//! [`Assertion::not_on_or_after_ms`]).
//!
//! ```no_run
//! use tenantgate_saml::{authn_request, verify_response, Expectation, IdentityProvider, ServiceProvider};
//!
//! let sp = ServiceProvider {
//!     entity_id: "https://acme.example/saml".into(),
//!     acs_url: "https://acme.example/saml/acs".into(),
//! };
//! let idp = IdentityProvider {
//!     entity_id: "https://idp.example/".into(),
//!     sso_url: "https://idp.example/sso".into(),
//!     certificates_der: vec![/* from parse_idp_metadata or pem_or_der_certificates */],
//!     allow_idp_initiated: false,
//! };
//! let now = 1_796_102_596_000;
//! let request = authn_request(&sp, &idp, "_0123456789abcdef0123456789abcdef", now, Some("/home"));
//! // Redirect the browser to request.redirect_url, remember request.id; later, on POST to the ACS URL:
//! let form_value = "…";
//! let expect = Expectation { in_response_to: Some(&request.id), now_unix_ms: now + 5_000, skew_ms: 60_000 };
//! match verify_response(form_value, &sp, &idp, &expect) {
//!     Ok(assertion) => println!("signed in: {}", assertion.name_id),
//!     Err(error) => println!("refused: {}", error.code()),
//! }
//! ```

mod c14n;
mod dsig;
mod error;
mod metadata;
mod prescan;
mod request;
mod response;
mod time;
mod xml;

pub use error::SamlError;

/// This service provider (one per tenant, or shared): its entity ID and Assertion Consumer Service URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceProvider {
    pub entity_id: String,
    pub acs_url: String,
}

/// A tenant's identity provider as configured: its entity ID, HTTP-Redirect SSO URL, the certificates whose
/// keys may sign assertions (DER), and whether unsolicited (IdP-initiated) responses are accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityProvider {
    pub entity_id: String,
    pub sso_url: String,
    pub certificates_der: Vec<Vec<u8>>,
    pub allow_idp_initiated: bool,
}

/// A login start: the request ID to remember (for [`Expectation::in_response_to`]) and where to send the browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthnRequest {
    pub id: String,
    pub redirect_url: String,
}

/// Builds an AuthnRequest for the HTTP-Redirect binding: the XML is raw-DEFLATEd, base64-encoded and URL-encoded
/// into `SAMLRequest` (and `RelayState`, when given) on `idp.sso_url`, which may already have a query.
///
/// `id` must be an XML NCName the caller generated from a secure random source (e.g. `"_"` + 32 hex digits);
/// it is escaped, not checked. The request is unsigned and asks for an HTTP-POST response to `sp.acs_url`.
pub fn authn_request(
    sp: &ServiceProvider,
    idp: &IdentityProvider,
    id: &str,
    now_unix_ms: u64,
    relay_state: Option<&str>,
) -> AuthnRequest {
    request::build(sp, idp, id, now_unix_ms, relay_state)
}

/// What the caller expects of a response: the request it answers (`None` for IdP-initiated), the current time
/// and the clock skew tolerated on every time check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expectation<'a> {
    pub in_response_to: Option<&'a str>,
    pub now_unix_ms: u64,
    pub skew_ms: u64,
}

/// Verifies a `SAMLResponse` form value (base64, HTTP-POST binding) and returns the signed assertion's content.
///
/// Accepts only a Response with status Success holding exactly one Assertion as a direct child, signed
/// (enveloped, exc-c14n, RSA-SHA256/512) by one of `idp.certificates_der`; a Response signature, if present,
/// must verify too. Issuers must equal `idp.entity_id`; Destination (if present) and the bearer
/// SubjectConfirmation's Recipient must equal `sp.acs_url`; an AudienceRestriction must name `sp.entity_id`;
/// NotBefore/NotOnOrAfter hold within `skew_ms`; every InResponseTo must match `expect.in_response_to`, and one
/// must be signed (the assertion's SubjectConfirmationData or a signed Response); when that is `None` there must
/// be none, and `idp.allow_idp_initiated` must be set. Never panics; every refusal is a [`SamlError`].
/// The caller must still refuse an [`Assertion::id`] seen before (replay) until its `not_on_or_after_ms`.
pub fn verify_response(
    saml_response: &str,
    sp: &ServiceProvider,
    idp: &IdentityProvider,
    expect: &Expectation<'_>,
) -> Result<Assertion, SamlError> {
    response::verify(saml_response, sp, idp, expect)
}

/// The verified content of a signed assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assertion {
    /// The assertion's ID: the replay-cache key.
    pub id: String,
    pub issuer: String,
    pub name_id: String,
    pub name_id_format: Option<String>,
    pub in_response_to: Option<String>,
    /// The earliest of Conditions' and the bearer SubjectConfirmationData's NotOnOrAfter: the replay-cache bound.
    pub not_on_or_after_ms: u64,
    pub session_index: Option<String>,
    /// Attribute Name and its values, in document order.
    pub attributes: Vec<(String, Vec<String>)>,
}

const EMAIL_ATTRIBUTES: [&str; 4] = [
    "email",
    "mail",
    "urn:oid:0.9.2342.19200300.100.1.3",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
];
const EMAIL_FORMAT: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";

impl Assertion {
    /// The user's e-mail address: the first value of the first attribute named `email`, `mail`,
    /// `urn:oid:0.9.2342.19200300.100.1.3` or the WS-Federation emailaddress claim (in that order of preference),
    /// else the NameID when its format is emailAddress.
    pub fn email(&self) -> Option<&str> {
        EMAIL_ATTRIBUTES
            .iter()
            .find_map(|wanted| {
                self.attributes
                    .iter()
                    .find(|(name, values)| name == wanted && !values.is_empty())
                    .and_then(|(_, values)| values.first())
                    .map(String::as_str)
            })
            .or_else(|| {
                (self.name_id_format.as_deref() == Some(EMAIL_FORMAT))
                    .then_some(self.name_id.as_str())
            })
    }
}

/// What an identity provider's metadata says: entity ID, HTTP-Redirect SSO URL, signing certificates (DER).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpMetadata {
    pub entity_id: String,
    pub sso_redirect_url: String,
    pub certificates_der: Vec<Vec<u8>>,
}

/// Reads an IdP's EntityDescriptor/IDPSSODescriptor (or an EntitiesDescriptor holding exactly one IdP).
/// Fails with `Malformed` for unparseable XML (DTDs are refused) and `Config` when the metadata lacks an
/// HTTP-Redirect SingleSignOnService or a signing certificate.
pub fn parse_idp_metadata(xml: &str) -> Result<IdpMetadata, SamlError> {
    metadata::parse_idp(xml)
}

/// Our SP EntityDescriptor to hand to the customer: ACS on HTTP-POST, `WantAssertionsSigned="true"`,
/// `AuthnRequestsSigned="false"`.
pub fn sp_metadata(sp: &ServiceProvider) -> String {
    metadata::sp(sp)
}

/// X.509 certificates (DER) from DER bytes, PEM text with one or more CERTIFICATE blocks, or bare base64.
/// Fails with `Config` if any does not parse or none is found.
pub fn pem_or_der_certificates(text_or_der: &[u8]) -> Result<Vec<Vec<u8>>, SamlError> {
    metadata::certificates(text_or_der)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assertion(name_id_format: Option<&str>, attributes: &[(&str, &[&str])]) -> Assertion {
        Assertion {
            id: "_a".into(),
            issuer: "idp".into(),
            name_id: "nameid@example.com".into(),
            name_id_format: name_id_format.map(str::to_owned),
            in_response_to: None,
            not_on_or_after_ms: 0,
            session_index: None,
            attributes: attributes
                .iter()
                .map(|(name, values)| {
                    (
                        name.to_string(),
                        values.iter().map(|v| v.to_string()).collect(),
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn email_prefers_attributes_in_order_then_an_email_name_id() {
        let both = [
            ("mail", &["mail@example.com"][..]),
            ("email", &["email@example.com"][..]),
        ];
        assert_eq!(assertion(None, &both).email(), Some("email@example.com"));
        let oid = [(
            "urn:oid:0.9.2342.19200300.100.1.3",
            &["oid@example.com"][..],
        )];
        assert_eq!(
            assertion(Some(EMAIL_FORMAT), &oid).email(),
            Some("oid@example.com")
        );
        let empty = [("email", &[][..])];
        assert_eq!(
            assertion(Some(EMAIL_FORMAT), &empty).email(),
            Some("nameid@example.com")
        );
        assert_eq!(
            assertion(None, &[]).email(),
            None,
            "a NameID of another format is not an address"
        );
        let unrelated = [("displayName", &["x@example.com"][..])];
        assert_eq!(
            assertion(
                Some("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"),
                &unrelated
            )
            .email(),
            None
        );
    }
}
