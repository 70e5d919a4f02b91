//! A tenant's identity provider (`tenantgate sso set|show|remove|refresh`): its settings, the
//! client secret (stored for the gateway's role only, never printed), and the discovery
//! document and keys the control plane fetches so the gateway's request path never has to.
//!
//! Every change is written with its audit event in one transaction, and is in effect on every
//! gateway instance within the tenant cache's bound (5 s). A refresh that fails keeps the keys
//! fetched before and records why; the gateway serves logins with them up to
//! `sso_keys_max_age_secs` (24 h by default), then refuses with 503 `sso_keys_stale`.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use tokio_postgres::Client;
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::events;
use crate::report::Doing as _;

/// What `sso set` changes (absent: unchanged; a new provider needs kind and its required fields).
#[derive(Debug, Clone, Default)]
pub struct SsoChange {
    /// `oidc` or `saml`.
    pub kind: Option<String>,
    /// The name on the login button.
    pub display_name: Option<String>,
    /// OIDC issuer.
    pub issuer: Option<String>,
    /// OIDC client id.
    pub client_id: Option<String>,
    /// OIDC client secret (`Some("")` removes it).
    pub client_secret: Option<String>,
    /// OIDC scopes.
    pub scopes: Option<Vec<String>>,
    /// Email domains allowed for just-in-time membership (besides being verified domains).
    pub allowed_email_domains: Option<Vec<String>>,
    /// SSO is the only way in.
    pub enforced: Option<bool>,
    /// Just-in-time membership.
    pub jit: Option<bool>,
    /// The role just-in-time members get.
    pub default_role: Option<String>,
    /// SAML: IdP entity id.
    pub idp_entity_id: Option<String>,
    /// SAML: SSO URL (HTTP-Redirect binding).
    pub sso_url: Option<String>,
    /// SAML: signing certificates (DER).
    pub certificates: Option<Vec<Vec<u8>>>,
    /// SAML: accept IdP-initiated responses.
    pub allow_idp_initiated: Option<bool>,
    /// SAML: where the IdP publishes its metadata (fetched now and by every refresh).
    pub metadata_url: Option<String>,
}

/// A provider as `sso show` prints it: everything but the secret.
#[derive(Debug, Clone, Serialize)]
pub struct Provider {
    /// The tenant's slug.
    pub slug: String,
    /// `oidc` or `saml`.
    pub kind: String,
    /// Login button name.
    pub display_name: String,
    /// OIDC issuer.
    pub issuer: Option<String>,
    /// OIDC client id.
    pub client_id: Option<String>,
    /// Whether a client secret is stored (never the secret).
    pub client_secret_set: bool,
    /// OIDC scopes.
    pub scopes: Vec<String>,
    /// From discovery.
    pub authorization_endpoint: Option<String>,
    /// From discovery.
    pub token_endpoint: Option<String>,
    /// Keys in the stored JWKS.
    pub keys: usize,
    /// SAML IdP entity id.
    pub idp_entity_id: Option<String>,
    /// SAML SSO URL.
    pub sso_url: Option<String>,
    /// SAML certificates stored.
    pub certificates: usize,
    /// SAML IdP-initiated responses accepted.
    pub allow_idp_initiated: bool,
    /// JIT email domains.
    pub allowed_email_domains: Vec<String>,
    /// SSO only.
    pub enforced: bool,
    /// JIT membership.
    pub jit: bool,
    /// JIT role.
    pub default_role: String,
    /// When keys were last fetched (RFC 3339), if ever.
    pub keys_refreshed_at: Option<String>,
    /// Why the last refresh failed, if it did.
    pub refresh_error: Option<String>,
}

/// What to hand the customer's IdP administrator for `tenant_origin`
/// (`https://acme.app.example`): the exact redirect URI (OIDC) or ACS URL and entity id (SAML).
pub fn customer_endpoints(tenant_origin: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "OIDC redirect URI",
            format!("{tenant_origin}/auth/oidc/callback"),
        ),
        (
            "SAML SP entity id / metadata",
            format!("{tenant_origin}/auth/saml/metadata"),
        ),
        (
            "SAML ACS URL (HTTP-POST)",
            format!("{tenant_origin}/auth/saml/acs"),
        ),
        ("Login URL", format!("{tenant_origin}/auth/login")),
    ]
}

