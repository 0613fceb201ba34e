//! Calendar arithmetic for event dates and log timestamps (days since 1970-01-01, proleptic
//! Gregorian; no time-zone database needed).

use std::time::{SystemTime, UNIX_EPOCH};

/// Days since 1970-01-01 of a civil date.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date `(year, month, day)` of a day number.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Days since 1970-01-01 of a `yyyymmdd` number, if it is a plausible date.
pub fn days_from_yyyymmdd(v: u32) -> Option<i64> {
    let (y, m, d) = (v / 10_000, (v / 100) % 100, v % 100);
    ((1900..=2100).contains(&y) && (1..=12).contains(&m) && (1..=31).contains(&d))
        .then(|| days_from_civil(i64::from(y), m, d))
}

/// RFC 3339 text for a day number plus seconds into that day, in a fixed UTC offset given in
/// minutes (`Z` when zero): `2017-12-20T15:57:53-05:00`.
pub fn rfc3339(days: i64, secs_of_day: u32, offset_minutes: i32) -> String {
    let (y, mo, d) = civil_from_days(days);
    let (h, mi, s) = (
        secs_of_day / 3600 % 24,
        secs_of_day / 60 % 60,
        secs_of_day % 60,
    );
    if offset_minutes == 0 {
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
    } else {
        let sign = if offset_minutes < 0 { '-' } else { '+' };
        let off = offset_minutes.unsigned_abs();
        format!(
            "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{sign}{:02}:{:02}",
            off / 60,
            off % 60
        )
    }
}

/// The current time as RFC 3339 UTC with milliseconds, for the request log.
pub fn now_rfc3339() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    let (y, mo, d) = civil_from_days((secs / 86_400) as i64);
    let t = secs % 86_400;
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        t / 3600,
        t / 60 % 60,
        t % 60,
        now.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_formats() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        for z in [-1000, 0, 11_016, 11_017, 20_000, 40_000] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(
            days_from_yyyymmdd(20171220),
            Some(days_from_civil(2017, 12, 20))
        );
        assert_eq!(days_from_yyyymmdd(20171320), None);
        let day = days_from_civil(2017, 12, 20);
        assert_eq!(
            rfc3339(day, 15 * 3600 + 57 * 60 + 53, -300),
            "2017-12-20T15:57:53-05:00"
        );
        assert_eq!(rfc3339(day, 0, 0), "2017-12-20T00:00:00Z");
        assert!(now_rfc3339().ends_with('Z'));
    }
}
