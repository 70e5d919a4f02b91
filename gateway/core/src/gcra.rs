//! GCRA, the generic cell rate algorithm: one stored value per key (the theoretical arrival
//! time, TAT, in microseconds), the time passed in.
//!
//! With emission interval `T = period / requests` and tolerance `τ = (burst - 1) · T`, a
//! request at `now` is admitted when `max(TAT, now) - now ≤ τ`, and then
//! `TAT := max(TAT, now) + T`. From idle, `burst` requests pass at once; over any span `t`
//! at most `burst + t / T` pass. The value written is absolute (not an increment), so a
//! write applied twice is a write applied once, and a key that disappears reads as idle.
//!
//! The same arithmetic runs in the Redis script (`lua/gcra.lua`, [`crate::redis_scripts`]); both are
//! tested against the same expectations.

use crate::limits::Rate;

/// A rate in the algorithm's units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gcra {
    /// Emission interval `T`, µs.
    pub emission_us: u64,
    /// Tolerance `τ`, µs.
    pub tolerance_us: u64,
}

impl From<Rate> for Gcra {
    fn from(rate: Rate) -> Gcra {
        let emission_us = rate.emission_us();
        Gcra {
            emission_us,
            tolerance_us: emission_us.saturating_mul(u64::from(rate.burst().max(1) - 1)),
        }
    }
}

/// The result of one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Admitted: store `tat`; `remaining` more could pass now; full again in `reset_us`.
    Admitted {
        /// The new TAT to store.
        tat: u64,
        /// Requests that could still pass at this instant.
        remaining: u64,
        /// Microseconds until the whole burst is available again.
        reset_us: u64,
    },
    /// Refused: nothing to store; the next request can pass in `retry_us`.
    Limited {
        /// Microseconds until one request would be admitted.
        retry_us: u64,
        /// Microseconds until the whole burst is available again.
        reset_us: u64,
    },
}

impl Gcra {
    /// One request at `now_us` against the stored TAT (`None`: never seen, or expired).
    pub fn step(&self, tat: Option<u64>, now_us: u64) -> Step {
        let tat = tat.unwrap_or(now_us).max(now_us);
        let allow_at = tat.saturating_sub(self.tolerance_us);
        if now_us < allow_at {
            return Step::Limited {
                retry_us: allow_at - now_us,
                reset_us: tat - now_us,
            };
        }
        let new_tat = tat.saturating_add(self.emission_us);
        let horizon = now_us
            .saturating_add(self.tolerance_us)
            .saturating_add(self.emission_us);
        Step::Admitted {
            tat: new_tat,
            remaining: horizon.saturating_sub(new_tat) / self.emission_us,
            reset_us: new_tat - now_us,
        }
    }

    /// The capacity available at `now_us` without consuming it (for headers).
    pub fn remaining(&self, tat: Option<u64>, now_us: u64) -> u64 {
        let tat = tat.unwrap_or(now_us).max(now_us);
        let horizon = now_us
            .saturating_add(self.tolerance_us)
            .saturating_add(self.emission_us);
        horizon.saturating_sub(tat) / self.emission_us
    }

