//! OpenID Connect login, the relying party's side, as pure steps the component runs in
//! order (it does the I/O between them):
//!
//! 1. [`authorize_url`]: the authorisation request (code flow, PKCE S256, `state`, `nonce`,
//!    the exact redirect URI);
//! 2. [`Callback::parse`]: the authorisation response, with the RFC 9207 `iss` parameter
//!    checked against the flow's issuer ([`Callback::check_issuer`]);
//! 3. [`token_request`]: the code exchange (client secret by HTTP Basic, the PKCE verifier);
//! 4. [`verify_id_token`]: the ID token's signature (keys the control plane fetched, each
//!    pinned to its algorithm), `iss`, `aud`, `azp`, `exp`, `nonce`, and an email only when
//!    the IdP marks it verified.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::jwt::IssuerConfig;
use crate::kv::UnixMillis;
use crate::sso::SsoError;

/// A tenant's OIDC provider, as the control plane stored it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcProvider {
    /// The issuer (`iss` of its tokens and of its authorisation responses).
    pub issuer: String,
    /// This tenant's client id at the IdP.
    pub client_id: String,
    /// The client secret (`None`: a public client, PKCE only).
    pub client_secret: Option<String>,
    /// Scopes, space-separated.
    pub scopes: String,
    /// From discovery.
    pub authorization_endpoint: String,
    /// From discovery.
    pub token_endpoint: String,
    /// The IdP's JWKS document, as fetched.
    pub jwks: String,
    /// Whether the IdP sends `iss` in authorisation responses (discovery's
    /// `authorization_response_iss_parameter_supported`); when it does, a response without
    /// it is refused.
    pub iss_parameter: bool,
}

/// The PKCE S256 challenge of `verifier`.
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// The authorisation request URL.
pub fn authorize_url(
    provider: &OidcProvider,
    redirect_uri: &str,
    state: &str,
    nonce: &str,
    verifier: &str,
) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", &provider.client_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("scope", &provider.scopes)
        .append_pair("state", state)
        .append_pair("nonce", nonce)
        .append_pair("code_challenge", &pkce_challenge(verifier))
        .append_pair("code_challenge_method", "S256")
        .finish();
    let sep = if provider.authorization_endpoint.contains('?') {
        '&'
    } else {
        '?'
    };
    format!("{}{sep}{query}", provider.authorization_endpoint)
}

/// The authorisation response's parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callback {
    /// `code`.
    pub code: String,
    /// `state`.
    pub state: String,
    /// `iss` (RFC 9207), when sent.
    pub iss: Option<String>,
}

impl Callback {
    /// Parses the callback's query. A `state` is needed in every case (to find the flow);
    /// an `error` from the IdP, or no `code`, is [`SsoError::IdpError`] after the state.
    pub fn parse(query: &str) -> Result<(String, Result<Callback, SsoError>), SsoError> {
        let mut code = None;
        let mut state = None;
        let mut iss = None;
        let mut error = None;
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            let slot = match k.as_ref() {
                "code" => &mut code,
                "state" => &mut state,
                "iss" => &mut iss,
                "error" => &mut error,
                _ => continue,
            };
            if slot.replace(v.into_owned()).is_some() {
                return Err(SsoError::Malformed);
            }
        }
        let state = state
            .filter(|s| !s.is_empty() && s.len() <= 128)
            .ok_or(SsoError::StateInvalid)?;
        let outcome = match (error, code) {
            (Some(_), _) | (None, None) => Err(SsoError::IdpError),
            (None, Some(code)) if code.is_empty() || code.len() > 4096 => Err(SsoError::Malformed),
            (None, Some(code)) => Ok(Callback {
                code,
                state: state.clone(),
                iss,
            }),
        };
        Ok((state, outcome))
    }

    /// RFC 9207: the response's `iss` must be the flow's issuer (a mix-up attack sends
    /// another IdP's response here); absent only for an IdP that does not send it.
    pub fn check_issuer(&self, provider: &OidcProvider) -> Result<(), SsoError> {
        match &self.iss {
            Some(iss) if *iss == provider.issuer => Ok(()),
            None if !provider.iss_parameter => Ok(()),
            _ => Err(SsoError::IssuerMismatch),
        }
    }
}

