//! Known defects of released Spin versions that the host can reproduce on request, so a
//! component that would misbehave on those versions fails a test here instead of in
//! production.
//!
//! Today one: Spin 4.0.0–4.0.2 never answers a Postgres `query` whose result has no row
//! (Spin issue #3671): the guest blocks inside the host call for good. Only those three
//! releases: Spin 3.x (3.6.3 is what SpinKube's latest shim, v0.24.0, embeds) collects
//! the rows before answering and is not affected, nor is Spin after 4.0.2. With [`SpinCompat::V4_0`] the host answers such a query with an
//! error value naming the issue instead of the empty result, so every code path that would
//! hang on those versions shows up as a failure. The statement itself has run, as it has
//! on Spin before the hang.

use std::fmt;
use std::str::FromStr;

/// Which Spin's quirks to reproduce.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SpinCompat {
    /// Spin without the defect (3.x, and 4.x after 4.0.2): no quirk reproduced. The default.
    #[default]
    Latest,
    /// Spin 4.0.0–4.0.2: a Postgres `query` with zero rows is refused (Spin #3671).
    V4_0,
}

/// The error message a zero-row query gets under [`SpinCompat::V4_0`].
pub const ZERO_ROW_MESSAGE: &str = "spin-compat 4.0: this query returned no row; Spin 4.0.0-4.0.2 \
     never answers such a query (Spin issue #3671, https://github.com/spinframework/spin/issues/3671). \
     Make the statement always return at least one row (tenant-db's query does this for you)";

impl SpinCompat {
    /// Whether a Postgres `query` result with no row must be refused.
    pub fn refuses_zero_row_queries(self) -> bool {
        self == SpinCompat::V4_0
    }
}

impl FromStr for SpinCompat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "latest" | "none" => Ok(SpinCompat::Latest),
            "4.0" | "4.0.0" | "4.0.1" | "4.0.2" => Ok(SpinCompat::V4_0),
            other => Err(format!(
                "unknown Spin compatibility level {other:?} (expected \"4.0\" or \"latest\")"
            )),
        }
    }
}

impl fmt::Display for SpinCompat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SpinCompat::Latest => "latest",
            SpinCompat::V4_0 => "4.0",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_levels_and_refuses_others() {
        assert_eq!("4.0".parse(), Ok(SpinCompat::V4_0));
        assert_eq!("4.0.1".parse(), Ok(SpinCompat::V4_0));
        assert_eq!("latest".parse(), Ok(SpinCompat::Latest));
        assert!("4.1".parse::<SpinCompat>().is_err());
        assert!(SpinCompat::V4_0.refuses_zero_row_queries());
        assert!(!SpinCompat::Latest.refuses_zero_row_queries());
        assert_eq!(SpinCompat::V4_0.to_string().parse(), Ok(SpinCompat::V4_0));
    }
}
