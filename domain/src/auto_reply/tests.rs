use super::*;
use crate::integration::settings::DayHours;
use std::collections::BTreeMap;

const OWN: &str = "+918047112233";
const CUSTOMER: &str = "+919812300061";

/// 2026-12-01 is a Tuesday; IST is UTC+05:30.
fn ist(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    let local = NaiveDate::from_ymd_opt(2026, 12, day)
        .unwrap()
        .and_hms_opt(hour, minute, 0)
        .unwrap();
    local.and_utc() - chrono::Duration::minutes(330)
}

fn weekdays() -> BusinessHours {
    let open = DayHours {
        start: Some("09:00".into()),
        end: Some("18:00".into()),
        closed: false,
    };
    let mut days: BTreeMap<String, DayHours> = ["monday", "tuesday", "wednesday", "thursday", "friday"]
        .iter()
        .map(|d| (d.to_string(), open.clone()))
        .collect();
    days.insert(
        "saturday".into(),
        DayHours {
            start: None,
            end: None,
            closed: true,
        },
    );
    BusinessHours {
        enabled: true,
        timezone: "Asia/Kolkata".into(),
        days,
    }
}

fn rule(keyword: &str, match_type: KeywordMatch, reply: &str, priority: i32) -> KeywordRule {
    KeywordRule {
        keyword: keyword.into(),
        match_type,
        reply: reply.into(),
        priority,
    }
}

fn configured() -> AutoReplies {
    AutoReplies {
        enabled: true,
        welcome: Some("Welcome to Acme Foods!".into()),
        away: Some("We are closed; we answer from 9 am.".into()),
        hours: Some(weekdays()),
        holidays: vec![Holiday {
            date: NaiveDate::from_ymd_opt(2026, 12, 25).unwrap(),
            name: "Christmas".into(),
        }],
        keywords: vec![
            rule("order", KeywordMatch::Contains, "Track your order at acme.in/track", 2),
            rule("^refund\\b", KeywordMatch::Regex, "Refunds take 5 days.", 1),
            rule("menu", KeywordMatch::Exact, "Here is our menu.", 3),
        ],
        cooldown_minutes: 60,
    }
}

fn incoming(text: &str, at: DateTime<Utc>) -> Incoming<'_> {
    Incoming {
        text: Some(text),
        from: CUSTOMER,
        own_number: OWN,
        first_contact: false,
        last_auto_reply: None,
        at,
    }
}

fn fired(replies: &AutoReplies, incoming: &Incoming) -> Option<AutoReplyRule> {
    replies.decide(incoming).map(|(rule, _)| rule)
}

#[test]
fn a_new_contact_inside_business_hours_gets_the_welcome() {
    let replies = configured();
    let first = Incoming {
        first_contact: true,
        ..incoming("Hello", ist(1, 10, 0))
    };
    assert_eq!(
        replies.decide(&first),
        Some((AutoReplyRule::Welcome, "Welcome to Acme Foods!".into()))
    );
    assert_eq!(
        fired(&replies, &incoming("Hello", ist(1, 10, 0))),
        None,
        "a known contact gets none"
    );
}

#[test]
fn outside_hours_on_a_closed_day_or_a_holiday_the_away_message_goes() {
    let replies = configured();
    let away = Some(AutoReplyRule::Away { holiday: None });
    assert_eq!(
        fired(&replies, &incoming("Hello", ist(1, 8, 59))),
        away,
        "before opening"
    );
    assert_eq!(fired(&replies, &incoming("Hello", ist(1, 9, 0))), None, "at opening");
    assert_eq!(fired(&replies, &incoming("Hello", ist(1, 17, 59))), None);
    assert_eq!(fired(&replies, &incoming("Hello", ist(1, 18, 0))), away, "at closing");
    assert_eq!(
        fired(&replies, &incoming("Hello", ist(5, 12, 0))),
        away,
        "a closed Saturday"
    );
    assert_eq!(
        fired(&replies, &incoming("Hello", ist(6, 12, 0))),
        away,
        "a Sunday not listed"
    );
    let christmas = Some(AutoReplyRule::Away {
        holiday: Some("Christmas".into()),
    });
    assert_eq!(
        fired(&replies, &incoming("Hello", ist(25, 12, 0))),
        christmas,
        "a Friday holiday"
    );
    let (_, text) = replies.decide(&incoming("Hello", ist(25, 12, 0))).unwrap();
    assert_eq!(text, "We are closed; we answer from 9 am.");
}

#[test]
fn a_holiday_is_the_date_in_the_business_time_zone() {
    let replies = configured();
    // 2026-12-24 20:00 UTC is already 01:30 on the 25th in India.
    let at = NaiveDate::from_ymd_opt(2026, 12, 24)
        .unwrap()
        .and_hms_opt(20, 0, 0)
        .unwrap()
        .and_utc();
    assert_eq!(
        replies.closed_at(at),
        Some(Some("Christmas".into())),
        "the 25th in Kolkata"
    );
    let mut london = configured();
    london.hours.as_mut().unwrap().timezone = "Europe/London".into();
    assert_eq!(london.closed_at(at), Some(None), "the 24th, after hours, in London");
}

