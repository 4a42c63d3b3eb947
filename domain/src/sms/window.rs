//! The hours promotional SMS may be sent in: TRAI allows them only between
//! 09:00 and 21:00 India Standard Time (UTC+05:30, without daylight saving).

use chrono::{DateTime, NaiveDateTime, NaiveTime, TimeDelta, Timelike, Utc};

/// The IST hour from which promotional SMS may be sent.
pub const PROMOTIONAL_START_HOUR: u32 = 9;

/// The IST hour from which promotional SMS may no longer be sent that day.
pub const PROMOTIONAL_END_HOUR: u32 = 21;

/// India Standard Time's offset from UTC: five hours and a half.
const IST_OFFSET: TimeDelta = TimeDelta::minutes(5 * 60 + 30);

/// `now` when IST time is within [09:00, 21:00); else the next 09:00:00 IST
/// (the same day before 09:00, the next day from 21:00 on), in UTC.
pub fn promotional_send_at(now: DateTime<Utc>) -> DateTime<Utc> {
    if within_promotional_hours(now) {
        return now;
    }
    let local = ist(now);
    let days = if local.hour() >= PROMOTIONAL_END_HOUR { 1 } else { 0 };
    let start = local.date().and_time(NaiveTime::MIN)
        + TimeDelta::days(days)
        + TimeDelta::hours(i64::from(PROMOTIONAL_START_HOUR));
    (start - IST_OFFSET).and_utc()
}

/// Whether a promotional SMS may go out at `at`.
pub fn within_promotional_hours(at: DateTime<Utc>) -> bool {
    (PROMOTIONAL_START_HOUR..PROMOTIONAL_END_HOUR).contains(&ist(at).hour())
}

/// `at` as India Standard Time's wall-clock date and time.
fn ist(at: DateTime<Utc>) -> NaiveDateTime {
    at.naive_utc() + IST_OFFSET
}

#[cfg(test)]
mod tests;
