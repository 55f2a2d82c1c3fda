//! Delivery windows: "only send during" chosen days and hours, in a time zone.
//!
//! A window is a set of weekdays and a local start and end time. It opens on each chosen day at
//! `start` and closes at `end` the same day; when `end` is earlier than `start` it runs overnight
//! and closes at `end` the next day (so `22:00`–`06:00` on Friday covers Friday night into
//! Saturday morning, and `09:00`–`00:00` runs to midnight). `start` equal to `end` is refused: it
//! would say neither "never" nor "always" clearly.
//!
//! The days and hours are read on the wall clock of a time zone (the contact's, or the
//! workspace's), so the instants move with daylight saving. A local time that does not exist
//! (the hour skipped when clocks go forward) is read as the same distance after the change, and a
//! local time that happens twice (when clocks go back) as its first occurrence: RFC 5545's rule,
//! which is jiff's `compatible` disambiguation. A window made empty by a change is skipped.
//!
//! Stored and exchanged as JSON: `{"days": [1, …, 7], "start": "09:00", "end": "17:00"}`, where 1
//! is Monday and 7 Sunday.

use jiff::Timestamp;
use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use serde_json::{Value as Json, json};

use crate::error::{FieldError, FieldErrors};

const SAME_TIMES: &str = "The window must end at another time than it starts (an end before the start runs overnight)";

/// When a message may reach a contact.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeliveryWindow {
    /// Bit `n - 1` set for weekday `n` (1 = Monday … 7 = Sunday).
    days: u8,
    pub start: Time,
    pub end: Time,
}

