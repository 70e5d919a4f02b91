//! The rate-limit and metering stores, chosen by the `rate_limit_store` variable:
//!
//! - `kv` (default): the component's `default` key-value store with `wasi:keyvalue` atomics
//!   (compare-and-swap). Exact for one instance (or instances sharing one store).
//! - `redis`: one Redis server shared by every instance, each request one `EVAL` of an
//!   all-or-nothing GCRA script (`EVALSHA`, `gateway_core::redis_scripts`); metering one
//!   more after the response.
//!   When Redis is down and `rate_limit_unavailable = local`, limits fall back to the local
//!   key-value store at each rate divided by `rate_limit_instances`; usage is then counted in
//!   the local store (and flushed from there) whatever the setting.
//!
//! Connections are opened on first use, so a request that spends no bucket opens none.

use std::cell::OnceCell;

use gateway_core::gcra::Gcra;
use gateway_core::kv::UnixMillis;
use gateway_core::metering::{self, Taken};
use gateway_core::ports::CounterUnavailable;
use gateway_core::ratelimit::{apply_with_counters, LimitPlan, RateLimitStore, Verdict};
use spin_sdk::redis::{Connection, RedisParameter, RedisResult};

use crate::ports::KvCounters;

use gateway_core::redis_scripts::{Script, GCRA, USAGE};

/// The configured store.
pub enum Limiter {
    /// Key-value atomics.
    Kv(KvCounters),
    /// Redis, with the local store as the fallback.
    Redis(RedisLimiter),
}

/// Redis at `url`, connected on first use.
pub struct RedisLimiter {
    url: String,
    conn: OnceCell<Result<Connection, String>>,
    local: KvCounters,
}

impl RedisLimiter {
    /// A limiter on the Redis server at `url` (`redis://host:port`).
    pub fn new(url: &str) -> RedisLimiter {
        RedisLimiter {
            url: url.to_owned(),
            conn: OnceCell::new(),
            local: KvCounters::new(),
        }
    }

    fn conn(&self) -> Result<&Connection, CounterUnavailable> {
        self.conn
            .get_or_init(|| Connection::open(&self.url).map_err(|e| format!("{e:?}")))
            .as_ref()
            .map_err(|e| CounterUnavailable(format!("redis: {e}")))
    }

    /// `EVALSHA`, and `EVAL` when the server does not know the script yet (a new or
    /// restarted server): one round trip in the steady state.
    fn eval(
        &self,
        script: Script,
        keys: &[&str],
        args: Vec<RedisParameter>,
    ) -> Result<Vec<RedisResult>, CounterUnavailable> {
        let mut params = vec![
            RedisParameter::Binary(script.sha1.as_bytes().to_vec()),
            RedisParameter::Int64(keys.len() as i64),
        ];
        params.extend(
            keys.iter()
                .map(|k| RedisParameter::Binary(k.as_bytes().to_vec())),
        );
        params.extend(args);
        let conn = self.conn()?;
        match conn.execute("EVALSHA", &params) {
            // "NOSCRIPT No matching script" (redis-rs shows it as "NoScriptError: ...").
            Err(spin_sdk::redis::Error::Other(e))
                if e.to_ascii_lowercase().contains("noscript") =>
            {
                params[0] = RedisParameter::Binary(script.text.as_bytes().to_vec());
                conn.execute("EVAL", &params)
            }
            other => other,
        }
        .map_err(|e| CounterUnavailable(format!("redis: {e:?}")))
    }
}

fn int(v: Option<&RedisResult>) -> Result<i64, CounterUnavailable> {
    match v {
        Some(RedisResult::Int64(i)) => Ok(*i),
        other => Err(CounterUnavailable(format!(
            "redis: unexpected reply {other:?}"
        ))),
    }
}

fn bin(s: impl Into<Vec<u8>>) -> RedisParameter {
    RedisParameter::Binary(s.into())
}

