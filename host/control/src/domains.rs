//! `tenantgate domain add|verify|revoke|list`: custom domains (DESIGN §3).
//!
//! A tenant claims a domain with `add`, which issues a random verification token. The tenant proves
//! control of the domain by publishing the token, either as a DNS TXT record at
//! `_tenantgate.<domain>` or as the body of `http://<domain>/.well-known/tenantgate-verification`
//! (served by the tenant's own server, before the domain points at the platform). `verify` looks for
//! it and marks the claim verified; only then does the gateway route the domain
//! (`tenantgate.resolve_tenant_by_domain()`), and it stops within its cache bound after `revoke`.
//!
//! Any number of tenants may hold a pending claim on a domain; whichever proves control first owns it
//! until it is revoked (0004_domain_claims.sql). Names are normalised as the gateway normalises a
//! `Host` (lower case, one trailing dot dropped, IDNA to ASCII), so what is stored is what matches.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use anyhow::{bail, Context as _};
use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::{Resolver, TokioResolver};
use http_body_util::BodyExt as _;
use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};
use tokio_postgres::{Client, GenericClient};

use crate::db::{describe, Database, Targets};
use crate::tenants;

/// The label under which the TXT record is published: `_tenantgate.<domain>`.
pub const TXT_LABEL: &str = "_tenantgate";
/// Where the HTTP token is served on the domain.
pub const WELL_KNOWN_PATH: &str = "/.well-known/tenantgate-verification";
/// Every token starts with this, so a record is recognisable for what it is.
pub const TOKEN_PREFIX: &str = "tg-verify-";
/// The most of an HTTP answer read while looking for the token.
const MAX_HTTP_BODY: usize = 1024;

/// The canonical form of a custom domain, or why `input` is not one.
///
/// Accepts what a person would paste (`Portal.Acme.com.`, `bücher.example`) and refuses what is not a
/// bare domain name: schemes, paths, ports, userinfo, IP addresses, single labels, and names DNS cannot
/// hold. The result is what the gateway's host normaliser gives for the same name.
pub fn normalise_domain(input: &str) -> anyhow::Result<String> {
    let raw = input.trim();
    if raw.is_empty() {
        bail!("the domain is empty");
    }
    if raw.contains("://") {
        bail!("{raw:?}: give the bare domain name, without a scheme (portal.acme.com)");
    }
    if raw.contains(['/', '?', '#']) {
        bail!("{raw:?}: give the bare domain name, without a path (portal.acme.com)");
    }
    if raw.contains('@') {
        bail!("{raw:?}: a domain has no user part");
    }
    if raw.contains(['[', ']', ':']) {
        bail!("{raw:?}: give the domain name without a port; IP addresses are not domains");
    }
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        bail!("{raw:?}: a domain has no spaces or control characters");
    }
    let name = raw.strip_suffix('.').unwrap_or(raw);
    if name.is_empty() || name.starts_with('.') || name.ends_with('.') || name.contains("..") {
        bail!("{raw:?}: a domain has no empty labels");
    }
    let ascii = Uts46::new()
        .to_ascii(
            name.as_bytes(),
            AsciiDenyList::STD3,
            Hyphens::CheckFirstLast,
            DnsLength::Verify,
        )
        .map_err(|_| {
            anyhow::anyhow!(
                "{raw:?} is not a valid domain name (letters, digits and '-' in labels of 1 to 63 \
                 characters, not starting or ending with '-'; at most 253 characters)"
            )
        })?
        .into_owned();
    let labels: Vec<&str> = ascii.split('.').collect();
    if labels.len() < 2 {
        bail!("{raw:?}: a custom domain has at least two labels (portal.acme.com)");
    }
    let last = labels[labels.len() - 1];
    let hex = last
        .strip_prefix("0x")
        .is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit()));
    if last.bytes().all(|b| b.is_ascii_digit()) || hex {
        bail!("{raw:?}: IP addresses are not domains");
    }
    // What the control plane's CHECK constraint and the gateway accept.
    let ldh = labels.iter().all(|l| {
        (1..=63).contains(&l.len())
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    });
    if !ldh || ascii.len() > 253 {
        bail!("{raw:?} is not a valid domain name");
    }
    Ok(ascii)
}