async fn tenant_id(control: &Client, slug: &str) -> Result<Uuid> {
    Ok(crate::tenant::find(control, slug).await?.id)
}

/// The tenant's provider.
pub async fn show(control: &Client, slug: &str) -> Result<Provider> {
    let id = tenant_id(control, slug).await?;
    let row = control
        .query_opt(
            "SELECT kind, display_name, issuer, client_id, client_secret IS NOT NULL, scopes, \
                    authorization_endpoint, token_endpoint, \
                    coalesce(jsonb_array_length(jwks -> 'keys'), 0), idp_entity_id, sso_url, \
                    coalesce(cardinality(certificates), 0), allow_idp_initiated, \
                    allowed_email_domains, enforced, jit, default_role, \
                    to_char(keys_refreshed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), \
                    refresh_error \
               FROM tenantgate.sso_providers WHERE tenant_id = $1",
            &[&id],
        )
        .await
        .doing("reading the SSO settings")?
        .ok_or_else(|| Error::InvalidSso(format!("tenant {slug:?} has no identity provider")))?;
    Ok(Provider {
        slug: slug.to_owned(),
        kind: row.get(0),
        display_name: row.get(1),
        issuer: row.get(2),
        client_id: row.get(3),
        client_secret_set: row.get(4),
        scopes: row.get(5),
        authorization_endpoint: row.get(6),
        token_endpoint: row.get(7),
        keys: row.get::<_, i32>(8) as usize,
        idp_entity_id: row.get(9),
        sso_url: row.get(10),
        certificates: row.get::<_, i32>(11) as usize,
        allow_idp_initiated: row.get(12),
        allowed_email_domains: row.get(13),
        enforced: row.get(14),
        jit: row.get(15),
        default_role: row.get(16),
        keys_refreshed_at: row.get(17),
        refresh_error: row.get(18),
    })
}

fn check(change: &SsoChange) -> Result<()> {
    let bad = |m: String| Err(Error::InvalidSso(m));
    if let Some(k) = &change.kind {
        if k != "oidc" && k != "saml" {
            return bad(format!("--kind must be oidc or saml, not {k:?}"));
        }
    }
    for (name, url) in [
        ("--issuer", &change.issuer),
        ("--sso-url", &change.sso_url),
        ("--metadata-url", &change.metadata_url),
    ] {
        if let Some(u) = url {
            let ok = u.starts_with("https://")
                || u.starts_with("http://127.0.0.1")
                || u.starts_with("http://localhost")
                || u.starts_with("http://[::1]");
            if !ok || u.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return bad(format!(
                    "{name} must be an https:// URL (http:// only on loopback), not {u:?}"
                ));
            }
        }
    }
    if let Some(d) = &change.allowed_email_domains {
        for domain in d {
            if domain.is_empty() || domain.contains('@') || domain != &domain.to_lowercase() {
                return bad(format!(
                    "--allowed-domain {domain:?}: a lower-case domain such as acme.com"
                ));
            }
        }
    }
    if let Some(n) = &change.display_name {
        if n.is_empty() || n.chars().count() > 100 {
            return bad("--name must be 1 to 100 characters".into());
        }
    }
    Ok(())
}

