//! The one source of the current time.
//!
//! Token expiry, lockouts and activity timestamps all read the time from a [`Clock`] held in
//! the application state, never from the system directly, so that tests can move time
//! forward without sleeping.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, SecondsFormat, Utc};

/// The wall clock, plus an offset that only tests change.
#[derive(Debug, Default)]
pub struct Clock {
    offset_seconds: AtomicI64,
}

impl Clock {
    /// A clock that reads the system time.
    pub fn system() -> Clock {
        Clock::default()
    }

    /// The current time in UTC.
    #[allow(
        clippy::disallowed_methods,
        reason = "this is the one place that reads the system clock"
    )]
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + Duration::seconds(self.offset_seconds.load(Ordering::Relaxed))
    }

    /// Moves this clock forward (or back, with a negative duration).
    pub fn advance(&self, by: Duration) {
        self.offset_seconds.fetch_add(by.num_seconds(), Ordering::Relaxed);
    }
}

/// Formats a time the way the API writes every time: RFC 3339, UTC, whole seconds, `Z`.
pub fn format_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Reads a time as stored by [`format_time`], or a client-supplied RFC 3339 time or plain
/// `YYYY-MM-DD` date (taken as midnight UTC).
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time.with_timezone(&Utc));
    }
    let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_now() {
        let clock = Clock::system();
        let before = clock.now();
        clock.advance(Duration::hours(2));
        let moved = clock.now() - before;
        assert!(moved >= Duration::hours(2) && moved < Duration::hours(2) + Duration::minutes(1));
    }

    #[test]
    fn times_round_trip_and_dates_parse() {
        let time = parse_time("2026-12-03T09:30:00Z").unwrap();
        assert_eq!(format_time(time), "2026-12-03T09:30:00Z");
        assert_eq!(format_time(parse_time("2026-12-03").unwrap()), "2026-12-03T00:00:00Z");
        assert_eq!(parse_time("yesterday"), None);
    }
}
