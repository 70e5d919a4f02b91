//! The rate-limit stage: which buckets a request spends ([`LimitPlan`]), the store port that
//! spends them atomically ([`RateLimitStore`]), and the answer: `RateLimit` /
//! `RateLimit-Policy` headers on admitted requests, 429 `rate_limited` / `quota_exceeded`
//! with `Retry-After` on refused ones, 503 when the store is down and the policy says so.
//!
//! Buckets (GCRA, [`crate::gcra`]), each keyed by the tenant id so no tenant reaches
//! another's, and shared by every host form of the tenant (the key is the id, not the host):
//!
//! | request | buckets |
//! |---|---|
//! | signed in | `tenant`, `user` (per user), `read`/`write`/`auth` (per user, by class) + the monthly quota |
//! | anonymous | `anonymous` (tenant-wide), `client` (per IPv4 /32 or IPv6 /64), `read`/`write`/`auth` (per client) |
//!
//! Anonymous traffic has budgets of its own: it never spends the signed-in `tenant` bucket
//! or the quota. Per-client buckets live in a fixed number of slots per tenant (the value
//! names its owner; another owner's value reads as idle), so rotating addresses cannot grow
//! the store without bound; the tenant-wide `anonymous` bucket still caps them all.
//!
//! Headers follow draft-ietf-httpapi-ratelimit-headers (structured fields):
//! `RateLimit-Policy: "tenant";q=6000;w=60, "user";q=600;w=60` and
//! `RateLimit: "user";r=41;t=3` for the bucket with the least left.

use sha2::{Digest, Sha256};

use crate::auth::Principal;
use crate::calendar::Date;
use crate::gcra::{Gcra, Step};
use crate::kv::UnixMillis;
use crate::limits::{client_key, LimitPolicy, Rate, RouteClass};
use crate::ports::{CounterUnavailable, Swap};

/// Per-client bucket slots per tenant and kind.
pub const CLIENT_SLOTS: u64 = 4096;

/// What to do when the counter store cannot answer (the sign-in routes always get 503).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnUnavailable {
    /// 503 `dependency_unavailable` (the default).
    Closed,
    /// Limit with this instance's local store at each rate divided by `instances`.
    Local {
        /// How many gateway instances share the limit.
        instances: u32,
    },
}

/// The stage's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitConfig {
    /// Off: no bucket is spent and no header added.
    pub enabled: bool,
    /// The store-down policy.
    pub on_unavailable: OnUnavailable,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            enabled: true,
            on_unavailable: OnUnavailable::Closed,
        }
    }
}

/// One bucket to spend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    /// The policy kind (`tenant`, `user`, ...): the header's item name.
    pub kind: &'static str,
    /// The store key.
    pub key: String,
    /// Who the value belongs to (the value is `"<tat>|<owner>"`); another owner's value reads
    /// as idle.
    pub owner: String,
    /// The rate.
    pub rate: Rate,
}

/// The monthly quota to count against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaCheck {
    /// The month's counter key.
    pub key: String,
    /// The quota.
    pub limit: u64,
    /// Requests already counted in the control plane this month (a floor when the store was
    /// emptied).
    pub floor: u64,
    /// When the month ends.
    pub resets_at: UnixMillis,
}

/// Everything one request spends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitPlan {
    /// Buckets, all or nothing.
    pub buckets: Vec<Bucket>,
    /// The quota, for signed-in requests of a tenant that has one.
    pub quota: Option<QuotaCheck>,
}

/// The store's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Spent: per bucket, what is left and when it is full again.
    Admitted {
        /// `(remaining, reset_us)` per bucket, in plan order.
        buckets: Vec<(u64, u64)>,
        /// The quota count after this request.
        quota_used: Option<u64>,
    },
    /// Bucket `index` is spent; nothing was spent.
    Limited {
        /// Which bucket.
        index: usize,
        /// Microseconds until it admits one request.
        retry_us: u64,
    },
    /// The quota is spent; nothing was spent.
    QuotaExceeded,
}