/// Creates or changes the tenant's provider (audited `sso.updated`, without the secret), then,
/// for OIDC, fetches its discovery document and keys. A fetch that fails leaves the settings
/// stored and is returned as the error (logins fail closed until a refresh succeeds).
pub async fn set(control: &mut Client, slug: &str, change: &SsoChange) -> Result<Provider> {
    check(change)?;
    // SAML metadata by URL: read now, so the settings stored are complete.
    let mut change = change.clone();
    if let Some(url) = &change.metadata_url {
        let meta = fetch_saml(url).await?;
        change.idp_entity_id.get_or_insert(meta.entity_id);
        change.sso_url.get_or_insert(meta.sso_redirect_url);
        change.certificates.get_or_insert(meta.certificates_der);
    }
    let change = &change;
    let id = tenant_id(control, slug).await?;
    let tx = control
        .transaction()
        .await
        .doing("starting the SSO change")?;
    let exists = tx
        .query_opt(
            "SELECT kind FROM tenantgate.sso_providers WHERE tenant_id = $1 FOR UPDATE",
            &[&id],
        )
        .await
        .doing("reading the SSO settings")?
        .map(|r| r.get::<_, String>(0));
    let kind = change.kind.clone().or(exists.clone()).ok_or_else(|| {
        Error::InvalidSso("a new identity provider needs --kind oidc|saml".into())
    })?;
    if exists.is_none() {
        let display = change
            .display_name
            .clone()
            .unwrap_or_else(|| kind.to_uppercase());
        tx.execute(
            "INSERT INTO tenantgate.sso_providers (tenant_id, kind, display_name, issuer, client_id, \
                                                   idp_entity_id) VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &id,
                &kind,
                &display,
                &change.issuer,
                &change.client_id,
                &change.idp_entity_id,
            ],
        )
        .await
        .map_err(|e| Error::InvalidSso(sso_constraint(&e, &kind)))?;
    }
    let secret = change
        .client_secret
        .as_ref()
        .map(|s| (true, (!s.is_empty()).then(|| s.clone())));
    tx.execute(
        "UPDATE tenantgate.sso_providers SET \
            kind = $2, \
            display_name = coalesce($3, display_name), \
            issuer = coalesce($4, issuer), \
            client_id = coalesce($5, client_id), \
            client_secret = CASE WHEN $6 THEN $7 ELSE client_secret END, \
            scopes = coalesce($8, scopes), \
            allowed_email_domains = coalesce($9, allowed_email_domains), \
            enforced = coalesce($10, enforced), \
            jit = coalesce($11, jit), \
            default_role = coalesce($12, default_role), \
            idp_entity_id = coalesce($13, idp_entity_id), \
            sso_url = coalesce($14, sso_url), \
            certificates = coalesce($15, certificates), \
            allow_idp_initiated = coalesce($16, allow_idp_initiated), \
            metadata_url = coalesce($17, metadata_url), \
            keys_refreshed_at = CASE WHEN $15 IS NOT NULL THEN now() \
                                     WHEN $4 IS NOT NULL AND $4 IS DISTINCT FROM issuer THEN NULL \
                                     ELSE keys_refreshed_at END \
          WHERE tenant_id = $1",
        &[
            &id,
            &kind,
            &change.display_name,
            &change.issuer,
            &change.client_id,
            &secret.is_some(),
            &secret.and_then(|(_, s)| s),
            &change.scopes,
            &change.allowed_email_domains,
            &change.enforced,
            &change.jit,
            &change.default_role,
            &change.idp_entity_id,
            &change.sso_url,
            &change.certificates,
            &change.allow_idp_initiated,
            &change.metadata_url,
        ],
    )
    .await
    .map_err(|e| Error::InvalidSso(sso_constraint(&e, &kind)))?;
    let detail = serde_json::json!({
        "kind": kind,
        "created": exists.is_none(),
        "issuer": change.issuer,
        "client_id": change.client_id,
        "client_secret_changed": change.client_secret.is_some(),
        "enforced": change.enforced,
        "jit": change.jit,
        "default_role": change.default_role,
        "allowed_email_domains": change.allowed_email_domains,
        "idp_entity_id": change.idp_entity_id,
        "certificates_changed": change.certificates.is_some(),
    });
    events::commit_with(tx, id, "sso.updated", detail).await?;
    if kind == "oidc" {
        refresh(control, slug).await?;
    }
    show(control, slug).await
}

fn sso_constraint(e: &tokio_postgres::Error, kind: &str) -> String {
    let constraint = e
        .as_db_error()
        .and_then(|d| d.constraint())
        .unwrap_or_default();
    match constraint {
        "sso_providers_oidc" => "an OIDC provider needs --issuer and --client-id".into(),
        "sso_providers_saml" => "a SAML provider needs --idp-entity-id (or --metadata)".into(),
        "sso_providers_role_fkey" => "--default-role names no role of this tenant".into(),
        "sso_providers_display_name" => "--name must be 1 to 100 characters".into(),
        _ => format!(
            "the {kind} settings were refused: {}",
            e.as_db_error()
                .map_or_else(|| e.to_string(), |d| d.message().to_owned())
        ),
    }
}