/// A fresh verification token: the prefix and 128 random bits in hex.
pub fn new_token() -> anyhow::Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness for a token: {e}"))?;
    Ok(format!(
        "{TOKEN_PREFIX}{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ))
}

/// Where a claim stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Added, control not proven yet; does not route.
    Pending,
    /// Control proven; routes to the tenant.
    Verified,
    /// Withdrawn; does not route.
    Revoked,
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::Pending => "pending",
            State::Verified => "verified",
            State::Revoked => "revoked",
        })
    }
}

/// One tenant's claim on a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    /// The tenant's slug.
    pub slug: String,
    /// The normalised domain.
    pub domain: String,
    /// Its state.
    pub state: State,
    /// The token that proves control.
    pub token: String,
    /// When it was claimed (or claimed again after a revocation), UTC.
    pub created_at: String,
    /// When control was proven, UTC.
    pub verified_at: Option<String>,
}

impl Domain {
    /// What the tenant publishes, and the command that checks it.
    pub fn instructions(&self) -> String {
        format!(
            "prove control of {d} with either\n  \
             DNS:  a TXT record at {TXT_LABEL}.{d} with the value {t}\n  \
             HTTP: http://{d}{WELL_KNOWN_PATH} answering 200 with the body {t}\n\
             then run: tenantgate domain verify {s} {d}",
            d = self.domain,
            t = self.token,
            s = self.slug,
        )
    }
}

const DOMAIN_SELECT: &str = "SELECT t.slug, d.domain, d.verification_token, \
    to_char(d.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), \
    to_char(d.verified_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), \
    d.revoked_at IS NOT NULL \
    FROM tenantgate.tenant_domains AS d JOIN tenantgate.tenants AS t ON t.id = d.tenant_id";

fn domain_from_row(r: &tokio_postgres::Row) -> Domain {
    let verified_at: Option<String> = r.get(4);
    let revoked: bool = r.get(5);
    Domain {
        slug: r.get(0),
        domain: r.get(1),
        token: r.get(2),
        created_at: r.get(3),
        state: match (revoked, verified_at.is_some()) {
            (true, _) => State::Revoked,
            (false, true) => State::Verified,
            (false, false) => State::Pending,
        },
        verified_at,
    }
}

/// The tenant's claim on `domain`, if it has one.
async fn claim(control: &Client, slug: &str, domain: &str) -> anyhow::Result<Option<Domain>> {
    let row = control
        .query_opt(
            &format!("{DOMAIN_SELECT} WHERE t.slug = $1 AND d.domain = $2"),
            &[&slug, &domain],
        )
        .await
        .map_err(|e| anyhow::anyhow!("reading {domain}: {}", describe(&e)))?;
    Ok(row.as_ref().map(domain_from_row))
}

/// The tenant for which `domain` routes, if any.
async fn owner(c: &impl GenericClient, domain: &str) -> anyhow::Result<Option<String>> {
    let row = c
        .query_opt(
            "SELECT t.slug FROM tenantgate.tenant_domains AS d JOIN tenantgate.tenants AS t ON t.id = d.tenant_id \
             WHERE d.domain = $1 AND d.verified_at IS NOT NULL AND d.revoked_at IS NULL",
            &[&domain],
        )
        .await
        .map_err(|e| anyhow::anyhow!("reading {domain}: {}", describe(&e)))?;
    Ok(row.map(|r| r.get(0)))
}

/// Serialises changes to one domain's claims (by every tenant) until the transaction ends.
async fn lock(tx: &tokio_postgres::Transaction<'_>, domain: &str) -> anyhow::Result<()> {
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('tenantgate.domain:' || $1, 0))",
        &[&domain],
    )
    .await
    .map_err(|e| anyhow::anyhow!("locking {domain}: {}", describe(&e)))?;
    Ok(())
}

/// A tenant that may change its domains.
async fn live_tenant(control: &Client, slug: &str) -> anyhow::Result<tenants::Tenant> {
    let tenant = tenants::find(control, slug).await?;
    if tenant.status == "deleted" {
        bail!("tenant {slug:?} is deleted; its domains cannot change");
    }
    Ok(tenant)
}

