//! A tenant's limits, as the control plane stores them and the gateway applies them: the
//! document (plan merged with the tenant's overrides, `tenantgate.effective_limits()`),
//! parsed into [`LimitPolicy`]; the rate syntax of the command line ([`Rate::parse_spec`]); the route
//! classes a request falls into; and the client-address key anonymous traffic is counted by.
//!
//! ```json
//! {"tenant":    {"requests": 6000, "per_seconds": 60, "burst": 600},
//!  "user":      {"requests": 600, "per_seconds": 60},
//!  "anonymous": {...}, "client": {...}, "read": {...}, "write": {...}, "auth": {...},
//!  "monthly_requests": 100000}
//! ```
//!
//! Every key is optional (absent: no limit of that kind); unknown keys are ignored so an
//! older gateway keeps serving while a newer control plane adds kinds. A `burst` defaults to
//! a tenth of `requests` (at least 1).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// The rate kinds a document may set, in the order the gateway spends them.
pub const KINDS: [&str; 7] = [
    "tenant",
    "user",
    "anonymous",
    "client",
    "read",
    "write",
    "auth",
];

/// A rate: `requests` per `per_seconds`, with up to `burst` admitted at once from idle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rate {
    /// Requests per period (at least 1).
    pub requests: u32,
    /// The period in seconds (at least 1).
    pub per_seconds: u32,
    /// Requests admitted at once from idle (at least 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<u32>,
}

impl Rate {
    /// A rate with an explicit burst.
    pub fn new(requests: u32, per_seconds: u32, burst: u32) -> Rate {
        Rate {
            requests,
            per_seconds,
            burst: Some(burst),
        }
    }

    /// Parses the command line's rate syntax: `REQUESTS/PERIOD[:BURST]`, the period a number
    /// with a unit `s`, `m`, `h` or `d` (`600/1m`, `10/30s:5`, `100000/1d`); a bare unit means 1.
    pub fn parse_spec(spec: &str) -> Result<Rate, LimitsError> {
        let bad = || {
            LimitsError(format!(
                "{spec:?}: expected REQUESTS/PERIOD[:BURST], e.g. 600/1m or 10/30s:5"
            ))
        };
        let (rate, burst) = match spec.trim().split_once(':') {
            Some((r, b)) => (r, Some(b.trim().parse::<u32>().map_err(|_| bad())?)),
            None => (spec.trim(), None),
        };
        let (requests, period) = rate.split_once('/').ok_or_else(bad)?;
        let requests: u32 = requests.trim().parse().map_err(|_| bad())?;
        let period = period.trim();
        let unit_at = period.len().checked_sub(1).ok_or_else(bad)?;
        let (count, unit) = period.split_at(unit_at);
        let count: u32 = if count.is_empty() {
            1
        } else {
            count.parse().map_err(|_| bad())?
        };
        let scale = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3_600,
            "d" => 86_400,
            _ => return Err(bad()),
        };
        let rate = Rate {
            requests,
            per_seconds: count.checked_mul(scale).ok_or_else(bad)?,
            burst,
        };
        if rate.is_valid() {
            Ok(rate)
        } else {
            Err(LimitsError(format!(
                "{spec:?}: every number must be at least 1"
            )))
        }
    }

    /// Whether the numbers make a rate (all at least 1).
    pub fn is_valid(&self) -> bool {
        self.requests >= 1 && self.per_seconds >= 1 && self.burst.is_none_or(|b| b >= 1)
    }

    /// The burst in effect: the given one, or a tenth of `requests` (at least 1).
    pub fn burst(&self) -> u32 {
        self.burst.unwrap_or((self.requests / 10).max(1))
    }

    /// Microseconds between requests at the sustained rate (at least 1).
    pub fn emission_us(&self) -> u64 {
        (u64::from(self.per_seconds) * 1_000_000 / u64::from(self.requests.max(1))).max(1)
    }

    /// This rate divided among `n` instances (each at least 1 request and 1 of burst).
    pub fn divided(&self, n: u32) -> Rate {
        let n = n.max(1);
        Rate::new(
            (self.requests / n).max(1),
            self.per_seconds,
            (self.burst() / n).max(1),
        )
    }
}

/// The limits of one tenant. Parsed from the control plane's document; absent kinds are
/// not limited.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitPolicy {
    /// All signed-in traffic of the tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<Rate>,
    /// Each signed-in user within the tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<Rate>,
    /// All anonymous traffic of the tenant (its own budget: it never spends `tenant`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anonymous: Option<Rate>,
    /// Each anonymous client address (IPv4 /32, IPv6 /64) within the tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<Rate>,
    /// Reads (safe methods), per user or client address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read: Option<Rate>,
    /// Writes (non-safe methods), per user or client address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write: Option<Rate>,
    /// The sign-in routes (`/auth/...`), per user or client address. Strict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<Rate>,
    /// Signed-in requests per UTC calendar month.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_requests: Option<u64>,
}

/// Why a limits document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid limits: {0}")]
pub struct LimitsError(pub String);