/// An HTTP request the component sends for the core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundRequest {
    /// Absolute URL.
    pub url: String,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Form body.
    pub body: String,
}

/// The code exchange at the token endpoint.
pub fn token_request(
    provider: &OidcProvider,
    code: &str,
    redirect_uri: &str,
    verifier: &str,
) -> OutboundRequest {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("grant_type", "authorization_code")
        .append_pair("code", code)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("code_verifier", verifier);
    let mut headers = vec![
        (
            "content-type".to_owned(),
            "application/x-www-form-urlencoded".to_owned(),
        ),
        ("accept".to_owned(), "application/json".to_owned()),
    ];
    match &provider.client_secret {
        // RFC 6749 §2.3.1: both parts form-urlencoded before Basic.
        Some(secret) => {
            let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            let pair = format!("{}:{}", enc(&provider.client_id), enc(secret));
            headers.push((
                "authorization".to_owned(),
                format!("Basic {}", STANDARD.encode(pair)),
            ));
        }
        None => {
            form.append_pair("client_id", &provider.client_id);
        }
    }
    OutboundRequest {
        url: provider.token_endpoint.clone(),
        headers,
        body: form.finish(),
    }
}

/// Who the IdP says signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginClaims {
    /// `iss`.
    pub issuer: String,
    /// `sub`.
    pub subject: String,
    /// `email`, when present.
    pub email: Option<String>,
    /// `email_verified` is `true`.
    pub email_verified: bool,
    /// `name`, when present.
    pub name: Option<String>,
}

/// Verifies the token endpoint's answer (`status`, JSON `body`) and its ID token.
pub fn verify_id_token(
    provider: &OidcProvider,
    status: u16,
    body: &[u8],
    nonce: &str,
    now: UnixMillis,
) -> Result<LoginClaims, SsoError> {
    if status != 200 {
        return Err(SsoError::TokenExchange);
    }
    let answer: Value = serde_json::from_slice(body).map_err(|_| SsoError::TokenExchange)?;
    let id_token = answer
        .get("id_token")
        .and_then(Value::as_str)
        .ok_or(SsoError::TokenExchange)?;
    let issuer = IssuerConfig::from_jwks(&provider.issuer, &[&provider.client_id], &provider.jwks)
        .map_err(|_| SsoError::KeysUnusable)?
        .with_leeway(60);
    let verifier = crate::jwt::JwtVerifier::new([issuer]);
    verifier
        .verify_uncached(id_token, now)
        .map_err(SsoError::IdToken)?;
    // Verified: the payload can be read.
    let payload = id_token.split('.').nth(1).ok_or(SsoError::Malformed)?;
    let claims: Value = URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(SsoError::Malformed)?;
    let text = |k: &str| claims.get(k).and_then(Value::as_str);
    // Several audiences need an azp naming us; an azp must be us.
    let audiences = match claims.get("aud") {
        Some(Value::Array(list)) => list.len(),
        _ => 1,
    };
    match text("azp") {
        Some(azp) if azp != provider.client_id => return Err(SsoError::Audience),
        None if audiences > 1 => return Err(SsoError::Audience),
        _ => {}
    }
    if text("nonce") != Some(nonce) {
        return Err(SsoError::Nonce);
    }
    let subject = text("sub")
        .filter(|s| !s.is_empty() && s.len() <= 255)
        .ok_or(SsoError::Malformed)?;
    let email_verified = match claims.get("email_verified") {
        Some(Value::Bool(b)) => *b,
        // Some IdPs send the string form.
        Some(Value::String(s)) => s == "true",
        _ => false,
    };
    Ok(LoginClaims {
        issuer: provider.issuer.clone(),
        subject: subject.to_owned(),
        email: text("email").map(str::to_owned),
        email_verified,
        name: text("name").map(str::to_owned),
    })
}

#[cfg(test)]
#[path = "oidc_tests.rs"]
mod tests;