/// What `add` did.
#[derive(Debug, Clone)]
pub struct Added {
    /// The claim, pending.
    pub domain: Domain,
    /// True when the tenant already had this pending claim (same token as before).
    pub existing: bool,
}

/// Claims `domain` for the tenant, pending verification. Adding a domain the tenant already claims
/// gives back the same token; adding one it revoked issues a new token. A domain verified for any
/// tenant is refused until it is revoked there.
pub async fn add(targets: &Targets, slug: &str, domain: &str) -> anyhow::Result<Added> {
    let domain = normalise_domain(domain)?;
    let mut control = targets.connect(&Database::Control).await?;
    let tenant = live_tenant(&control, slug).await?;
    let tx = control.transaction().await?;
    lock(&tx, &domain).await?;
    match owner(&tx, &domain).await? {
        Some(o) if o == slug => bail!("{domain} is already verified for {slug}"),
        Some(o) => bail!(
            "{domain} is verified for tenant {o:?}; it must be revoked there before another tenant can claim it"
        ),
        None => {}
    }
    let before = tx
        .query_opt(
            "SELECT revoked_at IS NOT NULL FROM tenantgate.tenant_domains WHERE tenant_id = $1 AND domain = $2",
            &[&tenant.id, &domain],
        )
        .await
        .map_err(|e| anyhow::anyhow!("reading {domain}: {}", describe(&e)))?
        .map(|r| r.get::<_, bool>(0));
    let existing = before == Some(false);
    if !existing {
        let token = new_token()?;
        tx.execute(
            "INSERT INTO tenantgate.tenant_domains (tenant_id, domain, verification_token) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant_id, domain) DO UPDATE SET verification_token = EXCLUDED.verification_token, \
                 created_at = now(), verified_at = NULL, revoked_at = NULL",
            &[&tenant.id, &domain, &token],
        )
        .await
        .map_err(|e| anyhow::anyhow!("claiming {domain}: {}", describe(&e)))?;
        tenants::audit(
            &tx,
            tenant.id,
            "domain.added",
            serde_json::json!({ "domain": domain }),
        )
        .await?;
    }
    tx.commit()
        .await
        .map_err(|e| anyhow::anyhow!("{}", describe(&e)))?;
    let domain = claim(&control, slug, &domain)
        .await?
        .context("the claim vanished after it was written")?;
    Ok(Added { domain, existing })
}

/// How `verify` may look for the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// The TXT record only.
    Dns,
    /// The HTTP token only.
    Http,
    /// The TXT record, then the HTTP token.
    Any,
}

impl std::str::FromStr for Method {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<Method> {
        match s {
            "dns" => Ok(Method::Dns),
            "http" => Ok(Method::Http),
            "any" => Ok(Method::Any),
            other => bail!("method {other:?} is not one of dns, http, any"),
        }
    }
}

/// How `verify` reaches the outside world.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// Which proofs count.
    pub method: Method,
    /// The DNS server to ask (default: the system's, `/etc/resolv.conf`).
    pub dns_server: Option<SocketAddr>,
    /// The port of the HTTP check (80 unless testing).
    pub http_port: u16,
    /// Fetch the HTTP token from loopback, private and link-local addresses too. Off by default: a
    /// public domain does not live there, and the check must not become a way to probe the platform's
    /// own network.
    pub allow_private_addresses: bool,
    /// Per look-up and per fetch.
    pub timeout: Duration,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            method: Method::Any,
            dns_server: None,
            http_port: 80,
            allow_private_addresses: false,
            timeout: Duration::from_secs(10),
        }
    }
}

/// What `verify` found.
#[derive(Debug, Clone)]
pub struct Verification {
    /// The claim, verified.
    pub domain: Domain,
    /// `dns` or `http`; `None` when it was verified already.
    pub method: Option<&'static str>,
}

