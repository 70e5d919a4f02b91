//! Time as the contract reads it: milliseconds since the Unix epoch, passed in by the
//! caller. Nothing in this crate reads a clock.

/// A time in milliseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixMillis(pub u64);

impl UnixMillis {
    /// Whole seconds since the epoch (rounded down).
    pub fn as_secs(self) -> u64 {
        self.0 / 1000
    }

    /// `self + ms`, saturating.
    pub fn plus_millis(self, ms: u64) -> UnixMillis {
        UnixMillis(self.0.saturating_add(ms))
    }
}