/// The port that spends a plan atomically: all buckets or none.
pub trait RateLimitStore {
    /// Spends `plan` at `now_us`.
    fn apply(&self, plan: &LimitPlan, now_us: u64) -> Result<Verdict, CounterUnavailable>;
    /// The per-instance fallback store, when the shared one is down (`None`: there is none).
    fn apply_local(
        &self,
        _plan: &LimitPlan,
        _now_us: u64,
    ) -> Option<Result<Verdict, CounterUnavailable>> {
        None
    }
}

impl<T: RateLimitStore + ?Sized> RateLimitStore for &T {
    fn apply(&self, plan: &LimitPlan, now_us: u64) -> Result<Verdict, CounterUnavailable> {
        (**self).apply(plan, now_us)
    }
    fn apply_local(
        &self,
        plan: &LimitPlan,
        now_us: u64,
    ) -> Option<Result<Verdict, CounterUnavailable>> {
        (**self).apply_local(plan, now_us)
    }
}

/// Why the stage refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RateLimitError {
    /// 429 `rate_limited`, with its headers.
    #[error("rate limited ({kind})")]
    Limited {
        /// The spent bucket's kind.
        kind: &'static str,
        /// `Retry-After` seconds.
        retry_after: u64,
        /// `RateLimit` and `RateLimit-Policy`.
        headers: Vec<(String, String)>,
    },
    /// 429 `quota_exceeded`.
    #[error("monthly quota exceeded")]
    QuotaExceeded {
        /// `Retry-After` seconds (the next month).
        retry_after: u64,
        /// `RateLimit` and `RateLimit-Policy`.
        headers: Vec<(String, String)>,
    },
    /// 503 `dependency_unavailable`.
    #[error(transparent)]
    Unavailable(#[from] CounterUnavailable),
}

/// Builds the plan for a request of `principal`'s tenant.
pub fn plan(
    principal: &Principal,
    class: RouteClass,
    client: Option<std::net::IpAddr>,
    now: UnixMillis,
) -> LimitPlan {
    let record = principal.tenant().record();
    let policy: &LimitPolicy = &record.limits;
    let tid = record.id;
    let mut buckets = Vec::new();
    let exact = |kind: &'static str, suffix: &str, rate: Rate| {
        let key = format!("tg:rl:{tid}:{kind}{suffix}");
        Bucket {
            kind,
            owner: key.clone(),
            key,
            rate,
        }
    };
    let class_rate = match class {
        RouteClass::Read => policy.read.map(|r| ("read", r)),
        RouteClass::Write => policy.write.map(|r| ("write", r)),
        RouteClass::Auth => policy.auth.map(|r| ("auth", r)),
    };
    let mut quota = None;
    if principal.is_authenticated() {
        let who = match (principal.user_id(), principal.subject()) {
            (Some(id), _) => id.to_string(),
            (None, Some(sub)) => hex8(sub.as_bytes()),
            (None, None) => "unknown".to_owned(),
        };
        if let Some(rate) = policy.tenant {
            buckets.push(exact("tenant", "", rate));
        }
        if let Some(rate) = policy.user {
            buckets.push(exact("user", &format!(":u:{who}"), rate));
        }
        if let Some((kind, rate)) = class_rate {
            buckets.push(exact(kind, &format!(":u:{who}"), rate));
        }
        if let Some(limit) = policy.monthly_requests {
            let date = Date::of(now);
            quota = Some(QuotaCheck {
                key: format!("tg:q:{tid}:{}", date.month_key()),
                limit,
                floor: record.month_usage,
                resets_at: date.next_month_start(),
            });
        }
    } else {
        let client = client_key(client);
        let slotted = |kind: &'static str, rate: Rate| {
            let slot = u64::from_be_bytes(
                Sha256::digest(client.as_bytes())[..8]
                    .try_into()
                    .expect("8 bytes"),
            ) % CLIENT_SLOTS;
            Bucket {
                kind,
                key: format!("tg:rl:{tid}:{kind}:c:{slot:x}"),
                owner: client.clone(),
                rate,
            }
        };
        if let Some(rate) = policy.anonymous {
            buckets.push(exact("anonymous", "", rate));
        }
        if let Some(rate) = policy.client {
            buckets.push(slotted("client", rate));
        }
        if let Some((kind, rate)) = class_rate {
            buckets.push(slotted(kind, rate));
        }
    }
    LimitPlan { buckets, quota }
}