/// Looks for the tenant's token (TXT record, then HTTP token, as `opts.method` allows) and marks
/// the claim verified. Fails, changing nothing, with what it found instead.
pub async fn verify(
    targets: &Targets,
    slug: &str,
    domain: &str,
    opts: &VerifyOptions,
) -> anyhow::Result<Verification> {
    let domain = normalise_domain(domain)?;
    let mut control = targets.connect(&Database::Control).await?;
    let tenant = live_tenant(&control, slug).await?;
    let current = claim(&control, slug, &domain).await?.with_context(|| {
        format!("{domain} is not a domain of {slug}; claim it first: tenantgate domain add {slug} {domain}")
    })?;
    match current.state {
        State::Verified => {
            return Ok(Verification {
                domain: current,
                method: None,
            })
        }
        State::Revoked => bail!(
            "{domain} was revoked for {slug}; claim it again for a new token: tenantgate domain add {slug} {domain}"
        ),
        State::Pending => {}
    }
    if let Some(o) = owner(&control, &domain).await? {
        bail!("{domain} is verified for tenant {o:?}; it must be revoked there first");
    }

    let resolver = resolver(opts)?;
    let mut found = None;
    let mut evidence = Vec::new();
    if matches!(opts.method, Method::Dns | Method::Any) {
        match check_dns(&resolver, &domain, &current.token).await {
            Ok(()) => found = Some("dns"),
            Err(e) => evidence.push(format!("DNS:  {e}")),
        }
    }
    if found.is_none() && matches!(opts.method, Method::Http | Method::Any) {
        match check_http(&resolver, &domain, &current.token, opts).await {
            Ok(()) => found = Some("http"),
            Err(e) => evidence.push(format!("HTTP: {e}")),
        }
    }
    let Some(method) = found else {
        bail!(
            "{domain} is not verified for {slug}:\n  {}\n{}",
            evidence.join("\n  "),
            current.instructions()
        );
    };

    let tx = control.transaction().await?;
    lock(&tx, &domain).await?;
    if let Some(o) = owner(&tx, &domain).await? {
        bail!("{domain} was verified for tenant {o:?} meanwhile; it must be revoked there first");
    }
    let n = tx
        .execute(
            "UPDATE tenantgate.tenant_domains SET verified_at = now() \
             WHERE tenant_id = $1 AND domain = $2 AND verification_token = $3 \
               AND verified_at IS NULL AND revoked_at IS NULL",
            &[&tenant.id, &domain, &current.token],
        )
        .await
        .map_err(|e| anyhow::anyhow!("marking {domain} verified: {}", describe(&e)))?;
    if n != 1 {
        bail!("the claim on {domain} changed while it was checked (revoked or claimed again); run verify again");
    }
    tenants::audit(
        &tx,
        tenant.id,
        "domain.verified",
        serde_json::json!({ "domain": domain, "method": method }),
    )
    .await?;
    tx.commit()
        .await
        .map_err(|e| anyhow::anyhow!("{}", describe(&e)))?;
    let domain = claim(&control, slug, &domain)
        .await?
        .context("the claim vanished after it was verified")?;
    Ok(Verification {
        domain,
        method: Some(method),
    })
}

/// Withdraws the tenant's claim on `domain`, verified or pending. The gateway stops routing it
/// within its cache bound.
pub async fn revoke(targets: &Targets, slug: &str, domain: &str) -> anyhow::Result<Domain> {
    let domain = normalise_domain(domain)?;
    let mut control = targets.connect(&Database::Control).await?;
    let tenant = tenants::find(&control, slug).await?;
    let tx = control.transaction().await?;
    lock(&tx, &domain).await?;
    let was_verified: bool = tx
        .query_opt(
            "UPDATE tenantgate.tenant_domains SET revoked_at = now() \
             WHERE tenant_id = $1 AND domain = $2 AND revoked_at IS NULL \
             RETURNING verified_at IS NOT NULL",
            &[&tenant.id, &domain],
        )
        .await
        .map_err(|e| anyhow::anyhow!("revoking {domain}: {}", describe(&e)))?
        .with_context(|| format!("{domain} is not a pending or verified domain of {slug}"))?
        .get(0);
    tenants::audit(
        &tx,
        tenant.id,
        "domain.revoked",
        serde_json::json!({ "domain": domain, "was_verified": was_verified }),
    )
    .await?;
    tx.commit()
        .await
        .map_err(|e| anyhow::anyhow!("{}", describe(&e)))?;
    claim(&control, slug, &domain)
        .await?
        .context("the claim vanished after it was revoked")
}

