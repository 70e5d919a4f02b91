//! The request's authority, checked before routing: exactly one `Host` (or none with an
//! absolute-form target), UTF-8, and naming the same authority as an absolute-form
//! target when both are present.
//!
//! The host does not judge names: that is the gateway's normaliser's job. A Unicode
//! `Host` reaches the app unchanged in its `Host` header, and the request URL carries
//! its IDNA (UTS-46) ASCII form, so the two normalise to the same name. Two spellings
//! of one authority (letter case, one trailing dot, the default port) agree.

use http::{HeaderMap, Uri};

use super::error::Refusal;

/// The authority for the request URL, from `Host` and the target.
pub(crate) fn request_authority(headers: &HeaderMap, uri: &Uri) -> Result<String, Refusal> {
    let mut hosts = headers.get_all(http::header::HOST).iter();
    let host = match (hosts.next(), hosts.next()) {
        (Some(_), Some(_)) => return Err(Refusal::DuplicateHost),
        (Some(h), None) => Some(url_authority(h.as_bytes())?),
        (None, _) => None,
    };
    match (host, uri.authority()) {
        (Some(h), Some(a)) if !same_authority(&h, a.as_str()) => Err(Refusal::HostMismatch),
        (Some(h), _) => Ok(h),
        (None, Some(a)) => Ok(a.as_str().to_owned()),
        (None, None) => Err(Refusal::MissingHost),
    }
}

/// `Host` bytes as an authority a URL can carry: UTF-8 required, a non-ASCII name
/// mapped to ASCII by UTS-46.
fn url_authority(raw: &[u8]) -> Result<String, Refusal> {
    let text = std::str::from_utf8(raw).map_err(|_| Refusal::HostNotUtf8)?;
    let ascii = if text.is_ascii() {
        text.to_owned()
    } else {
        let (name, port) = split_port(text);
        let name = idna::domain_to_ascii(name).map_err(|_| Refusal::InvalidHost)?;
        match port {
            Some(p) => format!("{name}:{p}"),
            None => name,
        }
    };
    ascii
        .parse::<http::uri::Authority>()
        .map_err(|_| Refusal::InvalidHost)?;
    Ok(ascii)
}

/// `name[:port]`, IPv6 literals included (`[::1]:80`).
fn split_port(authority: &str) -> (&str, Option<&str>) {
    match authority.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') || name.ends_with(']') => (name, Some(port)),
        _ => (authority, None),
    }
}

/// Whether two ASCII authorities name the same host and port: letter case, one
/// trailing dot and the default port `80` do not matter.
fn same_authority(a: &str, b: &str) -> bool {
    fn key(a: &str) -> (String, Option<&str>) {
        let (name, port) = split_port(a);
        let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
        (name, port.filter(|p| *p != "80"))
    }
    key(a) == key(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn authority(hosts: &[&[u8]], target: &str) -> Result<String, Refusal> {
        let mut headers = HeaderMap::new();
        for h in hosts {
            headers.append(
                http::header::HOST,
                http::HeaderValue::from_bytes(h).unwrap(),
            );
        }
        request_authority(&headers, &target.parse().unwrap())
    }

    #[test]
    fn one_host_or_an_absolute_target() {
        assert_eq!(authority(&[b"a.localhost"], "/x").unwrap(), "a.localhost");
        assert_eq!(
            authority(&[], "http://a.localhost/x").unwrap(),
            "a.localhost"
        );
        assert_eq!(authority(&[], "/x"), Err(Refusal::MissingHost));
        assert_eq!(
            authority(&[b"a.localhost", b"a.localhost"], "/x"),
            Err(Refusal::DuplicateHost)
        );
    }

    #[test]
    fn spellings_of_one_authority_agree() {
        for (host, target) in [
            ("A.LocalHost", "http://a.localhost/x"),
            ("a.localhost.", "http://a.localhost/x"),
            ("a.localhost", "http://A.LOCALHOST./x"),
            ("a.localhost:80", "http://a.localhost/x"),
            ("a.localhost:3000", "http://a.localhost:3000/x"),
        ] {
            assert_eq!(
                authority(&[host.as_bytes()], target).unwrap(),
                host,
                "{host} {target}"
            );
        }
        for (host, target) in [
            ("b.localhost", "http://a.localhost/x"),
            ("a.localhost:3000", "http://a.localhost/x"),
            ("a.localhost..", "http://a.localhost/x"),
        ] {
            assert_eq!(
                authority(&[host.as_bytes()], target),
                Err(Refusal::HostMismatch),
                "{host} {target}"
            );
        }
    }

    #[test]
    fn unicode_hosts_reach_the_app_and_other_bytes_do_not() {
        assert_eq!(
            authority(&["bücher.localhost:3000".as_bytes()], "/x").unwrap(),
            "xn--bcher-kva.localhost:3000"
        );
        assert_eq!(
            authority(
                &["bücher.localhost".as_bytes()],
                "http://xn--bcher-kva.localhost/"
            )
            .unwrap(),
            "xn--bcher-kva.localhost"
        );
        assert_eq!(
            authority(&[b"b\xfccher.localhost"], "/x"),
            Err(Refusal::HostNotUtf8)
        );
        assert_eq!(authority(&[b"a b"], "/x"), Err(Refusal::InvalidHost));
    }
}