impl DeliveryWindow {
    /// A window on `days` (1 = Monday … 7 = Sunday) from `start` to `end`, local time.
    ///
    /// # Errors
    /// No day, a day outside 1..=7, or `start` equal to `end`.
    pub fn new(days: &[u8], start: Time, end: Time) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        let mut bits = 0u8;
        for (i, d) in days.iter().enumerate() {
            match d {
                1..=7 => bits |= 1 << (d - 1),
                _ => errors.push(FieldError::invalid(
                    &format!("delivery_window.days[{i}]"),
                    "A day is a number from 1 (Monday) to 7 (Sunday)",
                )),
            }
        }
        if days.is_empty() {
            errors.push(FieldError::invalid("delivery_window.days", "Choose at least one day"));
        }
        if start == end {
            errors.push(FieldError::invalid("delivery_window.end", SAME_TIMES));
        }
        errors.into_result(DeliveryWindow { days: bits, start, end })
    }

    /// Reads a window from its JSON form; every error names its path under `delivery_window`.
    ///
    /// # Errors
    /// The fields that are wrong.
    pub fn parse(value: &Json) -> Result<Self, FieldErrors> {
        let Some(obj) = value.as_object() else {
            return Err(FieldError::invalid(
                "delivery_window",
                "delivery_window must be an object like {\"days\": [1, 2, 3, 4, 5], \"start\": \"09:00\", \"end\": \"17:00\"}, or null",
            )
            .into());
        };
        let mut errors = FieldErrors::default();
        for key in obj.keys().filter(|k| !matches!(k.as_str(), "days" | "start" | "end")) {
            errors.push(FieldError::invalid(
                &format!("delivery_window.{key}"),
                "A delivery window has only days, start and end",
            ));
        }
        let mut days = Vec::new();
        match obj.get("days") {
            Some(Json::Array(list)) => {
                for (i, d) in list.iter().enumerate() {
                    match d.as_u64().filter(|n| (1..=7).contains(n)) {
                        Some(n) => days.push(n as u8),
                        None => errors.push(FieldError::invalid(
                            &format!("delivery_window.days[{i}]"),
                            "A day is a number from 1 (Monday) to 7 (Sunday)",
                        )),
                    }
                }
                if list.is_empty() {
                    errors.push(FieldError::invalid("delivery_window.days", "Choose at least one day"));
                }
            }
            Some(_) => errors.push(FieldError::invalid(
                "delivery_window.days",
                "days must be a list of weekdays, 1 (Monday) to 7 (Sunday)",
            )),
            None => errors.push(FieldError::missing("delivery_window.days", "Choose at least one day")),
        }
        let time = |key: &str, errors: &mut FieldErrors| -> Option<Time> {
            let path = format!("delivery_window.{key}");
            match obj.get(key) {
                Some(Json::String(s)) => parse_time(s).or_else(|| {
                    errors.push(FieldError::invalid(&path, format!("{key} must be a time of day like \"09:00\"")));
                    None
                }),
                Some(_) => {
                    errors.push(FieldError::invalid(&path, format!("{key} must be a time of day like \"09:00\"")));
                    None
                }
                None => {
                    errors.push(FieldError::missing(&path, format!("{key} is required, e.g. \"09:00\"")));
                    None
                }
            }
        };
        let start = time("start", &mut errors);
        let end = time("end", &mut errors);
        if let (Some(s), Some(e)) = (start, end)
            && s == e
        {
            errors.push(FieldError::invalid("delivery_window.end", SAME_TIMES));
        }
        match (start, end) {
            (Some(start), Some(end)) if errors.is_empty() => DeliveryWindow::new(&days, start, end),
            _ => Err(errors),
        }
    }

    /// The JSON form [`DeliveryWindow::parse`] reads.
    pub fn to_json(&self) -> Json {
        json!({"days": self.days(), "start": show_time(self.start), "end": show_time(self.end)})
    }

    /// The chosen weekdays, 1 (Monday) to 7 (Sunday), in order.
    pub fn days(&self) -> Vec<u8> {
        (1..=7).filter(|d| self.days & (1 << (d - 1)) != 0).collect()
    }

    /// Whether the window ends the day after it starts.
    pub fn overnight(&self) -> bool {
        self.end < self.start
    }

    fn on(&self, date: Date) -> bool {
        let n = date.weekday().to_monday_one_offset();
        self.days & (1 << (n - 1)) != 0
    }

    /// The window opening on `date`, as instants `[open, close)`; `None` when `date` is not a
    /// chosen day, or a clock change left nothing of it.
    fn opening_on(&self, date: Date, tz: &TimeZone) -> Option<(i64, i64)> {
        if !self.on(date) {
            return None;
        }
        let close_day = if self.overnight() { date.tomorrow().ok()? } else { date };
        let open = tz.to_ambiguous_timestamp(date.to_datetime(self.start)).compatible().ok()?;
        let close = tz.to_ambiguous_timestamp(close_day.to_datetime(self.end)).compatible().ok()?;
        (open < close).then(|| (open.as_second(), close.as_second()))
    }

    /// The first instant at or after `now` (UNIX seconds) inside the window, read in `tz`: `now`
    /// itself when the window is open.
    pub fn due(&self, now: i64, tz: &TimeZone) -> i64 {
        let Ok(at) = Timestamp::from_second(now) else { return now };
        let today = at.to_zoned(tz.clone()).date();
        let mut next: Option<i64> = None;
        // The opening of yesterday may still run (overnight); a week and a day ahead always
        // holds a chosen day, and one more covers a day a clock change emptied.
        let mut date = today.yesterday().unwrap_or(today);
        for _ in 0..16 {
            if let Some((open, close)) = self.opening_on(date, tz) {
                if open <= now && now < close {
                    return now;
                }
                if open > now {
                    next = Some(next.map_or(open, |n| n.min(open)));
                }
            }
            match date.tomorrow() {
                Ok(d) => date = d,
                Err(_) => break,
            }
        }
        next.unwrap_or(now)
    }

    /// Whether the window is open at `now` in `tz`.
    pub fn is_open(&self, now: i64, tz: &TimeZone) -> bool {
        self.due(now, tz) == now
    }
}

/// `HH:MM` (or `HH:MM:SS`), 24-hour clock.
fn parse_time(s: &str) -> Option<Time> {
    let mut parts = s.split(':');
    let h: i8 = parts.next().filter(|p| p.len() == 2)?.parse().ok()?;
    let m: i8 = parts.next().filter(|p| p.len() == 2)?.parse().ok()?;
    let sec: i8 = match parts.next() {
        Some(p) if p.len() == 2 => p.parse().ok()?,
        Some(_) => return None,
        None => 0,
    };
    if parts.next().is_some() {
        return None;
    }
    Time::new(h, m, sec, 0).ok()
}