impl RateLimitStore for RedisLimiter {
    fn apply(&self, plan: &LimitPlan, now_us: u64) -> Result<Verdict, CounterUnavailable> {
        let mut keys: Vec<&str> = plan.buckets.iter().map(|b| b.key.as_str()).collect();
        let mut args = vec![bin(now_us.to_string()), bin(plan.buckets.len().to_string())];
        for b in &plan.buckets {
            let g = Gcra::from(b.rate);
            args.push(bin(g.emission_us.to_string()));
            args.push(bin(g.tolerance_us.to_string()));
            args.push(bin(b.owner.as_str()));
        }
        if let Some(q) = &plan.quota {
            keys.push(&q.key);
            let ttl_ms = q.resets_at.0.saturating_sub(now_us / 1000) + 86_400_000;
            args.push(bin(q.limit.to_string()));
            args.push(bin(q.floor.to_string()));
            args.push(bin(ttl_ms.to_string()));
        }
        let reply = self.eval(GCRA, &keys, args)?;
        match int(reply.first())? {
            1 => {
                let mut buckets = Vec::with_capacity(plan.buckets.len());
                for i in 0..plan.buckets.len() {
                    let r = int(reply.get(1 + 2 * i))?.max(0) as u64;
                    let t = int(reply.get(2 + 2 * i))?.max(0) as u64;
                    buckets.push((r, t));
                }
                let used = int(reply.get(1 + 2 * plan.buckets.len()))?;
                Ok(Verdict::Admitted {
                    buckets,
                    quota_used: (used >= 0).then_some(used as u64),
                })
            }
            0 => Ok(Verdict::Limited {
                index: int(reply.get(1))?.max(0) as usize,
                retry_us: int(reply.get(2))?.max(0) as u64,
            }),
            2 => Ok(Verdict::QuotaExceeded),
            other => Err(CounterUnavailable(format!("redis: verdict {other}"))),
        }
    }

    fn apply_local(
        &self,
        plan: &LimitPlan,
        now_us: u64,
    ) -> Option<Result<Verdict, CounterUnavailable>> {
        Some(apply_with_counters(&self.local, plan, now_us))
    }
}

impl RateLimitStore for Limiter {
    fn apply(&self, plan: &LimitPlan, now_us: u64) -> Result<Verdict, CounterUnavailable> {
        match self {
            Limiter::Kv(kv) => apply_with_counters(kv, plan, now_us),
            Limiter::Redis(r) => r.apply(plan, now_us),
        }
    }

    fn apply_local(
        &self,
        plan: &LimitPlan,
        now_us: u64,
    ) -> Option<Result<Verdict, CounterUnavailable>> {
        match self {
            Limiter::Kv(_) => None,
            Limiter::Redis(r) => r.apply_local(plan, now_us),
        }
    }
}

impl Limiter {
    /// Counts one request under `key`; returns the batch to flush, if this request flushes.
    pub fn meter(
        &self,
        key: &str,
        now: UnixMillis,
        interval_ms: u64,
    ) -> Result<Vec<Taken>, CounterUnavailable> {
        match self {
            Limiter::Kv(kv) => metering::count(kv, key, now, interval_ms),
            Limiter::Redis(r) => {
                let reply = match r.eval(
                    USAGE,
                    &[key, metering::DIRTY_KEY, metering::FLUSHED_KEY],
                    vec![bin(now.0.to_string()), bin(interval_ms.to_string())],
                ) {
                    Ok(reply) => reply,
                    // Redis is down: count in this instance's store, flushed from there.
                    Err(_) => return metering::count(&r.local, key, now, interval_ms),
                };
                let mut batch = Vec::new();
                for pair in reply.chunks(2) {
                    if let [RedisResult::Binary(k), RedisResult::Int64(n)] = pair {
                        batch.push((String::from_utf8_lossy(k).into_owned(), (*n).max(0) as u64));
                    }
                }
                Ok(batch)
            }
        }
    }

    /// Gives a batch back after its write failed.
    pub fn give_back(&self, batch: &[Taken]) -> Result<(), CounterUnavailable> {
        match self {
            Limiter::Kv(kv) => metering::give_back(kv, batch),
            Limiter::Redis(r) => {
                for (key, n) in batch {
                    let conn = r.conn()?;
                    let err = |e| CounterUnavailable(format!("redis: {e:?}"));
                    conn.execute(
                        "INCRBY",
                        &[bin(key.as_str()), RedisParameter::Int64(*n as i64)],
                    )
                    .map_err(err)?;
                    conn.execute("SADD", &[bin(metering::DIRTY_KEY), bin(key.as_str())])
                        .map_err(err)?;
                }
                Ok(())
            }
        }
    }
}
