//! The filters the listings take (`limit`, `since`), read and bounded: a value out of bounds is
//! a 400 that says what the filter takes, never a silent cap.

use axum::http::StatusCode;
use chrono::{DateTime, Utc};

use crate::api::ApiError;

/// The most entries one listing answers; longer listings page (`after` on the audit log) or
/// narrow (`since`, `app`).
pub const MAX_LIMIT: usize = 1000;

/// The `limit` filter: `default` when absent, 1 to [`MAX_LIMIT`] when given.
pub fn limit(given: Option<usize>, default: usize) -> Result<usize, ApiError> {
    match given {
        None => Ok(default),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(n) => Err(bad_filter(
            format!("limit = {n} is out of bounds"),
            format!("give a limit from 1 to {MAX_LIMIT}, or narrow the listing with `since`"),
        )),
    }
}

/// The `since` filter: an RFC 3339 time, or a duration back from `now` (`30m`, `7d`).
pub fn since(given: Option<&str>, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, ApiError> {
    let Some(text) = given else { return Ok(None) };
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(Some(at.with_timezone(&Utc)));
    }
    let back = humantime::parse_duration(text).map_err(|_| {
        bad_filter(
            format!("since = `{text}` is neither a time nor a duration"),
            "give an RFC 3339 time (2026-01-31T12:00:00Z) or a duration back from now (30m, 12h, 7d)",
        )
    })?;
    // Further back than the clock can say is "since the beginning".
    let at = chrono::Duration::from_std(back).ok().and_then(|d| now.checked_sub_signed(d));
    Ok(Some(at.unwrap_or(DateTime::<Utc>::MIN_UTC)))
}

/// The newest `limit` of `items`, which are oldest first, kept oldest first.
pub fn newest<T>(mut items: Vec<T>, limit: usize) -> Vec<T> {
    let skip = items.len().saturating_sub(limit);
    items.drain(..skip);
    items
}

fn bad_filter(message: String, hint: impl Into<String>) -> ApiError {
    ApiError { status: StatusCode::BAD_REQUEST, code: "bad_request", message, hint: hint.into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_is_bounded() {
        let cases: &[(Option<usize>, Result<usize, ()>)] = &[
            (None, Ok(50)),
            (Some(1), Ok(1)),
            (Some(MAX_LIMIT), Ok(MAX_LIMIT)),
            (Some(0), Err(())),
            (Some(MAX_LIMIT + 1), Err(())),
            (Some(usize::MAX), Err(())),
        ];
        for (given, want) in cases {
            let got = limit(*given, 50).map_err(|e| assert!(e.hint.contains("1 to 1000"), "{e:?}"));
            assert_eq!(&got, want, "limit {given:?}");
        }
    }

    #[test]
    fn since_reads_a_time_or_a_duration_back_from_now() {
        let now: DateTime<Utc> = "2026-03-01T12:00:00Z".parse().unwrap();
        let at = |s: &str| Some(s.parse::<DateTime<Utc>>().unwrap());
        type Case<'a> = (Option<&'a str>, Result<Option<DateTime<Utc>>, ()>);
        let cases: &[Case<'_>] = &[
            (None, Ok(None)),
            (Some("2026-02-01T00:00:00Z"), Ok(at("2026-02-01T00:00:00Z"))),
            (Some("2026-02-01T01:00:00+01:00"), Ok(at("2026-02-01T00:00:00Z"))),
            (Some("30m"), Ok(at("2026-03-01T11:30:00Z"))),
            (Some("1day"), Ok(at("2026-02-28T12:00:00Z"))),
            (Some("5000000000y"), Ok(Some(DateTime::<Utc>::MIN_UTC))),
            (Some(""), Err(())),
            (Some("yesterday"), Err(())),
            (Some("-5m"), Err(())),
            (Some("2026-02-30T00:00:00Z"), Err(())),
        ];
        for (given, want) in cases {
            let got = since(*given, now).map_err(|e| assert!(e.hint.contains("RFC 3339"), "{e:?}"));
            assert_eq!(&got, want, "since {given:?}");
        }
    }

    #[test]
    fn newest_keeps_the_tail_in_order() {
        assert_eq!(newest(vec![1, 2, 3, 4], 2), vec![3, 4]);
        assert_eq!(newest(vec![1, 2], 5), vec![1, 2]);
        assert_eq!(newest(Vec::<u8>::new(), 1), Vec::<u8>::new());
    }
}