    /// How long a stored TAT matters: after `tat + 1 s` the key reads as idle anyway (a store
    /// with expiry may drop it).
    pub fn ttl_ms(tat: u64, now_us: u64) -> u64 {
        tat.saturating_sub(now_us) / 1000 + 1000
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A store's write of one step: an admitted step's TAT replaces the value, a refused
    /// step writes nothing.
    fn write(stored: &mut Option<u64>, step: Step) {
        if let Step::Admitted { tat, .. } = step {
            *stored = Some(tat);
        }
    }

    fn run(g: &Gcra, arrivals: &[u64]) -> (u64, Option<u64>) {
        let mut tat = None;
        let mut admitted = 0;
        for &t in arrivals {
            if let Step::Admitted { tat: n, .. } = g.step(tat, t) {
                tat = Some(n);
                admitted += 1;
            }
        }
        (admitted, tat)
    }

    #[test]
    fn a_burst_from_idle_then_the_sustained_rate() {
        let g = Gcra::from(Rate::new(10, 1, 5)); // 10/s, burst 5
        assert_eq!(g.emission_us, 100_000);
        let (n, _) = run(&g, &[0; 20]);
        assert_eq!(n, 5);
        match g.step(Some(500_000), 0) {
            Step::Limited { retry_us, .. } => assert_eq!(retry_us, 100_000),
            other => panic!("{other:?}"),
        }
        // One per 100 ms after that.
        let arrivals: Vec<u64> = (0..100).map(|i| i * 10_000).collect(); // 1 s, every 10 ms
        let (n, _) = run(&g, &arrivals);
        assert_eq!(n, 5 + 9);
        match g.step(None, 7) {
            Step::Admitted {
                remaining,
                reset_us,
                tat,
            } => {
                assert_eq!((remaining, reset_us, tat), (4, 100_000, 100_007));
            }
            other => panic!("{other:?}"),
        }
    }

    proptest! {
        /// Over any arrival pattern, admitted ≤ burst + span / T (+1 for the boundary), and a
        /// client that arrives at least T apart is never refused.
        #[test]
        fn never_more_than_burst_plus_rate(
            requests in 1u32..5_000, per in 1u32..120, burst in 1u32..200,
            gaps in proptest::collection::vec(0u64..50_000, 1..400),
        ) {
            let g = Gcra::from(Rate::new(requests, per, burst));
            let mut t = 1_000_000_000u64;
            let start = t;
            let arrivals: Vec<u64> = gaps.iter().map(|gap| { t += gap; t }).collect();
            let (n, _) = run(&g, &arrivals);
            let span = t - start;
            prop_assert!(n <= u64::from(burst) + span / g.emission_us + 1, "{n}");
            let paced: Vec<u64> = (0..50).map(|i| start + i * g.emission_us).collect();
            prop_assert_eq!(run(&g, &paced).0, 50);
        }

        /// Writing the same step twice changes nothing (a duplicated write grants nothing),
        /// and a refused step stores nothing.
        #[test]
        fn steps_are_idempotent_writes(tat in proptest::option::of(0u64..10_000_000),
                                       now in 0u64..10_000_000, burst in 1u32..50) {
            let g = Gcra::from(Rate::new(100, 1, burst));
            let step = g.step(tat, now);
            let (mut once, mut twice) = (tat, tat);
            write(&mut once, step);
            write(&mut twice, step);
            write(&mut twice, step);
            prop_assert_eq!(once, twice);
            match step {
                Step::Admitted { tat: a, remaining, .. } => {
                    prop_assert!(a > now);
                    prop_assert!(remaining < u64::from(burst));
                    // The step spent exactly one, and its repeated write none.
                    prop_assert_eq!(g.remaining(tat, now), remaining + 1);
                    prop_assert_eq!(g.remaining(twice, now), remaining);
                }
                Step::Limited { .. } => {
                    prop_assert_eq!(twice, tat);
                    prop_assert_eq!(g.step(twice, now), step);
                }
            }
        }

        /// Spending a whole burst at one instant, then once more: the last step is refused,
        /// stores nothing, and stays refused however often it is written.
        #[test]
        fn a_refused_step_after_the_burst_stores_nothing(now in 0u64..10_000_000,
                                                         burst in 1u32..50) {
            let g = Gcra::from(Rate::new(100, 1, burst));
            let mut stored = None;
            for _ in 0..burst {
                let step = g.step(stored, now);
                prop_assert!(matches!(step, Step::Admitted { .. }), "{step:?}");
                write(&mut stored, step);
            }
            let full = stored;
            let refused = g.step(stored, now);
            prop_assert!(matches!(refused, Step::Limited { .. }), "{refused:?}");
            write(&mut stored, refused);
            write(&mut stored, refused);
            prop_assert_eq!(stored, full);
            prop_assert_eq!(g.remaining(stored, now), 0);
        }
    }
}
