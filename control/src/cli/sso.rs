//! `tenantgate sso set|show|remove|refresh SLUG`: a tenant's identity provider (README
//! "Single sign-on"). The client secret is never printed.

use std::process::ExitCode;

use crate::sso::{self, SsoChange};
use crate::Database;
use clap::{Args, Subcommand};

use super::conn::Conn;

#[derive(Subcommand)]
pub enum SsoCommand {
    /// Create or change the tenant's identity provider (audited); for OIDC, fetches its
    /// discovery document and keys at once.
    Set(Box<SetArgs>),
    /// Show the tenant's identity provider (never its secret) and the URLs to give the
    /// customer's IdP administrator.
    Show {
        #[command(flatten)]
        conn: Conn,
        /// The tenant's slug.
        slug: String,
        /// The tenant's public origin, to print its exact redirect / ACS URLs
        /// (default: http://<slug>.localhost:3000).
        #[arg(long)]
        origin: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove the tenant's identity provider and end its sessions (audited).
    Remove {
        #[command(flatten)]
        conn: Conn,
        /// The tenant's slug.
        slug: String,
    },
    /// Print a tenant's SAML SP metadata (entity id, ACS URL) for its IdP administrator, as
    /// the gateway serves it at <origin>/auth/saml/metadata.
    SpMetadata {
        /// The tenant's public origin, e.g. https://acme.app.example.
        #[arg(long)]
        origin: String,
    },
    /// Fetch the discovery document and keys again (one tenant, or every tenant with --all).
    Refresh {
        #[command(flatten)]
        conn: Conn,
        /// The tenant's slug.
        slug: Option<String>,
        /// Every tenant's provider.
        #[arg(long)]
        all: bool,
    },
}

#[derive(Args)]
pub struct SetArgs {
    #[command(flatten)]
    conn: Conn,
    /// The tenant's slug.
    slug: String,
    /// oidc or saml (needed when the tenant has no provider yet).
    #[arg(long)]
    kind: Option<String>,
    /// The name on the login button (e.g. "Acme Okta").
    #[arg(long)]
    name: Option<String>,
    /// OIDC issuer URL (https; http only on loopback).
    #[arg(long)]
    issuer: Option<String>,
    /// OIDC client id.
    #[arg(long)]
    client_id: Option<String>,
    /// OIDC client secret, read from this environment variable (never from the command line,
    /// where other users could see it); an empty value removes it.
    #[arg(long, value_name = "ENV_VAR")]
    client_secret_env: Option<String>,
    /// OIDC scopes (repeatable; default openid email profile).
    #[arg(long = "scope")]
    scopes: Vec<String>,
    /// An email domain allowed for just-in-time membership (repeatable); it must also be a
    /// verified domain of the tenant.
    #[arg(long = "allowed-domain")]
    allowed_domains: Vec<String>,
    /// SSO is the only way in: bearer tokens are refused with 403 sso_required.
    #[arg(long)]
    enforce: Option<bool>,
    /// Just-in-time membership for first logins from allowed domains.
    #[arg(long)]
    jit: Option<bool>,
    /// The role just-in-time members get (default member).
    #[arg(long)]
    default_role: Option<String>,
    /// SAML IdP entity id.
    #[arg(long)]
    idp_entity_id: Option<String>,
    /// SAML IdP SSO URL (HTTP-Redirect binding).
    #[arg(long)]
    sso_url: Option<String>,
    /// SAML signing certificate, PEM or DER file (repeatable).
    #[arg(long = "certificate")]
    certificates: Vec<std::path::PathBuf>,
    /// SAML: accept IdP-initiated responses (off by default).
    #[arg(long)]
    allow_idp_initiated: Option<bool>,
    /// SAML: the IdP's metadata XML file (entity id, SSO URL and certificates from it).
    #[arg(long)]
    metadata_file: Option<std::path::PathBuf>,
    /// SAML: the IdP's metadata URL, fetched now and by every `sso refresh`.
    #[arg(long)]
    metadata_url: Option<String>,
}

fn print(p: &sso::Provider, origin: &str) {
    println!("{}: {} ({})", p.slug, p.display_name, p.kind);
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    if p.kind == "oidc" {
        println!("  issuer:          {}", opt(&p.issuer));
        println!("  client id:       {}", opt(&p.client_id));
        println!(
            "  client secret:   {}",
            if p.client_secret_set {
                "set"
            } else {
                "not set"
            }
        );
        println!("  scopes:          {}", p.scopes.join(" "));
        println!("  authorization:   {}", opt(&p.authorization_endpoint));
        println!("  token endpoint:  {}", opt(&p.token_endpoint));
        println!("  signing keys:    {}", p.keys);
    } else {
        println!("  IdP entity id:   {}", opt(&p.idp_entity_id));
        println!("  SSO URL:         {}", opt(&p.sso_url));
        println!("  certificates:    {}", p.certificates);
        println!("  IdP-initiated:   {}", p.allow_idp_initiated);
    }
    println!("  enforced:        {}", p.enforced);
    println!(
        "  just-in-time:    {} (role {}, domains: {})",
        p.jit,
        p.default_role,
        if p.allowed_email_domains.is_empty() {
            "the tenant's verified domains".to_owned()
        } else {
            p.allowed_email_domains.join(", ")
        }
    );
    println!("  keys fetched:    {}", opt(&p.keys_refreshed_at));
    if let Some(e) = &p.refresh_error {
        println!("  last refresh:    FAILED: {e}");
    }
    println!("give the customer's IdP administrator:");
    for (what, url) in sso::customer_endpoints(origin) {
        println!("  {what:<30} {url}");
    }
}

fn read_certificates(paths: &[std::path::PathBuf]) -> anyhow::Result<Option<Vec<Vec<u8>>>> {
    if paths.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::new();
    for p in paths {
        let bytes =
            std::fs::read(p).map_err(|e| anyhow::anyhow!("reading {}: {e}", p.display()))?;
        out.extend(
            tenantgate_saml::pem_or_der_certificates(&bytes)
                .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?,
        );
    }
    Ok(Some(out))
}

pub async fn run(cmd: SsoCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        SsoCommand::Set(a) => {
            let client_secret = match &a.client_secret_env {
                Some(var) => Some(std::env::var(var).map_err(|_| {
                    anyhow::anyhow!(
                        "--client-secret-env {var}: that environment variable is not set"
                    )
                })?),
                None => None,
            };
            let mut from_metadata = None;
            if let Some(path) = &a.metadata_file {
                let xml = std::fs::read_to_string(path)
                    .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
                from_metadata = Some(sso::parse_saml_metadata(&xml)?);
            }
            let certificates = match (&from_metadata, read_certificates(&a.certificates)?) {
                (_, Some(c)) => Some(c),
                (Some(m), None) => Some(m.certificates_der.clone()),
                (None, None) => None,
            };
            let change = SsoChange {
                kind: a.kind,
                display_name: a.name,
                issuer: a.issuer,
                client_id: a.client_id,
                client_secret,
                scopes: (!a.scopes.is_empty()).then_some(a.scopes),
                allowed_email_domains: (!a.allowed_domains.is_empty()).then_some(a.allowed_domains),
                enforced: a.enforce,
                jit: a.jit,
                default_role: a.default_role,
                idp_entity_id: a
                    .idp_entity_id
                    .or_else(|| from_metadata.as_ref().map(|m| m.entity_id.clone())),
                sso_url: a
                    .sso_url
                    .or_else(|| from_metadata.as_ref().map(|m| m.sso_redirect_url.clone())),
                certificates,
                allow_idp_initiated: a.allow_idp_initiated,
                metadata_url: a.metadata_url,
            };
            let mut control = a.conn.targets()?.connect(&Database::Control).await?;
            let p = sso::set(&mut control, &a.slug, &change).await?;
            print(&p, &format!("http://{}.localhost:3000", a.slug));
        }
        SsoCommand::Show {
            conn,
            slug,
            origin,
            json,
        } => {
            let control = conn.targets()?.connect(&Database::Control).await?;
            let p = sso::show(&control, &slug).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&p)?);
            } else {
                print(
                    &p,
                    &origin.unwrap_or_else(|| format!("http://{slug}.localhost:3000")),
                );
            }
        }
        SsoCommand::SpMetadata { origin } => {
            let origin = origin.trim_end_matches('/');
            println!(
                "{}",
                tenantgate_saml::sp_metadata(&tenantgate_saml::ServiceProvider {
                    entity_id: format!("{origin}/auth/saml/metadata"),
                    acs_url: format!("{origin}/auth/saml/acs"),
                })
            );
        }
        SsoCommand::Remove { conn, slug } => {
            let mut control = conn.targets()?.connect(&Database::Control).await?;
            sso::remove(&mut control, &slug).await?;
            println!("{slug}: identity provider removed, sessions ended");
        }
        SsoCommand::Refresh { conn, slug, all } => {
            let control = conn.targets()?.connect(&Database::Control).await?;
            match (slug, all) {
                (Some(slug), false) => {
                    let p = sso::refresh(&control, &slug).await?;
                    println!(
                        "{slug}: {} signing key(s) fetched at {}",
                        p.keys,
                        p.keys_refreshed_at.unwrap_or_default()
                    );
                }
                (None, true) => {
                    let failed = sso::refresh_all(&control).await?;
                    for (slug, e) in &failed {
                        eprintln!("{slug}: {e}");
                    }
                    if !failed.is_empty() {
                        return Ok(ExitCode::from(1));
                    }
                    println!("every identity provider refreshed");
                }
                _ => anyhow::bail!("give a tenant's slug or --all"),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
