//! xs:dateTime to and from Unix milliseconds, for SAML's UTC timestamps. No clock is read here.

use crate::SamlError;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn number(text: &str) -> Result<i64, SamlError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SamlError::Malformed);
    }
    text.parse().map_err(|_| SamlError::Malformed)
}

/// Parses `YYYY-MM-DDThh:mm:ss[.fraction][Z|±hh:mm]` (no zone means UTC, as SAML requires) into Unix
/// milliseconds. Dates before 1970 and malformed text are `Malformed`.
pub(crate) fn parse_instant(text: &str) -> Result<u64, SamlError> {
    let text = text.trim();
    if !text.is_ascii() || text.len() < 19 {
        return Err(SamlError::Malformed);
    }
    let b = text.as_bytes();
    if b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return Err(SamlError::Malformed);
    }
    let (year, month, day) = (
        number(&text[0..4])?,
        number(&text[5..7])?,
        number(&text[8..10])?,
    );
    let (hour, minute, second) = (
        number(&text[11..13])?,
        number(&text[14..16])?,
        number(&text[17..19])?,
    );
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return Err(SamlError::Malformed);
    }
    let mut rest = &text[19..];
    let mut millis = 0i64;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(SamlError::Malformed);
        }
        let first3: String = fraction[..digits]
            .chars()
            .chain("000".chars())
            .take(3)
            .collect();
        millis = number(&first3)?;
        rest = &fraction[digits..];
    }
    let offset_minutes = match rest {
        "" | "Z" => 0,
        zone if zone.len() == 6 && zone.as_bytes()[3] == b':' => {
            let sign = match zone.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return Err(SamlError::Malformed),
            };
            sign * (number(&zone[1..3])? * 60 + number(&zone[4..6])?)
        }
        _ => return Err(SamlError::Malformed),
    };
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
        - offset_minutes * 60;
    let total = seconds
        .checked_mul(1000)
        .and_then(|s| s.checked_add(millis))
        .ok_or(SamlError::Malformed)?;
    u64::try_from(total).map_err(|_| SamlError::Malformed)
}

/// Formats Unix milliseconds as `YYYY-MM-DDThh:mm:ssZ` (SAML's IssueInstant form).
pub(crate) fn format_instant(unix_ms: u64) -> String {
    let seconds = i64::try_from(unix_ms / 1000).unwrap_or(i64::MAX / 2);
    let (days, in_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        in_day / 3600,
        in_day % 3600 / 60,
        in_day % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_utc_fractions_and_offsets() {
        assert_eq!(parse_instant("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse_instant("2026-12-01T05:23:16Z"), Ok(1_796_102_596_000));
        assert_eq!(
            parse_instant("2026-12-01T05:23:16.5Z"),
            Ok(1_796_102_596_500)
        );
        assert_eq!(
            parse_instant("2026-12-01T05:23:16.123456Z"),
            Ok(1_796_102_596_123)
        );
        assert_eq!(
            parse_instant("2026-12-01T06:23:16+01:00"),
            Ok(1_796_102_596_000)
        );
        assert_eq!(parse_instant("2026-12-01T05:23:16"), Ok(1_796_102_596_000));
    }

    #[test]
    fn refuses_malformed_instants() {
        for bad in [
            "",
            "2026-12-01",
            "2026-13-01T00:00:00Z",
            "2026-12-01T00:00:00.Z",
            "1969-12-31T23:59:59Z",
            "2026-12-01T00:00:00+0100",
            "２０２６-12-01T00:00:00Z",
            "2026-12-01T00:00:00Zjunk",
        ] {
            assert_eq!(parse_instant(bad), Err(SamlError::Malformed), "{bad}");
        }
    }

    #[test]
    fn formats_round_trip() {
        for ms in [0, 1_796_102_596_000, 951_782_400_000 /* 2000-02-29 */] {
            assert_eq!(parse_instant(&format_instant(ms)), Ok(ms));
        }
        assert_eq!(format_instant(1_796_102_596_999), "2026-12-01T05:23:16Z");
    }
}
