//! SAML logins: SP-initiated (HTTP-Redirect AuthnRequest, HTTP-POST response to this
//! tenant's ACS), the SP metadata to hand the customer, and IdP-initiated responses only for a
//! tenant that turned them on. Verification is `tenantgate_saml`'s (signed assertion,
//! wrapping, audience, recipient, destination, `InResponseTo`, times); this adds the flow,
//! the replay cache until `NotOnOrAfter`, and the session.

use gateway_core::decision::Response;
use gateway_core::prelude::*;
use gateway_core::sso::session::{SessionConfig, SessionKey};
use gateway_core::sso::{AuthRequest, SsoError, FLOW_COOKIE};
use spin_sdk::pg4::ParameterValue;
use tenantgate_saml::{Expectation, ServiceProvider};

use crate::ports::PgDirectory;
use crate::sso::{self, Provider};

/// Clock skew allowed on the assertion's time conditions.
const SKEW_MS: u64 = 120_000;

fn service_provider(auth: &AuthRequest) -> ServiceProvider {
    ServiceProvider {
        entity_id: auth.saml_entity_id(),
        acs_url: auth.saml_acs_url(),
    }
}

/// `GET /auth/saml/metadata`: this tenant's SP metadata (entity id, ACS URL, signed
/// assertions wanted).
pub fn metadata(auth: &AuthRequest) -> Response {
    Response {
        status: 200,
        headers: vec![
            (
                "content-type".to_owned(),
                b"application/samlmetadata+xml".to_vec(),
            ),
            ("cache-control".to_owned(), b"no-store".to_vec()),
        ],
        body: tenantgate_saml::sp_metadata(&service_provider(auth)).into_bytes(),
        cause: None,
    }
}

/// The browser-binding cookie of a SAML flow. The IdP answers with a cross-site POST, which
/// a `SameSite=Lax` cookie does not follow: over TLS it is `SameSite=None; Secure`; over plain
/// HTTP (local development) it has no SameSite attribute, which browsers let through on a
/// top-level POST within two minutes of setting it.
fn flow_cookie(value: &str, max_age: u64, tls: bool) -> String {
    let same_site = if tls { "; SameSite=None; Secure" } else { "" };
    format!("{FLOW_COOKIE}={value}; Path=/auth; Max-Age={max_age}; HttpOnly{same_site}")
}

/// Starts an SP-initiated login: records the flow (the AuthnRequest's id) and redirects to the
/// IdP with the state as RelayState.
pub fn start(
    auth: &AuthRequest,
    p: Provider,
    flow: &sso::NewFlow,
    key: &SessionKey,
    directory: &PgDirectory,
    sessions: &SessionConfig,
    now: UnixMillis,
) -> Result<Response, SsoError> {
    let idp = usable(p, sessions)?;
    let (state, binding) = (sso::random_token()?, sso::random_token()?);
    let mut id_bytes = [0u8; 16];
    getrandom::fill(&mut id_bytes).map_err(sso::unavailable)?;
    let id = format!("_{}", sso::hex(&id_bytes));
    let request =
        tenantgate_saml::authn_request(&service_provider(auth), &idp, &id, now.0, Some(&state));
    directory
        .one(
            "SELECT b::text FROM (VALUES (1)) AS one (x) LEFT JOIN \
             tenantgate.sso_begin($1::uuid, $2, $3, '', NULL, $4, $5, $6, $7) AS b ON true",
            &[
                ParameterValue::Uuid(auth.tenant.id.to_string()),
                ParameterValue::Binary(key.keyed_hash("state", &state).to_vec()),
                ParameterValue::Binary(key.keyed_hash("binding", &binding).to_vec()),
                ParameterValue::Str(request.id.clone()),
                ParameterValue::Str(flow.return_to.clone()),
                ParameterValue::Int32(600),
                flow.invitation_param(),
            ],
        )
        .map_err(SsoError::from)?;
    Ok(sso::redirect(
        &request.redirect_url,
        &[flow_cookie(&binding, 600, auth.tls)],
    ))
}

fn usable(
    p: Provider,
    sessions: &SessionConfig,
) -> Result<tenantgate_saml::IdentityProvider, SsoError> {
    let fresh = p.keys_age.is_some_and(|a| a <= sessions.keys_max_age_secs);
    match p.saml {
        Some(idp) if fresh && !idp.certificates_der.is_empty() && !idp.sso_url.is_empty() => {
            Ok(idp)
        }
        Some(_) => Err(SsoError::KeysUnusable),
        None => Err(SsoError::NotConfigured),
    }
}

