//! The Redis side of the counter store: the scripts a shared Redis runs, one `EVALSHA` per
//! use (with their SHA-1, so the script text is not sent each time; `EVAL` when the server
//! has not seen it yet), and what they return.
//!
//! - [`GCRA`]: spends a [`crate::ratelimit::LimitPlan`] all or nothing, the same arithmetic
//!   as [`crate::gcra`] and [`crate::ratelimit::apply_with_counters`]: `KEYS` the buckets
//!   then the quota counter, `ARGV` `now_us, n`, per bucket `emission_us, tolerance_us,
//!   owner`, then `limit, floor, ttl_ms`; returns `{1, r1, t1, ..., used or -1}`,
//!   `{0, index, retry_us}` or `{2}`.
//! - [`USAGE`]: counts one request and, once per interval across every instance, takes
//!   every dirty usage counter ([`crate::metering`]): `KEYS` counter, dirty set, last-flush
//!   key; `ARGV` `now_ms, interval_ms`; returns `{key1, n1, key2, n2, ...}`.

/// A script and its SHA-1 (hex), as `EVALSHA` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Script {
    /// The Lua text.
    pub text: &'static str,
    /// Its SHA-1, lower-case hex.
    pub sha1: &'static str,
}

/// The all-or-nothing GCRA spend.
pub const GCRA: Script = Script {
    text: include_str!("lua/gcra.lua"),
    sha1: "d6a7f1979bc37dbbe98c5e96a5531b8aa8368cfa",
};

/// Usage counting and the flush claim.
pub const USAGE: Script = Script {
    text: include_str!("lua/usage.lua"),
    sha1: "a468b97257b16e5487726c16364141162a769988",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hashes_are_the_scripts() {
        for s in [GCRA, USAGE] {
            assert_eq!(sha1_smol::Sha1::from(s.text).digest().to_string(), s.sha1);
        }
    }
}