/// Every claim, or one tenant's, by domain.
pub async fn list(targets: &Targets, slug: Option<&str>) -> anyhow::Result<Vec<Domain>> {
    let control = targets.connect(&Database::Control).await?;
    let rows = match slug {
        Some(s) => {
            tenants::find(&control, s).await?;
            control
                .query(
                    &format!("{DOMAIN_SELECT} WHERE t.slug = $1 ORDER BY d.domain, d.created_at"),
                    &[&s],
                )
                .await
        }
        None => {
            control
                .query(&format!("{DOMAIN_SELECT} ORDER BY d.domain, t.slug"), &[])
                .await
        }
    }
    .map_err(|e| anyhow::anyhow!("listing domains: {}", describe(&e)))?;
    Ok(rows.iter().map(domain_from_row).collect())
}

fn resolver(opts: &VerifyOptions) -> anyhow::Result<TokioResolver> {
    let mut o = ResolverOpts::default();
    o.timeout = opts.timeout;
    o.attempts = 2;
    // Every check asks afresh: a record just published must be seen.
    o.cache_size = 0;
    let builder = match opts.dns_server {
        Some(addr) => {
            let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
            for c in &mut ns.connections {
                c.port = addr.port();
            }
            Resolver::builder_with_config(
                ResolverConfig::from_name_servers(vec![ns]),
                TokioRuntimeProvider::default(),
            )
        }
        None => Resolver::builder_tokio()
            .context("reading the system's DNS configuration (/etc/resolv.conf)")?,
    };
    builder
        .with_options(o)
        .build()
        .map_err(|e| anyhow::anyhow!("configuring DNS: {e}"))
}

async fn check_dns(resolver: &TokioResolver, domain: &str, token: &str) -> Result<(), String> {
    let name = format!("{TXT_LABEL}.{domain}");
    match resolver.txt_lookup(format!("{name}.")).await {
        Ok(lookup) => {
            let values: Vec<String> = lookup
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::TXT(txt) => Some(
                        txt.txt_data
                            .iter()
                            .map(|s| String::from_utf8_lossy(s))
                            .collect::<String>(),
                    ),
                    _ => None,
                })
                .collect();
            if values.iter().any(|v| v.trim() == token) {
                Ok(())
            } else if values.is_empty() {
                Err(format!("no TXT record at {name}"))
            } else {
                Err(format!(
                    "TXT {name} holds {values:?}, not this claim's token"
                ))
            }
        }
        Err(e) if e.is_no_records_found() || e.is_nx_domain() => {
            Err(format!("no TXT record at {name}"))
        }
        Err(e) => Err(format!("looking up TXT {name}: {e}")),
    }
}

async fn check_http(
    resolver: &TokioResolver,
    domain: &str,
    token: &str,
    opts: &VerifyOptions,
) -> Result<(), String> {
    let ips: Vec<IpAddr> = match resolver.lookup_ip(format!("{domain}.")).await {
        Ok(l) => l.iter().collect(),
        Err(e) if e.is_no_records_found() || e.is_nx_domain() => Vec::new(),
        Err(e) => return Err(format!("looking up {domain}: {e}")),
    };
    if ips.is_empty() {
        return Err(format!("{domain} has no A or AAAA record"));
    }
    let port = if opts.http_port == 80 {
        String::new()
    } else {
        format!(":{}", opts.http_port)
    };
    let url = format!("http://{domain}{port}{WELL_KNOWN_PATH}");
    let mut failures = Vec::new();
    for ip in ips.into_iter().take(4) {
        if !opts.allow_private_addresses && !is_public(ip) {
            failures.push(format!(
                "{domain} resolves to {ip}, a loopback, private or link-local address (not fetched)"
            ));
            continue;
        }
        match tokio::time::timeout(opts.timeout, fetch(ip, opts.http_port, domain)).await {
            Ok(Ok((200, body))) if body.trim() == token => return Ok(()),
            Ok(Ok((200, _))) => failures.push(format!(
                "{url} ({ip}) answered 200 without this claim's token"
            )),
            Ok(Ok((status, _))) => failures.push(format!("{url} ({ip}) answered {status}")),
            Ok(Err(e)) => failures.push(format!("{url} ({ip}): {e:#}")),
            Err(_) => failures.push(format!(
                "{url} ({ip}): no answer within {} s",
                opts.timeout.as_secs()
            )),
        }
    }
    Err(failures.join("; "))
}

