//! Calendar days in a workspace's time zone.
//!
//! Intercom matches dates "by calendar day", with day boundaries in the workspace's time zone, and
//! relative dates ("more than 30 days ago") count days the same way. Everything here turns a day
//! into a half-open range of UNIX seconds, so SQL and in-memory filters compare plain integers.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

/// "Now" and the time zone days are counted in. Passed in, never read from a global, so tests
/// and benchmarks control time.
#[derive(Clone, Debug)]
pub struct Clock {
    pub now: i64,
    pub tz: TimeZone,
}

impl Clock {
    pub fn new(now: i64, tz: TimeZone) -> Self {
        Clock { now, tz }
    }

    /// The current time in UTC.
    pub fn utc_now() -> Self {
        Clock { now: Timestamp::now().as_second(), tz: TimeZone::UTC }
    }

    /// Looks up an IANA time zone name, falling back to UTC for an unknown one.
    pub fn zone(name: &str) -> TimeZone {
        TimeZone::get(name).unwrap_or(TimeZone::UTC)
    }
}

/// One calendar day as `[start, end)` in UNIX seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Day {
    pub start: i64,
    pub end: i64,
}

impl Day {
    /// The day that contains `ts`.
    pub fn of(ts: i64, clock: &Clock) -> Day {
        let ts = Timestamp::from_second(ts.clamp(Timestamp::MIN.as_second(), Timestamp::MAX.as_second() - 86_400 * 2))
            .unwrap_or(Timestamp::UNIX_EPOCH);
        Self::from_date(ts.to_zoned(clock.tz.clone()).date(), &clock.tz)
    }

    /// The day `days` days before today.
    pub fn days_ago(days: i64, clock: &Clock) -> Day {
        let today = Day::of(clock.now, clock);
        let today = Timestamp::from_second(today.start).unwrap_or(Timestamp::UNIX_EPOCH);
        let date = today.to_zoned(clock.tz.clone()).date();
        let date = date.checked_sub(jiff::Span::new().days(days)).unwrap_or(Date::MIN);
        Self::from_date(date, &clock.tz)
    }

    fn from_date(date: Date, tz: &TimeZone) -> Day {
        let start = start_of(date, tz);
        let end = date.tomorrow().map(|d| start_of(d, tz)).unwrap_or(i64::MAX);
        Day { start, end }
    }
}

fn start_of(date: Date, tz: &TimeZone) -> i64 {
    date.to_zoned(tz.clone()).and_then(|z| z.start_of_day()).map(|z| z.timestamp().as_second()).unwrap_or(i64::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_boundaries_follow_the_workspace_time_zone() {
        let utc = Clock::new(0, TimeZone::UTC);
        // The documented example: 2020-01-01 09:00 UTC lies in the day starting 1577836800.
        assert_eq!(Day::of(1577869200, &utc), Day { start: 1577836800, end: 1577836800 + 86_400 });
        let paris = Clock::new(0, TimeZone::get("Europe/Paris").unwrap());
        // In Paris that day starts an hour earlier.
        assert_eq!(Day::of(1577869200, &paris).start, 1577836800 - 3600);
    }

    #[test]
    fn days_ago_counts_calendar_days() {
        let clock = Clock::new(1577869200, TimeZone::UTC);
        assert_eq!(Day::days_ago(0, &clock).start, 1577836800);
        assert_eq!(Day::days_ago(1, &clock).start, 1577836800 - 86_400);
        // A day across a daylight-saving change is 23 hours long.
        let ny = Clock::new(1710172800, TimeZone::get("America/New_York").unwrap()); // 2024-03-11 12:00
        let d = Day::days_ago(1, &ny);
        assert_eq!(d.end - d.start, 23 * 3600);
    }
}
