//! The `Retry-After` header (RFC 9110 §10.2.3): delay-seconds or an HTTP date.

use std::time::{Duration, SystemTime};

/// The longest wait a `Retry-After` value can ask for: longer values (or dates further ahead)
/// saturate here, so that no registry's answer can overflow a clock or pause a registry for
/// the life of the process.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(7 * 86_400);

/// How long to wait according to a `Retry-After` value received at wall-clock time `now`, at
/// most [`MAX_RETRY_AFTER`]. A date in the past means "now" (zero); anything unparsable is
/// `None`.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    let wait = if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        // Absurdly long numbers saturate rather than fail.
        Duration::from_secs(v.parse::<u64>().unwrap_or(u64::MAX))
    } else {
        let at = httpdate::parse_http_date(v).ok()?;
        at.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_and_dates() {
        let now = httpdate::parse_http_date("Tue, 13 Feb 2018 23:23:22 GMT").unwrap();
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Tue, 13 Feb 2018 23:25:22 GMT", now),
            Some(Duration::from_secs(120))
        );
        // Obsolete RFC 850 and asctime forms are HTTP dates too.
        assert_eq!(
            parse_retry_after("Tuesday, 13-Feb-18 23:24:22 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Tue Feb 13 23:23:52 2018", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Mon, 12 Feb 2018 00:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(
            parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(parse_retry_after("604801", now), Some(MAX_RETRY_AFTER));
        for bad in ["", "-5", "1.5", "soon", "Tue, 32 Feb 2018 23:25:22 GMT"] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad:?}");
        }
    }
}