/// One GET of the token path from `ip`, with the domain as `Host`; no redirects followed.
async fn fetch(ip: IpAddr, port: u16, domain: &str) -> anyhow::Result<(u16, String)> {
    let stream = tokio::net::TcpStream::connect((ip, port))
        .await
        .context("connecting")?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let host = if port == 80 {
        domain.to_string()
    } else {
        format!("{domain}:{port}")
    };
    let req = hyper::Request::get(WELL_KNOWN_PATH)
        .header(hyper::header::HOST, host)
        .header(hyper::header::USER_AGENT, "tenantgate-domain-verifier")
        .body(http_body_util::Empty::<bytes::Bytes>::new())?;
    let resp = sender.send_request(req).await?;
    let status = resp.status().as_u16();
    let body = http_body_util::Limited::new(resp.into_body(), MAX_HTTP_BODY)
        .collect()
        .await
        .map_err(|e| anyhow::anyhow!("reading the answer: {e}"))?
        .to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// False for addresses no public website lives at: loopback, private, link-local, shared (CGNAT),
/// documentation, unspecified, broadcast and multicast ranges, and their IPv4-mapped IPv6 forms.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b)))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_normalise_as_a_person_would_type_them() {
        for (input, want) in [
            ("portal.acme.com", "portal.acme.com"),
            ("Portal.ACME.com", "portal.acme.com"),
            ("portal.acme.com.", "portal.acme.com"),
            ("  portal.acme.com\n", "portal.acme.com"),
            ("bücher.example", "xn--bcher-kva.example"),
            ("xn--bcher-kva.example", "xn--bcher-kva.example"),
            ("a-b.c-d.example", "a-b.c-d.example"),
        ] {
            assert_eq!(normalise_domain(input).unwrap(), want, "{input}");
        }
    }

    #[test]
    fn what_is_not_a_bare_domain_is_refused_with_the_reason() {
        for (input, reason) in [
            ("", "empty"),
            ("https://portal.acme.com", "scheme"),
            ("portal.acme.com/login", "path"),
            ("admin@portal.acme.com", "user part"),
            ("portal.acme.com:8443", "port"),
            ("[::1]", "port"),
            ("127.0.0.1", "IP addresses"),
            ("10.1", "IP addresses"),
            ("acme.0x7f", "IP addresses"),
            ("localhost", "two labels"),
            ("portal..acme.com", "empty labels"),
            (".acme.com", "empty labels"),
            ("-bad.acme.com", "not a valid domain"),
            ("bad-.acme.com", "not a valid domain"),
            ("under_score.acme.com", "not a valid domain"),
            ("porta l.acme.com", "spaces"),
            ("a\u{0}.com", "control"),
        ] {
            let e = normalise_domain(input).unwrap_err().to_string();
            assert!(e.contains(reason), "{input:?}: {e}");
        }
        let long_label = format!("{}.com", "a".repeat(64));
        assert!(normalise_domain(&long_label).is_err());
        let long_name = format!("{}com", "abcdefghi.".repeat(26));
        assert!(normalise_domain(&long_name).is_err());
        assert!(normalise_domain(&format!("{}com", "abcdefghi.".repeat(24))).is_ok());
    }

    #[test]
    fn tokens_are_random_and_recognisable() {
        let (a, b) = (new_token().unwrap(), new_token().unwrap());
        assert_ne!(a, b);
        for t in [a, b] {
            let hex = t.strip_prefix(TOKEN_PREFIX).unwrap();
            assert_eq!(hex.len(), 32);
            assert!(hex.bytes().all(|c| c.is_ascii_hexdigit()));
        }
    }

    #[test]
    fn only_public_addresses_are_fetched_by_default() {
        for private in [
            "127.0.0.1",
            "10.0.0.5",
            "172.16.1.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in [
            "93.184.216.34",
            "2606:2800:220:1::1",
            "::ffff:93.184.216.34",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }
}