impl LimitPolicy {
    /// Parses and validates a document (every rate's numbers at least 1).
    pub fn from_json(json: &str) -> Result<LimitPolicy, LimitsError> {
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|e| LimitsError(e.to_string()))?;
        if !value.is_object() {
            return Err(LimitsError("the document must be a JSON object".into()));
        }
        let policy: LimitPolicy =
            serde_json::from_value(value).map_err(|e| LimitsError(e.to_string()))?;
        for (name, rate) in policy.rates() {
            if !rate.is_valid() {
                return Err(LimitsError(format!(
                    "{name}: requests, per_seconds and burst must be at least 1"
                )));
            }
        }
        Ok(policy)
    }

    /// Every rate set, with its kind's name.
    pub fn rates(&self) -> impl Iterator<Item = (&'static str, Rate)> + '_ {
        [
            ("tenant", self.tenant),
            ("user", self.user),
            ("anonymous", self.anonymous),
            ("client", self.client),
            ("read", self.read),
            ("write", self.write),
            ("auth", self.auth),
        ]
        .into_iter()
        .filter_map(|(n, r)| r.map(|r| (n, r)))
    }

    /// Whether nothing is limited.
    pub fn is_unlimited(&self) -> bool {
        self.rates().next().is_none() && self.monthly_requests.is_none()
    }
}

/// What a request is, for limits and metering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteClass {
    /// Safe methods (`GET`, `HEAD`, `OPTIONS`).
    Read,
    /// Every other method.
    Write,
    /// The sign-in routes: any path under `/auth/` (or `/auth` itself).
    Auth,
}

impl RouteClass {
    /// The class of `method` on `path` (the path without query).
    pub fn of(method: &str, path: &str) -> RouteClass {
        if path == "/auth" || path.starts_with("/auth/") {
            RouteClass::Auth
        } else if ["GET", "HEAD", "OPTIONS"]
            .iter()
            .any(|m| method.eq_ignore_ascii_case(m))
        {
            RouteClass::Read
        } else {
            RouteClass::Write
        }
    }

    /// `read`, `write` or `auth`.
    pub fn as_str(self) -> &'static str {
        match self {
            RouteClass::Read => "read",
            RouteClass::Write => "write",
            RouteClass::Auth => "auth",
        }
    }
}

/// The key anonymous traffic from one client is counted under: an IPv4 address, or the /64
/// of an IPv6 address (one subscriber's usual allocation, so rotating addresses inside it
/// does not escape the limit). IPv4-mapped IPv6 addresses count as their IPv4 address.
/// Unknown addresses share one key.
pub fn client_key(addr: Option<IpAddr>) -> String {
    match addr.map(canonical) {
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        None => "unknown".to_owned(),
    }
}

fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    }
}

/// The client address Spin gives the component: the *last* `spin-client-addr` header (Spin
/// and the project's host append theirs after any the client sent, so a client cannot
/// choose it). `ip:port`, `[ip]:port` or a bare address.
pub fn client_addr(headers: &[(String, Vec<u8>)]) -> Option<IpAddr> {
    let value = headers
        .iter()
        .rev()
        .find(|(n, _)| n.eq_ignore_ascii_case("spin-client-addr"))?;
    let text = std::str::from_utf8(&value.1).ok()?.trim();
    if let Ok(sock) = text.parse::<std::net::SocketAddr>() {
        return Some(sock.ip());
    }
    text.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_parse_with_defaults_and_refuse_zeroes() {
        let p = LimitPolicy::from_json(
            r#"{"tenant":{"requests":600,"per_seconds":60},"monthly_requests":5,"future":1}"#,
        )
        .unwrap();
        assert_eq!(p.tenant.unwrap().burst(), 60);
        assert_eq!(p.tenant.unwrap().emission_us(), 100_000);
        assert_eq!(p.monthly_requests, Some(5));
        assert!(p.user.is_none());
        assert!(LimitPolicy::from_json(r#"{"user":{"requests":0,"per_seconds":60}}"#).is_err());
        assert!(
            LimitPolicy::from_json(r#"{"user":{"requests":1,"per_seconds":1,"burst":0}}"#).is_err()
        );
        assert!(LimitPolicy::from_json("[]").is_err());
        assert!(LimitPolicy::from_json("{}").unwrap().is_unlimited());
    }

    #[test]
    fn rate_specs() {
        assert_eq!(
            Rate::parse_spec("600/1m").unwrap(),
            Rate {
                requests: 600,
                per_seconds: 60,
                burst: None
            }
        );
        assert_eq!(Rate::parse_spec("10/30s:5").unwrap(), Rate::new(10, 30, 5));
        assert_eq!(Rate::parse_spec("5/h").unwrap().per_seconds, 3600);
        for bad in [
            "", "10", "10/", "x/1m", "10/1y", "0/1m", "10/0s", "10/1m:0", "10/1m:x",
        ] {
            assert!(Rate::parse_spec(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn classes() {
        assert_eq!(RouteClass::of("GET", "/api/tasks"), RouteClass::Read);
        assert_eq!(RouteClass::of("head", "/x"), RouteClass::Read);
        assert_eq!(RouteClass::of("POST", "/api/tasks"), RouteClass::Write);
        assert_eq!(RouteClass::of("GET", "/auth/login"), RouteClass::Auth);
        assert_eq!(RouteClass::of("GET", "/authx"), RouteClass::Read);
    }

    #[test]
    fn client_keys_group_ipv6_by_64_and_trust_only_the_last_header() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:1:2:3".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_key(Some(a)), client_key(Some(b)));
        assert_ne!(client_key(Some(a)), client_key(Some(c)));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(client_key(Some(mapped)), "10.0.0.1");
        let headers = vec![
            ("Spin-Client-Addr".to_owned(), b"6.6.6.6:1".to_vec()),
            ("spin-client-addr".to_owned(), b"127.0.0.9:5000".to_vec()),
        ];
        assert_eq!(client_addr(&headers), Some("127.0.0.9".parse().unwrap()));
        let v6 = vec![("spin-client-addr".to_owned(), b"[::1]:80".to_vec())];
        assert_eq!(client_addr(&v6), Some("::1".parse().unwrap()));
        assert_eq!(client_addr(&[]), None);
        assert_eq!(client_key(None), "unknown");
    }
}