/// `POST /auth/saml/acs`: verifies the response for the flow its RelayState names (or, when
/// the tenant allows it, an IdP-initiated one), refuses a replayed assertion, and signs in.
pub fn acs(
    auth: &AuthRequest,
    body: Option<Vec<u8>>,
    directory: &PgDirectory,
    sessions: &SessionConfig,
    now: UnixMillis,
) -> Result<Response, SsoError> {
    let body = body.ok_or(SsoError::Malformed)?;
    let mut response = None;
    let mut relay = None;
    for (k, v) in form_urlencoded::parse(&body) {
        let slot = match k.as_ref() {
            "SAMLResponse" => &mut response,
            "RelayState" => &mut relay,
            _ => continue,
        };
        if slot.replace(v.into_owned()).is_some() {
            return Err(SsoError::Malformed);
        }
    }
    let response = response.ok_or(SsoError::Malformed)?;
    let key = sso::key(sessions)?;
    let p = sso::provider(directory, auth)?;
    if p.kind != "saml" {
        return Err(SsoError::NotConfigured);
    }
    let idp = usable(p, sessions)?;
    // SP-initiated: the flow named by RelayState, bound to this browser, taken once.
    let flow = match relay.as_deref().filter(|r| !r.is_empty()) {
        Some(state) => Some(sso::take_flow(auth, directory, key, state)?),
        None if idp.allow_idp_initiated => None,
        None => return Err(SsoError::Saml("saml_idp_initiated")),
    };
    let in_response_to = flow.as_ref().and_then(|f| f.saml_request_id.clone());
    if flow.is_some() && in_response_to.is_none() {
        // A state from an OIDC flow.
        return Err(SsoError::StateInvalid);
    }
    let assertion = tenantgate_saml::verify_response(
        &response,
        &service_provider(auth),
        &idp,
        &Expectation {
            in_response_to: in_response_to.as_deref(),
            now_unix_ms: now.0,
            skew_ms: SKEW_MS,
        },
    )
    .map_err(|e| SsoError::Saml(e.code()))?;
    // Text bound for the directory: a NUL is the caller's 400, named (XML 1.0 cannot carry
    // one, so this is a backstop for the parser).
    if assertion.issuer.contains('\0') {
        return Err(SsoError::NulInText("the assertion's issuer"));
    }
    if assertion.id.contains('\0') {
        return Err(SsoError::NulInText("the assertion's ID"));
    }
    // The replay cache: an assertion id is accepted once until its NotOnOrAfter.
    let until_secs = (assertion.not_on_or_after_ms / 1000) as i64 + SKEW_MS as i64 / 1000;
    let fresh = directory
        .one(
            "SELECT s::text FROM (VALUES (1)) AS one (x) LEFT JOIN \
             tenantgate.saml_seen($1::uuid, $2, $3, to_timestamp($4::bigint)) AS s ON true",
            &[
                ParameterValue::Uuid(auth.tenant.id.to_string()),
                ParameterValue::Str(assertion.issuer.clone()),
                ParameterValue::Str(assertion.id.clone()),
                ParameterValue::Int64(until_secs),
            ],
        )
        .map_err(SsoError::from)?;
    if fresh.first().cloned().flatten().as_deref() != Some("true") {
        return Err(SsoError::Replay);
    }
    let login = sso::Login {
        issuer: idp.entity_id.clone(),
        subject: assertion.name_id.clone(),
        // The tenant's own IdP vouches for the addresses of its directory; membership
        // still needs the domain to be one the tenant verified.
        email: assertion.email().map(str::to_owned),
        email_verified: assertion.email().is_some(),
        name: assertion
            .attributes
            .iter()
            .find(|(n, _)| n == "displayName" || n.ends_with("/name") || n == "name")
            .and_then(|(_, v)| v.first().cloned()),
    };
    // IdP-initiated: no flow, so no invitation, and the landing page is the root.
    let flow = flow.unwrap_or(sso::Flow {
        nonce: String::new(),
        verifier: String::new(),
        saml_request_id: None,
        return_to: "/".to_owned(),
        invitation_hash: None,
    });
    sso::finish_login(auth, directory, sessions, key, &login, &flow, now)
}
