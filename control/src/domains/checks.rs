//! The two proofs of control `domain verify` looks for: a TXT record at `_tenantgate.<domain>`,
//! and the token served at `http://<domain>/.well-known/tenantgate-verification`.
//!
//! Each check answers `Ok` or what it found instead, in words for the operator. The HTTP check
//! fetches only from public addresses unless told otherwise (it must not become a way to probe the
//! platform's own network), reads at most 1 KiB, and follows no redirects.

use std::net::IpAddr;

use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::{Resolver, TokioResolver};
use http_body_util::BodyExt as _;

use super::{VerifyOptions, TXT_LABEL, WELL_KNOWN_PATH};
use crate::error::{Error, Result};
use crate::report::report;

/// The most of an HTTP answer read while looking for the token.
const MAX_HTTP_BODY: usize = 1024;

pub(super) fn resolver(opts: &VerifyOptions) -> Result<TokioResolver> {
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
        None => Resolver::builder_tokio().map_err(|source| Error::Dns {
            doing: "reading the system's DNS configuration (/etc/resolv.conf)",
            source,
        })?,
    };
    builder
        .with_options(o)
        .build()
        .map_err(|source| Error::Dns {
            doing: "configuring DNS",
            source,
        })
}

pub(super) async fn check_dns(
    resolver: &TokioResolver,
    domain: &str,
    token: &str,
) -> Result<(), String> {
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

pub(super) async fn check_http(
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
            Ok(Err(e)) => failures.push(format!("{url} ({ip}): {e}")),
            Err(_) => failures.push(format!(
                "{url} ({ip}): no answer within {} s",
                opts.timeout.as_secs()
            )),
        }
    }
    Err(failures.join("; "))
}

/// One GET of the token path from `ip`, with the domain as `Host`; no redirects followed.
async fn fetch(ip: IpAddr, port: u16, domain: &str) -> Result<(u16, String), String> {
    let stream = tokio::net::TcpStream::connect((ip, port))
        .await
        .map_err(|e| format!("connecting: {}", report(&e)))?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| report(&e))?;
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
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .map_err(|e| report(&e))?;
    let resp = sender.send_request(req).await.map_err(|e| report(&e))?;
    let status = resp.status().as_u16();
    let body = http_body_util::Limited::new(resp.into_body(), MAX_HTTP_BODY)
        .collect()
        .await
        .map_err(|e| format!("reading the answer: {}", report(&*e)))?
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