/// Removes the tenant's provider and ends every session it opened (audited `sso.removed`).
pub async fn remove(control: &mut Client, slug: &str) -> Result<()> {
    let id = tenant_id(control, slug).await?;
    let tx = control.transaction().await.doing("starting the removal")?;
    let n = tx
        .execute(
            "DELETE FROM tenantgate.sso_providers WHERE tenant_id = $1",
            &[&id],
        )
        .await
        .doing("removing the SSO settings")?;
    if n == 0 {
        return Err(Error::InvalidSso(format!(
            "tenant {slug:?} has no identity provider"
        )));
    }
    let ended = tx
        .execute(
            "UPDATE tenantgate.sessions SET revoked_at = now() \
              WHERE tenant_id = $1 AND revoked_at IS NULL",
            &[&id],
        )
        .await
        .doing("ending the tenant's sessions")?;
    events::commit_with(
        tx,
        id,
        "sso.removed",
        serde_json::json!({"sessions_ended": ended}),
    )
    .await
}

/// Fetches the OIDC discovery document and JWKS of the tenant's provider and stores them with
/// the time; a failure is recorded (`refresh_error`) and returned, the old keys kept.
pub async fn refresh(control: &Client, slug: &str) -> Result<Provider> {
    let id = tenant_id(control, slug).await?;
    let row = control
        .query_opt(
            "SELECT kind, issuer, metadata_url FROM tenantgate.sso_providers WHERE tenant_id = $1",
            &[&id],
        )
        .await
        .doing("reading the SSO settings")?
        .ok_or_else(|| Error::InvalidSso(format!("tenant {slug:?} has no identity provider")))?;
    let (kind, issuer, metadata_url): (String, Option<String>, Option<String>) =
        (row.get(0), row.get(1), row.get(2));
    let fetched = if kind == "saml" {
        let Some(url) = metadata_url else {
            // Certificates set by hand: nothing to fetch.
            return show(control, slug).await;
        };
        fetch_saml(&url).await.map(Fetched::Saml)
    } else {
        fetch_oidc(&issuer.unwrap_or_default())
            .await
            .map(Fetched::Oidc)
    };
    match fetched {
        Err(e) => {
            control
                .execute(
                    "UPDATE tenantgate.sso_providers SET refresh_error = $2 WHERE tenant_id = $1",
                    &[&id, &e.to_string()],
                )
                .await
                .doing("recording the refresh failure")?;
            return Err(e);
        }
        Ok(Fetched::Saml(meta)) => {
            control
                .execute(
                    "UPDATE tenantgate.sso_providers SET idp_entity_id = $2, sso_url = $3, \
                        certificates = $4, keys_refreshed_at = now(), refresh_error = NULL \
                      WHERE tenant_id = $1",
                    &[
                        &id,
                        &meta.entity_id,
                        &meta.sso_redirect_url,
                        &meta.certificates_der,
                    ],
                )
                .await
                .doing("storing the IdP metadata")?;
        }
        Ok(Fetched::Oidc(found)) => {
            control
                .execute(
                    "UPDATE tenantgate.sso_providers SET authorization_endpoint = $2, \
                        token_endpoint = $3, jwks = $4, iss_parameter = $5, \
                        keys_refreshed_at = now(), refresh_error = NULL WHERE tenant_id = $1",
                    &[
                        &id,
                        &found.authorization_endpoint,
                        &found.token_endpoint,
                        &found.jwks,
                        &found.iss_parameter,
                    ],
                )
                .await
                .doing("storing the IdP keys")?;
        }
    }
    show(control, slug).await
}

/// What a refresh fetched.
enum Fetched {
    Saml(tenantgate_saml::IdpMetadata),
    Oidc(Discovered),
}

/// Refreshes every tenant's provider; returns (slug, error) for those that failed.
pub async fn refresh_all(control: &Client) -> Result<Vec<(String, String)>> {
    let rows = control
        .query(
            "SELECT t.slug FROM tenantgate.sso_providers AS p \
               JOIN tenantgate.tenants AS t ON t.id = p.tenant_id ORDER BY t.slug",
            &[],
        )
        .await
        .doing("listing identity providers")?;
    let mut failed = Vec::new();
    for r in rows {
        let slug: String = r.get(0);
        if let Err(e) = refresh(control, &slug).await {
            failed.push((slug, e.to_string()));
        }
    }
    Ok(failed)
}

