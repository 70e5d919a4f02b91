//! Usage metering: requests per tenant, UTC day, route class, status family and audience,
//! counted in the counter store (one atomic increment per request, after the response) and
//! flushed to the control plane in batches (`tenantgate.record_usage()`), never a database
//! write per request.
//!
//! Counters are `tg:u:<tenant>:<day>:<class>:<family>:<audience>`. A counter that goes from
//! 0 to 1 registers itself in the dirty list (`tg:u:dirty`); at most once per flush interval
//! (claimed with compare-and-swap on `tg:u:flushed`, so one request among all instances
//! sharing the store does it) the dirty counters are taken (each decremented by exactly the
//! amount flushed, so concurrent increments are kept) and written in one statement. A failed
//! write gives the counts back. What a crash can lose: the counts not yet flushed, at most
//! one interval's worth (and none with a persistent store).

use crate::calendar::Date;
use crate::ids::TenantId;
use crate::kv::UnixMillis;
use crate::limits::RouteClass;
use crate::ports::{AtomicCounters, CounterUnavailable};

/// The dirty list's key.
pub const DIRTY_KEY: &str = "tg:u:dirty";
/// The last flush's key (milliseconds).
pub const FLUSHED_KEY: &str = "tg:u:flushed";

/// What the pipeline learnt about a request that reached a tenant: enough to meter it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meter {
    /// The tenant.
    pub tenant: TenantId,
    /// The route class.
    pub class: RouteClass,
    /// Signed in (`true`) or anonymous.
    pub signed_in: bool,
}

impl Meter {
    /// The counter key for this request answered with `status` on `now`'s UTC day.
    pub fn key(&self, status: u16, now: UnixMillis) -> String {
        format!(
            "tg:u:{}:{}:{}:{}:{}",
            self.tenant,
            Date::of(now).iso(),
            self.class.as_str(),
            family(status),
            if self.signed_in { "user" } else { "anonymous" }
        )
    }
}