fn hex8(bytes: &[u8]) -> String {
    Sha256::digest(bytes)[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The stage: spends the plan and returns the headers for an admitted request.
pub fn check(
    plan: &LimitPlan,
    class: RouteClass,
    config: &RateLimitConfig,
    store: &impl RateLimitStore,
    now: UnixMillis,
) -> Result<Vec<(String, String)>, RateLimitError> {
    if !config.enabled || (plan.buckets.is_empty() && plan.quota.is_none()) {
        return Ok(Vec::new());
    }
    let now_us = now.0.saturating_mul(1000);
    let (verdict, plan) = match store.apply(plan, now_us) {
        Ok(v) => (v, plan.clone()),
        Err(e) => match (class, config.on_unavailable) {
            (RouteClass::Auth, _) | (_, OnUnavailable::Closed) => return Err(e.into()),
            (_, OnUnavailable::Local { instances }) => {
                let local = divided(plan, instances);
                match store.apply_local(&local, now_us) {
                    Some(Ok(v)) => (v, local),
                    Some(Err(_)) | None => return Err(e.into()),
                }
            }
        },
    };
    let policy = policy_header(&plan, now);
    match verdict {
        Verdict::Admitted {
            buckets,
            quota_used,
        } => {
            let mut headers = vec![("ratelimit-policy".to_owned(), policy)];
            let tightest = plan
                .buckets
                .iter()
                .zip(&buckets)
                .map(|(b, (r, t))| (b.kind, *r, *t))
                .chain(plan.quota.iter().zip(quota_used).map(|(q, used)| {
                    let left = q.limit.saturating_sub(used);
                    ("monthly", left, q.resets_at.0.saturating_sub(now.0) * 1000)
                }))
                .min_by_key(|(_, r, _)| *r);
            if let Some((kind, r, t)) = tightest {
                headers.push(("ratelimit".to_owned(), item(kind, r, secs(t))));
            }
            Ok(headers)
        }
        Verdict::Limited { index, retry_us } => {
            let bucket = plan.buckets.get(index).ok_or_else(|| {
                CounterUnavailable(format!("store named bucket {index} of a shorter plan"))
            })?;
            let retry_after = secs(retry_us).max(1);
            Err(RateLimitError::Limited {
                kind: bucket.kind,
                retry_after,
                headers: vec![
                    ("retry-after".to_owned(), retry_after.to_string()),
                    ("ratelimit-policy".to_owned(), policy),
                    ("ratelimit".to_owned(), item(bucket.kind, 0, retry_after)),
                ],
            })
        }
        Verdict::QuotaExceeded => {
            let resets = plan.quota.as_ref().map_or(now, |q| q.resets_at);
            let retry_after = (resets.0.saturating_sub(now.0)).div_ceil(1000).max(1);
            Err(RateLimitError::QuotaExceeded {
                retry_after,
                headers: vec![
                    ("retry-after".to_owned(), retry_after.to_string()),
                    ("ratelimit-policy".to_owned(), policy),
                    ("ratelimit".to_owned(), item("monthly", 0, retry_after)),
                ],
            })
        }
    }
}

fn divided(plan: &LimitPlan, instances: u32) -> LimitPlan {
    let mut local = plan.clone();
    for b in &mut local.buckets {
        b.rate = b.rate.divided(instances);
    }
    if let Some(q) = &mut local.quota {
        // The local store has no month's count: the control plane's is the only floor.
        q.key = format!("{}:local", q.key);
    }
    local
}

fn secs(us: u64) -> u64 {
    us.div_ceil(1_000_000)
}

fn item(kind: &str, remaining: u64, reset_secs: u64) -> String {
    format!("\"{kind}\";r={remaining};t={reset_secs}")
}

fn policy_header(plan: &LimitPlan, now: UnixMillis) -> String {
    let mut items: Vec<String> = plan
        .buckets
        .iter()
        .map(|b| {
            format!(
                "\"{}\";q={};w={}",
                b.kind, b.rate.requests, b.rate.per_seconds
            )
        })
        .collect();
    if let Some(q) = &plan.quota {
        let start = Date::of(now).month_start();
        let window = q.resets_at.0.saturating_sub(start.0) / 1000;
        items.push(format!("\"monthly\";q={};w={window}", q.limit));
    }
    items.join(", ")
}

/// Spends a plan over compare-and-swap counters (Spin key-value with `wasi:keyvalue`
/// atomics; one instance). Buckets are spent in order; when one refuses, the ones already
/// spent are refunded (best effort: a refund that loses a race is dropped, which refuses
/// more, never admits more). A write the store reports but loses admits at most one extra
/// request; an increment applied twice counts one request twice (refuses earlier).
pub fn apply_with_counters(
    counters: &impl crate::ports::AtomicCounters,
    plan: &LimitPlan,
    now_us: u64,
) -> Result<Verdict, CounterUnavailable> {
    let mut spent: Vec<(usize, u64)> = Vec::new();
    let mut out = Vec::with_capacity(plan.buckets.len());
    for (index, bucket) in plan.buckets.iter().enumerate() {
        let gcra = Gcra::from(bucket.rate);
        let mut done = false;
        for _ in 0..64 {
            let mut step = None;
            let swap = counters.swap_from(&bucket.key, &mut |current| {
                let tat = current.and_then(|v| parse_value(v, &bucket.owner));
                let s = gcra.step(tat, now_us);
                step = Some(s);
                match s {
                    Step::Limited { .. } => None,
                    Step::Admitted { tat, .. } => {
                        Some(format!("{tat}|{}", bucket.owner).into_bytes())
                    }
                }
            })?;
            match (swap, step) {
                (Swap::Declined, Some(Step::Limited { retry_us, .. })) => {
                    refund(counters, plan, &spent, now_us);
                    return Ok(Verdict::Limited { index, retry_us });
                }
                (
                    Swap::Stored,
                    Some(Step::Admitted {
                        tat,
                        remaining,
                        reset_us,
                    }),
                ) => {
                    spent.push((index, tat));
                    out.push((remaining, reset_us));
                    done = true;
                    break;
                }
                _ => {} // lost a race: read again
            }
        }
        if !done {
            refund(counters, plan, &spent, now_us);
            return Err(CounterUnavailable(format!(
                "{}: too much contention",
                bucket.key
            )));
        }
    }
    let mut quota_used = None;
    if let Some(q) = &plan.quota {
        let counted = u64::try_from(counters.increment(&q.key, 1)?).unwrap_or(0);
        let used = counted.max(q.floor.saturating_add(1));
        if used > q.limit {
            let _ = counters.increment(&q.key, -1);
            refund(counters, plan, &spent, now_us);
            return Ok(Verdict::QuotaExceeded);
        }
        quota_used = Some(used);
    }
    Ok(Verdict::Admitted {
        buckets: out,
        quota_used,
    })
}

/// `"<tat>|<owner>"` → the TAT, when the owner matches.
pub fn parse_value(value: &[u8], owner: &str) -> Option<u64> {
    let text = std::str::from_utf8(value).ok()?;
    let (tat, who) = text.split_once('|')?;
    (who == owner).then(|| tat.parse().ok()).flatten()
}

fn refund(
    counters: &impl crate::ports::AtomicCounters,
    plan: &LimitPlan,
    spent: &[(usize, u64)],
    _now_us: u64,
) {
    for &(index, tat) in spent {
        let bucket = &plan.buckets[index];
        let emission = Gcra::from(bucket.rate).emission_us;
        let ours = format!("{tat}|{}", bucket.owner);
        let back = format!("{}|{}", tat.saturating_sub(emission), bucket.owner);
        // Only if nobody spent after us; otherwise the refund is dropped (refuses more).
        let _ = counters.compare_and_swap(&bucket.key, Some(ours.as_bytes()), back.as_bytes());
    }
}

#[cfg(test)]
#[path = "ratelimit_tests.rs"]
mod tests;