/// The key with its `alg` pinned: as published, or the one its type implies (RSA: RS256,
/// EC P-256: ES256, P-384: ES384) when the IdP leaves it out. Keys of other types, and
/// symmetric ones, are dropped.
fn with_alg(key: &Value) -> Option<Value> {
    let mut key = key.clone();
    let implied = match (
        key.get("kty").and_then(Value::as_str),
        key.get("crv").and_then(Value::as_str),
    ) {
        (Some("RSA"), _) => "RS256",
        (Some("EC"), Some("P-256")) => "ES256",
        (Some("EC"), Some("P-384")) => "ES384",
        _ => return None,
    };
    let obj = key.as_object_mut()?;
    obj.entry("alg").or_insert_with(|| Value::from(implied));
    Some(key)
}

fn http_client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| Error::IdpFetch(e.to_string()))
}

/// Fetches and parses SAML IdP metadata.
async fn fetch_saml(url: &str) -> Result<tenantgate_saml::IdpMetadata> {
    let resp = http_client()?
        .get(url)
        .send()
        .await
        .map_err(|e| Error::IdpFetch(format!("{url}: {e}")))?;
    if !resp.status().is_success() {
        return Err(Error::IdpFetch(format!("{url}: HTTP {}", resp.status())));
    }
    let text = resp
        .text()
        .await
        .map_err(|e| Error::IdpFetch(format!("{url}: {e}")))?;
    parse_saml_metadata(&text)
}

/// Parses SAML IdP metadata (for `sso set --metadata-file` too).
pub fn parse_saml_metadata(xml: &str) -> Result<tenantgate_saml::IdpMetadata> {
    tenantgate_saml::parse_idp_metadata(xml)
        .map_err(|e| Error::IdpFetch(format!("metadata not usable: {e}")))
}

struct Discovered {
    authorization_endpoint: String,
    token_endpoint: String,
    jwks: Value,
    iss_parameter: bool,
}

async fn get_json(client: &reqwest::Client, url: &str) -> Result<Value> {
    let fail = |m: String| Error::IdpFetch(format!("{url}: {m}"));
    let resp = client
        .get(url)
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|e| fail(e.to_string()))?;
    if !resp.status().is_success() {
        return Err(fail(format!("HTTP {}", resp.status())));
    }
    let bytes = resp.bytes().await.map_err(|e| fail(e.to_string()))?;
    if bytes.len() > 1024 * 1024 {
        return Err(fail("document over 1 MiB".into()));
    }
    serde_json::from_slice(&bytes).map_err(|e| fail(format!("not JSON: {e}")))
}

async fn fetch_oidc(issuer: &str) -> Result<Discovered> {
    let client = http_client()?;
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let doc = get_json(&client, &url).await?;
    let text = |k: &str| doc.get(k).and_then(Value::as_str).map(str::to_owned);
    // OIDC Discovery §4.3: the document's issuer must be exactly the one configured.
    if text("issuer").as_deref() != Some(issuer) {
        return Err(Error::IdpFetch(format!(
            "discovery names issuer {:?}, not {issuer:?}",
            text("issuer")
        )));
    }
    let need = |k: &str| text(k).ok_or_else(|| Error::IdpFetch(format!("discovery lacks {k}")));
    let (auth, token, jwks_uri) = (
        need("authorization_endpoint")?,
        need("token_endpoint")?,
        need("jwks_uri")?,
    );
    let jwks = get_json(&client, &jwks_uri).await?;
    let usable = jwks
        .get("keys")
        .and_then(Value::as_array)
        .map(|keys| {
            keys.iter()
                .filter(|k| k.get("use").and_then(Value::as_str) != Some("enc"))
                .filter_map(with_alg)
                .collect::<Vec<_>>()
        })
        .filter(|k| !k.is_empty())
        .ok_or_else(|| Error::IdpFetch(format!("{jwks_uri}: no signing keys")))?;
    Ok(Discovered {
        authorization_endpoint: auth,
        token_endpoint: token,
        jwks: serde_json::json!({ "keys": usable }),
        iss_parameter: doc
            .get("authorization_response_iss_parameter_supported")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    })
}