/// `1xx` ... `5xx`, with `429` on its own (refused by a limit, not served).
pub fn family(status: u16) -> &'static str {
    match status {
        429 => "429",
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// One taken counter: its key and the count taken from it.
pub type Taken = (String, u64);

/// The rows for `tenantgate.record_usage()`: a JSON array of
/// `{"tenant","day","class","family","audience","requests"}`. Keys that are not usage
/// counters are skipped.
pub fn rows_json(batch: &[Taken]) -> String {
    let rows: Vec<serde_json::Value> = batch
        .iter()
        .filter_map(|(key, n)| {
            let mut parts = key.strip_prefix("tg:u:")?.split(':');
            let (tenant, day, class, fam, aud) = (
                parts.next()?,
                parts.next()?,
                parts.next()?,
                parts.next()?,
                parts.next()?,
            );
            Some(serde_json::json!({
                "tenant": tenant, "day": day, "class": class,
                "family": fam, "audience": aud, "requests": n,
            }))
        })
        .collect();
    serde_json::Value::Array(rows).to_string()
}

/// Counts one request under `key` on compare-and-swap counters and, when the flush interval
/// has passed and this caller claimed it, takes every dirty counter. Returns the batch to
/// write (empty when there is nothing to flush or another caller flushes).
pub fn count(
    counters: &impl AtomicCounters,
    key: &str,
    now: UnixMillis,
    interval_ms: u64,
) -> Result<Vec<Taken>, CounterUnavailable> {
    if counters.increment(key, 1)? == 1 {
        register(counters, key)?;
    }
    let last = counters.current(FLUSHED_KEY)?;
    let last_ms = last
        .as_deref()
        .and_then(|v| std::str::from_utf8(v).ok()?.parse::<u64>().ok())
        .unwrap_or(0);
    if now.0 < last_ms.saturating_add(interval_ms)
        || !counters.compare_and_swap(FLUSHED_KEY, last.as_deref(), now.0.to_string().as_bytes())?
    {
        return Ok(Vec::new());
    }
    take_all(counters)
}

/// Takes every dirty counter (the flush itself).
pub fn take_all(counters: &impl AtomicCounters) -> Result<Vec<Taken>, CounterUnavailable> {
    let keys = loop {
        let list = counters.current(DIRTY_KEY)?;
        match &list {
            None => return Ok(Vec::new()),
            Some(l) if l.is_empty() => return Ok(Vec::new()),
            Some(l) => {
                if counters.compare_and_swap(DIRTY_KEY, Some(l), b"")? {
                    break String::from_utf8_lossy(l).into_owned();
                }
            }
        }
    };
    let mut batch = Vec::new();
    for key in keys.split('\n').filter(|k| !k.is_empty()) {
        let Some(v) = counters
            .current(key)?
            .and_then(|v| crate::ports::decode_counter(&v))
        else {
            continue;
        };
        if v > 0 {
            let left = counters.increment(key, -v)?;
            batch.push((key.to_owned(), v as u64));
            if left > 0 {
                register(counters, key)?;
            }
        }
    }
    Ok(batch)
}

/// Gives a batch back after a failed write: nothing is lost.
pub fn give_back(
    counters: &impl AtomicCounters,
    batch: &[Taken],
) -> Result<(), CounterUnavailable> {
    for (key, n) in batch {
        let now = counters.increment(key, i64::try_from(*n).unwrap_or(i64::MAX))?;
        if now == i64::try_from(*n).unwrap_or(i64::MAX) {
            register(counters, key)?;
        }
    }
    Ok(())
}

fn register(counters: &impl AtomicCounters, key: &str) -> Result<(), CounterUnavailable> {
    for _ in 0..64 {
        let list = counters.current(DIRTY_KEY)?;
        let mut next = list.clone().unwrap_or_default();
        if next.split(|b| *b == b'\n').any(|k| k == key.as_bytes()) {
            return Ok(());
        }
        if !next.is_empty() {
            next.push(b'\n');
        }
        next.extend_from_slice(key.as_bytes());
        if counters.compare_and_swap(DIRTY_KEY, list.as_deref(), &next)? {
            return Ok(());
        }
    }
    Err(CounterUnavailable(
        "usage dirty list: too much contention".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{sample_tenant, MemoryCounters};

    fn meter(slug: &str) -> Meter {
        Meter {
            tenant: sample_tenant(slug).id,
            class: RouteClass::Read,
            signed_in: false,
        }
    }

    #[test]
    fn counts_flush_once_per_interval_and_nothing_is_lost() {
        let c = MemoryCounters::default();
        let t0 = UnixMillis(1_700_000_000_000);
        let acme = meter("acme").key(200, t0);
        let globex = meter("globex").key(404, t0);
        let mut flushed: std::collections::HashMap<String, u64> = Default::default();
        let add = |f: &mut std::collections::HashMap<String, u64>, b: Vec<Taken>| {
            for (k, n) in b {
                *f.entry(k).or_default() += n;
            }
        };
        add(&mut flushed, count(&c, &acme, t0, 5_000).unwrap()); // first flush claims at t0
        for i in 0..10 {
            add(
                &mut flushed,
                count(&c, &acme, UnixMillis(t0.0 + 10 + i), 5_000).unwrap(),
            );
            add(
                &mut flushed,
                count(&c, &globex, UnixMillis(t0.0 + 10 + i), 5_000).unwrap(),
            );
        }
        assert_eq!(
            flushed.get(&acme),
            Some(&1),
            "only the first before the interval"
        );
        let batch = count(&c, &acme, UnixMillis(t0.0 + 6_000), 5_000).unwrap();
        // A failed write gives the batch back; the next flush carries it.
        give_back(&c, &batch).unwrap();
        add(&mut flushed, take_all(&c).unwrap());
        assert_eq!(flushed.get(&acme), Some(&12));
        assert_eq!(flushed.get(&globex), Some(&10));
        assert!(take_all(&c).unwrap().is_empty());
        let json = rows_json(&[(acme.clone(), 3)]);
        assert!(json.contains(r#""family":"2xx""#) && json.contains(r#""requests":3"#));
        assert!(json.contains("2023-11-14") && json.contains(r#""audience":"anonymous""#));
        assert_eq!(family(429), "429");
        assert_eq!(family(503), "5xx");
    }
}
