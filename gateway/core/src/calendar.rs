//! UTC calendar arithmetic for quotas and metering: the day and month of an instant, and
//! when the month ends. No time-zone database: everything is UTC.

use crate::kv::UnixMillis;

const DAY_MS: u64 = 86_400_000;

/// A UTC calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    /// Year (1970 or later).
    pub year: u32,
    /// Month, 1-12.
    pub month: u32,
    /// Day of the month, 1-31.
    pub day: u32,
}

impl Date {
    /// The UTC date of an instant.
    pub fn of(at: UnixMillis) -> Date {
        civil_from_days(at.0 / DAY_MS)
    }

    /// `YYYY-MM-DD`.
    pub fn iso(&self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }

    /// `YYYY-MM`.
    pub fn month_key(&self) -> String {
        format!("{:04}-{:02}", self.year, self.month)
    }

    /// The first instant of the next month.
    pub fn next_month_start(&self) -> UnixMillis {
        let (y, m) = if self.month == 12 {
            (self.year + 1, 1)
        } else {
            (self.year, self.month + 1)
        };
        UnixMillis(days_from_civil(y, m, 1) * DAY_MS)
    }

    /// The first instant of this month.
    pub fn month_start(&self) -> UnixMillis {
        UnixMillis(days_from_civil(self.year, self.month, 1) * DAY_MS)
    }
}

/// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm, for years ≥ 1970).
fn civil_from_days(days: u64) -> Date {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = (yoe + era * 400 + u64::from(month <= 2)) as u32;
    Date { year, month, day }
}

fn days_from_civil(year: u32, month: u32, day: u32) -> u64 {
    let y = u64::from(year) - u64::from(month <= 2);
    let era = y / 400;
    let yoe = y - era * 400;
    let m = u64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + u64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_month_boundaries() {
        let d = Date::of(UnixMillis(1_700_000_000_000)); // 2023-11-14T22:13:20Z
        assert_eq!(d.iso(), "2023-11-14");
        assert_eq!(d.month_key(), "2023-11");
        assert_eq!(d.next_month_start(), UnixMillis(1_701_388_800_000)); // 2023-12-01
        assert_eq!(d.month_start(), UnixMillis(1_698_796_800_000)); // 2023-11-01
        let dec = Date::of(UnixMillis(1_703_980_800_000)); // 2023-12-31
        assert_eq!(dec.iso(), "2023-12-31");
        assert_eq!(dec.next_month_start(), UnixMillis(1_704_067_200_000)); // 2024-01-01
        assert_eq!(Date::of(UnixMillis(1_709_164_800_000)).iso(), "2024-02-29");
        for days in (0..30_000u64).step_by(37) {
            let d = civil_from_days(days);
            assert_eq!(days_from_civil(d.year, d.month, d.day), days);
        }
    }
}