#[test]
fn a_holiday_closes_the_day_even_without_business_hours() {
    let mut replies = configured();
    replies.hours = None;
    assert_eq!(replies.closed_at(ist(1, 3, 0)), None, "no hours: always open");
    assert_eq!(replies.closed_at(ist(25, 12, 0)), Some(Some("Christmas".into())));
    let mut off = configured();
    off.hours.as_mut().unwrap().enabled = false;
    assert_eq!(off.closed_at(ist(1, 3, 0)), None, "hours turned off: always open");
}

#[test]
fn keywords_win_over_welcome_and_away_by_priority_and_the_first_match() {
    let replies = configured();
    let both = Incoming {
        first_contact: true,
        ..incoming("refund for my order", ist(1, 3, 0))
    };
    let (first, text) = replies.decide(&both).unwrap();
    assert_eq!(
        first,
        AutoReplyRule::Keyword {
            keyword: "^refund\\b".into(),
            match_type: KeywordMatch::Regex,
            priority: 1
        }
    );
    assert_eq!(text, "Refunds take 5 days.");
    let (second, _) = replies.decide(&incoming("Where is my ORDER?", ist(1, 10, 0))).unwrap();
    assert!(
        matches!(second, AutoReplyRule::Keyword { priority: 2, .. }),
        "{second:?}"
    );
    let mut tied = configured();
    tied.keywords = vec![
        rule("order", KeywordMatch::Contains, "first", 5),
        rule("my order", KeywordMatch::Contains, "second", 5),
    ];
    assert_eq!(tied.decide(&incoming("my order", ist(1, 10, 0))).unwrap().1, "first");
}

#[test]
fn exact_contains_and_regex_match_as_named() {
    let exact = rule("Menu", KeywordMatch::Exact, "", 0);
    assert!(exact.matches(" menu "));
    assert!(!exact.matches("the menu"));
    let contains = rule(" Order ", KeywordMatch::Contains, "", 0);
    assert!(contains.matches("my ORDER please"));
    assert!(!contains.matches("ordre"));
    let regex = rule("^refund\\b", KeywordMatch::Regex, "", 0);
    assert!(regex.matches("Refund please"));
    assert!(!regex.matches("no refund"));
    assert!(!regex.matches("refunded"));
    let broken = rule("(", KeywordMatch::Regex, "", 0);
    assert!(!broken.matches("("));
}

#[test]
fn a_pattern_larger_than_the_limit_does_not_compile() {
    assert!(compile("a{1,100}").is_ok());
    assert!(matches!(
        compile("(\\w{1,1000}){1,1000}"),
        Err(regex::Error::CompiledTooBig(_))
    ));
}

#[test]
fn nothing_answers_our_own_number_or_an_echo_of_our_replies() {
    let replies = configured();
    let own = Incoming {
        from: "08047112233",
        first_contact: true,
        ..incoming("Hello", ist(1, 3, 0))
    };
    assert_eq!(replies.decide(&own), None, "our own number, in national form");
    for echo in [
        "Welcome to Acme Foods!",
        " We are closed; we answer from 9 am. ",
        "Refunds take 5 days.",
    ] {
        let first = Incoming {
            first_contact: true,
            ..incoming(echo, ist(1, 3, 0))
        };
        assert_eq!(replies.decide(&first), None, "{echo}");
    }
}

#[test]
fn one_auto_reply_per_contact_within_the_cooldown() {
    let replies = configured();
    let now = ist(1, 3, 0);
    let recent = Incoming {
        last_auto_reply: Some(now - chrono::Duration::minutes(59)),
        ..incoming("Hello", now)
    };
    assert_eq!(replies.decide(&recent), None);
    let older = Incoming {
        last_auto_reply: Some(now - chrono::Duration::minutes(60)),
        ..incoming("Hello", now)
    };
    assert_eq!(fired(&replies, &older), Some(AutoReplyRule::Away { holiday: None }));
    let mut zero = configured();
    zero.cooldown_minutes = 0;
    let just = Incoming {
        last_auto_reply: Some(now - chrono::Duration::seconds(30)),
        ..incoming("Hello", now)
    };
    assert_eq!(zero.decide(&just), None, "a cooldown is a minute at least");
}

#[test]
fn nothing_is_sent_when_auto_replies_are_off_or_nothing_fits() {
    let mut off = configured();
    off.enabled = false;
    let first = Incoming {
        first_contact: true,
        ..incoming("refund", ist(1, 3, 0))
    };
    assert_eq!(off.decide(&first), None);
    let mut bare = configured();
    bare.welcome = None;
    bare.away = None;
    assert_eq!(bare.decide(&first).map(|r| r.1), Some("Refunds take 5 days.".into()));
    assert_eq!(bare.decide(&incoming("Hello", ist(1, 3, 0))), None);
    let media = Incoming {
        text: None,
        first_contact: true,
        ..incoming("", ist(1, 10, 0))
    };
    assert_eq!(
        fired(&configured(), &media),
        Some(AutoReplyRule::Welcome),
        "media without text is welcomed"
    );
}