fn show_time(t: Time) -> String {
    if t.second() == 0 {
        format!("{:02}:{:02}", t.hour(), t.minute())
    } else {
        format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second())
    }
}

/// A known IANA time zone by name.
pub fn known_zone(name: &str) -> Option<TimeZone> {
    TimeZone::get(name).ok()
}

/// The time zone a contact's emails and pushes are timed in: theirs when it is a known IANA
/// name, else the workspace's, else UTC.
pub fn contact_zone(contact: Option<&str>, workspace: &str) -> TimeZone {
    contact
        .filter(|n| !n.trim().is_empty())
        .and_then(|n| TimeZone::get(n).ok())
        .or_else(|| TimeZone::get(workspace).ok())
        .unwrap_or(TimeZone::UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> i64 {
        s.parse::<Timestamp>().unwrap().as_second()
    }

    fn window(days: &[u8], start: &str, end: &str) -> DeliveryWindow {
        DeliveryWindow::new(days, parse_time(start).unwrap(), parse_time(end).unwrap()).unwrap()
    }

    fn zone(name: &str) -> TimeZone {
        TimeZone::get(name).unwrap()
    }

    const WEEKDAYS: [u8; 5] = [1, 2, 3, 4, 5];

    #[test]
    fn reads_and_writes_its_json_and_names_each_wrong_field() {
        let w = DeliveryWindow::parse(&json!({"days": [5, 1, 1], "start": "09:00", "end": "17:30"})).unwrap();
        assert_eq!(w.days(), [1, 5]);
        assert_eq!(w.to_json(), json!({"days": [1, 5], "start": "09:00", "end": "17:30"}));
        let e = DeliveryWindow::parse(&json!({"days": [1, 2, 8], "start": "9", "end": "25:00"})).unwrap_err();
        let fields: Vec<&str> = e.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["delivery_window.days[2]", "delivery_window.start", "delivery_window.end"]);
        let e = DeliveryWindow::parse(&json!({"days": [], "start": "09:00", "end": "09:00"})).unwrap_err();
        let fields: Vec<&str> = e.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["delivery_window.days", "delivery_window.end"]);
        let e =
            DeliveryWindow::parse(&json!({"days": [1], "start": "09:00", "end": "10:00", "tz": "UTC"})).unwrap_err();
        assert_eq!(e.0[0].field, "delivery_window.tz");
        assert_eq!(DeliveryWindow::parse(&json!("09-17")).unwrap_err().0[0].field, "delivery_window");
        assert_eq!(DeliveryWindow::parse(&json!({"days": "1"})).unwrap_err().0[0].field, "delivery_window.days");
    }

    #[test]
    fn a_window_waits_for_its_next_opening_in_its_zone() {
        let w = window(&WEEKDAYS, "09:00", "17:00");
        let ny = zone("America/New_York");
        // Saturday 2026-01-10 noon in New York: Monday 09:00 EST is 14:00 UTC.
        assert_eq!(w.due(at("2026-01-10T17:00:00Z"), &ny), at("2026-01-12T14:00:00Z"));
        // Inside: now.
        let inside = at("2026-01-12T15:00:00Z");
        assert_eq!(w.due(inside, &ny), inside);
        assert!(w.is_open(inside, &ny));
        // The end is not inside.
        assert_eq!(w.due(at("2026-01-12T22:00:00Z"), &ny), at("2026-01-13T14:00:00Z"));
        // Kolkata is +05:30 all year: Monday 09:00 IST is 03:30 UTC.
        let kolkata = zone("Asia/Kolkata");
        assert_eq!(w.due(at("2026-01-11T12:00:00Z"), &kolkata), at("2026-01-12T03:30:00Z"));
    }

    #[test]
    fn overnight_windows_close_the_next_day() {
        // Friday 22:00 to Saturday 06:00, UTC.
        let w = window(&[5], "22:00", "06:00");
        assert!(w.overnight());
        let sat_3am = at("2026-01-10T03:00:00Z");
        assert!(w.is_open(sat_3am, &TimeZone::UTC), "yesterday's opening still runs");
        assert_eq!(w.due(at("2026-01-10T06:00:00Z"), &TimeZone::UTC), at("2026-01-16T22:00:00Z"));
        let to_midnight = window(&[1], "09:00", "00:00");
        assert!(to_midnight.is_open(at("2026-01-12T23:59:59Z"), &TimeZone::UTC));
        assert!(!to_midnight.is_open(at("2026-01-13T00:00:00Z"), &TimeZone::UTC));
    }

    #[test]
    fn follows_the_us_spring_forward() {
        let ny = zone("America/New_York");
        let w = window(&[7, 1], "09:00", "17:00");
        // Saturday 2026-03-07 is EST (-5), Sunday 2026-03-08 from 03:00 is EDT (-4).
        assert_eq!(w.due(at("2026-03-07T20:00:00Z"), &ny), at("2026-03-08T13:00:00Z"));
        assert_eq!(w.due(at("2026-03-08T21:00:00Z"), &ny), at("2026-03-09T13:00:00Z"));
        // A window starting inside the skipped hour opens as far after the change: 02:30 is 03:30 EDT.
        let gap = window(&[7], "02:30", "04:00");
        assert_eq!(gap.due(at("2026-03-08T05:00:00Z"), &ny), at("2026-03-08T07:30:00Z"));
        assert!(!gap.is_open(at("2026-03-08T07:29:59Z"), &ny));
        assert!(gap.is_open(at("2026-03-08T07:59:59Z"), &ny));
        // A window wholly inside the skipped hour moves with it: 03:00 to 03:45 EDT that day.
        let lost = window(&[7], "02:00", "02:45");
        assert_eq!(lost.due(at("2026-03-08T05:00:00Z"), &ny), at("2026-03-08T07:00:00Z"));
        assert!(!lost.is_open(at("2026-03-08T07:45:00Z"), &ny));
        assert_eq!(lost.due(at("2026-03-08T07:45:00Z"), &ny), at("2026-03-15T06:00:00Z"));
    }

    #[test]
    fn follows_the_london_autumn_change() {
        let london = zone("Europe/London");
        // Sunday 2026-10-25 01:00–02:00 BST happens twice; 01:30 is read as its first (BST).
        let w = window(&[7], "01:30", "03:00");
        assert_eq!(w.due(at("2026-10-24T12:00:00Z"), &london), at("2026-10-25T00:30:00Z"));
        // It closes at 03:00 GMT: a window of two and a half hours that night.
        assert!(w.is_open(at("2026-10-25T02:59:59Z"), &london));
        assert!(!w.is_open(at("2026-10-25T03:00:00Z"), &london));
        // Office hours move an hour later in UTC after the change.
        let office = window(&WEEKDAYS, "09:00", "17:00");
        assert_eq!(office.due(at("2026-10-23T17:00:00Z"), &london), at("2026-10-26T09:00:00Z"));
        assert_eq!(office.due(at("2026-10-22T06:00:00Z"), &london), at("2026-10-22T08:00:00Z"));
    }

    #[test]
    fn a_contact_without_a_known_zone_takes_the_workspace_s() {
        let w = window(&WEEKDAYS, "09:00", "17:00");
        let now = at("2026-01-10T17:00:00Z");
        let paris = contact_zone(None, "Europe/Paris");
        assert_eq!(w.due(now, &paris), at("2026-01-12T08:00:00Z"));
        assert_eq!(w.due(now, &contact_zone(Some("Mars/Olympus"), "Europe/Paris")), at("2026-01-12T08:00:00Z"));
        assert_eq!(w.due(now, &contact_zone(Some("Asia/Kolkata"), "Europe/Paris")), at("2026-01-12T03:30:00Z"));
        assert_eq!(w.due(now, &contact_zone(None, "nowhere")), at("2026-01-12T09:00:00Z"));
    }
}
