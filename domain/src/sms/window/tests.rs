use super::*;
use chrono::TimeZone;

/// The instant of the given IST wall-clock time on a day of March 2026.
fn ist_at(day: u32, hour: u32, minute: u32, second: u32) -> DateTime<Utc> {
    let local = chrono::FixedOffset::east_opt(19_800).unwrap();
    local
        .with_ymd_and_hms(2026, 3, day, hour, minute, second)
        .unwrap()
        .with_timezone(&Utc)
}

#[test]
fn ist_is_five_and_a_half_hours_ahead_of_utc() {
    assert_eq!(
        ist_at(10, 9, 0, 0),
        Utc.with_ymd_and_hms(2026, 3, 10, 3, 30, 0).unwrap()
    );
}

#[test]
fn nine_in_the_morning_ist_is_within_promotional_hours() {
    assert!(within_promotional_hours(ist_at(10, 9, 0, 0)));
    assert_eq!(promotional_send_at(ist_at(10, 9, 0, 0)), ist_at(10, 9, 0, 0));
}

#[test]
fn one_second_before_nine_ist_waits_for_nine_the_same_day() {
    assert!(!within_promotional_hours(ist_at(10, 8, 59, 59)));
    assert_eq!(promotional_send_at(ist_at(10, 8, 59, 59)), ist_at(10, 9, 0, 0));
}

#[test]
fn a_fraction_of_a_second_before_nine_ist_waits_for_nine_exactly() {
    let now = ist_at(10, 8, 59, 59) + TimeDelta::milliseconds(999);
    assert_eq!(promotional_send_at(now), ist_at(10, 9, 0, 0));
}

#[test]
fn one_second_before_nine_in_the_evening_ist_is_within_promotional_hours() {
    let now = ist_at(10, 20, 59, 59) + TimeDelta::milliseconds(999);
    assert!(within_promotional_hours(now));
    assert_eq!(promotional_send_at(now), now);
}

#[test]
fn nine_in_the_evening_ist_waits_for_nine_the_next_morning() {
    assert!(!within_promotional_hours(ist_at(10, 21, 0, 0)));
    assert_eq!(promotional_send_at(ist_at(10, 21, 0, 0)), ist_at(11, 9, 0, 0));
}

#[test]
fn midday_ist_is_sent_at_once() {
    let now = ist_at(10, 12, 34, 56) + TimeDelta::nanoseconds(789);
    assert!(within_promotional_hours(now));
    assert_eq!(promotional_send_at(now), now);
}

#[test]
fn just_before_midnight_ist_waits_for_nine_the_next_morning() {
    assert!(!within_promotional_hours(ist_at(10, 23, 59, 59)));
    assert_eq!(promotional_send_at(ist_at(10, 23, 59, 59)), ist_at(11, 9, 0, 0));
}

#[test]
fn just_after_midnight_ist_waits_for_nine_the_same_morning() {
    assert!(!within_promotional_hours(ist_at(11, 0, 0, 0)));
    assert_eq!(promotional_send_at(ist_at(11, 0, 0, 0)), ist_at(11, 9, 0, 0));
}

#[test]
fn the_ist_day_is_used_when_the_utc_day_differs() {
    // 00:30 IST on the 11th is 19:00 UTC on the 10th.
    let now = Utc.with_ymd_and_hms(2026, 3, 10, 19, 0, 0).unwrap();
    assert_eq!(
        promotional_send_at(now),
        Utc.with_ymd_and_hms(2026, 3, 11, 3, 30, 0).unwrap()
    );
    // 14:00 UTC is 19:30 IST, within the hours, though 03:30 UTC has passed.
    assert!(within_promotional_hours(
        Utc.with_ymd_and_hms(2026, 3, 10, 14, 0, 0).unwrap()
    ));
    // 03:29:59 UTC is 08:59:59 IST.
    assert!(!within_promotional_hours(
        Utc.with_ymd_and_hms(2026, 3, 10, 3, 29, 59).unwrap()
    ));
}

#[test]
fn the_next_morning_may_be_in_the_next_month_and_year() {
    let local = chrono::FixedOffset::east_opt(19_800).unwrap();
    let now = local
        .with_ymd_and_hms(2026, 12, 31, 22, 15, 0)
        .unwrap()
        .with_timezone(&Utc);
    let next = local.with_ymd_and_hms(2027, 1, 1, 9, 0, 0).unwrap().with_timezone(&Utc);
    assert_eq!(promotional_send_at(now), next);
}

#[test]
fn the_hours_are_nine_to_twenty_one() {
    assert_eq!((PROMOTIONAL_START_HOUR, PROMOTIONAL_END_HOUR), (9, 21));
}
